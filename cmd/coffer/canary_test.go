package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/jackc/pgx/v5"

	"github.com/coffer-project/coffer/audit"
	"github.com/coffer-project/coffer/client"
	"github.com/coffer-project/coffer/storetest"
)

// The audit issue's canary suite: every value a client hands the server, and every secret the
// server hands back, is a unique random marker; after a run through every operation (errors,
// denials and deletions included) and a clean stop, not one byte the server wrote — audit
// files, digests, the store, the log on stderr, the audit records on stdout — holds a marker
// in any encoding. The test never prints a marker: only which one, where, and at what offset.

// TestCanarySQLite runs the canary scenario on the default store, SQLite in the data directory.
func TestCanarySQLite(t *testing.T) {
	t.Parallel()
	runCanary(t, "")
}

// TestCanaryPostgres runs the canary scenario on a throwaway PostgreSQL schema (skipped, with
// the reason, when no server is reachable, unless CI=true), and also scans every table.
func TestCanaryPostgres(t *testing.T) {
	t.Parallel()
	dsn := storetest.PostgresDSN(t)
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s must be a postgres:// URL under CI=true: coffer server --store takes only URLs", storetest.PostgresEnv)
		}
		t.Skipf("skipping: %s is not a postgres:// URL, which coffer server --store needs", storetest.PostgresEnv)
	}
	runCanary(t, dsn)
}

// startCofferSplit is startCoffer with the server's stdout and stderr kept apart: the log goes
// to stderr (p.out), and stdout is returned.
func startCofferSplit(t *testing.T, home string, args ...string) (*proc, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(cofferBinary(t), append([]string{"server"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}
	p := &proc{cmd: cmd, out: &syncBuffer{}, done: make(chan error, 1)}
	stdout := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() { p.stop() })
	deadline := time.After(60 * time.Second)
	for !strings.Contains(p.out.String(), "coffer is serving") {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("server exited at start: %v\n%s", err, p.out)
		case <-deadline:
			t.Fatalf("server did not start:\n%s", p.out)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return p, stdout
}

// canaryRun is one scenario against one server.
type canaryRun struct {
	t     *testing.T
	ctx   context.Context
	url   string
	admin aws.Credentials
	c     *canaries
}

func (r *canaryRun) config(c aws.Credentials) aws.Config {
	return aws.Config{Region: "us-east-1", RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)}
}

func (r *canaryRun) sm(c aws.Credentials) *sm.Client {
	return sm.NewFromConfig(r.config(c), func(o *sm.Options) { o.BaseEndpoint = aws.String(r.url) })
}

func (r *canaryRun) kms(c aws.Credentials) *kms.Client {
	return kms.NewFromConfig(r.config(c), func(o *kms.Options) { o.BaseEndpoint = aws.String(r.url) })
}

func (r *canaryRun) iam(c aws.Credentials) *iam.Client {
	return iam.NewFromConfig(r.config(c), func(o *iam.Options) { o.BaseEndpoint = aws.String(r.url) })
}

func (r *canaryRun) sts(c aws.Credentials) *sts.Client {
	return sts.NewFromConfig(r.config(c), func(o *sts.Options) { o.BaseEndpoint = aws.String(r.url) })
}

// raw is coffer's own client, which sends any JSON body under any X-Amz-Target.
func (r *canaryRun) raw(c aws.Credentials) *client.Client {
	return client.New(r.url, "us-east-1", credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken), nil)
}

// awsCode names an error by its AWS code only: its message might hold what it should not.
func awsCode(err error) string {
	var ae smithy.APIError
	var ce *client.APIError
	switch {
	case err == nil:
		return "no error"
	case errors.As(err, &ae):
		return ae.ErrorCode()
	case errors.As(err, &ce):
		return ce.Code
	}
	return fmt.Sprintf("a %T", err)
}

// ok fails the test when a call that should succeed did not.
func (r *canaryRun) ok(what string, err error) {
	r.t.Helper()
	if err != nil {
		r.t.Fatalf("%s: %s", what, awsCode(err))
	}
}

