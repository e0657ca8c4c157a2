package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsapi"
	"github.com/coffer-project/coffer/keyring"
	"github.com/coffer-project/coffer/seal"
)

// The seal endpoints, answered without authentication (the shares and the passphrase are the
// authentication, as in Vault): the status, and one unseal attempt per request.
const (
	SealStatusPath = "/coffer/seal-status" // GET: SealStatus
	UnsealPath     = "/coffer/unseal"      // POST {"Share": "…"} or {"Passphrase": "…"} or {"Reset": true}: SealStatus
)

// SealOperation is coffer's operation (X-Amz-Target coffer.Seal, IAM action coffer:Seal) that
// seals a running server.
const SealOperation = "Seal"

// SealStatus is the answer of the seal endpoints.
type SealStatus struct {
	Sealed    bool      `json:"sealed"`
	Type      seal.Type `json:"type"`
	Threshold int       `json:"threshold"`        // shares needed (shamir), 1 (passphrase), 0 (keyfile)
	Shares    int       `json:"shares,omitempty"` // shares made (shamir)
	Progress  int       `json:"progress"`         // shares given so far (shamir)
}

// UnsealRequest is the body of POST UnsealPath: exactly one member set.
type UnsealRequest struct {
	Share      string `json:"Share,omitempty"`
	Passphrase string `json:"Passphrase,omitempty"`
	Reset      bool   `json:"Reset,omitempty"` // forget the shares given so far
}

// Unsealed is a server's API once its root key is known.
type Unsealed struct {
	Handler http.Handler // the API: a *Handler
	// Close stops the background work and drops every key (keyring.Keyring.Close). The Gate
	// calls it once, when no request is using Handler any more.
	Close func()
}

// GateConfig configures a Gate.
type GateConfig struct {
	Seal *seal.Config // the store's seal (seal.KeyFileConfig() for a key file)
	// Open builds the API from the root key: keyring, services, credentials, background work.
	// The Gate wipes root after Open returns.
	Open   func(root *keyring.RootKey) (*Unsealed, error)
	Logger *slog.Logger
	Now    func() time.Time // the clock of the attempt limit; time.Now when nil
	// MaxWrongAttempts wrong shares combinations or passphrases are allowed in a row (5 when
	// 0); then one more per WrongAttemptPause (10 s when 0).
	MaxWrongAttempts  int
	WrongAttemptPause time.Duration
}

// Gate is the HTTP handler of a server whose root key may be sealed. While sealed it answers
// /healthz (200), /readyz (503 "sealed"), the seal endpoints, and every other request with an
// AWS-shaped 503 ServiceUnavailableException; once a threshold of shares or the passphrase
// reconstructs the root key it builds the API (GateConfig.Open) and hands every request but the
// seal endpoints to it. Seal drops the API and its keys again. The Handler never knows.
type Gate struct {
	cfg      GateConfig
	log      *slog.Logger
	now      func() time.Time
	unsealer *seal.Unsealer // shamir seals only

	mu       sync.Mutex    // serializes unsealing and sealing
	wrong    float64       // wrong attempts counted, draining over time (a leaky bucket); under mu
	wrongAt  time.Time     // when wrong was last brought up to date
	lastDone chan struct{} // closed when the last API sealed is torn down; under mu
	live     atomic.Pointer[liveAPI]
}

// liveAPI is the API of one unsealed period, with the requests it is serving.
type liveAPI struct {
	Unsealed
	inflight sync.RWMutex // read-held by each request served; write-held to close
	closed   bool         // under inflight
	done     chan struct{}
}

// NewGate returns a sealed Gate; Unseal (or the unseal endpoint) opens it.
func NewGate(cfg GateConfig) (*Gate, error) {
	if err := cfg.Seal.Validate(); err != nil {
		return nil, err
	}
	if cfg.Open == nil {
		return nil, errors.New("server: GateConfig.Open is nil")
	}
	g := &Gate{cfg: cfg, log: cfg.Logger, now: cfg.Now, lastDone: make(chan struct{})}
	close(g.lastDone)
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.cfg.MaxWrongAttempts <= 0 {
		g.cfg.MaxWrongAttempts = 5
	}
	if g.cfg.WrongAttemptPause <= 0 {
		g.cfg.WrongAttemptPause = 10 * time.Second
	}
	if cfg.Seal.Type == seal.TypeShamir {
		u, err := seal.NewUnsealer(cfg.Seal)
		if err != nil {
			return nil, err
		}
		g.unsealer = u
	}
	return g, nil
}

