package storetest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

func testAccounts(t *testing.T, s coffer.Store) {
	view(t, s, func(tx coffer.Tx) error {
		got, err := tx.Accounts()
		if err != nil {
			t.Fatalf("Accounts: %v", err)
		}
		if len(got) != 0 {
			t.Errorf("Accounts of an empty store: got %d, want none", len(got))
		}
		_, err = tx.Account(accountA)
		wantNotFound(t, "Account of a missing id", err)
		return nil
	})

	ids := []string{"333333333333", accountA, "000000000001", accountB}
	update(t, s, func(tx coffer.Tx) error {
		for i, id := range ids {
			if err := tx.InsertAccount(&coffer.Account{ID: id, CreatedDate: at(time.Duration(i) * time.Minute)}); err != nil {
				return err
			}
		}
		return nil
	})

	err := s.Update(t.Context(), func(tx coffer.Tx) error {
		return tx.InsertAccount(&coffer.Account{ID: accountA, CreatedDate: at(time.Hour)})
	})
	wantExists(t, "InsertAccount of an existing id", err)

	view(t, s, func(tx coffer.Tx) error {
		got, err := tx.Account(accountA)
		if err != nil {
			t.Fatalf("Account: %v", err)
		}
		if got.ID != accountA {
			t.Errorf("Account.ID: got %q, want %q", got.ID, accountA)
		}
		if d := diffTime("Account.CreatedDate", got.CreatedDate, at(time.Minute)); d != "" {
			t.Error(d)
		}
		all, err := tx.Accounts()
		if err != nil {
			t.Fatalf("Accounts: %v", err)
		}
		var gotIDs []string
		for _, a := range all {
			gotIDs = append(gotIDs, a.ID)
		}
		if want := slices.Sorted(slices.Values(ids)); !slices.Equal(gotIDs, want) {
			t.Errorf("Accounts: got %q, want %q", gotIDs, want)
		}
		return nil
	})
}

