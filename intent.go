package coffer

import (
	"context"
	"sync"
)

// AuditIntent is the audit record of a call that changes one secret, for a store that commits
// it in the same transaction as the call's writes (an AuditIntentStore): then the record is
// durable when the writes are, by the one commit, and the server need not wait for the audit
// trail's own fsync before it answers. The server appends the record to the trail as well,
// and deletes the intent once the trail's fsync covers it; at start it appends the records of
// the intents left (a crash between the commit and that fsync) that the trail lacks.
type AuditIntent struct {
	// Build returns the intent's bytes as they stand once the Update's fn has succeeded, or
	// nil when the call keeps no intent. The store calls it inside the Update, before the
	// commit, in the Update's goroutine.
	Build func() []byte

	mu  sync.Mutex
	ids []int64
}

// Wrote records that the store committed the intent as row id (a store calls it once the
// Update's commit succeeded).
func (a *AuditIntent) Wrote(id int64) {
	a.mu.Lock()
	a.ids = append(a.ids, id)
	a.mu.Unlock()
}

// IDs returns the rows the store committed the intent as: one for a call whose one
// OneSecretUpdate committed.
func (a *AuditIntent) IDs() []int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]int64(nil), a.ids...)
}

type auditIntentKey struct{}

// WithAuditIntent carries a into the Updates run with ctx. A store that keeps intents writes
// it in a OneSecretUpdate (coffer.OneSecretUpdate), the one Update of a call that changes a
// secret; it ignores it in any other.
func WithAuditIntent(ctx context.Context, a *AuditIntent) context.Context {
	return context.WithValue(ctx, auditIntentKey{}, a)
}

// AuditIntentFrom returns the AuditIntent ctx carries, or nil.
func AuditIntentFrom(ctx context.Context) *AuditIntent {
	a, _ := ctx.Value(auditIntentKey{}).(*AuditIntent)
	return a
}

// AuditIntentRow is an intent as a store keeps it.
type AuditIntentRow struct {
	ID   int64
	Body []byte
}

// AuditIntentStore is a Store that commits the AuditIntent of a OneSecretUpdate with its
// writes (the SQLite store).
type AuditIntentStore interface {
	// AuditIntents returns the intents kept, in the order written.
	AuditIntents(ctx context.Context) ([]AuditIntentRow, error)
	// DeleteAuditIntents deletes the intents ids (those already gone are no error).
	DeleteAuditIntents(ctx context.Context, ids []int64) error
}
