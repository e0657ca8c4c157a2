package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/audit"
	"github.com/coffer-project/coffer/postgres"
	"github.com/coffer-project/coffer/storetest"
	"github.com/jackc/pgx/v5"
)

// tableStore opens a PostgreSQL store on a fresh schema (skipping, or failing when CI=true,
// without a server) and returns it with its DSN.
func tableStore(t *testing.T) (*postgres.Store, string) {
	t.Helper()
	dsn := storetest.PostgresDSN(t)
	s, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dsn
}

func tableKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// openTableLog opens a log of server whose one sink is the table of s.
func openTableLog(t *testing.T, s *postgres.Store, server string, key ed25519.PrivateKey, extra ...audit.Sink) *audit.Log {
	t.Helper()
	l, err := audit.Open(audit.Options{
		Server:      server,
		Key:         key,
		Sinks:       append([]audit.Sink{audit.NewTableSink(s, server)}, extra...),
		DigestEvery: 64,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("audit.Open(%s): %v", server, err)
	}
	return l
}

func tableEvent(server string, g, i int) *audit.Event {
	return &audit.Event{
		EventVersion: audit.EventVersion,
		EventTime:    audit.FormatTime(time.Now()),
		EventSource:  audit.SourceSecretsManager,
		EventName:    "GetSecretValue",
		RequestID:    fmt.Sprintf("%s-%d-%d", server, g, i),
		EventType:    audit.TypeAPICall,
		Category:     "secrets.get_value",
	}
}

// appendConcurrently appends goroutines×each events to l, from goroutines goroutines.
func appendConcurrently(t *testing.T, l *audit.Log, server string, goroutines, each int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				if err := l.Append(t.Context(), tableEvent(server, g, i)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Append to %s: %v", server, err)
	}
}

// verifyTable verifies server's chain in s under key and checks it holds events events.
func verifyTable(t *testing.T, s *postgres.Store, server string, key ed25519.PrivateKey, events int) *audit.Report {
	t.Helper()
	rep, err := audit.Verify(audit.TableSource{Table: s, Server: server}, audit.VerifyOptions{PublicKey: key.Public().(ed25519.PublicKey)})
	if err != nil {
		t.Fatalf("Verify(%s): %v", server, err)
	}
	// A closed log ends with a digest, which signs the record before it.
	if rep.Events != events || rep.FirstSeq != 1 || rep.LastSeq != uint64(rep.Events+rep.Digests) || rep.LastSignedSeq != rep.LastSeq-1 {
		t.Errorf("Verify(%s): %+v; want %d events from record 1, then a final digest", server, rep, events)
	}
	return rep
}

func TestTableSinkVerifies(t *testing.T) {
	s, dsn := tableStore(t)
	key := tableKey(t)
	l := openTableLog(t, s, "a", key)
	appendConcurrently(t, l, "a", 16, 20)
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	rep := verifyTable(t, s, "a", key, 16*20)

	// Every row carries its record's time: the event's, or the digest's.
	lines, err := s.AuditLines(t.Context(), "a", 0, int(rep.LastSeq)+1)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range lines {
		if line.Time.IsZero() || time.Since(line.Time) > time.Hour {
			t.Errorf("record %d: time %v, want the time it was written", line.Seq, line.Time)
		}
	}

	// One byte of record 100 changed behind the log's back.
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	const seq = 100
	i := bytes.Index(lines[seq-1].Raw, []byte("GetSecretValue"))
	if i < 0 {
		i = bytes.Index(lines[seq-1].Raw, []byte(`"time"`)) // a digest
	}
	// get_byte counts from 0, as Go does; flipping the case of a letter keeps the JSON valid.
	tag, err := conn.Exec(t.Context(), `UPDATE audit_lines SET line = set_byte(line, $1, get_byte(line, $1) # 32)
		WHERE server = 'a' AND seq = $2`, i+1, seq)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("changing record %d: %v, %v", seq, tag, err)
	}
	_, err = audit.Verify(audit.TableSource{Table: s, Server: "a"}, audit.VerifyOptions{PublicKey: key.Public().(ed25519.PublicKey)})
	var p *audit.Problem
	if !errors.As(err, &p) || p.Kind != "changed" || p.Seq != seq || p.Where != "server a seq 100" {
		t.Fatalf("Verify of a changed record: %v; want a Problem of kind changed at record %d (server a seq 100)", err, seq)
	}

	// A log refuses to go on from a chain whose last record was changed.
	tag, err = conn.Exec(t.Context(), `UPDATE audit_lines SET line = set_byte(line, 10, get_byte(line, 10) # 1)
		WHERE server = 'a' AND seq = $1`, rep.LastSeq)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("changing the last record: %v, %v", tag, err)
	}
	if l, err := audit.Open(audit.Options{Server: "a", Key: key, Sinks: []audit.Sink{audit.NewTableSink(s, "a")}}); err == nil {
		l.Close()
		t.Error("audit.Open over a chain whose last record was changed succeeded")
	}
}

