package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/audit"
)

// Audit intents (coffer.AuditIntent): on a store that keeps them (SQLite), the call that
// changes one secret commits its audit events with its writes, so that one fsync, the
// store's, makes both durable, and the answer waits for its record to be written to the
// trail, not for the trail's own fsync, as a read's does. An intent holds the events as the
// call's record has them when its writes are done (its response elements come after, and
// are not in it); RunAuditIntents deletes the intents whose records a later fsync of the
// trail covers, and RecoverAuditIntents, at start, appends to the trail the records of the
// intents a crash left behind that the trail lacks.

// intentOps are the operations that keep an intent: each changes one secret in one
// OneSecretUpdate and returns what that Update left, so that an intent committed means the
// call succeeded.
var intentOps = map[string]bool{
	"CreateSecret": true, "PutSecretValue": true, "UpdateSecret": true, "UpdateSecretVersionStage": true,
	"TagResource": true, "UntagResource": true, "PutResourcePolicy": true, "DeleteResourcePolicy": true,
	"DeleteSecret": true, "RestoreSecret": true,
}

// intentBody is the body of an audit intent: the trail's last sequence number when the
// events were built (the call's records, when written, come after it), and the events.
type intentBody struct {
	Seq    uint64            `json:"seq"`
	Events []json.RawMessage `json:"events"`
}

// auditIntent returns the intent of the call r, which rec records; nil when the store keeps
// none, or when r names an operation that keeps none (a read allocates nothing for it).
func (h *Handler) auditIntent(r *http.Request, rec *auditRec) *coffer.AuditIntent {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "secretsmanager.")
	if h.cfg.AuditIntents == nil || !ok || !intentOps[op] {
		return nil
	}
	return &coffer.AuditIntent{Build: func() []byte {
		if rec.service != "secretsmanager" || !intentOps[rec.op] { // the operation as decoded
			return nil
		}
		evs := h.events(rec, nil)
		b := fmt.Appendf(nil, `{"seq":%d,"events":[`, h.cfg.Audit.Stats().Seq)
		for i, ev := range evs {
			if i > 0 {
				b = append(b, ',')
			}
			b = ev.AppendJSON(b)
		}
		return append(b, "]}"...)
	}}
}

// intentReaper holds the intents whose records were written to the trail, until an fsync
// of the trail covers them.
type intentReaper struct {
	mu   sync.Mutex
	ids  []int64
	wake chan struct{}
}

// written hands ids, whose records the trail holds written, to RunAuditIntents.
func (h *Handler) intentsWritten(ids []int64) {
	r := &h.intents
	r.mu.Lock()
	r.ids = append(r.ids, ids...)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// intentBatch is how long RunAuditIntents gathers intents before it syncs the trail and
// deletes them: about the trail's own fsync interval.
const intentBatch = 10 * time.Millisecond

// RunAuditIntents deletes the audit intents of calls whose records the trail has made
// durable, until ctx is done; then it deletes those of the calls answered until then. It
// must run while the handler serves with Config.AuditIntents set. An intent whose record
// could not be synced stays, for RecoverAuditIntents at the next start.
func (h *Handler) RunAuditIntents(ctx context.Context) {
	if h.cfg.AuditIntents == nil {
		return
	}
	r := &h.intents
	for {
		select {
		case <-ctx.Done():
			h.reapIntents(context.WithoutCancel(ctx))
			return
		case <-r.wake:
		}
		select {
		case <-ctx.Done():
		case <-time.After(intentBatch):
		}
		h.reapIntents(context.WithoutCancel(ctx))
	}
}

func (h *Handler) reapIntents(ctx context.Context) {
	r := &h.intents
	r.mu.Lock()
	ids := r.ids
	r.ids = nil
	r.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	err := h.cfg.Audit.Sync(ctx)
	if err == nil {
		err = h.cfg.AuditIntents.DeleteAuditIntents(ctx, ids)
	}
	if err != nil {
		h.log.Warn("audit intents kept: their records are not known to be durable in the trail, or could not be deleted; the next start checks them", "intents", len(ids), "err", err)
	}
}

// RecoverAuditIntents appends to trail, durably, the records of the audit intents st kept
// that the trail lacks (a crash between a call's commit and the trail's fsync of its
// record), each event marked recoveredFromIntent, and then deletes every intent. It returns
// how many calls' records it appended. Run it at start, before the server answers calls.
func RecoverAuditIntents(ctx context.Context, st coffer.AuditIntentStore, trail *audit.Log) (int, error) {
	rows, err := st.AuditIntents(ctx)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	bodies := make([]intentBody, len(rows))
	after := uint64(0)
	for i, r := range rows {
		if err := json.Unmarshal(r.Body, &bodies[i]); err != nil {
			return 0, fmt.Errorf("audit intent %d: %w", r.ID, err)
		}
		if i == 0 || bodies[i].Seq < after {
			after = bodies[i].Seq
		}
	}
	// The request ids the trail holds past the earliest intent's sequence number.
	have := map[string]bool{}
	const page = 1000
	for {
		recs, err := trail.Records(after, page)
		if err != nil {
			return 0, err
		}
		for _, rec := range recs {
			var ev struct {
				RequestID string `json:"requestID"`
			}
			if rec.Event != nil && json.Unmarshal(rec.Event, &ev) == nil {
				have[ev.RequestID] = true
			}
			after = rec.Seq
		}
		if len(recs) < page {
			break
		}
	}
	n := 0
	ids := make([]int64, len(rows))
	for i, b := range bodies {
		ids[i] = rows[i].ID
		var evs []*audit.Event
		for _, raw := range b.Events {
			ev := new(audit.Event)
			if err := json.Unmarshal(raw, ev); err != nil {
				return n, fmt.Errorf("audit intent %d: %w", rows[i].ID, err)
			}
			if ev.AdditionalEventData == nil {
				ev.AdditionalEventData = map[string]any{}
			}
			ev.AdditionalEventData["recoveredFromIntent"] = true
			evs = append(evs, ev)
		}
		if len(evs) == 0 || have[evs[0].RequestID] {
			continue
		}
		if err := trail.Append(ctx, evs...); err != nil {
			return n, err
		}
		have[evs[0].RequestID] = true // an intent written twice for one call gives one record
		n++
	}
	return n, st.DeleteAuditIntents(ctx, ids)
}
