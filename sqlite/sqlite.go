// Package sqlite is the coffer.Store adapter for a single SQLite database file, on the pure-Go
// driver modernc.org/sqlite. It holds ciphertext and wrapped keys only: secret values arrive
// sealed by the keyring package and leave the same way.
//
// The database runs in WAL mode with synchronous=FULL, so a committed Update survives a power
// loss, and with foreign keys on. Writes are serialized inside the process on one connection
// whose transactions begin IMMEDIATE (taking the write lock up front, so a transaction never
// fails half-way with SQLITE_BUSY); reads run on a small pool of query-only connections, each
// View on one WAL snapshot. Other processes opening the same file wait up to busyTimeout for
// the write lock.
//
// Every connection runs with secure_delete on: deleted or shrunk content is overwritten with
// zeros instead of lingering in free pages. An Update that destroyed a version
// (coffer.Tx.DestroyVersion) is followed, after its commit, by a truncating WAL checkpoint, so
// that the ciphertext earlier transactions wrote to the write-ahead log leaves it too.
// Backups, snapshots and the filesystem's own copies are beyond its reach.
//
// The schema is created and upgraded by the versioned migrations embedded from migrations/,
// applied by Open in one transaction and recorded in the schema_migrations table.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-project/coffer"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

const (
	// busyTimeout is how long a connection waits for a lock another process holds.
	busyTimeout = 10 * time.Second
	// readers is the size of the pool of read-only connections. A read the read cache answers
	// takes none; a miss waits for one. Four rather than sixteen: at a million secrets, every
	// read a miss and the writer committing access marks meanwhile, sixteen gave a fifth to a
	// third fewer reads/s and twice the p99 of four or eight (docs/performance.md). Each
	// connection has a page cache of its own, which fewer keep warmer; and SQLite's WAL has
	// five read marks, so that readers of more snapshots at once than that retry, with
	// sleeps, to begin (the likely cause of the tail).
	readers = 4
	// walCheckpointPages is the WAL's size, in pages (40 MiB of 4 KiB pages), past which a
	// commit runs a checkpoint, rather than SQLite's 1,000: the access marks of random reads
	// of a million secrets dirty pages all over the file, and at 1,000 nearly every commit
	// of them ran one. With 1,000 those reads were 4 to 16 % fewer a second, and cost the
	// server 5 to 14 % more CPU (docs/performance.md).
	walCheckpointPages = 10000
)

// Store is a coffer.Store on one SQLite database file. It is safe for concurrent use.
type Store struct {
	path   string
	writer *sql.DB // one connection: writes are serialized here
	reader *sql.DB // query-only connections for View
	log    *slog.Logger
	// The prepared statements of each pool.
	writerStmts, readerStmts *stmtCache
	cacheSize                int
	cache                    *readCache  // nil when off
	wcache                   *writeCache // nil when off; guarded by group.turn
	checkCache               bool
	group                    groupCommit
}

// Option configures a Store at Open.
type Option func(*Store)

// WithCacheCheck makes the store compare every read its write cache serves with the
// database's answer, and panic when they differ. It is for tests: each read then runs its
// query as well.
func WithCacheCheck() Option {
	return func(s *Store) { s.checkCache = true }
}

// WithLogger sets the logger for what the store does on its own and cannot return, such as a
// WAL checkpoint that did not complete after a commit. The default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) {
		if l != nil {
			s.log = l
		}
	}
}

var _ coffer.Store = (*Store)(nil)

// Open opens the SQLite database at path, creating it with mode 0600 if it does not exist, and
// applies any pending schema migrations. It fails if the database was written by a newer coffer
// whose schema this one does not know.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	return open(ctx, path, 0, opts...)
}

