package audit

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Sink receives the chain's records, in order.
type Sink interface {
	// Write appends recs. A durable sink returns only once they are on stable storage
	// (written and fsynced, or committed) and, when it fails, holds none of them.
	Write(recs []*Record) error
	// Durable says whether Write puts records on stable storage (stdout does not).
	Durable() bool
	Close() error
}

// ChainSink is a durable sink that can say where its chain ends and give its records back,
// so that a sink left behind (a crash between two sinks' writes) is caught up at start, and
// so that the log can be queried and verified.
type ChainSink interface {
	Sink
	// Head returns the seq and hash of the last record held: (0, GenesisHash) when empty,
	// or the anchor's seq and hash when retention removed everything before.
	Head() (uint64, string, error)
	// Records returns up to limit records with a seq above after, in order.
	Records(after uint64, limit int) ([]*Record, error)
}

// BufferedSink is a durable sink that can take records without waiting for stable storage
// (WriteBuffered: written to the operating system, so that they survive the process) and
// make everything it took durable later (Sync), so that the log can answer a read-only call
// once its record is written and share one fsync among every record written meanwhile.
//
// After a Sync fails, the log calls Rewind and writes again every record after the sink's
// Head: records written before a failed fsync may be gone from the disk although a later
// fsync succeeds.
type BufferedSink interface {
	ChainSink
	WriteBuffered(recs []*Record) error
	Sync() error
	// Rewind cuts the sink back to where its last successful Sync left it.
	Rewind() error
}

// DigestSink receives each digest as it is written, to keep an anchor apart from the log.
type DigestSink interface {
	WriteDigest(d *Digest) error
	Close() error
}

// ErrUnavailable is returned by Append when no record can be made durable: the caller must
// not serve the call.
var ErrUnavailable = errors.New("the audit trail cannot be written")

// Options configures a Log.
type Options struct {
	Server         string             // this server's chain name; several servers on one store keep one chain each
	Key            ed25519.PrivateKey // signs digests
	Sinks          []Sink             // every durable sink must accept a record before Append returns
	Digests        []DigestSink       // digests also go here (a separate host or disk)
	DigestEvery    int                // a digest after this many records; 1000 when 0
	DigestInterval time.Duration      // and at least this often while records come; 1 minute when 0
	MaxBatch       int                // records written in one group commit at most; 512 when 0
	RetryInterval  time.Duration      // how often a failed sink is retried; 1 s when 0
	// SyncInterval bounds how long a record written for AppendWritten waits for its fsync
	// when no Append waits for one (each fsync costs the machine CPU, in the kernel and
	// the disk's driver): 10 ms when 0. An Append's fsync runs at once and covers them too.
	SyncInterval time.Duration
	Now          func() time.Time
	Logger       *slog.Logger
}

// Stats are the log's counters, for metrics.
type Stats struct {
	Records     uint64 // records written to every durable sink (events and digests)
	Commits     uint64 // group commits: one write per durable sink each
	Syncs       uint64 // fsyncs of the buffered sinks, each covering every record written before it
	WriteErrors uint64 // failed writes to a durable sink
	Refused     uint64 // Appends refused while the log was failing
	Healthy     bool
	Seq         uint64 // the last record's seq
}

