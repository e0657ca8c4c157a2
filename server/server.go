// Package server is coffer's HTTP front end. It owns the path of a request: read the body,
// authenticate the SigV4 signature, pick the namespace from the signature's scope, dispatch
// the X-Amz-Target operation to the core, and encode the answer in the AWS JSON 1.1 shape. It
// also answers /healthz and /readyz without authentication, revealing nothing.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/audit"
	"github.com/coffer-project/coffer/awsapi"
	"github.com/coffer-project/coffer/awsquery"
	"github.com/coffer-project/coffer/core"
	"github.com/coffer-project/coffer/iam"
	"github.com/coffer-project/coffer/rotation"
	"github.com/coffer-project/coffer/sigv4"
)

// Config configures a Handler.
type Config struct {
	Regions []string                        // the regions this deployment serves; the first is the default
	Secrets *core.Service                   // the Secrets Manager operations
	Creds   *Credentials                    // access keys, for SigV4 and for the signer's account
	Logger  *slog.Logger                    // request failures are logged with their request id
	Now     func() time.Time                // the clock; time.Now when nil
	Ready   func(ctx context.Context) error // readiness probe of the store; nil means always ready
	// SharedStore says that other servers write to the same store (PostgreSQL): then every
	// request first reads the store's access-control generation, so that a policy change, a
	// deactivated key or a changed key policy made through another server takes effect on the
	// next request here too.
	SharedStore bool
	// TrustedProxies are the proxies whose X-Forwarded-For header sets aws:SourceIp; from
	// any other address the header is ignored.
	TrustedProxies []*net.IPNet
	// PolicyNow is the clock of aws:CurrentTime and aws:EpochTime in policy conditions; Now
	// when nil (tests inject one apart from the clock that checks signature dates).
	PolicyNow func() time.Time
	// IAM serves the IAM API; nil builds one over the credentials' store and keyring.
	IAM *iam.Service
	// Seal seals the server (coffer.Seal; Gate.Seal); nil means it cannot be sealed.
	Seal func(ctx context.Context) error
	// Audit is the audit trail every call is recorded in before it is answered; without
	// one, every API call is refused (ServiceUnavailableException).
	Audit *audit.Log
	// AuditSyncReads makes a call that changed nothing (a read, a refusal, a failure) wait
	// for its record's fsync too. By default such a call waits only until its record is
	// written (audit.Log.AppendWritten); a call that changed something always waits for the
	// fsync.
	AuditSyncReads bool
	// AuditIntents is the store, when it keeps audit intents (coffer.AuditIntentStore: the
	// SQLite store): then a call that changes a secret commits its audit events with its
	// writes and answers once its record is written to the trail, without waiting for the
	// trail's fsync; RunAuditIntents must run, and RecoverAuditIntents must have run at start.
	AuditIntents coffer.AuditIntentStore
	// AuditSource is where coffer.LookupEvents reads the trail (the file sink's directory,
	// or the PostgreSQL table); nil means the trail cannot be queried through the API.
	AuditSource audit.Source
	// Writer is the store, when its writes go through one writer that counts its work
	// (coffer.WriterStatsSource: the SQLite store): /metrics then reports it.
	Writer coffer.WriterStatsSource
}

// Handler serves the AWS APIs.
type Handler struct {
	cfg      Config
	verifier *sigv4.Verifier
	log      *slog.Logger
	now      func() time.Time
	kms      map[string]func(context.Context, coffer.Namespace, []byte) (any, error)
	authz    *authorizer
	genMu    sync.Mutex
	gen      string // the access-control generation last seen (SharedStore)
	// policyNow is the clock of aws:CurrentTime in policy conditions.
	policyNow func() time.Time
	// refusedNoLog counts calls refused for want of an audit log.
	refusedNoLog atomic.Uint64
	// rotations is the rotation engine, for coffer.GetRotationStatus and ResetRotation.
	rotations *rotation.Engine
	// watches counts the WatchSecrets calls waiting; watchStop ends them (EndWatches).
	watches atomic.Int64
	// maxWatches is the watches held at once (maxWatches; tests lower it).
	maxWatches int64
	watchStop  chan struct{}
	watchOnce  sync.Once
	// changed is closed, and replaced, when a call of this server changed something: the
	// watches under way read their secrets again at once (signalChange).
	changedMu sync.Mutex
	changed   chan struct{}
	// intents are the audit intents whose records are written, for RunAuditIntents.
	intents intentReaper
}

