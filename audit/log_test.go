package audit

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The helpers below are shared by log_test.go, file_test.go and verify_test.go.

const testServer = "test"

func testKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func publicKey(key ed25519.PrivateKey) ed25519.PublicKey { return key.Public().(ed25519.PublicKey) }

// testEvent returns an event whose RequestID is id.
func testEvent(id string) *Event {
	return &Event{
		EventVersion: EventVersion,
		EventTime:    FormatTime(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)),
		EventSource:  SourceSecretsManager,
		EventName:    "GetSecretValue",
		RequestID:    id,
		EventType:    TypeAPICall,
		ReadOnly:     true,
		Category:     "secrets.get_value",
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openFileSink(t *testing.T, opts FileOptions) *FileSink {
	t.Helper()
	s, err := OpenFileSink(opts)
	if err != nil {
		t.Fatalf("OpenFileSink(%s): %v", opts.Dir, err)
	}
	return s
}

// openLog opens a log named testServer, quiet, with opts; Close is the test's to call.
func openLog(t *testing.T, opts Options) *Log {
	t.Helper()
	opts.Server = testServer
	opts.Logger = quietLogger()
	l, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

// appendEvents appends one event at a time, with RequestIDs prefix0, prefix1, ….
func appendEvents(t *testing.T, l *Log, prefix string, n int) {
	t.Helper()
	for i := range n {
		if err := l.Append(t.Context(), testEvent(fmt.Sprintf("%s%d", prefix, i))); err != nil {
			t.Fatalf("Append %s%d: %v", prefix, i, err)
		}
	}
}

func closeLog(t *testing.T, l *Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// readChain returns every record of the chain in dir, in order, failing on a line that does
// not parse.
func readChain(t *testing.T, dir string) []*Record {
	t.Helper()
	var recs []*Record
	err := DirSource(dir).Scan(func(raw []byte, where string) error {
		r, err := ParseRecord(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		r.Raw = slices.Clone(r.Raw)
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatalf("reading the chain in %s: %v", dir, err)
	}
	return recs
}

// requestIDs returns the RequestID of every event record, in chain order.
func requestIDs(t *testing.T, recs []*Record) []string {
	t.Helper()
	var ids []string
	for _, r := range recs {
		if r.Kind != KindEvent {
			continue
		}
		ev := decodeEvent(t, r)
		ids = append(ids, ev.RequestID)
	}
	return ids
}

func decodeEvent(t *testing.T, r *Record) *Event {
	t.Helper()
	var ev Event
	if err := json.Unmarshal(r.Event, &ev); err != nil {
		t.Fatalf("record %d: %v", r.Seq, err)
	}
	return &ev
}

func verifyDir(t *testing.T, dir string, key ed25519.PrivateKey) *Report {
	t.Helper()
	rep, err := Verify(DirSource(dir), VerifyOptions{PublicKey: publicKey(key)})
	if err != nil {
		t.Fatalf("Verify(%s): %v", dir, err)
	}
	return rep
}

// fakeClock is a clock that tests advance; the log's writer reads it concurrently.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestOpenNeedsADurableSink(t *testing.T) {
	key := testKey(t)
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no key", Options{Server: "s", Sinks: []Sink{openFileSink(t, FileOptions{Dir: t.TempDir()})}}, "signing key"},
		{"no server", Options{Key: key, Sinks: []Sink{openFileSink(t, FileOptions{Dir: t.TempDir()})}}, "server name"},
		{"stdout only", Options{Server: "s", Key: key, Sinks: []Sink{WriterSink{W: io.Discard}}}, "no durable sink"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Open(tt.opts)
			if err == nil {
				l.Close()
				t.Fatalf("Open succeeded; want an error about %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open: %v; want an error about %q", err, tt.want)
			}
		})
	}
}

// Many callers at once: each record is written once, in one gapless chain, and callers
// share fsyncs.
func TestLogGroupCommit(t *testing.T) {
	const goroutines, each = 64, 50
	dir := t.TempDir()
	key := testKey(t)
	var stdout strings.Builder
	l := openLog(t, Options{Key: key, DigestEvery: 500,
		Sinks: []Sink{openFileSink(t, FileOptions{Dir: dir}), WriterSink{W: &stdout}}})
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				if err := l.Append(t.Context(), testEvent(fmt.Sprintf("g%d-%d", g, i))); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Append: %v", err)
	}
	st := l.Stats()
	closeLog(t, l)

	rep := verifyDir(t, dir, key)
	if rep.Events != goroutines*each || rep.FirstSeq != 1 || rep.Unsigned() != 0 {
		t.Errorf("Verify: %+v (unsigned %d); want %d events from record 1, all signed", rep, rep.Unsigned(), goroutines*each)
	}
	recs := readChain(t, dir)
	for i, r := range recs {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d", i+1, r.Seq)
		}
	}
	seen := map[string]int{}
	for _, id := range requestIDs(t, recs) {
		seen[id]++
	}
	for g := range goroutines {
		for i := range each {
			if id := fmt.Sprintf("g%d-%d", g, i); seen[id] != 1 {
				t.Errorf("event %s written %d times, want once", id, seen[id])
			}
		}
	}
	if len(seen) != goroutines*each {
		t.Errorf("%d distinct events, want %d", len(seen), goroutines*each)
	}
	if st.Commits >= goroutines*each || st.Commits == 0 {
		t.Errorf("Stats().Commits = %d for %d Appends; want fewer (records sharing fsyncs)", st.Commits, goroutines*each)
	}
	if st.Records != st.Seq || st.Seq != rep.LastSeq-1 || !st.Healthy || st.WriteErrors != 0 || st.Refused != 0 {
		t.Errorf("Stats() before Close = %+v; want every record up to %d durable and no error", st, rep.LastSeq-1)
	}
	t.Logf("%d appends in %d commits", goroutines*each, st.Commits)
	// The non-durable sink saw the same chain.
	if got, want := strings.Count(stdout.String(), "\n"), len(recs); got != want {
		t.Errorf("stdout got %d records, want %d", got, want)
	}
}