// open is Open, applying the migrations only up to version upTo when it is positive (tests
// build databases of an older schema with it).
func open(ctx context.Context, path string, upTo int, opts ...Option) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// SQLite would create the file with mode 0644; create it first so it never is. SQLite gives
	// the -wal and -shm files the mode of the database file.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}

	s := &Store{path: abs, log: slog.Default(), cacheSize: DefaultReadCache}
	for _, o := range opts {
		o(s)
	}
	if s.writer, err = sql.Open("sqlite", dsn(abs, false)); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	s.writer.SetMaxOpenConns(1)
	s.writer.SetMaxIdleConns(1)
	s.writer.SetConnMaxLifetime(0)
	s.writer.SetConnMaxIdleTime(0)
	if err := s.init(ctx, upTo); err != nil {
		s.writer.Close()
		return nil, err
	}

	if s.reader, err = sql.Open("sqlite", dsn(abs, true)); err != nil {
		s.writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	s.reader.SetMaxOpenConns(readers)
	s.reader.SetMaxIdleConns(readers)
	if err := s.reader.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	// Statements are prepared only after the migrations, which change the schema.
	s.writerStmts, s.readerStmts = newStmtCache(s.writer), newStmtCache(s.reader)
	s.cache = newReadCache(s.cacheSize)
	if s.cacheSize > 0 {
		s.wcache = newWriteCache(s.cacheSize)
		s.wcache.check = s.checkCache
	}
	return s, nil
}

// init checks the writer connection's settings took and migrates the schema, up to version
// upTo when it is positive.
func (s *Store) init(ctx context.Context, upTo int) error {
	var mode string
	if err := s.writer.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", s.path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("sqlite: open %s: journal_mode is %q, want wal (is the file on a network filesystem?)", s.path, mode)
	}
	var fk int
	if err := s.writer.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", s.path, err)
	}
	if fk != 1 {
		return fmt.Errorf("sqlite: open %s: foreign keys are off", s.path)
	}
	var secure int
	if err := s.writer.QueryRowContext(ctx, "PRAGMA secure_delete").Scan(&secure); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", s.path, err)
	}
	if secure != 1 {
		return fmt.Errorf("sqlite: open %s: secure_delete is off", s.path)
	}
	return migrate(ctx, s.writer, upTo)
}

