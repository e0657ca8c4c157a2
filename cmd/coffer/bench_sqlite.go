package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// maxGroup is the most rows the SQLite baseline commits in one transaction.
const maxGroup = 64

// runSQLiteBaseline is the put op's baseline: the ceiling of durable single-row writes to
// SQLite on this disk. writers goroutines each submit one size-byte row at a time to a
// committer, which inserts the rows waiting (at most maxGroup) in one transaction of a fresh
// database at path (WAL, synchronous=FULL), commits, and then wakes their writers. A row's
// latency runs from its submission to its commit.
func runSQLiteBaseline(ctx context.Context, path string, writers, size int, warmup, duration time.Duration) (*benchResult, error) {
	if path == "" || writers < 1 || size < 1 {
		return nil, fmt.Errorf("bench: --serve sqlite needs --db, --writers ≥ 1 and --size ≥ 1")
	}
	db, err := openBaselineDB(ctx, path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	insert, err := db.PrepareContext(ctx, "INSERT INTO t (v) VALUES (?)")
	if err != nil {
		return nil, err
	}
	defer insert.Close()
	g := &groupCommitter{db: db, insert: insert, rows: make(chan *pendingRow), quit: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Go(func() { g.run(ctx) })
	defer func() {
		close(g.quit)
		wg.Wait()
	}()
	if warmup > 0 {
		g.phase(ctx, writers, size, warmup, false)
	}
	cpu0, cerr := selfCPU()
	res := g.phase(ctx, writers, size, duration, true)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cpu1, err := selfCPU(); cerr == nil && err == nil {
		res.CPU = cpu1 - cpu0 // the writers and the committer: the whole loop
	}
	return res, nil
}

// openBaselineDB creates the baseline's database and its one table.
func openBaselineDB(ctx context.Context, path string) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "busy_timeout(5000)")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	var mode string
	var synchronous int
	err = db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode)
	if err == nil {
		err = db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&synchronous)
	}
	if err == nil && (mode != "wal" || synchronous != 2) {
		err = fmt.Errorf("journal_mode %s, synchronous %d: not WAL and FULL", mode, synchronous)
	}
	if err == nil {
		_, err = db.ExecContext(ctx, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bench: sqlite baseline %s: %w", path, err)
	}
	return db, nil
}

// pendingRow is a row a writer waits on.
type pendingRow struct {
	v    []byte
	done chan error
}

// groupCommitter commits the rows writers submit, as many per transaction as are waiting
// when it starts one, up to maxGroup.
type groupCommitter struct {
	db     *sql.DB
	insert *sql.Stmt
	rows   chan *pendingRow
	quit   chan struct{}
}

// run commits groups until quit closes.
func (g *groupCommitter) run(ctx context.Context) {
	for {
		var group []*pendingRow
		select {
		case r := <-g.rows:
			group = append(group, r)
		case <-g.quit:
			return
		}
	collect:
		for len(group) < maxGroup {
			select {
			case r := <-g.rows:
				group = append(group, r)
			default:
				break collect
			}
		}
		err := g.commit(ctx, group)
		for _, r := range group {
			r.done <- err
		}
	}
}

// commit inserts group in one transaction.
func (g *groupCommitter) commit(ctx context.Context, group []*pendingRow) error {
	tx, err := g.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	st := tx.StmtContext(ctx, g.insert)
	for _, r := range group {
		if _, err := st.ExecContext(ctx, r.v); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// phase runs writers for d and records the latencies of their rows if record.
func (g *groupCommitter) phase(ctx context.Context, writers, size int, d time.Duration, record bool) *benchResult {
	rows := make([]*pendingRow, writers)
	for i := range rows {
		rows[i] = &pendingRow{v: make([]byte, size), done: make(chan error, 1)}
		rand.Read(rows[i].v)
	}
	return timeCalls(ctx, writers, d, record, func(i int) string {
		g.rows <- rows[i]
		if err := <-rows[i].done; err != nil {
			return err.Error()
		}
		return ""
	})
}