// Log is a hash-chained audit log with group commit: concurrent Appends share one write and
// one fsync per sink, and each returns only once its records are durable in every durable
// sink (AppendWritten: once they are written to every durable sink, the fsync following).
// Writing and fsyncing overlap: while one group's fsync runs, the next group is written. When a durable sink fails, the records it did not take are kept and retried, and
// Append refuses new records until every sink holds them: nothing is acknowledged that is
// not on stable storage, and no record is lost from the chain.
type Log struct {
	opts Options
	in   chan *appendReq
	stop chan struct{}
	done chan struct{}
	once sync.Once

	// mu orders Appends with Close: an Append queues its request under the read lock, and
	// Close marks the log closed under the write lock before it stops the writer, so that
	// every request queued is served and none is queued after the writer stopped.
	mu       sync.RWMutex
	closed   bool
	closeErr error // the final commit's; set by the writer before it closes done

	failed atomic.Pointer[error]
	digest atomic.Pointer[Digest] // the last digest written
	stats  struct{ records, commits, syncs, writeErrors, refused, seq atomic.Uint64 }

	// The syncer: it fsyncs the buffered sinks whenever records were written to them, and
	// then answers the durable Appends waiting for that fsync.
	buffered  []BufferedSink
	bufAt     []int           // the index in durable of each buffered sink
	bufHead   []atomic.Uint64 // per buffered sink, the last seq written to it (the writer's)
	bufSynced []atomic.Uint64 // and the last seq a Sync that succeeded covers (the syncer's)
	rewind    atomic.Bool     // a Sync failed: rewind the buffered sinks before writing again
	syncMu    sync.Mutex
	syncWait  []*appendReq
	// syncDigests are digests written to the buffered sinks and not fsynced yet: they are
	// exported (LastDigest, Digests) only once the fsync that covers them succeeded, so that
	// an anchor kept elsewhere never names a record a power loss could take.
	syncDigests []*Digest
	syncKick    chan struct{} // records were written
	syncNow     chan struct{} // and an Append waits for their fsync
	syncStop    chan struct{}
	syncDone    chan struct{}
	syncFinal   error // the syncer's last fsync's error, set before syncDone closes

	// owned by the writer goroutine
	counted     uint64 // the records up to this seq are counted in stats.records
	seq         uint64
	hash        string
	sinceDigest int
	lastKind    string // the kind of the last record chained in this run
	lastDigest  time.Time
	written     []uint64  // per durable sink, the last seq it holds
	backlog     []*Record // records some durable sink does not hold yet
	durable     []ChainSink
}

// maxYields bounds how often the writer lets appenders run before it writes a group.
const maxYields = 4

// bodies recycles the buffers events are encoded into until the writer has copied them into
// their records' lines: two a read, of a few KiB, that the garbage collector no longer sees.
var bodies sync.Pool

func getBody() []byte {
	if b, ok := bodies.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, 2048)
}

// putBody returns b for reuse, unless it grew past what a common record needs. Its bytes
// are a record's, never a secret value's (Redact removed those), and are overwritten
// before they are read again.
func putBody(b []byte) {
	if cap(b) <= 16<<10 {
		bodies.Put(&b)
	}
}

type appendReq struct {
	bodies  [][]byte
	durable bool // answer only once fsynced, not once written
	done    chan error
}

