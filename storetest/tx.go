package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

// writeAll inserts a secret, a version and a stage, and a meta value: one of each kind of
// write, to check that they all commit or all roll back.
func writeAll(tx coffer.Tx, sec *coffer.Secret) error {
	if err := tx.InsertSecret(sec); err != nil {
		return err
	}
	if err := tx.InsertVersion(newVersion(sec.ARN, versionID(1), at(0), 16)); err != nil {
		return err
	}
	if err := tx.SetStage(sec.ARN, coffer.StageCurrent, versionID(1)); err != nil {
		return err
	}
	if err := tx.InsertAccount(&coffer.Account{ID: accountB, CreatedDate: at(0)}); err != nil {
		return err
	}
	return tx.PutMeta("rolled-back", []byte("x"))
}

// wantNothingWritten fails the test if any write of writeAll is visible.
func wantNothingWritten(t *testing.T, s coffer.Store, sec *coffer.Secret) {
	t.Helper()
	view(t, s, func(tx coffer.Tx) error {
		_, err := tx.SecretByARN(sec.ARN)
		wantNotFound(t, "secret of a rolled-back transaction", err)
		_, err = tx.SecretByName(sec.Namespace, sec.Name)
		wantNotFound(t, "secret name of a rolled-back transaction", err)
		_, err = tx.Version(sec.ARN, versionID(1))
		wantNotFound(t, "version of a rolled-back transaction", err)
		_, err = tx.Account(accountB)
		wantNotFound(t, "account of a rolled-back transaction", err)
		_, err = tx.Meta("rolled-back")
		wantNotFound(t, "meta of a rolled-back transaction", err)
		return nil
	})
	// The store still works, and the name is free.
	insertSecrets(t, s, sec)
}

func testTxUsableAfterError(t *testing.T, s coffer.Store) {
	ns := namespace(accountA, regionA)
	sec := newSecret(ns, "existing", at(0))
	insertSecrets(t, s, sec)

	// A failed lookup or insert is an answer, not a broken transaction: the core checks for
	// existence by trying, and goes on in the same transaction.
	after := newSecret(ns, "after-errors", at(time.Second))
	update(t, s, func(tx coffer.Tx) error {
		dup := newSecret(ns, sec.Name, at(0))
		wantExists(t, "InsertSecret of a taken name", tx.InsertSecret(dup))
		_, err := tx.SecretByName(ns, "absent")
		wantNotFound(t, "SecretByName(absent)", err)
		wantNotFound(t, "InsertVersion on a missing secret", tx.InsertVersion(newVersion(sec.ARN+"x", versionID(1), at(0), 8)))
		wantNotFound(t, "SetStage on a missing version", tx.SetStage(sec.ARN, coffer.StageCurrent, versionID(1)))
		if err := tx.InsertVersion(newVersion(sec.ARN, versionID(1), at(0), 8)); err != nil {
			return err
		}
		wantExists(t, "InsertVersion of a taken id", tx.InsertVersion(newVersion(sec.ARN, versionID(1), at(0), 8)))
		wantNotFound(t, "UpdateSecret of a missing ARN", tx.UpdateSecret(newSecret(ns, "absent", at(0))))
		_, err = tx.Meta("absent")
		wantNotFound(t, "Meta(absent)", err)
		if err := tx.InsertAccount(&coffer.Account{ID: accountA, CreatedDate: at(0)}); err != nil {
			return err
		}
		wantExists(t, "InsertAccount of a taken id", tx.InsertAccount(&coffer.Account{ID: accountA, CreatedDate: at(0)}))
		return tx.InsertSecret(after)
	})
	if _, err := getSecret(t, s, after.ARN); err != nil {
		t.Errorf("write after errors in the same transaction was lost: %v", err)
	}
}

func testUpdateRollsBackOnError(t *testing.T, s coffer.Store) {
	sec := newSecret(namespace(accountA, regionA), "rolled-back", at(0))
	insertSecrets(t, s, newSecret(namespace(accountA, regionA), "earlier", at(0)))

	sentinel := &errSentinel{"fn failed"}
	err := s.Update(t.Context(), func(tx coffer.Tx) error {
		if err := writeAll(tx, sec); err != nil {
			t.Fatalf("writes before the failure: %v", err)
		}
		return sentinel
	})
	if err != error(sentinel) {
		t.Errorf("Update returned %v, want the error of fn unchanged", err)
	}

	// A domain error passes through unchanged too, and so does a wrapped one.
	domain := coffer.Errorf(coffer.ErrInvalidRequest, "no")
	err = s.Update(t.Context(), func(tx coffer.Tx) error {
		if err := tx.PutMeta("rolled-back", []byte("x")); err != nil {
			return err
		}
		return fmt.Errorf("step 2: %w", domain)
	})
	var got *coffer.Error
	if !errors.As(err, &got) || got != domain {
		t.Errorf("Update returned %v, want it to wrap the *coffer.Error of fn", err)
	}
	wantNothingWritten(t, s, sec)
}

