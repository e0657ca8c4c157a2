package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/coffer-project/coffer"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// The audit chains: coffer.AuditTable on the audit_lines table (migration 0005). These
// methods run outside Update and View, each in a transaction or statement of its own: the
// audit log writes from its own goroutine, and its records must not wait for, or roll back
// with, the call they describe.

var _ coffer.AuditTable = (*Store)(nil)

// AppendAudit implements coffer.AuditTable. It inserts the lines with one statement and
// returns once its transaction has committed with synchronous_commit at least local, so that
// what it acknowledges survives a crash of the server. A line already stored under its
// (server, seq) is left as it is when it holds the same bytes; when it holds others, another
// writer has forked the chain (two servers given one name, most likely) and AppendAudit
// fails, storing none of the lines, rather than acknowledge records that are not the ones
// kept.
//
// The common case, lines that no other append stored, takes one round trip: the insert, in
// a pipeline of its own (one implicit transaction), fails whole on any line already stored.
// Only then does AppendAudit insert again, skipping those lines, and compare them, in a
// transaction of three round trips.
func (s *Store) AppendAudit(ctx context.Context, server string, lines []coffer.AuditLine) error {
	return s.appendAudit(ctx, server, lines, syncCommitOn)
}

// AppendAuditBuffered implements coffer.AuditTable: AppendAudit with synchronous_commit off
// for its transactions, which commit without waiting for the WAL's flush. PostgreSQL's WAL
// writer flushes them within three times wal_writer_delay (600 ms by default), SyncAudit at
// once.
func (s *Store) AppendAuditBuffered(ctx context.Context, server string, lines []coffer.AuditLine) error {
	return s.appendAudit(ctx, server, lines, syncCommitOff)
}

// SyncAudit implements coffer.AuditTable. A commit with synchronous_commit on flushes the WAL
// up to its own commit record, and so every commit before it, but only when it wrote WAL:
// it counts the sync in server's row of audit_syncs (migration 0008).
func (s *Store) SyncAudit(ctx context.Context, server string) error {
	b := &pgx.Batch{}
	b.Queue(syncCommitOn)
	b.Queue(`INSERT INTO audit_syncs (server, syncs) VALUES ($1, 1)
		ON CONFLICT (server) DO UPDATE SET syncs = audit_syncs.syncs + 1`, server)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("postgres: sync audit: %w", err)
	}
	return nil
}

// appendAudit is AppendAudit, its transactions' synchronous_commit set by commitMode
// (syncCommitOn or syncCommitOff).
func (s *Store) appendAudit(ctx context.Context, server string, lines []coffer.AuditLine, commitMode string) error {
	if len(lines) == 0 {
		return nil
	}
	seqs := make([]int64, len(lines))
	times := make([]pgtype.Timestamptz, len(lines))
	raws := make([][]byte, len(lines))
	for i, l := range lines {
		if l.Seq == 0 || l.Seq > math.MaxInt64 {
			return fmt.Errorf("postgres: append audit: seq %d out of range", l.Seq)
		}
		seqs[i], times[i], raws[i] = int64(l.Seq), timestamp(l.Time), blob(l.Raw)
	}
	err := s.appendAuditNew(ctx, server, seqs, times, raws, commitMode)
	var e *pgconn.PgError
	if !errors.As(err, &e) || e.Code != sqlstateUniqueViolation {
		if err != nil {
			return fmt.Errorf("postgres: append audit: %w", err)
		}
		return nil
	}
	pgTx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted, AccessMode: pgx.ReadWrite})
	if err != nil {
		return fmt.Errorf("postgres: append audit: begin: %w", err)
	}
	defer pgTx.Rollback(context.WithoutCancel(ctx))

	b := &pgx.Batch{}
	b.Queue(commitMode)
	b.Queue(insertAuditLines+` ON CONFLICT (server, seq) DO NOTHING`, server, seqs, times, raws)
	br := pgTx.SendBatch(ctx, b)
	_, err = br.Exec()
	var tag pgconn.CommandTag
	if err == nil {
		tag, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("postgres: append audit: %w", err)
	}
	if tag.RowsAffected() < int64(len(lines)) {
		// Some lines were there already (a retry after a commit whose outcome was lost, or a
		// sink caught up twice). Each statement of a READ COMMITTED transaction sees what
		// committed before it started, so this sees the rows the INSERT skipped.
		var seq int64
		err := pgTx.QueryRow(ctx, `SELECT n.seq
			FROM unnest($2::bigint[], $3::bytea[]) AS n(seq, line)
			JOIN audit_lines a ON a.server = $1 AND a.seq = n.seq
			WHERE a.line <> n.line ORDER BY n.seq LIMIT 1`, server, seqs, raws).Scan(&seq)
		switch {
		case err == nil:
			return fmt.Errorf("postgres: append audit: the chain of server %q already holds another record %d: is another server writing under the same name?", server, seq)
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("postgres: append audit: %w", err)
		}
	}
	if err := pgTx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: append audit: commit: %w", err)
	}
	return nil
}

