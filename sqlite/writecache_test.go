package sqlite

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

// openChecked opens a store whose write cache is checked against the database at every read
// it serves (a difference panics).
func openChecked(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "coffer.db"), WithCacheCheck())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// put does what a PutSecretValue does on the writer's turn: the secret by name, its versions'
// headers, the new version, AWSCURRENT and AWSPREVIOUS moved, the oldest unlabelled version
// over keep deleted, and the secret's row updated. fail, when set, is returned after all of
// that, so that the Update is rolled back.
func put(s *Store, name, version string, keep int, fail error) error {
	return s.Update(context.Background(), func(tx coffer.Tx) error {
		sec, err := tx.SecretByName(cacheNS, name)
		if err != nil {
			return err
		}
		vs, err := tx.VersionHeaders(sec.ARN)
		if err != nil {
			return err
		}
		now := time.Now()
		if err := tx.InsertVersion(&coffer.Version{SecretARN: sec.ARN, VersionID: version, CreatedDate: now, KMSKeyID: "k", WrappedKey: []byte("wk"), Ciphertext: []byte("ct")}); err != nil {
			return err
		}
		var unlabelled []string
		for _, v := range vs {
			switch {
			case v.HasStage(coffer.StageCurrent):
				if err := tx.SetStage(sec.ARN, coffer.StagePrevious, v.VersionID); err != nil {
					return err
				}
			case len(v.Stages) == 0 || (len(v.Stages) == 1 && v.HasStage(coffer.StagePrevious)):
				// unlabelled, or about to lose AWSPREVIOUS
				unlabelled = append(unlabelled, v.VersionID)
			}
		}
		if err := tx.SetStage(sec.ARN, coffer.StageCurrent, version); err != nil {
			return err
		}
		for len(unlabelled) > keep {
			if err := tx.DeleteVersion(sec.ARN, unlabelled[0]); err != nil {
				return err
			}
			unlabelled = unlabelled[1:]
		}
		sec.LastChangedDate = now
		if err := tx.UpdateSecret(sec); err != nil {
			return err
		}
		return fail
	})
}

// hits returns how many reads the write cache has served.
func hits(s *Store) int {
	s.group.turn.Lock()
	defer s.group.turn.Unlock()
	return s.wcache.hits
}

func TestWriteCacheServesPuts(t *testing.T) {
	s := openChecked(t)
	putSecret(t, s, "app/db", "v0000000000000000000000000000000", []byte("ct"))
	for i := 1; i <= 20; i++ {
		before := hits(s)
		if err := put(s, "app/db", fmt.Sprintf("v%031d", i), 3, nil); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
		// The secret's row and its headers: both from the cache, both checked against the
		// database (the store panics on a difference).
		if got := hits(s) - before; got != 2 {
			t.Fatalf("put %d: %d reads served by the write cache, want 2", i, got)
		}
	}
	_, vs, err := read(t, s, "app/db")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 5 { // AWSCURRENT, AWSPREVIOUS and 3 kept
		t.Fatalf("%d versions, want 5", len(vs))
	}
	if c := current(vs); c == nil || c.VersionID != fmt.Sprintf("v%031d", 20) {
		t.Fatalf("AWSCURRENT on %v", c)
	}
}

func TestWriteCacheForgetsRolledBackWrites(t *testing.T) {
	s := openChecked(t)
	putSecret(t, s, "app/db", "v0000000000000000000000000000000", []byte("ct"))
	if err := put(s, "app/db", "v0000000000000000000000000000001", 1, nil); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := put(s, "app/db", "v0000000000000000000000000000002", 0, boom); !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	// A panic rolls back too.
	func() {
		defer func() { recover() }()
		s.Update(t.Context(), func(tx coffer.Tx) error {
			if err := tx.SetStage(cacheARN("app/db"), coffer.StageCurrent, "v0000000000000000000000000000000"); err != nil {
				return err
			}
			panic("in fn")
		})
	}()
	// The next put reads what the database holds (checked), from the cache.
	before := hits(s)
	if err := put(s, "app/db", "v0000000000000000000000000000003", 5, nil); err != nil {
		t.Fatal(err)
	}
	if hits(s) == before {
		t.Fatal("no read served by the write cache after a rollback of another Update")
	}
	_, vs, err := read(t, s, "app/db")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if v.VersionID == "v0000000000000000000000000000002" {
			t.Fatal("the rolled-back version is in the database")
		}
	}
}

func TestWriteCacheDropsAFailedCommit(t *testing.T) {
	s := openChecked(t)
	putSecret(t, s, "app/db", "v0000000000000000000000000000000", []byte("ct"))
	if err := put(s, "app/db", "v0000000000000000000000000000001", 5, nil); err != nil {
		t.Fatal(err)
	}
	// The Update's own writes succeed, and so does its fn; the commit fails on a foreign
	// key checked only then.
	err := s.Update(t.Context(), func(ctx coffer.Tx) error {
		tx := ctx.(*tx)
		if err := tx.SetStage(cacheARN("app/db"), coffer.StageCurrent, "v0000000000000000000000000000000"); err != nil {
			return err
		}
		if _, err := tx.tx.Exec("PRAGMA defer_foreign_keys = ON"); err != nil {
			return err
		}
		_, err := tx.tx.Exec(`INSERT INTO stages (secret_arn, stage, version_id) VALUES (?, 'X', 'nope')`, cacheARN("app/db"))
		return err
	})
	if err == nil {
		t.Fatal("the commit succeeded")
	}
	before := hits(s)
	if err := put(s, "app/db", "v0000000000000000000000000000002", 5, nil); err != nil {
		t.Fatal(err)
	}
	// Both reads went to the database (the entry was dropped), then the cache holds again.
	if got := hits(s) - before; got != 0 {
		t.Fatalf("%d reads served by the write cache right after a failed commit, want 0", got)
	}
	_, vs, err := read(t, s, "app/db")
	if err != nil {
		t.Fatal(err)
	}
	if c := current(vs); c == nil || c.VersionID != "v0000000000000000000000000000002" {
		t.Fatalf("AWSCURRENT on %v", c)
	}
}

// Concurrent puts, some failing, on a few secrets, with other writes the cache does not
// follow mixed in: every read the cache serves is checked against the database.
func TestWriteCacheUnderConcurrentWrites(t *testing.T) {
	s := openChecked(t)
	names := []string{"a", "b", "c"}
	for _, n := range names {
		putSecret(t, s, n, "v0000000000000000000000000000000", []byte("ct"))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range 60 {
				name := names[r.IntN(len(names))]
				id := fmt.Sprintf("g%dv%029d", g, i)
				var err error
				switch r.IntN(6) {
				case 0:
					if perr := put(s, name, id, r.IntN(3), errors.New("planned")); perr == nil || perr.Error() != "planned" {
						err = fmt.Errorf("failing put: %v", perr)
					}
				case 1: // a write the cache does not follow
					err = s.Update(context.Background(), func(tx coffer.Tx) error {
						return tx.MarkAccessed(cacheARN(name), "v0000000000000000000000000000000", time.Now())
					})
					if coffer.IsNotFound(err) { // the version was pruned
						err = nil
					}
				case 2:
					err = s.Update(context.Background(), func(tx coffer.Tx) error { return tx.RemoveStage(cacheARN(name), coffer.StagePrevious) })
				default:
					err = put(s, name, id, r.IntN(3), nil)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	if hits(s) == 0 {
		t.Fatal("the write cache served no read")
	}
}
