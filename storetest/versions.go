package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

// maxSealedSize is the largest sealed value the core stores: a 65,536-byte SecretBinary plus
// a format byte, a 12-byte nonce and a 16-byte GCM tag, with room to spare.
const maxSealedSize = 65536 + 1 + 12 + 16 + 64

// withSecret inserts a minimal secret and returns it.
func withSecret(t *testing.T, s coffer.Store, name string) *coffer.Secret {
	t.Helper()
	sec := newSecret(namespace(accountA, regionA), name, at(0))
	insertSecrets(t, s, sec)
	return sec
}

// getVersions reads every version of a secret in its own View.
func getVersions(t *testing.T, s coffer.Store, arn string) []*coffer.Version {
	t.Helper()
	var vs []*coffer.Version
	view(t, s, func(tx coffer.Tx) error {
		var err error
		vs, err = tx.Versions(arn)
		return err
	})
	return vs
}

func testVersionRoundTrip(t *testing.T, s coffer.Store) {
	sec := withSecret(t, s, "versioned")

	text := newVersion(sec.ARN, versionID(1), at(time.Second), 45)
	text.LastAccessedDate = time.Date(2024, 5, 17, 0, 0, 0, 0, time.UTC)
	text.Stages = []string{coffer.StageCurrent} // ignored by InsertVersion

	big := newVersion(sec.ARN, "EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE-with-a-longer-token-64chars", at(2*time.Second), maxSealedSize)
	big.Binary = true
	big.KMSKeyID = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	big.WrappedKey = make([]byte, 1+12+32+16)
	big.Ciphertext[0], big.Ciphertext[len(big.Ciphertext)-1] = 0, 0

	empty := newVersion(sec.ARN, versionID(3), at(3*time.Second), 0)
	empty.WrappedKey = nil
	empty.KMSKeyID = ""

	update(t, s, func(tx coffer.Tx) error {
		for _, v := range []*coffer.Version{text, big, empty} {
			if err := tx.InsertVersion(v); err != nil {
				return err
			}
		}
		return nil
	})

	text.Stages = nil
	view(t, s, func(tx coffer.Tx) error {
		for _, want := range []*coffer.Version{text, big, empty} {
			got, err := tx.Version(sec.ARN, want.VersionID)
			if err != nil {
				t.Errorf("Version(%q): %v", want.VersionID, err)
				continue
			}
			checkVersion(t, "Version("+want.VersionID+")", got, want)
			if len(got.Stages) != 0 {
				t.Errorf("Version(%q): got stages %q, want none (InsertVersion ignores Stages)", want.VersionID, got.Stages)
			}
		}
		vs, err := tx.Versions(sec.ARN)
		if err != nil {
			t.Fatalf("Versions: %v", err)
		}
		if got, want := len(vs), 3; got != want {
			t.Fatalf("Versions: got %d versions, want %d", got, want)
		}
		checkVersion(t, "Versions[0]", vs[0], text)
		checkVersion(t, "Versions[1]", vs[1], big)
		checkVersion(t, "Versions[2]", vs[2], empty)
		return nil
	})
}

func testVersionNotFound(t *testing.T, s coffer.Store) {
	sec := withSecret(t, s, "versionless")
	view(t, s, func(tx coffer.Tx) error {
		_, err := tx.Version(sec.ARN, versionID(1))
		wantNotFound(t, "Version of a missing version", err)
		_, err = tx.Version(sec.ARN+"x", versionID(1))
		wantNotFound(t, "Version of a missing secret", err)
		_, err = tx.Versions(sec.ARN + "x")
		wantNotFound(t, "Versions of a missing secret", err)
		vs, err := tx.Versions(sec.ARN)
		if err != nil {
			t.Errorf("Versions of a secret without versions: %v", err)
		}
		if len(vs) != 0 {
			t.Errorf("Versions of a secret without versions: got %d, want none", len(vs))
		}
		return nil
	})

	err := s.Update(t.Context(), func(tx coffer.Tx) error {
		return tx.InsertVersion(newVersion(sec.ARN+"x", versionID(1), at(0), 16))
	})
	wantNotFound(t, "InsertVersion for a missing secret", err)
	err = s.Update(t.Context(), func(tx coffer.Tx) error {
		return tx.UpdateVersion(newVersion(sec.ARN, versionID(1), at(0), 16))
	})
	wantNotFound(t, "UpdateVersion of a missing version", err)
	err = s.Update(t.Context(), func(tx coffer.Tx) error { return tx.DeleteVersion(sec.ARN, versionID(1)) })
	wantNotFound(t, "DeleteVersion of a missing version", err)
	err = s.Update(t.Context(), func(tx coffer.Tx) error { return tx.SetStage(sec.ARN, coffer.StageCurrent, versionID(1)) })
	wantNotFound(t, "SetStage on a missing version", err)
	err = s.Update(t.Context(), func(tx coffer.Tx) error {
		return tx.SetStage(sec.ARN+"x", coffer.StageCurrent, versionID(1))
	})
	wantNotFound(t, "SetStage on a missing secret", err)
}

