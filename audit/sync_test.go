package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gatedSink is a BufferedSink over a FileSink whose Sync waits for the test's word and can be
// told to fail, to observe which Appends wait for the fsync.
type gatedSink struct {
	*FileSink
	gate    chan struct{} // a Sync takes one token, or fails when closed-failing
	mu      sync.Mutex
	fail    error
	syncs   int
	entered chan struct{}
}

func (g *gatedSink) Sync() error {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	g.syncs++
	if g.fail != nil {
		return g.fail
	}
	return g.FileSink.Sync()
}

func newGatedSink(t *testing.T) *gatedSink {
	return &gatedSink{FileSink: openFileSink(t, FileOptions{Dir: t.TempDir()}), gate: make(chan struct{}, 100), entered: make(chan struct{}, 1)}
}

// TestAppendWrittenDoesNotWaitForTheFsync: AppendWritten returns while the fsync is held
// back; Append returns only after it, and its fsync does not wait for SyncInterval.
func TestAppendWrittenDoesNotWaitForTheFsync(t *testing.T) {
	g := newGatedSink(t)
	l := openLog(t, Options{Key: testKey(t), Sinks: []Sink{g}, SyncInterval: time.Hour})
	defer func() {
		close(g.gate)
		l.Close()
	}()
	if err := l.AppendWritten(t.Context(), testEvent("read")); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := g.Head(); n != 1 {
		t.Fatalf("after AppendWritten the sink holds %d records, want 1 (written before the answer)", n)
	}
	// The durable Append starts an fsync at once, though SyncInterval is an hour.
	waitsForFsync(t, g, "Append", func() error { return l.Append(t.Context(), testEvent("write")) })
}

// waitsForFsync runs call, named what in failures, and checks that it starts an fsync of g
// at once and returns, without error, only once that fsync is let through.
func waitsForFsync(t *testing.T, g *gatedSink, what string, call func() error) {
	t.Helper()
	done := make(chan error)
	go func() { done <- call() }()
	select {
	case <-g.entered:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s started no fsync", what)
	}
	select {
	case err := <-done:
		t.Fatalf("%s returned (%v) before the fsync finished", what, err)
	case <-time.After(50 * time.Millisecond):
	}
	g.gate <- struct{}{}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not return after the fsync", what)
	}
}

// TestAppendWrittenIsFsyncedWithinTheInterval: records no Append waits for are fsynced
// anyway, after SyncInterval.
func TestAppendWrittenIsFsyncedWithinTheInterval(t *testing.T) {
	g := newGatedSink(t)
	close(g.gate) // never held back
	l := openLog(t, Options{Key: testKey(t), Sinks: []Sink{g}, SyncInterval: 20 * time.Millisecond})
	defer l.Close()
	before := l.Stats().Syncs
	if err := l.AppendWritten(t.Context(), testEvent("read")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for l.Stats().Syncs == before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if l.Stats().Syncs == before {
		t.Fatal("a record written for AppendWritten was never fsynced")
	}
}

// TestFailedFsyncRefuses: an fsync that fails answers its Appends with ErrUnavailable and
// makes the log refuse calls until an fsync succeeds again.
func TestFailedFsyncRefuses(t *testing.T) {
	g := newGatedSink(t)
	close(g.gate)
	g.fail = errors.New("EIO")
	l := openLog(t, Options{Key: testKey(t), Sinks: []Sink{g}, RetryInterval: 10 * time.Millisecond})
	defer l.Close()
	if err := l.Append(t.Context(), testEvent("write")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append with a failing fsync: %v, want ErrUnavailable", err)
	}
	if err := l.AppendWritten(t.Context(), testEvent("read")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("AppendWritten after a failed fsync: %v, want ErrUnavailable", err)
	}
	g.mu.Lock()
	g.fail = nil
	g.mu.Unlock()
	waitReady(t, l)
	if err := l.Append(t.Context(), testEvent("again")); err != nil {
		t.Fatalf("Append after the fsync works again: %v", err)
	}
}

// TestOpenFileSinkReadsTheTail: a file larger than the tail window reopens at its last record,
// a torn last line cut off, without reading the whole file for it.
func TestOpenFileSinkReadsTheTail(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, Options{Key: testKey(t), Sinks: []Sink{openFileSink(t, FileOptions{Dir: dir})}, DigestEvery: 1 << 30})
	for i := range 4000 {
		if err := l.AppendWritten(t.Context(), testEvent(fmt.Sprintf("r%d-%s", i, strings.Repeat("x", 300)))); err != nil {
			t.Fatal(err)
		}
	}
	closeLog(t, l)
	files, err := listFiles(dir)
	if err != nil || len(files) != 1 {
		t.Fatalf("files %v, %v", files, err)
	}
	path := filepath.Join(dir, files[0].name)
	st, _ := os.Stat(path)
	if st.Size() <= 2*tailWindow {
		t.Fatalf("the file is %d bytes: the test needs more than two windows", st.Size())
	}
	want := readChain(t, dir)
	last := want[len(want)-1]
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"seq":99999,"prev":"torn`)
	f.Close()
	s := openFileSink(t, FileOptions{Dir: dir})
	defer s.Close()
	if seq, hash, _ := s.Head(); seq != last.Seq || hash != last.Hash {
		t.Fatalf("Head() = %d %s, want %d %s", seq, hash, last.Seq, last.Hash)
	}
	if st2, _ := os.Stat(path); st2.Size() != st.Size() {
		t.Fatalf("the torn line was not cut: %d bytes, want %d", st2.Size(), st.Size())
	}
}

