package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/audit"
	"github.com/coffer-project/coffer/kms"
	"github.com/coffer-project/coffer/policy"
)

// The audit trail: every call that reaches the API (past /healthz, /readyz and /metrics)
// leaves one record, allowed or denied, succeeded or failed, and its answer leaves the server
// only after that record is on stable storage (audit.Log.Append returns once every durable
// sink has fsynced it, sharing the fsync with the calls running at the same time). The
// answer is held in a buffer until then; when the record cannot be written, the client gets
// ServiceUnavailableException instead of the answer. A call arriving while the log cannot
// write is refused before anything is done.

type auditKey struct{}

// auditRec gathers, as a request goes, what its audit record says.
type auditRec struct {
	start      time.Time
	id         string
	sourceIP   string
	userAgent  string
	region     string
	service    string // "secretsmanager", "kms", "iam", "sts", "coffer"
	op         string
	claimedKey string // the access key id the request names, before it is verified
	key        *coffer.AccessKey
	sess       *session
	principal  *policy.PrincipalInfo
	params     map[string]any
	response   map[string]any
	cache      *coffer.CacheUse // whether the store answered a read from its cache

	mu        sync.Mutex
	resources []audit.Resource
	uses      []kms.KeyUse
	reported  []*audit.Event // reads an agent served from its cache (coffer.ReportCachedReads)
}

// rerun forgets what a call that runs again (after a stale access-control check) recorded
// while it ran: the resources, key uses and reports its second run records anew.
func (rec *auditRec) rerun() {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.resources, rec.uses, rec.reported = nil, nil, nil
	rec.principal, rec.key, rec.sess = nil, nil, nil
	rec.response = nil // a query-protocol call's first answer, discarded
}

func withAudit(ctx context.Context, rec *auditRec) context.Context {
	return context.WithValue(ctx, auditKey{}, rec)
}

func auditFrom(ctx context.Context) *auditRec {
	rec, _ := ctx.Value(auditKey{}).(*auditRec)
	return rec
}

// beginAudit starts the record of a request.
func (h *Handler) beginAudit(r *http.Request, id string) *auditRec {
	ua := r.UserAgent()
	if len(ua) > 1024 {
		ua = ua[:1024]
	}
	rec := &auditRec{start: h.now(), id: id, sourceIP: h.sourceIP(r), userAgent: strings.ToValidUTF8(ua, "?"), claimedKey: claimedKeyID(r)}
	if len(h.cfg.Regions) > 0 {
		rec.region = h.cfg.Regions[0]
	}
	return rec
}

// claimedKeyID returns the access key id a request's signature names (verified or not).
func claimedKeyID(r *http.Request) string {
	var cred string
	if r.URL.RawQuery != "" {
		cred = r.URL.Query().Get("X-Amz-Credential")
	}
	if a := r.Header.Get("Authorization"); a != "" {
		if i := strings.Index(a, "Credential="); i >= 0 {
			cred = a[i+len("Credential="):]
		}
	}
	id, _, _ := strings.Cut(cred, "/")
	if len(id) > 128 || !utf8.ValidString(id) {
		return ""
	}
	return id
}

// setRequest records the operation and its parameters, without what is secret.
func (rec *auditRec) setRequest(service, op string, body []byte, query bool) {
	rec.service, rec.op = service, op
	var params map[string]any
	if query {
		form, err := url.ParseQuery(string(body))
		if err == nil {
			params = make(map[string]any, len(form))
			for k, v := range form {
				if k == "Action" || k == "Version" || len(v) == 0 {
					continue
				}
				params[k] = v[0]
			}
		}
	} else if len(body) > 0 {
		params = audit.DecodeParams(body)
	}
	if params == nil {
		return
	}
	rec.params, _ = lowerKeys(audit.Redact(service, op, params, true), 0).(map[string]any)
}

