package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/coffer-project/coffer/internal/testserver"
)

// The version ids the source's secrets are made with, which the destination must keep.
const (
	importV1 = "aaaaaaaa-0000-4000-8000-000000000001"
	importV2 = "aaaaaaaa-0000-4000-8000-000000000002"
	importV3 = "aaaaaaaa-0000-4000-8000-000000000003"
	importV4 = "aaaaaaaa-0000-4000-8000-000000000004"
)

// importBinary is the binary secret's value: not UTF-8, with a NUL, and a canary.
var importBinary = append([]byte{0, 0xff, 0x80}, "canary-import-binary"...)

// importEnv points the destination (AWS_*, COFFER_ENDPOINT) at dst and the source's
// credentials (COFFER_FROM_*) at src's.
func importEnv(t *testing.T, src, dst *testserver.Server) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", dst.Creds.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", dst.Creds.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", testserver.Region)
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("COFFER_ENDPOINT", dst.URL)
	t.Setenv("COFFER_FROM_ACCESS_KEY_ID", src.Creds.AccessKeyID)
	t.Setenv("COFFER_FROM_SECRET_ACCESS_KEY", src.Creds.SecretAccessKey)
	t.Setenv("COFFER_FROM_SESSION_TOKEN", "")
}

// importCmd runs `coffer import args…` through run, as main does, and fails the test when
// stdout, stderr or the error holds a canary value in any form the values were given in.
func importCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), append([]string{"import"}, args...), &out, &errOut)
	errText := ""
	if err != nil {
		errText = err.Error()
	}
	// The failure says where a value is, never what it is.
	for where, text := range map[string]string{"stdout": out.String(), "stderr": errOut.String(), "the error": errText} {
		for i, bad := range []string{"canary-import", base64.StdEncoding.EncodeToString(importBinary), string(importBinary[:3])} {
			if at := strings.Index(text, bad); at >= 0 {
				t.Fatalf("coffer import %s: %s holds canary form #%d at offset %d", strings.Join(args, " "), where, i, at)
			}
		}
	}
	return out.String(), errOut.String(), err
}

