package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/storetest"
)

// openFresh opens a store on a fresh schema of the test server and closes it when t ends.
func openFresh(t *testing.T) (*Store, string) {
	t.Helper()
	dsn := storetest.PostgresDSN(t)
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s, dsn
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) coffer.Store {
		s, _ := openFresh(t)
		return s
	})
}

// appliedMigrations returns the names recorded in schema_migrations.
func appliedMigrations(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.pool.Query(t.Context(), `SELECT name FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

func TestMigrationsRunOnce(t *testing.T) {
	s, dsn := openFresh(t)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, m := range ms {
		want = append(want, m.name)
	}
	if got := appliedMigrations(t, s); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("schema_migrations: got %q, want %q", got, want)
	}
	s.Close()

	// Reopening applies nothing again (a second CREATE TABLE would fail) and records nothing.
	s, err = Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if got := appliedMigrations(t, s); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("schema_migrations after reopen: got %q, want %q", got, want)
	}
}

func TestConcurrentOpen(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	errs := make(chan error, 4)
	for range cap(errs) {
		go func() {
			s, err := Open(t.Context(), dsn)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Errorf("Open racing other Opens of a new schema: %v", err)
		}
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	s, dsn := openFresh(t)
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future')`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err := Open(t.Context(), dsn)
	if err == nil {
		s.Close()
		t.Fatal("Open of a database from a newer coffer succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open: got %q, want an error that says the schema is newer", err)
	}
}

func TestDSNForms(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	rest, ok := strings.CutPrefix(dsn, "postgres://")
	if !ok {
		t.Skipf("%s is not a postgres:// URL", storetest.PostgresEnv)
	}
	// The same schema, reached through the postgresql:// scheme, holds what the first wrote.
	a, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Update(t.Context(), func(tx coffer.Tx) error { return tx.PutMeta("k", []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	b, err := Open(t.Context(), "postgresql://"+rest)
	if err != nil {
		t.Fatalf("Open(postgresql://…): %v", err)
	}
	defer b.Close()
	err = b.View(t.Context(), func(tx coffer.Tx) error {
		got, err := tx.Meta("k")
		if err == nil && string(got) != "v" {
			t.Errorf("Meta through postgresql://: got %q, want %q", got, "v")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	// Another schema is another store.
	c, err := Open(t.Context(), storetest.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.View(t.Context(), func(tx coffer.Tx) error { _, err := tx.Meta("k"); return err })
	if !coffer.IsNotFound(err) {
		t.Errorf("Meta in another schema: got %v, want NotFound", err)
	}
}

func TestMissingSchema(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	dsn = strings.Replace(dsn, "search_path=coffer_test_", "search_path=missing_", 1)
	s, err := Open(t.Context(), dsn)
	if err == nil {
		s.Close()
		t.Fatal("Open with a search_path naming no existing schema succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "search_path") {
		t.Errorf("Open: got %q, want an error that mentions search_path", err)
	}
}

func TestUpdateRetriesConflicts(t *testing.T) {
	s1, dsn := openFresh(t)
	// The Updates of one Store run one at a time; two servers sharing the database (two
	// Stores) run theirs side by side.
	s2, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	// Two transactions read the same row and both write it: one of them must fail to
	// serialize, and Update must run its fn again rather than return the failure.
	racingUpdates(t, s1, s2, func(tx coffer.Tx, _ int) (func() error, error) {
		if _, err := tx.Meta("x"); err != nil && !coffer.IsNotFound(err) {
			return nil, err
		}
		return func() error { return tx.PutMeta("x", []byte("y")) }, nil
	})
}

// racingUpdates runs an Update on each of two Stores at once: each fn reads (read, which
// returns the write to make), and, the first time, waits for the other to have read before it
// writes, so that one of them fails to serialize. It fails the test unless both Updates
// succeed and their fns ran at least three times between them (one retry).
func racingUpdates(t *testing.T, s1, s2 *Store, read func(tx coffer.Tx, i int) (write func() error, err error)) {
	t.Helper()
	var runs atomic.Int32
	readDone := make(chan struct{})
	release := make(chan struct{})
	errs := make(chan error, 2)
	for i, s := range []*Store{s1, s2} {
		go func() {
			first := true
			errs <- s.Update(context.Background(), func(tx coffer.Tx) error {
				runs.Add(1)
				write, err := read(tx, i)
				if err != nil {
					return err
				}
				if first {
					first = false
					readDone <- struct{}{}
					<-release
				}
				return write()
			})
		}()
	}
	<-readDone
	<-readDone
	close(release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("Update: %v", err)
		}
	}
	if got := runs.Load(); got < 3 {
		t.Errorf("fn ran %d times, want at least 3 (one retry)", got)
	}
}

// TestUpdatesOneAtATime: the Updates of one Store never overlap, whatever their number, and
// each of them commits.
func TestUpdatesOneAtATime(t *testing.T) {
	s, _ := openFresh(t)
	var running, most atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			err := s.Update(t.Context(), func(tx coffer.Tx) error {
				n := running.Add(1)
				defer running.Add(-1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				time.Sleep(2 * time.Millisecond)
				return tx.PutMeta(fmt.Sprintf("one/%d", i), []byte("v"))
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if m := most.Load(); m != 1 {
		t.Errorf("%d Updates of one Store ran at once, want 1", m)
	}
	for i := range 16 {
		if _, err := s.ReadMeta(t.Context(), fmt.Sprintf("one/%d", i)); err != nil {
			t.Errorf("update %d: %v", i, err)
		}
	}
}

func TestConflictErrorClassified(t *testing.T) {
	// An error that is neither a conflict nor a PgError is not retried.
	if isConflict(errors.New("boom")) {
		t.Error("isConflict(plain error) = true")
	}
	if isConflict(coffer.NotFound) {
		t.Error("isConflict(NotFound) = true")
	}
}

// TestReadMeta: ReadMeta reads what an Update committed, outside any transaction, and a
// missing key is NotFound.
func TestReadMeta(t *testing.T) {
	s, _ := openFresh(t)
	if _, err := s.ReadMeta(t.Context(), "test/gen"); !coffer.IsNotFound(err) {
		t.Fatalf("ReadMeta of a missing key: %v, want NotFound", err)
	}
	for _, v := range []string{"1", "2"} {
		if err := s.Update(t.Context(), func(tx coffer.Tx) error { return tx.PutMeta("test/gen", []byte(v)) }); err != nil {
			t.Fatal(err)
		}
		got, err := s.ReadMeta(t.Context(), "test/gen")
		if err != nil || string(got) != v {
			t.Fatalf("ReadMeta after PutMeta(%q): %q, %v", v, got, err)
		}
	}
}