// setOutput records the response elements of a call that changes something (CloudTrail
// records none for reads), without what is secret. It runs before the output is wiped.
func (rec *auditRec) setOutput(out any) {
	if out == nil || rec.op == "" || audit.ReadOnly(eventSource(rec.service), rec.op) {
		return
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return
	}
	m := audit.DecodeParams(raw)
	clear(raw)
	if m == nil {
		return
	}
	rec.response, _ = lowerKeys(audit.Redact(rec.service, rec.op, m, false), 0).(map[string]any)
	if arn, ok := rec.response["arn"].(string); ok && rec.service == "secretsmanager" {
		rec.addResource(arn)
	}
}

// addResource records a resource the call touched.
func (rec *auditRec) addResource(arn string) {
	if rec == nil || arn == "" || arn == "*" {
		return
	}
	typ := ""
	switch {
	case strings.HasPrefix(arn, "arn:aws:secretsmanager:"):
		typ = audit.ResourceSecret
	case strings.HasPrefix(arn, "arn:aws:kms:") && strings.Contains(arn, ":key/"):
		typ = audit.ResourceKey
	case strings.HasPrefix(arn, "arn:aws:kms:") && strings.Contains(arn, ":alias/"):
		typ = "AWS::KMS::Alias"
	case strings.HasPrefix(arn, "arn:aws:iam::"):
		kind := arn[strings.LastIndexByte(arn, ':')+1:]
		kind, _, _ = strings.Cut(kind, "/")
		if kind != "" {
			typ = "AWS::IAM::" + strings.ToUpper(kind[:1]) + kind[1:]
		}
	default:
		return
	}
	account := arnAccount(arn)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, r := range rec.resources {
		if r.ARN == arn {
			return
		}
	}
	rec.resources = append(rec.resources, audit.Resource{ARN: arn, AccountID: account, Type: typ})
}

// arnAccount returns the account field of an ARN.
func arnAccount(arn string) string {
	rest := arn
	for range 4 { // arn:partition:service:region:account:resource
		var ok bool
		if _, rest, ok = strings.Cut(rest, ":"); !ok {
			return ""
		}
	}
	account, _, ok := strings.Cut(rest, ":")
	if !ok {
		return ""
	}
	return account
}

// onKeyUse links a key use made for a secret call to that call's record.
func (h *Handler) onKeyUse(ctx context.Context, u kms.KeyUse) {
	rec := auditFrom(ctx)
	if rec == nil {
		return
	}
	rec.mu.Lock()
	rec.uses = append(rec.uses, u)
	rec.mu.Unlock()
}

// eventSource names a service as CloudTrail does.
func eventSource(service string) string {
	switch service {
	case "kms":
		return audit.SourceKMS
	case "iam":
		return audit.SourceIAM
	case "sts":
		return audit.SourceSTS
	case "coffer":
		return audit.SourceCoffer
	}
	return audit.SourceSecretsManager
}

// identity is the record's userIdentity.
func (rec *auditRec) identity() audit.UserIdentity {
	if rec.key == nil {
		// Not authenticated: what the request claimed, marked as such.
		return audit.UserIdentity{Type: "Unknown", AccessKeyID: rec.claimedKey}
	}
	k := rec.key
	u := audit.UserIdentity{ARN: k.PrincipalARN, AccountID: k.Account, AccessKeyID: k.ID}
	switch {
	case rec.sess != nil && rec.sess.roleSession():
		s := rec.sess
		u.Type = audit.IdentityAssumedRole
		u.PrincipalID = s.RoleID + ":" + s.SessionName
		u.SessionContext = &audit.SessionContext{
			SessionIssuer: audit.SessionIssuer{Type: "Role", PrincipalID: s.RoleID, ARN: s.RoleARN, AccountID: s.Account, UserName: s.RoleName},
			Attributes:    audit.SessionAttributes{CreationDate: audit.FormatTime(time.Unix(s.Issued, 0)), MFAAuthenticated: "false"},
		}
	case strings.HasSuffix(k.PrincipalARN, ":root"):
		u.Type = audit.IdentityRoot
		u.PrincipalID = k.Account
	default:
		u.Type = audit.IdentityIAMUser
		u.UserName = k.PrincipalARN[strings.LastIndexByte(k.PrincipalARN, '/')+1:]
		if rec.principal != nil {
			u.PrincipalID = rec.principal.UserID
		}
	}
	if rec.sess != nil && !rec.sess.roleSession() {
		u.SessionContext = &audit.SessionContext{Attributes: audit.SessionAttributes{
			CreationDate: audit.FormatTime(time.Unix(rec.sess.Issued, 0)), MFAAuthenticated: "false"}}
	}
	return u
}

