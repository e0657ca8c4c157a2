package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

// bindingString renders a binding for messages, stages included.
func bindingString(b *coffer.KeyBinding) string {
	return fmt.Sprintf("{%s %s %s %q deleted=%v}", b.SecretARN, b.SecretName, b.VersionID, b.Stages, b.SecretDeleted)
}

// bindingStrings renders bindings for messages and comparisons. No stages and empty stages
// render alike.
func bindingStrings(bs []*coffer.KeyBinding) []string {
	out := make([]string, 0, len(bs))
	for _, b := range bs {
		c := *b
		if len(c.Stages) == 0 {
			c.Stages = nil
		}
		out = append(out, bindingString(&c))
	}
	return out
}

// keyBindings reads one page of KeyBindings in its own View.
func keyBindings(t *testing.T, s coffer.Store, keyID, afterARN, afterVersion string, limit int) []*coffer.KeyBinding {
	t.Helper()
	var got []*coffer.KeyBinding
	view(t, s, func(tx coffer.Tx) error {
		var err error
		got, err = tx.KeyBindings(keyID, afterARN, afterVersion, limit)
		return err
	})
	return got
}

func testKeyBindings(t *testing.T, s coffer.Store) {
	const key, otherKey = "key-bound", "key-other"
	a, b := namespace(accountA, regionA), namespace(accountB, regionB)
	live := newSecret(a, "bound/live", at(0))
	bare := newSecret(b, "bound/bare", at(0)) // another namespace: bindings span them all
	deleted := newSecret(a, "bound/deleted", at(0))
	deleted.DeletedDate, deleted.PurgeDate = at(time.Hour), at(time.Hour+7*24*time.Hour)
	unbound := newSecret(a, "unbound", at(0))
	insertSecrets(t, s, live, bare, deleted, unbound)

	version := func(sec *coffer.Secret, n int, keyID string) *coffer.Version {
		v := newVersion(sec.ARN, versionID(n), at(time.Duration(n)*time.Second), 16)
		v.KMSKeyID = keyID
		return v
	}
	// The ids do not follow the creation order: bindings order by id.
	versions := []*coffer.Version{
		version(live, 3, key),      // AWSPREVIOUS, zeta, Alpha
		version(live, 1, key),      // AWSCURRENT
		version(live, 2, key),      // destroyed
		version(live, 4, otherKey), // another key
		version(live, 5, otherKey), // rewrapped under key below
		version(live, 6, key),      // no label
		version(bare, 1, key),      // no label
		version(deleted, 2, key),   // AWSCURRENT, of a secret scheduled for deletion
		version(deleted, 1, key),   // AWSPREVIOUS
		version(unbound, 1, otherKey),
	}
	update(t, s, func(tx coffer.Tx) error {
		for _, v := range versions {
			if err := tx.InsertVersion(v); err != nil {
				return err
			}
		}
		for _, st := range []struct {
			sec   *coffer.Secret
			stage string
			n     int
		}{
			{live, "zeta", 3}, {live, coffer.StagePrevious, 3}, {live, "Alpha", 3}, {live, coffer.StageCurrent, 1},
			{live, "custom", 2}, {deleted, coffer.StageCurrent, 2}, {deleted, coffer.StagePrevious, 1},
			{unbound, coffer.StageCurrent, 1},
		} {
			if err := tx.SetStage(st.sec.ARN, st.stage, versionID(st.n)); err != nil {
				return err
			}
		}
		if err := tx.DestroyVersion(live.ARN, versionID(2), at(time.Hour)); err != nil {
			return err
		}
		rewrapped := *versions[4]
		rewrapped.KMSKeyID = key
		return tx.UpdateVersion(&rewrapped)
	})

	binding := func(sec *coffer.Secret, n int, stages ...string) *coffer.KeyBinding {
		return &coffer.KeyBinding{SecretARN: sec.ARN, SecretName: sec.Name, VersionID: versionID(n),
			Stages: stages, SecretDeleted: sec.Deleted()}
	}
	all := []*coffer.KeyBinding{
		binding(live, 1, coffer.StageCurrent),
		binding(live, 3, coffer.StagePrevious, "Alpha", "zeta"),
		binding(live, 5),
		binding(live, 6),
		binding(bare, 1),
		binding(deleted, 1, coffer.StagePrevious),
		binding(deleted, 2, coffer.StageCurrent),
	}
	slices.SortStableFunc(all, func(x, y *coffer.KeyBinding) int { return cmp.Compare(x.SecretARN, y.SecretARN) })
	want := bindingStrings(all)
	if !all[slices.IndexFunc(all, func(b *coffer.KeyBinding) bool { return b.SecretARN == deleted.ARN })].SecretDeleted {
		t.Fatal("the suite's own fixture: the deleted secret's binding is not flagged")
	}

	for _, limit := range []int{0, -1, 100} {
		if got := bindingStrings(keyBindings(t, s, key, "", "", limit)); !slices.Equal(got, want) {
			t.Errorf("KeyBindings(limit %d):\n got %q\nwant %q", limit, got, want)
		}
	}
	for _, limit := range []int{1, 2, 3} {
		var got []string
		afterARN, afterVersion := "", ""
		for pages := 0; ; pages++ {
			if pages > len(all)+1 {
				t.Fatalf("KeyBindings(limit %d): no end after %d pages", limit, pages)
			}
			page := keyBindings(t, s, key, afterARN, afterVersion, limit)
			if len(page) > limit {
				t.Fatalf("KeyBindings(limit %d): got a page of %d", limit, len(page))
			}
			got = append(got, bindingStrings(page)...)
			if len(page) < limit {
				break
			}
			afterARN, afterVersion = page[len(page)-1].SecretARN, page[len(page)-1].VersionID
		}
		if !slices.Equal(got, want) {
			t.Errorf("KeyBindings walked by %d:\n got %q\nwant %q", limit, got, want)
		}
	}

	// The cursor is a position: after (live, v2), which is destroyed, comes (live, v3); after a
	// secret's ARN with an empty version id comes that secret's first version.
	if got, w := bindingStrings(keyBindings(t, s, key, live.ARN, versionID(2), 1)), bindingStrings([]*coffer.KeyBinding{binding(live, 3, coffer.StagePrevious, "Alpha", "zeta")}); !slices.Equal(got, w) {
		t.Errorf("KeyBindings after a destroyed version: got %q, want %q", got, w)
	}
	if got, w := bindingStrings(keyBindings(t, s, key, deleted.ARN, "", 1)), bindingStrings([]*coffer.KeyBinding{binding(deleted, 1, coffer.StagePrevious)}); !slices.Equal(got, w) {
		t.Errorf("KeyBindings after an ARN with no version id: got %q, want %q", got, w)
	}
	last := all[len(all)-1]
	if got := keyBindings(t, s, key, last.SecretARN, last.VersionID, 0); len(got) != 0 {
		t.Errorf("KeyBindings after the last binding: got %q, want none", bindingStrings(got))
	}

	// Other keys: only their own live versions.
	if got, w := bindingStrings(keyBindings(t, s, otherKey, "", "", 0)), bindingStrings(slices.SortedFunc(slices.Values([]*coffer.KeyBinding{
		binding(live, 4), binding(unbound, 1, coffer.StageCurrent),
	}), func(x, y *coffer.KeyBinding) int { return cmp.Compare(x.SecretARN, y.SecretARN) })); !slices.Equal(got, w) {
		t.Errorf("KeyBindings(other key):\n got %q\nwant %q", got, w)
	}
	if got := keyBindings(t, s, "key-without-versions", "", "", 0); len(got) != 0 {
		t.Errorf("KeyBindings of a key protecting nothing: got %q, want none", bindingStrings(got))
	}

	// Destroying and deleting versions, and restoring a secret, show in the next call.
	update(t, s, func(tx coffer.Tx) error {
		if err := tx.DestroyVersion(live.ARN, versionID(3), at(2*time.Hour)); err != nil {
			return err
		}
		if err := tx.DeleteVersion(live.ARN, versionID(6)); err != nil {
			return err
		}
		restored := *deleted
		restored.DeletedDate, restored.PurgeDate = time.Time{}, time.Time{}
		return tx.UpdateSecret(&restored)
	})
	var after []*coffer.KeyBinding
	for _, b := range all {
		if b.SecretARN == live.ARN && (b.VersionID == versionID(3) || b.VersionID == versionID(6)) {
			continue
		}
		c := *b
		c.SecretDeleted = false
		after = append(after, &c)
	}
	if got, w := bindingStrings(keyBindings(t, s, key, "", "", 0)), bindingStrings(after); !slices.Equal(got, w) {
		t.Errorf("KeyBindings after destroying, deleting and restoring:\n got %q\nwant %q", got, w)
	}
}
