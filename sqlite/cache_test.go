package sqlite

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

var cacheNS = coffer.Namespace{Account: "111122223333", Region: "us-east-1"}

func cacheARN(name string) string {
	return "arn:aws:secretsmanager:us-east-1:111122223333:secret:" + name + "-AbCdEf"
}

// putSecret creates a secret with one version labelled AWSCURRENT.
func putSecret(t *testing.T, s *Store, name, version string, value []byte) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	err := s.Update(t.Context(), func(tx coffer.Tx) error {
		arn := cacheARN(name)
		if err := tx.InsertSecret(&coffer.Secret{ARN: arn, Namespace: cacheNS, Name: name, CreatedDate: now, LastChangedDate: now}); err != nil {
			return err
		}
		if err := tx.InsertVersion(&coffer.Version{SecretARN: arn, VersionID: version, CreatedDate: now, WrappedKey: []byte("wk"), Ciphertext: value}); err != nil {
			return err
		}
		return tx.SetStage(arn, coffer.StageCurrent, version)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// read returns the secret by name and its versions, through one View.
func read(t *testing.T, s *Store, name string) (*coffer.Secret, []*coffer.Version, error) {
	t.Helper()
	var sec *coffer.Secret
	var vs []*coffer.Version
	err := s.View(t.Context(), func(tx coffer.Tx) error {
		var err error
		if sec, err = tx.SecretByName(cacheNS, name); err != nil {
			return err
		}
		vs, err = tx.Versions(sec.ARN)
		return err
	})
	return sec, vs, err
}

func current(vs []*coffer.Version) *coffer.Version {
	for _, v := range vs {
		if v.HasStage(coffer.StageCurrent) {
			return v
		}
	}
	return nil
}

// TestReadCacheSeesEveryWrite: with the cache warm, a View after each kind of write sees it.
func TestReadCacheSeesEveryWrite(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	putSecret(t, s, "app/db", "v1", []byte("ct-1"))
	arn := cacheARN("app/db")
	update := func(fn func(coffer.Tx) error) {
		t.Helper()
		if err := s.Update(t.Context(), fn); err != nil {
			t.Fatal(err)
		}
	}
	warm := func() (*coffer.Secret, []*coffer.Version) {
		t.Helper()
		read(t, s, "app/db") // fills the cache
		before := s.cache.stats.hits
		sec, vs, err := read(t, s, "app/db")
		if err != nil {
			t.Fatal(err)
		}
		if s.cache.stats.hits != before+2 {
			t.Fatalf("a second read of an unchanged secret made %d cache hits, want 2", s.cache.stats.hits-before)
		}
		return sec, vs
	}

	warm()
	update(func(tx coffer.Tx) error {
		sec, err := tx.SecretByARN(arn)
		if err != nil {
			return err
		}
		sec.Description = "changed"
		return tx.UpdateSecret(sec)
	})
	if sec, _ := warm(); sec.Description != "changed" {
		t.Fatalf("after UpdateSecret: description %q", sec.Description)
	}

	later := time.Now().UTC().Add(time.Second).Truncate(time.Millisecond)
	update(func(tx coffer.Tx) error {
		if err := tx.InsertVersion(&coffer.Version{SecretARN: arn, VersionID: "v2", CreatedDate: later, WrappedKey: []byte("wk"), Ciphertext: []byte("ct-2")}); err != nil {
			return err
		}
		return tx.SetStage(arn, coffer.StageCurrent, "v2")
	})
	if _, vs := warm(); len(vs) != 2 || current(vs).VersionID != "v2" {
		t.Fatalf("after a new current version: %d versions, current %v", len(vs), current(vs))
	}

	update(func(tx coffer.Tx) error { return tx.SetStage(arn, coffer.StageCurrent, "v1") })
	if _, vs := warm(); current(vs).VersionID != "v1" {
		t.Fatalf("after SetStage: current %s", current(vs).VersionID)
	}
	update(func(tx coffer.Tx) error { return tx.RemoveStage(arn, coffer.StageCurrent) })
	if _, vs := warm(); current(vs) != nil {
		t.Fatal("after RemoveStage: a version is still current")
	}
	update(func(tx coffer.Tx) error {
		return tx.UpdateVersion(&coffer.Version{SecretARN: arn, VersionID: "v1", WrappedKey: []byte("wk2"), Ciphertext: []byte("ct-1b")})
	})
	if _, vs := warm(); !bytes.Equal(vs[0].Ciphertext, []byte("ct-1b")) {
		t.Fatal("after UpdateVersion: the old ciphertext was served")
	}
	update(func(tx coffer.Tx) error { return tx.DestroyVersion(arn, "v1", later) })
	if _, vs := warm(); len(vs[0].Ciphertext) != 0 || vs[0].DestroyedDate.IsZero() {
		t.Fatal("after DestroyVersion: the destroyed version's ciphertext was served")
	}
	update(func(tx coffer.Tx) error { return tx.DeleteVersion(arn, "v2") })
	if _, vs := warm(); len(vs) != 1 {
		t.Fatalf("after DeleteVersion: %d versions", len(vs))
	}
	// Version reads one version from the cached list; a missing one is NotFound.
	err := s.View(t.Context(), func(tx coffer.Tx) error {
		if _, err := tx.Version(arn, "v2"); !coffer.IsNotFound(err) {
			return fmt.Errorf("deleted version: %v", err)
		}
		_, err := tx.Version(arn, "v1")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	update(func(tx coffer.Tx) error { return tx.DeleteSecret(arn) })
	if _, _, err := read(t, s, "app/db"); !coffer.IsNotFound(err) {
		t.Fatalf("after DeleteSecret: %v, want NotFound", err)
	}
}

// TestReadCacheRefusesOldSnapshots: a View whose snapshot predates a commit does not put
// what it read into the cache, where it would hide the commit from later reads.
func TestReadCacheRefusesOldSnapshots(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	putSecret(t, s, "app/db", "v1", []byte("ct-1"))
	arn := cacheARN("app/db")
	err := s.View(t.Context(), func(tx coffer.Tx) error {
		// Start the snapshot, then let an Update commit beside it.
		if _, err := tx.Meta("nothing"); err != nil && !coffer.IsNotFound(err) {
			return err
		}
		done := make(chan error)
		go func() {
			done <- s.Update(t.Context(), func(w coffer.Tx) error {
				sec, err := w.SecretByARN(arn)
				if err != nil {
					return err
				}
				sec.Description = "new"
				return w.UpdateSecret(sec)
			})
		}()
		if err := <-done; err != nil {
			return err
		}
		old, err := tx.SecretByName(cacheNS, "app/db")
		if err != nil {
			return err
		}
		if old.Description != "" {
			return fmt.Errorf("the snapshot saw the later commit (%q): the test proves nothing", old.Description)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sec, _, err := read(t, s, "app/db")
	if err != nil {
		t.Fatal(err)
	}
	if sec.Description != "new" {
		t.Fatalf("a read after the commit got %q from the cache, want the committed %q", sec.Description, "new")
	}
}

// TestReadCacheCopies: what a caller does to what it was given does not reach the cache.
func TestReadCacheCopies(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	putSecret(t, s, "app/db", "v1", []byte("ct-1"))
	read(t, s, "app/db")
	sec, vs, err := read(t, s, "app/db")
	if err != nil {
		t.Fatal(err)
	}
	sec.Description = "scribbled"
	clear(vs[0].Ciphertext)
	vs[0].Stages[0] = "scribbled"
	sec2, vs2, err := read(t, s, "app/db")
	if err != nil {
		t.Fatal(err)
	}
	if sec2.Description != "" || !bytes.Equal(vs2[0].Ciphertext, []byte("ct-1")) || vs2[0].Stages[0] != coffer.StageCurrent {
		t.Fatal("a change to a returned secret or version reached the cache")
	}
}

// TestReadCacheBound: the cache keeps at most the configured number of secrets, and none
// when it is off.
func TestReadCacheBound(t *testing.T) {
	for _, size := range []int{0, 3} {
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "coffer.db"), WithReadCache(size))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 10 {
			name := fmt.Sprintf("app/s%d", i)
			putSecret(t, s, name, "v1", []byte("ct"))
			if _, _, err := read(t, s, name); err != nil {
				t.Fatal(err)
			}
		}
		if size == 0 {
			if s.cache != nil {
				t.Fatal("WithReadCache(0) left a cache")
			}
		} else if n := len(s.cache.byARN); n > size || len(s.cache.byName) > size {
			t.Fatalf("cache of %d holds %d secrets, %d names", size, n, len(s.cache.byName))
		}
		s.Close()
	}
}