// fails checks that a call failed with code.
func (r *canaryRun) fails(what string, err error, code string) {
	r.t.Helper()
	if got := awsCode(err); got != code {
		r.t.Errorf("%s: got %s, want %s", what, got, code)
	}
}

// same checks a value read back without printing either side.
func (r *canaryRun) same(what string, got, want []byte) {
	r.t.Helper()
	if !bytes.Equal(got, want) {
		r.t.Errorf("%s: the value read back is not the value written (%d bytes, want %d)", what, len(got), len(want))
	}
}

func valueBytes(s *string) []byte {
	if s == nil {
		return nil
	}
	return []byte(*s)
}

// runCanary starts `coffer server` (on store, or SQLite when ""), runs the scenario, stops the
// server and scans everything it wrote.
func runCanary(t *testing.T, store string) {
	start := time.Now()
	dir := t.TempDir()
	data, addr := filepath.Join(dir, "data"), freePort(t)
	home := filepath.Join(dir, "home")
	os.Mkdir(home, 0o700)
	args := []string{"--data", data, "--key-file", filepath.Join(dir, "root.key"), "--listen", addr,
		"--log-level", "debug", "--audit-stdout", "--audit-digest-file", filepath.Join(dir, "digests.jsonl"),
		"--audit-digest-every", "10"}
	if store != "" {
		args = append(args, "--store", store)
	}
	p, stdout := startCofferSplit(t, home, args...)
	creds := map[string]string{}
	for _, kv := range printedEnv(t, data) {
		k, v, _ := strings.Cut(kv, "=")
		creds[k] = v
	}
	r := &canaryRun{t: t, ctx: t.Context(), url: "http://" + addr, c: newCanaries(),
		admin: aws.Credentials{AccessKeyID: creds["AWS_ACCESS_KEY_ID"], SecretAccessKey: creds["AWS_SECRET_ACCESS_KEY"]}}
	r.scenario()
	ran := time.Since(start)
	// While the server runs, SQLite's write-ahead log and shared memory are there too.
	findings, running := scanFiles(t, dir, " (while the server ran)", r.c)

	// A clean stop writes the last digest and flushes the log.
	p.stop()
	if err := <-p.done; err != nil {
		t.Errorf("the server did not stop cleanly: %v", err)
	}
	f, files := scanFiles(t, dir, "", r.c)
	findings = append(findings, f...)
	want := []string{"digests.jsonl", filepath.Join("data", "audit", "audit-")}
	if store == "" {
		want = append(want, filepath.Join("data", "coffer.db")+" ", filepath.Join("data", "coffer.db-wal")+" ")
	}
	for _, w := range want {
		if !slices.ContainsFunc(slices.Concat(running, files), func(f string) bool { return strings.HasPrefix(f, w) }) {
			t.Errorf("no file %s… was scanned: %v", w, files)
		}
	}
	findings = append(findings, r.c.scan("the server's stdout", []byte(stdout.String()))...)
	findings = append(findings, r.c.scan("the server's stderr", []byte(p.out.String()))...)
	rows := 0
	if store != "" {
		f, rows = scanPostgres(t, store, r.c)
		findings = append(findings, f...)
	}
	for _, f := range findings {
		t.Error(f)
	}
	t.Logf("%d secrets in %d forms; scanned files while running %v and after the stop %v, stdout (%d bytes), stderr (%d bytes), %d database rows; scenario %v, total %v",
		r.c.n, len(r.c.needles), running, files, len(stdout.String()), len(p.out.String()), rows, ran.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	checkNotVacuous(t, filepath.Join(data, "audit"), stdout.String(), p.out.String(), filepath.Join(dir, "digests.jsonl"))
}

// scanFiles scans every file under dir: the data directory (audit files, the store and its
// -wal and -shm files, the server id, the credentials file), the digest file, the root key and
// the server's home. It returns the findings, named by path and when, and the files it read.
func scanFiles(t *testing.T, dir, when string, c *canaries) (findings, files []string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed by the running server since the directory was read
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files = append(files, fmt.Sprintf("%s (%d bytes)", rel, len(b)))
		findings = append(findings, c.scan(rel+when, b)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return findings, files
}

// scenario drives every operation with markers for values.
func (r *canaryRun) scenario() {
	t, ctx, c := r.t, r.ctx, r.c
	admin := r.sm(r.admin)
	token := func() *string { return aws.String(canaryHex(16)) }

	// KMS: a key for a secret, and the data plane.
	kc := r.kms(r.admin)
	key, err := kc.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("canary key")})
	r.ok("CreateKey", err)
	keyID := *key.KeyMetadata.KeyId
	other, err := kc.CreateKey(ctx, &kms.CreateKeyInput{})
	r.ok("CreateKey", err)

	// Creation, string and binary; a secret under the customer key.
	v1 := c.marker("CreateSecret string")
	s1, err := admin.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("canary/string"), SecretString: aws.String(v1), ClientRequestToken: token()})
	r.ok("CreateSecret string", err)
	b1 := c.binary("CreateSecret binary")
	_, err = admin.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("canary/binary"), SecretBinary: b1})
	r.ok("CreateSecret binary", err)
	_, err = admin.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("canary/cmk"), SecretString: aws.String(c.marker("CreateSecret under a customer key")), KmsKeyId: aws.String(keyID)})
	r.ok("CreateSecret under a customer key", err)

	// New versions: with a token, its idempotent retry, its conflicting retry; without a
	// token (the SDK makes one), and with none at all on the wire.
	tok := token()
	v2 := c.marker("PutSecretValue with a token")
	p2, err := admin.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("canary/string"), SecretString: aws.String(v2), ClientRequestToken: tok})
	r.ok("PutSecretValue with a token", err)
	again, err := admin.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("canary/string"), SecretString: aws.String(v2), ClientRequestToken: tok})
	r.ok("PutSecretValue retried", err)
	if err == nil && *again.VersionId != *p2.VersionId {
		t.Errorf("the idempotent retry made version %s, want %s", *again.VersionId, *p2.VersionId)
	}
	_, err = admin.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("canary/string"), SecretString: aws.String(c.marker("PutSecretValue retried with another value")), ClientRequestToken: tok})
	r.fails("PutSecretValue retried with another value", err, "ResourceExistsException")
	b2 := c.binary("PutSecretValue binary with a token")
	_, err = admin.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("canary/binary"), SecretBinary: b2, ClientRequestToken: token()})
	r.ok("PutSecretValue binary with a token", err)
	v3 := c.marker("PutSecretValue")
	_, err = admin.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("canary/string"), SecretString: aws.String(v3)})
	r.ok("PutSecretValue", err)
	b3 := c.binary("PutSecretValue binary")
	_, err = admin.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("canary/binary"), SecretBinary: b3})
	r.ok("PutSecretValue binary", err)
	// With no token on the wire at all (AWS's SDKs always send one), the call is refused.
	err = r.raw(r.admin).Call(ctx, "secretsmanager.PutSecretValue", map[string]any{"SecretId": "canary/binary", "SecretBinary": c.binary("PutSecretValue binary without a token")}, nil)
	r.fails("PutSecretValue binary without a token on the wire", err, "InvalidRequestException")
	v4 := c.marker("UpdateSecret")
	_, err = admin.UpdateSecret(ctx, &sm.UpdateSecretInput{SecretId: aws.String("canary/string"), SecretString: aws.String(v4), Description: aws.String("updated")})
	r.ok("UpdateSecret", err)
	b4 := c.binary("UpdateSecret binary")
	_, err = admin.UpdateSecret(ctx, &sm.UpdateSecretInput{SecretId: aws.String("canary/binary"), SecretBinary: b4})
	r.ok("UpdateSecret binary", err)

	// Reads: by stage, by version id, in a batch.
	got, err := admin.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("canary/string")})
	r.ok("GetSecretValue", err)
	r.same("GetSecretValue AWSCURRENT", valueBytes(got.SecretString), []byte(v4))
	got, err = admin.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("canary/string"), VersionStage: aws.String("AWSPREVIOUS")})
	r.ok("GetSecretValue AWSPREVIOUS", err)
	r.same("GetSecretValue AWSPREVIOUS", valueBytes(got.SecretString), []byte(v3))
	got, err = admin.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("canary/string"), VersionId: p2.VersionId})
	r.ok("GetSecretValue by version id", err)
	r.same("GetSecretValue by version id", valueBytes(got.SecretString), []byte(v2))
	got, err = admin.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("canary/binary"), VersionStage: aws.String("AWSPREVIOUS")})
	r.ok("GetSecretValue binary AWSPREVIOUS", err)
	r.same("GetSecretValue binary AWSPREVIOUS", got.SecretBinary, b3)
	batch, err := admin.BatchGetSecretValue(ctx, &sm.BatchGetSecretValueInput{SecretIdList: []string{"canary/string", "canary/binary", "canary/cmk"}})
	r.ok("BatchGetSecretValue", err)
	if err == nil && len(batch.SecretValues) != 3 {
		t.Errorf("BatchGetSecretValue: %d values, want 3", len(batch.SecretValues))
	}
	_, err = admin.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: aws.String("canary/string"), IncludeDeprecated: aws.Bool(true)})
	r.ok("ListSecretVersionIds", err)

	// A generated password is a secret too.
	pw, err := admin.GetRandomPassword(ctx, &sm.GetRandomPasswordInput{PasswordLength: aws.Int64(40), ExcludePunctuation: aws.Bool(true)})
	r.ok("GetRandomPassword", err)
	c.add("GetRandomPassword's password", []byte(*pw.RandomPassword))

	// Failures that carry a value.
	_, err = admin.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("canary/missing"), SecretString: aws.String(c.marker("PutSecretValue to a missing secret"))})
	r.fails("PutSecretValue to a missing secret", err, "ResourceNotFoundException")
	_, err = admin.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("canary/missing"), SecretBinary: c.binary("PutSecretValue binary to a missing secret")})
	r.fails("PutSecretValue binary to a missing secret", err, "ResourceNotFoundException")
	_, err = admin.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("canary/string"), SecretString: aws.String(c.marker("CreateSecret with a taken name"))})
	r.fails("CreateSecret with a taken name", err, "ResourceExistsException")
	_, err = admin.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("canary/both"), SecretString: aws.String(c.marker("CreateSecret with a string and a binary")), SecretBinary: c.binary("CreateSecret with a string and a binary")})
	r.fails("CreateSecret with a string and a binary", err, "InvalidParameterException")
	huge := func() string {
		pad := strings.Repeat("x", 35000)
		return pad + c.marker("a value too large") + pad
	}
	_, err = admin.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("canary/huge"), SecretString: aws.String(huge())})
	r.fails("CreateSecret with a value too large", err, "ValidationException")
	_, err = admin.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("canary/string"), SecretString: aws.String(huge())})
	r.fails("PutSecretValue with a value too large", err, "ValidationException")
	_, err = admin.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("canary/binary"), SecretBinary: []byte(huge())})
	r.fails("PutSecretValue with a binary too large", err, "ValidationException")
	_, err = admin.UpdateSecret(ctx, &sm.UpdateSecretInput{SecretId: aws.String("canary/missing"), SecretString: aws.String(c.marker("UpdateSecret of a missing secret"))})
	r.fails("UpdateSecret of a missing secret", err, "ResourceNotFoundException")

	// A value under a member name spelled another way: encoding/json matches names without
	// regard to case, Unicode's folding included ("ſ" is an "s"), so a decoder may take it.
	for _, name := range []string{"secretString", "SECRETSTRING", "ſecretString"} {
		err = r.raw(r.admin).Call(ctx, "secretsmanager.PutSecretValue", map[string]any{"SecretId": "canary/missing", "ClientRequestToken": canaryHex(16), name: c.marker("PutSecretValue with " + name)}, nil)
		r.fails("PutSecretValue with "+name, err, "ResourceNotFoundException")
	}
	for _, name := range []string{"secretBinary", "ſecretBinary"} {
		err = r.raw(r.admin).Call(ctx, "secretsmanager.PutSecretValue", map[string]any{"SecretId": "canary/missing", "ClientRequestToken": canaryHex(16), name: c.binary("PutSecretValue with " + name)}, nil)
		r.fails("PutSecretValue with "+name, err, "ResourceNotFoundException")
	}
	folded := c.marker("PutSecretValue with ſecretString, stored")
	err = r.raw(r.admin).Call(ctx, "secretsmanager.PutSecretValue", map[string]any{"SecretId": "canary/cmk", "ClientRequestToken": canaryHex(16), "ſecretString": folded}, nil)
	r.ok("PutSecretValue with ſecretString", err)
	got, err = admin.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("canary/cmk")})
	r.ok("GetSecretValue after PutSecretValue with ſecretString", err)
	r.same("GetSecretValue after PutSecretValue with ſecretString", valueBytes(got.SecretString), []byte(folded))
	// An operation that does not exist, carrying a value.
	err = r.raw(r.admin).Call(ctx, "secretsmanager.PutSecretValues", map[string]any{"SecretId": "canary/string", "SecretString": c.marker("an unknown operation")}, nil)
	r.fails("an unknown operation", err, "UnknownOperationException")
	// A signature that does not verify, carrying a value.
	forged := r.admin
	forged.SecretAccessKey = "not-the-secret-access-key-of-this-key0"
	_, err = r.sm(forged).PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("canary/string"), SecretString: aws.String(c.marker("PutSecretValue with a bad signature"))})
	r.fails("PutSecretValue with a bad signature", err, "InvalidSignatureException")
	_, err = r.kms(forged).Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte(c.marker("Encrypt with a bad signature"))})
	r.fails("Encrypt with a bad signature", err, "InvalidSignatureException")

	// Deletion: a value put to a secret scheduled for deletion, restore, force delete.
	_, err = admin.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("canary/doomed"), SecretString: aws.String(c.marker("CreateSecret doomed"))})
	r.ok("CreateSecret doomed", err)
	_, err = admin.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("canary/doomed"), RecoveryWindowInDays: aws.Int64(7)})
	r.ok("DeleteSecret with a recovery window", err)
	_, err = admin.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("canary/doomed"), SecretString: aws.String(c.marker("PutSecretValue to a secret scheduled for deletion"))})
	r.fails("PutSecretValue to a secret scheduled for deletion", err, "InvalidRequestException")
	_, err = admin.UpdateSecret(ctx, &sm.UpdateSecretInput{SecretId: aws.String("canary/doomed"), SecretBinary: c.binary("UpdateSecret of a secret scheduled for deletion")})
	r.fails("UpdateSecret of a secret scheduled for deletion", err, "InvalidRequestException")
	_, err = admin.RestoreSecret(ctx, &sm.RestoreSecretInput{SecretId: aws.String("canary/doomed")})
	r.ok("RestoreSecret", err)
	_, err = admin.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("canary/doomed"), SecretString: aws.String(c.marker("PutSecretValue after RestoreSecret"))})
	r.ok("PutSecretValue after RestoreSecret", err)
	_, err = admin.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("canary/doomed"), ForceDeleteWithoutRecovery: aws.Bool(true)})
	r.ok("DeleteSecret without recovery", err)
	_, err = admin.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("canary/doomed")})
	// As in AWS, the name answers "marked for deletion" for a while.
	r.fails("GetSecretValue after a forced deletion", err, "InvalidRequestException")

	// coffer's extensions: destroy a deprecated version; a value the server generates from a
	// template; a new account's root key.
	ext := r.raw(r.admin)
	_, err = ext.DestroySecretVersion(ctx, "canary/string", *s1.VersionId)
	r.ok("DestroySecretVersion", err)
	_, err = admin.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("canary/string"), VersionId: s1.VersionId})
	r.fails("GetSecretValue of a destroyed version", err, "InvalidRequestException")
	_, err = admin.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("canary/generated"), SecretString: aws.String(c.marker("CreateSecret generated"))})
	r.ok("CreateSecret generated", err)
	_, err = ext.GenerateSecretValue(ctx, "canary/generated", canaryHex(16), nil, map[string]any{
		"SecretStringTemplate": `{"user":"` + c.marker("GenerateSecretValue's template") + `"}`, "GenerateStringKey": "password", "PasswordLength": 32, "ExcludePunctuation": true})
	r.ok("GenerateSecretValue", err)
	_, err = ext.GenerateSecretValue(ctx, "canary/missing", canaryHex(16), nil, map[string]any{
		"SecretStringTemplate": `{"user":"` + c.marker("GenerateSecretValue's template, to a missing secret") + `"}`, "GenerateStringKey": "password"})
	r.fails("GenerateSecretValue to a missing secret", err, "ResourceNotFoundException")
	err = ext.Call(ctx, "coffer.GenerateSecretValue", map[string]any{"SecretId": "canary/missing", "ClientRequestToken": canaryHex(16),
		"generateſecretstring": map[string]any{"ſecretStringTemplate": `{"user":"` + c.marker("GenerateSecretValue's template under ſecretStringTemplate") + `"}`, "GenerateStringKey": "password"}}, nil)
	r.fails("GenerateSecretValue under ſecretStringTemplate", err, "ResourceNotFoundException")
	got, err = admin.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("canary/generated")})
	r.ok("GetSecretValue generated", err)
	var gen struct{ Password string }
	if err == nil && (json.Unmarshal(valueBytes(got.SecretString), &gen) != nil || len(gen.Password) != 32) {
		t.Error("GenerateSecretValue did not store a 32-character password under the template's key")
	}
	c.add("GenerateSecretValue's password", []byte(gen.Password))
	acct, err := ext.CreateAccount(ctx, "")
	r.ok("CreateAccount", err)
	c.add("CreateAccount's secret access key", []byte(acct.SecretAccessKey))

	// KMS's data plane, and its failures carrying a plaintext.
	ec := map[string]string{"purpose": "canary"}
	pt := []byte(c.marker("Encrypt"))
	enc, err := kc.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: pt, EncryptionContext: ec})
	r.ok("Encrypt", err)
	dec, err := kc.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	r.ok("Decrypt", err)
	r.same("Decrypt", dec.Plaintext, pt)
	re, err := kc.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: ec, DestinationKeyId: other.KeyMetadata.KeyId})
	r.ok("ReEncrypt", err)
	dec, err = kc.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: re.CiphertextBlob})
	r.ok("Decrypt after ReEncrypt", err)
	r.same("Decrypt after ReEncrypt", dec.Plaintext, pt)
	dk, err := kc.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(keyID), KeySpec: kmstypes.DataKeySpecAes256})
	r.ok("GenerateDataKey", err)
	c.add("GenerateDataKey's plaintext", dk.Plaintext)
	dec, err = kc.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob})
	r.ok("Decrypt of a data key", err)
	r.same("Decrypt of a data key", dec.Plaintext, dk.Plaintext)
	rnd, err := kc.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(32)})
	r.ok("GenerateRandom", err)
	c.add("GenerateRandom's plaintext", rnd.Plaintext)
	_, err = kc.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/canary-missing"), Plaintext: []byte(c.marker("Encrypt under a missing key"))})
	r.fails("Encrypt under a missing key", err, "NotFoundException")
	_, err = kc.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte(strings.Repeat("y", 4100) + c.marker("Encrypt of a plaintext too large"))})
	r.fails("Encrypt of a plaintext too large", err, "ValidationException")
	_, err = kc.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"purpose": "other"}})
	r.fails("Decrypt with the wrong context", err, "InvalidCiphertextException")

	// IAM and STS: a metadata-only user, its key, its session; denied calls carrying values.
	ic := r.iam(r.admin)
	_, err = ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("canary-meta")})
	r.ok("CreateUser", err)
	_, err = ic.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("canary-meta"), PolicyArn: aws.String("arn:aws:iam::aws:policy/coffer/CofferSecretsMetadataReadOnly")})
	r.ok("AttachUserPolicy", err)
	ak, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("canary-meta")})
	r.ok("CreateAccessKey", err)
	c.add("CreateAccessKey's secret access key", []byte(*ak.AccessKey.SecretAccessKey))
	meta := aws.Credentials{AccessKeyID: *ak.AccessKey.AccessKeyId, SecretAccessKey: *ak.AccessKey.SecretAccessKey}
	_, err = r.sm(meta).DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("canary/string")})
	r.ok("DescribeSecret as the metadata-only user", err)
	_, err = r.sm(meta).PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("canary/string"), SecretString: aws.String(c.marker("PutSecretValue as the metadata-only user"))})
	r.fails("PutSecretValue as the metadata-only user", err, "AccessDeniedException")
	_, err = r.sm(meta).CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("canary/denied"), SecretBinary: c.binary("CreateSecret as the metadata-only user")})
	r.fails("CreateSecret as the metadata-only user", err, "AccessDeniedException")
	_, err = r.sm(meta).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("canary/string")})
	r.fails("GetSecretValue as the metadata-only user", err, "AccessDeniedException")
	_, err = r.kms(meta).Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte(c.marker("Encrypt as the metadata-only user"))})
	r.fails("Encrypt as the metadata-only user", err, "AccessDeniedException")

	st, err := r.sts(meta).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	r.ok("GetSessionToken", err)
	c.add("GetSessionToken's secret access key", []byte(*st.Credentials.SecretAccessKey))
	c.add("GetSessionToken's session token", []byte(*st.Credentials.SessionToken))
	sess := aws.Credentials{AccessKeyID: *st.Credentials.AccessKeyId, SecretAccessKey: *st.Credentials.SecretAccessKey, SessionToken: *st.Credentials.SessionToken}
	_, err = r.sts(sess).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	r.ok("GetCallerIdentity with session credentials", err)
	_, err = r.sm(sess).DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("canary/binary")})
	r.ok("DescribeSecret with session credentials", err)
	_, err = r.sm(sess).PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("canary/binary"), SecretBinary: c.binary("PutSecretValue with session credentials")})
	r.fails("PutSecretValue with session credentials", err, "AccessDeniedException")
	rootSess, err := r.sts(r.admin).GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(900)})
	r.ok("GetSessionToken as root", err)
	c.add("GetSessionToken as root: secret access key", []byte(*rootSess.Credentials.SecretAccessKey))
	c.add("GetSessionToken as root: session token", []byte(*rootSess.Credentials.SessionToken))
	rs := aws.Credentials{AccessKeyID: *rootSess.Credentials.AccessKeyId, SecretAccessKey: *rootSess.Credentials.SecretAccessKey, SessionToken: *rootSess.Credentials.SessionToken}
	v5 := c.marker("PutSecretValue with the root's session credentials")
	_, err = r.sm(rs).PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("canary/cmk"), SecretString: aws.String(v5)})
	r.ok("PutSecretValue with the root's session credentials", err)
	got, err = r.sm(rs).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("canary/cmk")})
	r.ok("GetSecretValue with the root's session credentials", err)
	r.same("GetSecretValue with the root's session credentials", valueBytes(got.SecretString), []byte(v5))
	_, err = r.sts(sess).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	r.fails("GetSessionToken with session credentials", err, "AccessDenied")
}

