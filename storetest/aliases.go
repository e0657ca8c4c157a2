package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

// newAlias returns an alias of ns named name for keyID, created and last updated at created.
func newAlias(ns coffer.Namespace, name, keyID string, created time.Time) *coffer.Alias {
	return &coffer.Alias{Namespace: ns, Name: name, KeyID: keyID, CreatedDate: created, LastUpdatedDate: created}
}

// diffAlias lists the fields in which got differs from want.
func diffAlias(got, want *coffer.Alias) []string {
	var d []string
	if got.Namespace != want.Namespace {
		d = append(d, fmt.Sprintf("Namespace: got %s, want %s", got.Namespace, want.Namespace))
	}
	if got.Name != want.Name {
		d = append(d, fmt.Sprintf("Name: got %q, want %q", got.Name, want.Name))
	}
	if got.KeyID != want.KeyID {
		d = append(d, fmt.Sprintf("KeyID: got %q, want %q", got.KeyID, want.KeyID))
	}
	if s := diffTime("CreatedDate", got.CreatedDate, want.CreatedDate); s != "" {
		d = append(d, s)
	}
	if s := diffTime("LastUpdatedDate", got.LastUpdatedDate, want.LastUpdatedDate); s != "" {
		d = append(d, s)
	}
	return d
}

// aliasNames returns the names of aliases, in order.
func aliasNames(aliases []*coffer.Alias) []string {
	names := make([]string, 0, len(aliases))
	for _, a := range aliases {
		names = append(names, a.Name)
	}
	return names
}

// checkAliases fails the test unless ListAliases(ns, keyID, after, limit) returns want, in
// order, every field equal.
func checkAliases(t *testing.T, s coffer.Store, what string, ns coffer.Namespace, keyID, after string, limit int, want ...*coffer.Alias) {
	t.Helper()
	var got []*coffer.Alias
	view(t, s, func(tx coffer.Tx) error {
		var err error
		got, err = tx.ListAliases(ns, keyID, after, limit)
		return err
	})
	if !slices.Equal(aliasNames(got), aliasNames(want)) {
		t.Errorf("%s: got %q, want %q", what, aliasNames(got), aliasNames(want))
		return
	}
	for i, w := range want {
		for _, d := range diffAlias(got[i], w) {
			t.Errorf("%s[%d]: %s", what, i, d)
		}
	}
}

// getAlias reads an alias in its own View.
func getAlias(t *testing.T, s coffer.Store, ns coffer.Namespace, name string) (*coffer.Alias, error) {
	t.Helper()
	var got *coffer.Alias
	err := s.View(t.Context(), func(tx coffer.Tx) error {
		var err error
		got, err = tx.Alias(ns, name)
		return err
	})
	return got, err
}

// checkAlias fails the test unless Alias(want.Namespace, want.Name) returns want.
func checkAlias(t *testing.T, what string, s coffer.Store, want *coffer.Alias) {
	t.Helper()
	got, err := getAlias(t, s, want.Namespace, want.Name)
	if err != nil {
		t.Errorf("%s: Alias(%s, %q): %v", what, want.Namespace, want.Name, err)
		return
	}
	for _, d := range diffAlias(got, want) {
		t.Errorf("%s: %s", what, d)
	}
}