// SetRotations gives the handler the rotation engine (made after the handler, since
// rotators call the API through it) and makes it the core's.
func (h *Handler) SetRotations(e *rotation.Engine) {
	h.rotations = e
	if h.cfg.Secrets != nil {
		h.cfg.Secrets.SetRotations(e)
	}
}

// New returns a Handler.
func New(cfg Config) *Handler {
	h := &Handler{cfg: cfg, log: cfg.Logger, now: cfg.Now, watchStop: make(chan struct{}), maxWatches: maxWatches}
	h.intents.wake = make(chan struct{}, 1)
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	src := sessionSource{creds: cfg.Creds, now: func() time.Time { return h.policyNow() }}
	h.verifier = sigv4.NewVerifier(src, h.now).CheckScope(func(region, service string) error {
		id := &sigv4.Identity{Region: region, Service: service}
		switch service {
		case "iam", "sts": // global to an account: any region
			return sigv4.ScopeError(id, service, true)
		case "kms":
			return sigv4.ScopeError(id, "kms", slices.Contains(cfg.Regions, region))
		}
		return sigv4.ScopeError(id, "secretsmanager", slices.Contains(cfg.Regions, region))
	})
	if cfg.Secrets != nil {
		h.kms = kmsOps(cfg.Secrets.KMS())
	}
	h.policyNow = cfg.PolicyNow
	if h.policyNow == nil {
		h.policyNow = h.now
	}
	if cfg.Creds != nil {
		h.authz = newAuthorizer(cfg.Creds.store, h.policyNow)
	}
	if h.cfg.IAM == nil && cfg.Creds != nil {
		h.cfg.IAM = iam.New(cfg.Creds.store, cfg.Creds.keys, iam.Options{Logger: h.log, OnKeyChange: func(id string) {
			cfg.Creds.Forget(id)
			h.verifier.Forget(id)
		}, OnChange: h.authz.invalidate})
	}
	if cfg.Secrets != nil {
		cfg.Secrets.SetAuthorizer(h)
		cfg.Secrets.KMS().SetAuthorizer(h.authorizeKeyUse)
		cfg.Secrets.KMS().SetOnUse(h.onKeyUse)
		cfg.Secrets.SetOnServiceEvent(h.RecordServiceEvent)
		cfg.Secrets.KMS().SetOnServiceEvent(h.RecordServiceEvent)
	}
	return h
}

