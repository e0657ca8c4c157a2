package postgres

import (
	"bytes"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/storetest"
	"github.com/jackc/pgx/v5"
)

// auditLines returns lines first..last of a made-up chain; the table keeps lines as opaque
// bytes, so they need not be records (one byte is not UTF-8, to show nothing converts them).
func auditLines(server string, first, last uint64) []coffer.AuditLine {
	base := time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC)
	var out []coffer.AuditLine
	for seq := first; seq <= last; seq++ {
		out = append(out, coffer.AuditLine{
			Seq:  seq,
			Time: base.Add(time.Duration(seq) * time.Second),
			Raw:  fmt.Appendf(nil, `{"seq":%d,"server":%q,"x":"\xff"}`, seq, server),
		})
	}
	return out
}

// allAuditLines reads a server's whole chain, a page of size at a time.
func allAuditLines(t *testing.T, s *Store, server string, size int) []coffer.AuditLine {
	t.Helper()
	var out []coffer.AuditLine
	var after uint64
	for {
		page, err := s.AuditLines(t.Context(), server, after, size)
		if err != nil {
			t.Fatalf("AuditLines(%s, %d, %d): %v", server, after, size, err)
		}
		if len(page) > size {
			t.Fatalf("AuditLines(%s, %d, %d) returned %d lines", server, after, size, len(page))
		}
		out = append(out, page...)
		if len(page) < size {
			return out
		}
		after = page[len(page)-1].Seq
	}
}

func equalAuditLines(a, b []coffer.AuditLine) bool {
	return slices.EqualFunc(a, b, func(x, y coffer.AuditLine) bool {
		return x.Seq == y.Seq && x.Time.Equal(y.Time) && bytes.Equal(x.Raw, y.Raw)
	})
}

func TestAuditHeadOfEmptyChain(t *testing.T) {
	s, _ := openFresh(t)
	defer s.Close()
	if l, ok, err := s.AuditHead(t.Context(), "a"); err != nil || ok {
		t.Errorf("AuditHead of an empty table: %+v, %v, %v; want not ok", l, ok, err)
	}
	if err := s.AppendAudit(t.Context(), "a", auditLines("a", 1, 3)); err != nil {
		t.Fatal(err)
	}
	if l, ok, err := s.AuditHead(t.Context(), "b"); err != nil || ok {
		t.Errorf("AuditHead of a server without lines: %+v, %v, %v; want not ok", l, ok, err)
	}
	if lines, err := s.AuditLines(t.Context(), "b", 0, 10); err != nil || len(lines) != 0 {
		t.Errorf("AuditLines of a server without lines: %v, %v; want none", lines, err)
	}
	if names, err := s.AuditServers(t.Context()); err != nil || !slices.Equal(names, []string{"a"}) {
		t.Errorf("AuditServers: %q, %v; want [a]", names, err)
	}
}

func TestAuditAppendIdempotent(t *testing.T) {
	s, _ := openFresh(t)
	defer s.Close()
	want := auditLines("a", 1, 5)
	if err := s.AppendAudit(t.Context(), "a", want[:3]); err != nil {
		t.Fatal(err)
	}
	// A retry of a write whose commit went unacknowledged, overlapping the next one.
	if err := s.AppendAudit(t.Context(), "a", want[1:]); err != nil {
		t.Fatalf("AppendAudit of lines partly there: %v", err)
	}
	if err := s.AppendAudit(t.Context(), "a", want); err != nil {
		t.Fatalf("AppendAudit of lines all there: %v", err)
	}
	if err := s.AppendAudit(t.Context(), "a", nil); err != nil {
		t.Fatalf("AppendAudit of no lines: %v", err)
	}
	if got := allAuditLines(t, s, "a", 100); !equalAuditLines(got, want) {
		t.Errorf("chain after re-appends:\n got %+v\nwant %+v", got, want)
	}
	head, ok, err := s.AuditHead(t.Context(), "a")
	if err != nil || !ok || !equalAuditLines([]coffer.AuditLine{head}, want[4:]) {
		t.Errorf("AuditHead: %+v, %v, %v; want %+v", head, ok, err, want[4])
	}
}

func TestAuditAppendRefusesAFork(t *testing.T) {
	s, _ := openFresh(t)
	defer s.Close()
	if err := s.AppendAudit(t.Context(), "a", auditLines("a", 1, 3)); err != nil {
		t.Fatal(err)
	}
	// Another writer's records 3 and 4 under the same name: record 3 differs from the one
	// kept, so neither goes in, and the caller learns its records were not stored.
	fork := auditLines("other", 3, 4)
	err := s.AppendAudit(t.Context(), "a", fork)
	if err == nil || !strings.Contains(err.Error(), "another record 3") {
		t.Errorf("AppendAudit of a different record 3: %v; want an error naming record 3", err)
	}
	if got, want := allAuditLines(t, s, "a", 10), auditLines("a", 1, 3); !equalAuditLines(got, want) {
		t.Errorf("chain after a refused fork:\n got %+v\nwant %+v", got, want)
	}
}

