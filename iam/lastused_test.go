package iam

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/sqlite"
)

// TestFlushBeforeFirstUse: a flush with nothing pending (the recorder's first tick) and then a
// key's first use must not crash the recorder (it once wrote into a map never made).
func TestFlushBeforeFirstUse(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"), sqlite.WithCacheCheck())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	s := New(store, nil, Options{})
	s.flushUsage(ctx) // nothing pending yet
	s.MarkKeyUsed("AKIAEXAMPLEEXAMPLE01", "secretsmanager", "us-east-1")
	s.flushUsage(ctx) // the key does not exist: skipped, and the mark is remembered
	s.usage.mu.Lock()
	day, ok := s.usage.written["AKIAEXAMPLEEXAMPLE01"]
	s.usage.mu.Unlock()
	if !ok || day.IsZero() {
		t.Fatal("the flushed mark was not remembered")
	}
	err = store.View(ctx, func(tx coffer.Tx) error {
		_, err := tx.Meta(lastUsedMeta("AKIAEXAMPLEEXAMPLE01"))
		return err
	})
	if !coffer.IsNotFound(err) {
		t.Fatalf("a mark was written for a key that does not exist: %v", err)
	}
}