// Sealed reports whether the API is closed.
func (g *Gate) Sealed() bool { return g.live.Load() == nil }

// Status returns the seal status.
func (g *Gate) Status() SealStatus {
	st := SealStatus{Sealed: g.Sealed(), Type: g.cfg.Seal.Type}
	switch {
	case g.unsealer != nil:
		st.Threshold, st.Shares, st.Progress = g.unsealer.Threshold(), g.cfg.Seal.Shamir.Shares, g.unsealer.Progress()
	case g.cfg.Seal.Type == seal.TypePassphrase:
		st.Threshold = 1
	}
	return st
}

// Unseal opens the Gate with a root key obtained otherwise: a key file, or a passphrase file at
// start. It takes root and wipes it. Unsealing an open Gate changes nothing.
func (g *Gate) Unseal(root *keyring.RootKey) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.open(root)
}

// open builds the API from root and wipes root. g.mu is held.
func (g *Gate) open(root *keyring.RootKey) error {
	defer root.Wipe()
	if !g.Sealed() {
		return nil
	}
	<-g.lastDone // the API sealed last has stopped its background work
	u, err := g.cfg.Open(root)
	if err != nil {
		return err
	}
	g.live.Store(&liveAPI{Unsealed: *u, done: make(chan struct{})})
	if g.cfg.Seal.Type != seal.TypeKeyFile {
		g.log.Info("unsealed: serving the API", "seal", g.cfg.Seal.Type)
	}
	return nil
}

// Seal closes the API at once: requests that arrive from now on are answered as while
// sealed. In the background, once the requests in progress have ended, the API's Close stops
// its background work and drops every key. Seal does not wait for that (it is called from a
// request, coffer.Seal, which is one of them); Close does. A key file seal is refused, as
// there would be nothing to unseal it with.
func (g *Gate) Seal(context.Context) error {
	if g.cfg.Seal.Type == seal.TypeKeyFile {
		return coffer.Errorf(coffer.ErrInvalidRequest, "This server's root key is a plain key file (seal type keyfile), which cannot be sealed; seal the deployment first with coffer operator init.")
	}
	if !g.Sealed() {
		g.log.Info("sealing: the API is closed; unseal with coffer operator unseal")
	}
	g.seal()
	return nil
}

// Close seals the Gate, whatever its seal type, and waits until the API has stopped and
// dropped its keys, or ctx ends. A server calls it when shutting down, after the HTTP server.
func (g *Gate) Close(ctx context.Context) error {
	select {
	case <-g.seal():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// seal swaps the API out and tears it down in the background; the channel is closed when the
// API (this one, or the last one sealed before) is torn down.
func (g *Gate) seal() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	l := g.live.Swap(nil)
	if l == nil {
		return g.lastDone
	}
	g.lastDone = l.done
	endWatches(l.Handler)
	go func() {
		l.inflight.Lock() // waits for the requests in progress
		l.closed = true
		l.inflight.Unlock()
		if l.Close != nil {
			l.Close()
		}
		close(l.done)
	}()
	return l.done
}

// EndWatches makes the API's long polls (coffer.WatchSecrets) answer now and those that
// come later answer at once, so that a shutdown does not wait for them: pass it to
// http.Server.RegisterOnShutdown.
func (g *Gate) EndWatches() {
	if l := g.live.Load(); l != nil {
		endWatches(l.Handler)
	}
}

// endWatches ends the long polls of an API about to be torn down, which waits for them.
func endWatches(api http.Handler) {
	if w, ok := api.(interface{ EndWatches() }); ok {
		w.EndWatches()
	}
}

// ServeHTTP implements http.Handler.
func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case SealStatusPath:
		g.serveStatus(w, r)
		return
	case UnsealPath:
		g.serveUnseal(w, r)
		return
	}
	if l := g.live.Load(); l != nil {
		l.inflight.RLock()
		if !l.closed {
			defer l.inflight.RUnlock()
			l.Handler.ServeHTTP(w, r)
			return
		}
		l.inflight.RUnlock()
	}
	g.serveSealed(w, r)
}