// requestID returns a random UUID-shaped request id, as AWS's x-amzn-RequestId.
func requestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz":
		h.health(w, r, nil)
		return
	case "/readyz":
		h.health(w, r, h.ready)
		return
	case "/metrics":
		h.metrics(w, r)
		return
	}
	id := requestID()
	w.Header().Set("x-amzn-RequestId", id)
	// Query-protocol requests are IAM's and STS's (or unsigned, whose service is unknown);
	// a form body signed for a JSON service gets that service's answer.
	svc := sigv4.ScopeService(r)
	query := awsquery.IsQuery(r) && (svc == "iam" || svc == "sts" || svc == "")
	lower := strings.HasPrefix(r.Header.Get("X-Amz-Target"), KMSPrefix+".")
	if err := h.auditReady(); err != nil {
		h.writeError(w, err, query, lower, svc, id)
		return
	}
	rec := h.beginAudit(r, id)
	ctx, cache := coffer.WithCacheUse(r.Context())
	rec.cache = cache
	ctx = withAudit(coffer.WithRequestID(ctx, id), rec)
	intent := h.auditIntent(r, rec)
	if intent != nil {
		ctx = coffer.WithAuditIntent(ctx, intent)
	}
	start := h.now()
	ctx = withWatchDeadline(ctx, w, r)
	bw := newBufferedWriter(w)
	defer bw.release()
	op, lower, err := h.dispatch(ctx, bw, r, id, query, lower)
	if err != nil {
		e := coffer.AsError(err)
		if e.Code == coffer.ErrInternalServiceError {
			h.log.Error("request failed", "request_id", id, "operation", op, "err", e.Err)
		} else {
			h.log.Debug("request refused", "request_id", id, "operation", op, "code", e.Code)
		}
		bw.discard()
		h.writeError(bw, e, query, lower, svc, id)
	}
	// The answer leaves only once its record is written, and, when the call changed
	// something, durable: fsynced, or committed with the call's writes as its audit intent.
	changed := err == nil && !audit.ReadOnly(eventSource(rec.service), rec.op)
	var intents []int64
	if intent != nil {
		intents = intent.IDs()
	}
	record := h.cfg.Audit.Append
	if !h.cfg.AuditSyncReads && (!changed || len(intents) == 1) {
		record = h.cfg.Audit.AppendWritten
	}
	if aerr := record(ctx, h.events(rec, err)...); aerr != nil {
		h.log.Error("the audit record of a call could not be written; the call's answer is withheld", "request_id", id, "operation", op, "err", aerr)
		bw.discard()
		h.writeError(w, errAuditUnavailable(), query, lower, svc, id)
		return
	}
	if len(intents) > 0 {
		h.intentsWritten(intents)
	}
	bw.flush()
	if changed {
		h.signalChange()
	}
	if err == nil && h.log.Enabled(ctx, slog.LevelDebug) { // the arguments cost allocations
		h.log.Debug("request served", "request_id", id, "operation", op, "duration", h.now().Sub(start))
	}
}

// auditReady says whether a call can be recorded now; when it cannot, the call is refused.
func (h *Handler) auditReady() error {
	if h.cfg.Audit == nil {
		h.refusedNoLog.Add(1)
		return errAuditUnavailable()
	}
	if err := h.cfg.Audit.Ready(); err != nil {
		h.cfg.Audit.Refuse()
		return errAuditUnavailable()
	}
	return nil
}

// ready is the readiness probe: the store and the audit trail.
func (h *Handler) ready(ctx context.Context) error {
	if h.cfg.Audit == nil {
		return errors.New("no audit log")
	}
	if err := h.cfg.Audit.Ready(); err != nil {
		return err
	}
	if h.cfg.Ready != nil {
		return h.cfg.Ready(ctx)
	}
	return nil
}

// writeError writes an error in the protocol of the request.
func (h *Handler) writeError(w http.ResponseWriter, err error, query, lower bool, svc, id string) {
	e := coffer.AsError(err)
	if query {
		awsquery.WriteError(w, e, queryNamespace(svc), id)
	} else {
		awsapi.WriteErrorMember(w, e, lower)
	}
}

// panicked logs a panic's stack, which shows code locations and raw words only, but never
// its value, which might hold request data; the client gets an InternalServiceError with
// nothing but the request id.
func (h *Handler) panicked(id string, p any) error {
	if p == http.ErrAbortHandler {
		panic(p)
	}
	h.log.Error("panic while serving a request", "request_id", id, "panic_type", fmt.Sprintf("%T", p), "stack", string(debug.Stack()))
	return coffer.Internal(nil)
}

// dispatch serves one call into w (a buffer); a panic becomes an InternalServiceError, whose
// log line has the stack but never the panic's value, which might hold request data.
func (h *Handler) dispatch(ctx context.Context, w http.ResponseWriter, r *http.Request, id string, query, lower bool) (op string, lowerOut bool, err error) {
	lowerOut = lower
	defer func() {
		if p := recover(); p != nil {
			err = h.panicked(id, p)
		}
	}()
	if query {
		op, err = h.serveQueryRequest(ctx, w, r, id)
		return op, lowerOut, err
	}
	return h.serve(ctx, w, r)
}

