package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/coffer-project/coffer/internal/testserver"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// useServer points the CLI's environment at s.
func useServer(t *testing.T, s *testserver.Server) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", s.Creds.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s.Creds.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", testserver.Region)
	t.Setenv("COFFER_ENDPOINT", s.URL)
	t.Setenv("AWS_ENDPOINT_URL", "")
}

// secretsCmd runs `coffer secrets args…` in process with stdin, and returns stdout and the
// error; stderr is returned too, for the tests that look at prompts and warnings.
func secretsCmd(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = runSecrets(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func mustSecrets(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, stderr, err := secretsCmd(t, stdin, args...)
	if err != nil {
		t.Fatalf("coffer secrets %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

var (
	arnSuffix = regexp.MustCompile(`(:secret:[A-Za-z0-9/_+=.@-]+?)-[A-Za-z0-9]{6}\b`)
	jsonDate  = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00`)
	tableDate = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ`)
)

// normalize replaces what changes from run to run, keeping the widths that align tables.
func normalize(s string) string {
	s = arnSuffix.ReplaceAllString(s, "$1-XXXXXX")
	s = jsonDate.ReplaceAllString(s, "DATE")
	return tableDate.ReplaceAllString(s, "YYYY-MM-DD hh:mm:ssZ")
}

// golden compares got with testdata/golden/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	got = normalize(got)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to write it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (values hidden):\n--- got\n%s--- want\n%s", name, hideValues(got), hideValues(string(want)))
	}
}

const (
	tokenV1 = "aaaaaaaa-1111-4111-8111-111111111111"
	tokenV2 = "bbbbbbbb-2222-4222-8222-222222222222"
	tokenV3 = "cccccccc-3333-4333-8333-333333333333"
)

// TestSecretsVerbsGolden runs the verbs against a real server and compares their table and
// JSON output with golden files.
func TestSecretsVerbsGolden(t *testing.T) {
	s := testserver.Start(t)
	useServer(t, s)
	mustSecrets(t, `{"username":"admin","password":"canary-golden-1"}`+"\n",
		"create", "app/db", "--description", "the orders database", "--tag", "team=payments", "--tag", "env=prod",
		"--client-request-token", tokenV1)
	golden(t, "put.txt", mustSecrets(t, `{"username":"admin","password":"canary-golden-2"}`,
		"put", "app/db", "--client-request-token", tokenV2))
	golden(t, "put.json", mustSecrets(t, `{"username":"admin","password":"canary-golden-3"}`,
		"put", "app/db", "--client-request-token", tokenV3, "--output", "json"))
	bin := filepath.Join(t.TempDir(), "key.der")
	binValue := []byte{0, 1, 2, 0xff, '\n', 0xfe, '\n'}
	if err := os.WriteFile(bin, binValue, 0o600); err != nil {
		t.Fatal(err)
	}
	golden(t, "create.txt", mustSecrets(t, "", "create", "app/tls-key", "--value-file", bin, "--binary", "--client-request-token", tokenV1))
	golden(t, "create.json", mustSecrets(t, "", "create", "zz/empty", "--no-value", "--output", "json"))

	golden(t, "list.txt", mustSecrets(t, "", "list"))
	golden(t, "list.json", mustSecrets(t, "", "list", "--output", "json"))
	golden(t, "list-prefix.txt", mustSecrets(t, "", "list", "--prefix", "app/"))
	golden(t, "describe.txt", mustSecrets(t, "", "describe", "app/db"))
	golden(t, "describe.json", mustSecrets(t, "", "describe", "app/db", "--output", "json"))
	golden(t, "versions.txt", mustSecrets(t, "", "versions", "app/db", "--include-deprecated"))
	golden(t, "versions.json", mustSecrets(t, "", "versions", "--output", "json", "app/db"))
	golden(t, "get.json", mustSecrets(t, "", "get", "app/db", "--output", "json"))
	golden(t, "get.txt", mustSecrets(t, "", "get", "app/db", "--output", "table", "--version-stage", "AWSPREVIOUS"))
	golden(t, "get-binary.json", mustSecrets(t, "", "get", "app/tls-key", "--output", "json"))
	golden(t, "get-binary.txt", mustSecrets(t, "", "get", "app/tls-key", "--output", "table"))

	// The value alone, exactly: no line end on a pipe; binary bytes as they are.
	if got := mustSecrets(t, "", "get", "app/db"); got != `{"username":"admin","password":"canary-golden-3"}` {
		t.Errorf("get: %q", hideValues(got))
	}
	if got := mustSecrets(t, "", "get", "app/db", "--version-id", tokenV1, "--json-key", "password"); got != "canary-golden-1" {
		t.Errorf("get --json-key: %q", hideValues(got))
	}
	if got := mustSecrets(t, "", "get", "app/tls-key"); got != string(binValue) {
		t.Errorf("get of a binary secret: %q", got)
	}
	_, _, err := secretsCmd(t, "", "get", "app/db", "--json-key", "nope")
	if err == nil || !strings.Contains(err.Error(), `has no member "nope"`) || strings.Contains(err.Error(), "canary") {
		t.Errorf("a missing member: %v", err)
	}
	_, _, err = secretsCmd(t, "", "get", "app/tls-key", "--json-key", "a")
	if err == nil || !strings.Contains(err.Error(), "binary") {
		t.Errorf("--json-key of a binary secret: %v", err)
	}
	_, _, err = secretsCmd(t, "", "get", "app/nothing")
	if err == nil || err.Error() != "GetSecretValue: ResourceNotFoundException: Secrets Manager can't find the specified secret." {
		t.Errorf("a missing secret: %v", err)
	}

	golden(t, "delete.txt", mustSecrets(t, "", "delete", "app/db", "--recovery-window-in-days", "7"))
	golden(t, "list-deleted.txt", mustSecrets(t, "", "list", "--include-planned-deletion"))
	golden(t, "restore.txt", mustSecrets(t, "", "restore", "app/db"))
	if got := mustSecrets(t, "", "get", "app/db", "--json-key", "password"); got != "canary-golden-3" {
		t.Errorf("after restore: %q", hideValues(got))
	}
	golden(t, "delete.json", mustSecrets(t, "", "delete", "app/db", "--recovery-window-in-days", "7", "--output", "json"))
	golden(t, "restore.json", mustSecrets(t, "", "restore", "app/db", "--output", "json"))
}

// TestSecretsValueRules covers where a value may come from and what is refused.
func TestSecretsValueRules(t *testing.T) {
	s := testserver.Start(t)
	useServer(t, s)
	c := s.Client()
	ctx := context.Background()
	value := func(id string) *sm.GetSecretValueOutput {
		t.Helper()
		out, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	// One line end is dropped, only one.
	mustSecrets(t, "canary-rules-a\n\n", "create", "a")
	if got := *value("a").SecretString; got != "canary-rules-a\n" {
		t.Errorf("stdin value stored as %q", hideValues(got))
	}
	f := filepath.Join(t.TempDir(), "v")
	os.WriteFile(f, []byte("canary-rules-b\r\n"), 0o600)
	mustSecrets(t, "", "put", "a", "--value-file", f)
	if got := *value("a").SecretString; got != "canary-rules-b" {
		t.Errorf("file value stored as %q", hideValues(got))
	}
	mustSecrets(t, "canary-rules-c\n", "put", "a", "--value-file", "-")
	if got := *value("a").SecretString; got != "canary-rules-c" {
		t.Errorf("--value-file - stored %q", hideValues(got))
	}

	refused := []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"positional value", "", []string{"put", "a", "canary-rules-arg"}, "takes no value on the command line"},
		{"--value", "", []string{"put", "a", "--value", "canary-rules-arg"}, "takes no value on the command line"},
		{"--secret-string=", "", []string{"create", "b", "--secret-string=canary-rules-arg"}, "takes no value on the command line"},
		{"-secret-binary", "", []string{"put", "a", "-secret-binary", "canary-rules-arg"}, "takes no value on the command line"},
		{"empty", "\n", []string{"put", "a"}, "the value is empty"},
		{"not UTF-8", "\xff\xfe", []string{"put", "a"}, "not UTF-8 text; store bytes with --binary"},
		{"too long", strings.Repeat("x", maxValue+1), []string{"put", "a"}, "more than 65536 bytes"},
		{"generate and file", "", []string{"put", "a", "--generate", "--value-file", f}, "takes no --value-file"},
		{"generate flag alone", "x", []string{"put", "a", "--length", "12"}, "--length applies only with --generate"},
		{"bad output", "x", []string{"put", "a", "--output", "yaml"}, "--output must be json or table"},
		{"two names", "", []string{"describe", "a", "b"}, "takes one secret"},
		{"no name", "", []string{"get"}, "name or ARN is required"},
		{"force without --yes", "", []string{"delete", "a", "--force-delete-without-recovery"}, "add --yes"},
	}
	for _, r := range refused {
		_, _, err := secretsCmd(t, r.stdin, r.args...)
		if err == nil || !strings.Contains(err.Error(), r.want) {
			t.Errorf("%s: %v; want %q", r.name, err, r.want)
		} else if strings.Contains(err.Error(), "canary") {
			t.Errorf("%s: the error repeats the value: %v", r.name, err)
		}
	}
	// Nothing refused was stored.
	if got := *value("a").SecretString; got != "canary-rules-c" {
		t.Errorf("after refusals the value is %q", hideValues(got))
	}
	if _, err := c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("b")}); err == nil {
		t.Error("a create that was refused made the secret")
	}
	// The largest value AWS allows goes in, with its line end.
	mustSecrets(t, strings.Repeat("y", maxValue)+"\n", "put", "a")
	if got := *value("a").SecretString; len(got) != maxValue {
		t.Errorf("a value of %d bytes stored as %d", maxValue, len(got))
	}

	// Forced deletion with --yes.
	mustSecrets(t, "", "delete", "a", "--force-delete-without-recovery", "--yes")
	if _, err := c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("a")}); err == nil {
		t.Error("forced deletion left the secret")
	}
}