func testVersionDuplicate(t *testing.T, s coffer.Store) {
	sec := withSecret(t, s, "one")
	other := withSecret(t, s, "two")
	orig := newVersion(sec.ARN, versionID(1), at(time.Second), 16)
	update(t, s, func(tx coffer.Tx) error { return tx.InsertVersion(orig) })

	dup := newVersion(sec.ARN, versionID(1), at(2*time.Second), 99)
	err := s.Update(t.Context(), func(tx coffer.Tx) error { return tx.InsertVersion(dup) })
	wantExists(t, "InsertVersion with a version id in use", err)

	// The same id on another secret is another version.
	elsewhere := newVersion(other.ARN, versionID(1), at(3*time.Second), 8)
	update(t, s, func(tx coffer.Tx) error { return tx.InsertVersion(elsewhere) })

	view(t, s, func(tx coffer.Tx) error {
		got, err := tx.Version(sec.ARN, versionID(1))
		if err != nil {
			t.Fatalf("Version: %v", err)
		}
		checkVersion(t, "original version", got, orig)
		got, err = tx.Version(other.ARN, versionID(1))
		if err != nil {
			t.Fatalf("Version: %v", err)
		}
		checkVersion(t, "same id on another secret", got, elsewhere)
		return nil
	})
}

func testUpdateVersion(t *testing.T, s coffer.Store) {
	sec := withSecret(t, s, "rewrapped")
	orig := newVersion(sec.ARN, versionID(1), at(time.Second), 64)
	update(t, s, func(tx coffer.Tx) error {
		if err := tx.InsertVersion(orig); err != nil {
			return err
		}
		return tx.SetStage(sec.ARN, coffer.StageCurrent, orig.VersionID)
	})

	want := *orig
	want.KMSKeyID = "key-2"
	want.WrappedKey = []byte{9, 8, 7, 6, 5, 4, 3, 2, 1}
	want.Ciphertext = newVersion("", "", time.Time{}, maxSealedSize).Ciphertext
	want.LastAccessedDate = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	want.Stages = nil // ignored by UpdateVersion
	update(t, s, func(tx coffer.Tx) error { return tx.UpdateVersion(&want) })

	want.Stages = []string{coffer.StageCurrent}
	view(t, s, func(tx coffer.Tx) error {
		got, err := tx.Version(sec.ARN, orig.VersionID)
		if err != nil {
			t.Fatalf("Version: %v", err)
		}
		checkVersion(t, "after UpdateVersion", got, &want)
		return nil
	})

	// CreatedDate is not among what UpdateVersion replaces.
	changed := want
	changed.CreatedDate = at(time.Hour)
	update(t, s, func(tx coffer.Tx) error { return tx.UpdateVersion(&changed) })
	vs := getVersions(t, s, sec.ARN)
	if len(vs) != 1 {
		t.Fatalf("Versions: got %d, want 1", len(vs))
	}
	if d := diffTime("CreatedDate after UpdateVersion", vs[0].CreatedDate, orig.CreatedDate); d != "" {
		t.Error(d)
	}
}

