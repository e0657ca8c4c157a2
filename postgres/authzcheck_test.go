package postgres

import (
	"context"
	"errors"
	"testing"

	"github.com/coffer-project/coffer"
)

// TestAuthzCheckInFirstRoundTrip: a transaction under a context carrying a coffer.AuthzCheck
// reads the access-control generation with BEGIN and its first statement, in the same round
// trip (a read of a secret's current value stays one round trip); when the generation is not
// the one wanted, that statement, every later one and the commit fail, and nothing of the
// transaction is written, even when fn goes on; a later transaction of the same call does not
// commit after a failed check either, and a later write transaction of a call whose check
// passed reads the generation again.
func TestAuthzCheckInFirstRoundTrip(t *testing.T) {
	s, dsn := openFresh(t)
	defer s.Close()
	ns, sec := withCurrent(t, s, "checked")
	if err := s.Update(t.Context(), func(ptx coffer.Tx) error { return ptx.PutMeta(coffer.AuthzGenerationMeta, []byte("g1")) }); err != nil {
		t.Fatal(err)
	}
	traced, trips := tracedStore(t, dsn)
	defer traced.Close()
	read := func(ptx coffer.Tx) error {
		coffer.ReadCurrent(ptx)
		coffer.EndWithLookup(ptx)
		got, err := ptx.SecretByName(ns, sec.Name)
		if err != nil {
			return err
		}
		_, err = ptx.Version(got.ARN, currentID)
		return err
	}
	traced.View(t.Context(), read) // prepares the statements

	// The generation wanted: no round trip more.
	fresh := &coffer.AuthzCheck{Want: "g1"}
	trips.n.Store(0)
	if err := traced.View(coffer.WithAuthzCheck(t.Context(), fresh), read); err != nil {
		t.Fatalf("a read under a check that passes: %v", err)
	}
	if n := trips.n.Load(); n != 1 {
		t.Errorf("a read under a check took %d round trips; want 1, as without", n)
	}
	if done, got, ok := fresh.Outcome(); !done || got != "g1" || !ok {
		t.Errorf("the check's outcome: done %v, read %q, fresh %v; want true, g1, true", done, got, ok)
	}

	// Another generation: the read fails and says so.
	stale := &coffer.AuthzCheck{Want: "g0"}
	err := traced.View(coffer.WithAuthzCheck(t.Context(), stale), read)
	if !errors.Is(err, coffer.ErrStaleAuthz) {
		t.Errorf("a read under a stale check: %v; want ErrStaleAuthz", err)
	}
	if done, got, ok := stale.Outcome(); !done || got != "g1" || ok {
		t.Errorf("the stale check's outcome: done %v, read %q, fresh %v; want true, g1, false", done, got, ok)
	}

	// An Update under a stale check writes nothing, whatever fn does with the errors.
	changed := *sec
	changed.Description = "must not be written"
	ctx := coffer.WithAuthzCheck(t.Context(), &coffer.AuthzCheck{Want: "g0"})
	err = traced.Update(ctx, func(ptx coffer.Tx) error {
		ptx.SecretByARN(sec.ARN) // fails: the check
		ptx.UpdateSecret(&changed)
		return nil
	})
	if err == nil {
		t.Error("an Update under a stale check committed")
	}
	// A second transaction of that call: no check of its own, and no commit either.
	err = traced.Update(ctx, func(ptx coffer.Tx) error { return ptx.UpdateSecret(&changed) })
	if err == nil {
		t.Error("a second Update of a call whose check failed committed")
	}
	unchanged := func(what string) {
		t.Helper()
		err := s.View(context.Background(), func(ptx coffer.Tx) error {
			got, err := ptx.SecretByARN(sec.ARN)
			if err == nil && got.Description != sec.Description {
				t.Errorf("the secret's description is %q: %s wrote", got.Description, what)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	unchanged("a stale call")

	// A later write transaction of a call whose check passed (another Update, or an attempt
	// after a serialization failure) reads the generation again: its snapshot is later. When
	// the generation moved in between, that transaction writes nothing, and the check fails.
	passed := &coffer.AuthzCheck{Want: "g1"}
	ctx = coffer.WithAuthzCheck(t.Context(), passed)
	if err := traced.View(ctx, read); err != nil {
		t.Fatalf("a read under a check that passes: %v", err)
	}
	if err := s.Update(t.Context(), func(ptx coffer.Tx) error { return ptx.PutMeta(coffer.AuthzGenerationMeta, []byte("g2")) }); err != nil {
		t.Fatal(err)
	}
	err = traced.Update(ctx, func(ptx coffer.Tx) error {
		ptx.UpdateSecret(&changed) // fails: the generation read with it
		return nil
	})
	if !errors.Is(err, coffer.ErrStaleAuthz) {
		t.Errorf("an Update after the generation moved, in a call whose first check passed: %v; want ErrStaleAuthz", err)
	}
	if done, got, fresh := passed.Outcome(); !done || got != "g2" || fresh {
		t.Errorf("the check's outcome after the recheck: done %v, read %q, fresh %v; want true, g2, false", done, got, fresh)
	}
	unchanged("an Update under access control older than its snapshot")
}
