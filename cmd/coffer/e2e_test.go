package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// These tests run the real coffer binary as a user would (the README's flow) and drive it with
// real clients. Which client binary each test uses is named in the test: this machine has the
// AWS CLI v1 and boto3 from pip first on PATH ("aws", "python3"), and Debian's AWS CLI v2
// (/usr/bin/aws) and python3-boto3 (/usr/bin/python3).

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// cofferBinary builds cmd/coffer once per test run.
func cofferBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "coffer-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "coffer")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// need skips when a client binary is missing on a developer's machine, and fails under CI.
func need(t *testing.T, path string) string {
	t.Helper()
	p, err := exec.LookPath(path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true: %v", path, err)
		}
		t.Skipf("skipping: %s not found (%v); .ci/run installs it", path, err)
	}
	return p
}

type proc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startCoffer runs `coffer server args…` with env added to a minimal environment, and waits
// until the log says it is serving (or the process exits).
func startCoffer(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(cofferBinary(t), append([]string{"server"}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	p := &proc{cmd: cmd, out: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.out, p.out
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
			return p
		case <-deadline:
			t.Fatalf("server did not start:\n%s", p.out)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return p
}

func (p *proc) stop() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-p.done:
			p.done <- err
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
		}
	}
}

// exited waits for the process to exit and returns its output.
func (p *proc) exited(t *testing.T) string {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		if err == nil {
			t.Fatalf("server exited with status 0; want a refusal:\n%s", p.out)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not exit:\n%s", p.out)
	}
	return p.out.String()
}

var credLine = regexp.MustCompile(`(?m)^export (AWS_[A-Z_]+)=(\S+)$`)

// printedEnv returns the NAME=value lines that the first start wrote to the credentials file.
func printedEnv(t *testing.T, data string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(data, "admin-credentials"))
	if err != nil {
		t.Fatalf("first start wrote no credentials file: %v", err)
	}
	st, _ := os.Stat(filepath.Join(data, "admin-credentials"))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file mode %v", st.Mode().Perm())
	}
	var env []string
	names := map[string]bool{}
	for _, m := range credLine.FindAllStringSubmatch(string(b), -1) {
		env = append(env, m[1]+"="+m[2])
		names[m[1]] = true
	}
	for _, n := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION"} {
		if !names[n] {
			t.Fatalf("credentials file lacks %s:\n%s", n, b)
		}
	}
	return env
}