// servedFromCache is the additionalEventData of a call the store's read cache answered;
// shared by every such record, and never changed.
var servedFromCache = map[string]any{"servedFromCache": true}

// events builds the call's record and one record per key use it caused (same requestID).
func (h *Handler) events(rec *auditRec, err error) []*audit.Event {
	src := eventSource(rec.service)
	op := rec.op
	if op == "" {
		op = "Unknown"
	}
	account := ""
	if rec.key != nil {
		account = rec.key.Account
	}
	ev := &audit.Event{
		EventVersion: audit.EventVersion, EventTime: audit.FormatTime(rec.start), EventSource: src,
		EventName: op, AWSRegion: rec.region, SourceIPAddress: rec.sourceIP, UserAgent: rec.userAgent,
		UserIdentity: rec.identity(), RequestParameters: rec.params, ResponseElements: rec.response,
		RequestID: rec.id, EventID: requestID(), ReadOnly: audit.ReadOnly(src, op), EventType: audit.TypeAPICall,
		RecipientAccountID: account, Category: audit.Category(src, op),
	}
	if err != nil {
		e := coffer.AsError(err)
		ev.ErrorCode, ev.ErrorMessage = e.Code, e.Message
		ev.ResponseElements = nil
	}
	if rec.cache.Hit() {
		// Authorized, decrypted and recorded as any call; the store's rows came from its
		// read cache.
		ev.AdditionalEventData = servedFromCache
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	ev.Resources = rec.resources
	out := []*audit.Event{ev}
	for _, u := range rec.uses {
		id := ev.UserIdentity
		id.InvokedBy = audit.SourceSecretsManager
		kev := &audit.Event{
			EventVersion: audit.EventVersion, EventTime: ev.EventTime, EventSource: audit.SourceKMS,
			EventName: u.Operation, AWSRegion: rec.region, SourceIPAddress: audit.SourceSecretsManager,
			UserAgent: audit.SourceSecretsManager, UserIdentity: id,
			RequestParameters: map[string]any{"keyId": u.KeyID, "encryptionContext": u.EncryptionContext},
			RequestID:         rec.id, EventID: requestID(), ReadOnly: true, EventType: audit.TypeAPICall,
			RecipientAccountID: account, Category: audit.Category(audit.SourceKMS, u.Operation),
			AdditionalEventData: map[string]any{"keyState": u.KeyState, "keyMaterialVersion": u.MaterialVersion},
		}
		if u.Operation == "GenerateDataKey" {
			kev.RequestParameters["keySpec"] = "AES_256"
		}
		if u.KeyARN != "" {
			kev.Resources = []audit.Resource{{ARN: u.KeyARN, AccountID: arnAccount(u.KeyARN), Type: audit.ResourceKey}}
		}
		if u.ErrorCode != "" {
			kev.ErrorCode = u.ErrorCode
		}
		out = append(out, kev)
	}
	if err == nil {
		out = append(out, rec.reported...)
	}
	return out
}

// RecordServiceEvent records a service's background work (purges, key deletions and
// rotations, rotation attempts and steps); the work is done, so a record that cannot be
// written is logged as an error (the log keeps it and writes it once the sink comes back,
// unless the log was already refusing records).
func (h *Handler) RecordServiceEvent(ctx context.Context, ev coffer.ServiceEvent) {
	if err := h.ServiceEvent(context.WithoutCancel(ctx), ev.Service, ev.Name, ev.Namespace, ev.ARN, ev.Details, nil); err != nil {
		h.log.Error("background work could not be recorded in the audit trail", "event", ev.Name, "resource", ev.ARN, "err", err)
	}
}

// ServiceEvent records background work the server did on its own (a secret purged at the
// end of its recovery window, a key deleted or rotated on schedule) as an AwsServiceEvent.
func (h *Handler) ServiceEvent(ctx context.Context, service, name string, ns coffer.Namespace, arn string, details map[string]any, cause error) error {
	if h.cfg.Audit == nil {
		return fmt.Errorf("%w: no audit log", audit.ErrUnavailable)
	}
	src := eventSource(service)
	rec := &auditRec{}
	rec.addResource(arn)
	ev := &audit.Event{
		EventVersion: audit.EventVersion, EventTime: audit.FormatTime(h.now()), EventSource: src, EventName: name,
		AWSRegion: ns.Region, SourceIPAddress: src, UserAgent: src,
		UserIdentity: audit.UserIdentity{Type: "AWSService", InvokedBy: src},
		RequestID:    requestID(), EventID: requestID(), ReadOnly: false, EventType: audit.TypeServiceEvent,
		RecipientAccountID: ns.Account, Category: audit.Category(src, name), Resources: rec.resources,
		ServiceEventDetails: details,
	}
	if cause != nil {
		e := coffer.AsError(cause)
		ev.ErrorCode, ev.ErrorMessage = e.Code, e.Message
	}
	return h.cfg.Audit.Append(ctx, ev)
}

// lowerKeys returns v with every map key's first letter in lower case, as CloudTrail writes
// request parameters and response elements ("secretId").
func lowerKeys(v any, depth int) any {
	if depth > 64 {
		return nil
	}
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[lowerFirst(k)] = lowerKeys(e, depth+1)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = lowerKeys(e, depth+1)
		}
		return s
	}
	return v
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	if unicode.IsLower(r) {
		return s
	}
	// "ARN" → "arn", "KMSKeyId" → "kmsKeyId", "SecretId" → "secretId", as CloudTrail does.
	i := n
	for i < len(s) {
		r2, n2 := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsUpper(r2) {
			break
		}
		i += n2
	}
	if i > n && i < len(s) {
		i -= utf8.RuneLen(lastRune(s[:i]))
	}
	return strings.ToLower(s[:i]) + s[i:]
}

