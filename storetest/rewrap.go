package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

// The walks and rewrites of root key rotation: every key material and access key, in pages,
// and the names of meta values under a prefix.

// allMaterials walks AllKeyMaterials in pages of limit and returns "keyID#version" in order.
func allMaterials(t *testing.T, s coffer.Store, limit int) ([]string, []*coffer.KeyMaterial) {
	t.Helper()
	var names []string
	var all []*coffer.KeyMaterial
	view(t, s, func(tx coffer.Tx) error {
		names, all = nil, nil
		afterID, afterVersion := "", 0
		for pages := 0; ; pages++ {
			if pages > 100 {
				return errors.New("AllKeyMaterials does not end")
			}
			page, err := tx.AllKeyMaterials(afterID, afterVersion, limit)
			if err != nil {
				return err
			}
			if limit > 0 && len(page) > limit {
				return fmt.Errorf("AllKeyMaterials returned %d materials for a limit of %d", len(page), limit)
			}
			for _, m := range page {
				names = append(names, fmt.Sprintf("%s#%d", m.KeyID, m.Version))
				all = append(all, m)
			}
			if len(page) == 0 || limit <= 0 || len(page) < limit {
				return nil
			}
			last := page[len(page)-1]
			afterID, afterVersion = last.KeyID, last.Version
		}
	})
	return names, all
}

func testAllKeyMaterials(t *testing.T, s coffer.Store) {
	if got, _ := allMaterials(t, s, 0); len(got) != 0 {
		t.Errorf("AllKeyMaterials of an empty store: got %q", got)
	}
	// Keys of two namespaces; ids whose byte order differs from their insertion order.
	nsA, nsB := namespace(accountA, regionA), namespace(accountB, regionB)
	k1, k2, k3 := newKey(nsB, keyUUID(1), at(0)), newKey(nsA, keyUUID(2), at(0)), newKey(nsA, keyUUID(3), at(0))
	insertKeys(t, s, k3, k1, k2)
	want := map[string]*coffer.KeyMaterial{}
	update(t, s, func(tx coffer.Tx) error {
		for _, m := range []*coffer.KeyMaterial{
			newMaterial(k3.ID, 1, at(0), ""),
			newMaterial(k1.ID, 10, at(3*time.Hour), coffer.RotationOnDemand), // 10 after 2: numbers
			newMaterial(k1.ID, 1, at(0), ""),
			newMaterial(k1.ID, 2, at(time.Hour), coffer.RotationAutomatic),
			newMaterial(k2.ID, 1, at(0), ""),
		} {
			want[fmt.Sprintf("%s#%d", m.KeyID, m.Version)] = m
			if err := tx.InsertKeyMaterial(m); err != nil {
				return err
			}
		}
		return nil
	})
	order := []string{k1.ID + "#1", k1.ID + "#2", k1.ID + "#10", k2.ID + "#1", k3.ID + "#1"}
	for _, limit := range []int{0, -1, 1, 2, 5, 6} {
		got, ms := allMaterials(t, s, limit)
		if !slices.Equal(got, order) {
			t.Errorf("AllKeyMaterials in pages of %d: got %q, want %q", limit, got, order)
			continue
		}
		for i, m := range ms {
			w := want[got[i]]
			if m.RotationType != w.RotationType || !bytes.Equal(m.Wrapped, w.Wrapped) {
				t.Errorf("AllKeyMaterials: %s differs from what was stored (rotation type %q, want %q; wrapped bytes equal: %v)",
					got[i], m.RotationType, w.RotationType, bytes.Equal(m.Wrapped, w.Wrapped))
			}
			if d := diffTime(got[i]+".CreatedDate", m.CreatedDate, w.CreatedDate); d != "" {
				t.Error(d)
			}
		}
	}
	// A cursor between two materials, and one after the last.
	view(t, s, func(tx coffer.Tx) error {
		page, err := tx.AllKeyMaterials(k1.ID, 2, 2)
		if err != nil {
			return err
		}
		if len(page) != 2 || page[0].KeyID != k1.ID || page[0].Version != 10 || page[1].KeyID != k2.ID {
			t.Errorf("AllKeyMaterials after (k1, 2): got %d materials, want k1#10 and k2#1", len(page))
		}
		page, err = tx.AllKeyMaterials(k3.ID, 1, 0)
		if err != nil {
			return err
		}
		if len(page) != 0 {
			t.Errorf("AllKeyMaterials after the last: got %d materials", len(page))
		}
		return nil
	})
}