// TestAuditAppendRacingForks: two writers appending different records under the same seqs at
// the same moment (two servers given one name) never both succeed: the one whose insert
// comes second sees the first one's lines and stores none of its own.
func TestAuditAppendRacingForks(t *testing.T) {
	s, _ := openFresh(t)
	defer s.Close()
	for seq := uint64(1); seq <= 40; seq++ {
		mine, theirs := auditLines("a", seq, seq+1), auditLines("b", seq, seq+1)
		var errs [2]error
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, lines := range [][]coffer.AuditLine{mine, theirs} {
			wg.Go(func() {
				<-start
				errs[i] = s.AppendAudit(t.Context(), "chain", lines)
			})
		}
		close(start)
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("seq %d: the two forks' appends returned %v and %v; want exactly one to fail", seq, errs[0], errs[1])
		}
		won := mine
		if errs[0] != nil {
			won = theirs
		}
		got, err := s.AuditLines(t.Context(), "chain", seq-1, 2)
		if err != nil {
			t.Fatal(err)
		}
		if !equalAuditLines(got, won) {
			t.Fatalf("seq %d: stored %+v, want the lines of the append that succeeded %+v", seq, got, won)
		}
		// The next round writes seq+1 again: clear it, so that both start from the same chain.
		if _, err := s.pool.Exec(t.Context(), `DELETE FROM audit_lines WHERE server = 'chain' AND seq > $1`, int64(seq)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAuditAppendAtomic(t *testing.T) {
	s, _ := openFresh(t)
	defer s.Close()
	lines := auditLines("a", 1, 3)
	lines[2].Seq = 1 << 63 // past bigint: refused before the transaction
	if err := s.AppendAudit(t.Context(), "a", lines); err == nil {
		t.Error("AppendAudit with a seq past bigint succeeded")
	}
	lines = auditLines("a", 1, 3)
	lines[2].Seq = 0 // violates the CHECK in the database, after lines 1 and 2 went in
	if err := s.AppendAudit(t.Context(), "a", lines); err == nil {
		t.Error("AppendAudit with seq 0 succeeded")
	}
	if _, ok, err := s.AuditHead(t.Context(), "a"); err != nil || ok {
		t.Errorf("AuditHead after failed appends: ok %v, %v; want an empty chain", ok, err)
	}
}

func TestAuditLinesPaging(t *testing.T) {
	s, _ := openFresh(t)
	defer s.Close()
	want := auditLines("a", 1, 25)
	for i := 0; i < len(want); i += 7 {
		if err := s.AppendAudit(t.Context(), "a", want[i:min(i+7, len(want))]); err != nil {
			t.Fatal(err)
		}
	}
	for _, size := range []int{1, 4, 25, 100} {
		if got := allAuditLines(t, s, "a", size); !equalAuditLines(got, want) {
			t.Errorf("chain read %d at a time:\n got %+v\nwant %+v", size, got, want)
		}
	}
	got, err := s.AuditLines(t.Context(), "a", 10, 3)
	if err != nil || !equalAuditLines(got, want[10:13]) {
		t.Errorf("AuditLines(after 10, limit 3): %+v, %v; want records 11 to 13", got, err)
	}
	for _, c := range []struct {
		after uint64
		limit int
	}{{25, 10}, {1 << 63, 10}, {0, 0}, {0, -1}} {
		if got, err := s.AuditLines(t.Context(), "a", c.after, c.limit); err != nil || len(got) != 0 {
			t.Errorf("AuditLines(after %d, limit %d): %+v, %v; want none", c.after, c.limit, got, err)
		}
	}
}

func TestAuditServersKeepSeparateChains(t *testing.T) {
	s, _ := openFresh(t)
	defer s.Close()
	// Both chains have records 1 to n: the key is (server, seq).
	servers := map[string][]coffer.AuditLine{
		"b":     auditLines("b", 1, 4),
		"a":     auditLines("a", 1, 9),
		"a-2":   auditLines("a-2", 1, 1),
		"Upper": auditLines("Upper", 1, 2),
	}
	for name, lines := range servers {
		if err := s.AppendAudit(t.Context(), name, lines); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range servers {
		if got := allAuditLines(t, s, name, 3); !equalAuditLines(got, want) {
			t.Errorf("chain of %s:\n got %+v\nwant %+v", name, got, want)
		}
		head, ok, err := s.AuditHead(t.Context(), name)
		if err != nil || !ok || head.Seq != want[len(want)-1].Seq || !bytes.Equal(head.Raw, want[len(want)-1].Raw) {
			t.Errorf("AuditHead(%s): %+v, %v, %v; want record %d", name, head, ok, err, len(want))
		}
	}
	// Sorted byte by byte, as Go sorts strings.
	names, err := s.AuditServers(t.Context())
	if want := []string{"Upper", "a", "a-2", "b"}; err != nil || !slices.Equal(names, want) {
		t.Errorf("AuditServers: %q, %v; want %q", names, err, want)
	}
}

func TestAuditAppendZeroTime(t *testing.T) {
	s, _ := openFresh(t)
	defer s.Close()
	lines := auditLines("a", 1, 1)
	lines[0].Time = time.Time{}
	if err := s.AppendAudit(t.Context(), "a", lines); err != nil {
		t.Fatal(err)
	}
	var null bool
	if err := s.pool.QueryRow(t.Context(), `SELECT event_time IS NULL FROM audit_lines WHERE server = 'a' AND seq = 1`).Scan(&null); err != nil || !null {
		t.Errorf("event_time of a line without a time: NULL %v, %v; want NULL", null, err)
	}
	if head, _, err := s.AuditHead(t.Context(), "a"); err != nil || !head.Time.IsZero() {
		t.Errorf("AuditHead: %+v, %v; want the zero time", head, err)
	}
}

// TestAuditAppendCommitsSynchronously: on connections whose synchronous_commit is off (a DSN
// may say so), an append's pipeline turns it on for its own implicit transaction, the one
// that commits the lines, and leaves the connection's setting as it was.
func TestAuditAppendCommitsSynchronously(t *testing.T) {
	u, err := url.Parse(storetest.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("synchronous_commit", "off") // a run-time parameter of the connection
	u.RawQuery = q.Encode()
	s, err := Open(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in, after := syncCommitAfter(t, s, syncCommitOn)
	if in != "on" || after != "off" {
		t.Errorf("synchronous_commit in the append's pipeline %q, on the connection after it %q; want on, then off", in, after)
	}
	if err := s.AppendAudit(t.Context(), "a", auditLines("a", 1, 2)); err != nil {
		t.Fatal(err)
	}
	if got, want := allAuditLines(t, s, "a", 10), auditLines("a", 1, 2); !equalAuditLines(got, want) {
		t.Errorf("chain:\n got %+v\nwant %+v", got, want)
	}
}

// TestAuditAppendBuffered: AppendAuditBuffered commits its lines with synchronous_commit
// off for its own transaction only (another connection sees them; the connection's setting
// stays), and a SyncAudit after it leaves the WAL flushed past their commit.
func TestAuditAppendBuffered(t *testing.T) {
	s, _ := openFresh(t)
	in, after := syncCommitAfter(t, s, syncCommitOff)
	if in != "off" || after == "off" {
		t.Errorf("synchronous_commit in a buffered append's pipeline %q, on the connection after it %q; want off, then not off", in, after)
	}

	if err := s.AppendAuditBuffered(t.Context(), "a", auditLines("a", 1, 3)); err != nil {
		t.Fatal(err)
	}
	// Lines partly there already take the other path, buffered too.
	if err := s.AppendAuditBuffered(t.Context(), "a", auditLines("a", 3, 4)); err != nil {
		t.Fatal(err)
	}
	if got, want := allAuditLines(t, s, "a", 10), auditLines("a", 1, 4); !equalAuditLines(got, want) {
		t.Errorf("chain:\n got %+v\nwant %+v", got, want)
	}
	var written string
	if err := s.pool.QueryRow(t.Context(), `SELECT pg_current_wal_insert_lsn()::text`).Scan(&written); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		if err := s.SyncAudit(t.Context(), "a"); err != nil {
			t.Fatal(err)
		}
		var flushed bool
		var syncs int64
		if err := s.pool.QueryRow(t.Context(), `SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn, (SELECT syncs FROM audit_syncs WHERE server = 'a')`,
			written).Scan(&flushed, &syncs); err != nil {
			t.Fatal(err)
		}
		if !flushed || syncs != int64(i) {
			t.Errorf("after SyncAudit %d: WAL flushed past the appends %v, syncs counted %d", i, flushed, syncs)
		}
	}
}

// syncCommitAfter runs stmt and then reads synchronous_commit in one pipeline (one implicit
// transaction), and reads it again on the connection after: in, then after.
func syncCommitAfter(t *testing.T, s *Store, stmt string) (in, after string) {
	t.Helper()
	b := &pgx.Batch{}
	b.Queue(stmt)
	b.Queue(`SELECT current_setting('synchronous_commit')`)
	br := s.pool.SendBatch(t.Context(), b)
	_, err := br.Exec()
	if err == nil {
		err = br.QueryRow().Scan(&in)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := s.pool.QueryRow(t.Context(), `SELECT current_setting('synchronous_commit')`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	return in, after
}
