package rotation_test

// The harness of the database rotators' tests: a real coffer server, in process on a loopback
// port, driven through aws-sdk-go-v2 as a rotator drives it; the databases are in
// postgres_test.go and mysql_test.go.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/audit"
	"github.com/coffer-project/coffer/core"
	"github.com/coffer-project/coffer/keyring"
	"github.com/coffer-project/coffer/rotation"
	"github.com/coffer-project/coffer/server"
	"github.com/coffer-project/coffer/sqlite"
)

// cofferServer is a coffer server for one test, with the administrator's client.
type cofferServer struct {
	sm    *secretsmanager.Client
	store coffer.Store
}

// startCoffer starts a coffer server over SQLite in a temporary directory, stopped when the
// test ends.
func startCoffer(t *testing.T) *cofferServer {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	root, err := keyring.NewRootKey()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := keyring.New(root)
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(dir, "coffer.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	gen, err := core.NewAccessKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := core.Bootstrap(ctx, store, keys, core.BootstrapConfig{AccountID: "111122223333", AccessKeyID: gen.AccessKeyID, SecretAccessKey: gen.SecretAccessKey}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := core.New(store, keys, core.Options{Logger: log})
	_, signer, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	auditDir := filepath.Join(dir, "audit")
	sink, err := audit.OpenFileSink(audit.FileOptions{Dir: auditDir})
	if err != nil {
		t.Fatal(err)
	}
	trail, err := audit.Open(audit.Options{Server: "test", Key: signer, Sinks: []audit.Sink{sink}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { trail.Close() })
	h := server.New(server.Config{Regions: []string{"us-east-1"}, Secrets: svc, Creds: server.NewCredentials(store, keys), Logger: log,
		Audit: trail, AuditSource: audit.DirSource(auditDir)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	sm := secretsmanager.NewFromConfig(aws.Config{Region: "us-east-1", RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(gen.AccessKeyID, gen.SecretAccessKey, "")},
		func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String("http://" + ln.Addr().String()) })
	return &cofferServer{sm: sm, store: store}
}

// secret creates a secret with value v (marshalled to JSON) and rotation enabled for
// function, set in the store: RotateSecret is not what these tests are about.
func (c *cofferServer) secret(t *testing.T, name string, v map[string]any, function string) string {
	t.Helper()
	ctx := context.Background()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(string(b))})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.ARN)
	if function == "" {
		return arn
	}
	err = c.store.Update(ctx, func(tx coffer.Tx) error {
		s, err := tx.SecretByARN(arn)
		if err != nil {
			return err
		}
		s.RotationEnabled = true
		s.RotationLambdaARN = "arn:aws:lambda:us-east-1:111122223333:function:" + function
		s.RotationRules = coffer.RotationRules{AutomaticallyAfterDays: 30}
		return tx.UpdateSecret(s)
	})
	if err != nil {
		t.Fatal(err)
	}
	return arn
}

// value returns a secret's value at stage, as a map.
func (c *cofferServer) value(t *testing.T, arn, stage string) map[string]any {
	t.Helper()
	out, err := c.sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String(stage)})
	if err != nil {
		t.Fatalf("GetSecretValue %s: %v", stage, err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// stages returns the version ids of a secret by stage.
func (c *cofferServer) stages(t *testing.T, arn string) map[string]string {
	t.Helper()
	d, err := c.sm.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for id, stages := range d.VersionIdsToStages {
		for _, s := range stages {
			out[s] = id
		}
	}
	return out
}

// putPending stores v as the AWSPENDING version token, as a createSecret would.
func (c *cofferServer) putPending(t *testing.T, arn, token string, v map[string]any) {
	t.Helper()
	b, _ := json.Marshal(v)
	_, err := c.sm.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn),
		ClientRequestToken: aws.String(token), SecretString: aws.String(string(b)), VersionStages: []string{rotation.StagePending}})
	if err != nil {
		t.Fatal(err)
	}
}

// newToken returns a random UUID, a ClientRequestToken.
func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// uniq returns a short random suffix for database object names.
func uniq() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// step runs one step of the rotation token and returns its error.
func (c *cofferServer) step(r rotation.Rotator, arn, token, step string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return r.Step(ctx, c.sm, rotation.Event{Step: step, SecretId: arn, ClientRequestToken: token})
}

// rotate runs the steps given (all four when none) of the rotation token, each twice in a row
// (a step must be idempotent), and fails the test on an error.
func (c *cofferServer) rotate(t *testing.T, r rotation.Rotator, arn, token string, steps ...string) {
	t.Helper()
	if len(steps) == 0 {
		steps = rotation.Steps
	}
	for _, s := range steps {
		for range 2 {
			if err := c.step(r, arn, token, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
	}
}

// noPassword fails the test when err's text holds one of the passwords.
func noPassword(t *testing.T, err error, passwords ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, p := range passwords {
		if p != "" && strings.Contains(err.Error(), p) {
			t.Errorf("error %q holds a password", err)
		}
	}
}

// skipOrFail skips the test for want of a database, saying why, or fails it when CI=true.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (and CI=true)", msg)
	}
	t.Skipf("skipping: %s", msg)
}

// countingListener is a TCP listener that counts the connections made to it: a database that
// must never be reached.
type countingListener struct {
	ln net.Listener
	n  atomic.Int64
}

func newCountingListener(t *testing.T) *countingListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			cl.n.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return cl
}

func (cl *countingListener) port() int { return cl.ln.Addr().(*net.TCPAddr).Port }

// jsonString marshals v.
func jsonString(v map[string]any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// secretString is a PutSecretValue of v, which becomes AWSCURRENT.
func secretString(arn string, v map[string]any) *secretsmanager.PutSecretValueInput {
	s, _ := jsonString(v)
	return &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String(s)}
}