func testUpdateKeyMaterial(t *testing.T, s coffer.Store) {
	ns := namespace(accountA, regionA)
	k := newKey(ns, keyUUID(1), at(0))
	insertKeys(t, s, k)
	m1 := newMaterial(k.ID, 1, at(0), "")
	m2 := newMaterial(k.ID, 2, at(time.Hour), coffer.RotationOnDemand)
	update(t, s, func(tx coffer.Tx) error {
		if err := tx.InsertKeyMaterial(m1); err != nil {
			return err
		}
		return tx.InsertKeyMaterial(m2)
	})
	// Only Wrapped changes: the other fields given are ignored.
	rewrapped := &coffer.KeyMaterial{KeyID: k.ID, Version: 2, Wrapped: bytes.Repeat([]byte{0xA5}, 61),
		CreatedDate: at(99 * time.Hour), RotationType: coffer.RotationAutomatic}
	update(t, s, func(tx coffer.Tx) error { return tx.UpdateKeyMaterial(rewrapped) })
	want2 := *m2
	want2.Wrapped = rewrapped.Wrapped
	checkMaterials(t, s, "KeyMaterials after UpdateKeyMaterial", k.ID, m1, &want2)

	for _, missing := range []*coffer.KeyMaterial{
		{KeyID: k.ID, Version: 3, Wrapped: []byte{1}},
		{KeyID: keyUUID(9), Version: 1, Wrapped: []byte{1}},
	} {
		err := s.Update(t.Context(), func(tx coffer.Tx) error { return tx.UpdateKeyMaterial(missing) })
		wantNotFound(t, fmt.Sprintf("UpdateKeyMaterial(%s, %d) of a missing material", missing.KeyID, missing.Version), err)
	}
	// The transaction stays usable after NotFound, and a rollback undoes the update.
	boom := &errSentinel{"roll back"}
	err := s.Update(t.Context(), func(tx coffer.Tx) error {
		if err := tx.UpdateKeyMaterial(&coffer.KeyMaterial{KeyID: k.ID, Version: 7, Wrapped: []byte{1}}); !coffer.IsNotFound(err) {
			return fmt.Errorf("UpdateKeyMaterial of a missing version: %w", err)
		}
		if err := tx.UpdateKeyMaterial(&coffer.KeyMaterial{KeyID: k.ID, Version: 1, Wrapped: []byte{7, 7}}); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Errorf("Update returned %v, want the function's error", err)
	}
	checkMaterials(t, s, "KeyMaterials after a rolled-back UpdateKeyMaterial", k.ID, m1, &want2)
}

// accessKeyIDs walks AccessKeys in pages of limit.
func accessKeyIDs(t *testing.T, s coffer.Store, limit int) ([]string, []*coffer.AccessKey) {
	t.Helper()
	var ids []string
	var all []*coffer.AccessKey
	view(t, s, func(tx coffer.Tx) error {
		ids, all = nil, nil
		after := ""
		for pages := 0; ; pages++ {
			if pages > 100 {
				return errors.New("AccessKeys does not end")
			}
			page, err := tx.AccessKeys(after, limit)
			if err != nil {
				return err
			}
			if limit > 0 && len(page) > limit {
				return fmt.Errorf("AccessKeys returned %d keys for a limit of %d", len(page), limit)
			}
			for _, k := range page {
				ids = append(ids, k.ID)
				all = append(all, k)
			}
			if len(page) == 0 || limit <= 0 || len(page) < limit {
				return nil
			}
			after = page[len(page)-1].ID
		}
	})
	return ids, all
}

func accessKeyFixture(t *testing.T, s coffer.Store) map[string]*coffer.AccessKey {
	t.Helper()
	keys := map[string]*coffer.AccessKey{}
	update(t, s, func(tx coffer.Tx) error {
		for _, a := range []string{accountA, accountB} {
			if err := tx.InsertAccount(&coffer.Account{ID: a, CreatedDate: at(0)}); err != nil {
				return err
			}
		}
		for i, id := range []string{"AKIAZZZZZZZZZZZZZZZZ", "AKIA0000000000000000", "AKIAMMMMMMMMMMMMMMMM", "AKIAAAAAAAAAAAAAAAAA"} {
			acct, status := accountA, coffer.KeyActive
			if i%2 == 1 {
				acct, status = accountB, coffer.KeyInactive
			}
			k := &coffer.AccessKey{ID: id, Account: acct, PrincipalARN: "arn:aws:iam::" + acct + ":root",
				Status: status, SealedSecret: bytes.Repeat([]byte{byte(i + 1)}, 40+i), CreatedDate: at(time.Duration(i) * time.Minute)}
			keys[id] = k
			if err := tx.InsertAccessKey(k); err != nil {
				return err
			}
		}
		return nil
	})
	return keys
}

func testAccessKeysPaging(t *testing.T, s coffer.Store) {
	if got, _ := accessKeyIDs(t, s, 0); len(got) != 0 {
		t.Errorf("AccessKeys of an empty store: got %q", got)
	}
	keys := accessKeyFixture(t, s)
	order := slices.Sorted(func(yield func(string) bool) {
		for id := range keys {
			if !yield(id) {
				return
			}
		}
	})
	for _, limit := range []int{0, 1, 3, 4, 9} {
		got, all := accessKeyIDs(t, s, limit)
		if !slices.Equal(got, order) {
			t.Errorf("AccessKeys in pages of %d: got %q, want %q", limit, got, order)
			continue
		}
		for _, k := range all {
			w := keys[k.ID]
			if k.Account != w.Account || k.PrincipalARN != w.PrincipalARN || k.Status != w.Status || !bytes.Equal(k.SealedSecret, w.SealedSecret) {
				t.Errorf("AccessKeys: %s differs from what was stored", k.ID)
			}
			if d := diffTime(k.ID+".CreatedDate", k.CreatedDate, w.CreatedDate); d != "" {
				t.Error(d)
			}
		}
	}
}

func testUpdateAccessKeySecret(t *testing.T, s coffer.Store) {
	keys := accessKeyFixture(t, s)
	const id = "AKIAMMMMMMMMMMMMMMMM"
	sealed := bytes.Repeat([]byte{0x5A}, 57)
	update(t, s, func(tx coffer.Tx) error { return tx.UpdateAccessKeySecret(id, sealed) })
	err := s.Update(t.Context(), func(tx coffer.Tx) error { return tx.UpdateAccessKeySecret("AKIAMISSINGMISSING00", []byte{1}) })
	wantNotFound(t, "UpdateAccessKeySecret of a missing key", err)
	boom := &errSentinel{"roll back"}
	if err := s.Update(t.Context(), func(tx coffer.Tx) error {
		if err := tx.UpdateAccessKeySecret("AKIA0000000000000000", []byte{9}); err != nil {
			return err
		}
		return boom
	}); err != boom {
		t.Errorf("Update returned %v, want the function's error", err)
	}
	view(t, s, func(tx coffer.Tx) error {
		for kid, w := range keys {
			got, err := tx.AccessKey(kid)
			if err != nil {
				return err
			}
			want := w.SealedSecret
			if kid == id {
				want = sealed
			}
			if !bytes.Equal(got.SealedSecret, want) {
				t.Errorf("AccessKey(%s).SealedSecret: got %d bytes, want %d (contents differ)", kid, len(got.SealedSecret), len(want))
			}
			if got.Account != w.Account || got.PrincipalARN != w.PrincipalARN || got.Status != w.Status {
				t.Errorf("UpdateAccessKeySecret changed another field of %s", kid)
			}
			if d := diffTime(kid+".CreatedDate", got.CreatedDate, w.CreatedDate); d != "" {
				t.Error(d)
			}
		}
		return nil
	})
}

func testMetaKeys(t *testing.T, s coffer.Store) {
	names := []string{
		"kek/" + keyUUID(2), "kek/default/111111111111/us-east-1", "kek/" + keyUUID(1),
		"kek", "kek0", "kej/z", "kek/", "kel", "root-key-check", "ünï/kek/", "kek/ü",
	}
	update(t, s, func(tx coffer.Tx) error {
		for i, n := range names {
			if err := tx.PutMeta(n, []byte{byte(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	for prefix, want := range map[string][]string{
		"kek/":    {"kek/", "kek/" + keyUUID(1), "kek/" + keyUUID(2), "kek/default/111111111111/us-east-1", "kek/ü"},
		"kek/def": {"kek/default/111111111111/us-east-1"},
		"kek":     {"kek", "kek/", "kek/" + keyUUID(1), "kek/" + keyUUID(2), "kek/default/111111111111/us-east-1", "kek/ü", "kek0"},
		"ünï":     {"ünï/kek/"},
		"missing": nil,
		"":        slices.Sorted(slices.Values(names)),
	} {
		view(t, s, func(tx coffer.Tx) error {
			got, err := tx.MetaKeys(prefix)
			if err != nil {
				return err
			}
			if !slices.Equal(got, want) {
				t.Errorf("MetaKeys(%q): got %q, want %q", prefix, got, want)
			}
			return nil
		})
	}
}
