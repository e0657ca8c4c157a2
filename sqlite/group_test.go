package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/coffer-project/coffer"
)

// TestGroupCommitMembersStandAlone: concurrent Updates share transactions, yet each one's
// outcome is its own: a failing or panicking Update leaves nothing, the others commit.
func TestGroupCommitMembersStandAlone(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	const n = 48
	errFail := errors.New("fails on purpose")
	results := make([]error, n)
	panicked := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			defer func() {
				if recover() != nil {
					panicked[i] = true
				}
			}()
			results[i] = s.Update(t.Context(), func(tx coffer.Tx) error {
				if err := tx.PutMeta(fmt.Sprintf("k%d", i), []byte("v")); err != nil {
					return err
				}
				switch {
				case i%7 == 3:
					panic("panics on purpose")
				case i%3 == 1:
					return errFail
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i := range n {
		var got []byte
		err := s.View(t.Context(), func(tx coffer.Tx) error {
			var err error
			got, err = tx.Meta(fmt.Sprintf("k%d", i))
			return err
		})
		switch {
		case i%7 == 3:
			if !panicked[i] || !coffer.IsNotFound(err) {
				t.Errorf("update %d panicked (%v) and its write is there (%v)", i, panicked[i], err)
			}
		case i%3 == 1:
			if !errors.Is(results[i], errFail) || !coffer.IsNotFound(err) {
				t.Errorf("update %d: %v, and its write: %v; want its own error and no write", i, results[i], err)
			}
		default:
			if results[i] != nil || err != nil || string(got) != "v" {
				t.Errorf("update %d: %v, read back %q, %v; want committed", i, results[i], got, err)
			}
		}
	}
}

// TestGroupCommitCancelledContext: an Update whose context is cancelled before it begins
// writes nothing and says so.
func TestGroupCommitCancelledContext(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ran := false
	err := s.Update(ctx, func(tx coffer.Tx) error { ran = true; return tx.PutMeta("k", []byte("v")) })
	if err == nil || ran {
		t.Fatalf("Update with a cancelled context: %v, fn ran %v", err, ran)
	}
}
