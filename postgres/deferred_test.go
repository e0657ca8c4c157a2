package postgres

import (
	"fmt"
	"testing"

	"github.com/coffer-project/coffer"
)

// TestDeferredWriteDoomsTransaction: a write queued after DeferWrites that names something
// missing fails the Update even when fn takes no notice (the write itself returned nil) and
// goes on to return nil: the commit does not happen, and nothing of the transaction is
// written. (The conformance cases check what a caller that returns every error sees.)
func TestDeferredWriteDoomsTransaction(t *testing.T) {
	s, _ := openFresh(t)
	defer s.Close()
	ns, sec := withCurrent(t, s, "doomed")
	changed := *sec
	changed.Description = "must not be written"
	err := s.Update(t.Context(), func(ptx coffer.Tx) error {
		coffer.DeferWrites(ptx)
		if err := ptx.SetStage(sec.ARN, coffer.StagePending, "no-such-version"); err != nil {
			t.Errorf("a queued SetStage returned %v at once", err)
		}
		if err := ptx.UpdateSecret(&changed); err != nil {
			t.Errorf("a queued UpdateSecret returned %v at once", err)
		}
		return nil // as if fn had not looked at what the writes returned
	})
	if !coffer.IsNotFound(err) {
		t.Fatalf("Update after a queued SetStage of a missing version: got %v, want NotFound", err)
	}
	err = s.View(t.Context(), func(ptx coffer.Tx) error {
		got, err := ptx.SecretByName(ns, sec.Name)
		if err != nil {
			return err
		}
		if got.Description != sec.Description {
			t.Errorf("the secret's description is %q: the doomed transaction committed", got.Description)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The connection went back to the pool out of any transaction: the next Update works.
	if err := s.Update(t.Context(), func(ptx coffer.Tx) error { return ptx.UpdateSecret(&changed) }); err != nil {
		t.Fatalf("the Update after a doomed one: %v", err)
	}
}

// TestPutRoundTrips: a new version as PutSecretValue writes it (the secret, its headers, then
// after DeferWrites the version, two labels, a pruned version and the secret's row) is two
// round trips: BEGIN with the secret and its headers; the five writes and COMMIT in one
// pipeline. It was eight before writes were queued and headers read with the lookup, three
// before the COMMIT went with the writes. The connection goes back to the pool out of any
// transaction (end sends no ROLLBACK after a COMMIT that went in a pipeline).
func TestPutRoundTrips(t *testing.T) {
	s, dsn := openFresh(t)
	defer s.Close()
	ns, sec := withCurrent(t, s, "put-trips")
	traced, trips := tracedStore(t, dsn)
	defer traced.Close()
	prev := currentID
	for i, id := range []string{"00000000-0000-4000-8000-000000000002", "00000000-0000-4000-8000-000000000003"} {
		trips.n.Store(0)
		err := traced.Update(t.Context(), func(ptx coffer.Tx) error {
			got, err := ptx.SecretByName(ns, sec.Name)
			if err != nil {
				return err
			}
			if _, err := ptx.VersionHeaders(got.ARN); err != nil {
				return err
			}
			coffer.DeferWrites(ptx)
			v := &coffer.Version{SecretARN: got.ARN, VersionID: id, WrappedKey: []byte("k"), Ciphertext: []byte("c")}
			if err := ptx.InsertVersion(v); err != nil {
				return err
			}
			if err := ptx.SetStage(got.ARN, coffer.StagePrevious, prev); err != nil {
				return err
			}
			if err := ptx.SetStage(got.ARN, coffer.StageCurrent, id); err != nil {
				return err
			}
			if i == 1 {
				if err := ptx.DeleteVersion(got.ARN, currentID); err != nil {
					return err
				}
			} else if err := ptx.RemoveStage(got.ARN, "none"); err != nil {
				return err
			}
			return ptx.UpdateSecret(got)
		})
		if err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
		// The first also prepares the statements.
		if n := trips.n.Load(); i == 1 && n != 2 {
			t.Errorf("a put took %d round trips; want 2", n)
		}
		prev = id
	}
	if n := traced.pool.Stat().NewConnsCount(); n != 1 {
		t.Errorf("the puts opened %d connections; want 1 (a connection left in a transaction is closed, not reused)", n)
	}
	var stages map[string][]string
	err := s.View(t.Context(), func(ptx coffer.Tx) error {
		vs, err := ptx.Versions(sec.ARN)
		stages = map[string][]string{}
		for _, v := range vs {
			stages[v.VersionID] = v.Stages
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) != 2 || len(stages[prev]) != 1 || stages[prev][0] != coffer.StageCurrent {
		t.Errorf("versions after the puts: %v; want two, the last one AWSCURRENT", stages)
	}
}

// TestUpdateRetriesQueuedConflicts: a serialization failure of a queued write (reported by the
// commit's pipeline) is a conflict as any other: Update runs fn again, and both writers
// commit.
func TestUpdateRetriesQueuedConflicts(t *testing.T) {
	s1, dsn := openFresh(t)
	defer s1.Close()
	s2, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	_, sec := withCurrent(t, s1, "queued-conflict")
	racingUpdates(t, s1, s2, func(ptx coffer.Tx, i int) (func() error, error) {
		got, err := ptx.SecretByARN(sec.ARN)
		if err != nil {
			return nil, err
		}
		return func() error {
			coffer.DeferWrites(ptx)
			got.Description = fmt.Sprintf("writer %d", i)
			return ptx.UpdateSecret(got)
		}, nil
	})
}
