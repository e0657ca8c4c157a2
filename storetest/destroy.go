package storetest

import (
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

// destroyFixture inserts a secret with three versions: v1 labeled AWSPREVIOUS and "custom", a
// large binary one; v2 AWSCURRENT; v3 unlabeled.
func destroyFixture(t *testing.T, s coffer.Store) (sec *coffer.Secret, v1, v2, v3 *coffer.Version) {
	t.Helper()
	sec = withSecret(t, s, "destroyed")
	v1 = newVersion(sec.ARN, versionID(1), at(time.Second), maxSealedSize)
	v1.Binary = true
	v1.LastAccessedDate = time.Date(2024, 5, 17, 0, 0, 0, 0, time.UTC)
	v2 = newVersion(sec.ARN, versionID(2), at(2*time.Second), 64)
	v3 = newVersion(sec.ARN, versionID(3), at(3*time.Second), 32)
	update(t, s, func(tx coffer.Tx) error {
		for _, v := range []*coffer.Version{v1, v2, v3} {
			if err := tx.InsertVersion(v); err != nil {
				return err
			}
		}
		if err := tx.SetStage(sec.ARN, coffer.StagePrevious, v1.VersionID); err != nil {
			return err
		}
		if err := tx.SetStage(sec.ARN, "custom", v1.VersionID); err != nil {
			return err
		}
		return tx.SetStage(sec.ARN, coffer.StageCurrent, v2.VersionID)
	})
	v1.Stages = []string{coffer.StagePrevious, "custom"}
	v2.Stages = []string{coffer.StageCurrent}
	return sec, v1, v2, v3
}

// destroyed returns v as DestroyVersion at when leaves it: no wrapped key, no ciphertext,
// everything else kept.
func destroyed(v *coffer.Version, when time.Time) *coffer.Version {
	d := *v
	d.WrappedKey, d.Ciphertext = nil, nil
	d.DestroyedDate = when
	return &d
}

// checkAllVersions fails the test unless Versions and Version return want, in order.
func checkAllVersions(t *testing.T, s coffer.Store, arn, what string, want ...*coffer.Version) {
	t.Helper()
	view(t, s, func(tx coffer.Tx) error {
		vs, err := tx.Versions(arn)
		if err != nil {
			t.Fatalf("%s: Versions: %v", what, err)
		}
		if len(vs) != len(want) {
			t.Fatalf("%s: Versions: got %d versions, want %d", what, len(vs), len(want))
		}
		for i, w := range want {
			checkVersion(t, what+": Versions["+w.VersionID+"]", vs[i], w)
			if vs[i].Destroyed() != !w.DestroyedDate.IsZero() {
				t.Errorf("%s: Versions[%s].Destroyed() = %v", what, w.VersionID, vs[i].Destroyed())
			}
			got, err := tx.Version(arn, w.VersionID)
			if err != nil {
				t.Fatalf("%s: Version(%s): %v", what, w.VersionID, err)
			}
			checkVersion(t, what+": Version("+w.VersionID+")", got, w)
			if w.DestroyedDate.IsZero() {
				continue
			}
			if len(got.WrappedKey) != 0 || len(got.Ciphertext) != 0 {
				t.Errorf("%s: destroyed version %s still has %d + %d sealed bytes", what, w.VersionID, len(got.WrappedKey), len(got.Ciphertext))
			}
		}
		return nil
	})
}

func testDestroyVersion(t *testing.T, s coffer.Store) {
	sec, v1, v2, v3 := destroyFixture(t, s)
	when := at(time.Hour + 7*time.Millisecond)

	// A labeled version: the store does not judge (the core refuses that); it keeps the labels.
	update(t, s, func(tx coffer.Tx) error { return tx.DestroyVersion(sec.ARN, v1.VersionID, when) })
	d1 := destroyed(v1, when)
	checkAllVersions(t, s, sec.ARN, "after DestroyVersion(v1)", d1, v2, v3)

	// Again, later: nothing changes, the first DestroyedDate stays.
	update(t, s, func(tx coffer.Tx) error { return tx.DestroyVersion(sec.ARN, v1.VersionID, at(2*time.Hour)) })
	checkAllVersions(t, s, sec.ARN, "after destroying v1 twice", d1, v2, v3)

	// Two in one transaction, one of them twice.
	when3 := at(3 * time.Hour)
	update(t, s, func(tx coffer.Tx) error {
		if err := tx.DestroyVersion(sec.ARN, v3.VersionID, when3); err != nil {
			return err
		}
		if err := tx.DestroyVersion(sec.ARN, v3.VersionID, when3.Add(time.Second)); err != nil {
			return err
		}
		return tx.DestroyVersion(sec.ARN, v1.VersionID, when3)
	})
	d3 := destroyed(v3, when3)
	checkAllVersions(t, s, sec.ARN, "after destroying v3", d1, v2, d3)

	// A destroyed version's labels still move, and it can be deleted.
	update(t, s, func(tx coffer.Tx) error {
		if err := tx.SetStage(sec.ARN, coffer.StagePrevious, v2.VersionID); err != nil {
			return err
		}
		return tx.SetStage(sec.ARN, "other", v3.VersionID)
	})
	d1.Stages = []string{"custom"}
	v2.Stages = []string{coffer.StageCurrent, coffer.StagePrevious}
	d3.Stages = []string{"other"}
	checkAllVersions(t, s, sec.ARN, "after moving labels", d1, v2, d3)
	update(t, s, func(tx coffer.Tx) error { return tx.DeleteVersion(sec.ARN, v1.VersionID) })
	checkAllVersions(t, s, sec.ARN, "after deleting v1", v2, d3)

	// Only that secret's version is destroyed: the same id elsewhere is another version.
	other := withSecret(t, s, "other")
	ov := newVersion(other.ARN, v2.VersionID, at(0), 16)
	update(t, s, func(tx coffer.Tx) error {
		if err := tx.InsertVersion(ov); err != nil {
			return err
		}
		return tx.DestroyVersion(other.ARN, v2.VersionID, when)
	})
	checkAllVersions(t, s, sec.ARN, "after destroying the same id in another secret", v2, d3)
	checkAllVersions(t, s, other.ARN, "the other secret", destroyed(ov, when))
}

func testDestroyVersionNotFound(t *testing.T, s coffer.Store) {
	sec, v1, v2, v3 := destroyFixture(t, s)
	err := s.Update(t.Context(), func(tx coffer.Tx) error {
		return tx.DestroyVersion(sec.ARN, versionID(9), at(time.Hour))
	})
	wantNotFound(t, "DestroyVersion of a missing version", err)
	err = s.Update(t.Context(), func(tx coffer.Tx) error {
		return tx.DestroyVersion(sec.ARN+"x", v1.VersionID, at(time.Hour))
	})
	wantNotFound(t, "DestroyVersion on a missing secret", err)

	// NotFound leaves the transaction usable.
	update(t, s, func(tx coffer.Tx) error {
		wantNotFound(t, "DestroyVersion of a missing version", tx.DestroyVersion(sec.ARN, versionID(9), at(time.Hour)))
		return tx.DestroyVersion(sec.ARN, v3.VersionID, at(time.Hour))
	})
	checkAllVersions(t, s, sec.ARN, "after a NotFound", v1, v2, destroyed(v3, at(time.Hour)))

	// A View cannot destroy.
	err = s.View(t.Context(), func(tx coffer.Tx) error {
		if err := tx.DestroyVersion(sec.ARN, v1.VersionID, at(time.Hour)); err == nil {
			t.Errorf("DestroyVersion inside View: got no error, want one")
		}
		return nil
	})
	if err != nil {
		t.Errorf("View after a rejected DestroyVersion: %v", err)
	}
	checkAllVersions(t, s, sec.ARN, "after DestroyVersion in a View", v1, v2, destroyed(v3, at(time.Hour)))
}

func testDestroyVersionRollsBack(t *testing.T, s coffer.Store) {
	sec, v1, v2, v3 := destroyFixture(t, s)
	sentinel := &errSentinel{"after destroying"}
	err := s.Update(t.Context(), func(tx coffer.Tx) error {
		if err := tx.DestroyVersion(sec.ARN, v1.VersionID, at(time.Hour)); err != nil {
			t.Fatalf("DestroyVersion: %v", err)
		}
		return sentinel
	})
	if err != error(sentinel) {
		t.Errorf("Update returned %v, want the error of fn unchanged", err)
	}
	checkAllVersions(t, s, sec.ARN, "after a rolled-back DestroyVersion", v1, v2, v3)
}
