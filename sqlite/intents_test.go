package sqlite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/coffer-project/coffer"
)

// TestAuditIntents: a OneSecretUpdate carrying an AuditIntent writes it in its transaction,
// after its fn succeeded; a failing fn, an Update of another kind or an intent with nothing
// to keep write none; DeleteAuditIntents deletes the ones named.
func TestAuditIntents(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	intent := func(body string) *coffer.AuditIntent {
		return &coffer.AuditIntent{Build: func() []byte {
			if body == "" {
				return nil
			}
			return []byte(body)
		}}
	}
	one := func(in *coffer.AuditIntent) context.Context {
		return coffer.WithAuditIntent(coffer.OneSecretUpdate(t.Context(), "k"), in)
	}
	noop := func(coffer.Tx) error { return nil }
	errFail := errors.New("fails on purpose")

	kept := intent(`{"n":1}`)
	if err := s.Update(one(kept), func(tx coffer.Tx) error { return tx.PutMeta("a", []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	failed := intent(`{"n":2}`)
	if err := s.Update(one(failed), func(coffer.Tx) error { return errFail }); !errors.Is(err, errFail) {
		t.Fatalf("failing Update: %v", err)
	}
	other := intent(`{"n":3}`) // not a OneSecretUpdate
	if err := s.Update(coffer.WithAuditIntent(t.Context(), other), noop); err != nil {
		t.Fatal(err)
	}
	empty := intent("")
	if err := s.Update(one(empty), noop); err != nil {
		t.Fatal(err)
	}
	if len(kept.IDs()) != 1 || len(failed.IDs()) != 0 || len(other.IDs()) != 0 || len(empty.IDs()) != 0 {
		t.Fatalf("intents written: kept %v, failed %v, other %v, empty %v; want one for kept", kept.IDs(), failed.IDs(), other.IDs(), empty.IDs())
	}

	// Concurrent Updates share transactions: each one's intent is its own, and one that
	// fails takes its intent with it.
	var wg sync.WaitGroup
	ins := make([]*coffer.AuditIntent, 24)
	for i := range ins {
		ins[i] = intent(fmt.Sprintf(`{"n":%d}`, 100+i))
		wg.Go(func() {
			s.Update(one(ins[i]), func(tx coffer.Tx) error {
				if err := tx.PutMeta(fmt.Sprintf("k%d", i), []byte("v")); err != nil {
					return err
				}
				if i%4 == 1 {
					return errFail
				}
				return nil
			})
		})
	}
	wg.Wait()
	rows, err := s.AuditIntents(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]string{kept.IDs()[0]: `{"n":1}`}
	for i, in := range ins {
		ids := in.IDs()
		if i%4 == 1 {
			if len(ids) != 0 {
				t.Fatalf("Update %d failed, yet its intent counts as committed: %v", i, ids)
			}
			continue
		}
		if len(ids) != 1 {
			t.Fatalf("Update %d: intents %v, want one", i, ids)
		}
		want[ids[0]] = fmt.Sprintf(`{"n":%d}`, 100+i)
	}
	got := map[int64]string{}
	for _, r := range rows {
		got[r.ID] = string(r.Body)
	}
	if len(got) != len(want) {
		t.Fatalf("intents kept: %v, want %v", got, want)
	}
	for id, body := range want {
		if got[id] != body {
			t.Errorf("intent %d: %q, want %q", id, got[id], body)
		}
	}

	del := slices.Collect(func(yield func(int64) bool) {
		for id := range want {
			if id != kept.IDs()[0] && !yield(id) {
				return
			}
		}
	})
	if err := s.DeleteAuditIntents(t.Context(), append(del, 99999)); err != nil {
		t.Fatal(err)
	}
	rows, err = s.AuditIntents(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].ID != kept.IDs()[0] {
		t.Fatalf("after deleting all but the first: %v", rows)
	}

	// An id is never given twice: not after the last intent was deleted, not after a rolled
	// back one, so that deleting one call's intents cannot delete another's.
	last := intent(`{"n":"last"}`)
	if err := s.Update(one(last), noop); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAuditIntents(t.Context(), last.IDs()); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(one(intent(`{"n":"rolled back"}`)), func(coffer.Tx) error { return errFail }); !errors.Is(err, errFail) {
		t.Fatal(err)
	}
	next := intent(`{"n":"next"}`)
	if err := s.Update(one(next), noop); err != nil {
		t.Fatal(err)
	}
	if next.IDs()[0] <= last.IDs()[0] {
		t.Fatalf("intent id %d given after %d was deleted: ids are reused", next.IDs()[0], last.IDs()[0])
	}
}
