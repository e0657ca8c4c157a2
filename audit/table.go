package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/coffer-project/coffer"
)

// Tables. A table sink keeps the chain in a database that several servers share (the
// PostgreSQL store's audit_lines): one chain per server name, one row per record, holding
// the record's line byte for byte, so that the same hashes and digests verify it as verify
// a file sink's. A table has no retention, hence no anchor.

// tableTimeout bounds each call to the table: the Sink and Source interfaces carry no
// context, and a database that stops answering must fail the write (the log then refuses
// calls) rather than hold every caller forever.
const tableTimeout = 10 * time.Second

// tablePage is how many lines a TableSource reads per query.
const tablePage = 1000

// TableSink is a buffered durable sink that writes the chain of one server into a
// coffer.AuditTable. A Write returns once the table's transaction has committed and is on
// stable storage; a WriteBuffered once it has committed (other servers see the records, and
// they outlive this one), the next Sync making it durable (PostgreSQL: synchronous_commit
// off, then a commit with it on, whose WAL flush covers every commit before it).
type TableSink struct {
	table  coffer.AuditTable
	server string
	// buffered is set by a WriteBuffered and cleared by the Sync that covers it: a Sync with
	// nothing to cover writes nothing.
	buffered atomic.Bool
}

var _ BufferedSink = (*TableSink)(nil)

// NewTableSink returns a sink that keeps server's chain in t.
func NewTableSink(t coffer.AuditTable, server string) *TableSink {
	return &TableSink{table: t, server: server}
}

// Write implements Sink: the records go in one transaction, all or none, on stable storage
// when it returns.
func (s *TableSink) Write(recs []*Record) error {
	return s.write(recs, s.table.AppendAudit)
}

// WriteBuffered implements BufferedSink: the records go in one transaction, all or none,
// committed but not yet on stable storage.
func (s *TableSink) WriteBuffered(recs []*Record) error {
	if err := s.write(recs, s.table.AppendAuditBuffered); err != nil {
		return err
	}
	if len(recs) > 0 {
		s.buffered.Store(true)
	}
	return nil
}

func (s *TableSink) write(recs []*Record, appendLines func(context.Context, string, []coffer.AuditLine) error) error {
	if len(recs) == 0 {
		return nil
	}
	lines := make([]coffer.AuditLine, len(recs))
	for i, r := range recs {
		lines[i] = coffer.AuditLine{Seq: r.Seq, Time: recordTime(r.Raw), Raw: r.Raw}
	}
	ctx, cancel := context.WithTimeout(context.Background(), tableTimeout)
	defer cancel()
	if err := appendLines(ctx, s.server, lines); err != nil {
		return fmt.Errorf("audit: writing the chain of %s to the table: %w", s.server, err)
	}
	return nil
}

// Sync implements BufferedSink: every record written before it began is on stable storage
// when it returns nil.
func (s *TableSink) Sync() error {
	if !s.buffered.Swap(false) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), tableTimeout)
	defer cancel()
	if err := s.table.SyncAudit(ctx, s.server); err != nil {
		s.buffered.Store(true)
		return fmt.Errorf("audit: syncing the chain of %s in the table: %w", s.server, err)
	}
	return nil
}

// Rewind implements BufferedSink. It has nothing to cut: the records committed since the
// last Sync are either still in the database, where the next Sync makes them durable, or
// were lost with its host, and Head, which the log asks next, reads what the table holds.
func (s *TableSink) Rewind() error { return nil }

// Durable implements Sink.
func (s *TableSink) Durable() bool { return true }

// Head implements ChainSink: the seq and hash of the server's last row, or (0, GenesisHash)
// when it has none. A last row whose line does not verify is an error: the log must not
// chain onto a record that was changed.
func (s *TableSink) Head() (uint64, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), tableTimeout)
	defer cancel()
	line, ok, err := s.table.AuditHead(ctx, s.server)
	if err != nil {
		return 0, "", fmt.Errorf("audit: reading the end of the chain of %s in the table: %w", s.server, err)
	}
	if !ok {
		return 0, GenesisHash, nil
	}
	r, err := parseLine(s.server, line)
	if err != nil {
		return 0, "", err
	}
	return r.Seq, r.Hash, nil
}

// Records implements ChainSink.
func (s *TableSink) Records(after uint64, limit int) ([]*Record, error) {
	ctx, cancel := context.WithTimeout(context.Background(), tableTimeout)
	defer cancel()
	lines, err := s.table.AuditLines(ctx, s.server, after, limit)
	if err != nil {
		return nil, fmt.Errorf("audit: reading the chain of %s from the table: %w", s.server, err)
	}
	recs := make([]*Record, len(lines))
	for i, l := range lines {
		if recs[i], err = parseLine(s.server, l); err != nil {
			return nil, err
		}
	}
	return recs, nil
}