// digestRecorder is a DigestSink that keeps what it is given.
type digestRecorder struct {
	mu      sync.Mutex
	digests []*Digest
}

func (d *digestRecorder) WriteDigest(dg *Digest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.digests = append(d.digests, dg)
	return nil
}

func (d *digestRecorder) Close() error { return nil }

func (d *digestRecorder) seqs() []uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	var s []uint64
	for _, dg := range d.digests {
		s = append(s, dg.Seq)
	}
	return s
}

// TestDigestExportedOnlyOnceFsynced: a digest written to a buffered sink is exported (to the
// digest sinks and LastDigest) after the fsync that covers it, and not at all when that
// fsync fails: an anchor kept elsewhere never names a record that a power loss could take.
func TestDigestExportedOnlyOnceFsynced(t *testing.T) {
	g := newGatedSink(t)
	rec := &digestRecorder{}
	l := openLog(t, Options{Key: testKey(t), Sinks: []Sink{g}, Digests: []DigestSink{rec}, DigestEvery: 2, SyncInterval: time.Millisecond})
	defer func() {
		close(g.gate)
		l.Close()
	}()
	for _, op := range []string{"a", "b"} {
		if err := l.AppendWritten(t.Context(), testEvent(op)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-g.entered: // the fsync of the two records and the digest has begun, held back
	case <-time.After(5 * time.Second):
		t.Fatal("no fsync began")
	}
	if d := l.LastDigest(); d != nil || len(rec.seqs()) != 0 {
		t.Fatalf("a digest was exported before its fsync: %v %v", d, rec.seqs())
	}
	for range 10 { // the fsync held back may have covered "a" alone: let the next ones run
		g.gate <- struct{}{}
	}
	for deadline := time.Now().Add(5 * time.Second); l.LastDigest() == nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no digest exported after the fsync")
		}
	}
	if got := rec.seqs(); len(got) != 1 || got[0] != 2 || l.LastDigest().Seq != 2 {
		t.Fatalf("exported %v, last %d; want the digest of seq 2", got, l.LastDigest().Seq)
	}

	// The next fsync fails: its digest is not exported. (The tokens left over are taken back
	// first, so that no fsync runs between "c" and "d".)
	for len(g.gate) > 0 {
		<-g.gate
	}
	g.mu.Lock()
	g.fail = errors.New("disk gone")
	g.mu.Unlock()
	for _, op := range []string{"c", "d"} {
		if err := l.AppendWritten(t.Context(), testEvent(op)); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 {
		g.gate <- struct{}{}
	}
	for deadline := time.Now().Add(5 * time.Second); l.Ready() == nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the failed fsync was not noticed")
		}
	}
	if got := rec.seqs(); len(got) != 1 || l.LastDigest().Seq != 2 {
		t.Fatalf("after a failed fsync: exported %v, last %d; want only the first", got, l.LastDigest().Seq)
	}
}