// cli runs a client with only env (plus PATH and an empty HOME, so no ~/.aws applies).
func cli(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_PAGER=", "PYENV_VERSION=" + os.Getenv("PYENV_VERSION")}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestREADMEFlow is the README's quick start, with each AWS CLI: start the server on a fresh
// data directory, take the printed environment lines, create and read demo/db.
func TestREADMEFlow(t *testing.T) {
	for _, client := range []struct{ name, bin string }{
		{"aws-cli-v1-pip", "aws"},
		{"aws-cli-v2-debian", "/usr/bin/aws"},
	} {
		t.Run(client.name, func(t *testing.T) {
			bin := need(t, client.bin)
			dir := t.TempDir()
			data, addr := filepath.Join(dir, "coffer-data"), freePort(t)
			p := startCoffer(t, nil, "--data", data, "--key-file", filepath.Join(dir, "coffer-root.key"), "--listen", addr)
			if !strings.Contains(p.out.String(), "admin-credentials") {
				t.Fatalf("no log line says where the credentials are:\n%s", p.out)
			}
			env := printedEnv(t, data)
			ep := "http://" + addr
			out, err := cli(t, env, bin, "--endpoint-url", ep, "secretsmanager", "create-secret", "--name", "demo/db", "--secret-string", `{"user":"a"}`)
			if err != nil {
				t.Fatalf("create-secret: %v\n%s", err, out)
			}
			out, err = cli(t, env, bin, "--endpoint-url", ep, "secretsmanager", "get-secret-value", "--secret-id", "demo/db", "--query", "SecretString", "--output", "text")
			if err != nil || strings.TrimSpace(out) != `{"user":"a"}` {
				t.Fatalf("get-secret-value: %v\n%s", err, out)
			}
			out, err = cli(t, env, bin, "--endpoint-url", ep, "secretsmanager", "describe-secret", "--secret-id", "demo/db")
			if err != nil || !strings.Contains(out, `"VersionIdsToStages"`) {
				t.Fatalf("describe-secret: %v\n%s", err, out)
			}
			out, err = cli(t, env, bin, "--endpoint-url", ep, "sts", "get-caller-identity", "--query", "Arn", "--output", "text")
			if err != nil || !regexp.MustCompile(`^arn:aws:iam::[0-9]{12}:root$`).MatchString(strings.TrimSpace(out)) {
				t.Fatalf("sts get-caller-identity: %v\n%s", err, out)
			}
			out, err = cli(t, env, bin, "--endpoint-url", ep, "secretsmanager", "list-secrets")
			if err != nil || !strings.Contains(out, "demo/db") {
				t.Fatalf("list-secrets: %v\n%s", err, out)
			}
			out, err = cli(t, env, bin, "--endpoint-url", ep, "secretsmanager", "get-secret-value", "--secret-id", "missing")
			if err == nil || !strings.Contains(out, "ResourceNotFoundException") {
				t.Fatalf("missing secret: %v\n%s", err, out)
			}
			out, err = cli(t, env, bin, "--endpoint-url", ep, "secretsmanager", "delete-secret", "--secret-id", "demo/db", "--recovery-window-in-days", "7")
			if err != nil || !strings.Contains(out, "DeletionDate") {
				t.Fatalf("delete-secret: %v\n%s", err, out)
			}
			out, err = cli(t, env, bin, "--endpoint-url", ep, "secretsmanager", "get-secret-value", "--secret-id", "demo/db")
			if err == nil || !strings.Contains(out, "marked for deletion") {
				t.Fatalf("get after delete: %v\n%s", err, out)
			}
			out, err = cli(t, env, bin, "--endpoint-url", ep, "secretsmanager", "restore-secret", "--secret-id", "demo/db")
			if err != nil {
				t.Fatalf("restore-secret: %v\n%s", err, out)
			}
			if strings.Contains(p.out.String(), `{"user":"a"}`) || strings.Contains(p.out.String(), "SecretString") {
				t.Fatalf("the server log holds a value:\n%s", p.out)
			}
		})
	}
}

// TestBoto3 drives the server with boto3: pip's (python3 on PATH) and Debian's
// (/usr/bin/python3 with python3-boto3).
func TestBoto3(t *testing.T) {
	script := `
import base64, os, sys, boto3, botocore
c = boto3.client("secretsmanager", endpoint_url=sys.argv[1])
arn = c.create_secret(Name="py/app", SecretString="s3cr3t")["ARN"]
assert c.get_secret_value(SecretId="py/app")["SecretString"] == "s3cr3t"
v2 = c.put_secret_value(SecretId=arn, SecretBinary=b"\x00\x01\xff")
assert v2["VersionStages"] == ["AWSCURRENT"], v2
got = c.get_secret_value(SecretId="py/app")
assert got["SecretBinary"] == b"\x00\x01\xff", got
prev = c.get_secret_value(SecretId="py/app", VersionStage="AWSPREVIOUS")
assert prev["SecretString"] == "s3cr3t"
try:
    c.get_secret_value(SecretId="nope")
    raise SystemExit("no error for a missing secret")
except c.exceptions.ResourceNotFoundException as e:
    assert e.response["Error"]["Message"] == "Secrets Manager can't find the specified secret.", e.response
names = [s["Name"] for p in c.get_paginator("list_secrets").paginate(PaginationConfig={"PageSize": 1}) for s in p["SecretList"]]
assert names == ["py/app"], names
c.delete_secret(SecretId="py/app", ForceDeleteWithoutRecovery=True)
print("boto3", boto3.__version__, "botocore", botocore.__version__, "ok")
`
	for _, client := range []struct{ name, python string }{
		{"boto3-pip", "python3"},
		{"boto3-debian", "/usr/bin/python3"},
	} {
		t.Run(client.name, func(t *testing.T) {
			py := need(t, client.python)
			if out, err := cli(t, nil, py, "-c", "import boto3"); err != nil {
				if os.Getenv("CI") == "true" {
					t.Fatalf("%s has no boto3 under CI=true: %s", py, out)
				}
				t.Skipf("skipping: %s has no boto3", py)
			}
			dir := t.TempDir()
			data, addr := filepath.Join(dir, "data"), freePort(t)
			startCoffer(t, nil, "--data", data, "--key-file", filepath.Join(dir, "root.key"), "--listen", addr)
			out, err := cli(t, printedEnv(t, data), py, "-c", script, "http://"+addr)
			if err != nil || !strings.Contains(out, " ok") {
				t.Fatalf("%v\n%s", err, out)
			}
			t.Log(strings.TrimSpace(out))
		})
	}
}

// TestRestartAndFixedCredentials checks that a later start reuses the store and credentials,
// that credentials given through the environment work, and that another root key is refused.
func TestRestartAndFixedCredentials(t *testing.T) {
	dir := t.TempDir()
	data, key := filepath.Join(dir, "data"), filepath.Join(dir, "root.key")
	fixed := []string{"COFFER_ACCOUNT_ID=123456789012", "COFFER_ADMIN_ACCESS_KEY_ID=AKIAFIXEDFIXEDFIXED0", "COFFER_ADMIN_SECRET_ACCESS_KEY=fixed-secret-access-key-for-tests"}
	addr := freePort(t)
	p := startCoffer(t, fixed, "--data", data, "--key-file", key, "--listen", addr, "--region", "us-east-1,eu-west-1")
	if _, err := os.Stat(filepath.Join(data, "admin-credentials")); err == nil {
		t.Fatal("credentials given by the environment were written out")
	}
	call := func(region string) *http.Response {
		t.Helper()
		resp, err := signedGet(addr, region, "AKIAFIXEDFIXEDFIXED0", "fixed-secret-access-key-for-tests")
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := call("eu-west-1"); resp.StatusCode != 200 {
		t.Fatalf("fixed credentials refused: %d", resp.StatusCode)
	}
	p.stop()
	if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st.Mode(), err)
	}

	// Restart with the same files and no environment: the stored key still works.
	p = startCoffer(t, nil, "--data", data, "--key-file", key, "--listen", addr, "--region", "us-east-1,eu-west-1")
	if resp := call("us-east-1"); resp.StatusCode != 200 {
		t.Fatalf("after restart: %d", resp.StatusCode)
	}
	p.stop()

	// A file of credentials, as test rigs mount them.
	file := filepath.Join(dir, "creds.env")
	os.WriteFile(file, []byte("export COFFER_ADMIN_ACCESS_KEY_ID=AKIAFROMFILEFROMFILE\nCOFFER_ADMIN_SECRET_ACCESS_KEY='secret-from-a-file-0000'\n"), 0o600)
	p = startCoffer(t, []string{"COFFER_ADMIN_CREDENTIALS_FILE=" + file}, "--data", data, "--key-file", key, "--listen", addr)
	resp, err := signedGet(addr, "us-east-1", "AKIAFROMFILEFROMFILE", "secret-from-a-file-0000")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("credentials from a file: %v %v", resp, err)
	}
	p.stop()

	// Another root key does not open this data directory.
	other := filepath.Join(dir, "other.key")
	out := startCoffer(t, nil, "--data", data, "--key-file", other, "--listen", addr).exited(t)
	if !strings.Contains(out, "root key does not match") {
		t.Fatalf("wrong root key: %s", out)
	}
	// A key file inside the data directory is refused.
	out = startCoffer(t, nil, "--data", data, "--key-file", filepath.Join(data, "k"), "--listen", addr).exited(t)
	if !strings.Contains(out, "inside the data directory") {
		t.Fatalf("key inside data: %s", out)
	}
}

