package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// currentID is the id of the one version withCurrent gives its secret.
const currentID = "00000000-0000-4000-8000-000000000001"

// withCurrent stores a secret named name with one version, currentID, labelled AWSCURRENT:
// its wrapped key is "k" and its ciphertext "c".
func withCurrent(t *testing.T, s *Store, name string) (coffer.Namespace, *coffer.Secret) {
	t.Helper()
	ns := coffer.Namespace{Account: "111111111111", Region: "us-east-1"}
	sec := &coffer.Secret{ARN: coffer.SecretARN(ns, name, "AbCdEf"), Namespace: ns, Name: name,
		CreatedDate: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	err := s.Update(t.Context(), func(ptx coffer.Tx) error {
		if err := ptx.InsertSecret(sec); err != nil {
			return err
		}
		v := &coffer.Version{SecretARN: sec.ARN, VersionID: currentID, WrappedKey: []byte("k"), Ciphertext: []byte("c")}
		if err := ptx.InsertVersion(v); err != nil {
			return err
		}
		return ptx.SetStage(sec.ARN, coffer.StageCurrent, currentID)
	})
	if err != nil {
		t.Fatal(err)
	}
	return ns, sec
}

// TestViewPrefetchesHeaders: in a View, a lookup of a secret reads its version headers and,
// after ReadCurrent, its version labelled AWSCURRENT in the same round trip, and VersionHeaders
// and Version hand them out; an Update keeps the headers only, without any version's blobs,
// and not past a write. (storetest's HeadersAfterLookup checks the answers.)
func TestViewPrefetchesHeaders(t *testing.T) {
	s, _ := openFresh(t)
	defer s.Close()
	ns, sec := withCurrent(t, s, "pre")
	err := s.Update(t.Context(), func(ptx coffer.Tx) error {
		if _, err := ptx.SecretByName(ns, sec.Name); err != nil {
			return err
		}
		p := ptx.(*tx).prefetched
		if p == nil || len(p.headers) != 1 || len(p.headers[0].Ciphertext) != 0 || len(p.headers[0].WrappedKey) != 0 {
			t.Errorf("after a lookup in an Update, prefetched is %+v; want the one header, without blobs", p)
		}
		if ptx.(*tx).current != nil {
			t.Error("an Update kept the current version of the secret it looked up")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, lookup := range []func(coffer.Tx) (*coffer.Secret, error){
		func(x coffer.Tx) (*coffer.Secret, error) { return x.SecretByName(ns, sec.Name) },
		func(x coffer.Tx) (*coffer.Secret, error) { return x.SecretByARN(sec.ARN) },
	} {
		err := s.View(t.Context(), func(ptx coffer.Tx) error {
			coffer.ReadCurrent(ptx)
			if _, err := lookup(ptx); err != nil {
				return err
			}
			p := ptx.(*tx).prefetched
			if p == nil || p.arn != sec.ARN || len(p.headers) != 1 || p.headers[0].VersionID != currentID {
				t.Errorf("after the lookup, prefetched is %+v; want the one header of %s", p, sec.ARN)
			}
			if _, err := ptx.VersionHeaders(sec.ARN); err != nil {
				return err
			}
			if ptx.(*tx).prefetched != nil {
				t.Error("VersionHeaders handed the prefetched headers out and kept them")
			}
			if c := ptx.(*tx).current; c == nil || c.VersionID != currentID || string(c.Ciphertext) != "c" {
				t.Errorf("after the lookup, current is %v; want version %s, whole", c != nil, currentID)
			}
			if v, err := ptx.Version(sec.ARN, currentID); err != nil || string(v.WrappedKey) != "k" || string(v.Ciphertext) != "c" {
				t.Errorf("Version of the current version: %v", err)
			}
			if ptx.(*tx).current != nil {
				t.Error("Version handed the prefetched version out and kept it")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Without ReadCurrent (DescribeSecret, say), the headers carry no blob.
	err = s.View(t.Context(), func(ptx coffer.Tx) error {
		if _, err := ptx.SecretByARN(sec.ARN); err != nil {
			return err
		}
		p := ptx.(*tx).prefetched
		if p == nil || len(p.headers) != 1 || len(p.headers[0].Ciphertext) != 0 {
			t.Errorf("after a lookup without ReadCurrent, prefetched is %+v; want the one header, without blobs", p)
		}
		if ptx.(*tx).current != nil {
			t.Error("a View read the current version without ReadCurrent")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// tracedStore opens a second Store on the database at dsn whose connections count their
// round trips.
func tracedStore(t *testing.T, dsn string) (*Store, *roundTrips) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	trips := &roundTrips{}
	cfg.ConnConfig.Tracer = trips
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &Store{pool: pool, writer: make(chan struct{}, 1)}, trips
}

// roundTrips counts what a connection sends and waits for: each query, each batch (a
// pipeline of queries) once.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// TestViewRoundTrips: a read of a secret's current value (the secret by name, its headers,
// the version labelled AWSCURRENT) is one round trip: BEGIN, the secret, its headers and that
// version, and the ROLLBACK, in one pipeline. A View that runs no statement sends nothing.
func TestViewRoundTrips(t *testing.T) {
	s, dsn := openFresh(t)
	defer s.Close()
	ns, sec := withCurrent(t, s, "trips")
	traced, trips := tracedStore(t, dsn)
	defer traced.Close()
	read := func(ptx coffer.Tx) error {
		coffer.ReadCurrent(ptx) // as GetSecretValue
		coffer.EndWithLookup(ptx)
		got, err := ptx.SecretByName(ns, sec.Name)
		if err != nil {
			return err
		}
		hs, err := ptx.VersionHeaders(got.ARN)
		if err != nil || len(hs) != 1 {
			return fmt.Errorf("headers %d, %v", len(hs), err)
		}
		v, err := ptx.Version(got.ARN, hs[0].VersionID)
		if err == nil && string(v.Ciphertext) != "c" {
			err = errors.New("not the version's value")
		}
		return err
	}
	traced.View(t.Context(), read) // prepares the statements
	for _, c := range []struct {
		what string
		fn   func(coffer.Tx) error
		want int64
	}{
		{"a read of a secret's current value", read, 1},
		// As DescribeSecret: the secret and its headers, in one round trip too.
		{"a read of a secret and its headers", func(ptx coffer.Tx) error {
			coffer.EndWithLookup(ptx)
			got, err := ptx.SecretByARN(sec.ARN)
			if err != nil {
				return err
			}
			hs, err := ptx.VersionHeaders(got.ARN)
			if err == nil && len(hs) != 1 {
				err = fmt.Errorf("headers %d", len(hs))
			}
			return err
		}, 1},
		// Without EndWithLookup, the transaction stays open for what fn reads next: its
		// ROLLBACK is a round trip of its own.
		{"a lookup without EndWithLookup", func(ptx coffer.Tx) error {
			coffer.ReadCurrent(ptx)
			_, err := ptx.SecretByName(ns, sec.Name)
			return err
		}, 2},
		{"a View that ran no statement", func(coffer.Tx) error { return nil }, 0},
	} {
		trips.n.Store(0)
		if err := traced.View(t.Context(), c.fn); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if n := trips.n.Load(); n != c.want {
			t.Errorf("%s took %d round trips; want %d", c.what, n, c.want)
		}
	}
}

// TestViewEndedByLookup: after EndWithLookup, the lookup's pipeline ends the View's transaction
// and leaves its connection outside any transaction; a fn that then reads more gets an error
// for that statement (it may not read another snapshot than its first statement's), and runs
// again in a transaction that stays open, whose answers the View returns.
func TestViewEndedByLookup(t *testing.T) {
	s, dsn := openFresh(t)
	defer s.Close()
	ns, sec := withCurrent(t, s, "ended")
	_, other := withCurrent(t, s, "other")
	traced, trips := tracedStore(t, dsn)
	defer traced.Close()

	var runs []error // what each run's second lookup returned
	var found string
	readTwo := func(ptx coffer.Tx) error {
		coffer.ReadCurrent(ptx)
		coffer.EndWithLookup(ptx)
		if _, err := ptx.SecretByName(ns, sec.Name); err != nil {
			return err
		}
		got, err := ptx.SecretByARN(other.ARN)
		runs = append(runs, err)
		if err != nil {
			return err
		}
		found = got.Name
		return nil
	}
	traced.View(t.Context(), readTwo) // prepares the statements
	runs = nil
	trips.n.Store(0)
	if err := traced.View(t.Context(), readTwo); err != nil {
		t.Fatalf("a View that reads past its first pipeline: %v", err)
	}
	if len(runs) != 2 || !errors.Is(runs[0], errEnded) || runs[1] != nil {
		t.Errorf("the second lookup's errors, run by run: %v; want [%v <nil>]", runs, errEnded)
	}
	if found != other.Name {
		t.Errorf("the View's answer: %q; want %q", found, other.Name)
	}
	// The first run's pipeline; then BEGIN and the first lookup, the second, the ROLLBACK.
	if n := trips.n.Load(); n != 4 {
		t.Errorf("a View run again took %d round trips; want 4", n)
	}

	// The connection of a View its lookup ended is idle, not left in a transaction (which the
	// pool would close rather than keep).
	err := traced.View(t.Context(), func(ptx coffer.Tx) error {
		coffer.EndWithLookup(ptx)
		_, err := ptx.SecretByName(ns, sec.Name)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := traced.pool.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if st := conn.Conn().PgConn().TxStatus(); st != 'I' {
		t.Errorf("the connection's transaction status after the View: %q; want 'I'", st)
	}
	if n := traced.pool.Stat().NewConnsCount(); n != 1 {
		t.Errorf("the Views opened %d connections; want 1 (a connection left in a transaction is closed, not reused)", n)
	}
}

// TestLazyTxWithoutConnection: when the first statement of a transaction gets no connection
// (here, its context was cancelled), every later statement, and the commit, fail too: none
// begins a transaction half way through the caller's.
func TestLazyTxWithoutConnection(t *testing.T) {
	s, _ := openFresh(t)
	defer s.Close()
	l := &lazyTx{pool: s.pool, opts: pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}}
	defer l.end(t.Context())
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	var one int
	if err := l.QueryRow(cancelled, `SELECT 1`).Scan(&one); err == nil {
		t.Fatal("a statement with a cancelled context succeeded")
	}
	if err := l.QueryRow(t.Context(), `SELECT 1`).Scan(&one); err == nil {
		t.Error("a later QueryRow succeeded")
	}
	if _, err := l.Exec(t.Context(), `SELECT 1`); err == nil {
		t.Error("a later Exec succeeded")
	}
	if _, err := l.Query(t.Context(), `SELECT 1`); err == nil {
		t.Error("a later Query succeeded")
	}
	if err := l.SendBatch(t.Context(), &pgx.Batch{}).Close(); err == nil {
		t.Error("a later SendBatch succeeded")
	}
	if err := l.commit(t.Context()); err == nil {
		t.Error("the commit succeeded")
	}
}