func mustImport(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, err := importCmd(t, args...)
	if err != nil {
		t.Fatalf("coffer import %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout, stderr
}

// importContains fails the test unless every one of want is in got.
func importContains(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

func importCheck(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// importGet reads the value labelled stage of name, failing the test when there is none.
func importGet(t *testing.T, c *sm.Client, name, stage string) *sm.GetSecretValueOutput {
	t.Helper()
	out, err := c.GetSecretValue(context.Background(), &sm.GetSecretValueInput{SecretId: aws.String(name), VersionStage: aws.String(stage)})
	if err != nil {
		t.Fatalf("GetSecretValue %s %s: %v", name, stage, err)
	}
	return out
}

// importWantValue checks the version labelled stage of name: its id and its string value.
func importWantValue(t *testing.T, c *sm.Client, name, stage, id, value string) {
	t.Helper()
	got := importGet(t, c, name, stage)
	if aws.ToString(got.VersionId) != id || aws.ToString(got.SecretString) != value {
		t.Errorf("%s %s: version %s with the value %s, want version %s with the value %s", name, stage,
			aws.ToString(got.VersionId), importShow(aws.ToString(got.SecretString)), id, importShow(value))
	}
}

// importShow names a canary value in a failure message by its last part only.
func importShow(v string) string {
	if i := strings.LastIndex(v, "-"); i >= 0 {
		return "…" + v[i:]
	}
	return "(" + v + ")"
}

func importDescribe(t *testing.T, c *sm.Client, name string) *sm.DescribeSecretOutput {
	t.Helper()
	out, err := c.DescribeSecret(context.Background(), &sm.DescribeSecretInput{SecretId: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeSecret %s: %v", name, err)
	}
	return out
}

func importAbsent(t *testing.T, c *sm.Client, name string) {
	t.Helper()
	_, err := c.DescribeSecret(context.Background(), &sm.DescribeSecretInput{SecretId: aws.String(name)})
	var nf *smtypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("%s in the destination: DescribeSecret gave %v, want ResourceNotFoundException", name, err)
	}
}

func importTags(tags []smtypes.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func importCount(t *testing.T, c *sm.Client) int {
	t.Helper()
	out, err := c.ListSecrets(context.Background(), &sm.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.SecretList)
}

// importSourceSecrets makes the source's secrets: app/db with a description, tags and three
// versions (AWSCURRENT, AWSPREVIOUS and a deprecated one), the binary app/cert, app/empty
// with no value, app/gone scheduled for deletion, and other/x under another prefix.
func importSourceSecrets(t *testing.T, c *sm.Client) {
	t.Helper()
	ctx := context.Background()
	_, err := c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("app/db"), Description: aws.String("the app's database"),
		Tags:         []smtypes.Tag{{Key: aws.String("team"), Value: aws.String("core")}, {Key: aws.String("env"), Value: aws.String("prod")}},
		SecretString: aws.String("canary-import-db-1"), ClientRequestToken: aws.String(importV1)})
	importCheck(t, "CreateSecret app/db", err)
	for i, id := range []string{importV2, importV3} {
		_, err := c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("app/db"), ClientRequestToken: aws.String(id),
			SecretString: aws.String("canary-import-db-" + string(rune('2'+i)))})
		importCheck(t, "PutSecretValue app/db", err)
	}
	_, err = c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("app/cert"), SecretBinary: importBinary, ClientRequestToken: aws.String(importV1)})
	importCheck(t, "CreateSecret app/cert", err)
	_, err = c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("app/empty"), Description: aws.String("filled in later")})
	importCheck(t, "CreateSecret app/empty", err)
	_, err = c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("app/gone"), SecretString: aws.String("canary-import-gone"), ClientRequestToken: aws.String(importV1)})
	importCheck(t, "CreateSecret app/gone", err)
	_, err = c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("app/gone"), RecoveryWindowInDays: aws.Int64(7)})
	importCheck(t, "DeleteSecret app/gone", err)
	_, err = c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("other/x"), SecretString: aws.String("canary-import-other"), ClientRequestToken: aws.String(importV2)})
	importCheck(t, "CreateSecret other/x", err)
	// The source's labels are what the destination must reproduce.
	d := importDescribe(t, c, "app/db")
	want := map[string][]string{importV3: {"AWSCURRENT"}, importV2: {"AWSPREVIOUS"}}
	if !maps.EqualFunc(d.VersionIdsToStages, want, func(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }) {
		t.Fatalf("the source's app/db has the labels %v, want %v", d.VersionIdsToStages, want)
	}
}