// checkNotVacuous checks that the run left the records the scan was meant to search: the
// audit files hold the operations run, allowed, failed and denied; stdout got the same
// records; stderr holds the debug log of requests; the digest file holds digests.
func checkNotVacuous(t *testing.T, auditDir, stdout, stderr, digests string) {
	t.Helper()
	entries, _, err := audit.Query(audit.DirSource(auditDir), audit.Filter{}, 0, 100000)
	if err != nil {
		t.Fatalf("reading the audit files: %v", err)
	}
	names, codes := map[string]int{}, map[string]int{}
	for _, e := range entries {
		names[e.Event.EventSource+" "+e.Event.EventName]++
		if e.Event.ErrorCode != "" {
			codes[e.Event.ErrorCode]++
		}
	}
	for _, want := range []string{
		"secretsmanager.amazonaws.com CreateSecret", "secretsmanager.amazonaws.com PutSecretValue",
		"secretsmanager.amazonaws.com UpdateSecret", "secretsmanager.amazonaws.com GetSecretValue",
		"secretsmanager.amazonaws.com BatchGetSecretValue", "secretsmanager.amazonaws.com GetRandomPassword",
		"secretsmanager.amazonaws.com DeleteSecret", "secretsmanager.amazonaws.com RestoreSecret",
		"kms.amazonaws.com Encrypt", "kms.amazonaws.com Decrypt", "kms.amazonaws.com ReEncrypt",
		"kms.amazonaws.com GenerateDataKey", "kms.amazonaws.com GenerateRandom",
		"iam.amazonaws.com CreateAccessKey", "sts.amazonaws.com GetSessionToken",
	} {
		if names[want] == 0 {
			t.Errorf("the audit files hold no %s record", want)
		}
	}
	for _, want := range []string{"AccessDeniedException", "ResourceNotFoundException", "ResourceExistsException",
		"InvalidParameterException", "InvalidRequestException", "ValidationException", "InvalidSignatureException"} {
		if codes[want] == 0 {
			t.Errorf("the audit files hold no record of a call that failed with %s", want)
		}
	}
	if len(entries) < 80 {
		t.Errorf("the audit files hold %d events; the scenario makes more", len(entries))
	}
	if n := strings.Count(stdout, `"eventName"`); n != len(entries) {
		t.Errorf("stdout holds %d audit events, the files %d", n, len(entries))
	}
	// Every call a client made (not the key uses recorded with them) has its debug line.
	served, refused := 0, 0
	for _, e := range entries {
		if e.Event.EventType != audit.TypeAPICall || e.Event.SourceIPAddress == audit.SourceSecretsManager {
			continue
		}
		if e.Event.ErrorCode == "" {
			served++
		} else {
			refused++
		}
	}
	if n := strings.Count(stderr, `msg="request served"`); n != served || n < 40 {
		t.Errorf("stderr holds %d debug lines of requests served; the audit files, %d calls that succeeded", n, served)
	}
	if n := strings.Count(stderr, `msg="request refused"`); n != refused || n < 20 {
		t.Errorf("stderr holds %d debug lines of requests refused; the audit files, %d calls that failed", n, refused)
	}
	if b, err := os.ReadFile(digests); err != nil || !bytes.Contains(b, []byte(`"signature"`)) {
		t.Errorf("the digest file holds no signed digest (%v)", err)
	}
}

