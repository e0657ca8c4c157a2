package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/coffer-project/coffer"
)

// stmtCache keeps the statements of one pool prepared, so that a transaction does not parse
// and plan its SQL again on every call: database/sql's Tx.StmtContext reuses a statement
// already prepared on the transaction's connection. Preparing was a fifth of a read's CPU.
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	m      map[string]*sql.Stmt
	closed bool
	// preparing counts the prepares in flight: close waits for them, so that none holds a
	// connection (and its files) after the store is closed.
	preparing sync.WaitGroup
}

// maxCachedStmts bounds the cache: the queries are fixed strings, but a few (ListSecrets')
// are assembled from their filters.
const maxCachedStmts = 512

func newStmtCache(db *sql.DB) *stmtCache { return &stmtCache{db: db, m: map[string]*sql.Stmt{}} }

// get returns the prepared statement of query, or nil when it is not prepared yet (or is not
// to be cached: several statements, or a full cache), in which case the caller runs it
// unprepared. The first use starts preparing it in the background: preparing on the pool
// needs a free connection, which the caller's own transaction may be holding (the writer
// pool has one).
func (c *stmtCache) get(query string) *sql.Stmt {
	if c == nil || strings.Contains(query, ";") {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st // nil while it is being prepared, or when it cannot be
	}
	if len(c.m) >= maxCachedStmts || c.closed {
		return nil
	}
	c.m[query] = nil
	c.preparing.Add(1)
	go c.prepare(query)
	return nil
}

// prepare prepares query on the pool and keeps it.
func (c *stmtCache) prepare(query string) {
	defer c.preparing.Done()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := c.db.PrepareContext(ctx, query)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		return // stays nil: run unprepared, where its error (if any) shows
	}
	if c.closed {
		st.Close()
		return
	}
	c.m[query] = st
}

// close closes every cached statement.
func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.preparing.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		if st != nil {
			st.Close()
		}
		delete(c.m, q)
	}
}

// query runs a query in the transaction, prepared once per connection.
func (t *tx) query(query string, args ...any) (*sql.Rows, error) {
	sqlTx, err := t.sqlTx()
	if err != nil {
		return nil, err
	}
	if st := t.stmts.get(query); st != nil {
		return sqlTx.StmtContext(t.ctx, st).QueryContext(t.ctx, args...)
	}
	return sqlTx.QueryContext(t.ctx, query, args...)
}

// queryRow runs a query for one row in the transaction, prepared once per connection.
func (t *tx) queryRow(query string, args ...any) *sql.Row {
	sqlTx, err := t.sqlTx()
	if err != nil {
		// A Row carrying the failure: the query runs on no connection, under a context
		// already cancelled.
		ctx, cancel := context.WithCancel(t.ctx)
		cancel()
		return t.lazy.db.QueryRowContext(ctx, query, args...)
	}
	if st := t.stmts.get(query); st != nil {
		return sqlTx.StmtContext(t.ctx, st).QueryRowContext(t.ctx, args...)
	}
	return sqlTx.QueryRowContext(t.ctx, query, args...)
}

// execStmt runs a statement in the transaction, prepared once per connection.
func (t *tx) execStmt(query string, args ...any) (sql.Result, error) {
	sqlTx, err := t.sqlTx()
	if err != nil {
		return nil, err
	}
	if st := t.stmts.get(query); st != nil {
		return sqlTx.StmtContext(t.ctx, st).ExecContext(t.ctx, args...)
	}
	return sqlTx.ExecContext(t.ctx, query, args...)
}

// lazyBegin is a View's transaction, begun at its first query: a View answered from the
// read cache runs none. (SQLite takes a deferred transaction's snapshot at its first read
// anyway.)
type lazyBegin struct {
	db  *sql.DB
	err error
}

// sqlTx returns the transaction, beginning it when the View has not yet.
func (t *tx) sqlTx() (*sql.Tx, error) {
	if t.tx != nil {
		return t.tx, nil
	}
	if t.lazy == nil {
		return nil, coffer.Internal(errors.New("sqlite: no transaction"))
	}
	if t.lazy.err == nil {
		t.tx, t.lazy.err = t.lazy.db.BeginTx(t.ctx, &sql.TxOptions{ReadOnly: true})
	}
	if t.lazy.err != nil {
		return nil, coffer.Internal(fmt.Errorf("sqlite: begin: %w", t.lazy.err))
	}
	return t.tx, nil
}