// syncCommitOn turns synchronous_commit on for the rest of the transaction when it is off: a
// DSN, role or database may turn it off for speed, and the audit trail's commits must still
// wait for the WAL flush. local and the stricter levels stay as set.
const syncCommitOn = `SELECT set_config('synchronous_commit', 'on', true) WHERE current_setting('synchronous_commit') = 'off'`

// syncCommitOff turns synchronous_commit off for the rest of the transaction.
const syncCommitOff = `SELECT set_config('synchronous_commit', 'off', true)`

const insertAuditLines = `INSERT INTO audit_lines (server, seq, event_time, line)
	SELECT $1, n.seq, n.event_time, n.line
	FROM unnest($2::bigint[], $3::timestamptz[], $4::bytea[]) AS n(seq, event_time, line)`

// appendAuditNew inserts lines that no other append stored, in one round trip: a pipeline
// whose statements run in one implicit transaction, committed at its end. A line already
// stored fails the insert, and the transaction with it, with a unique violation.
func (s *Store) appendAuditNew(ctx context.Context, server string, seqs []int64, times []pgtype.Timestamptz, raws [][]byte, commitMode string) error {
	b := &pgx.Batch{}
	b.Queue(commitMode)
	b.Queue(insertAuditLines, server, seqs, times, raws)
	return s.pool.SendBatch(ctx, b).Close()
}

// AuditHead implements coffer.AuditTable.
func (s *Store) AuditHead(ctx context.Context, server string) (coffer.AuditLine, bool, error) {
	l, err := scanAuditLine(s.pool.QueryRow(ctx, `SELECT seq, event_time, line FROM audit_lines
		WHERE server = $1 ORDER BY seq DESC LIMIT 1`, server))
	if errors.Is(err, pgx.ErrNoRows) {
		return coffer.AuditLine{}, false, nil
	}
	if err != nil {
		return coffer.AuditLine{}, false, fmt.Errorf("postgres: audit head: %w", err)
	}
	return l, true, nil
}

// AuditLines implements coffer.AuditTable.
func (s *Store) AuditLines(ctx context.Context, server string, after uint64, limit int) ([]coffer.AuditLine, error) {
	if limit <= 0 || after >= math.MaxInt64 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, event_time, line FROM audit_lines
		WHERE server = $1 AND seq > $2 ORDER BY seq LIMIT $3`, server, int64(after), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: audit lines: %w", err)
	}
	defer rows.Close()
	var out []coffer.AuditLine
	for rows.Next() {
		l, err := scanAuditLine(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: audit lines: %w", err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: audit lines: %w", err)
	}
	return out, nil
}

// AuditServers implements coffer.AuditTable. A plain SELECT DISTINCT would read every line
// of every chain; the recursive query jumps from one server to the next through the primary
// key, one index probe per server.
func (s *Store) AuditServers(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `WITH RECURSIVE servers (server) AS (
			SELECT min(server) FROM audit_lines
			UNION ALL
			SELECT (SELECT min(a.server) FROM audit_lines a WHERE a.server > servers.server)
			FROM servers WHERE servers.server IS NOT NULL
		)
		SELECT server FROM servers WHERE server IS NOT NULL ORDER BY server`)
	if err != nil {
		return nil, fmt.Errorf("postgres: audit servers: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: audit servers: %w", err)
	}
	return names, nil
}

// scanAuditLine reads a row of seq, event_time, line.
func scanAuditLine(row pgx.Row) (coffer.AuditLine, error) {
	var (
		seq  int64
		at   pgtype.Timestamptz
		line []byte
	)
	if err := row.Scan(&seq, &at, &line); err != nil {
		return coffer.AuditLine{}, err
	}
	return coffer.AuditLine{Seq: uint64(seq), Time: fromTimestamp(at), Raw: line}, nil
}
