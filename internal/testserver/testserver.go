// Package testserver starts a real coffer server in process for tests: SQLite in a temporary
// directory, a fresh root key, a generated administrator key pair, an audit trail on disk,
// and the HTTP handler on a loopback port, reached over real sockets by aws-sdk-go-v2.
// In front of the handler sits a Faults, which counts requests by operation and can answer
// some of them with AWS's throttling or unavailability errors. Everything is removed when
// the test ends. Nothing here runs outside tests.
package testserver

import (
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/coffer-project/coffer/audit"
	"github.com/coffer-project/coffer/core"
	"github.com/coffer-project/coffer/keyring"
	"github.com/coffer-project/coffer/server"
	"github.com/coffer-project/coffer/sqlite"
)

// Region is the one region a test server serves.
const Region = "us-east-1"

// Server is a running coffer server.
type Server struct {
	// URL is the endpoint, http://127.0.0.1:port, which reaches Faults.
	URL string
	// Account is the administrator's account id.
	Account string
	// Creds are the administrator's access key.
	Creds aws.Credentials
	// Handler is coffer's own handler, behind Faults.
	Handler http.Handler
	// Faults counts the requests and injects errors in front of Handler.
	Faults *Faults
	// AuditDir is the directory of the server's audit trail (audit.DirSource reads it).
	AuditDir string

	srv *http.Server
}

// Keyring returns a keyring under a new root key.
func Keyring(t testing.TB) *keyring.Keyring {
	t.Helper()
	root, err := keyring.NewRootKey()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := keyring.New(root)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// Start starts a server that is stopped, and its files removed, when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	keys := Keyring(t)
	store, err := sqlite.Open(ctx, filepath.Join(dir, "coffer.db"), sqlite.WithCacheCheck())
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
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	_, auditKey, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	trail, err := audit.OpenDir(filepath.Join(dir, "audit"), "test", auditKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { trail.Close() })
	h := server.New(server.Config{
		Regions: []string{Region},
		Secrets: core.New(store, keys, core.Options{Logger: log}),
		Creds:   server.NewCredentials(store, keys),
		Logger:  log,
		Audit:   trail,
	})
	faults := NewFaults(h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: faults, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &Server{
		URL:      "http://" + ln.Addr().String(),
		Account:  boot.AccountID,
		Creds:    aws.Credentials{AccessKeyID: gen.AccessKeyID, SecretAccessKey: gen.SecretAccessKey},
		Handler:  h,
		AuditDir: filepath.Join(dir, "audit"),
		Faults:   faults,
		srv:      srv,
	}
}

// Client returns an aws-sdk-go-v2 Secrets Manager client with the administrator's key. It
// does not retry, so that every call is one request.
func (s *Server) Client() *secretsmanager.Client {
	cfg := aws.Config{
		Region:           Region,
		Credentials:      credentials.NewStaticCredentialsProvider(s.Creds.AccessKeyID, s.Creds.SecretAccessKey, ""),
		RetryMaxAttempts: 1,
	}
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

// Close stops the server at once: later connections are refused.
func (s *Server) Close() { s.srv.Close() }

// Clock is a clock that tests move by hand (the cache's and the agent's Now); safe for
// concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