// TestImportFromCoffer imports from one in-process coffer server into another: a dry run,
// then --prefix, a full run over what exists, and --update after the source changed.
func TestImportFromCoffer(t *testing.T) {
	ctx := context.Background()
	src, dst := testserver.Start(t), testserver.Start(t)
	importEnv(t, src, dst)
	sc, dc := src.Client(), dst.Client()
	importSourceSecrets(t, sc)

	// A dry run lists everything and writes nothing, reading no value.
	getsBefore := src.Faults.Count("GetSecretValue")
	out, _ := mustImport(t, "--from", src.URL, "--dry-run")
	importContains(t, "dry run's stdout", out,
		"would import app/db (2 versions)\n", "would import app/cert (1 version)\n", "would import app/empty (no value)\n",
		"would import other/x (1 version)\n", "skipped app/gone: scheduled for deletion\n",
		"would import 4, would update 0, exists 0, unchanged 0, failed 0, scheduled for deletion skipped 1\n",
		"not copied: staging labels other than AWSCURRENT and AWSPREVIOUS, AWSPENDING, resource policies, rotation and replication settings")
	if n := importCount(t, dc); n != 0 {
		t.Errorf("a dry run left %d secrets in the destination", n)
	}
	if n := src.Faults.Count("GetSecretValue") - getsBefore; n != 0 {
		t.Errorf("a dry run read %d values from the source", n)
	}
	for _, op := range []string{"CreateSecret", "PutSecretValue", "UpdateSecret", "TagResource"} {
		if n := dst.Faults.Count(op); n != 0 {
			t.Errorf("a dry run sent %d %s to the destination", n, op)
		}
	}

	// --prefix app/: everything under app/ but the secret scheduled for deletion; flags after
	// the verb in any order.
	out, errOut := mustImport(t, "--prefix", "app/", "--from", src.URL, "--concurrency", "2")
	importContains(t, "stdout", out, "imported 3, updated 0, exists 0, unchanged 0, failed 0, scheduled for deletion skipped 1\n")
	importContains(t, "stderr", errOut, "imported app/db (2 versions)\n", "imported app/cert (1 version)\n",
		"imported app/empty (no value)\n", "skipped app/gone: scheduled for deletion\n")
	if strings.Contains(out+errOut, "other/x") {
		t.Errorf("--prefix app/ reported other/x:\n%s%s", out, errOut)
	}
	importWantValue(t, dc, "app/db", "AWSCURRENT", importV3, "canary-import-db-3")
	importWantValue(t, dc, "app/db", "AWSPREVIOUS", importV2, "canary-import-db-2")
	d := importDescribe(t, dc, "app/db")
	if len(d.VersionIdsToStages) != 2 {
		t.Errorf("app/db has the labelled versions %v in the destination, want AWSCURRENT and AWSPREVIOUS only", d.VersionIdsToStages)
	}
	if aws.ToString(d.Description) != "the app's database" {
		t.Errorf("app/db's description in the destination: %q", aws.ToString(d.Description))
	}
	if got, want := importTags(d.Tags), map[string]string{"team": "core", "env": "prod"}; !maps.Equal(got, want) {
		t.Errorf("app/db's tags in the destination: %v, want %v", got, want)
	}
	cert := importGet(t, dc, "app/cert", "AWSCURRENT")
	if !bytes.Equal(cert.SecretBinary, importBinary) || cert.SecretString != nil || aws.ToString(cert.VersionId) != importV1 {
		t.Errorf("app/cert in the destination: version %s, %d binary bytes (equal: %v), string set: %v",
			aws.ToString(cert.VersionId), len(cert.SecretBinary), bytes.Equal(cert.SecretBinary, importBinary), cert.SecretString != nil)
	}
	empty := importDescribe(t, dc, "app/empty")
	if len(empty.VersionIdsToStages) != 0 || aws.ToString(empty.Description) != "filled in later" {
		t.Errorf("app/empty in the destination: versions %v, description %q", empty.VersionIdsToStages, aws.ToString(empty.Description))
	}
	vers, err := dc.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: aws.String("app/empty"), IncludeDeprecated: aws.Bool(true)})
	importCheck(t, "ListSecretVersionIds app/empty", err)
	if len(vers.Versions) != 0 {
		t.Errorf("app/empty has %d versions in the destination, want none", len(vers.Versions))
	}
	importAbsent(t, dc, "app/gone")
	importAbsent(t, dc, "other/x")

	// A second run, without --prefix: what exists is skipped, other/x comes over.
	out, errOut = mustImport(t, "--from", src.URL)
	importContains(t, "stdout", out, "imported 1, updated 0, exists 3, unchanged 0, failed 0, scheduled for deletion skipped 1\n")
	importContains(t, "stderr", errOut, "skipped app/db: exists\n", "imported other/x (1 version)\n")
	importWantValue(t, dc, "other/x", "AWSCURRENT", importV2, "canary-import-other")
	importWantValue(t, dc, "app/db", "AWSCURRENT", importV3, "canary-import-db-3")

	// The source changes: a new current version, another description, other tags.
	_, err = sc.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("app/db"), ClientRequestToken: aws.String(importV4), SecretString: aws.String("canary-import-db-4")})
	importCheck(t, "PutSecretValue", err)
	_, err = sc.UpdateSecret(ctx, &sm.UpdateSecretInput{SecretId: aws.String("app/db"), Description: aws.String("moved")})
	importCheck(t, "UpdateSecret", err)
	_, err = sc.TagResource(ctx, &sm.TagResourceInput{SecretId: aws.String("app/db"), Tags: []smtypes.Tag{{Key: aws.String("env"), Value: aws.String("staging")}}})
	importCheck(t, "TagResource", err)
	_, err = sc.UntagResource(ctx, &sm.UntagResourceInput{SecretId: aws.String("app/db"), TagKeys: []string{"team"}})
	importCheck(t, "UntagResource", err)

	// Without --update nothing moves.
	out, _ = mustImport(t, "--from", src.URL)
	importContains(t, "stdout", out, "imported 0, updated 0, exists 4, unchanged 0, failed 0, scheduled for deletion skipped 1\n")
	importWantValue(t, dc, "app/db", "AWSCURRENT", importV3, "canary-import-db-3")

	// --update --dry-run says what would change, and changes nothing.
	out, _ = mustImport(t, "--from", src.URL, "--update", "--dry-run")
	importContains(t, "stdout", out, "would update app/db (AWSCURRENT, description, tags)\n", "skipped app/cert: unchanged\n",
		"would import 0, would update 1, exists 0, unchanged 3, failed 0, scheduled for deletion skipped 1\n")
	importWantValue(t, dc, "app/db", "AWSCURRENT", importV3, "canary-import-db-3")
	if d := importDescribe(t, dc, "app/db"); aws.ToString(d.Description) != "the app's database" {
		t.Errorf("--update --dry-run changed the description to %q", aws.ToString(d.Description))
	}

	// --update brings app/db in line; the rest is unchanged.
	out, errOut = mustImport(t, "--update", "--from", src.URL)
	importContains(t, "stdout", out, "imported 0, updated 1, exists 0, unchanged 3, failed 0, scheduled for deletion skipped 1\n")
	importContains(t, "stderr", errOut, "updated app/db (AWSCURRENT, description, tags)\n", "skipped other/x: unchanged\n")
	importWantValue(t, dc, "app/db", "AWSCURRENT", importV4, "canary-import-db-4")
	importWantValue(t, dc, "app/db", "AWSPREVIOUS", importV3, "canary-import-db-3")
	d = importDescribe(t, dc, "app/db")
	if aws.ToString(d.Description) != "moved" {
		t.Errorf("--update left the description %q", aws.ToString(d.Description))
	}
	if got, want := importTags(d.Tags), map[string]string{"env": "staging"}; !maps.Equal(got, want) {
		t.Errorf("--update left the tags %v, want %v", got, want)
	}

	// Once more: nothing to do.
	out, _ = mustImport(t, "--update", "--from", src.URL)
	importContains(t, "stdout", out, "imported 0, updated 0, exists 0, unchanged 4, failed 0, scheduled for deletion skipped 1\n")
}