// A real failure: the sink's directory disappears. Appends fail, then are refused at once,
// until the directory is back; the retry then writes what was kept, and the chain has no gap.
func TestLogSinkDirectoryRemoved(t *testing.T) {
	tests := []struct {
		name     string
		maxBytes int64
	}{
		{"every write in a new file", 1},
		{"writing into the current file", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "audit")
			key := testKey(t)
			l := openLog(t, Options{Key: key, RetryInterval: 20 * time.Millisecond,
				Sinks: []Sink{openFileSink(t, FileOptions{Dir: dir, MaxBytes: tt.maxBytes})}})
			defer l.Close()
			appendEvents(t, l, "before", 5)

			// Keep a copy of the removed files, to verify the whole chain at the end.
			saved := t.TempDir()
			if err := os.CopyFS(saved, os.DirFS(dir)); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}

			err := l.Append(t.Context(), testEvent("failed"))
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Append with the directory gone: %v; want ErrUnavailable", err)
			}
			if err := l.Ready(); !errors.Is(err, ErrUnavailable) {
				t.Errorf("Ready() = %v; want ErrUnavailable", err)
			}
			for i := range 3 {
				start := time.Now()
				err := l.Append(t.Context(), testEvent(fmt.Sprintf("refused%d", i)))
				if !errors.Is(err, ErrUnavailable) {
					t.Errorf("Append while failing: %v; want ErrUnavailable", err)
				}
				if d := time.Since(start); d > 100*time.Millisecond {
					t.Errorf("a refused Append took %v; want it refused at once", d)
				}
			}
			// The retries fail while the directory is gone.
			deadline := time.Now().Add(5 * time.Second)
			for l.Stats().WriteErrors < 3 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			st := l.Stats()
			if st.Refused != 3 || st.Healthy || st.WriteErrors < 3 || l.Ready() == nil {
				t.Errorf("Stats() while failing = %+v; want 3 refused, unhealthy, a failed write per retry", st)
			}

			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			waitReady(t, l)
			appendEvents(t, l, "after", 3)
			closeLog(t, l)

			if err := os.CopyFS(dir, os.DirFS(saved)); err != nil {
				t.Fatal(err)
			}
			rep := verifyDir(t, dir, key)
			// The failed Append's record was kept and written by the retry: the chain holds
			// every record it made, in order; the refused ones were never chained.
			got := requestIDs(t, readChain(t, dir))
			want := []string{"before0", "before1", "before2", "before3", "before4", "failed", "after0", "after1", "after2"}
			if !slices.Equal(got, want) {
				t.Errorf("events %q, want %q", got, want)
			}
			if rep.Unsigned() != 0 {
				t.Errorf("Verify: %+v; want a signed end", rep)
			}
		})
	}
}

func waitReady(t *testing.T, l *Log) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for l.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("the log did not recover: %v", l.Ready())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := l.Stats(); !st.Healthy {
		t.Errorf("Stats().Healthy is false after the log recovered")
	}
}

// A log closed while its sink fails cannot sign its end: Close says so.
func TestLogCloseWhileFailing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit")
	l := openLog(t, Options{Key: testKey(t), RetryInterval: time.Hour,
		Sinks: []Sink{openFileSink(t, FileOptions{Dir: dir})}})
	appendEvents(t, l, "e", 2)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(t.Context(), testEvent("failed")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append: %v; want ErrUnavailable", err)
	}
	if err := l.Close(); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Close with records not written: %v; want ErrUnavailable", err)
	}
}

