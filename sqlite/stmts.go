package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"time"
)

// stmtCache keeps the statements of one pool prepared, so that a transaction does not parse
// and plan its SQL again on every call: database/sql's Tx.StmtContext reuses a statement
// already prepared on the transaction's connection. Preparing was a fifth of a read's CPU.
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	m      map[string]*sql.Stmt
	closed bool
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
	go c.prepare(query)
	return nil
}

// prepare prepares query on the pool and keeps it.
func (c *stmtCache) prepare(query string) {
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
	defer c.mu.Unlock()
	c.closed = true
	for q, st := range c.m {
		if st != nil {
			st.Close()
		}
		delete(c.m, q)
	}
}

// query runs a query in the transaction, prepared once per connection.
func (t *tx) query(query string, args ...any) (*sql.Rows, error) {
	if st := t.stmts.get(query); st != nil {
		return t.tx.StmtContext(t.ctx, st).QueryContext(t.ctx, args...)
	}
	return t.tx.QueryContext(t.ctx, query, args...)
}

// queryRow runs a query for one row in the transaction, prepared once per connection.
func (t *tx) queryRow(query string, args ...any) *sql.Row {
	if st := t.stmts.get(query); st != nil {
		return t.tx.StmtContext(t.ctx, st).QueryRowContext(t.ctx, args...)
	}
	return t.tx.QueryRowContext(t.ctx, query, args...)
}

// execStmt runs a statement in the transaction, prepared once per connection.
func (t *tx) execStmt(query string, args ...any) (sql.Result, error) {
	if st := t.stmts.get(query); st != nil {
		return t.tx.StmtContext(t.ctx, st).ExecContext(t.ctx, args...)
	}
	return t.tx.ExecContext(t.ctx, query, args...)
}
