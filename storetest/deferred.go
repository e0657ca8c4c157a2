package storetest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

// testDeferredWrites: after coffer.DeferWrites, every kind of write the core holds back lands
// as if run at once, and a read later in the same transaction sees them.
func testDeferredWrites(t *testing.T, s coffer.Store) {
	ns := namespace(accountA, regionA)
	sec := newSecret(ns, "deferred", at(0))
	gone := newSecret(ns, "deferred-gone", at(0))
	insertSecrets(t, s, sec, gone)
	v1, v2, v3, v4 := versionID(1), versionID(2), versionID(3), versionID(4)
	update(t, s, func(tx coffer.Tx) error {
		for i, id := range []string{v1, v2, v3} {
			if err := tx.InsertVersion(newVersion(sec.ARN, id, at(time.Duration(i)*time.Second), 8)); err != nil {
				return err
			}
		}
		if err := tx.SetStage(sec.ARN, coffer.StageCurrent, v1); err != nil {
			return err
		}
		return tx.SetStage(sec.ARN, "old-label", v3)
	})

	added := newSecret(ns, "deferred-added", at(time.Minute))
	rewrapped := newVersion(sec.ARN, v3, at(2*time.Second), 12)
	rewrapped.KMSKeyID = "key-2"
	changed := *sec
	changed.Description = "written after DeferWrites"
	update(t, s, func(tx coffer.Tx) error {
		coffer.DeferWrites(tx)
		steps := []func() error{
			func() error { return tx.InsertVersion(newVersion(sec.ARN, v4, at(3*time.Second), 8)) },
			func() error { return tx.SetStage(sec.ARN, coffer.StagePrevious, v1) },
			func() error { return tx.SetStage(sec.ARN, coffer.StageCurrent, v4) },
			func() error { return tx.DeleteVersion(sec.ARN, v2) },
			func() error { return tx.UpdateVersion(rewrapped) },
			func() error { return tx.RemoveStage(sec.ARN, "old-label") },
			func() error { return tx.UpdateSecret(&changed) },
			func() error { return tx.InsertSecret(added) },
			func() error { return tx.DeleteSecret(gone.ARN) },
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return err
			}
		}
		// A read in the same transaction sees every write before it.
		vs, err := tx.Versions(sec.ARN)
		if err != nil {
			return err
		}
		ids := make([]string, 0, len(vs))
		for _, v := range vs {
			ids = append(ids, v.VersionID)
		}
		if want := []string{v1, v3, v4}; !slices.Equal(ids, want) {
			t.Errorf("Versions after deferred writes, same transaction: got %q, want %q", ids, want)
		}
		_, err = tx.SecretByARN(gone.ARN)
		wantNotFound(t, "SecretByARN of a secret deleted earlier in the transaction", err)
		return nil
	})

	checkStages(t, s, sec.ARN, "after deferred writes", map[string][]string{
		v1: {coffer.StagePrevious},
		v3: {},
		v4: {coffer.StageCurrent},
	})
	got, err := getSecret(t, s, sec.ARN)
	if err != nil {
		t.Fatalf("SecretByARN after deferred writes: %v", err)
	}
	if got.Description != changed.Description {
		t.Errorf("Description after a deferred UpdateSecret: got %q, want %q", got.Description, changed.Description)
	}
	if _, err := getSecret(t, s, added.ARN); err != nil {
		t.Errorf("a secret inserted by a deferred InsertSecret: %v", err)
	}
	_, err = getSecret(t, s, gone.ARN)
	wantNotFound(t, "a secret deleted by a deferred DeleteSecret", err)
	view(t, s, func(tx coffer.Tx) error {
		v, err := tx.Version(sec.ARN, v3)
		if err != nil {
			return err
		}
		if v.KMSKeyID != "key-2" || !bytes.Equal(v.Ciphertext, rewrapped.Ciphertext) {
			t.Errorf("a version after a deferred UpdateVersion: key %q, %d bytes of ciphertext; want key-2, %d bytes",
				v.KMSKeyID, len(v.Ciphertext), len(rewrapped.Ciphertext))
		}
		return nil
	})
}

// testDeferredWriteErrors: a write held back after coffer.DeferWrites that fails, or names
// something missing, fails the Update with its own error (the first such write's), whichever
// call returned it, and nothing of the transaction is written.
func testDeferredWriteErrors(t *testing.T, s coffer.Store) {
	ns := namespace(accountA, regionA)
	sec := newSecret(ns, "deferred-errors", at(0))
	insertSecrets(t, s, sec)
	v1 := versionID(1)
	update(t, s, func(tx coffer.Tx) error {
		if err := tx.InsertVersion(newVersion(sec.ARN, v1, at(0), 8)); err != nil {
			return err
		}
		return tx.SetStage(sec.ARN, coffer.StageCurrent, v1)
	})
	changed := *sec
	changed.Description = "must not be written"

	cases := []struct {
		name string
		// writes runs after DeferWrites and returns the first error of tx, as the core does.
		writes func(tx coffer.Tx) error
		want   string // the error code
	}{
		{"a taken version id, then a missing version", func(tx coffer.Tx) error {
			if err := tx.InsertVersion(newVersion(sec.ARN, v1, at(0), 8)); err != nil {
				return err
			}
			if err := tx.SetStage(sec.ARN, coffer.StagePending, versionID(9)); err != nil {
				return err
			}
			return tx.UpdateSecret(&changed)
		}, coffer.ErrResourceExists},
		{"a missing version, answered by the next read", func(tx coffer.Tx) error {
			if err := tx.SetStage(sec.ARN, coffer.StagePending, versionID(9)); err != nil {
				return err
			}
			if err := tx.UpdateSecret(&changed); err != nil {
				return err
			}
			_, err := tx.VersionHeaders(sec.ARN)
			return err
		}, coffer.ErrResourceNotFound},
		{"a missing secret, answered by the commit", func(tx coffer.Tx) error {
			if err := tx.UpdateSecret(&changed); err != nil {
				return err
			}
			return tx.DeleteVersion(sec.ARN+"-missing", v1)
		}, coffer.ErrResourceNotFound},
	}
	for _, c := range cases {
		extra := newSecret(ns, "deferred-errors-extra", at(time.Minute))
		err := s.Update(t.Context(), func(tx coffer.Tx) error {
			if err := tx.InsertSecret(extra); err != nil {
				return err
			}
			coffer.DeferWrites(tx)
			return c.writes(tx)
		})
		if got := coffer.ErrorCode(err); got != c.want {
			t.Errorf("%s: Update returned %v (code %q), want code %q", c.name, err, got, c.want)
		}
		_, err = getSecret(t, s, extra.ARN)
		wantNotFound(t, c.name+": a secret inserted before the failing write", err)
		got, err := getSecret(t, s, sec.ARN)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got.Description != sec.Description {
			t.Errorf("%s: the secret's description changed to %q: the transaction committed", c.name, got.Description)
		}
		checkStages(t, s, sec.ARN, c.name, map[string][]string{v1: {coffer.StageCurrent}})
	}
}
