// Package postgres is the coffer.Store adapter for PostgreSQL, on github.com/jackc/pgx/v5 and
// its connection pool. It holds ciphertext and wrapped keys only: secret values arrive sealed by
// the keyring package and leave the same way.
//
// Every Update runs at the SERIALIZABLE isolation level, so concurrent writers, in this process
// or in other coffer servers sharing the database, behave as if they ran one after the other.
// When PostgreSQL aborts a transaction with a serialization failure or a deadlock (SQLSTATE
// 40001 or 40P01), Update rolls it back, waits a short random while and runs fn again; callers
// never see those errors unless the retries run out. The Updates of one Store run one at a
// time: SERIALIZABLE writers of one server mostly conflict with each other (their predicate
// locks fall on the same index pages, although they write different secrets) and would spend
// their time retrying; one at a time, 16 concurrent PutSecretValue callers make 438 puts/s
// instead of 243, p99 43 ms instead of 708 ms (docs/performance.md). Servers sharing the
// database still run side by side, and still retry. Every View runs REPEATABLE READ, READ
// ONLY: one snapshot, and writes fail.
//
// An Update whose context carries coffer.OneSecretUpdate (CreateSecret, PutSecretValue and
// the other calls that change one secret) is the exception: it runs at REPEATABLE READ,
// beside every other Update, and its lookups of a secret lock the secret's row (SELECT …
// FOR UPDATE); two creators of one name meet at its unique index, where the second fails to
// serialize and runs again, to find the first's secret.
// Every writer of a secret's versions and stages writes the secret's row too: the other
// Updates by UpdateSecret, DeleteSecret or MarkAccessed, and such an Update that wrote
// anything but the row by a last UPDATE of it before its commit. So two writers of one
// secret, here or in another server, run one after the other: the second waits for the
// first's lock, and when the first commits it fails to serialize (40001) and runs again on
// a snapshot that holds the first's writes. Writers of different secrets take no predicate
// locks and do not wait for each other: 16 concurrent PutSecretValue callers of one server
// make 66 to 92 % more puts/s than one at a time (docs/performance.md). At most half the
// pool's connections run such Updates at once, since one waiting for a lock holds its
// connection: the other calls keep the rest. And the Updates of one key
// (coffer.OneSecretUpdateKey: the secret as the caller named it) wait in this process for
// each other before they begin, so that sixteen writers of one secret do not all wait at its
// lock only to fail to serialize: 46 to 60 % more puts/s than with the lock alone.
//
// DestroyVersion empties a version's blobs with an UPDATE. PostgreSQL keeps the old row version
// (and its TOAST chunks) as a dead tuple until VACUUM, autovacuum or a manual VACUUM of the
// versions table, reclaims its space, and in WAL segments and base backups until they are
// recycled; no query sees it meanwhile.
//
// The schema lives in the first schema of the connection's search_path, which the DSN may set
// (postgres://host/db?search_path=coffer). It is created and upgraded by the versioned
// migrations embedded from migrations/, applied by Open in one transaction and recorded in the
// schema_migrations table.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	// maxAttempts bounds how often Update runs fn when serialization failures keep happening.
	maxAttempts = 50
	// minBackoff and maxBackoff bound the random wait before a retry, which doubles each time.
	minBackoff = 1 * time.Millisecond
	maxBackoff = 200 * time.Millisecond
)

// minPoolConns is the least number of connections the pool keeps when the DSN does not say:
// half of them may wait for secrets' locks (Store.oneSecret) and the rest serve every other
// call. With pgxpool's default of four on two CPUs, two writers of secrets side by side gave
// 15 to 30 % fewer puts/s than four; eight, and four writers, as many.
const minPoolConns = 8

// oneSecretBackoff bounds the random wait of a OneSecretUpdate before it runs again.
const oneSecretBackoff = 2 * time.Millisecond

// SQLSTATE codes the adapter acts on.
const (
	sqlstateUniqueViolation      = "23505"
	sqlstateSerializationFailure = "40001"
	sqlstateDeadlockDetected     = "40P01"
	// sqlstateNoRow is raised by coffer_no_row (migration 0007): a queued write changed no
	// row where its caller needed one.
	sqlstateNoRow = "CF001"
)

