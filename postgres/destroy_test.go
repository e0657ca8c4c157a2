package postgres

import (
	"bytes"
	"crypto/rand"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

func TestDestroyVersionEmptiesRow(t *testing.T) {
	s, _ := openFresh(t)
	defer s.Close()
	ns := coffer.Namespace{Account: "111111111111", Region: "us-east-1"}
	sec := &coffer.Secret{ARN: coffer.SecretARN(ns, "erased", "AbCdEf"), Namespace: ns, Name: "erased",
		CreatedDate: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	ct := make([]byte, 4096)
	key := make([]byte, 61)
	_, _ = rand.Read(ct) // crypto/rand.Read never fails
	_, _ = rand.Read(key)
	const id, keptID = "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"
	kept := bytes.Repeat([]byte("kept"), 1000)
	err := s.Update(t.Context(), func(tx coffer.Tx) error {
		if err := tx.InsertSecret(sec); err != nil {
			return err
		}
		if err := tx.InsertVersion(&coffer.Version{SecretARN: sec.ARN, VersionID: id, KMSKeyID: "k", WrappedKey: key, Ciphertext: ct}); err != nil {
			return err
		}
		if err := tx.InsertVersion(&coffer.Version{SecretARN: sec.ARN, VersionID: keptID, WrappedKey: []byte("kept key"), Ciphertext: kept}); err != nil {
			return err
		}
		return tx.SetStage(sec.ARN, "custom", id)
	})
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	if err := s.Update(t.Context(), func(tx coffer.Tx) error { return tx.DestroyVersion(sec.ARN, id, when) }); err != nil {
		t.Fatal(err)
	}

	// The row itself, read past the adapter: empty blobs, not NULL, and the date.
	var keyLen, ctLen int
	var destroyed *time.Time
	err = s.pool.QueryRow(t.Context(), `SELECT octet_length(wrapped_key), octet_length(ciphertext), destroyed_date
		FROM versions WHERE secret_arn = $1 AND version_id = $2`, sec.ARN, id).Scan(&keyLen, &ctLen, &destroyed)
	if err != nil {
		t.Fatal(err)
	}
	if keyLen != 0 || ctLen != 0 || destroyed == nil || !destroyed.Equal(when) {
		t.Errorf("destroyed row: wrapped_key %d bytes, ciphertext %d bytes, destroyed_date %v; want 0, 0, %v", keyLen, ctLen, destroyed, when)
	}
	var hits int
	err = s.pool.QueryRow(t.Context(), `SELECT count(*) FROM versions
		WHERE position($1::bytea IN ciphertext) > 0 OR position($2::bytea IN wrapped_key) > 0`, ct[:64], key[:32]).Scan(&hits)
	if err != nil {
		t.Fatal(err)
	}
	if hits != 0 {
		t.Errorf("%d live rows still hold the destroyed bytes", hits)
	}

	// Through the adapter: the version still lists, with its label and DestroyedDate, and its
	// neighbour is whole.
	err = s.View(t.Context(), func(tx coffer.Tx) error {
		vs, err := tx.Versions(sec.ARN)
		if err != nil {
			return err
		}
		if len(vs) != 2 {
			t.Fatalf("Versions: got %d, want 2", len(vs))
		}
		for _, v := range vs {
			switch v.VersionID {
			case id:
				if !v.DestroyedDate.Equal(when) || len(v.Ciphertext) != 0 || len(v.WrappedKey) != 0 || v.KMSKeyID != "k" || !v.HasStage("custom") {
					t.Errorf("destroyed version: DestroyedDate %v, %d + %d sealed bytes, KMSKeyID %q, stages %q",
						v.DestroyedDate, len(v.WrappedKey), len(v.Ciphertext), v.KMSKeyID, v.Stages)
				}
			case keptID:
				if v.Destroyed() || !bytes.Equal(v.Ciphertext, kept) || string(v.WrappedKey) != "kept key" {
					t.Errorf("neighbouring version changed by DestroyVersion")
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
