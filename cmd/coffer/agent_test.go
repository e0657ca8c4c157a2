package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/coffer-project/coffer/internal/testserver"
)

// clearAgentEnv unsets (as empty) the variables the agent reads its token from.
func clearAgentEnv(t *testing.T) {
	for _, v := range []string{"AWS_TOKEN", "AWS_SESSION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN"} {
		t.Setenv(v, "")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "example")
}

// TestAgentCommandRefuses: `coffer agent` refuses to start without a token and with
// settings outside the AWS agent's bounds, and says why.
func TestAgentCommandRefuses(t *testing.T) {
	clearAgentEnv(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--port", "0"}, "no token: set one of AWS_TOKEN, AWS_SESSION_TOKEN, AWS_CONTAINER_AUTHORIZATION_TOKEN"},
		{[]string{"--port", "0", "--ttl", "3601"}, "--ttl must be between 0 and 3600 seconds"},
		{[]string{"--port", "0", "--ttl", "-1s"}, "--ttl must be between 0 and 3600 seconds"},
		{[]string{"--port", "0", "--cache-size", "1001"}, "--cache-size must be between 1 and 1000"},
		{[]string{"--port", "0", "--cache-size", "0"}, "--cache-size must be between 1 and 1000"},
		{[]string{"--port", "0", "--max-conn", "1001"}, "--max-conn must be between 1 and 1000"},
		{[]string{"--port", "80"}, "--port must be between 1024 and 65535"},
		{[]string{"--port", "0", "--log-level", "loud"}, "log level must be"},
	}
	for _, c := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := run(ctx, append([]string{"agent"}, c.args...), io.Discard, io.Discard)
		cancel()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("coffer agent %q: %v, want an error with %q", c.args, err, c.want)
		}
	}
}

// TestAgentCommandServes: `coffer agent` with a token from a variable reads secrets from a
// coffer server and answers as the AWS agent, on the loopback interface, until stopped.
func TestAgentCommandServes(t *testing.T) {
	ts := testserver.Start(t)
	clearAgentEnv(t)
	t.Setenv("AWS_SESSION_TOKEN", "cmd-agent-token")
	t.Setenv("AWS_ACCESS_KEY_ID", ts.Creds.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", ts.Creds.SecretAccessKey)
	if _, err := ts.Client().CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String("cmd/agent"), SecretString: aws.String("v1")}); err != nil {
		t.Fatal(err)
	}

	line, stop := startAgentCommand(t, "--port", "0", "--endpoint", ts.URL, "--region", testserver.Region, "--ttl", "3600")
	addr := regexp.MustCompile(`http://127\.0\.0\.1:([0-9]+)`).FindStringSubmatch(line)
	if addr == nil {
		t.Fatalf("no address in %q", line)
	}
	getAt := func(base, path, tok string) (int, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		if tok != "" {
			req.Header.Set("X-Vault-Token", tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	get := func(path, tok string) (int, string) { return getAt(addr[0], path, tok) }
	if status, body := get("/ping", ""); status != 200 || body != "healthy" {
		t.Errorf("ping: %d %q", status, body)
	}
	// ::1 too, on the port 127.0.0.1 got.
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Logf("skipping the ::1 listener's check: the host has no IPv6 loopback (%v)", err)
	} else {
		ln.Close()
		addr6 := regexp.MustCompile(`http://\[::1\]:([0-9]+)`).FindStringSubmatch(line)
		switch {
		case addr6 == nil:
			t.Errorf("no ::1 address in %q", line)
		case addr6[1] != addr[1]:
			t.Errorf("::1 on port %s, 127.0.0.1 on port %s: want the same", addr6[1], addr[1])
		default:
			if status, body := getAt(addr6[0], "/ping", ""); status != 200 || body != "healthy" {
				t.Errorf("ping on ::1: %d %q", status, body)
			}
		}
	}
	if status, body := get("/v1/cmd/agent", "wrong"); status != 403 || body != "Bad Token" {
		t.Errorf("wrong token: %d %q", status, body)
	}
	if status, body := get("/v1/cmd/agent", "cmd-agent-token"); status != 200 || !strings.HasPrefix(body, `{"ARN":"arn:`) {
		t.Errorf("get: status %d, body begins %.12q", status, body)
	}
	// --watch is on by default: a new value reaches the agent long before its 1-hour TTL.
	time.Sleep(1500 * time.Millisecond) // the watcher takes the secret up
	if _, err := ts.Client().PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String("cmd/agent"), SecretString: aws.String("v2")}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, body := get("/v1/cmd/agent", "cmd-agent-token"); strings.Contains(body, `"SecretString":"v2"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("20 s after a put, coffer agent (TTL 1 h) still serves the old value")
		}
	}
	if ts.Faults.Count("WatchSecrets") == 0 {
		t.Error("coffer agent made no WatchSecrets call")
	}
	stop()
}

// startAgentCommand runs `coffer agent args…` until the test ends, and returns the first
// line it printed (where it listens) and a stop function that ends it and checks that it
// stopped cleanly.
func startAgentCommand(t *testing.T, args ...string) (line string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"agent"}, args...), pw, io.Discard)
		pw.Close()
	}()
	stopped := false
	stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("coffer agent after its context ended: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("coffer agent did not stop after its context ended")
		}
	}
	t.Cleanup(stop)
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the agent's first line: %v", err)
	}
	go io.Copy(io.Discard, pr)
	return line, stop
}

// TestAgentCommandDefaultTTL: without --ttl (or ttl_seconds), coffer agent's TTL is the
// AWS agent's 300 seconds.
func TestAgentCommandDefaultTTL(t *testing.T) {
	clearAgentEnv(t)
	t.Setenv("AWS_TOKEN", "cmd-agent-token")
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	line, stop := startAgentCommand(t, "--port", "0", "--region", "us-east-1")
	if !strings.HasSuffix(line, ", ttl 5m0s)\n") {
		t.Errorf("the first line %q does not say ttl 5m0s", line)
	}
	stop()
}

// TestAgentCommandSnapshotFlags: --snapshot needs a key, from a file only its owner may
// read or from $COFFER_AGENT_SNAPSHOT_KEY; --report-interval is not negative.
func TestAgentCommandSnapshotFlags(t *testing.T) {
	clearAgentEnv(t)
	t.Setenv("AWS_TOKEN", "cmd-agent-token")
	t.Setenv("COFFER_AGENT_SNAPSHOT_KEY", "")
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(make([]byte, 32))), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--snapshot", filepath.Join(dir, "s")}, "--snapshot needs a key"},
		{[]string{"--snapshot", filepath.Join(dir, "s"), "--snapshot-key-file", keyFile}, "want 0600"},
		{[]string{"--snapshot-key-file", keyFile}, "without --snapshot"},
		{[]string{"--report-interval", "-1s"}, "--report-interval must not be negative"},
	}
	for _, c := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := run(ctx, append([]string{"agent", "--port", "0"}, c.args...), io.Discard, io.Discard)
		cancel()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("coffer agent %q: %v, want an error with %q", c.args, err, c.want)
		}
	}
	t.Setenv("COFFER_AGENT_SNAPSHOT_KEY", "not base64 of 32 bytes")
	err := run(context.Background(), []string{"agent", "--port", "0", "--snapshot", filepath.Join(dir, "s")}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "snapshot key") {
		t.Errorf("a bad $COFFER_AGENT_SNAPSHOT_KEY: %v", err)
	}
}