func testDeleteVersion(t *testing.T, s coffer.Store) {
	sec := withSecret(t, s, "pruned")
	update(t, s, func(tx coffer.Tx) error {
		for i := 1; i <= 3; i++ {
			if err := tx.InsertVersion(newVersion(sec.ARN, versionID(i), at(time.Duration(i)*time.Second), 16)); err != nil {
				return err
			}
		}
		for _, st := range []struct{ stage, id string }{
			{coffer.StagePrevious, versionID(1)},
			{"custom", versionID(1)},
			{coffer.StageCurrent, versionID(2)},
		} {
			if err := tx.SetStage(sec.ARN, st.stage, st.id); err != nil {
				return err
			}
		}
		return nil
	})

	update(t, s, func(tx coffer.Tx) error { return tx.DeleteVersion(sec.ARN, versionID(1)) })

	vs := getVersions(t, s, sec.ARN)
	var ids []string
	for _, v := range vs {
		ids = append(ids, v.VersionID)
		if v.HasStage(coffer.StagePrevious) || v.HasStage("custom") {
			t.Errorf("version %s has stages %q after the version holding them was deleted", v.VersionID, v.Stages)
		}
	}
	if got, want := ids, []string{versionID(2), versionID(3)}; !slices.Equal(got, want) {
		t.Fatalf("Versions after DeleteVersion: got %q, want %q", got, want)
	}
	if got, want := vs[0].Stages, []string{coffer.StageCurrent}; !slices.Equal(got, want) {
		t.Errorf("stages of the remaining version: got %q, want %q", got, want)
	}

	// The freed labels can be set again, and the freed id reused.
	update(t, s, func(tx coffer.Tx) error {
		if err := tx.SetStage(sec.ARN, coffer.StagePrevious, versionID(3)); err != nil {
			return err
		}
		return tx.InsertVersion(newVersion(sec.ARN, versionID(1), at(time.Hour), 16))
	})
}