// serveQueryRequest authenticates a query-protocol (IAM, STS) request and serves it. On a
// shared store, as serve does, the access-control generation is read in the call's first
// transaction (coffer.AuthzCheck), and the call runs again, its first answer discarded, when
// it had changed.
func (h *Handler) serveQueryRequest(ctx context.Context, w http.ResponseWriter, r *http.Request, id string) (string, error) {
	body, err := awsapi.ReadBody(r)
	if err != nil {
		return "", err
	}
	check := h.authzCheck()
	callCtx := ctx
	if check != nil {
		callCtx = coffer.WithAuthzCheck(ctx, check)
	} else if _, err := h.syncGeneration(ctx); err != nil {
		return "", err
	}
	op, err := h.queryCall(callCtx, w, r, body, id)
	if check == nil {
		return op, err
	}
	rerun, serr := h.settle(ctx, check)
	if serr != nil || rerun {
		if bw, ok := w.(*bufferedWriter); ok {
			bw.discard() // the first answer (it may hold a secret access key)
		}
	}
	if serr != nil {
		return op, serr
	}
	if rerun {
		auditFrom(ctx).rerun()
		op, err = h.queryCall(ctx, w, r, body, id)
	}
	h.syncAfterWrite(ctx, check, err, op)
	return op, err
}

// syncAfterWrite reads the access-control generation after a call under check that may have
// changed it (an IAM or KMS write) succeeded, so that the server's next call does not find
// the server's own change stale and run again. When the store still holds the generation the
// call wrote under the check, passed (coffer.AuthzCheck.Written), no other server changed
// anything since, and the caches stay: the write emptied them of what it changed, as it does
// on a store of its own.
func (h *Handler) syncAfterWrite(ctx context.Context, check *coffer.AuthzCheck, err error, op string) {
	rec := auditFrom(ctx)
	if err != nil || (rec.service != "iam" && rec.service != "kms") || audit.ReadOnly(eventSource(rec.service), op) {
		return
	}
	own := ""
	if done, _, fresh := check.Outcome(); done && fresh {
		own = check.Written()
	}
	if _, err := h.syncGenerationOwn(ctx, own); err != nil {
		h.log.Debug("reading the access-control generation after a write failed; the next call reads it", "err", err)
	}
}

// queryCall authenticates and serves one query-protocol call, writing its answer to w.
func (h *Handler) queryCall(ctx context.Context, w http.ResponseWriter, r *http.Request, body []byte, id string) (string, error) {
	rec := auditFrom(ctx)
	// The action decides which members the model marks sensitive: it is read first.
	action, _ := queryAction(body)
	rec.setRequest(sigv4.ScopeService(r), action, body, true)
	ident, err := h.verifier.Verify(ctx, r, body)
	if err != nil {
		return rec.op, err
	}
	rec.service, rec.region = ident.Service, ident.Region
	return h.serveQuery(ctx, w, r, ident, body, id)
}

// targetService names the service of an X-Amz-Target prefix, as IAM actions do.
func targetService(prefix string) string {
	switch prefix {
	case KMSPrefix:
		return "kms"
	case ExtensionPrefix:
		return "coffer"
	}
	return "secretsmanager"
}

// queryAction returns the Action of a query-protocol body.
func queryAction(body []byte) (string, bool) {
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("Action") == "" {
		return "", false
	}
	a := form.Get("Action")
	if len(a) > 128 {
		a = a[:128]
	}
	return strings.ToValidUTF8(a, "?"), true
}

