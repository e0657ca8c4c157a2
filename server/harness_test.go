package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/audit"
	"github.com/coffer-project/coffer/core"
	"github.com/coffer-project/coffer/internal/testserver"
	"github.com/coffer-project/coffer/keyring"
	"github.com/coffer-project/coffer/postgres"
	"github.com/coffer-project/coffer/rotation"
	"github.com/coffer-project/coffer/server"
	"github.com/coffer-project/coffer/sqlite"
	"github.com/coffer-project/coffer/storetest"
)

// clock is a test clock for the core (deletion windows); the HTTP layer keeps real time so
// that SigV4 dates stay valid.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testServer is a coffer server on a random loopback port, with its store open for inspection.
type testServer struct {
	URL     string
	Dir     string // the data directory: store files and the server log
	DSN     string // the PostgreSQL schema's DSN, when the store is PostgreSQL
	Store   coffer.Store
	Secrets *core.Service
	Clock   *clock
	Creds   aws.Credentials
	Account string
	Regions []string
	Keys    *keyring.Keyring
	handler http.Handler
	// AuditDir holds the audit trail's files; Audit is the log.
	AuditDir string
	Audit    *audit.Log
	// Rotations is the rotation engine (built-in rotators only).
	Rotations *rotation.Engine
}

type serverOpts struct {
	postgres       bool
	regions        []string
	trustedProxies []*net.IPNet
	auditMaxBytes  int64 // the audit files' rotation size; the default when 0
	auditDigests   int   // a digest every this many records; the default when 0
	syncReads      bool  // Config.AuditSyncReads
	// auditSink wraps the trail's file sink (tests that hold its fsyncs back); nil: as is.
	auditSink func(*audit.FileSink) audit.Sink
}

func startServer(t *testing.T, o serverOpts) *testServer { return startServerTB(t, o) }

func startServerTB(t testing.TB, o serverOpts) *testServer {
	t.Helper()
	ctx := context.Background()
	if o.regions == nil {
		o.regions = []string{"us-east-1"}
	}
	dir := t.TempDir()
	keys := testserver.Keyring(t)
	var (
		store coffer.Store
		dsn   string
		err   error
	)
	if o.postgres {
		dsn = storetest.PostgresDSN(t)
		store, err = postgres.Open(ctx, dsn)
	} else {
		var opts []sqlite.Option
		if _, bench := t.(*testing.B); !bench {
			// Tests check every read the write cache serves; benchmarks measure it.
			opts = append(opts, sqlite.WithCacheCheck())
		}
		store, err = sqlite.Open(ctx, filepath.Join(dir, "coffer.db"), opts...)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	gen, err := core.NewAccessKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	boot, err := core.Bootstrap(ctx, store, keys, core.BootstrapConfig{AccountID: "111122223333", AccessKeyID: gen.AccessKeyID, SecretAccessKey: gen.SecretAccessKey})
	if err != nil {
		t.Fatal(err)
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })
	log := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clk := &clock{t: time.Now().UTC()}
	svc := core.New(store, keys, core.Options{Now: clk.Now, Logger: log})
	auditDir := filepath.Join(dir, "audit")
	trail := openAuditWith(t, auditDir, o.auditMaxBytes, o.auditDigests, o.auditSink)
	// As coffer server does: on SQLite a change of a secret commits its audit intent.
	intents, _ := store.(coffer.AuditIntentStore)
	writer, _ := store.(coffer.WriterStatsSource)
	h := server.New(server.Config{Regions: o.regions, Secrets: svc, Creds: server.NewCredentials(store, keys), Logger: log, PolicyNow: clk.Now, TrustedProxies: o.trustedProxies, SharedStore: o.postgres,
		Audit: trail, AuditSource: audit.DirSource(auditDir), AuditSyncReads: o.syncReads, AuditIntents: intents, Writer: writer})
	if intents != nil {
		if _, err := server.RecoverAuditIntents(ctx, intents, trail); err != nil {
			t.Fatal(err)
		}
		reapCtx, stopReaping := context.WithCancel(ctx)
		reaped := make(chan struct{})
		go func() {
			h.RunAuditIntents(reapCtx)
			close(reaped)
		}()
		t.Cleanup(func() { stopReaping(); <-reaped }) // before the trail closes
	}
	engine := rotation.New(rotation.Options{Rotators: rotation.Defaults(), Store: store, Secrets: svc, Credentials: h.RotatorCredentials,
		Client: h.InProcessClient, Event: h.RecordServiceEvent, Now: clk.Now, Logger: log, Server: "test", Backoff: time.Hour})
	h.SetRotations(engine)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &testServer{
		URL: "http://" + ln.Addr().String(), Dir: dir, DSN: dsn, Store: store, Secrets: svc, Clock: clk,
		Creds:   aws.Credentials{AccessKeyID: gen.AccessKeyID, SecretAccessKey: gen.SecretAccessKey},
		Account: boot.AccountID, Regions: o.regions, Keys: keys, handler: h, AuditDir: auditDir, Audit: trail, Rotations: engine,
	}
}

