// Package agent is coffer's local HTTP agent: a server on the loopback interface that
// answers as the AWS Secrets Manager Agent (github.com/aws/aws-secretsmanager-agent) does,
// so that code written for that agent works unchanged against coffer, or against AWS.
//
// It serves three paths. GET /ping answers "healthy". GET /secretsmanager/get?secretId=…
// (with versionId, versionStage and refreshNow) and GET /v1/<secret-id> (the same
// parameters but secretId) answer a secret's GetSecretValue as JSON, from a cache.Cache in
// front of a Secrets Manager client. Every request but a ping must carry the agent's token
// in one of its token headers (X-Aws-Parameters-Secrets-Token or X-Vault-Token by default)
// and no X-Forwarded-For, which guards the secrets against server-side request forgery: a
// web application tricked into fetching a URL sends neither. Errors are answered with the
// status codes and bodies of the AWS agent; those of the service pass through as its JSON.
//
// The agent holds secret values in memory, and on disk only in its snapshot, encrypted
// (Config.SnapshotPath, snapshot.go); it never logs one. It reports the reads it answers
// from memory to coffer's audit trail (Config.Reporter, report.go).
package agent

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-project/coffer/cache"
)

// Defaults and bounds of Config, those of the AWS agent.
const (
	DefaultPort       = 2773
	DefaultTTL        = 300 * time.Second
	MaxTTL            = time.Hour
	DefaultCacheSize  = 1000
	MaxCacheSize      = 1000
	DefaultMaxConn    = 800
	MaxMaxConn        = 1000
	DefaultPathPrefix = "/v1/"
	// DefaultMaxStale is how long past its TTL a value is still served while the service
	// fails with transient errors. The AWS agent sets no bound; coffer's is a day.
	DefaultMaxStale = 24 * time.Hour
)

// DefaultTokenHeaders are the request headers that may carry the token, in the order they
// are read (the AWS agent's ssrf_headers).
var DefaultTokenHeaders = []string{"X-Aws-Parameters-Secrets-Token", "X-Vault-Token"}

// Config configures an Agent.
type Config struct {
	// Client reads the secrets (required): an aws-sdk-go-v2 Secrets Manager client for
	// coffer or AWS, preferably with RetryMaxAttempts 1, since the cache retries.
	Client cache.Client
	// Token is the secret every request but a ping must carry (required, not empty).
	Token string
	// TokenHeaders are the headers that may carry Token (DefaultTokenHeaders when empty).
	TokenHeaders []string
	// PathPrefix is where path-style requests start (DefaultPathPrefix when empty); it
	// must begin with "/".
	PathPrefix string
	// TTL is how long a value is served from memory, 0 to MaxTTL. 0 disables the cache:
	// every request reads the service. The zero Config therefore caches nothing; the
	// command's default is DefaultTTL.
	TTL time.Duration
	// TTLJitter makes each value due up to this much before the TTL, at random, so that the
	// agents of a fleet started together do not all call the service at once (see
	// cache.Options.RefreshJitter); 0: exactly at the TTL. coffer agent uses a tenth of the TTL.
	TTLJitter time.Duration
	// CacheSize bounds the values held, 1 to MaxCacheSize (DefaultCacheSize when 0).
	CacheSize int
	// MaxConn bounds the connections open at once, 1 to MaxMaxConn (DefaultMaxConn when
	// 0). A request on a connection beyond it is answered 429; pings get two more.
	MaxConn int
	// MaxStale is how long past its TTL a value is still served while refreshing it fails
	// with a transient error (DefaultMaxStale when 0; negative: never, the AWS agent's
	// ignore_transient_errors = false).
	MaxStale time.Duration
	// Logger receives the agent's log (none when nil). It never receives a value.
	Logger *slog.Logger
	// Now is the cache's clock (time.Now when nil), for tests.
	Now func() time.Time
	// Watcher, when set, tells the agent at once of a change to a secret it holds (coffer's
	// WatchSecrets, a *client.Client for the same endpoint and credentials as Client); the
	// TTL stays the fallback. Nil: the TTL alone, as against AWS.
	Watcher Watcher
	// Reporter, when set, receives every ReportInterval the reads the agent answered from
	// its cache, for the server's audit trail (coffer's ReportCachedReads, a
	// *client.Client). Nil: they are not reported, as against AWS.
	Reporter Reporter
	// ReportInterval is how often reads are reported (DefaultReportInterval when 0).
	ReportInterval time.Duration
	// SnapshotPath, when set, is the encrypted file the cache's values are kept in across
	// restarts: read at New (a file that does not decrypt is logged and ignored), written
	// after new values (at most every 5 s) and at the end of Serve.
	SnapshotPath string
	// SnapshotKey is the snapshot's AES-256 key, SnapshotKeySize bytes (required with
	// SnapshotPath). New copies it.
	SnapshotKey []byte
}