// dsn returns the driver's data source name for the database file at abs: a file: URI whose
// parameters set the pragmas every connection needs.
func dsn(abs string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "secure_delete(1)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walCheckpointPages))
		// Each Update of a batch is a savepoint, whose statement journal would otherwise be a
		// temporary file, opened and written at every member's first change of a page.
		q.Add("_pragma", "temp_store(MEMORY)")
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// Update runs fn in a read-write transaction, serialized with every other Update of the
// store. An error from fn rolls its writes back and is returned unchanged; so does a panic,
// which goes on after the rollback. fn runs exactly once, and must not call Update of the
// same store: that would wait forever for the one write connection.
//
// Concurrent Updates commit together (group commit): each runs its fn, in turn, inside a
// savepoint of one shared transaction (the first needs none), and the last of them to run
// commits it, so that they share one fsync. An fn that fails is rolled back to its savepoint
// alone (the first, by rolling back the transaction and beginning another); a commit that
// fails fails every Update whose fn succeeded in it (none of them is then written). Update
// returns only after the commit its writes are in.
//
// When fn destroyed a version, Update checkpoints the WAL after the commit (see checkpoint).
func (s *Store) Update(ctx context.Context, fn func(coffer.Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return coffer.Internal(fmt.Errorf("sqlite: begin: %w", err))
	}
	g := &s.group
	queued := time.Now()
	g.waiting.Add(1)
	g.turn.Lock()
	g.waiting.Add(-1)
	g.heldSince = time.Now()
	turnWait := g.heldSince.Sub(queued)
	b := g.cur
	if b == nil {
		b = &batch{done: make(chan struct{})}
		if err := b.begin(s.writer); err != nil {
			g.release()
			return err
		}
		g.cur = b
	}
	b.members++
	// The first member of a batch runs without a savepoint: were it to fail, the transaction
	// holds nothing else, and rolling it all back is the same. That spares the savepoint's
	// two statements and the statement journal's copy of every page it changes.
	b.solo = b.members == 1
	// A cancelled context interrupts the statement it cancels, and SQLite may then roll back
	// the whole transaction, other callers' writes included: fn's statements run to the end.
	t := &tx{ctx: context.WithoutCancel(ctx), tx: b.tx, stmts: s.writerStmts}
	if s.wcache != nil {
		t.w = &wlayers{c: s.wcache, batch: b.wover}
	}
	returned := false
	var intent *coffer.AuditIntent
	var intentID int64
	defer func() {
		if !returned { // fn panicked (or called runtime.Goexit): undo its writes
			b.undo()
		}
		wrote := time.Now()
		s.endTurn(b)
		if returned && err == nil {
			<-b.done
			err = b.err
			if err == nil {
				g.updates.Add(1)
				g.turnWait.Add(int64(turnWait))
				g.commitWait.Add(int64(time.Since(wrote)))
			}
			if err == nil && intent != nil {
				intent.Wrote(intentID) // committed
			}
		}
	}()
	if !b.solo {
		if _, err := b.tx.ExecContext(t.ctx, "SAVEPOINT member"); err != nil {
			b.broken = coffer.Internal(fmt.Errorf("sqlite: savepoint: %w", err))
			returned = true
			return b.broken
		}
	}
	err = fn(t)
	returned = true
	if err == nil {
		intent, intentID, err = t.writeIntent(ctx)
	}
	if err != nil {
		b.undo()
		return err
	}
	if !b.solo {
		if _, rerr := b.tx.ExecContext(t.ctx, "RELEASE member"); rerr != nil {
			b.broken = coffer.Internal(fmt.Errorf("sqlite: release savepoint: %w", rerr))
			return nil // the commit fails, with b.broken
		}
	}
	b.touched = append(b.touched, t.touched...)
	b.destroyed = b.destroyed || t.destroyed
	if t.w != nil {
		b.wover = mergeLayer(b.wover, t.w.own)
	}
	return nil
}

// groupCommit is the state of the writer connection's batches (see Update).
type groupCommit struct {
	turn      sync.Mutex   // held by the Update running its fn, or committing
	waiting   atomic.Int32 // Updates waiting for their turn: they join the open batch
	cur       *batch       // the batch whose transaction is open; guarded by turn
	heldSince time.Time    // when turn was taken; guarded by turn
	// The counters of WriterStats.
	updates, commits, busy, committing, turnWait, commitWait atomic.Int64
}

// release gives the turn up, counting the time it was held.
func (g *groupCommit) release() {
	g.busy.Add(int64(time.Since(g.heldSince)))
	g.turn.Unlock()
}

// WriterStats implements coffer.WriterStatsSource.
func (s *Store) WriterStats() coffer.WriterStats {
	g := &s.group
	return coffer.WriterStats{Updates: g.updates.Load(), Commits: g.commits.Load(),
		Busy: time.Duration(g.busy.Load()), Committing: time.Duration(g.committing.Load()),
		TurnWait: time.Duration(g.turnWait.Load()), CommitWait: time.Duration(g.commitWait.Load())}
}

// maxBatch bounds the Updates one commit covers.
const maxBatch = 64

// batch is one shared transaction and the Updates in it.
type batch struct {
	db        *sql.DB
	tx        *sql.Tx
	members   int
	solo      bool  // the current member runs without a savepoint: it is the first
	broken    error // set when the transaction cannot be committed
	touched   []string
	destroyed bool
	wover     map[string]*wentry // the write cache's overlay of the members that succeeded
	done      chan struct{}      // closed after the commit (or rollback)
	err       error              // the commit's outcome, set before done is closed
}

// begin opens the batch's transaction, which outlives any one caller's context.
func (b *batch) begin(db *sql.DB) error {
	tx, err := db.BeginTx(context.Background(), nil)
	if err != nil {
		return coffer.Internal(fmt.Errorf("sqlite: begin: %w", err))
	}
	b.db, b.tx = db, tx
	return nil
}

// undo rolls the current member's writes back to its savepoint, or, for the first member,
// rolls the transaction back and opens a new one for the members after it. A transaction
// where that fails (SQLite rolled it all back, on an I/O error say) is broken and will not
// commit.
func (b *batch) undo() {
	if b.broken != nil {
		return
	}
	if b.solo {
		// An error here may only say SQLite rolled back already; a new transaction that
		// cannot begin says the rest.
		_ = b.tx.Rollback()
		if err := b.begin(b.db); err != nil {
			b.broken = err
		}
		return
	}
	if _, err := b.tx.Exec("ROLLBACK TO member"); err != nil {
		b.broken = coffer.Internal(fmt.Errorf("sqlite: rollback to savepoint: %w", err))
		return
	}
	if _, err := b.tx.Exec("RELEASE member"); err != nil {
		b.broken = coffer.Internal(fmt.Errorf("sqlite: release savepoint: %w", err))
	}
}

// endTurn ends the current member's turn: it hands the open batch to the next Update when
// one waits (and the batch is neither full nor broken), and otherwise commits the batch,
// empties the read cache of what it wrote, and wakes its members.
func (s *Store) endTurn(b *batch) {
	g := &s.group
	if g.waiting.Load() > 0 && b.members < maxBatch && b.broken == nil {
		g.release()
		return
	}
	g.cur = nil
	var err error
	start := time.Now()
	if b.broken != nil {
		b.tx.Rollback()
		err = b.broken
	} else if cerr := b.tx.Commit(); cerr != nil {
		err = coffer.Internal(fmt.Errorf("sqlite: commit: %w", cerr))
	}
	g.commits.Add(1)
	g.committing.Add(int64(time.Since(start)))
	if len(b.touched) > 0 {
		s.cache.invalidate(b.touched)
	}
	if s.wcache != nil {
		if err == nil {
			s.wcache.commit(b.wover)
		} else {
			s.wcache.drop(b.wover)
		}
	}
	if err == nil && b.destroyed {
		s.checkpoint(context.Background())
	}
	b.err = err
	close(b.done)
	g.release()
}

// checkpoint copies the WAL into the database file and truncates the WAL to zero bytes, so
// that the pages a destroyed version's ciphertext was written to in earlier transactions
// leave the WAL (secure_delete already zeroed them in the database's newest pages). It waits
// up to busyTimeout for readers of older snapshots. It is best effort: the transaction has
// committed, so a checkpoint that fails or cannot finish is logged, not returned; the next
// one that completes removes the old pages.
func (s *Store) checkpoint(ctx context.Context) {
	var busy, logPages, done int
	err := s.writer.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logPages, &done)
	switch {
	case err != nil:
		s.log.WarnContext(ctx, "sqlite: WAL checkpoint after destroying a version failed; the destroyed value may stay in the WAL until a later checkpoint", "err", err)
	case busy != 0:
		s.log.WarnContext(ctx, "sqlite: WAL checkpoint after destroying a version was blocked by a reader; the destroyed value may stay in the WAL until a later checkpoint",
			"wal_pages", logPages, "checkpointed_pages", done)
	}
}

