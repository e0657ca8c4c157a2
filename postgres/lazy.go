package postgres

import (
	"context"
	"errors"

	"github.com/coffer-project/coffer"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// querier is what a tx runs its statements through.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// lazyTx is a transaction on a connection of the pool whose BEGIN goes with its first
// statement, in one pipeline (pgx's Batch.BeginTx): a round trip fewer than pgx's BeginTx,
// which waits for BEGIN's answer before the first statement leaves. A transaction that runs
// no statement takes no connection and sends nothing.
//
// The statements of the pipeline run in order until one fails; then PostgreSQL skips the
// rest, and the transaction (when BEGIN went through) is aborted: every later statement, and
// the commit, fails as in any aborted transaction.
type lazyTx struct {
	pool *pgxpool.Pool
	opts pgx.TxOptions
	conn *pgxpool.Conn // nil until the first statement
	tx   pgx.Tx        // once begun
	// failed is why no connection could be had for the first statement: every later one
	// fails with it too, rather than begin a transaction half way through the caller's.
	failed error
	// pending are the writes queued since the last statement sent (see queue).
	pending []queued
	// doomed is the error of a queued write that failed, or did not do what its caller
	// asked: the transaction must not commit, and every later statement fails with it.
	doomed error
	// mayEnd is set on a View's first attempt: its first pipeline may end the transaction
	// (endFirst), when the caller expects that pipeline to read all it needs.
	mayEnd bool
	// endFirst is set, before the first statement, when the first pipeline is to end with
	// the transaction's ROLLBACK (coffer.EndWithLookup): a read-only transaction whose reads
	// all go in that pipeline takes one round trip instead of two.
	endFirst bool
	// ended is set once that pipeline is sent: the transaction, and its snapshot, are gone.
	ended bool
	// overrun is set when a statement was asked for after the end: the caller read more than
	// its first pipeline, and must run again in a transaction that stays open (View).
	overrun bool
}

// errEnded is the error of a statement asked for after the first pipeline ended the
// transaction (lazyTx.endFirst); View runs the caller again.
var errEnded = errors.New("postgres: the transaction ended with its first round trip")

// endWithFirst asks, before the transaction's first statement, for that statement's pipeline
// to end the transaction, when the transaction allows it (lazyTx.mayEnd).
func (l *lazyTx) endWithFirst() {
	l.endFirst = l.mayEnd && l.conn == nil && l.failed == nil
}

// queued is a write whose answer can wait.
type queued struct {
	sql  string
	args []any
	// result reads the write's answer from the pipeline it went in, and returns an error
	// when it failed or did not do what its caller asked.
	result func(pgx.BatchResults) error
}

// queue defers a write to the transaction's next statement, which it leaves with in one
// pipeline, or to its commit: a transaction that writes several rows after its reads (a new
// version, its labels, the versions it prunes, the secret's row) sends them in one round trip
// instead of one each. The writes run in the order queued, before that statement; the first
// whose result reports an error fails that statement (or the commit) with it, and dooms the
// transaction: every later statement, and the commit, fail with the same error, so a caller
// that went on after the write never commits without it.
func (l *lazyTx) queue(sql string, args []any, result func(pgx.BatchResults) error) {
	l.pending = append(l.pending, queued{sql: sql, args: args, result: result})
}

// direct reports whether a statement can go straight to the open transaction: nothing is
// queued before it, and nothing failed.
func (l *lazyTx) direct() bool {
	return l.conn != nil && len(l.pending) == 0 && l.doomed == nil && !l.ended
}

// pipeline sends the queued writes and b's statements in one pipeline, after BEGIN when the
// transaction has not begun, and reads the writes' answers: the results it returns start with
// b's first statement's.
func (l *lazyTx) pipeline(ctx context.Context, b *pgx.Batch) (pgx.BatchResults, error) {
	if l.doomed != nil {
		return nil, l.doomed
	}
	if l.ended {
		l.overrun = true
		return nil, errEnded
	}
	pending := l.pending
	l.pending = nil
	if len(pending) > 0 {
		p := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(pending)+len(b.QueuedQueries))}
		for _, q := range pending {
			p.Queue(q.sql, q.args...)
		}
		p.QueuedQueries = append(p.QueuedQueries, b.QueuedQueries...)
		b = p
	}
	var br pgx.BatchResults
	if l.conn == nil {
		var err error
		if br, err = l.send(ctx, b); err != nil {
			if len(pending) > 0 {
				l.doomed = err
			}
			return nil, err
		}
	} else {
		br = l.tx.SendBatch(ctx, b)
	}
	for _, q := range pending {
		if err := q.result(br); err != nil {
			br.Close()
			l.doomed = err
			return nil, err
		}
	}
	return br, nil
}

var _ querier = (*lazyTx)(nil)