func testAliases(t *testing.T, s coffer.Store) {
	a, b := namespace(accountA, regionA), namespace(accountA, regionB)
	k1, k2, kb := newKey(a, keyUUID(1), at(0)), newKey(a, keyUUID(2), at(0)), newKey(b, keyUUID(3), at(0))
	insertKeys(t, s, k1, k2, kb)

	first := newAlias(a, "alias/prod/db", k1.ID, at(time.Second))
	first.LastUpdatedDate = at(2 * time.Second)
	second := newAlias(a, "alias/Ünïcode-_/", k2.ID, at(3*time.Second))
	// The same name in another namespace is another alias.
	sameName := newAlias(b, first.Name, kb.ID, at(4*time.Second))
	update(t, s, func(tx coffer.Tx) error {
		for _, al := range []*coffer.Alias{first, second, sameName} {
			if err := tx.InsertAlias(al); err != nil {
				return fmt.Errorf("InsertAlias(%s, %q): %w", al.Namespace, al.Name, err)
			}
		}
		return nil
	})
	for _, al := range []*coffer.Alias{first, second, sameName} {
		checkAlias(t, "after InsertAlias", s, al)
	}

	// A taken name collides, whatever key the new alias is for; the original stays.
	err := s.Update(t.Context(), func(tx coffer.Tx) error { return tx.InsertAlias(newAlias(a, first.Name, k2.ID, at(time.Hour))) })
	wantExists(t, "InsertAlias of a name in use", err)
	checkAlias(t, "after a colliding InsertAlias", s, first)

	view(t, s, func(tx coffer.Tx) error {
		_, err := tx.Alias(a, "alias/PROD/db")
		wantNotFound(t, "Alias(alias/PROD/db): names are case-sensitive", err)
		_, err = tx.Alias(namespace(accountB, regionA), first.Name)
		wantNotFound(t, "Alias in another account", err)
		_, err = tx.Alias(a, "alias/missing")
		wantNotFound(t, "Alias of a missing name", err)
		return nil
	})

	// UpdateAlias moves the alias to another key and sets LastUpdatedDate only.
	moved := *first
	moved.KeyID = k2.ID
	moved.LastUpdatedDate = at(time.Hour + time.Millisecond)
	passed := moved
	passed.CreatedDate = at(5 * time.Hour)
	update(t, s, func(tx coffer.Tx) error { return tx.UpdateAlias(&passed) })
	checkAlias(t, "after UpdateAlias", s, &moved)
	checkAlias(t, "the same name in another namespace after UpdateAlias", s, sameName)

	err = s.Update(t.Context(), func(tx coffer.Tx) error {
		return tx.UpdateAlias(newAlias(a, "alias/missing", k1.ID, at(time.Hour)))
	})
	wantNotFound(t, "UpdateAlias of a missing name", err)
	err = s.Update(t.Context(), func(tx coffer.Tx) error {
		return tx.InsertAlias(newAlias(a, "alias/orphan", keyUUID(9), at(time.Hour)))
	})
	wantNotFound(t, "InsertAlias for a missing key", err)

	// DeleteAlias removes that alias only; the key stays.
	update(t, s, func(tx coffer.Tx) error { return tx.DeleteAlias(a, first.Name) })
	_, err = getAlias(t, s, a, first.Name)
	wantNotFound(t, "Alias after DeleteAlias", err)
	checkAlias(t, "the same name in another namespace after DeleteAlias", s, sameName)
	checkAlias(t, "another alias after DeleteAlias", s, second)
	if _, err := getKey(t, s, k2.ID); err != nil {
		t.Errorf("Key after DeleteAlias of one of its aliases: %v", err)
	}
	err = s.Update(t.Context(), func(tx coffer.Tx) error { return tx.DeleteAlias(a, first.Name) })
	wantNotFound(t, "DeleteAlias of a deleted alias", err)

	// The name is free again.
	again := newAlias(a, first.Name, k1.ID, at(6*time.Hour))
	update(t, s, func(tx coffer.Tx) error { return tx.InsertAlias(again) })
	checkAlias(t, "a name reused after DeleteAlias", s, again)
}