func testAccessKeys(t *testing.T, s coffer.Store) {
	want := &coffer.AccessKey{
		ID:           "AKIAIOSFODNN7EXAMPLE",
		Account:      accountA,
		PrincipalARN: "arn:aws:iam::111111111111:root",
		Status:       coffer.KeyActive,
		SealedSecret: []byte{1, 0, 2, 0xff, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
		CreatedDate:  at(time.Minute),
	}
	other := &coffer.AccessKey{
		ID:           "AKIAI44QH8DHBEXAMPLE",
		Account:      accountB,
		PrincipalARN: "arn:aws:iam::222222222222:user/ops",
		Status:       coffer.KeyInactive,
		SealedSecret: make([]byte, 100),
		CreatedDate:  at(0),
	}
	update(t, s, func(tx coffer.Tx) error {
		for _, a := range []string{accountA, accountB} {
			if err := tx.InsertAccount(&coffer.Account{ID: a, CreatedDate: at(0)}); err != nil {
				return err
			}
		}
		if err := tx.InsertAccessKey(want); err != nil {
			return err
		}
		return tx.InsertAccessKey(other)
	})

	dup := *other
	dup.ID = want.ID
	err := s.Update(t.Context(), func(tx coffer.Tx) error { return tx.InsertAccessKey(&dup) })
	wantExists(t, "InsertAccessKey of an existing id", err)

	view(t, s, func(tx coffer.Tx) error {
		for _, w := range []*coffer.AccessKey{want, other} {
			got, err := tx.AccessKey(w.ID)
			if err != nil {
				t.Errorf("AccessKey(%s): %v", w.ID, err)
				continue
			}
			if got.ID != w.ID || got.Account != w.Account || got.PrincipalARN != w.PrincipalARN || got.Status != w.Status {
				t.Errorf("AccessKey(%s): got {%s %s %s %s}, want {%s %s %s %s}", w.ID,
					got.ID, got.Account, got.PrincipalARN, got.Status, w.ID, w.Account, w.PrincipalARN, w.Status)
			}
			if !bytes.Equal(got.SealedSecret, w.SealedSecret) {
				t.Errorf("AccessKey(%s).SealedSecret: got %d bytes, want %d (contents differ)", w.ID, len(got.SealedSecret), len(w.SealedSecret))
			}
			if d := diffTime("AccessKey.CreatedDate", got.CreatedDate, w.CreatedDate); d != "" {
				t.Error(d)
			}
		}
		_, err := tx.AccessKey("AKIAMISSINGMISSING00")
		wantNotFound(t, "AccessKey of a missing id", err)
		return nil
	})
}

func testMeta(t *testing.T, s coffer.Store) {
	view(t, s, func(tx coffer.Tx) error {
		_, err := tx.Meta("missing")
		wantNotFound(t, "Meta of a missing key", err)
		return nil
	})

	big := newVersion("", "", time.Time{}, maxSealedSize).Ciphertext
	values := map[string][]byte{
		"keyring/kek/default": {0, 1, 2, 3, 0xfe, 0xff},
		"settings/empty":      {},
		"big":                 big,
		"ünï/key with spaces": []byte("v"),
	}
	update(t, s, func(tx coffer.Tx) error {
		for k, v := range values {
			if err := tx.PutMeta(k, v); err != nil {
				return err
			}
		}
		return nil
	})
	// Replace one value, within the same transaction twice.
	values["keyring/kek/default"] = []byte("second")
	update(t, s, func(tx coffer.Tx) error {
		if err := tx.PutMeta("keyring/kek/default", []byte("first")); err != nil {
			return err
		}
		return tx.PutMeta("keyring/kek/default", values["keyring/kek/default"])
	})

	view(t, s, func(tx coffer.Tx) error {
		for k, want := range values {
			got, err := tx.Meta(k)
			if err != nil {
				t.Errorf("Meta(%q): %v", k, err)
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Meta(%q): got %d bytes, want %d (contents differ)", k, len(got), len(want))
			}
		}
		return nil
	})

	// DeleteMeta removes one value, leaves the others, and ignores a missing key.
	update(t, s, func(tx coffer.Tx) error {
		if err := tx.DeleteMeta("big"); err != nil {
			return err
		}
		return tx.DeleteMeta("never-there")
	})
	view(t, s, func(tx coffer.Tx) error {
		_, err := tx.Meta("big")
		wantNotFound(t, "Meta after DeleteMeta", err)
		if _, err := tx.Meta("settings/empty"); err != nil {
			t.Errorf("DeleteMeta removed another key: %v", err)
		}
		return nil
	})
}

func testAccessKeysOf(t *testing.T, s coffer.Store) {
	alice, bob := "arn:aws:iam::111111111111:user/Alice", "arn:aws:iam::111111111111:user/bob"
	key := func(id, principal string, created time.Time) *coffer.AccessKey {
		return &coffer.AccessKey{ID: id, Account: accountA, PrincipalARN: principal, Status: coffer.KeyActive,
			SealedSecret: []byte(id), CreatedDate: created}
	}
	// Inserted out of order; ids sort otherwise than creation.
	keys := []*coffer.AccessKey{
		key("AKIAAAAAAAAAAAAAAAA3", alice, at(3*time.Hour)),
		key("AKIAZZZZZZZZZZZZZZZ1", alice, at(1*time.Hour)),
		key("AKIAMMMMMMMMMMMMMMM2", alice, at(2*time.Hour)),
		key("AKIABBBBBBBBBBBBBBB0", bob, at(0)),
	}
	update(t, s, func(tx coffer.Tx) error {
		for _, k := range keys {
			if err := tx.InsertAccessKey(k); err != nil {
				return err
			}
		}
		return nil
	})
	check := func(what, principal string, want ...*coffer.AccessKey) {
		t.Helper()
		var got []*coffer.AccessKey
		view(t, s, func(tx coffer.Tx) error {
			var err error
			got, err = tx.AccessKeysOf(principal)
			return err
		})
		if len(got) != len(want) {
			t.Errorf("%s: got %d keys, want %d", what, len(got), len(want))
			return
		}
		for i, w := range want {
			g := got[i]
			if g.ID != w.ID || g.Account != w.Account || g.PrincipalARN != w.PrincipalARN || g.Status != w.Status || !bytes.Equal(g.SealedSecret, w.SealedSecret) {
				t.Errorf("%s[%d]: got {%s %s %s %s}, want {%s %s %s %s} (or the sealed secrets differ)", what, i,
					g.ID, g.Account, g.PrincipalARN, g.Status, w.ID, w.Account, w.PrincipalARN, w.Status)
			}
			if d := diffTime("CreatedDate", g.CreatedDate, w.CreatedDate); d != "" {
				t.Errorf("%s[%d]: %s", what, i, d)
			}
		}
	}
	check("AccessKeysOf alice", alice, keys[1], keys[2], keys[0])
	check("AccessKeysOf bob", bob, keys[3])
	check("AccessKeysOf a principal without keys", "arn:aws:iam::111111111111:user/nobody")

	update(t, s, func(tx coffer.Tx) error {
		if err := tx.UpdateAccessKeyStatus(keys[2].ID, coffer.KeyInactive); err != nil {
			return err
		}
		wantNotFound(t, "UpdateAccessKeyStatus of a missing key", tx.UpdateAccessKeyStatus("AKIAMISSINGMISSING00", coffer.KeyInactive))
		return nil
	})
	inactive := *keys[2]
	inactive.Status = coffer.KeyInactive
	check("AccessKeysOf alice after UpdateAccessKeyStatus", alice, keys[1], &inactive, keys[0])
	view(t, s, func(tx coffer.Tx) error {
		got, err := tx.AccessKey(keys[2].ID)
		if err != nil || got.Status != coffer.KeyInactive || !bytes.Equal(got.SealedSecret, keys[2].SealedSecret) {
			t.Errorf("AccessKey after UpdateAccessKeyStatus: %v; want Inactive with its sealed secret kept", err)
		}
		return nil
	})
	update(t, s, func(tx coffer.Tx) error { return tx.UpdateAccessKeyStatus(keys[2].ID, coffer.KeyActive) })
	check("AccessKeysOf alice after reactivating", alice, keys[1], keys[2], keys[0])

	update(t, s, func(tx coffer.Tx) error {
		if err := tx.DeleteAccessKey(keys[1].ID); err != nil {
			return err
		}
		wantNotFound(t, "DeleteAccessKey again", tx.DeleteAccessKey(keys[1].ID))
		return nil
	})
	check("AccessKeysOf alice after DeleteAccessKey", alice, keys[2], keys[0])
	check("AccessKeysOf bob after deleting one of alice's", bob, keys[3])
	view(t, s, func(tx coffer.Tx) error {
		_, err := tx.AccessKey(keys[1].ID)
		wantNotFound(t, "AccessKey after DeleteAccessKey", err)
		return nil
	})
}