// Agent answers the AWS Secrets Manager Agent's requests. It is an http.Handler; Serve
// runs it on listeners, which also enforces MaxConn.
type Agent struct {
	cache    *cache.Cache
	token    []byte
	headers  []string
	prefix   string
	noCache  bool
	maxConn  int
	log      *slog.Logger
	open     atomic.Int64 // connections open, across Serve's listeners
	shutdown time.Duration
	watcher  Watcher
	// watchIdle is how often the watcher looks for secrets newly held.
	watchIdle time.Duration
	now       func() time.Time

	reporter    Reporter
	reportEvery time.Duration
	reads       reads

	snapshotPath  string
	snapshotKey   []byte
	snapshotMu    sync.Mutex    // one write at a time
	snapshotDirty chan struct{} // a new value is to be written
}

// New checks cfg and returns an Agent.
func New(cfg Config) (*Agent, error) {
	if cfg.Client == nil {
		return nil, errors.New("agent: no Secrets Manager client")
	}
	if cfg.Token == "" {
		return nil, errors.New("agent: no token: requests could not be told from forged ones")
	}
	if cfg.TTL < 0 || cfg.TTL > MaxTTL {
		return nil, fmt.Errorf("agent: the TTL must be between 0 and %d seconds, not %v", int(MaxTTL/time.Second), cfg.TTL)
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.CacheSize < 1 || cfg.CacheSize > MaxCacheSize {
		return nil, fmt.Errorf("agent: the cache size must be between 1 and %d, not %d", MaxCacheSize, cfg.CacheSize)
	}
	if cfg.MaxConn == 0 {
		cfg.MaxConn = DefaultMaxConn
	}
	if cfg.MaxConn < 1 || cfg.MaxConn > MaxMaxConn {
		return nil, fmt.Errorf("agent: the maximum number of connections must be between 1 and %d, not %d", MaxMaxConn, cfg.MaxConn)
	}
	if cfg.PathPrefix == "" {
		cfg.PathPrefix = DefaultPathPrefix
	}
	if !strings.HasPrefix(cfg.PathPrefix, "/") {
		return nil, fmt.Errorf("agent: the path prefix must begin with /, not %q", cfg.PathPrefix)
	}
	headers := cfg.TokenHeaders
	if len(headers) == 0 {
		headers = DefaultTokenHeaders
	}
	for _, h := range headers {
		if h == "" {
			return nil, errors.New("agent: an empty token header name")
		}
	}
	if cfg.MaxStale == 0 {
		cfg.MaxStale = DefaultMaxStale
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	refresh := cfg.TTL
	if refresh == 0 {
		refresh = time.Nanosecond // unused: every read is a Refresh
	}
	if cfg.ReportInterval < 0 {
		return nil, fmt.Errorf("agent: the report interval must not be negative, not %v", cfg.ReportInterval)
	}
	if cfg.ReportInterval == 0 {
		cfg.ReportInterval = DefaultReportInterval
	}
	if cfg.SnapshotPath != "" && len(cfg.SnapshotKey) != SnapshotKeySize {
		return nil, fmt.Errorf("agent: a snapshot needs a key of %d bytes", SnapshotKeySize)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	a := &Agent{
		token:     []byte(cfg.Token),
		headers:   append([]string(nil), headers...),
		prefix:    cfg.PathPrefix,
		noCache:   cfg.TTL == 0,
		maxConn:   cfg.MaxConn,
		log:       log,
		shutdown:  10 * time.Second,
		watcher:   cfg.Watcher,
		watchIdle: time.Second,
		now:       now,

		reporter:      cfg.Reporter,
		reportEvery:   cfg.ReportInterval,
		snapshotDirty: make(chan struct{}, 1),
	}
	opts := cache.Options{
		MaxSecrets:      cfg.CacheSize,
		RefreshInterval: refresh,
		RefreshJitter:   cfg.TTLJitter,
		MaxStale:        cfg.MaxStale,
		Now:             cfg.Now,
		OnHit:           a.onHit,
	}
	if cfg.SnapshotPath != "" && !a.noCache {
		a.snapshotPath = cfg.SnapshotPath
		a.snapshotKey = append([]byte(nil), cfg.SnapshotKey...)
		opts.OnStore = a.markSnapshotDirty
	}
	a.cache = cache.New(cfg.Client, opts)
	if a.snapshotPath != "" {
		a.loadSnapshot()
	}
	return a, nil
}

// Stats returns the counters of the agent's cache.
func (a *Agent) Stats() cache.Stats { return a.cache.Stats() }

// ServeHTTP answers one request. Checked in the AWS agent's order: the connection limit,
// then (but for a ping) X-Forwarded-For and the token, then the method, then the path.
func (a *Agent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	ping := path == "/ping"
	if n, ok := r.Context().Value(connCountKey{}).(int64); ok {
		limit := int64(a.maxConn)
		if ping {
			limit += 2 // room for health checks when the agent is busy
		}
		if n > limit {
			a.log.Warn("agent: connection limit exceeded", "open", n, "max_conn", a.maxConn)
			writeText(w, http.StatusTooManyRequests, "Connection limit exceeded")
			return
		}
	}
	if !ping {
		if _, forwarded := r.Header[http.CanonicalHeaderKey("X-Forwarded-For")]; forwarded {
			a.log.Warn("agent: rejected a request with X-Forwarded-For", "path", path)
			writeText(w, http.StatusBadRequest, "Forwarded")
			return
		}
		if !a.tokenOK(r.Header) {
			a.log.Warn("agent: rejected a request without the right token", "path", path)
			writeText(w, http.StatusForbidden, "Bad Token")
			return
		}
	}
	if r.Method != http.MethodGet {
		writeText(w, http.StatusMethodNotAllowed, "Not allowed")
		return
	}
	var q query
	var err *httpError
	switch {
	case ping:
		writeText(w, http.StatusOK, "healthy")
		return
	case path == "/secretsmanager/get":
		q, err = parseQuery(r.URL.RawQuery)
	case strings.HasPrefix(path, a.prefix):
		q, err = parsePathQuery(path[len(a.prefix):], r.URL.RawQuery)
	default:
		err = &httpError{http.StatusNotFound, "Not found", false}
	}
	if err != nil {
		err.write(w)
		return
	}
	a.get(w, r, q)
}

// tokenOK says whether one of the token headers holds the token. The AWS agent reads the
// first value of each header; so does this.
func (a *Agent) tokenOK(h http.Header) bool {
	ok := 0
	for _, name := range a.headers {
		vs := h.Values(name)
		if len(vs) > 0 {
			ok |= subtle.ConstantTimeCompare([]byte(vs[0]), a.token)
		}
	}
	return ok == 1
}

// get answers q from the cache, or the service's error. refreshNow (and a TTL of 0) reads
// the service at once, and answers its error if that fails; as in the AWS agent, the value
// held stays for the reads that follow, so that a failed refreshNow during an outage does
// not take away what they fall back on.
func (a *Agent) get(w http.ResponseWriter, r *http.Request, q query) {
	ctx := context.WithValue(r.Context(), clientIPKey{}, remoteHost(r.RemoteAddr))
	version := cache.Version{ID: q.versionID, Stage: q.versionStage}
	var v cache.Value
	var err error
	if q.refreshNow || a.noCache {
		v, err = a.cache.Refresh(ctx, q.secretID, version)
	} else {
		v, err = a.cache.Get(ctx, q.secretID, version)
	}
	if err != nil {
		he := serviceError(err)
		a.log.Info("agent: reading a secret failed", "secret", q.secretID, "status", he.status, "err", err)
		he.write(w)
		return
	}
	defer v.Wipe()
	body := appendValue(make([]byte, 0, 256+len(v.Bytes())*4/3), v)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	clear(body)
}

// connCountKey is the context key under which Serve puts, for each connection, how many
// connections were open (itself included) when it was accepted.
type connCountKey struct{}

// Serve answers requests on every listener in lns until ctx ends, then shuts down: it
// stops accepting, lets the requests under way finish (for up to 10 seconds) and closes the
// listeners. It returns nil after a shutdown, else the first listener's error.
func (a *Agent) Serve(ctx context.Context, lns ...net.Listener) error {
	if len(lns) == 0 {
		return errors.New("agent: no listener")
	}
	srv := &http.Server{
		Handler:           a,
		ReadHeaderTimeout: 10 * time.Second,
		// The AWS agent gives a connection 61 seconds in all; idle keep-alives go sooner.
		WriteTimeout:   61 * time.Second,
		IdleTimeout:    60 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if cc, ok := c.(*countedConn); ok {
				return context.WithValue(ctx, connCountKey{}, cc.n)
			}
			return ctx
		},
	}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go a.Watch(wctx)
	snapDone, snapStopped := make(chan struct{}), make(chan struct{})
	go func() { a.snapshots(snapDone); close(snapStopped) }()
	// Reporting ends after the shutdown, so that the last report counts every request.
	rctx, stopReport := context.WithCancel(context.WithoutCancel(ctx))
	reportStopped := make(chan struct{})
	defer func() { stopReport(); <-reportStopped }()
	go func() { a.report(rctx); close(reportStopped) }()
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errc <- srv.Serve(&countingListener{Listener: ln, open: &a.open}) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.shutdown)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		a.log.Warn("agent: shutdown", "err", serr)
		srv.Close()
	}
	close(snapDone)
	<-snapStopped
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// countingListener counts the connections it accepted that are still open.
type countingListener struct {
	net.Listener
	open *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countedConn{Conn: c, n: l.open.Add(1), open: l.open}, nil
}

// countedConn is a connection counted in open until it is closed.
type countedConn struct {
	net.Conn
	n    int64 // connections open when it was accepted, itself included
	open *atomic.Int64
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.open.Add(-1) })
	return c.Conn.Close()
}
