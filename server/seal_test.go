package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/audit"
	"github.com/coffer-project/coffer/client"
	"github.com/coffer-project/coffer/core"
	"github.com/coffer-project/coffer/keyring"
	"github.com/coffer-project/coffer/seal"
	"github.com/coffer-project/coffer/server"
	"github.com/coffer-project/coffer/sqlite"
)

// fastArgon2 keeps passphrase tests quick; production uses seal.DefaultArgon2Params.
var fastArgon2 = seal.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}

// syncLog is a log destination that tests read while the server writes to it.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// sealedServer is a coffer server behind a Gate, on a real SQLite store, wired as
// cmd/coffer wires it: Open derives the keyring, bootstraps, builds the services and handler.
type sealedServer struct {
	*testServer
	gate   *server.Gate
	shares []string // shamir
	log    *syncLog
	clock  *clock // the gate's clock (wrong-attempt limit)

	mu     sync.Mutex
	opened []*keyring.Keyring // every keyring Open made, in order
	closed int                // how many APIs were torn down
}

type sealedOpts struct {
	cfg func(root *keyring.RootKey) (*seal.Config, []string) // the seal; shamir 5/3 when nil
}

func startSealed(t *testing.T, o sealedOpts) *sealedServer {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "coffer.db"), sqlite.WithCacheCheck())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	root, err := keyring.NewRootKey()
	if err != nil {
		t.Fatal(err)
	}
	if o.cfg == nil {
		o.cfg = func(root *keyring.RootKey) (*seal.Config, []string) {
			cfg, shares, err := seal.InitShamir(root, 5, 3)
			if err != nil {
				t.Fatal(err)
			}
			return cfg, shares
		}
	}
	cfg, shares := o.cfg(root)
	gen, err := core.NewAccessKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	s := &sealedServer{shares: shares, log: &syncLog{}, clock: &clock{t: time.Now()}}
	log := slog.New(slog.NewTextHandler(s.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	boot := core.BootstrapConfig{AccountID: "111122223333", AccessKeyID: gen.AccessKeyID, SecretAccessKey: gen.SecretAccessKey}
	_, auditKey, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	auditDir := t.TempDir()
	s.gate, err = server.NewGate(server.GateConfig{
		Seal: cfg, Logger: log, Now: s.clock.Now,
		Open: func(root *keyring.RootKey) (*server.Unsealed, error) {
			keys, err := keyring.New(root)
			if err != nil {
				return nil, err
			}
			if _, err := core.Bootstrap(ctx, store, keys, boot); err != nil {
				return nil, err
			}
			svc := core.New(store, keys, core.Options{Logger: log})
			trail, err := audit.OpenDir(auditDir, "test", auditKey)
			if err != nil {
				return nil, err
			}
			h := server.New(server.Config{Regions: []string{"us-east-1"}, Secrets: svc, Creds: server.NewCredentials(store, keys), Logger: log, Seal: s.gate.Seal,
				Audit: trail})
			s.mu.Lock()
			s.opened = append(s.opened, keys)
			s.mu.Unlock()
			return &server.Unsealed{Handler: h, Close: func() {
				trail.Close()
				keys.Close()
				s.mu.Lock()
				s.closed++
				s.mu.Unlock()
			}}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The root key exists only in the shares (or the wrapped key) from now on.
	root.Wipe()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s.gate, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		s.gate.Close(context.Background())
	})
	s.testServer = &testServer{
		URL: "http://" + ln.Addr().String(), Dir: dir, Store: store,
		Creds:   aws.Credentials{AccessKeyID: gen.AccessKeyID, SecretAccessKey: gen.SecretAccessKey},
		Account: "111122223333", Regions: []string{"us-east-1"},
	}
	return s
}

// unseal POSTs one unseal request and returns the status, or the error's code.
func (s *sealedServer) unseal(t *testing.T, req server.UnsealRequest) (server.SealStatus, string) {
	t.Helper()
	body, _ := json.Marshal(req)
	resp, err := http.Post(s.URL+server.UnsealPath, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var e map[string]string
		if err := json.Unmarshal(b, &e); err != nil || e["__type"] == "" || e["message"] == "" {
			t.Fatalf("unseal answered %d %q, not an AWS-shaped error", resp.StatusCode, b)
		}
		return server.SealStatus{}, e["__type"]
	}
	var st server.SealStatus
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st, ""
}

func (s *sealedServer) status(t *testing.T) server.SealStatus {
	t.Helper()
	resp, err := http.Get(s.URL + server.SealStatusPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st server.SealStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != 200 {
		t.Fatalf("seal status: %d %v", resp.StatusCode, err)
	}
	return st
}

// unsealWith gives shares in order and checks the progress each time.
func (s *sealedServer) unsealWith(t *testing.T, idx ...int) {
	t.Helper()
	for n, i := range idx {
		st, code := s.unseal(t, server.UnsealRequest{Share: s.shares[i]})
		if code != "" {
			t.Fatalf("share %d: %s", i, code)
		}
		if last := n == len(idx)-1; st.Sealed == last || !last && st.Progress != n+1 {
			t.Fatalf("after %d shares: %+v", n+1, st)
		}
	}
}

// wantSealed checks that an SDK call gets AWS's 503 ServiceUnavailableException.
func wantSealed(t *testing.T, err error) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != coffer.ErrServiceUnavailable || !strings.Contains(ae.ErrorMessage(), "coffer operator unseal") {
		t.Fatalf("got %v, want ServiceUnavailableException naming coffer operator unseal", err)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusServiceUnavailable {
		t.Fatalf("got %v, want HTTP 503", err)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestGateStartsSealed(t *testing.T) {
	s := startSealed(t, sealedOpts{})
	ctx := context.Background()
	_, err := s.client("us-east-1").GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/db")})
	wantSealed(t, err)
	_, err = s.kmsClient("us-east-1").ListKeys(ctx, nil)
	wantSealed(t, err)
	if code, body := get(t, s.URL+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz while sealed: %d %q", code, body)
	}
	if code, body := get(t, s.URL+"/readyz"); code != 503 || body != "sealed\n" {
		t.Errorf("/readyz while sealed: %d %q", code, body)
	}
	if st := s.status(t); st != (server.SealStatus{Sealed: true, Type: seal.TypeShamir, Threshold: 3, Shares: 5}) {
		t.Errorf("status %+v", st)
	}
	if len(s.opened) != 0 {
		t.Fatal("the API was built while sealed")
	}
}

func TestGateShamirUnsealAndSeal(t *testing.T) {
	s := startSealed(t, sealedOpts{})
	ctx := context.Background()
	c := s.client("us-east-1")

	// Shares of another deployment: refused once the threshold is reached; still sealed.
	otherRoot, _ := keyring.NewRootKey()
	_, other, err := seal.InitShamir(otherRoot, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	s.unseal(t, server.UnsealRequest{Share: s.shares[0]})
	s.unseal(t, server.UnsealRequest{Share: s.shares[1]})
	if _, code := s.unseal(t, server.UnsealRequest{Share: other[2]}); code != coffer.ErrInvalidRequest {
		t.Fatalf("wrong third share: %q, want InvalidRequestException", code)
	}
	if st := s.status(t); !st.Sealed || st.Progress != 0 {
		t.Fatalf("after wrong shares: %+v", st)
	}
	_, err = c.ListSecrets(ctx, nil)
	wantSealed(t, err)
	// Typos, duplicates, a passphrase for a shamir seal: refused, progress kept.
	s.unseal(t, server.UnsealRequest{Share: s.shares[3]})
	typo := s.shares[4][:30] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", s.shares[4][30])+1)%16]) + s.shares[4][31:]
	for name, req := range map[string]server.UnsealRequest{
		"typo":       {Share: typo},
		"duplicate":  {Share: s.shares[3]},
		"garbage":    {Share: "not a share"},
		"passphrase": {Passphrase: "x"},
		"nothing":    {},
	} {
		if _, code := s.unseal(t, req); code != coffer.ErrInvalidParameter {
			t.Errorf("%s: %q, want InvalidParameterException", name, code)
		}
	}
	if st := s.status(t); !st.Sealed || st.Progress != 1 {
		t.Fatalf("after refused shares: %+v", st)
	}
	// Reset forgets the share given; then three of five unseal.
	if st, code := s.unseal(t, server.UnsealRequest{Reset: true}); code != "" || st.Progress != 0 {
		t.Fatalf("reset: %+v %s", st, code)
	}
	s.unsealWith(t, 4, 0, 2)
	if code, _ := get(t, s.URL+"/readyz"); code != 200 {
		t.Errorf("/readyz once unsealed: %d", code)
	}
	must(c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("app/db"), SecretString: aws.String("before-seal")})).get(t)
	// Unsealing an unsealed server changes nothing.
	if st, code := s.unseal(t, server.UnsealRequest{Share: s.shares[1]}); code != "" || st.Sealed {
		t.Fatalf("unseal while unsealed: %+v %s", st, code)
	}

	// coffer.Seal, signed by the administrator.
	code, out := s.rawCall(t, "coffer.Seal", "application/x-amz-json-1.1", []byte("{}"), time.Now(), s.Creds, nil)
	if code != 200 || out["Sealed"] != true {
		t.Fatalf("coffer.Seal: %d %v", code, out)
	}
	_, err = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/db")})
	wantSealed(t, err)
	if err := s.gate.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	first, closed := s.opened[0], s.closed
	s.mu.Unlock()
	if closed != 1 {
		t.Fatalf("%d APIs torn down after sealing, want 1", closed)
	}
	if _, err := first.SealSecret("x", []byte("y")); !errors.Is(err, keyring.ErrClosed) {
		t.Fatalf("the sealed API's keyring still works: %v", err)
	}
	if st := s.status(t); !st.Sealed || st.Progress != 0 {
		t.Fatalf("status after coffer.Seal: %+v", st)
	}

	// Unseal again: what was written before is readable.
	s.unsealWith(t, 1, 3, 2)
	got := must(c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/db")})).get(t)
	if aws.ToString(got.SecretString) != "before-seal" {
		t.Fatalf("after unsealing again: %q", aws.ToString(got.SecretString))
	}
	if logs := s.log.String(); containsAny(logs, s.shares...) || containsAny(logs, other...) || strings.Contains(logs, "before-seal") {
		t.Fatalf("the log holds a share or a value:\n%s", logs)
	}
}

// TestGateSealEndsWatches: sealing does not wait out a coffer.WatchSecrets long poll: the
// watch answers at once, with nothing changed, and the seal completes.
func TestGateSealEndsWatches(t *testing.T) {
	s := startSealed(t, sealedOpts{})
	s.unsealWith(t, 0, 1, 2)
	ctx := context.Background()
	c := s.client("us-east-1")
	must(c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("app/db"), SecretString: aws.String("one")})).get(t)
	known := must(c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("app/db")})).get(t).VersionIdsToStages
	type result struct {
		out *client.WatchOutput
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		out, err := s.cofferClient(s.Creds).WatchSecrets(ctx, &client.WatchInput{
			Secrets: []client.Watched{{SecretID: "app/db", VersionIdsToStages: known}}, WaitSeconds: 60})
		done <- result{out, err}
	}()
	time.Sleep(500 * time.Millisecond) // the watch is waiting
	sealed := make(chan int, 1)
	go func() {
		code, _ := s.rawCall(t, "coffer.Seal", "application/x-amz-json-1.1", []byte("{}"), time.Now(), s.Creds, nil)
		sealed <- code
	}()
	select {
	case r := <-done:
		if r.err != nil || len(r.out.Changed) != 0 || len(r.out.Unavailable) != 0 {
			t.Fatalf("the watch at the seal: %+v, %v; want empty lists", r.out, r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the watch was still waiting 30 s after the seal began")
	}
	select {
	case code := <-sealed:
		if code != 200 {
			t.Fatalf("coffer.Seal: %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the seal did not complete")
	}
	if waited := time.Since(start); waited > 45*time.Second {
		t.Errorf("the seal took %v, about the watch's 60 s", waited)
	}
	_, err := c.ListSecrets(ctx, nil)
	wantSealed(t, err)
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestGatePassphrase(t *testing.T) {
	const pass = "correct horse battery staple"
	s := startSealed(t, sealedOpts{cfg: func(root *keyring.RootKey) (*seal.Config, []string) {
		cfg, err := seal.InitPassphrase(root, []byte(pass), fastArgon2)
		if err != nil {
			t.Fatal(err)
		}
		return cfg, nil
	}})
	if st := s.status(t); st != (server.SealStatus{Sealed: true, Type: seal.TypePassphrase, Threshold: 1}) {
		t.Fatalf("status %+v", st)
	}
	if _, code := s.unseal(t, server.UnsealRequest{Passphrase: "wrong horse battery staple"}); code != coffer.ErrInvalidRequest {
		t.Fatalf("wrong passphrase: %q", code)
	}
	if _, code := s.unseal(t, server.UnsealRequest{Share: seal.SharePrefix + "00"}); code != coffer.ErrInvalidParameter {
		t.Fatalf("a share for a passphrase seal: %q", code)
	}
	if !s.status(t).Sealed {
		t.Fatal("unsealed by a wrong passphrase")
	}
	if st, code := s.unseal(t, server.UnsealRequest{Passphrase: pass}); code != "" || st.Sealed {
		t.Fatalf("right passphrase: %+v %s", st, code)
	}
	must(s.client("us-east-1").ListSecrets(context.Background(), nil)).get(t)
	if strings.Contains(s.log.String(), "horse") {
		t.Fatalf("the log holds a passphrase:\n%s", s.log)
	}
}

func TestGateWrongAttemptLimit(t *testing.T) {
	s := startSealed(t, sealedOpts{cfg: func(root *keyring.RootKey) (*seal.Config, []string) {
		cfg, shares, err := seal.InitShamir(root, 3, 2)
		if err != nil {
			t.Fatal(err)
		}
		return cfg, shares
	}})
	r, _ := keyring.NewRootKey()
	_, other, err := seal.InitShamir(r, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		s.unseal(t, server.UnsealRequest{Share: s.shares[0]})
		if _, code := s.unseal(t, server.UnsealRequest{Share: other[1]}); code != coffer.ErrInvalidRequest {
			t.Fatalf("wrong attempt %d: %q", i+1, code)
		}
	}
	// The sixth attempt waits, even with the right shares.
	if _, code := s.unseal(t, server.UnsealRequest{Share: s.shares[0]}); code != coffer.ErrThrottling {
		t.Fatalf("attempt after five wrong ones: %q, want ThrottlingException", code)
	}
	s.clock.Advance(10 * time.Second)
	s.unsealWith(t, 0, 2)
}

// TestGateSealWaitsForRequests: sealing closes the API at once, lets a request in progress
// finish, and drops the keys only then.
func TestGateSealWaitsForRequests(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var closed bool
	var mu sync.Mutex
	root, _ := keyring.NewRootKey()
	cfg, shares, err := seal.InitShamir(root, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	gate, err := server.NewGate(server.GateConfig{Seal: cfg, Logger: slog.New(slog.DiscardHandler),
		Open: func(*keyring.RootKey) (*server.Unsealed, error) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/slow" {
					close(entered)
					<-release
				}
				io.WriteString(w, "api")
			})
			return &server.Unsealed{Handler: h, Close: func() { mu.Lock(); closed = true; mu.Unlock() }}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gate)
	defer srv.Close()
	for _, sh := range shares {
		body, _ := json.Marshal(server.UnsealRequest{Share: sh})
		resp, err := http.Post(srv.URL+server.UnsealPath, "application/json", bytes.NewReader(body))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("unseal: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	slow := make(chan string)
	go func() {
		_, body := get(t, srv.URL+"/slow")
		slow <- body
	}()
	<-entered
	if err := gate.Seal(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, srv.URL+"/other"); code != http.StatusServiceUnavailable {
		t.Fatalf("a request after Seal: %d, want 503", code)
	}
	// The slow request still holds the API: it cannot have been torn down.
	mu.Lock()
	early := closed
	mu.Unlock()
	if early {
		t.Fatal("the API was torn down under a request in progress")
	}
	close(release)
	if body := <-slow; body != "api" {
		t.Fatalf("the request in progress got %q", body)
	}
	if err := gate.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !closed {
		t.Fatal("the API was not torn down")
	}
}

func TestGateUnsealNeedsLoopbackOrTLS(t *testing.T) {
	root, _ := keyring.NewRootKey()
	cfg, shares, err := seal.InitShamir(root, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	gate, err := server.NewGate(server.GateConfig{Seal: cfg, Logger: slog.New(slog.DiscardHandler),
		Open: func(*keyring.RootKey) (*server.Unsealed, error) { return nil, errors.New("not reached") }})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(server.UnsealRequest{Share: shares[0]})
	for _, c := range []struct {
		remote string
		tls    bool
		want   int
	}{
		{"192.0.2.10:40000", false, http.StatusBadRequest},
		{"[2001:db8::1]:40000", false, http.StatusBadRequest},
		{"192.0.2.10:40000", true, http.StatusOK},
		{"127.0.0.1:40000", false, http.StatusOK},
		{"[::1]:40000", false, http.StatusOK},
	} {
		reset := httptest.NewRequest(http.MethodPost, server.UnsealPath, bytes.NewReader([]byte(`{"Reset":true}`)))
		reset.RemoteAddr = "127.0.0.1:40001"
		gate.ServeHTTP(httptest.NewRecorder(), reset)
		r := httptest.NewRequest(http.MethodPost, server.UnsealPath, bytes.NewReader(body))
		r.RemoteAddr = c.remote
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		}
		w := httptest.NewRecorder()
		gate.ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("%s (TLS %v): %d, want %d", c.remote, c.tls, w.Code, c.want)
		}
		if c.want != 200 && !strings.Contains(w.Body.String(), coffer.ErrAccessDenied) {
			t.Errorf("%s: %s", c.remote, w.Body)
		}
	}
}

// TestSealOperation: coffer.Seal is refused to a principal that is not an account root, and
// on a key file deployment, which has nothing to unseal with.
func TestSealOperation(t *testing.T) {
	s := startSealed(t, sealedOpts{cfg: func(*keyring.RootKey) (*seal.Config, []string) { return seal.KeyFileConfig(), nil }})
	// A key file deployment is unsealed with its key at start.
	root, _ := keyring.NewRootKey()
	if err := s.gate.Unseal(root); err != nil {
		t.Fatal(err)
	}
	keys := s.opened[0]
	if st := s.status(t); st.Sealed || st.Type != seal.TypeKeyFile {
		t.Fatalf("status %+v", st)
	}
	if _, code := s.unseal(t, server.UnsealRequest{Reset: true}); code != "" {
		t.Fatalf("unseal endpoint of an unsealed key file server: %s", code)
	}
	code, out := s.rawCall(t, "coffer.Seal", "application/x-amz-json-1.1", []byte("{}"), time.Now(), s.Creds, nil)
	if code != 400 || out["__type"] != coffer.ErrInvalidRequest {
		t.Fatalf("coffer.Seal of a key file server: %d %v", code, out)
	}
	// A user's key, not the account root.
	user := aws.Credentials{AccessKeyID: "AKIAUSERUSERUSERUSER", SecretAccessKey: "user-secret-access-key-0000"}
	sealed, err := keys.SealSecret(user.AccessKeyID, []byte(user.SecretAccessKey))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Store.Update(context.Background(), func(tx coffer.Tx) error {
		if err := tx.InsertEntity(&coffer.Entity{Account: s.Account, Kind: coffer.EntityUser, Name: "ops", Path: "/", ID: "AIDAOPSOPSOPSOPSOPSO", CreatedDate: time.Now().UTC()}); err != nil {
			return err
		}
		return tx.InsertAccessKey(&coffer.AccessKey{ID: user.AccessKeyID, Account: s.Account, PrincipalARN: "arn:aws:iam::" + s.Account + ":user/ops",
			Status: coffer.KeyActive, SealedSecret: sealed, CreatedDate: time.Now().UTC()})
	}); err != nil {
		t.Fatal(err)
	}
	code, out = s.rawCall(t, "coffer.Seal", "application/x-amz-json-1.1", []byte("{}"), time.Now(), user, nil)
	if code != 400 || out["__type"] != coffer.ErrAccessDenied || !strings.Contains(out["Message"].(string), "coffer:Seal") {
		t.Fatalf("coffer.Seal by a user: %d %v", code, out)
	}
	if s.gate.Sealed() {
		t.Fatal("sealed by a refused call")
	}
	must(s.client("us-east-1").ListSecrets(context.Background(), nil)).get(t)
}
