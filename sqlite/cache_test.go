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

// read returns the secret by name and its versions, through one View, as the reads of the
// server do: the versions' headers, then each version whole.
func read(t *testing.T, s *Store, name string) (*coffer.Secret, []*coffer.Version, error) {
	t.Helper()
	var sec *coffer.Secret
	var vs []*coffer.Version
	err := s.View(t.Context(), func(tx coffer.Tx) error {
		var err error
		if sec, err = tx.SecretByName(cacheNS, name); err != nil {
			return err
		}
		headers, err := tx.VersionHeaders(sec.ARN)
		if err != nil {
			return err
		}
		for _, h := range headers {
			v, err := tx.Version(sec.ARN, h.VersionID)
			if err != nil {
				return err
			}
			vs = append(vs, v)
		}
		return nil
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
		// The secret, its headers, and each of its versions.
		if want := before + 2 + uint64(len(vs)); s.cache.stats.hits != want {
			t.Fatalf("a second read of an unchanged secret made %d cache hits, want %d", s.cache.stats.hits-before, want-before)
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
	// Version reads one version from the cache; one the cached headers lack is NotFound.
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

// TestReadCacheCopies: what a caller may change in what it was given does not reach the
// cache. A version's sealed bytes are read only (coffer.Tx.Version): a hit shares them,
// so that it does not copy a value's ciphertext.
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
	vs[0].Stages[0] = "scribbled"
	vs[0].Ciphertext = []byte("replaced")
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

// TestReadCacheBytes: the read cache keeps whole only the versions that were read, counts
// what it holds, and keeps it within its byte budget, whatever the versions' sizes.
func TestReadCacheBytes(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "coffer.db"), WithReadCache(3), WithCacheCheck())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := s.cache
	consistent := func() {
		t.Helper()
		var sum int64
		for _, e := range c.byARN {
			sum += e.size
		}
		if sum != c.bytes || c.bytes > c.maxBytes || c.bytes < 0 {
			t.Fatalf("the cache counts %d bytes, its entries %d, its budget %d", c.bytes, sum, c.maxBytes)
		}
	}
	// A secret of 20 versions of 1 KiB: reading the current one keeps it alone whole.
	putSecret(t, s, "app/many", "v00", bytes.Repeat([]byte("c"), 1024))
	arn := cacheARN("app/many")
	err = s.Update(t.Context(), func(tx coffer.Tx) error {
		for i := 1; i < 20; i++ {
			err := tx.InsertVersion(&coffer.Version{SecretARN: arn, VersionID: fmt.Sprintf("v%02d", i),
				CreatedDate: time.Now().UTC().Truncate(time.Millisecond), WrappedKey: []byte("wk"), Ciphertext: bytes.Repeat([]byte("o"), 1024)})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	readCurrent := func() {
		t.Helper()
		err := s.View(t.Context(), func(tx coffer.Tx) error {
			hs, err := tx.VersionHeaders(arn)
			if err != nil {
				return err
			}
			cur := current(hs)
			if len(hs) != 20 || cur == nil || len(cur.Ciphertext) != 0 {
				return fmt.Errorf("%d headers, current %+v", len(hs), cur)
			}
			v, err := tx.Version(arn, cur.VersionID)
			if err == nil && !bytes.Equal(v.Ciphertext, bytes.Repeat([]byte("c"), 1024)) {
				err = fmt.Errorf("current version's ciphertext %q", v.Ciphertext)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	readCurrent()
	readCurrent()
	if e := c.byARN[arn]; e == nil || !e.full || len(e.bodies) != 1 || e.bodies["v00"] == nil {
		t.Fatalf("after reads of the current version the entry is %+v", e)
	}
	consistent()
	// Versions larger than the whole budget (18 KiB) pass through and leave it within it.
	big := bytes.Repeat([]byte("b"), 8<<10)
	for i := range 3 {
		name := fmt.Sprintf("app/big%d", i)
		putSecret(t, s, name, "v1", big)
		for range 2 {
			_, vs, err := read(t, s, name)
			if err != nil || len(vs) != 1 || !bytes.Equal(vs[0].Ciphertext, big) {
				t.Fatalf("%s: %d versions, %v", name, len(vs), err)
			}
			consistent()
		}
	}
	for arn := range c.byARN {
		s.cache.invalidate([]string{arn})
	}
	if c.bytes != 0 || len(c.byName) != 0 {
		t.Fatalf("an empty cache counts %d bytes and %d names", c.bytes, len(c.byName))
	}
}