// send takes a connection and sends BEGIN and b's statements in one pipeline; the answers it
// returns start with b's first statement's.
func (l *lazyTx) send(ctx context.Context, b *pgx.Batch) (pgx.BatchResults, error) {
	if l.failed != nil {
		return nil, l.failed
	}
	conn, err := l.pool.Acquire(ctx)
	if err != nil {
		l.failed = err
		return nil, err
	}
	l.conn = conn
	p := &pgx.Batch{}
	p.BeginTx(l.opts)
	// The first transaction of a call whose context carries an access-control check reads
	// the generation first, in the same round trip (coffer.AuthzCheck); so does every later
	// write transaction of the call (Recheck), whose snapshot is later.
	check := coffer.AuthzCheckFrom(ctx)
	first := check != nil && check.Start()
	if check != nil && !first && l.opts.AccessMode != pgx.ReadWrite {
		check = nil
	}
	if check != nil {
		p.Queue(metaQuery, coffer.AuthzGenerationMeta)
	}
	p.QueuedQueries = append(p.QueuedQueries, b.QueuedQueries...)
	if l.endFirst {
		// PostgreSQL runs it only when every statement before it succeeded; otherwise the
		// transaction is left aborted, and end rolls it back as usual. Either way, no later
		// statement may read this snapshot.
		p.Queue("ROLLBACK")
		l.ended = true
	}
	br := conn.SendBatch(ctx, p)
	l.tx = br.Tx()
	finish := func(got string, err error) error {
		if first {
			return check.Finish(got, err)
		}
		return check.Recheck(got, err)
	}
	if _, err := br.Exec(); err != nil {
		br.Close()
		if check != nil {
			finish("", err)
		}
		return nil, err
	}
	if check != nil {
		var gen []byte
		err := br.QueryRow().Scan(&gen)
		if errors.Is(err, pgx.ErrNoRows) { // never set: no access control written yet
			err = nil
		}
		if err := finish(string(gen), err); err != nil {
			br.Close()
			l.doomed = err // nothing of this transaction may commit, or be read on
			return nil, err
		}
	}
	return br, nil
}

// one sends one statement in a pipeline: after BEGIN, or the queued writes, or both.
func (l *lazyTx) one(ctx context.Context, sql string, args []any) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	return l.pipeline(ctx, b)
}

// Exec implements querier.
func (l *lazyTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if l.direct() {
		return l.tx.Exec(ctx, sql, args...)
	}
	br, err := l.one(ctx, sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

// Query implements querier.
func (l *lazyTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if l.direct() {
		return l.tx.Query(ctx, sql, args...)
	}
	br, err := l.one(ctx, sql, args)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		if rows != nil {
			rows.Close()
		}
		br.Close()
		return nil, err
	}
	return &pipelineRows{Rows: rows, br: br}, nil
}

// QueryRow implements querier.
func (l *lazyTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if l.direct() {
		return l.tx.QueryRow(ctx, sql, args...)
	}
	br, err := l.one(ctx, sql, args)
	if err != nil {
		return errRow{err}
	}
	return pipelineRow{row: br.QueryRow(), br: br}
}

// SendBatch implements querier.
func (l *lazyTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if l.direct() {
		return l.tx.SendBatch(ctx, b)
	}
	br, err := l.pipeline(ctx, b)
	if err != nil {
		return errBatch{err}
	}
	return br
}

// commit sends the writes still queued and COMMIT in one pipeline. A queued write that fails,
// or changes no row where its caller needs one (it then fails in the database: see
// tx.write), makes PostgreSQL skip the COMMIT and leave the transaction aborted, which end
// rolls back; commit then returns that write's error. It fails when PostgreSQL rolled the
// transaction back instead of committing (a statement had failed, or the commit did not
// serialize), as pgx's Tx.Commit does.
func (l *lazyTx) commit(ctx context.Context) error {
	if len(l.pending) > 0 {
		b := &pgx.Batch{}
		b.Queue("COMMIT")
		br, err := l.pipeline(ctx, b)
		if err != nil {
			return err
		}
		tag, err := br.Exec()
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err == nil && tag.String() != "COMMIT" { // ROLLBACK: the transaction had failed
			err = pgx.ErrTxCommitRollback
		}
		return err
	}
	if l.doomed != nil {
		return l.doomed
	}
	if l.conn == nil {
		return l.failed
	}
	return l.tx.Commit(ctx)
}

// end rolls back what was not committed and gives the connection back to the pool, which
// closes it rather than keep it when it is still in a transaction. It sends nothing when the
// transaction ended already (committed, or rolled back in a pipeline: coffer.EndWithLookup).
func (l *lazyTx) end(ctx context.Context) {
	l.pending = nil
	if l.conn == nil {
		return
	}
	if l.conn.Conn().PgConn().TxStatus() != 'I' {
		l.tx.Rollback(ctx)
	}
	l.conn.Release()
	l.conn, l.tx = nil, nil
}

// pipelineRows are the rows of a pipeline's statement: closing them ends the pipeline.
type pipelineRows struct {
	pgx.Rows
	br  pgx.BatchResults
	err error // of ending the pipeline
}

func (r *pipelineRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

func (r *pipelineRows) Close() {
	r.Rows.Close()
	if r.br != nil {
		r.err = r.br.Close()
		r.br = nil
	}
}

func (r *pipelineRows) Err() error {
	return errors.Join(r.Rows.Err(), r.err)
}

// pipelineRow is the row of a pipeline's statement: scanning it ends the pipeline.
type pipelineRow struct {
	row pgx.Row
	br  pgx.BatchResults
}

func (r pipelineRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	cerr := r.br.Close()
	if cerr != nil && (err == nil || errors.Is(err, pgx.ErrNoRows)) {
		return cerr
	}
	return err
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

type errBatch struct{ err error }

func (b errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, b.err }
func (b errBatch) Query() (pgx.Rows, error)         { return nil, b.err }
func (b errBatch) QueryRow() pgx.Row                { return errRow(b) }
func (b errBatch) Close() error                     { return b.err }
func (b errBatch) Tx() pgx.Tx                       { return nil }
