package sqlite

import (
	"bytes"
	"crypto/rand"
	"os"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

// marker returns n random bytes, split by chunks into the pieces to look for: a page boundary
// or an overflow page may cut the whole, never most of its chunks.
func marker(n, chunk int) (whole []byte, chunks [][]byte) {
	whole = make([]byte, n)
	_, _ = rand.Read(whole) // crypto/rand.Read never fails
	for i := 0; i+chunk <= n; i += chunk {
		chunks = append(chunks, whole[i:i+chunk])
	}
	return whole, chunks
}

// found counts the chunks that occur in the database file, its WAL and its shared-memory
// file, reading every byte of each.
func found(t *testing.T, path string, chunks [][]byte) int {
	t.Helper()
	var files [][]byte
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, b)
	}
	n := 0
	for _, c := range chunks {
		for _, f := range files {
			if bytes.Contains(f, c) {
				n++
				break
			}
		}
	}
	return n
}

func TestDestroyVersionErasesBytes(t *testing.T) {
	s, path := openTemp(t)
	defer s.Close()
	ns := coffer.Namespace{Account: "111111111111", Region: "us-east-1"}
	sec := &coffer.Secret{ARN: coffer.SecretARN(ns, "erased", "AbCdEf"), Namespace: ns, Name: "erased",
		CreatedDate: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	ct, ctChunks := marker(4096, 32)
	key, keyChunks := marker(61, 20)
	chunks := append(ctChunks, keyChunks...)
	const id = "00000000-0000-4000-8000-000000000001"
	// A neighbour on the same pages, which must survive.
	keep := &coffer.Version{SecretARN: sec.ARN, VersionID: "00000000-0000-4000-8000-000000000002",
		WrappedKey: []byte("kept key"), Ciphertext: bytes.Repeat([]byte("kept"), 300)}
	err := s.Update(t.Context(), func(tx coffer.Tx) error {
		if err := tx.InsertSecret(sec); err != nil {
			return err
		}
		if err := tx.InsertVersion(&coffer.Version{SecretARN: sec.ARN, VersionID: id, WrappedKey: key, Ciphertext: ct}); err != nil {
			return err
		}
		return tx.InsertVersion(keep)
	})
	if err != nil {
		t.Fatal(err)
	}
	// A second write, so the marker's pages are in the WAL more than once.
	if err := s.Update(t.Context(), func(tx coffer.Tx) error { return tx.PutMeta("k", []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	// A chunk that straddles a page boundary is not found whole; nearly all the others are.
	if n := found(t, path, chunks); n < len(chunks)*9/10 {
		t.Fatalf("before DestroyVersion: %d of %d marker chunks on disk, want nearly all (else the test proves nothing)", n, len(chunks))
	}

	when := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	if err := s.Update(t.Context(), func(tx coffer.Tx) error { return tx.DestroyVersion(sec.ARN, id, when) }); err != nil {
		t.Fatal(err)
	}
	if n := found(t, path, chunks); n != 0 {
		t.Errorf("after DestroyVersion: %d of %d marker chunks still in the database, WAL or shared-memory file", n, len(chunks))
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() != 0 {
		t.Errorf("WAL is %d bytes after DestroyVersion, want it truncated", fi.Size())
	}

	err = s.View(t.Context(), func(tx coffer.Tx) error {
		v, err := tx.Version(sec.ARN, id)
		if err != nil {
			return err
		}
		if len(v.WrappedKey) != 0 || len(v.Ciphertext) != 0 || !v.DestroyedDate.Equal(when) {
			t.Errorf("destroyed version: %d + %d sealed bytes, DestroyedDate %v; want none, %v", len(v.WrappedKey), len(v.Ciphertext), v.DestroyedDate, when)
		}
		k, err := tx.Version(sec.ARN, keep.VersionID)
		if err != nil {
			return err
		}
		if !bytes.Equal(k.Ciphertext, keep.Ciphertext) || !bytes.Equal(k.WrappedKey, keep.WrappedKey) || k.Destroyed() {
			t.Errorf("neighbouring version changed by DestroyVersion")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Later writes and a reopen bring nothing back.
	if err := s.Update(t.Context(), func(tx coffer.Tx) error { return tx.PutMeta("k", []byte("w")) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := found(t, path, chunks); n != 0 {
		t.Errorf("after Close: %d of %d marker chunks on disk", n, len(chunks))
	}
}

func TestDestroyVersionCheckpointsOnlyWhenErasing(t *testing.T) {
	s, path := openTemp(t)
	defer s.Close()
	ns := coffer.Namespace{Account: "111111111111", Region: "us-east-1"}
	sec := &coffer.Secret{ARN: coffer.SecretARN(ns, "s", "AbCdEf"), Namespace: ns, Name: "s", CreatedDate: time.Now().UTC()}
	err := s.Update(t.Context(), func(tx coffer.Tx) error {
		if err := tx.InsertSecret(sec); err != nil {
			return err
		}
		if err := tx.InsertVersion(&coffer.Version{SecretARN: sec.ARN, VersionID: "v1", Ciphertext: []byte{1}}); err != nil {
			return err
		}
		return tx.DestroyVersion(sec.ARN, "v1", time.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
	walSize := func() int64 {
		t.Helper()
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if got := walSize(); got != 0 {
		t.Errorf("WAL after a transaction that destroyed a version: %d bytes, want 0", got)
	}
	// Destroying it again erases nothing: no checkpoint, the WAL keeps its frames.
	err = s.Update(t.Context(), func(tx coffer.Tx) error {
		if err := tx.PutMeta("k", []byte("v")); err != nil {
			return err
		}
		return tx.DestroyVersion(sec.ARN, "v1", time.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := walSize(); got == 0 {
		t.Errorf("WAL after re-destroying a destroyed version: 0 bytes, want the frames of the write")
	}
}
