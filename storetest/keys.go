package storetest

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

// keyUUID returns a UUID-shaped KMS key id that sorts by n.
func keyUUID(n int) string { return fmt.Sprintf("1234abcd-12ab-4cd5-8ef6-%012d", n) }

// newKey returns a minimal enabled customer key of ns: no tags, no dates but CreatedDate.
func newKey(ns coffer.Namespace, id string, created time.Time) *coffer.Key {
	return &coffer.Key{
		ID:              id,
		Namespace:       ns,
		Manager:         coffer.KeyManagerCustomer,
		State:           coffer.KeyStateEnabled,
		CreatedDate:     created,
		CurrentMaterial: 1,
	}
}

// fullKey returns a key with every field set to a distinct, non-default value.
func fullKey(ns coffer.Namespace, id string) *coffer.Key {
	k := newKey(ns, id, at(0))
	k.Description = "Ünïcode key — with \"quotes\", 'apostrophes' and a\nnewline"
	k.Manager = coffer.KeyManagerAWS
	k.State = coffer.KeyStatePendingDeletion
	k.Policy = `{"Version":"2012-10-17","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"kms:*","Resource":"*"}]}`
	k.Tags = []coffer.Tag{{Key: "team", Value: "payments"}, {Key: "env", Value: "prod"}, {Key: "Ärger", Value: ""}, {Key: "a", Value: "z"}}
	k.DeletionDate = at(7*24*time.Hour + 5*time.Millisecond)
	k.PendingWindowDays = 7
	k.RotationEnabled = true
	k.RotationPeriodDays = 365
	k.NextRotationDate = at(365*24*time.Hour + 999*time.Millisecond)
	k.CurrentMaterial = 4
	return k
}

// diffKey lists the fields in which got differs from want. Tags compare in order, and a nil
// Tags differs from an empty one.
func diffKey(got, want *coffer.Key) []string {
	var d []string
	str := func(field, got, want string) {
		if got != want {
			d = append(d, fmt.Sprintf("%s: got %q, want %q", field, got, want))
		}
	}
	num := func(field string, got, want int) {
		if got != want {
			d = append(d, fmt.Sprintf("%s: got %d, want %d", field, got, want))
		}
	}
	tm := func(field string, got, want time.Time) {
		if s := diffTime(field, got, want); s != "" {
			d = append(d, s)
		}
	}
	str("ID", got.ID, want.ID)
	str("Namespace", got.Namespace.String(), want.Namespace.String())
	str("Description", got.Description, want.Description)
	str("Manager", got.Manager, want.Manager)
	str("State", got.State, want.State)
	str("Policy", got.Policy, want.Policy)
	if !slices.Equal(got.Tags, want.Tags) {
		d = append(d, fmt.Sprintf("Tags: got %q, want %q", got.Tags, want.Tags))
	}
	if (got.Tags == nil) != (want.Tags == nil) {
		d = append(d, fmt.Sprintf("Tags: got nil %v, want nil %v (nil is never set, empty is all removed)", got.Tags == nil, want.Tags == nil))
	}
	tm("CreatedDate", got.CreatedDate, want.CreatedDate)
	tm("DeletionDate", got.DeletionDate, want.DeletionDate)
	num("PendingWindowDays", got.PendingWindowDays, want.PendingWindowDays)
	if got.RotationEnabled != want.RotationEnabled {
		d = append(d, fmt.Sprintf("RotationEnabled: got %v, want %v", got.RotationEnabled, want.RotationEnabled))
	}
	num("RotationPeriodDays", got.RotationPeriodDays, want.RotationPeriodDays)
	tm("NextRotationDate", got.NextRotationDate, want.NextRotationDate)
	num("CurrentMaterial", got.CurrentMaterial, want.CurrentMaterial)
	return d
}