// Open recovers the chain's head from the durable sinks, catches up any sink left behind,
// and starts the writer. At least one sink must be durable.
func Open(opts Options) (*Log, error) {
	if opts.DigestEvery <= 0 {
		opts.DigestEvery = 1000
	}
	if opts.DigestInterval <= 0 {
		opts.DigestInterval = time.Minute
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 512
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = time.Second
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = 10 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Key == nil || opts.Server == "" {
		return nil, errors.New("audit: a server name and a signing key are required")
	}
	l := &Log{opts: opts, in: make(chan *appendReq, 4096), stop: make(chan struct{}), done: make(chan struct{}),
		syncKick: make(chan struct{}, 1), syncNow: make(chan struct{}, 1), syncStop: make(chan struct{}), syncDone: make(chan struct{})}
	for _, s := range opts.Sinks {
		if !s.Durable() {
			continue
		}
		cs, ok := s.(ChainSink)
		if !ok {
			return nil, fmt.Errorf("audit: durable sink %T cannot report its chain's head", s)
		}
		l.durable = append(l.durable, cs)
		if bs, ok := s.(BufferedSink); ok {
			l.buffered = append(l.buffered, bs)
			l.bufAt = append(l.bufAt, len(l.durable)-1)
		}
	}
	if len(l.durable) == 0 {
		return nil, errors.New("audit: no durable sink: the server may not serve a call without a record on stable storage")
	}
	if err := l.recover(); err != nil {
		return nil, err
	}
	l.counted = l.seq
	l.bufHead = make([]atomic.Uint64, len(l.buffered))
	l.bufSynced = make([]atomic.Uint64, len(l.buffered))
	for j, i := range l.bufAt {
		l.bufHead[j].Store(l.written[i])
		l.bufSynced[j].Store(l.written[i]) // what recover found or wrote is on the disk
	}
	l.lastDigest = opts.Now()
	l.stats.seq.Store(l.seq)
	go l.run()
	go l.syncer()
	return l, nil
}

// recover finds the longest chain among the durable sinks and copies what the others lack.
func (l *Log) recover() error {
	heads := make([]uint64, len(l.durable))
	hashes := make([]string, len(l.durable))
	best := 0
	for i, s := range l.durable {
		seq, h, err := s.Head()
		if err != nil {
			return fmt.Errorf("audit: reading the end of the chain: %w", err)
		}
		heads[i], hashes[i] = seq, h
		if seq > heads[best] {
			best = i
		}
	}
	l.seq, l.hash = heads[best], hashes[best]
	for i := range l.durable {
		if heads[i] == heads[best] && hashes[i] != hashes[best] {
			return fmt.Errorf("audit: two sinks hold different records %d: one of them was changed (run coffer audit verify)", heads[i])
		}
	}
	for i, s := range l.durable {
		for heads[i] < l.seq {
			recs, err := l.durable[best].Records(heads[i], l.opts.MaxBatch)
			if err != nil {
				return fmt.Errorf("audit: catching up a sink: %w", err)
			}
			if len(recs) == 0 {
				return fmt.Errorf("audit: a sink holds records up to %d but the longest chain cannot give them back", heads[i])
			}
			// A sink that holds records must hold the start of the longest chain, not
			// records of its own: appending would leave a chain that verifies nowhere.
			if heads[i] > 0 && (recs[0].Seq != heads[i]+1 || recs[0].Prev != hashes[i]) {
				return fmt.Errorf("audit: a sink's chain ends at record %d, and the longest chain does not go on from it: one of them was changed (run coffer audit verify)", heads[i])
			}
			if err := s.Write(recs); err != nil {
				return fmt.Errorf("audit: catching up a sink: %w", err)
			}
			last := recs[len(recs)-1]
			heads[i], hashes[i] = last.Seq, last.Hash
		}
	}
	l.written = heads
	return nil
}

// Ready returns nil when a record can be written now, or why not.
func (l *Log) Ready() error {
	if p := l.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// Refuse counts a call refused because the log was not ready.
func (l *Log) Refuse() { l.stats.refused.Add(1) }

// Stats returns the log's counters.
func (l *Log) Stats() Stats {
	return Stats{Records: l.stats.records.Load(), Commits: l.stats.commits.Load(), Syncs: l.stats.syncs.Load(),
		WriteErrors: l.stats.writeErrors.Load(), Refused: l.stats.refused.Load(),
		Healthy: l.failed.Load() == nil, Seq: l.stats.seq.Load()}
}

// Append writes events as consecutive records and returns once every durable sink holds
// them on stable storage. It returns ErrUnavailable (wrapped) at once while a sink is
// failing.
func (l *Log) Append(ctx context.Context, evs ...*Event) error {
	return l.append(ctx, true, evs)
}

// AppendWritten is Append for calls that changed nothing: it returns once every durable sink
// holds the records written, to the operating system for a file, committed without waiting
// for the WAL's flush for a table (so that they outlive the process), not waiting for the
// fsync, which follows at once and is shared with every record written meanwhile. A sink
// without that distinction (one that is not a BufferedSink) is waited for as by Append.
func (l *Log) AppendWritten(ctx context.Context, evs ...*Event) error {
	return l.append(ctx, false, evs)
}

func (l *Log) append(ctx context.Context, durable bool, evs []*Event) error {
	if err := l.Ready(); err != nil {
		l.stats.refused.Add(1)
		return err
	}
	req := &appendReq{bodies: make([][]byte, len(evs)), durable: durable, done: make(chan error, 1)}
	for i, ev := range evs {
		req.bodies[i] = ev.AppendJSON(getBody())
	}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return fmt.Errorf("%w: the log is closed", ErrUnavailable)
	}
	// The writer reads l.in until Close, which waits for this lock: the send cannot block
	// for ever.
	l.in <- req
	l.mu.RUnlock()
	// The record is written whatever happens to ctx: once queued it is part of the chain.
	return <-req.done
}

// Sync returns once every record written before it was called (by Append or AppendWritten)
// is on stable storage in every durable sink: for a buffered sink, after an fsync that
// began after the call. It is how a caller learns that records it appended with
// AppendWritten have become durable.
func (l *Log) Sync(ctx context.Context) error {
	if err := l.Ready(); err != nil {
		return err
	}
	if len(l.buffered) == 0 {
		return nil // every durable sink took its records durably
	}
	req := &appendReq{durable: true, done: make(chan error, 1)}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return fmt.Errorf("%w: the log is closed", ErrUnavailable)
	}
	// The syncer answers every waiting request after its next fsync, and once more when it
	// stops, which Close waits for this lock to order.
	l.syncMu.Lock()
	l.syncWait = append(l.syncWait, req)
	l.syncMu.Unlock()
	l.mu.RUnlock()
	select {
	case l.syncNow <- struct{}{}:
	default: // a kick is pending: that fsync begins after the request was queued
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Records returns up to limit records after seq from the first durable sink that can give
// its records back (a ChainSink), oldest first.
func (l *Log) Records(after uint64, limit int) ([]*Record, error) {
	if len(l.durable) == 0 {
		return nil, errors.New("audit: no durable sink gives its records back")
	}
	return l.durable[0].Records(after, limit)
}

// LastDigest returns the last digest this log wrote, or nil when it has written none yet: a
// verifier may keep it elsewhere, as an anchor the log's host cannot rewrite.
func (l *Log) LastDigest() *Digest { return l.digest.Load() }

// Close writes a final digest, so that a clean shutdown leaves a signed end, and closes
// the sinks. Appends after Close fail. It returns an error wrapping ErrUnavailable when a
// durable sink was still failing: the final digest, and the records it kept for that sink,
// were not written.
func (l *Log) Close() error {
	l.once.Do(func() {
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		close(l.stop)
	})
	<-l.done
	<-l.syncDone
	errs := []error{l.closeErr, l.syncFinal}
	for _, s := range l.opts.Sinks {
		errs = append(errs, s.Close())
	}
	for _, s := range l.opts.Digests {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

func (l *Log) run() {
	defer close(l.done)
	defer close(l.syncStop) // after the last commit handed its durable callers to the syncer
	retry := time.NewTicker(l.opts.RetryInterval)
	defer retry.Stop()
	var batch []*appendReq
	for {
		batch = batch[:0]
		select {
		case req := <-l.in:
			batch = append(batch, req)
			n := len(req.bodies)
			// Take what is queued; then let the goroutines about to append run, and take
			// theirs too, as long as that brings more: fewer, fuller writes.
			for pass := 0; ; pass++ {
				before := n
			drain:
				for n < l.opts.MaxBatch {
					select {
					case req := <-l.in:
						batch = append(batch, req)
						n += len(req.bodies)
					default:
						break drain
					}
				}
				if n >= l.opts.MaxBatch || pass == maxYields || (pass > 0 && n == before) {
					break
				}
				runtime.Gosched()
			}
			l.commit(batch, false)
		case <-retry.C:
			if l.failed.Load() != nil || (l.sinceDigest > 0 && l.opts.Now().Sub(l.lastDigest) >= l.opts.DigestInterval) {
				l.commit(nil, false)
			}
		case <-l.stop:
			// Serve what was queued before the stop, then sign the end.
			for {
				select {
				case req := <-l.in:
					l.commit([]*appendReq{req}, false)
					continue
				default:
				}
				break
			}
			if err := l.commit(nil, true); err != nil {
				l.closeErr = fmt.Errorf("audit: closing with %d records not written: %w", len(l.backlog), err)
			}
			return
		}
	}
}

// commit chains the batch's events (and a digest when one is due), writes them to every
// sink, and answers the batch's callers; it returns what it answered them.
func (l *Log) commit(batch []*appendReq, final bool) error {
	var fresh []*Record
	for _, req := range batch {
		for i, b := range req.bodies {
			fresh = append(fresh, l.chain(KindEvent, b)) // copies b into its line
			putBody(b)
			req.bodies[i] = nil
		}
	}
	l.sinceDigest += len(fresh)
	now := l.opts.Now()
	var digest *Digest
	if l.sinceDigest >= l.opts.DigestEvery || (l.sinceDigest > 0 && now.Sub(l.lastDigest) >= l.opts.DigestInterval) || (final && l.seq > 0 && l.lastKind != KindDigest) {
		digest = SignDigest(l.opts.Key, l.opts.Server, l.seq, l.hash, FormatTimeMilli(now))
		body, _ := json.Marshal(digest)
		fresh = append(fresh, l.chain(KindDigest, body))
		l.sinceDigest = 0
		l.lastDigest = now
	}
	l.backlog = append(l.backlog, fresh...)
	err := l.flush()
	if err == nil {
		for _, s := range l.opts.Sinks {
			if !s.Durable() && len(fresh) > 0 {
				if werr := s.Write(fresh); werr != nil {
					l.opts.Logger.Warn("audit: a non-durable sink failed", "err", werr)
				}
			}
		}
		if digest != nil && len(l.buffered) > 0 {
			l.syncMu.Lock()
			l.syncDigests = append(l.syncDigests, digest)
			l.syncMu.Unlock()
		} else if digest != nil {
			l.exportDigest(digest)
		}
	}
	var waitSync []*appendReq
	for _, req := range batch {
		if err == nil && req.durable && len(l.buffered) > 0 {
			waitSync = append(waitSync, req)
			continue
		}
		req.done <- err
	}
	if err == nil && len(fresh) > 0 && len(l.buffered) > 0 {
		l.syncMu.Lock()
		l.syncWait = append(l.syncWait, waitSync...)
		l.syncMu.Unlock()
		kick := l.syncKick
		if len(waitSync) > 0 {
			kick = l.syncNow
		}
		select {
		case kick <- struct{}{}:
		default: // a kick is pending: that fsync will cover these records too
		}
	}
	return err
}

// syncer fsyncs the buffered sinks after writes to them, one fsync at a time, and answers
// the durable Appends whose records that fsync covered: at once when one waits, otherwise
// within SyncInterval of the last fsync. When the writer stops, it makes a last fsync and
// ends.
func (l *Log) syncer() {
	defer close(l.syncDone)
	last := time.Now()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		final := false
		select {
		case <-l.syncNow:
		case <-l.syncKick:
			if wait := l.opts.SyncInterval - time.Since(last); wait > 0 {
				timer.Reset(wait)
				select {
				case <-l.syncNow:
				case <-timer.C:
				case <-l.syncStop:
					final = true
				}
				timer.Stop()
			}
		case <-l.syncStop:
			final = true
		}
		l.syncMu.Lock()
		waiting, digests := l.syncWait, l.syncDigests
		l.syncWait, l.syncDigests = nil, nil
		l.syncMu.Unlock()
		last = time.Now()
		cover := make([]uint64, len(l.buffered))
		for j := range l.buffered {
			cover[j] = l.bufHead[j].Load()
		}
		err := l.syncAll()
		if err == nil && l.rewind.Load() {
			// An earlier fsync failed and its records are not written again yet: this one
			// may have succeeded without them.
			err = errors.New("audit: an earlier fsync failed; its records are being written again")
		}
		if err == nil {
			for j := range l.buffered {
				if cover[j] > l.bufSynced[j].Load() {
					l.bufSynced[j].Store(cover[j])
				}
			}
		}
		if err != nil {
			l.rewind.Store(true) // before failed: a writer that sees the failure rewinds
			err = fmt.Errorf("%w: %w", ErrUnavailable, err)
			if l.failed.Load() == nil {
				l.opts.Logger.Error("audit: a durable sink failed to fsync; refusing calls until it does", "err", err)
			}
			l.failed.Store(&err)
			if len(digests) > 0 {
				l.opts.Logger.Warn("audit: digests not exported: the fsync of their records failed", "seq", digests[len(digests)-1].Seq)
			}
		} else {
			for _, d := range digests {
				l.exportDigest(d)
			}
		}
		for _, req := range waiting {
			req.done <- err
		}
		if final {
			l.syncFinal = err
			return
		}
	}
}

// exportDigest makes d the last digest and gives it to the digest sinks.
func (l *Log) exportDigest(d *Digest) {
	l.digest.Store(d)
	for _, s := range l.opts.Digests {
		if err := s.WriteDigest(d); err != nil {
			l.opts.Logger.Error("audit: exporting a digest failed", "seq", d.Seq, "err", err)
		}
	}
}

// syncAll fsyncs every buffered sink.
func (l *Log) syncAll() error {
	var errs []error
	for _, s := range l.buffered {
		if err := s.Sync(); err != nil {
			l.stats.writeErrors.Add(1)
			errs = append(errs, err)
		}
	}
	l.stats.syncs.Add(1)
	return errors.Join(errs...)
}

// chain makes the next record of the chain.
func (l *Log) chain(kind string, body []byte) *Record {
	l.seq++
	r := encodeRecord(l.seq, l.hash, kind, body)
	l.hash = r.Hash
	l.lastKind = kind
	return r
}

// flush writes the backlog to every durable sink that lacks part of it. On success the
// backlog is empty and the log healthy; on failure the log refuses Appends until a retry
// succeeds.
func (l *Log) flush() error {
	if l.failed.Load() != nil && l.rewind.Load() {
		// An fsync failed: what the buffered sinks took since their last good one is written
		// again (it is still in the backlog), lest a record be missing from the disk.
		for j, bs := range l.buffered {
			if err := bs.Rewind(); err != nil {
				l.stats.writeErrors.Add(1)
				return fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
			seq, _, _ := bs.Head()
			l.written[l.bufAt[j]] = seq
			l.bufHead[j].Store(seq)
		}
		l.rewind.Store(false)
		l.opts.Logger.Info("audit: the buffered sinks were cut back to their last fsync; writing the records after it again")
	}
	if len(l.backlog) == 0 {
		if l.failed.Load() != nil && len(l.buffered) > 0 && l.syncAll() == nil {
			l.syncedAll()
			l.opts.Logger.Info("audit: every durable sink is writing again")
			l.failed.Store(nil)
		}
		return l.Ready()
	}
	var errs []error
	for i, s := range l.durable {
		start := 0
		for start < len(l.backlog) && l.backlog[start].Seq <= l.written[i] {
			start++
		}
		if start == len(l.backlog) {
			continue
		}
		write := s.Write
		if bs, ok := s.(BufferedSink); ok {
			write = bs.WriteBuffered
		}
		if err := write(l.backlog[start:]); err != nil {
			l.stats.writeErrors.Add(1)
			errs = append(errs, err)
			continue
		}
		l.written[i] = l.backlog[len(l.backlog)-1].Seq
	}
	for j, i := range l.bufAt {
		l.bufHead[j].Store(l.written[i])
	}
	l.stats.commits.Add(1)
	low := l.written[0]
	for _, w := range l.written {
		low = min(low, w)
	}
	if low > l.counted {
		l.stats.records.Add(low - l.counted)
		l.counted = low
	}
	// A record leaves the backlog once every durable sink holds it, on the disk for a
	// buffered sink: until then, a failed fsync may call for it again.
	for j := range l.buffered {
		low = min(low, l.bufSynced[j].Load())
	}
	keep := l.backlog[:0]
	for _, r := range l.backlog {
		if r.Seq > low {
			keep = append(keep, r)
		}
	}
	clear(l.backlog[len(keep):])
	l.backlog = keep
	l.stats.seq.Store(l.seq)
	if len(errs) > 0 {
		err := fmt.Errorf("%w: %w", ErrUnavailable, errors.Join(errs...))
		if l.failed.Load() == nil {
			l.opts.Logger.Error("audit: a durable sink failed; refusing calls until it takes the records again", "err", err)
		}
		l.failed.Store(&err)
		return err
	}
	if l.failed.Load() != nil {
		// Recovering: what was written before the failure may not have been fsynced.
		if err := l.syncAll(); err != nil {
			l.rewind.Store(true)
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		l.syncedAll()
		l.opts.Logger.Info("audit: every durable sink is writing again")
		l.failed.Store(nil)
	}
	return nil
}

// syncedAll notes that a Sync of every buffered sink, made by the writer, covered all that
// was written to them.
func (l *Log) syncedAll() {
	for j, i := range l.bufAt {
		l.bufSynced[j].Store(l.written[i])
	}
}

// FormatTimeMilli formats t as RFC 3339 in UTC with milliseconds.
func FormatTimeMilli(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