// serveSealed answers a request while sealed: health, readiness, or an AWS-shaped 503.
func (g *Gate) serveSealed(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz", "/readyz":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if r.URL.Path == "/readyz" {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "sealed")
			return
		}
		fmt.Fprintln(w, "ok")
		return
	}
	w.Header().Set("x-amzn-RequestId", requestID())
	awsapi.WriteErrorMember(w, coffer.Errorf(coffer.ErrServiceUnavailable,
		"coffer is sealed: an operator must unseal it (coffer operator unseal) before it serves requests."), true)
}

func (g *Gate) serveStatus(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	writeStatus(w, g.Status())
}

func writeStatus(w http.ResponseWriter, st SealStatus) {
	w.Header().Set("Cache-Control", "no-store")
	awsapi.WriteJSON(w, st)
}

// maxUnsealBody bounds an unseal request; a share is under 100 bytes.
const maxUnsealBody = 16 << 10

// serveUnseal takes one share or the passphrase. It is refused on plain HTTP from another
// host: shares must not cross a network in clear.
func (g *Gate) serveUnseal(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-amzn-RequestId", requestID())
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.TLS == nil && !loopbackPeer(r.RemoteAddr) {
		g.log.Warn("unseal attempt refused: plain HTTP from another host", "remote", r.RemoteAddr)
		writeUnsealError(w, coffer.Errorf(coffer.ErrAccessDenied, "Unsealing is accepted only over TLS or from this host (loopback): shares and passphrases must not cross a network in clear."))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxUnsealBody+1))
	defer keyring.Wipe(body)
	if err != nil || len(body) > maxUnsealBody {
		writeUnsealError(w, coffer.Errorf(coffer.ErrSerialization, "The request body could not be read or is too large."))
		return
	}
	var in UnsealRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeUnsealError(w, coffer.Errorf(coffer.ErrSerialization, `The request body must be a JSON object with one of "Share", "Passphrase" or "Reset".`))
		return
	}
	st, err := g.unsealWith(&in, r.RemoteAddr)
	if err != nil {
		writeUnsealError(w, err)
		return
	}
	writeStatus(w, st)
}

func writeUnsealError(w http.ResponseWriter, err error) { awsapi.WriteErrorMember(w, err, true) }

// unsealWith runs one unseal attempt.
func (g *Gate) unsealWith(in *UnsealRequest, remote string) (SealStatus, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.Sealed() {
		return g.Status(), nil
	}
	if in.Reset {
		if g.unsealer != nil {
			g.unsealer.Reset()
		}
		g.log.Info("unseal progress reset", "remote", remote)
		return g.Status(), nil
	}
	if wait := g.wrongAttemptWait(); wait > 0 {
		return SealStatus{}, coffer.Errorf(coffer.ErrThrottling, "Too many wrong unseal attempts; try again in %d seconds.", int(wait.Seconds()+0.999))
	}
	var root *keyring.RootKey
	switch g.cfg.Seal.Type {
	case seal.TypeShamir:
		if in.Share == "" || in.Passphrase != "" {
			return SealStatus{}, coffer.Errorf(coffer.ErrInvalidParameter, "This server is sealed with Shamir shares: send one share as \"Share\".")
		}
		progress, r, err := g.unsealer.Add(in.Share)
		switch {
		case errors.Is(err, seal.ErrWrongShares):
			g.wrongAttempt()
			g.log.Warn("wrong unseal shares: they do not reconstruct the root key; the shares given were discarded", "remote", remote)
			return SealStatus{}, coffer.Errorf(coffer.ErrInvalidRequest, "The shares given do not reconstruct this server's root key (a share of another deployment or of an older split?). The shares given so far were discarded: start again.")
		case errors.Is(err, seal.ErrShareFormat), errors.Is(err, seal.ErrShareChecksum), errors.Is(err, seal.ErrDuplicateShare):
			return SealStatus{}, coffer.Errorf(coffer.ErrInvalidParameter, "%s", strings.TrimPrefix(err.Error(), "seal: "))
		case err != nil:
			return SealStatus{}, coffer.Errorf(coffer.ErrInvalidParameter, "That is not a share of this server's root key.")
		case r == nil:
			g.log.Info("unseal share accepted", "progress", progress, "threshold", g.unsealer.Threshold(), "remote", remote)
			return g.Status(), nil
		}
		root = r
	case seal.TypePassphrase:
		if in.Passphrase == "" || in.Share != "" {
			return SealStatus{}, coffer.Errorf(coffer.ErrInvalidParameter, "This server is sealed with a passphrase: send it as \"Passphrase\".")
		}
		p := []byte(in.Passphrase)
		r, err := seal.UnwrapPassphrase(g.cfg.Seal, p)
		keyring.Wipe(p)
		if errors.Is(err, seal.ErrWrongPassphrase) {
			g.wrongAttempt()
			g.log.Warn("wrong unseal passphrase", "remote", remote)
			return SealStatus{}, coffer.Errorf(coffer.ErrInvalidRequest, "Wrong passphrase.")
		}
		if err != nil {
			return SealStatus{}, coffer.Internal(err)
		}
		root = r
	default:
		return SealStatus{}, coffer.Errorf(coffer.ErrInvalidRequest, "This server's root key is a plain key file, read at start; there is nothing to unseal.")
	}
	if err := g.open(root); err != nil {
		g.log.Error("the root key was reconstructed, but the API could not be built; still sealed", "err", err)
		return SealStatus{}, &coffer.Error{Code: coffer.ErrInternalServiceError, Message: "The root key was reconstructed, but unsealing failed; the server log says why. The server is still sealed.", Err: err}
	}
	return g.Status(), nil
}