// scanPostgres scans every row of every table of the store's schema, as text, and the audit
// table's lines as UTF-8; it returns the findings and how many rows it read.
func scanPostgres(t *testing.T, dsn string, c *canaries) ([]string, int) {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to the store: %v", err)
	}
	defer conn.Close(ctx)
	var tables []string
	trows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for trows.Next() {
		var name string
		if err := trows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := trows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(tables) < 10 {
		t.Fatalf("the store's schema has %d tables: %v", len(tables), tables)
	}
	var findings []string
	total := 0
	scan := func(what, query string) int {
		rows, err := conn.Query(ctx, query)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		n := 0
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			n++
			findings = append(findings, c.scan(fmt.Sprintf("%s row %d", what, n), []byte(s))...)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		total += n
		return n
	}
	for _, table := range tables {
		scan("table "+table, "SELECT t::text FROM "+pgx.Identifier{table}.Sanitize()+" t")
	}
	if n := scan("audit_lines.line", `SELECT convert_from(line, 'UTF8') FROM audit_lines ORDER BY server, seq`); n < 80 {
		t.Errorf("the audit table holds %d lines; the scenario makes more", n)
	}
	var events int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM audit_lines WHERE position('"eventName":"PutSecretValue"' in convert_from(line, 'UTF8')) > 0`).Scan(&events); err != nil || events == 0 {
		t.Errorf("the audit table holds no PutSecretValue record (%v)", err)
	}
	return findings, total
}