// openAudit opens an audit log over files in dir, closed when the test ends.
func openAudit(t testing.TB, dir string, maxBytes int64, digestEvery int) *audit.Log {
	t.Helper()
	return openAuditWith(t, dir, maxBytes, digestEvery, nil)
}

// openAuditWith is openAudit with the file sink wrapped by wrap, when it is not nil.
func openAuditWith(t testing.TB, dir string, maxBytes int64, digestEvery int, wrap func(*audit.FileSink) audit.Sink) *audit.Log {
	t.Helper()
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := audit.OpenFileSink(audit.FileOptions{Dir: dir, MaxBytes: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	var sink audit.Sink = fs
	if wrap != nil {
		sink = wrap(fs)
	}
	l, err := audit.Open(audit.Options{Server: "test", Key: key, Sinks: []audit.Sink{sink}, DigestEvery: digestEvery, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// client returns an aws-sdk-go-v2 Secrets Manager client for region, with the server's
// administrator credentials, that does not retry (so each call is one request).
func (s *testServer) client(region string) *secretsmanager.Client {
	return s.clientWith(region, s.Creds)
}

func (s *testServer) clientWith(region string, c aws.Credentials) *secretsmanager.Client {
	cfg := aws.Config{
		Region:           region,
		Credentials:      credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, ""),
		RetryMaxAttempts: 1,
	}
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

// rawCall sends a hand-built, SigV4-signed JSON request, so a test can break it in ways an
// SDK would not: mutate is called after signing.
func (s *testServer) rawCall(t *testing.T, target, contentType string, body []byte, signAt time.Time, creds aws.Credentials, mutate func(*http.Request)) (int, map[string]any) {
	t.Helper()
	return s.rawCallAs(t, "secretsmanager", target, contentType, body, signAt, creds, mutate)
}

// rawCallService sends a JSON request signed for service with the server's credentials.
func (s *testServer) rawCallService(t *testing.T, service, target string, body []byte) (int, map[string]any) {
	t.Helper()
	return s.rawCallAs(t, service, target, "application/x-amz-json-1.1", body, time.Now(), s.Creds, nil)
}

func (s *testServer) rawCallAs(t *testing.T, service, target, contentType string, body []byte, signAt time.Time, creds aws.Credentials, mutate func(*http.Request)) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, s.Regions[0], signAt); err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("x-amzn-RequestId") == "" {
		t.Errorf("response without x-amzn-RequestId")
	}
	var m map[string]any
	if err := jsonUnmarshal(b, &m); err != nil {
		t.Fatalf("response body is not JSON: %q", b)
	}
	return resp.StatusCode, m
}

// wantErr checks that err is the AWS error code (and, when msg is not empty, exactly msg).
func wantErr(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("code %s (%s), want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
	if msg != "" && ae.ErrorMessage() != msg {
		t.Fatalf("message %q, want %q", ae.ErrorMessage(), msg)
	}
}

// result holds a call's value and error until a test checks it: must(c.Op(…)).get(t).
type result[T any] struct {
	v   T
	err error
}

func must[T any](v T, err error) result[T] { return result[T]{v, err} }

func (r result[T]) get(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}