// TestImportFailures checks that a secret that cannot be imported is reported with AWS's code,
// without its value, that the others go on, and that the exit status says so.
func TestImportFailures(t *testing.T) {
	ctx := context.Background()
	src, dst := testserver.Start(t), testserver.Start(t)
	importEnv(t, src, dst)
	sc, dc := src.Client(), dst.Client()
	for _, name := range []string{"mix/a", "mix/b", "kms/a"} {
		_, err := sc.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("canary-import-" + name), ClientRequestToken: aws.String(importV1)})
		importCheck(t, "CreateSecret "+name, err)
	}
	// mix/a is scheduled for deletion in the destination: it cannot be created there.
	_, err := dc.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("mix/a"), SecretString: aws.String("canary-import-dst"), ClientRequestToken: aws.String(importV2)})
	importCheck(t, "CreateSecret mix/a in the destination", err)
	_, err = dc.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("mix/a"), RecoveryWindowInDays: aws.Int64(7)})
	importCheck(t, "DeleteSecret mix/a in the destination", err)

	out, errOut, err := importCmd(t, "--from", src.URL, "--prefix", "mix/", "--concurrency", "1")
	if err == nil || !strings.Contains(err.Error(), "1 of 2 secrets failed") {
		t.Errorf("one failure of two: error %v", err)
	}
	importContains(t, "stdout", out, "imported 1, updated 0, exists 0, unchanged 0, failed 1, scheduled for deletion skipped 0\n")
	importContains(t, "stderr", errOut, "failed mix/a: the destination has a secret of this name scheduled for deletion", "imported mix/b (1 version)\n")
	importWantValue(t, dc, "mix/b", "AWSCURRENT", importV1, "canary-import-mix/b")

	// A destination key that does not exist: AWS's code and message, nothing left behind.
	out, errOut, err = importCmd(t, "--from", src.URL, "--prefix", "kms/", "--kms-key-id", "alias/coffer-import-missing")
	if err == nil {
		t.Error("a failed import exited zero")
	}
	importContains(t, "stdout", out, "failed 1,")
	importContains(t, "stderr", errOut, "failed kms/a: CreateSecret: InvalidParameterException: ")
	importAbsent(t, dc, "kms/a")

	// Destination credentials the destination does not know: every secret fails, per secret.
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-destinations-secret-key-0000000000")
	out, errOut, err = importCmd(t, "--from", src.URL, "--prefix", "kms/", "--prefix", "mix/")
	if err == nil || !strings.Contains(err.Error(), "3 of 3 secrets failed") {
		t.Errorf("three failures: error %v", err)
	}
	importContains(t, "stdout", out, "failed 3,")
	importContains(t, "stderr", errOut, "failed kms/a: DescribeSecret (destination): ", "failed mix/b: DescribeSecret (destination): ")
}