// TestTransportSecurity: plain HTTP is refused on a non-loopback address unless asked for in
// so many words, and --tls auto serves HTTPS with a certificate kept in the data directory.
func TestTransportSecurity(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "root.key")
	out := startCoffer(t, nil, "--data", filepath.Join(dir, "d1"), "--key-file", key, "--listen", "0.0.0.0:0").exited(t)
	if !strings.Contains(out, "refusing plain HTTP") {
		t.Fatalf("non-loopback without TLS: %s", out)
	}
	p := startCoffer(t, nil, "--data", filepath.Join(dir, "d1"), "--key-file", key, "--listen", "0.0.0.0:0", "--insecure-http")
	if !strings.Contains(p.out.String(), "coffer is serving") {
		t.Fatalf("--insecure-http did not start:\n%s", p.out)
	}
	p.stop()

	addr := freePort(t)
	data := filepath.Join(dir, "d2")
	p = startCoffer(t, nil, "--data", data, "--key-file", key+"2", "--listen", addr, "--tls", "auto")
	if !strings.Contains(p.out.String(), "https://") {
		t.Fatalf("no https endpoint:\n%s", p.out)
	}
	pem, err := os.ReadFile(filepath.Join(data, "tls", "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(filepath.Join(data, "tls", "key.pem")); st.Mode().Perm() != 0o600 {
		t.Fatalf("TLS key mode %v", st.Mode().Perm())
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("HTTPS with the generated certificate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz over TLS: %d", resp.StatusCode)
	}
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil && resp.StatusCode == 200 {
		t.Fatal("plain HTTP answered on the TLS port")
	}
	if aws, err := exec.LookPath("aws"); err == nil {
		env := printedEnv(t, data)
		out, err := cli(t, append(env, "AWS_CA_BUNDLE="+filepath.Join(data, "tls", "cert.pem")), aws, "--endpoint-url", "https://"+addr, "secretsmanager", "list-secrets")
		if err != nil {
			t.Fatalf("aws over TLS: %v\n%s", err, out)
		}
	}
}