// View runs fn in a read-only transaction on one snapshot of the database. Writes inside it
// fail. An error from fn is returned unchanged.
func (s *Store) View(ctx context.Context, fn func(coffer.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return coffer.Internal(fmt.Errorf("sqlite: begin: %w", err))
	}
	t := &tx{ctx: ctx, stmts: s.readerStmts, cache: s.cache, lazy: &lazyBegin{db: s.reader}}
	t.gen = s.cache.generation() // before the snapshot: see readCache
	defer func() {
		// Nothing to commit: rolling back ends the read transaction and releases its
		// snapshot.
		if t.tx != nil {
			t.tx.Rollback()
		}
	}()
	return fn(t)
}

// Close closes every connection. The last one to close checkpoints the WAL into the database.
func (s *Store) Close() error {
	s.readerStmts.close()
	s.writerStmts.close()
	var errs []error
	if s.reader != nil {
		errs = append(errs, s.reader.Close())
	}
	errs = append(errs, s.writer.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// dbError turns an error of the driver into a coffer error: a uniqueness violation that an
// insert did not foresee is ResourceExists, anything else is internal. The driver's messages
// name constraints, never row contents.
func dbError(op string, err error) error {
	var e *sqlite.Error
	if errors.As(err, &e) {
		switch e.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &coffer.Error{Code: coffer.ErrResourceExists, Message: "The resource already exists.", Err: err}
		}
	}
	return coffer.Internal(fmt.Errorf("sqlite: %s: %w", op, err))
}

// millis encodes a time as unix milliseconds, with 0 for the zero time. (The instant
// 1970-01-01T00:00:00Z itself reads back as the zero time; coffer never stores it.)
func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMillis decodes what millis encoded, in UTC.
func fromMillis(ms int64) time.Time {
	if ms == 0 || ms == neverAccessed {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// neverAccessed is what the last_accessed_date column of a secret or version never read
// holds (migration 0006), where every other date column holds 0 for the zero time. SQLite
// stores 0 in no bytes and a date in six, so the first read's mark made the row grow; rows are
// packed full in the order they were created, and each such mark split a page of the table.
// This value takes six bytes too: the mark rewrites the row in place. It reads back as the
// zero time, and sorts before every date, as 0 did.
const neverAccessed = -1 << 40

// accessMillis encodes a last access date: neverAccessed for the zero time.
func accessMillis(t time.Time) int64 {
	if t.IsZero() {
		return neverAccessed
	}
	return millis(t)
}

// blob returns b, or an empty non-nil slice for nil: the driver would store nil as NULL.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