// Store is a coffer.Store on a PostgreSQL database. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	// writer is held by the attempt of an Update that is running; it is let go during the
	// wait before a retry.
	writer chan struct{}
	// oneSecret bounds the attempts of coffer.OneSecretUpdate Updates running at once to half
	// the pool's connections: one that waits for a secret's lock holds its connection, and
	// puts piling up on one secret must leave connections to every other call.
	oneSecret chan struct{}
	// keys queues the OneSecretUpdates of one key (coffer.OneSecretUpdateKey) in this process.
	keys keyQueue
}

var _ coffer.Store = (*Store)(nil)

// Open connects to the database at dsn, a postgres:// or postgresql:// URL or a key=value
// string as libpq accepts, and applies any pending schema migrations. Besides the libpq
// parameters the DSN may set search_path, to keep coffer's tables in a schema of their own, and
// the pool settings of pgxpool (pool_max_conns, …); without pool_max_conns the pool keeps up
// to minPoolConns connections, or pgxpool's default (the number of CPUs) when larger. Open
// fails if the database was written by a newer coffer whose schema this one does not know.
func Open(ctx context.Context, dsn string) (*Store, error) {
	return open(ctx, dsn, 0)
}

// open is Open, applying the migrations only up to version upTo when it is positive (tests
// build databases of an older schema with it).
func open(ctx context.Context, dsn string, upTo int) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgconn's parse errors redact the password.
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = max(cfg.MaxConns, minPoolConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	if err := migrate(ctx, pool, upTo); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool, writer: make(chan struct{}, 1), oneSecret: make(chan struct{}, max(1, cfg.MaxConns/2))}, nil
}

// Update runs fn in a SERIALIZABLE read-write transaction, or a REPEATABLE READ one that
// locks the secrets it looks up after coffer.OneSecretUpdate. An error from fn rolls the
// transaction back and is returned unchanged; so does a panic, which goes on after the
// rollback.
//
// fn may run more than once: when the transaction fails to serialize with a concurrent one,
// Update rolls it back and runs fn again on a fresh transaction. fn must therefore only act
// through the Tx it is given, and keep nothing from an earlier run (values it computed, maps it
// filled) unless it starts over each time.
func (s *Store) Update(ctx context.Context, fn func(coffer.Tx) error) error {
	if coffer.IsOneSecretUpdate(ctx) {
		return s.updateOneSecret(ctx, fn)
	}
	for attempt := 1; ; attempt++ {
		retry, err := s.attempt(ctx, fn)
		if !retry || attempt == maxAttempts {
			return err
		}
		backoff := min(maxBackoff, minBackoff<<min(attempt-1, 16))
		if !sleep(ctx, rand.N(backoff)+minBackoff) {
			return err
		}
	}
}

// sleep waits d, and reports false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// attempt runs update once it holds s.writer, and lets it go after, panic or not.
func (s *Store) attempt(ctx context.Context, fn func(coffer.Tx) error) (retry bool, err error) {
	select {
	case s.writer <- struct{}{}:
	case <-ctx.Done():
		return false, coffer.Internal(fmt.Errorf("postgres: begin: %w", ctx.Err()))
	}
	defer func() { <-s.writer }()
	return s.update(ctx, fn)
}

// updateOneSecret is Update after coffer.OneSecretUpdate. It holds a place of s.oneSecret
// through every attempt, and runs fn again within oneSecretBackoff after a serialization
// failure: such a failure says that another writer of the secret committed while this one
// waited for the secret's lock, and the next attempt waits at that lock again. (Update's
// growing backoff, with the place given up meanwhile, let the writers that came later pass
// it again and again: sixteen puts on one secret at once, p99 0.7 s instead of 0.16 s.)
//
// Before that, it waits for the OneSecretUpdates of its key that came before it in this
// process to end: sixteen puts on one secret at once then run one after the other instead
// of all waiting at the secret's lock and all but one failing to serialize at each commit.
func (s *Store) updateOneSecret(ctx context.Context, fn func(coffer.Tx) error) error {
	if key := coffer.OneSecretUpdateKey(ctx); key != "" {
		unlock, err := s.keys.lock(ctx, key)
		if err != nil {
			return coffer.Internal(fmt.Errorf("postgres: begin: %w", err))
		}
		defer unlock()
	}
	select {
	case s.oneSecret <- struct{}{}:
	case <-ctx.Done():
		return coffer.Internal(fmt.Errorf("postgres: begin: %w", ctx.Err()))
	}
	defer func() { <-s.oneSecret }()
	for attempt := 1; ; attempt++ {
		retry, err := s.update(ctx, fn)
		if !retry || attempt == maxAttempts {
			return err
		}
		if !sleep(ctx, rand.N(oneSecretBackoff)) {
			return err
		}
	}
}