// Close implements Sink. The table belongs to its store, which its owner closes.
func (s *TableSink) Close() error { return nil }

// parseLine decodes a row's line and checks that it is the record its row says.
func parseLine(server string, l coffer.AuditLine) (*Record, error) {
	r, err := ParseRecord(l.Raw)
	if err == nil && r.Seq != l.Seq {
		err = fmt.Errorf("the row of seq %d holds record %d", l.Seq, r.Seq)
	}
	if err != nil {
		return nil, fmt.Errorf("audit: the record in %s: %w", tableWhere(server, l.Seq), err)
	}
	return r, nil
}

// recordTime returns the time of the event or digest a line holds, the zero time when it
// names none that parses. Records being written carry only their line, so it is read from
// there; the time is for queries, the hash covers the line whatever this returns.
func recordTime(raw []byte) time.Time {
	if t, ok := leadingTime(raw); ok {
		return t
	}
	return decodedTime(raw)
}

// decodedTime is recordTime for a line of any shape: it decodes the line.
func decodedTime(raw []byte) time.Time {
	var r struct {
		Event struct {
			EventTime string `json:"eventTime"`
		} `json:"event"`
		Digest struct {
			Time string `json:"time"`
		} `json:"digest"`
	}
	if json.Unmarshal(raw, &r) != nil {
		return time.Time{}
	}
	s := r.Event.EventTime
	if s == "" {
		s = r.Digest.Time
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// leadingTime finds the time of a line as the log writes it without decoding the line, which
// took a tenth of a read's CPU on PostgreSQL: the first "eventTime" field of an event record,
// or the first "time" field of a digest record. Nothing before either can hold one: the
// record's seq, prev and kind, then an event's eventVersion, or a digest's server name, seq
// and hash (strings, JSON-escaped, in which a quote cannot open a field name). It reports
// false for a line of another shape, which recordTime then decodes.
func leadingTime(raw []byte) (time.Time, bool) {
	if !bytes.HasPrefix(raw, []byte(`{"seq":`)) {
		return time.Time{}, false
	}
	head := raw[:min(len(raw), 192)] // the seq, a hash or the genesis hash, the kind
	field := []byte(`"eventTime":"`)
	switch {
	case bytes.Contains(head, []byte(`","kind":"event","event":{"eventVersion":`)):
	case bytes.Contains(head, []byte(`","kind":"digest","digest":{"server":`)):
		field = []byte(`"time":"`)
	default:
		return time.Time{}, false
	}
	i := bytes.Index(raw, field)
	if i < 0 {
		return time.Time{}, false
	}
	rest := raw[i+len(field):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(rest[:end]))
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// TableSource reads the chain of one server from a coffer.AuditTable, to verify or query it.
type TableSource struct {
	Table  coffer.AuditTable
	Server string
}

var _ Source = TableSource{}

// Anchor implements Source: a table keeps every record, so its chains start at record 1.
func (TableSource) Anchor() (*Digest, error) { return nil, nil }

// Scan implements Source.
func (s TableSource) Scan(fn func(raw []byte, where string) error) error {
	return s.ScanFrom(0, fn)
}

// ScanFrom implements Source: it reads the rows with a seq above after, in seq order, a page
// at a time. where is "server <name> seq <n>", n the row's seq.
func (s TableSource) ScanFrom(after uint64, fn func(raw []byte, where string) error) error {
	for {
		lines, err := s.page(after)
		if err != nil {
			return err
		}
		for _, l := range lines {
			if err := fn(l.Raw, tableWhere(s.Server, l.Seq)); err != nil {
				return err
			}
		}
		if len(lines) < tablePage {
			return nil
		}
		after = lines[len(lines)-1].Seq
	}
}

func (s TableSource) page(after uint64) ([]coffer.AuditLine, error) {
	ctx, cancel := context.WithTimeout(context.Background(), tableTimeout)
	defer cancel()
	lines, err := s.Table.AuditLines(ctx, s.Server, after, tablePage)
	if err != nil {
		return nil, fmt.Errorf("audit: reading the chain of %s from the table: %w", s.Server, err)
	}
	return lines, nil
}

// tableWhere says where a row is, as a Problem or an error names it.
func tableWhere(server string, seq uint64) string {
	return fmt.Sprintf("server %s seq %d", server, seq)
}