func TestLogAppendAfterClose(t *testing.T) {
	l := openLog(t, Options{Key: testKey(t), Sinks: []Sink{openFileSink(t, FileOptions{Dir: t.TempDir()})}})
	appendEvents(t, l, "e", 1)
	closeLog(t, l)
	done := make(chan error)
	go func() {
		for i := range 20 {
			if err := l.Append(t.Context(), testEvent(fmt.Sprint(i))); !errors.Is(err, ErrUnavailable) {
				done <- fmt.Errorf("Append after Close: %v; want ErrUnavailable", err)
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Append after Close blocks")
	}
}

// A sink left behind (a log that ran with sink A only) is caught up at Open, and both hold
// the same chain.
func TestLogCatchesUpASink(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	key := testKey(t)
	l := openLog(t, Options{Key: key, DigestEvery: 7,
		Sinks: []Sink{openFileSink(t, FileOptions{Dir: dirA})}})
	appendEvents(t, l, "a", 20)
	closeLog(t, l)
	headA := l.Stats().Seq

	l = openLog(t, Options{Key: key, DigestEvery: 7, MaxBatch: 8, // catch up in several batches
		Sinks: []Sink{openFileSink(t, FileOptions{Dir: dirA}), openFileSink(t, FileOptions{Dir: dirB})}})
	if got := len(readChain(t, dirB)); uint64(got) != headA {
		t.Errorf("after Open, sink B holds %d records; want %d", got, headA)
	}
	appendEvents(t, l, "ab", 5)
	closeLog(t, l)

	repA, repB := verifyDir(t, dirA, key), verifyDir(t, dirB, key)
	if *repA != *repB || repA.Events != 25 {
		t.Errorf("Verify: A %+v, B %+v; want the same 25 events", repA, repB)
	}
	recsA, recsB := readChain(t, dirA), readChain(t, dirB)
	if len(recsA) != len(recsB) {
		t.Fatalf("A holds %d records, B %d", len(recsA), len(recsB))
	}
	for i := range recsA {
		if string(recsA[i].Raw) != string(recsB[i].Raw) {
			t.Fatalf("record %d differs:\nA %s\nB %s", i+1, recsA[i].Raw, recsB[i].Raw)
		}
	}
}

// Two sinks whose chains differ (the shorter is not a prefix of the longer) are not merged.
func TestLogRefusesDivergedSinks(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	key := testKey(t)
	for _, w := range []struct {
		dir string
		n   int
	}{{dirA, 10}, {dirB, 3}} {
		l := openLog(t, Options{Key: key, Sinks: []Sink{openFileSink(t, FileOptions{Dir: w.dir})}})
		appendEvents(t, l, w.dir, w.n)
		closeLog(t, l)
	}
	l, err := Open(Options{Server: testServer, Key: key, Logger: quietLogger(),
		Sinks: []Sink{openFileSink(t, FileOptions{Dir: dirA}), openFileSink(t, FileOptions{Dir: dirB})}})
	if err == nil {
		l.Close()
		t.Fatal("Open over two sinks holding different chains succeeded")
	}
}

// Digests come every DigestEvery records, and after DigestInterval while records come.
func TestLogDigests(t *testing.T) {
	dir := t.TempDir()
	key := testKey(t)
	clock := &fakeClock{now: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)}
	digests := filepath.Join(t.TempDir(), "digests.jsonl")
	df, err := OpenDigestFile(digests)
	if err != nil {
		t.Fatal(err)
	}
	l := openLog(t, Options{Key: key, DigestEvery: 4, DigestInterval: time.Minute, Now: clock.Now,
		Sinks: []Sink{openFileSink(t, FileOptions{Dir: dir})}, Digests: []DigestSink{df}})
	appendEvents(t, l, "a", 5) // a digest after the 4th
	clock.Advance(2 * time.Minute)
	appendEvents(t, l, "b", 1) // a digest: the interval passed
	appendEvents(t, l, "c", 1)
	closeLog(t, l) // the final digest

	var kinds []string
	for _, r := range readChain(t, dir) {
		kinds = append(kinds, r.Kind[:1])
	}
	if got, want := strings.Join(kinds, ""), "eeeede"+"ed"+"ed"; got != want {
		t.Errorf("record kinds %s, want %s", got, want)
	}
	f, err := os.Open(digests)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ds, err := ReadDigests(f)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, d := range ds {
		seqs = append(seqs, d.Seq)
		if _, err := d.Verify(publicKey(key)); err != nil {
			t.Errorf("exported digest %d: %v", d.Seq, err)
		}
	}
	if want := []uint64{4, 7, 9}; !slices.Equal(seqs, want) {
		t.Errorf("exported digests sign %v, want %v", seqs, want)
	}
}