// checkKey fails the test if got differs from want.
func checkKey(t *testing.T, what string, got, want *coffer.Key) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil key", what)
		return
	}
	for _, d := range diffKey(got, want) {
		t.Errorf("%s: %s", what, d)
	}
}

// insertKeys inserts every key in one transaction.
func insertKeys(t *testing.T, s coffer.Store, keys ...*coffer.Key) {
	t.Helper()
	update(t, s, func(tx coffer.Tx) error {
		for _, k := range keys {
			if err := tx.InsertKey(k); err != nil {
				return fmt.Errorf("InsertKey(%s): %w", k.ID, err)
			}
		}
		return nil
	})
}

// getKey reads a key in its own View.
func getKey(t *testing.T, s coffer.Store, id string) (*coffer.Key, error) {
	t.Helper()
	var got *coffer.Key
	err := s.View(t.Context(), func(tx coffer.Tx) error {
		var err error
		got, err = tx.Key(id)
		return err
	})
	return got, err
}

// keyIDs returns the ids of keys, in order.
func keyIDs(keys []*coffer.Key) []string {
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	return ids
}

func testKeyRoundTrip(t *testing.T, s coffer.Store) {
	full := fullKey(namespace(accountA, regionA), keyUUID(1))
	bare := newKey(namespace(accountB, regionB), keyUUID(2), at(time.Second))
	empty := newKey(namespace(accountA, regionA), keyUUID(3), at(2*time.Second))
	empty.Tags = []coffer.Tag{}
	insertKeys(t, s, full, bare, empty)

	for _, want := range []*coffer.Key{full, bare, empty} {
		got, err := getKey(t, s, want.ID)
		if err != nil {
			t.Errorf("Key(%s): %v", want.ID, err)
			continue
		}
		checkKey(t, "Key("+want.ID+")", got, want)
	}

	// An id is unique across namespaces; the original is untouched.
	dup := fullKey(namespace(accountB, regionA), bare.ID)
	err := s.Update(t.Context(), func(tx coffer.Tx) error { return tx.InsertKey(dup) })
	wantExists(t, "InsertKey with an id in use (in another namespace)", err)
	got, err := getKey(t, s, bare.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	checkKey(t, "key after a colliding InsertKey", got, bare)

	view(t, s, func(tx coffer.Tx) error {
		_, err := tx.Key(keyUUID(9))
		wantNotFound(t, "Key of a missing id", err)
		_, err = tx.Key("")
		wantNotFound(t, `Key("")`, err)
		return nil
	})
}

func testUpdateKey(t *testing.T, s coffer.Store) {
	ns := namespace(accountA, regionA)
	orig := newKey(ns, keyUUID(1), at(0))
	orig.Tags = []coffer.Tag{{Key: "k", Value: "v"}}
	other := newKey(ns, keyUUID(2), at(0))
	insertKeys(t, s, orig, other)

	// Every mutable field changes; the clear times are set. Namespace, Manager and
	// CreatedDate are passed changed too: UpdateKey keeps them.
	want := fullKey(ns, orig.ID)
	changed := *want
	changed.Namespace = namespace(accountB, regionB)
	changed.Manager = coffer.KeyManagerAWS
	changed.CreatedDate = at(time.Hour)
	want.Manager = orig.Manager
	want.CreatedDate = orig.CreatedDate
	update(t, s, func(tx coffer.Tx) error { return tx.UpdateKey(&changed) })
	got, err := getKey(t, s, orig.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	checkKey(t, "after first UpdateKey", got, want)

	// Back: the set times are cleared, the tags set and all removed.
	back := *orig
	back.Tags = []coffer.Tag{}
	update(t, s, func(tx coffer.Tx) error { return tx.UpdateKey(&back) })
	got, err = getKey(t, s, orig.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	checkKey(t, "after second UpdateKey", got, &back)

	got, err = getKey(t, s, other.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	checkKey(t, "another key after UpdateKey", got, other)

	err = s.Update(t.Context(), func(tx coffer.Tx) error { return tx.UpdateKey(newKey(ns, keyUUID(9), at(0))) })
	wantNotFound(t, "UpdateKey of a missing id", err)
}

func testListKeys(t *testing.T, s coffer.Store) {
	home := namespace(accountA, regionA)
	var all []*coffer.Key
	// Inserted in an order that is not id order, interleaving namespaces.
	for _, n := range []int{7, 3, 11, 1, 9, 5, 2} {
		all = append(all, newKey(home, keyUUID(n), at(time.Duration(n)*time.Second)))
	}
	elsewhere := []*coffer.Key{
		newKey(namespace(accountA, regionB), keyUUID(4), at(0)),
		newKey(namespace(accountB, regionA), keyUUID(6), at(0)),
		newKey(namespace(accountB, regionA), keyUUID(8), at(0)),
	}
	full := fullKey(home, keyUUID(10))
	all = append(all, full)
	insertKeys(t, s, slices.Concat(all[:3], elsewhere, all[3:])...)

	wantIDs := slices.Sorted(slices.Values(keyIDs(all)))
	list := func(ns coffer.Namespace, after string, limit int) []*coffer.Key {
		t.Helper()
		var got []*coffer.Key
		view(t, s, func(tx coffer.Tx) error {
			var err error
			got, err = tx.ListKeys(ns, after, limit)
			return err
		})
		return got
	}

	for _, limit := range []int{0, -1, 100} {
		if got := keyIDs(list(home, "", limit)); !slices.Equal(got, wantIDs) {
			t.Errorf("ListKeys(limit %d):\n got %q\nwant %q", limit, got, wantIDs)
		}
	}
	for _, limit := range []int{1, 3, 8} {
		var got []string
		after := ""
		for pages := 0; ; pages++ {
			if pages > len(all)+1 {
				t.Fatalf("ListKeys(limit %d): no end after %d pages", limit, pages)
			}
			page := list(home, after, limit)
			if len(page) > limit {
				t.Fatalf("ListKeys(limit %d): got a page of %d", limit, len(page))
			}
			got = append(got, keyIDs(page)...)
			if len(page) < limit {
				break
			}
			after = page[len(page)-1].ID
		}
		if !slices.Equal(got, wantIDs) {
			t.Errorf("ListKeys walked by %d:\n got %q\nwant %q", limit, got, wantIDs)
		}
	}

	// afterID is a position: it need not be the id of a key.
	if got, want := keyIDs(list(home, keyUUID(5)+"~", 2)), []string{keyUUID(7), keyUUID(9)}; !slices.Equal(got, want) {
		t.Errorf("ListKeys after an id between keys: got %q, want %q", got, want)
	}
	if got := list(home, keyUUID(11), 0); len(got) != 0 {
		t.Errorf("ListKeys after the last id: got %q, want none", keyIDs(got))
	}

	// Namespaces are apart: each sees its own keys only.
	for _, tc := range []struct {
		ns   coffer.Namespace
		want []string
	}{
		{namespace(accountA, regionB), []string{keyUUID(4)}},
		{namespace(accountB, regionA), []string{keyUUID(6), keyUUID(8)}},
		{namespace(accountB, regionB), nil},
	} {
		if got := keyIDs(list(tc.ns, "", 0)); !slices.Equal(got, tc.want) {
			t.Errorf("ListKeys(%s): got %q, want %q", tc.ns, got, tc.want)
		}
	}

	// Listed keys carry every field.
	for _, k := range list(home, keyUUID(9), 1) {
		checkKey(t, "listed key", k, full)
	}
}

// checkDue fails the test unless got holds the keys of want, in order.
func checkDue(t *testing.T, what string, got, want []*coffer.Key) {
	t.Helper()
	if !slices.Equal(keyIDs(got), keyIDs(want)) {
		t.Errorf("%s: got %q, want %q", what, keyIDs(got), keyIDs(want))
		return
	}
	for i := range want {
		checkKey(t, fmt.Sprintf("%s[%d]", what, i), got[i], want[i])
	}
}

func testDueKeyDeletions(t *testing.T, s coffer.Store) {
	now := at(30 * 24 * time.Hour)
	n := 0
	scheduled := func(ns coffer.Namespace, deletion time.Time) *coffer.Key {
		n++
		k := newKey(ns, keyUUID(100-n), at(0)) // ids descend: id order is not due order
		k.State = coffer.KeyStatePendingDeletion
		k.DeletionDate = deletion
		k.PendingWindowDays = 7
		return k
	}
	a, b := namespace(accountA, regionA), namespace(accountB, regionB)
	due := []*coffer.Key{
		scheduled(b, now.Add(-3*time.Hour)),
		scheduled(a, now.Add(-time.Hour)),
		scheduled(b, now.Add(-time.Millisecond)),
		scheduled(a, now),
	}
	live := newKey(a, keyUUID(1), at(0))
	rotating := newKey(a, keyUUID(2), at(0))
	rotating.RotationEnabled, rotating.RotationPeriodDays, rotating.NextRotationDate = true, 90, now.Add(-time.Hour)
	notDue := []*coffer.Key{
		scheduled(a, now.Add(time.Millisecond)),
		scheduled(b, now.Add(24*time.Hour)),
		live,
		rotating,
	}
	insertKeys(t, s, append(slices.Clone(notDue), due[3], due[1], due[0], due[2])...)

	for _, limit := range []int{1, 2, 4, 100, 0} {
		var got []*coffer.Key
		view(t, s, func(tx coffer.Tx) error {
			var err error
			got, err = tx.DueKeyDeletions(now, limit)
			return err
		})
		want := due
		if limit > 0 {
			want = due[:min(limit, len(due))]
		}
		checkDue(t, fmt.Sprintf("DueKeyDeletions(limit %d)", limit), got, want)
	}

	// A key whose deletion is canceled is due no more.
	canceled := *due[0]
	canceled.State, canceled.DeletionDate, canceled.PendingWindowDays = coffer.KeyStateDisabled, time.Time{}, 0
	update(t, s, func(tx coffer.Tx) error { return tx.UpdateKey(&canceled) })
	var got []*coffer.Key
	view(t, s, func(tx coffer.Tx) error {
		var err error
		got, err = tx.DueKeyDeletions(now, 0)
		return err
	})
	checkDue(t, "DueKeyDeletions after a cancellation", got, due[1:])

	view(t, s, func(tx coffer.Tx) error {
		var err error
		got, err = tx.DueKeyDeletions(at(0), 100)
		return err
	})
	if len(got) != 0 {
		t.Errorf("DueKeyDeletions before any deletion date: got %q, want none", keyIDs(got))
	}
}

func testDueKeyRotations(t *testing.T, s coffer.Store) {
	now := at(400 * 24 * time.Hour)
	n := 0
	rotating := func(ns coffer.Namespace, next time.Time) *coffer.Key {
		n++
		k := newKey(ns, keyUUID(100-n), at(0)) // ids descend: id order is not due order
		k.RotationEnabled, k.RotationPeriodDays, k.NextRotationDate = true, 365, next
		return k
	}
	a, b := namespace(accountA, regionA), namespace(accountB, regionB)
	disabledKey := rotating(a, now.Add(-2*time.Hour))
	disabledKey.State = coffer.KeyStateDisabled // the key, not its rotation: the store does not judge
	due := []*coffer.Key{
		rotating(b, now.Add(-3*time.Hour)),
		disabledKey,
		rotating(a, now.Add(-time.Millisecond)),
		rotating(b, now),
	}
	off := rotating(a, now.Add(-5*time.Hour))
	off.RotationEnabled = false
	pending := rotating(b, now.Add(-5*time.Hour))
	pending.State, pending.DeletionDate, pending.PendingWindowDays = coffer.KeyStatePendingDeletion, now.Add(-time.Hour), 7
	notDue := []*coffer.Key{
		rotating(a, now.Add(time.Millisecond)),
		rotating(b, now.Add(24*time.Hour)),
		newKey(a, keyUUID(1), at(0)),
		off,
		pending,
	}
	insertKeys(t, s, append(slices.Clone(notDue), due[2], due[0], due[3], due[1])...)

	for _, limit := range []int{1, 3, 4, 100, 0} {
		var got []*coffer.Key
		view(t, s, func(tx coffer.Tx) error {
			var err error
			got, err = tx.DueKeyRotations(now, limit)
			return err
		})
		want := due
		if limit > 0 {
			want = due[:min(limit, len(due))]
		}
		checkDue(t, fmt.Sprintf("DueKeyRotations(limit %d)", limit), got, want)
	}

	// A rotated key moves its date on and leaves the front of the queue.
	rotated := *due[0]
	rotated.NextRotationDate, rotated.CurrentMaterial = now.Add(365*24*time.Hour), 2
	update(t, s, func(tx coffer.Tx) error { return tx.UpdateKey(&rotated) })
	var got []*coffer.Key
	view(t, s, func(tx coffer.Tx) error {
		var err error
		got, err = tx.DueKeyRotations(now, 0)
		return err
	})
	checkDue(t, "DueKeyRotations after a rotation", got, due[1:])

	view(t, s, func(tx coffer.Tx) error {
		var err error
		got, err = tx.DueKeyRotations(at(0), 100)
		return err
	})
	if len(got) != 0 {
		t.Errorf("DueKeyRotations before any rotation date: got %q, want none", keyIDs(got))
	}
}

// newMaterial returns material version of keyID with made-up wrapped bytes.
func newMaterial(keyID string, version int, created time.Time, rotationType string) *coffer.KeyMaterial {
	w := make([]byte, 1+12+32+16)
	for i := range w {
		w[i] = byte(i*13 + version)
	}
	return &coffer.KeyMaterial{KeyID: keyID, Version: version, Wrapped: w, CreatedDate: created, RotationType: rotationType}
}

// checkMaterials fails the test unless KeyMaterials(keyID) returns want, in order. The
// wrapped bytes are compared but never printed.
func checkMaterials(t *testing.T, s coffer.Store, what, keyID string, want ...*coffer.KeyMaterial) {
	t.Helper()
	var got []*coffer.KeyMaterial
	view(t, s, func(tx coffer.Tx) error {
		var err error
		got, err = tx.KeyMaterials(keyID)
		return err
	})
	if len(got) != len(want) {
		t.Errorf("%s: got %d materials, want %d", what, len(got), len(want))
		return
	}
	for i, w := range want {
		g := got[i]
		if g.KeyID != w.KeyID || g.Version != w.Version || g.RotationType != w.RotationType {
			t.Errorf("%s[%d]: got {%s %d %q}, want {%s %d %q}", what, i, g.KeyID, g.Version, g.RotationType, w.KeyID, w.Version, w.RotationType)
		}
		if !bytes.Equal(g.Wrapped, w.Wrapped) {
			t.Errorf("%s[%d].Wrapped: got %d bytes, want %d (contents differ)", what, i, len(g.Wrapped), len(w.Wrapped))
		}
		if d := diffTime(fmt.Sprintf("%s[%d].CreatedDate", what, i), g.CreatedDate, w.CreatedDate); d != "" {
			t.Error(d)
		}
	}
}

func testKeyMaterials(t *testing.T, s coffer.Store) {
	ns := namespace(accountA, regionA)
	k1, k2, bare := newKey(ns, keyUUID(1), at(0)), newKey(ns, keyUUID(2), at(0)), newKey(ns, keyUUID(3), at(0))
	insertKeys(t, s, k1, k2, bare)

	m1 := newMaterial(k1.ID, 1, at(0), "")
	m2 := newMaterial(k1.ID, 2, at(90*24*time.Hour), coffer.RotationAutomatic)
	m3 := newMaterial(k1.ID, 3, at(91*24*time.Hour), coffer.RotationOnDemand)
	m10 := newMaterial(k1.ID, 10, at(92*24*time.Hour), coffer.RotationOnDemand) // 10 after 3: numbers, not strings
	other := newMaterial(k2.ID, 2, at(time.Hour), coffer.RotationAutomatic)     // the same version of another key
	update(t, s, func(tx coffer.Tx) error {
		for _, m := range []*coffer.KeyMaterial{m3, m10, m1, other, m2} {
			if err := tx.InsertKeyMaterial(m); err != nil {
				return fmt.Errorf("InsertKeyMaterial(%s, %d): %w", m.KeyID, m.Version, err)
			}
		}
		return nil
	})
	checkMaterials(t, s, "KeyMaterials(k1)", k1.ID, m1, m2, m3, m10)
	checkMaterials(t, s, "KeyMaterials(k2)", k2.ID, other)
	checkMaterials(t, s, "KeyMaterials of a key without materials", bare.ID)

	dup := newMaterial(k1.ID, 2, at(time.Hour), coffer.RotationOnDemand)
	dup.Wrapped = []byte{9, 9, 9}
	err := s.Update(t.Context(), func(tx coffer.Tx) error { return tx.InsertKeyMaterial(dup) })
	wantExists(t, "InsertKeyMaterial of a version in use", err)
	checkMaterials(t, s, "KeyMaterials(k1) after a collision", k1.ID, m1, m2, m3, m10)

	err = s.Update(t.Context(), func(tx coffer.Tx) error {
		return tx.InsertKeyMaterial(newMaterial(keyUUID(9), 1, at(0), ""))
	})
	wantNotFound(t, "InsertKeyMaterial of a missing key", err)
	err = s.View(t.Context(), func(tx coffer.Tx) error {
		_, err := tx.KeyMaterials(keyUUID(9))
		return err
	})
	wantNotFound(t, "KeyMaterials of a missing key", err)
}

func testDeleteKey(t *testing.T, s coffer.Store) {
	ns := namespace(accountA, regionA)
	gone, kept := fullKey(ns, keyUUID(1)), newKey(ns, keyUUID(2), at(0))
	insertKeys(t, s, gone, kept)
	keptMaterial := newMaterial(kept.ID, 1, at(0), "")
	keptAlias := newAlias(ns, "alias/kept", kept.ID, at(0))
	update(t, s, func(tx coffer.Tx) error {
		for _, m := range []*coffer.KeyMaterial{newMaterial(gone.ID, 1, at(0), ""), newMaterial(gone.ID, 2, at(time.Hour), coffer.RotationOnDemand), keptMaterial} {
			if err := tx.InsertKeyMaterial(m); err != nil {
				return err
			}
		}
		for _, a := range []*coffer.Alias{newAlias(ns, "alias/gone-1", gone.ID, at(0)), newAlias(ns, "alias/gone-2", gone.ID, at(0)), keptAlias} {
			if err := tx.InsertAlias(a); err != nil {
				return err
			}
		}
		return nil
	})

	update(t, s, func(tx coffer.Tx) error { return tx.DeleteKey(gone.ID) })
	view(t, s, func(tx coffer.Tx) error {
		_, err := tx.Key(gone.ID)
		wantNotFound(t, "Key after DeleteKey", err)
		_, err = tx.KeyMaterials(gone.ID)
		wantNotFound(t, "KeyMaterials after DeleteKey", err)
		for _, name := range []string{"alias/gone-1", "alias/gone-2"} {
			_, err = tx.Alias(ns, name)
			wantNotFound(t, "Alias of a deleted key", err)
		}
		return nil
	})
	checkAliases(t, s, "ListAliases after DeleteKey", ns, "", "", 0, keptAlias)
	checkMaterials(t, s, "KeyMaterials of another key after DeleteKey", kept.ID, keptMaterial)
	got, err := getKey(t, s, kept.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	checkKey(t, "another key after DeleteKey", got, kept)

	// The id is free again, and nothing of the old key comes back with it.
	insertKeys(t, s, newKey(ns, gone.ID, at(time.Hour)))
	checkMaterials(t, s, "KeyMaterials of a reused id", gone.ID)
	checkAliases(t, s, "ListAliases of a reused id", ns, gone.ID, "", 0)

	err = s.Update(t.Context(), func(tx coffer.Tx) error { return tx.DeleteKey(keyUUID(9)) })
	wantNotFound(t, "DeleteKey of a missing id", err)
}

func testKeyTxUsableAfterError(t *testing.T, s coffer.Store) {
	ns := namespace(accountA, regionA)
	k := newKey(ns, keyUUID(1), at(0))
	insertKeys(t, s, k)
	update(t, s, func(tx coffer.Tx) error {
		if err := tx.InsertAlias(newAlias(ns, "alias/taken", k.ID, at(0))); err != nil {
			return err
		}
		if err := tx.InsertKeyMaterial(newMaterial(k.ID, 1, at(0), "")); err != nil {
			return err
		}
		wantExists(t, "InsertKey of a taken id", tx.InsertKey(newKey(ns, k.ID, at(0))))
		wantExists(t, "InsertKeyMaterial of a taken version", tx.InsertKeyMaterial(newMaterial(k.ID, 1, at(0), "")))
		wantExists(t, "InsertAlias of a taken name", tx.InsertAlias(newAlias(ns, "alias/taken", k.ID, at(0))))
		wantNotFound(t, "InsertKeyMaterial of a missing key", tx.InsertKeyMaterial(newMaterial(keyUUID(9), 1, at(0), "")))
		wantNotFound(t, "InsertAlias of a missing key", tx.InsertAlias(newAlias(ns, "alias/x", keyUUID(9), at(0))))
		wantNotFound(t, "UpdateAlias to a missing key", tx.UpdateAlias(newAlias(ns, "alias/taken", keyUUID(9), at(0))))
		wantNotFound(t, "UpdateKey of a missing id", tx.UpdateKey(newKey(ns, keyUUID(9), at(0))))
		wantNotFound(t, "DeleteKey of a missing id", tx.DeleteKey(keyUUID(9)))
		wantNotFound(t, "DeleteAlias of a missing name", tx.DeleteAlias(ns, "alias/missing"))
		_, err := tx.Key(keyUUID(9))
		wantNotFound(t, "Key of a missing id", err)
		_, err = tx.Alias(ns, "alias/missing")
		wantNotFound(t, "Alias of a missing name", err)
		if err := tx.InsertKey(newKey(ns, keyUUID(2), at(0))); err != nil {
			return err
		}
		return tx.InsertAlias(newAlias(ns, "alias/after-errors", keyUUID(2), at(0)))
	})
	view(t, s, func(tx coffer.Tx) error {
		if _, err := tx.Key(keyUUID(2)); err != nil {
			t.Errorf("Key inserted after errors: %v", err)
		}
		a, err := tx.Alias(ns, "alias/after-errors")
		if err != nil {
			t.Errorf("Alias inserted after errors: %v", err)
		} else if a.KeyID != keyUUID(2) {
			t.Errorf("Alias inserted after errors: KeyID %q, want %q", a.KeyID, keyUUID(2))
		}
		a, err = tx.Alias(ns, "alias/taken")
		if err != nil {
			t.Errorf("Alias after a failed UpdateAlias: %v", err)
		} else if a.KeyID != k.ID {
			t.Errorf("Alias after a failed UpdateAlias: KeyID %q, want %q", a.KeyID, k.ID)
		}
		return nil
	})
}