func TestTableSinkTwoServers(t *testing.T) {
	s, _ := tableStore(t)
	keys := map[string]ed25519.PrivateKey{"a": tableKey(t), "b": tableKey(t)}
	counts := map[string][2]int{"a": {8, 25}, "b": {5, 13}}
	var wg sync.WaitGroup
	for server := range keys {
		l := openTableLog(t, s, server, keys[server])
		wg.Go(func() {
			appendConcurrently(t, l, server, counts[server][0], counts[server][1])
			if err := l.Close(); err != nil {
				t.Errorf("Close(%s): %v", server, err)
			}
		})
	}
	wg.Wait()
	for server, key := range keys {
		verifyTable(t, s, server, key, counts[server][0]*counts[server][1])
	}
	names, err := s.AuditServers(t.Context())
	if err != nil || !slices.Equal(names, []string{"a", "b"}) {
		t.Errorf("AuditServers: %q, %v; want [a b]", names, err)
	}
	// Each chain is signed by its own server's key only.
	_, err = audit.Verify(audit.TableSource{Table: s, Server: "b"}, audit.VerifyOptions{PublicKey: keys["a"].Public().(ed25519.PublicKey)})
	var p *audit.Problem
	if !errors.As(err, &p) || p.Kind != "signature" {
		t.Errorf("Verify of b's chain under a's key: %v; want a signature Problem", err)
	}
}

func TestTableSinkResumes(t *testing.T) {
	s, _ := tableStore(t)
	key := tableKey(t)
	for range 3 {
		l := openTableLog(t, s, "a", key)
		appendConcurrently(t, l, "a", 4, 10)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	verifyTable(t, s, "a", key, 3*4*10)
}

func TestTableSinkCaughtUpFromFiles(t *testing.T) {
	s, _ := tableStore(t)
	key := tableKey(t)
	dir := t.TempDir()
	openFiles := func() audit.Sink {
		f, err := audit.OpenFileSink(audit.FileOptions{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	// A log kept in files only, then given the table too: the table is caught up at Open
	// and both hold the same chain.
	l, err := audit.Open(audit.Options{Server: "a", Key: key, Sinks: []audit.Sink{openFiles()}})
	if err != nil {
		t.Fatal(err)
	}
	appendConcurrently(t, l, "a", 4, 30)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTableLog(t, s, "a", key, openFiles())
	appendConcurrently(t, l, "a", 2, 5)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	tableRep := verifyTable(t, s, "a", key, 4*30+2*5)
	fileRep, err := audit.Verify(audit.DirSource(dir), audit.VerifyOptions{PublicKey: key.Public().(ed25519.PublicKey)})
	if err != nil {
		t.Fatalf("Verify(files): %v", err)
	}
	if fileRep.LastSeq != tableRep.LastSeq || fileRep.Events != tableRep.Events {
		t.Errorf("files %+v, table %+v: want the same chain", fileRep, tableRep)
	}
}

// callLog is a coffer.AuditTable (a real PostgreSQL store) that records which of its
// writing methods were called, in order.
type callLog struct {
	*postgres.Store
	mu    sync.Mutex
	calls []string
}

func (c *callLog) note(call string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, call)
}

func (c *callLog) AppendAudit(ctx context.Context, server string, lines []coffer.AuditLine) error {
	c.note("append")
	return c.Store.AppendAudit(ctx, server, lines)
}

func (c *callLog) AppendAuditBuffered(ctx context.Context, server string, lines []coffer.AuditLine) error {
	err := c.Store.AppendAuditBuffered(ctx, server, lines)
	c.note("buffered")
	return err
}

func (c *callLog) SyncAudit(ctx context.Context, server string) error {
	err := c.Store.SyncAudit(ctx, server)
	c.note("sync")
	return err
}

func (c *callLog) snapshot() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

// TestTableSinkBuffers: the record of a call that changed nothing (AppendWritten) is
// committed to the table without waiting for stable storage, and synced soon after; the
// record of a change (Append) is answered only after a sync that followed its write.
func TestTableSinkBuffers(t *testing.T) {
	s, _ := tableStore(t)
	table := &callLog{Store: s}
	key := tableKey(t)
	l, err := audit.Open(audit.Options{Server: "a", Key: key, Sinks: []audit.Sink{audit.NewTableSink(table, "a")},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	if err := l.AppendWritten(t.Context(), tableEvent("a", 0, 0)); err != nil {
		t.Fatal(err)
	}
	if calls := table.snapshot(); len(calls) == 0 || calls[0] != "buffered" || slices.Contains(calls, "append") {
		t.Errorf("AppendWritten: the table's calls %q; want a buffered append first, and no durable one", calls)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(table.snapshot(), "sync") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !slices.Contains(table.snapshot(), "sync") {
		t.Error("AppendWritten: no sync of the table followed")
	}

	before := len(table.snapshot())
	if err := l.Append(t.Context(), tableEvent("a", 0, 1)); err != nil {
		t.Fatal(err)
	}
	calls := table.snapshot()[before:]
	write := slices.Index(calls, "buffered")
	if write < 0 || slices.Contains(calls, "append") || !slices.Contains(calls[write+1:], "sync") {
		t.Errorf("Append: the table's calls %q; want its buffered write, then a sync, before the answer", calls)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	verifyTable(t, s, "a", key, 2)
}