// update makes one attempt of Update. It reports whether the attempt failed to serialize and
// should be retried.
func (s *Store) update(ctx context.Context, fn func(coffer.Tx) error) (retry bool, err error) {
	pgTx := &lazyTx{pool: s.pool, opts: pgx.TxOptions{IsoLevel: pgx.Serializable, AccessMode: pgx.ReadWrite}}
	one := coffer.IsOneSecretUpdate(ctx)
	if one {
		pgTx.opts.IsoLevel = pgx.RepeatableRead
	}
	// end does nothing more after a commit; on an error or a panic in fn it undoes every
	// write.
	defer pgTx.end(context.WithoutCancel(ctx))
	t := &tx{ctx: ctx, tx: pgTx, lockSecret: one}
	err = fn(t)
	if err == nil {
		err = t.touchLocked()
	}
	if err != nil {
		// A statement that failed to serialize doomed the transaction, whatever fn made of it.
		return t.conflict || isConflict(err), err
	}
	if t.conflict {
		return true, coffer.Internal(errors.New("postgres: transaction failed to serialize"))
	}
	// A call's access-control check that another of its transactions runs must pass before
	// this one commits (coffer.AuthzCheck).
	if c := coffer.AuthzCheckFrom(ctx); c != nil {
		if err := c.Wait(ctx); err != nil {
			return false, coffer.Internal(fmt.Errorf("postgres: %w", err))
		}
	}
	if err := pgTx.commit(ctx); err != nil {
		if err == pgTx.doomed { // a queued write's, already the caller's error
			return t.conflict, err
		}
		return isConflict(err), coffer.Internal(fmt.Errorf("postgres: commit: %w", err))
	}
	return false, nil
}

// View runs fn in a REPEATABLE READ, READ ONLY transaction: one snapshot, and writes fail. An
// error from fn is returned unchanged.
//
// After EndWithLookup, the first lookup's pipeline also ends the transaction: one round trip
// instead of two. When fn then asks for another statement, that statement fails, and View
// runs fn again in a transaction that stays open until fn returns (coffer.LookupEnder).
func (s *Store) View(ctx context.Context, fn func(coffer.Tx) error) error {
	overrun, err := s.view(ctx, fn, true)
	if overrun {
		_, err = s.view(ctx, fn, false)
	}
	return err
}

// view runs fn once for View, and reports whether fn read past a first pipeline that ended
// the transaction (mayEnd).
func (s *Store) view(ctx context.Context, fn func(coffer.Tx) error, mayEnd bool) (overrun bool, err error) {
	pgTx := &lazyTx{pool: s.pool, opts: pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, mayEnd: mayEnd}
	// Nothing to commit: rolling back ends the transaction and releases its snapshot.
	defer pgTx.end(context.WithoutCancel(ctx))
	err = fn(&tx{ctx: ctx, tx: pgTx, view: true})
	return pgTx.overrun, err
}

// ChecksAuthz implements coffer.AuthzChecker: the first transaction under a context that
// carries a coffer.AuthzCheck reads the access-control generation in its first round trip.
func (s *Store) ChecksAuthz() {}

// Close closes every connection of the pool, waiting for those in use to be released.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// isConflict reports whether err is a serialization failure or a deadlock: the transaction
// lost a race and may succeed if run again.
func isConflict(err error) bool {
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		return false
	}
	return e.Code == sqlstateSerializationFailure || e.Code == sqlstateDeadlockDetected
}

// timestamp encodes a time for a nullable timestamptz column: NULL for the zero time.
func timestamp(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

// required encodes a time for a NOT NULL timestamptz column; the zero time is stored as is
// (0001-01-01 UTC) and reads back as the zero time.
func required(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: true}
}

// fromTimestamp decodes a timestamptz column, in UTC; NULL is the zero time.
func fromTimestamp(ts pgtype.Timestamptz) time.Time {
	if !ts.Valid {
		return time.Time{}
	}
	return ts.Time.UTC()
}

// blob returns b, or an empty non-nil slice for nil: the driver would send nil as NULL.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