// TestSecretsGenerate has the server make values, with coffer's GenerateSecretValue and, where
// the endpoint lacks it, AWS's GetRandomPassword; the value is never printed.
func TestSecretsGenerate(t *testing.T) {
	s := testserver.Start(t)
	c := s.Client()
	ctx := context.Background()
	check := func(id string, n int, out string) {
		t.Helper()
		v, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		if len(*v.SecretString) != n {
			t.Errorf("%s: a value of %d characters, want %d", id, len(*v.SecretString), n)
		}
		if strings.Contains(out, *v.SecretString) {
			t.Errorf("%s: the generated value was printed", id)
		}
	}
	awsLike, refused := withoutExtensions(t, s.Faults)
	for _, front := range []struct {
		name string
		url  string
	}{{"coffer", s.URL}, {"without GenerateSecretValue", awsLike}} {
		t.Run(front.name, func(t *testing.T) {
			useServer(t, s)
			t.Setenv("COFFER_ENDPOINT", front.url)
			id := "gen/" + strings.ReplaceAll(front.name, " ", "-")
			out := mustSecrets(t, "", "create", id, "--generate", "--length", "20", "--exclude-punctuation")
			check(id, 20, out)
			out = mustSecrets(t, "", "put", id, "--generate", "--output", "json")
			check(id, 32, out)
		})
	}
	if refused.Load() != 2 {
		t.Errorf("GenerateSecretValue was refused %d times, want 2: the fallback was not taken", refused.Load())
	}
	// A template needs coffer's operation.
	useServer(t, s)
	out := mustSecrets(t, "", "create", "gen/tpl", "--generate", "--template", `{"username":"svc"}`, "--template-key", "password")
	v, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("gen/tpl")})
	if err != nil || !strings.HasPrefix(*v.SecretString, `{"username":"svc","password":"`) {
		t.Fatalf("template value: %v", err)
	}
	if strings.Contains(out, *v.SecretString) {
		t.Error("the generated value was printed")
	}
}