func testVersionsOrder(t *testing.T, s coffer.Store) {
	sec := withSecret(t, s, "ordered")
	// Inserted out of order; two share a CreatedDate and must be ordered by VersionID.
	inserts := []struct {
		id      string
		created time.Time
	}{
		{versionID(40), at(2 * time.Second)},
		{versionID(20), at(time.Second)},
		{versionID(10), at(time.Second)},
		{versionID(30), at(3 * time.Second)},
		{versionID(5), at(-time.Hour)},
	}
	update(t, s, func(tx coffer.Tx) error {
		for _, in := range inserts {
			if err := tx.InsertVersion(newVersion(sec.ARN, in.id, in.created, 8)); err != nil {
				return err
			}
		}
		return nil
	})
	var got []string
	for _, v := range getVersions(t, s, sec.ARN) {
		got = append(got, v.VersionID)
	}
	want := []string{versionID(5), versionID(10), versionID(20), versionID(40), versionID(30)}
	if !slices.Equal(got, want) {
		t.Errorf("Versions order: got %q, want %q", got, want)
	}
	// VersionHeaders gives them in the same order, in a View and in an Update.
	headers := func(what string, tx coffer.Tx) error {
		vs, err := tx.VersionHeaders(sec.ARN)
		if err != nil {
			return err
		}
		var got []string
		for _, v := range vs {
			got = append(got, v.VersionID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("VersionHeaders order in %s: got %q, want %q", what, got, want)
		}
		return nil
	}
	view(t, s, func(tx coffer.Tx) error { return headers("a View", tx) })
	update(t, s, func(tx coffer.Tx) error { return headers("an Update", tx) })
}

// stagesByVersion reads every version's stages.
func stagesByVersion(t *testing.T, s coffer.Store, arn string) map[string][]string {
	t.Helper()
	m := make(map[string][]string)
	for _, v := range getVersions(t, s, arn) {
		m[v.VersionID] = v.Stages
	}
	return m
}

// checkStages fails the test unless each version carries exactly the labels in want (absent
// versions carry none), in ascending order, in both Versions and Version.
func checkStages(t *testing.T, s coffer.Store, arn, what string, want map[string][]string) {
	t.Helper()
	got := stagesByVersion(t, s, arn)
	for id, stages := range got {
		if !slices.Equal(stages, want[id]) {
			t.Errorf("%s: Versions: version %s has stages %q, want %q", what, id, stages, want[id])
		}
	}
	view(t, s, func(tx coffer.Tx) error {
		for id := range got {
			v, err := tx.Version(arn, id)
			if err != nil {
				t.Fatalf("Version(%s): %v", id, err)
			}
			if !slices.Equal(v.Stages, want[id]) {
				t.Errorf("%s: Version: version %s has stages %q, want %q", what, id, v.Stages, want[id])
			}
		}
		return nil
	})
}

func testStages(t *testing.T, s coffer.Store) {
	sec := withSecret(t, s, "staged")
	v1, v2 := versionID(1), versionID(2)
	update(t, s, func(tx coffer.Tx) error {
		for i, id := range []string{v1, v2} {
			if err := tx.InsertVersion(newVersion(sec.ARN, id, at(time.Duration(i)*time.Second), 8)); err != nil {
				return err
			}
		}
		return nil
	})
	set := func(stage, id string) {
		t.Helper()
		update(t, s, func(tx coffer.Tx) error { return tx.SetStage(sec.ARN, stage, id) })
	}

	checkStages(t, s, sec.ARN, "no labels", map[string][]string{})

	// Several labels on one version come back sorted ascending, whatever the order set.
	set("zeta", v1)
	set(coffer.StagePending, v1)
	set(coffer.StageCurrent, v1)
	set("Alpha", v1)
	set(coffer.StageCurrent, v1) // setting a label where it already is changes nothing
	checkStages(t, s, sec.ARN, "four labels on v1", map[string][]string{
		v1: {coffer.StageCurrent, coffer.StagePending, "Alpha", "zeta"},
	})

	// A label moves: it is on at most one version.
	set(coffer.StageCurrent, v2)
	set("zeta", v2)
	checkStages(t, s, sec.ARN, "two labels moved to v2", map[string][]string{
		v1: {coffer.StagePending, "Alpha"},
		v2: {coffer.StageCurrent, "zeta"},
	})

	update(t, s, func(tx coffer.Tx) error {
		if err := tx.RemoveStage(sec.ARN, coffer.StagePending); err != nil {
			return err
		}
		if err := tx.RemoveStage(sec.ARN, "never-set"); err != nil {
			t.Errorf("RemoveStage of a label no version has: %v", err)
		}
		return nil
	})
	checkStages(t, s, sec.ARN, "after RemoveStage", map[string][]string{
		v1: {"Alpha"},
		v2: {coffer.StageCurrent, "zeta"},
	})

	// A version that does not exist takes no label, and the label stays where it was.
	update(t, s, func(tx coffer.Tx) error {
		wantNotFound(t, "SetStage on a missing version", tx.SetStage(sec.ARN, coffer.StageCurrent, versionID(99)))
		return nil
	})
	checkStages(t, s, sec.ARN, "after SetStage on a missing version", map[string][]string{
		v1: {"Alpha"},
		v2: {coffer.StageCurrent, "zeta"},
	})

	// A rotation in one transaction: the new version becomes current, the old one previous.
	update(t, s, func(tx coffer.Tx) error {
		if err := tx.InsertVersion(newVersion(sec.ARN, versionID(3), at(time.Hour), 8)); err != nil {
			return err
		}
		if err := tx.SetStage(sec.ARN, coffer.StagePrevious, v2); err != nil {
			return err
		}
		return tx.SetStage(sec.ARN, coffer.StageCurrent, versionID(3))
	})
	checkStages(t, s, sec.ARN, "after a rotation", map[string][]string{
		v1:           {"Alpha"},
		v2:           {coffer.StagePrevious, "zeta"},
		versionID(3): {coffer.StageCurrent},
	})
}

func testStagesPerSecret(t *testing.T, s coffer.Store) {
	a := withSecret(t, s, "a")
	b := withSecret(t, s, "b")
	update(t, s, func(tx coffer.Tx) error {
		for _, sec := range []*coffer.Secret{a, b} {
			if err := tx.InsertVersion(newVersion(sec.ARN, versionID(1), at(0), 8)); err != nil {
				return err
			}
			if err := tx.SetStage(sec.ARN, coffer.StageCurrent, versionID(1)); err != nil {
				return err
			}
		}
		return tx.RemoveStage(a.ARN, coffer.StageCurrent)
	})
	checkStages(t, s, a.ARN, "secret a", map[string][]string{})
	checkStages(t, s, b.ARN, "secret b", map[string][]string{versionID(1): {coffer.StageCurrent}})
}