// TestFailedFsyncWritesAgain: an fsync fails after the records it was to cover lost their
// bytes (as the kernel may drop pages it could not write, so that a later fsync succeeds
// without them); the log cuts the file back to its last good fsync and writes those records
// again, so that the chain on the disk has no hole.
func TestFailedFsyncWritesAgain(t *testing.T) {
	dir := t.TempDir()
	fs := openFileSink(t, FileOptions{Dir: dir})
	// The fault is set before the log runs, and armed once "a" and "b" are on the disk: the
	// first fsync then with records after them loses their bytes, and says so.
	var armed, failed atomic.Bool
	var good atomic.Int64
	fs.syncFile = func(f *os.File) error {
		if st, serr := f.Stat(); armed.Load() && serr == nil && st.Size() > good.Load() && failed.CompareAndSwap(false, true) {
			f.WriteAt(make([]byte, st.Size()-good.Load()), good.Load())
			return errors.New("input/output error")
		}
		return f.Sync()
	}
	l := openLog(t, Options{Key: testKey(t), Sinks: []Sink{fs}, SyncInterval: time.Millisecond, RetryInterval: 20 * time.Millisecond})
	for _, op := range []string{"a", "b"} {
		if err := l.Append(t.Context(), testEvent(op)); err != nil {
			t.Fatal(err)
		}
	}
	files, err := listFiles(dir)
	if err != nil || len(files) != 1 {
		t.Fatalf("files %v, %v", files, err)
	}
	st, err := os.Stat(filepath.Join(dir, files[0].name))
	if err != nil {
		t.Fatal(err)
	}
	good.Store(st.Size()) // fsynced by the durable Appends
	armed.Store(true)
	if err := l.AppendWritten(t.Context(), testEvent("c"), testEvent("d")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); l.Ready() == nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the failed fsync was not noticed")
		}
	}
	for deadline := time.Now().Add(10 * time.Second); l.Ready() != nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the log did not recover: %v", l.Ready())
		}
	}
	if err := l.Append(t.Context(), testEvent("e")); err != nil {
		t.Fatal(err)
	}
	closeLog(t, l)
	rep, err := Verify(DirSource(dir), VerifyOptions{})
	if err != nil {
		t.Fatalf("the chain after the failed fsync: %v", err)
	}
	if rep.Events != 5 {
		t.Errorf("%d events in the chain, want 5 (a to e)", rep.Events)
	}
}

// TestSyncWaitsForAnFsync: Sync returns only after an fsync that began after it was called,
// which covers the records AppendWritten wrote before; after Close it fails at once.
func TestSyncWaitsForAnFsync(t *testing.T) {
	g := newGatedSink(t)
	l := openLog(t, Options{Key: testKey(t), Sinks: []Sink{g}, SyncInterval: time.Hour})
	if err := l.AppendWritten(t.Context(), testEvent("change")); err != nil {
		t.Fatal(err)
	}
	// Sync asks for an fsync at once, though SyncInterval is an hour.
	waitsForFsync(t, g, "Sync", func() error { return l.Sync(t.Context()) })
	g.mu.Lock()
	syncs := g.syncs
	g.mu.Unlock()
	if syncs != 1 {
		t.Fatalf("%d fsyncs, want 1", syncs)
	}
	close(g.gate)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(t.Context()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Sync after Close: %v, want ErrUnavailable", err)
	}
}
