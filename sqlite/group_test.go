package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

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

// TestGroupCommitFirstMemberFails: the first Update of a batch runs without a savepoint;
// when it fails or panics, its writes go and the Updates queued behind it still commit, in
// the same batch.
func TestGroupCommitFirstMemberFails(t *testing.T) {
	for _, how := range []string{"error", "panic"} {
		t.Run(how, func(t *testing.T) {
			s, _ := openTemp(t)
			defer s.Close()
			const n = 4
			errFail := errors.New("fails on purpose")
			var batches [n + 1]*batch
			results := make([]error, n+1)
			started := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() {
				defer func() {
					if r := recover(); r != nil {
						results[0] = fmt.Errorf("panicked: %v", r)
					}
				}()
				results[0] = s.Update(t.Context(), func(tx coffer.Tx) error {
					batches[0] = s.group.cur
					close(started)
					if err := tx.PutMeta("first", []byte("v")); err != nil {
						return err
					}
					for s.group.waiting.Load() < n {
						time.Sleep(time.Millisecond)
					}
					if how == "panic" {
						panic("panics on purpose")
					}
					return errFail
				})
			})
			<-started
			for i := 1; i <= n; i++ {
				wg.Go(func() {
					results[i] = s.Update(t.Context(), func(tx coffer.Tx) error {
						batches[i] = s.group.cur
						return tx.PutMeta(fmt.Sprintf("k%d", i), []byte("v"))
					})
				})
			}
			wg.Wait()
			if results[0] == nil {
				t.Fatal("the failing first Update returned nil")
			}
			if _, err := readMeta(t, s, "first"); !coffer.IsNotFound(err) {
				t.Errorf("the failing first Update's write: %v; want NotFound", err)
			}
			for i := 1; i <= n; i++ {
				if batches[i] != batches[0] {
					t.Errorf("update %d ran in another batch than the first", i)
				}
				got, err := readMeta(t, s, fmt.Sprintf("k%d", i))
				if results[i] != nil || err != nil || string(got) != "v" {
					t.Errorf("update %d: %v, read back %q, %v; want committed", i, results[i], got, err)
				}
			}
		})
	}
}

func readMeta(t *testing.T, s *Store, key string) ([]byte, error) {
	var got []byte
	err := s.View(t.Context(), func(tx coffer.Tx) error {
		var err error
		got, err = tx.Meta(key)
		return err
	})
	return got, err
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

// TestUpdateSecretWritesWhatChanged: UpdateSecret after a read writes the changed columns,
// an unchanged secret is left as it is, and one deleted in the transaction is NotFound.
func TestUpdateSecretWritesWhatChanged(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	putSecret(t, s, "narrow", "v1", []byte("ct"))
	arn := cacheARN("narrow")
	err := s.Update(t.Context(), func(tx coffer.Tx) error {
		sec, err := tx.SecretByARN(arn)
		if err != nil {
			return err
		}
		sec.Description = "changed"
		sec.Tags = []coffer.Tag{{Key: "k", Value: "v"}}
		if err := tx.UpdateSecret(sec); err != nil {
			return err
		}
		if err := tx.UpdateSecret(sec); err != nil { // nothing changed since
			return fmt.Errorf("unchanged UpdateSecret: %w", err)
		}
		got, err := tx.SecretByARN(arn)
		if err != nil {
			return err
		}
		if got.Description != "changed" || len(got.Tags) != 1 || got.Name != "narrow" || !got.CreatedDate.Equal(sec.CreatedDate) {
			return fmt.Errorf("after UpdateSecret: %+v", got)
		}
		if err := tx.DeleteSecret(arn); err != nil {
			return err
		}
		if err := tx.UpdateSecret(sec); !coffer.IsNotFound(err) {
			return fmt.Errorf("UpdateSecret of a secret deleted in the transaction: %v, want NotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestWriterStats: the writer's counters count the Updates that committed (not the failed
// one), commits that each cover one or more of them, and the time the writer was held, of
// which committing is a part.
func TestWriterStats(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	before := s.WriterStats()
	const n = 32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := s.Update(t.Context(), func(tx coffer.Tx) error {
				if err := tx.PutMeta(fmt.Sprintf("w%d", i), []byte("v")); err != nil {
					return err
				}
				time.Sleep(time.Millisecond) // a writer held for at least n ms in all
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := s.Update(t.Context(), func(coffer.Tx) error { return errors.New("fails on purpose") }); err == nil {
		t.Fatal("a failing Update succeeded")
	}
	st := s.WriterStats()
	updates, commits := st.Updates-before.Updates, st.Commits-before.Commits
	busy, committing := st.Busy-before.Busy, st.Committing-before.Committing
	turnWait, commitWait := st.TurnWait-before.TurnWait, st.CommitWait-before.CommitWait
	if updates != n {
		t.Errorf("%d Updates counted, want %d", updates, n)
	}
	// The failed Update's transaction is rolled back, and counted: from 2 (all n in one
	// group) to n+1.
	if commits < 2 || commits > n+1 {
		t.Errorf("%d commits for %d Updates and a failed one", commits, n)
	}
	if busy < n*time.Millisecond || committing <= 0 || committing >= busy {
		t.Errorf("writer held %v, committing %v; want at least %v held, and part of it committing", busy, committing, n*time.Millisecond)
	}
	// n Updates of at least 1 ms each queued for one writer: together they waited for their
	// turns at least half the time all but one of them held it, and each for a commit.
	if turnWait < (n-1)*time.Millisecond/2 || commitWait <= 0 {
		t.Errorf("Updates waited %v for their turns and %v for their commits", turnWait, commitWait)
	}
}