func testListAliases(t *testing.T, s coffer.Store) {
	home, other := namespace(accountA, regionA), namespace(accountB, regionA)
	k1, k2, k3 := newKey(home, keyUUID(1), at(0)), newKey(home, keyUUID(2), at(0)), newKey(other, keyUUID(3), at(0))
	insertKeys(t, s, k1, k2, k3)

	// Names order byte by byte: upper case before lower case, "-" before "/", ASCII before
	// the rest.
	var homeAliases []*coffer.Alias
	for i, tc := range []struct{ name, key string }{
		{"alias/b", k1.ID},
		{"alias/B", k2.ID},
		{"alias/a/x", k1.ID},
		{"alias/a-x", k2.ID},
		{"alias/é", k1.ID},
		{"alias/z", k1.ID},
		{"alias/aws/secretsmanager", k2.ID},
		{"alias/a", k1.ID},
	} {
		homeAliases = append(homeAliases, newAlias(home, tc.name, tc.key, at(time.Duration(i)*time.Second)))
	}
	otherAliases := []*coffer.Alias{
		newAlias(other, "alias/b", k3.ID, at(0)),
		newAlias(other, "alias/0", k3.ID, at(0)),
	}
	update(t, s, func(tx coffer.Tx) error {
		for _, al := range slices.Concat(homeAliases[:4], otherAliases, homeAliases[4:]) {
			if err := tx.InsertAlias(al); err != nil {
				return fmt.Errorf("InsertAlias(%s, %q): %w", al.Namespace, al.Name, err)
			}
		}
		return nil
	})

	sorted := func(aliases []*coffer.Alias, keyID string) []*coffer.Alias {
		var sel []*coffer.Alias
		for _, al := range aliases {
			if keyID == "" || al.KeyID == keyID {
				sel = append(sel, al)
			}
		}
		slices.SortFunc(sel, func(a, b *coffer.Alias) int { return cmp.Compare(a.Name, b.Name) })
		return sel
	}
	if got, want := aliasNames(sorted(homeAliases, "")), []string{
		"alias/B", "alias/a", "alias/a-x", "alias/a/x", "alias/aws/secretsmanager", "alias/b", "alias/z", "alias/é",
	}; !slices.Equal(got, want) {
		t.Fatalf("the suite's own byte order: got %q, want %q", got, want)
	}

	for _, tc := range []struct {
		ns    coffer.Namespace
		keyID string
		all   []*coffer.Alias
	}{
		{home, "", homeAliases},
		{home, k1.ID, homeAliases},
		{home, k2.ID, homeAliases},
		{home, k3.ID, homeAliases}, // a key of another namespace has no aliases here
		{home, keyUUID(9), homeAliases},
		{other, "", otherAliases},
		{other, k3.ID, otherAliases},
		{other, k1.ID, otherAliases},
		{namespace(accountB, regionB), "", nil},
	} {
		want := sorted(tc.all, tc.keyID)
		what := fmt.Sprintf("ListAliases(%s, key %q", tc.ns, tc.keyID)
		checkAliases(t, s, what+", no limit)", tc.ns, tc.keyID, "", 0, want...)
		checkAliases(t, s, what+", limit -1)", tc.ns, tc.keyID, "", -1, want...)
		for _, limit := range []int{1, 2, 3} {
			var got []string
			after := ""
			for pages := 0; ; pages++ {
				if pages > len(tc.all)+1 {
					t.Fatalf("%s, limit %d): no end after %d pages", what, limit, pages)
				}
				var page []*coffer.Alias
				view(t, s, func(tx coffer.Tx) error {
					var err error
					page, err = tx.ListAliases(tc.ns, tc.keyID, after, limit)
					return err
				})
				if len(page) > limit {
					t.Fatalf("%s, limit %d): got a page of %d", what, limit, len(page))
				}
				got = append(got, aliasNames(page)...)
				if len(page) < limit {
					break
				}
				after = page[len(page)-1].Name
			}
			if !slices.Equal(got, aliasNames(want)) {
				t.Errorf("%s) walked by %d:\n got %q\nwant %q", what, limit, got, aliasNames(want))
			}
		}
	}

	// afterName is a position: it need not be an alias's name.
	want := sorted(homeAliases, k1.ID)
	checkAliases(t, s, "ListAliases after a name between aliases", home, k1.ID, "alias/a-", 2, want[1], want[2])
}
