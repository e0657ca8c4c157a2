package rotation_test

// The harness of the rotators' and the engine's tests: a real coffer server, in process on a
// loopback port, driven through aws-sdk-go-v2 as a rotator drives it, with a rotation engine
// wired as the server wires it; the databases are in postgres_test.go and mysql_test.go.

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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/audit"
	"github.com/coffer-project/coffer/core"
	"github.com/coffer-project/coffer/keyring"
	"github.com/coffer-project/coffer/postgres"
	"github.com/coffer-project/coffer/rotation"
	"github.com/coffer-project/coffer/server"
	"github.com/coffer-project/coffer/sqlite"
	"github.com/coffer-project/coffer/storetest"
)

// cofferServer is a coffer server for one test, with the administrator's client and its
// rotation engine.
type cofferServer struct {
	sm    *secretsmanager.Client
	store coffer.Store
	url   string
	admin aws.Credentials
	// clock is the core's, the engine's and policy conditions' clock; SigV4 keeps real time.
	clock *clock
	// engine is the server's rotation engine (RotateSecret, GetRotationStatus); engineOpts
	// builds another one over the same server (a second scheduler).
	engine     *rotation.Engine
	engineOpts rotation.Options
}

// clock is real time moved by an offset that a test sets, so that schedules and backoffs can
// be driven while durations keep ticking.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off).UTC()
}

// Set moves the clock to t.
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off = time.Until(t)
}

// cofferOptions vary startCofferWith's server.
type cofferOptions struct {
	// rotators are configured on top of rotation.Defaults(), by function name.
	rotators map[string]rotation.Config
	// postgres puts the store in a fresh schema of the test PostgreSQL server (SharedStore),
	// not in SQLite.
	postgres bool
	// server names the engine for the scheduling lease; "coffer-a" when empty.
	server  string
	backoff time.Duration // the engine's first backoff; its default when 0
	wait    time.Duration // how long RotateSecret waits for its rotation; the default when 0
}

// startCoffer starts a coffer server over SQLite in a temporary directory, stopped when the
// test ends.
func startCoffer(t *testing.T) *cofferServer {
	t.Helper()
	return startCofferWith(t, cofferOptions{})
}

// startCofferWith starts a coffer server with a rotation engine wired as cmd/coffer wires it
// (rotators act through the in-process API as a session of the role coffer-rotation, which
// is created through the IAM API), stopped when the test ends.
func startCofferWith(t *testing.T, o cofferOptions) *cofferServer {
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
	var store coffer.Store
	if o.postgres {
		store, err = postgres.Open(ctx, storetest.PostgresDSN(t))
	} else {
		store, err = sqlite.Open(ctx, filepath.Join(dir, "coffer.db"), sqlite.WithCacheCheck())
	}
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
	clk := &clock{}
	svc := core.New(store, keys, core.Options{Logger: log, Now: clk.Now})
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
		PolicyNow: clk.Now, SharedStore: o.postgres, Audit: trail, AuditSource: audit.DirSource(auditDir)})
	rotators := rotation.Defaults()
	for name, c := range o.rotators {
		rotators[name] = c
	}
	if o.server == "" {
		o.server = "coffer-a"
	}
	opts := rotation.Options{Rotators: rotators, Store: store, Secrets: svc, Credentials: h.RotatorCredentials, Client: h.InProcessClient,
		Event: h.RecordServiceEvent, Now: clk.Now, Logger: log, Server: o.server, Backoff: o.backoff, Wait: o.wait}
	engine := rotation.New(opts)
	h.SetRotations(engine)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	admin := aws.Credentials{AccessKeyID: gen.AccessKeyID, SecretAccessKey: gen.SecretAccessKey}
	cs := &cofferServer{store: store, url: "http://" + ln.Addr().String(), admin: admin, clock: clk, engine: engine, engineOpts: opts}
	cs.sm = cs.client(admin)
	cs.rotationRole(t)
	return cs
}

// client returns a Secrets Manager client of the server signed with creds, without retries.
func (c *cofferServer) client(creds aws.Credentials) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(aws.Config{Region: "us-east-1", RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, "")},
		func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(c.url) })
}

// iam returns an IAM client of the server with the administrator's credentials.
func (c *cofferServer) iam() *iam.Client {
	return iam.NewFromConfig(aws.Config{Region: "us-east-1", RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(c.admin.AccessKeyID, c.admin.SecretAccessKey, "")},
		func(o *iam.Options) { o.BaseEndpoint = aws.String(c.url) })
}

// rotatePolicy is what the rotators' role may do, as docs/rotation.md gives it.
const rotatePolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["secretsmanager:DescribeSecret","secretsmanager:GetSecretValue","secretsmanager:PutSecretValue","secretsmanager:UpdateSecretVersionStage","secretsmanager:GetRandomPassword"],"Resource":"*"}]}`

// rotationRole creates the role rotators act as, coffer-rotation, trusting
// secretsmanager.amazonaws.com, with rotatePolicy.
func (c *cofferServer) rotationRole(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"secretsmanager.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	ic := c.iam()
	if _, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(rotation.DefaultRole), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(rotation.DefaultRole), PolicyName: aws.String("rotate"),
		PolicyDocument: aws.String(rotatePolicy)}); err != nil {
		t.Fatal(err)
	}
}

// lambdaARN is the RotationLambdaARN that names the rotator function.
func lambdaARN(function string) string {
	return "arn:aws:lambda:us-east-1:111122223333:function:" + function
}

// rotateSecret calls RotateSecret with token for function; rules may be nil; immediately false
// only configures (and tests) the rotation.
func (c *cofferServer) rotateSecret(t *testing.T, arn, token, function string, rules *smtypes.RotationRulesType, immediately bool) {
	t.Helper()
	_, err := c.sm.RotateSecret(context.Background(), &secretsmanager.RotateSecretInput{SecretId: aws.String(arn), ClientRequestToken: aws.String(token),
		RotationLambdaARN: aws.String(lambdaARN(function)), RotationRules: rules, RotateImmediately: aws.Bool(immediately)})
	if err != nil {
		t.Fatalf("RotateSecret %s: %v", function, err)
	}
}

// status returns the secret's rotation attempts, newest first.
func (c *cofferServer) status(t *testing.T, arn string) []rotation.Attempt {
	t.Helper()
	a, err := c.engine.Status(context.Background(), arn)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// describe returns DescribeSecret's answer.
func (c *cofferServer) describe(t *testing.T, arn string) *secretsmanager.DescribeSecretOutput {
	t.Helper()
	d, err := c.sm.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// runDue calls e.RunDue and returns how many rotations it started.
func runDue(t *testing.T, e *rotation.Engine) int {
	t.Helper()
	n, err := e.RunDue(context.Background())
	if err != nil {
		t.Fatalf("RunDue: %v", err)
	}
	return n
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