func lastRune(s string) rune {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r
}

// bufferedWriter holds a response until its audit record is durable.
type bufferedWriter struct {
	w      http.ResponseWriter
	status int
	buf    bytes.Buffer
}

var writerPool = sync.Pool{New: func() any { return new(bufferedWriter) }}

func newBufferedWriter(w http.ResponseWriter) *bufferedWriter {
	b := writerPool.Get().(*bufferedWriter)
	b.w, b.status = w, 0
	return b
}

func (b *bufferedWriter) Header() http.Header { return b.w.Header() }

func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.buf.Write(p)
}

// discard forgets what was written (it may hold a secret value).
func (b *bufferedWriter) discard() {
	clear(b.buf.Bytes())
	b.buf.Reset()
	b.status = 0
	b.w.Header().Del("Content-Length")
}

// flush sends the held response.
func (b *bufferedWriter) flush() {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	b.w.WriteHeader(b.status)
	b.w.Write(b.buf.Bytes())
}

// release wipes the buffer and returns the writer to the pool.
func (b *bufferedWriter) release() {
	clear(b.buf.Bytes())
	b.buf.Reset()
	if b.buf.Cap() > 1<<20 {
		return // do not keep an outsized buffer
	}
	b.w = nil
	writerPool.Put(b)
}

// errAuditUnavailable is what a client gets when its call cannot be audited.
func errAuditUnavailable() *coffer.Error {
	return coffer.Errorf(coffer.ErrServiceUnavailable, "The service cannot record this call in its audit trail, so it does not serve it. Try again later.")
}

