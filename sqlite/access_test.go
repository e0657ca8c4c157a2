package sqlite

import (
	"fmt"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

// TestFirstMarkRewritesInPlace: the first read's mark of a secret and of its version rewrites
// their rows in place. Rows are packed full in the order they were created; a row that grew
// at its first mark (a never-read date stored as 0, in no bytes) split its page, and a million
// secrets read for the first time split tens of thousands of pages (docs/performance.md).
func TestFirstMarkRewritesInPlace(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	ns := coffer.Namespace{Account: "111111111111", Region: "us-east-1"}
	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	const n = 2000
	arn := func(i int) string { return coffer.SecretARN(ns, fmt.Sprintf("first/%04d", i), "AbCdEf") }
	id := func(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }
	err := s.Update(t.Context(), func(tx coffer.Tx) error {
		for i := range n {
			sec := &coffer.Secret{ARN: arn(i), Namespace: ns, Name: fmt.Sprintf("first/%04d", i), CreatedDate: created, LastChangedDate: created}
			if err := tx.InsertSecret(sec); err != nil {
				return err
			}
			v := &coffer.Version{SecretARN: arn(i), VersionID: id(i), CreatedDate: created, KMSKeyID: "k",
				WrappedKey: make([]byte, 100), Ciphertext: make([]byte, 90)}
			if err := tx.InsertVersion(v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pages := func(table string) int {
		t.Helper()
		var p int
		if err := s.reader.QueryRowContext(t.Context(), `SELECT count(*) FROM dbstat WHERE name = ?`, table).Scan(&p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	secretPages, versionPages := pages("secrets"), pages("versions")
	day := created.AddDate(0, 0, 1)
	err = s.Update(t.Context(), func(tx coffer.Tx) error {
		for i := range n {
			if err := tx.MarkAccessed(arn(i), id(i), day); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if p := pages("secrets"); p != secretPages {
		t.Errorf("the secrets' first marks took the table from %d pages to %d; want their rows rewritten in place", secretPages, p)
	}
	if p := pages("versions"); p != versionPages {
		t.Errorf("the versions' first marks took the table from %d pages to %d; want their rows rewritten in place", versionPages, p)
	}
	err = s.View(t.Context(), func(tx coffer.Tx) error {
		sec, err := tx.SecretByARN(arn(7))
		if err != nil {
			return err
		}
		v, err := tx.Version(arn(7), id(7))
		if err != nil {
			return err
		}
		if !sec.LastAccessedDate.Equal(day) || !v.LastAccessedDate.Equal(day) {
			t.Errorf("after the marks, last access dates %v and %v; want %v", sec.LastAccessedDate, v.LastAccessedDate, day)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