// TestImportSourceConfig checks where the source's endpoint and credentials come from.
func TestImportSourceConfig(t *testing.T) {
	ctx := context.Background()
	src, dst := testserver.Start(t), testserver.Start(t)
	importEnv(t, src, dst)
	_, err := src.Client().CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("p/a"), SecretString: aws.String("canary-import-profile"), ClientRequestToken: aws.String(importV1)})
	importCheck(t, "CreateSecret", err)

	// --from-profile: the keys from AWS's shared credentials file, not from AWS_* (which are
	// the destination's, and which the source refuses).
	dir := t.TempDir()
	credsFile, configFile := filepath.Join(dir, "credentials"), filepath.Join(dir, "config")
	importCheck(t, "credentials file", os.WriteFile(credsFile, []byte("[prod]\naws_access_key_id = "+src.Creds.AccessKeyID+
		"\naws_secret_access_key = "+src.Creds.SecretAccessKey+"\n"), 0o600))
	importCheck(t, "config file", os.WriteFile(configFile, []byte("[profile prod]\nregion = eu-west-1\n"), 0o600))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credsFile)
	t.Setenv("AWS_CONFIG_FILE", configFile)
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("COFFER_FROM_ACCESS_KEY_ID", "")
	t.Setenv("COFFER_FROM_SECRET_ACCESS_KEY", "")
	out, _ := mustImport(t, "--from", src.URL, "--from-profile", "prod")
	importContains(t, "stdout", out, "imported 1, ")
	importWantValue(t, dst.Client(), "p/a", "AWSCURRENT", importV1, "canary-import-profile")

	// Without COFFER_FROM_* or a profile, the source gets AWS_*: the destination's keys here,
	// which the source does not know, so the listing fails as a whole.
	_, _, err = importCmd(t, "--from", src.URL)
	if err == nil || !strings.Contains(err.Error(), "listing the source's secrets: ListSecrets: ") {
		t.Errorf("the source with the destination's keys: %v", err)
	}
	c, err := importSource(ctx, src.URL, "us-east-1", "")
	importCheck(t, "importSource", err)
	if got, _ := c.Options().Credentials.Retrieve(ctx); got.AccessKeyID != dst.Creds.AccessKeyID {
		t.Errorf("without COFFER_FROM_* the source's key is %s, want AWS_ACCESS_KEY_ID's", got.AccessKeyID)
	}

	// --from aws: AWS's own endpoint, whatever AWS_ENDPOINT_URL says, in --from-region.
	t.Setenv("AWS_ENDPOINT_URL", dst.URL)
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", dst.URL)
	for _, profile := range []string{"", "prod"} {
		c, err := importSource(ctx, "aws", "eu-west-1", profile)
		importCheck(t, "importSource aws", err)
		if o := c.Options(); o.BaseEndpoint != nil || o.Region != "eu-west-1" {
			t.Errorf("--from aws (profile %q): endpoint %v, region %s", profile, aws.ToString(o.BaseEndpoint), o.Region)
		}
		if profile != "" {
			if got, _ := c.Options().Credentials.Retrieve(ctx); got.AccessKeyID != src.Creds.AccessKeyID {
				t.Errorf("--from aws --from-profile prod: key %s, want the profile's", got.AccessKeyID)
			}
		}
	}
	t.Setenv("COFFER_FROM_ACCESS_KEY_ID", "AKIAEXAMPLEIMPORT")
	t.Setenv("COFFER_FROM_SECRET_ACCESS_KEY", "")
	if _, err := importSource(ctx, "aws", "eu-west-1", ""); err == nil || !strings.Contains(err.Error(), "must both be set") {
		t.Errorf("half of COFFER_FROM_*: %v", err)
	}
	t.Setenv("COFFER_FROM_SECRET_ACCESS_KEY", "example-import-secret-key")
	c, err = importSource(ctx, "aws", "eu-west-1", "prod")
	importCheck(t, "importSource", err)
	if got, _ := c.Options().Credentials.Retrieve(ctx); got.AccessKeyID != "AKIAEXAMPLEIMPORT" {
		t.Errorf("COFFER_FROM_* come before a profile: key %s", got.AccessKeyID)
	}
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "")

	// Arguments refused before anything is read.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--from is required"},
		{[]string{"--from", dst.URL}, "are the same server"},
		{[]string{"--from", "ftp://example"}, "endpoint URL, or aws"},
		{[]string{"--from", src.URL, "app/"}, "takes no arguments"},
		{[]string{"--from", src.URL, "--prefix", "!app"}, "--prefix"},
		{[]string{"--from", src.URL, "--concurrency", "0"}, "--concurrency"},
	} {
		if _, _, err := importCmd(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("coffer import %v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestImportProgress checks the terminal's bar and the lines without a terminal, and the
// fresh token given for a version id that is not a ClientRequestToken.
func TestImportProgress(t *testing.T) {
	var out, errOut bytes.Buffer
	p := &importProgress{stdout: &out, stderr: &errOut, tty: true, width: 80, total: 2}
	p.done(importResult{name: "app/db", outcome: importImported, detail: "2 versions"})
	p.done(importResult{name: "app/x", outcome: importFailed, detail: "CreateSecret: AccessDeniedException: no"})
	p.end()
	want := "\r\x1b[K[##########..........] 1/2 app/db" +
		"\r\x1b[Kfailed app/x: CreateSecret: AccessDeniedException: no\n" +
		"\r\x1b[K[####################] 2/2 app/x" + "\r\x1b[K"
	if errOut.String() != want || out.Len() != 0 {
		t.Errorf("terminal: stderr %q, want %q; stdout %q", errOut.String(), want, out.String())
	}

	out.Reset()
	errOut.Reset()
	p = &importProgress{stdout: &out, stderr: &errOut, width: 80, total: 3}
	p.done(importResult{name: "app/db", outcome: importImported, detail: "2 versions"})
	p.done(importResult{name: "app/old", outcome: importExists, detail: "exists", notes: []string{"a note"}})
	p.done(importResult{name: "app/gone", outcome: importDeleted, detail: "scheduled for deletion"})
	p.end()
	want = "imported app/db (2 versions)\nskipped app/old: exists\nnote app/old: a note\nskipped app/gone: scheduled for deletion\n"
	if errOut.String() != want || out.Len() != 0 || p.counts != [importOutcomes]int{importImported: 1, importExists: 1, importDeleted: 1} {
		t.Errorf("no terminal: stderr %q, want %q; stdout %q; counts %v", errOut.String(), want, out.String(), p.counts)
	}

	var r importResult
	if tok := importToken(importV1, &r); tok != importV1 || len(r.notes) != 0 {
		t.Errorf("a valid version id: token %s, notes %v", tok, r.notes)
	}
	if tok := importToken("v1", &r); len(tok) != 36 || len(r.notes) != 1 || !strings.Contains(r.notes[0], `"v1" is not a valid ClientRequestToken`) {
		t.Errorf("a short version id: token %s, notes %v", tok, r.notes)
	}
}