// serve runs one API call and writes its success response; it returns the operation name,
// whether the service's error bodies say "message" (KMS) rather than "Message", and any
// error, which the caller writes.
func (h *Handler) serve(ctx context.Context, w http.ResponseWriter, r *http.Request) (string, bool, error) {
	body, err := awsapi.ReadBody(r)
	if err != nil {
		return "", false, err
	}
	// On a store shared with other servers, the access-control generation is read in the
	// call's first transaction, beside its first statement (coffer.AuthzCheck), rather than
	// in a round trip of its own before the call; the call runs again, after the caches are
	// emptied, when it had changed. A store that cannot do that has it read first.
	check := h.authzCheck()
	callCtx := ctx
	if check != nil {
		callCtx = coffer.WithAuthzCheck(ctx, check)
	} else if _, err := h.syncGeneration(ctx); err != nil {
		return "", false, err
	}
	op, isKMS, out, err := h.call(callCtx, r, body)
	if check != nil {
		rerun, serr := h.settle(ctx, check)
		if serr != nil {
			wipeOut(out)
			return op, isKMS, serr
		}
		if rerun {
			wipeOut(out)
			auditFrom(ctx).rerun()
			op, isKMS, out, err = h.call(ctx, r, body)
		}
		h.syncAfterWrite(ctx, check, err, op)
	}
	if err != nil {
		return op, isKMS, err
	}
	rec := auditFrom(ctx)
	switch o := out.(type) {
	case wiping:
		rec.setOutput(o.out)
	default:
		rec.setOutput(out)
	}
	switch o := out.(type) {
	case wiping:
		awsapi.WriteJSON(w, o.out)
		for _, v := range o.vals {
			v.Wipe()
		}
	case interface{ Wipe() }:
		awsapi.WriteJSON(w, o)
		o.Wipe()
	default:
		awsapi.WriteJSON(w, out)
	}
	return op, isKMS, nil
}

// authzCheck returns a check of the access-control generation for a call to carry to the
// store, or nil when the store is not shared or cannot run it.
func (h *Handler) authzCheck() *coffer.AuthzCheck {
	if !h.cfg.SharedStore || h.cfg.Creds == nil {
		return nil
	}
	if _, ok := h.cfg.Creds.store.(coffer.AuthzChecker); !ok {
		return nil
	}
	h.genMu.Lock()
	defer h.genMu.Unlock()
	return &coffer.AuthzCheck{Want: h.gen}
}

// settle ends a call's access-control check: when no transaction ran it, the generation is
// read now. It reports whether the call must run again: the generation had changed (the
// caches are emptied by then, and the generation read).
func (h *Handler) settle(ctx context.Context, check *coffer.AuthzCheck) (rerun bool, err error) {
	done, _, fresh := check.Outcome()
	if done && fresh {
		return false, nil
	}
	changed, err := h.syncGeneration(ctx)
	if err != nil {
		return false, err
	}
	if !done { // no transaction read it: the call stands unless it changed meanwhile
		return changed, nil
	}
	return true, nil // a transaction found it changed (or could not read it)
}

// wipeOut wipes the values of an answer that is not sent.
func wipeOut(out any) {
	switch o := out.(type) {
	case wiping:
		for _, v := range o.vals {
			v.Wipe()
		}
	case interface{ Wipe() }:
		o.Wipe()
	}
}