// metrics answers /metrics in the Prometheus text format: the audit log's counters and
// health. It reveals no names, values or principals.
func (h *Handler) metrics(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	var s audit.Stats
	if h.cfg.Audit != nil {
		s = h.cfg.Audit.Stats()
	}
	healthy := 0
	if s.Healthy {
		healthy = 1
	}
	fmt.Fprintf(w, "# HELP coffer_audit_healthy Whether every durable audit sink is writing (1) or calls are refused (0).\n# TYPE coffer_audit_healthy gauge\ncoffer_audit_healthy %d\n", healthy)
	fmt.Fprintf(w, "# HELP coffer_audit_records_total Audit records made durable.\n# TYPE coffer_audit_records_total counter\ncoffer_audit_records_total %d\n", s.Records)
	fmt.Fprintf(w, "# HELP coffer_audit_commits_total Group commits (one write per durable sink each).\n# TYPE coffer_audit_commits_total counter\ncoffer_audit_commits_total %d\n", s.Commits)
	fmt.Fprintf(w, "# HELP coffer_audit_syncs_total Syncs of the audit trail (an fsync of the files, a WAL flush of the PostgreSQL table), each covering every record written before it.\n# TYPE coffer_audit_syncs_total counter\ncoffer_audit_syncs_total %d\n", s.Syncs)
	fmt.Fprintf(w, "# HELP coffer_audit_write_errors_total Failed writes to a durable audit sink.\n# TYPE coffer_audit_write_errors_total counter\ncoffer_audit_write_errors_total %d\n", s.WriteErrors)
	fmt.Fprintf(w, "# HELP coffer_audit_refused_calls_total Calls refused because they could not be audited.\n# TYPE coffer_audit_refused_calls_total counter\ncoffer_audit_refused_calls_total %d\n", s.Refused+h.refusedNoLog.Load())
	if h.cfg.Writer != nil {
		ws := h.cfg.Writer.WriterStats()
		fmt.Fprintf(w, "# HELP coffer_store_writer_updates_total Write transactions committed by the store's single writer: calls' writes, and the background's (access marks, audit intents).\n# TYPE coffer_store_writer_updates_total counter\ncoffer_store_writer_updates_total %d\n", ws.Updates)
		fmt.Fprintf(w, "# HELP coffer_store_writer_commits_total Commits of the store's writer, each covering one or more write transactions (group commit).\n# TYPE coffer_store_writer_commits_total counter\ncoffer_store_writer_commits_total %d\n", ws.Commits)
		fmt.Fprintf(w, "# HELP coffer_store_writer_busy_seconds_total Time the store's writer was held, running writes or committing; near one second a second, it bounds the writes.\n# TYPE coffer_store_writer_busy_seconds_total counter\ncoffer_store_writer_busy_seconds_total %.6f\n", ws.Busy.Seconds())
		fmt.Fprintf(w, "# HELP coffer_store_writer_commit_seconds_total Of that time, the time spent committing (the WAL's fsync included).\n# TYPE coffer_store_writer_commit_seconds_total counter\ncoffer_store_writer_commit_seconds_total %.6f\n", ws.Committing.Seconds())
		fmt.Fprintf(w, "# HELP coffer_store_writer_turn_wait_seconds_total Time the committed write transactions waited for the writer before their writes ran, summed.\n# TYPE coffer_store_writer_turn_wait_seconds_total counter\ncoffer_store_writer_turn_wait_seconds_total %.6f\n", ws.TurnWait.Seconds())
		fmt.Fprintf(w, "# HELP coffer_store_writer_commit_wait_seconds_total Time the committed write transactions waited, after their writes, for the commit that covered them, summed.\n# TYPE coffer_store_writer_commit_wait_seconds_total counter\ncoffer_store_writer_commit_wait_seconds_total %.6f\n", ws.CommitWait.Seconds())
	}
}