// signedGet sends a signed ListSecrets to addr and returns the response.
func signedGet(addr, region, ak, sk string) (*http.Response, error) {
	lg := &loadGen{client: http.DefaultClient, creds: aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk}, region: region}
	code, body, err := lg.call(context.Background(), "http://"+addr, "ListSecrets", map[string]any{})
	if err != nil {
		return nil, err
	}
	return &http.Response{StatusCode: code, Body: io.NopCloser(bytes.NewReader(body))}, nil
}

// TestSecondSQLiteServerRefused: a server on SQLite holds its data directory alone (its read
// cache relies on being the database's only writer); a second one on it exits with a reason.
func TestSecondSQLiteServerRefused(t *testing.T) {
	dir := t.TempDir()
	data, key := filepath.Join(dir, "data"), filepath.Join(dir, "root.key")
	addr := freePort(t)
	first := startCoffer(t, nil, "--data", data, "--key-file", key, "--listen", addr)
	if first.cmd.ProcessState != nil {
		t.Fatalf("the first server did not start:\n%s", first.out)
	}
	second := startCoffer(t, nil, "--data", data, "--key-file", key, "--listen", freePort(t))
	out := second.exited(t)
	if !strings.Contains(out, "a coffer server or operator verb is using "+data) {
		t.Fatalf("the second server's refusal does not say why:\n%s", out)
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the first server stopped serving: %v", err)
	}
	resp.Body.Close()
}

// TestReadCacheFlag: --read-cache sizes the SQLite read cache; a negative size is refused
// before anything starts.
func TestReadCacheFlag(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	err := runServer(t.Context(), []string{"--read-cache", "-1", "--data", filepath.Join(dir, "data"), "--key-file", filepath.Join(dir, "k")}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "--read-cache must be 0 (off) or more, not -1") {
		t.Fatalf("runServer --read-cache -1: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Fatal("a refused --read-cache created the data directory")
	}
	addr := freePort(t)
	startCoffer(t, nil, "--data", filepath.Join(dir, "data"), "--key-file", filepath.Join(dir, "k"), "--listen", addr, "--read-cache", "0")
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("a server without a read cache is not ready: %v", err)
	}
	resp.Body.Close()
}