func testUpdateRollsBackOnPanic(t *testing.T, s coffer.Store) {
	sec := newSecret(namespace(accountA, regionA), "panicked", at(0))
	func() {
		defer func() {
			if got, want := recover(), any("boom"); got != want {
				t.Errorf("recovered %v, want the panic value %q re-panicked", got, want)
			}
		}()
		_ = s.Update(t.Context(), func(tx coffer.Tx) error {
			if err := writeAll(tx, sec); err != nil {
				t.Fatalf("writes before the panic: %v", err)
			}
			panic("boom")
		})
		t.Errorf("Update returned after fn panicked")
	}()
	wantNothingWritten(t, s, sec)
}

func testCanceledContext(t *testing.T, s coffer.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.Update(ctx, func(tx coffer.Tx) error { return tx.PutMeta("canceled", []byte("x")) })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Update with a canceled context: got %v, want an error wrapping context.Canceled", err)
	}
	err = s.View(ctx, func(tx coffer.Tx) error { _, err := tx.Meta("canceled"); return err })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("View with a canceled context: got %v, want an error wrapping context.Canceled", err)
	}
	view(t, s, func(tx coffer.Tx) error {
		_, err := tx.Meta("canceled")
		wantNotFound(t, "meta written with a canceled context", err)
		return nil
	})
}

func testViewReturnsError(t *testing.T, s coffer.Store) {
	sentinel := &errSentinel{"view failed"}
	if err := s.View(t.Context(), func(coffer.Tx) error { return sentinel }); err != error(sentinel) {
		t.Errorf("View returned %v, want the error of fn unchanged", err)
	}
}

func testViewRejectsWrites(t *testing.T, s coffer.Store) {
	ns := namespace(accountA, regionA)
	existing := newSecret(ns, "existing", at(0))
	insertSecrets(t, s, existing)
	writes := map[string]func(coffer.Tx) error{
		"PutMeta":       func(tx coffer.Tx) error { return tx.PutMeta("from-view", []byte("x")) },
		"InsertSecret":  func(tx coffer.Tx) error { return tx.InsertSecret(newSecret(ns, "from-view", at(0))) },
		"InsertAccount": func(tx coffer.Tx) error { return tx.InsertAccount(&coffer.Account{ID: accountB}) },
		"DeleteSecret":  func(tx coffer.Tx) error { return tx.DeleteSecret(existing.ARN) },
	}
	for name, write := range writes {
		err := s.View(t.Context(), func(tx coffer.Tx) error {
			if err := write(tx); err == nil {
				t.Errorf("%s inside View: got no error, want one", name)
			}
			return nil
		})
		if err != nil {
			t.Errorf("View after a rejected %s: %v", name, err)
		}
	}
	view(t, s, func(tx coffer.Tx) error {
		_, err := tx.Meta("from-view")
		wantNotFound(t, "meta written inside View", err)
		_, err = tx.SecretByName(ns, "from-view")
		wantNotFound(t, "secret inserted inside View", err)
		_, err = tx.Account(accountB)
		wantNotFound(t, "account inserted inside View", err)
		if _, err := tx.SecretByARN(existing.ARN); err != nil {
			t.Errorf("secret deleted inside View: %v", err)
		}
		return nil
	})
}