// wrongAttemptWait returns how long until the next attempt is allowed. g.mu is held.
func (g *Gate) wrongAttemptWait() time.Duration {
	g.leak()
	if over := g.wrong - float64(g.cfg.MaxWrongAttempts-1); over > 0 {
		return time.Duration(over * float64(g.cfg.WrongAttemptPause))
	}
	return 0
}

// wrongAttempt counts a wrong attempt. g.mu is held.
func (g *Gate) wrongAttempt() {
	g.leak()
	g.wrong++
}

// leak lets the wrong-attempt count drain by one per WrongAttemptPause. g.mu is held.
func (g *Gate) leak() {
	now := g.now()
	if !g.wrongAt.IsZero() && now.After(g.wrongAt) {
		g.wrong -= float64(now.Sub(g.wrongAt)) / float64(g.cfg.WrongAttemptPause)
		if g.wrong < 0 {
			g.wrong = 0
		}
	}
	g.wrongAt = now
}

// loopbackPeer reports whether a request's remote address is a loopback address.
func loopbackPeer(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

type sealOut struct {
	Sealed bool `json:"Sealed"`
}

// sealServer runs coffer.Seal. Until IAM policies are evaluated, only an account's root
// principal (the administrator key) may seal.
func (h *Handler) sealServer(ctx context.Context, key *coffer.AccessKey, body []byte) (any, error) {
	var in struct{}
	if err := awsapi.Decode(body, &in); err != nil {
		return nil, err
	}
	// Sealing stops the whole deployment: only the root of its default account may, not the
	// root of any other account it hosts, nor a session.
	def := ""
	if h.cfg.Secrets != nil {
		d, err := h.cfg.Secrets.DefaultAccount(ctx)
		if err != nil {
			return nil, err
		}
		def = d
	}
	if !strings.HasSuffix(key.PrincipalARN, ":root") || key.Account != def || sessionFrom(ctx) != nil {
		return nil, coffer.Errorf(coffer.ErrAccessDenied, "User: %s is not authorized to perform: coffer:Seal", key.PrincipalARN)
	}
	if h.cfg.Seal == nil {
		return nil, coffer.Errorf(coffer.ErrInvalidRequest, "This server cannot be sealed.")
	}
	if err := h.cfg.Seal(ctx); err != nil {
		return nil, err
	}
	h.log.Warn("sealed by an API call (coffer.Seal)", "access_key_id", key.ID)
	return &sealOut{Sealed: true}, nil
}
