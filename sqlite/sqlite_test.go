package sqlite

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/storetest"
)

// openTemp opens a store on a new file in a temporary directory.
func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "coffer.db")
	s, err := Open(t.Context(), path, WithCacheCheck())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s, path
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) coffer.Store {
		s, _ := openTemp(t)
		return s
	})
}

func TestFileMode(t *testing.T) {
	s, path := openTemp(t)
	defer s.Close()
	// Write something, so that the WAL and shared-memory files exist too.
	err := s.Update(t.Context(), func(tx coffer.Tx) error { return tx.PutMeta("k", []byte("v")) })
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("stat: %v", err)
			continue
		}
		if got, want := fi.Mode().Perm(), os.FileMode(0o600); got != want {
			t.Errorf("%s: mode %v, want %v", filepath.Base(p), got, want)
		}
	}
}

func TestMigrationsRunOnce(t *testing.T) {
	s, path := openTemp(t)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	checkVersions := func(s *Store) {
		t.Helper()
		rows, err := s.reader.QueryContext(t.Context(), `SELECT version, name FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var v int
			var name string
			if err := rows.Scan(&v, &name); err != nil {
				t.Fatal(err)
			}
			got = append(got, name)
		}
		var want []string
		for _, m := range ms {
			want = append(want, m.name)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("schema_migrations: got %q, want %q", got, want)
		}
	}
	checkVersions(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopening applies nothing again (a second CREATE TABLE would fail) and records nothing.
	s, err = Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	checkVersions(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	s, path := openTemp(t)
	_, err := s.writer.ExecContext(t.Context(), `INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future')`)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a database from a newer coffer succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open: got %q, want an error that says the schema is newer", err)
	}
}

func TestCommitSurvivesReopen(t *testing.T) {
	s, path := openTemp(t)
	ns := coffer.Namespace{Account: "111111111111", Region: "us-east-1"}
	sec := &coffer.Secret{
		ARN:         coffer.SecretARN(ns, "durable", "AbCdEf"),
		Namespace:   ns,
		Name:        "durable",
		CreatedDate: time.Date(2024, 1, 2, 3, 4, 5, 6_000_000, time.UTC),
	}
	err := s.Update(t.Context(), func(tx coffer.Tx) error {
		if err := tx.InsertSecret(sec); err != nil {
			return err
		}
		if err := tx.InsertVersion(&coffer.Version{SecretARN: sec.ARN, VersionID: "v1", Ciphertext: []byte{1, 2, 3}}); err != nil {
			return err
		}
		return tx.SetStage(sec.ARN, coffer.StageCurrent, "v1")
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	err = s.View(t.Context(), func(tx coffer.Tx) error {
		got, err := tx.SecretByName(ns, "durable")
		if err != nil {
			return err
		}
		if !got.CreatedDate.Equal(sec.CreatedDate) {
			t.Errorf("CreatedDate: got %v, want %v", got.CreatedDate, sec.CreatedDate)
		}
		v, err := tx.Version(sec.ARN, "v1")
		if err != nil {
			return err
		}
		if !v.HasStage(coffer.StageCurrent) {
			t.Errorf("stages after reopen: got %q, want AWSCURRENT", v.Stages)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPragmas(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	for _, tc := range []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", "10000"},
		{"secure_delete", "1"},
		{"temp_store", "2"}, // MEMORY: the savepoints' statement journals
		{"wal_autocheckpoint", "10000"},
	} {
		var got string
		if err := s.writer.QueryRowContext(t.Context(), "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("PRAGMA %s: got %s, want %s", tc.pragma, got, tc.want)
		}
	}
	// Every reader has secure_delete on too: the setting is per connection.
	conns := make([]*sql.Conn, readers)
	for i := range conns {
		c, err := s.reader.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
		var got string
		if err := c.QueryRowContext(t.Context(), "PRAGMA secure_delete").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != "1" {
			t.Errorf("reader %d: PRAGMA secure_delete: got %s, want 1", i, got)
		}
	}
}

func TestPathWithURICharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a dir?#%", "coffer.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), path, WithCacheCheck())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database is not at the path given: %v", err)
	}
}