func testViewSnapshot(t *testing.T, s coffer.Store) {
	update(t, s, func(tx coffer.Tx) error { return tx.PutMeta("k", []byte("before")) })
	view(t, s, func(tx coffer.Tx) error {
		got, err := tx.Meta("k")
		if err != nil {
			t.Fatalf("Meta: %v", err)
		}
		// A write commits while this View is open; the View must not see it.
		sec := newSecret(namespace(accountA, regionA), "concurrent", at(0))
		err = s.Update(t.Context(), func(tx coffer.Tx) error {
			if err := tx.InsertSecret(sec); err != nil {
				return err
			}
			return tx.PutMeta("k", []byte("after"))
		})
		if err != nil {
			t.Fatalf("Update while a View is open: %v", err)
		}
		again, err := tx.Meta("k")
		if err != nil {
			t.Fatalf("Meta: %v", err)
		}
		if string(got) != "before" || string(again) != "before" {
			t.Errorf("View saw meta change from %q to %q, want %q throughout", got, again, "before")
		}
		if _, err := tx.SecretByARN(sec.ARN); !coffer.IsNotFound(err) {
			t.Errorf("View saw a secret committed after it began (SecretByARN: %v)", err)
		}
		return nil
	})
	view(t, s, func(tx coffer.Tx) error {
		got, err := tx.Meta("k")
		if err != nil || string(got) != "after" {
			t.Errorf("Meta after the View: got %q, %v, want %q", got, err, "after")
		}
		return nil
	})
}

// readCounter reads a decimal counter from meta key, 0 when absent.
func readCounter(tx coffer.Tx, key string) (int, error) {
	b, err := tx.Meta(key)
	if coffer.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(b))
}

func testConcurrentCounter(t *testing.T, s coffer.Store) {
	const workers, increments = 8, 50
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range increments {
				err := s.Update(t.Context(), func(tx coffer.Tx) error {
					n, err := readCounter(tx, "counter")
					if err != nil {
						return err
					}
					return tx.PutMeta("counter", []byte(strconv.Itoa(n+1)))
				})
				if err != nil {
					t.Errorf("Update: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	view(t, s, func(tx coffer.Tx) error {
		n, err := readCounter(tx, "counter")
		if err != nil {
			t.Fatalf("Meta: %v", err)
		}
		if got, want := n, workers*increments; got != want {
			t.Errorf("counter: got %d, want %d (lost updates)", got, want)
		}
		return nil
	})
}

func testConcurrentInsertSameName(t *testing.T, s coffer.Store) {
	const workers = 8
	ns := namespace(accountA, regionA)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			sec := newSecret(ns, "contended", at(0))
			sec.ARN = coffer.SecretARN(ns, sec.Name, fmt.Sprintf("race%02d", i))
			errs[i] = s.Update(t.Context(), func(tx coffer.Tx) error {
				if _, err := tx.SecretByName(ns, sec.Name); !coffer.IsNotFound(err) {
					return coffer.Errorf(coffer.ErrResourceExists, "exists (checked)")
				}
				return tx.InsertSecret(sec)
			})
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch code := coffer.ErrorCode(err); {
		case err == nil:
			won++
		case code != coffer.ErrResourceExists:
			t.Errorf("worker %d: got %v, want success or %s", i, err, coffer.ErrResourceExists)
		}
	}
	if won != 1 {
		t.Errorf("%d inserts of the same name succeeded, want exactly 1", won)
	}
}

func testConcurrentReaders(t *testing.T, s coffer.Store) {
	// Writers set two keys to the same value in one transaction; readers must never see them
	// differ, whatever the interleaving.
	update(t, s, func(tx coffer.Tx) error {
		if err := tx.PutMeta("a", []byte("0")); err != nil {
			return err
		}
		return tx.PutMeta("b", []byte("0"))
	})
	const writers, readers, rounds = 2, 4, 40
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range rounds {
				err := s.Update(t.Context(), func(tx coffer.Tx) error {
					n, err := readCounter(tx, "a")
					if err != nil {
						return err
					}
					v := []byte(strconv.Itoa(n + 1))
					if err := tx.PutMeta("a", v); err != nil {
						return err
					}
					return tx.PutMeta("b", v)
				})
				if err != nil {
					t.Errorf("Update: %v", err)
					return
				}
			}
		})
	}
	for range readers {
		wg.Go(func() {
			for range rounds {
				err := s.View(t.Context(), func(tx coffer.Tx) error {
					a, err := tx.Meta("a")
					if err != nil {
						return err
					}
					b, err := tx.Meta("b")
					if err != nil {
						return err
					}
					if string(a) != string(b) {
						t.Errorf("View saw half a transaction: a=%s b=%s", a, b)
					}
					return nil
				})
				if err != nil {
					t.Errorf("View: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	view(t, s, func(tx coffer.Tx) error {
		n, err := readCounter(tx, "b")
		if err != nil || n != writers*rounds {
			t.Errorf("b: got %d, %v, want %d", n, err, writers*rounds)
		}
		return nil
	})
}