// call authenticates, authorizes and runs one API call, and returns its answer, unwritten.
func (h *Handler) call(ctx context.Context, r *http.Request, body []byte) (op string, isKMS bool, out any, err error) {
	rec := auditFrom(ctx)
	target, terr := awsapi.ParseTarget(r)
	if terr == nil {
		rec.setRequest(targetService(target.Prefix), target.Operation, body, false)
	}
	ident, err := h.verifier.Verify(ctx, r, body)
	if err != nil {
		return target.Operation, target.Prefix == KMSPrefix, nil, err
	}
	if ident.Region != "" {
		rec.region = ident.Region
	}
	if terr != nil {
		return "", false, nil, terr
	}
	isKMS = target.Prefix == KMSPrefix
	// The signature's service must be the one the target belongs to.
	want := "secretsmanager"
	if isKMS {
		want = "kms"
	}
	if err := sigv4.ScopeError(ident, want, true); err != nil {
		return target.Operation, isKMS, nil, err
	}
	ctx, key, err := h.callerKey(ctx, ident)
	if err != nil {
		return target.Operation, isKMS, nil, err
	}
	rec.key, rec.sess = key, sessionFrom(ctx)
	ns := coffer.Namespace{Account: key.Account, Region: ident.Region}
	h.markUsed(ctx, key, ident)
	service := targetService(target.Prefix)
	c, err := h.newCall(ctx, r, key, ns, service+":"+target.Operation)
	if err != nil {
		return target.Operation, isKMS, nil, err
	}
	ctx = withCall(ctx, c)
	if isKMS {
		err = h.authorizeKMS(ctx, c, body)
	} else {
		err = h.authorizeSecretsManager(c, target.Operation, body)
	}
	if err != nil {
		return target.Operation, isKMS, nil, err
	}
	switch target.Prefix {
	case "secretsmanager":
		out, err = h.secretsManager(ctx, ns, target.Operation, body)
	case ExtensionPrefix:
		if target.Operation == SealOperation {
			out, err = h.sealServer(ctx, key, body)
			break
		}
		out, err = h.extension(ctx, ns, target.Operation, body)
	case KMSPrefix:
		out, err = h.kmsCall(ctx, ns, target.Operation, body)
	default:
		return target.Operation, false, nil, coffer.Errorf(coffer.ErrUnknownOperation, "Unknown operation: %s.%s", target.Prefix, target.Operation)
	}
	return target.Operation, isKMS, out, err
}

// health answers a probe with a fixed body that reveals nothing about the deployment.
func (h *Handler) health(w http.ResponseWriter, r *http.Request, check func(context.Context) error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if check != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := check(ctx); err != nil {
			h.log.Warn("readiness check failed", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready")
			return
		}
	}
	fmt.Fprintln(w, "ok")
}

// IAM returns the IAM service, for the background work the server's owner runs.
func (h *Handler) IAM() *iam.Service { return h.cfg.IAM }

// markUsed records a long-term access key's use (sessions' keys are not IAM's to record).
func (h *Handler) markUsed(ctx context.Context, key *coffer.AccessKey, ident *sigv4.Identity) {
	if h.cfg.IAM != nil && sessionFrom(ctx) == nil {
		h.cfg.IAM.MarkKeyUsed(key.ID, ident.Service, ident.Region)
	}
}

// MetaReader is a store that reads one meta value cheaper than a View does (PostgreSQL: one
// statement, no transaction); syncGeneration uses it when the store has it.
type MetaReader interface {
	ReadMeta(ctx context.Context, key string) ([]byte, error)
}

// syncGeneration empties the access-control caches when another server sharing the store
// has changed access control since the last request.
func (h *Handler) syncGeneration(ctx context.Context) (changed bool, err error) {
	return h.syncGenerationOwn(ctx, "")
}

// syncGenerationOwn is syncGeneration after the server's own write of generation own: when
// the store holds own, the server takes it as its generation and keeps its caches.
func (h *Handler) syncGenerationOwn(ctx context.Context, own string) (changed bool, err error) {
	if !h.cfg.SharedStore || h.cfg.Creds == nil {
		return false, nil
	}
	var b []byte
	if r, ok := h.cfg.Creds.store.(MetaReader); ok {
		b, err = r.ReadMeta(ctx, coffer.AuthzGenerationMeta)
	} else {
		err = h.cfg.Creds.store.View(ctx, func(tx coffer.Tx) error {
			b, err = tx.Meta(coffer.AuthzGenerationMeta)
			return err
		})
	}
	if err != nil && !coffer.IsNotFound(err) {
		return false, err
	}
	gen := string(b)
	h.genMu.Lock()
	changed = gen != h.gen && (own == "" || gen != own)
	h.gen = gen
	h.genMu.Unlock()
	if changed {
		h.cfg.Creds.ForgetAll()
		h.authz.invalidate()
		if h.cfg.Secrets != nil {
			h.cfg.Secrets.KMS().InvalidateCaches()
		}
	}
	return changed, nil
}
