package audit

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Files. A file sink keeps the chain in JSON-lines files in one directory, named
// audit-<first seq, 20 digits>-<UTC creation time>.jsonl so that names sort in chain order.
// A file is closed and a new one started when it reaches MaxBytes or MaxAge; files whose
// every record is older than Retention are removed, oldest first, after anchor.json is
// written: a digest, signed at that moment, of the record just before the oldest record
// kept, so that a verifier knows where the chain now legitimately starts.

// AnchorFile is the name of the retention anchor in a file sink's directory.
const AnchorFile = "anchor.json"

// FileOptions configures a FileSink.
type FileOptions struct {
	Dir       string
	MaxBytes  int64         // start a new file past this size; 64 MiB when 0
	MaxAge    time.Duration // start a new file when the current one is this old; 24 h when 0
	Retention time.Duration // remove files older than this; 0 keeps every file
	Now       func() time.Time
	// Anchor signs the digest of a record (see SignDigest); required when Retention is set.
	Anchor func(seq uint64, hash string) *Digest
}

// FileSink is a durable sink over rotating JSON-lines files. Its writes come from one
// goroutine at a time; Sync may run beside them (see BufferedSink).
type FileSink struct {
	opts FileOptions
	// mu guards f and retired: a Sync takes the files to fsync under it and fsyncs them
	// outside it, so that the next write does not wait for the disk.
	mu      sync.Mutex
	retired []*os.File // files no longer written to whose records may not be fsynced yet
	f       *os.File
	info    os.FileInfo // f's, to tell whether its name still leads to it
	buf     []byte      // the lines of a write, kept for the next one
	name    string
	created time.Time
	size    int64 // bytes of whole records in f
	seq     uint64
	hash    string
	// name, created, size, seq and hash are the writer's, and also written under mu so that
	// a Sync can note where the chain stood when it began. synced is that place for the last
	// Sync that succeeded (or the sink's open): what a power loss cannot take (Rewind).
	synced filePos
	// damaged is set when an fsync failed, and cleared by Rewind: until then no Sync
	// succeeds, since one could succeed without the bytes the failed one lost.
	damaged bool
	// syncFile fsyncs a file: (*os.File).Sync, or a test's fault.
	syncFile func(*os.File) error
}

// filePos is a place in the chain's files: the end of record seq, size bytes into name.
type filePos struct {
	name    string
	created time.Time
	size    int64
	seq     uint64
	hash    string
}

func (s *FileSink) pos() filePos {
	return filePos{name: s.name, created: s.created, size: s.size, seq: s.seq, hash: s.hash}
}

type fileInfo struct {
	name     string
	firstSeq uint64
	created  time.Time
}

// listFiles returns the chain's files in dir, in chain order.
func listFiles(dir string) ([]fileInfo, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []fileInfo
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, "audit-") || !strings.HasSuffix(n, ".jsonl") || e.IsDir() {
			continue
		}
		parts := strings.Split(strings.TrimSuffix(strings.TrimPrefix(n, "audit-"), ".jsonl"), "-")
		if len(parts) != 2 {
			continue
		}
		seq, err := strconv.ParseUint(parts[0], 10, 64)
		if err != nil {
			continue
		}
		created, err := time.Parse("20060102T150405Z", parts[1])
		if err != nil {
			continue
		}
		out = append(out, fileInfo{name: n, firstSeq: seq, created: created})
	}
	slices.SortFunc(out, func(a, b fileInfo) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// OpenFileSink opens the directory (creating it, mode 0700), finds the end of the chain and
// cuts off a record torn by a crash in the middle of a write (one never acknowledged).
func OpenFileSink(opts FileOptions) (*FileSink, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 64 << 20
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Retention > 0 && opts.Anchor == nil {
		return nil, errors.New("audit: retention needs an anchor signer")
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, err
	}
	s := &FileSink{opts: opts, hash: GenesisHash, syncFile: (*os.File).Sync}
	if a, err := readAnchor(opts.Dir); err != nil {
		return nil, err
	} else if a != nil {
		s.seq, s.hash = a.Seq, a.Hash
	}
	files, err := listFiles(opts.Dir)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		s.synced = s.pos()
		return s, nil
	}
	last := files[len(files)-1]
	f, err := os.OpenFile(filepath.Join(opts.Dir, last.name), os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	good, seq, hash, err := scanTail(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: reading %s: %w", last.name, err)
	}
	if st, err := f.Stat(); err == nil && st.Size() > good {
		// A torn last line: it was never acknowledged.
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	s.f, s.name, s.created, s.size = f, last.name, last.created, good
	if seq > 0 {
		s.seq, s.hash = seq, hash
	} else if len(files) > 1 {
		// An empty last file (a crash right after creating it): the chain ends in the one
		// before it.
		prev, err := os.Open(filepath.Join(opts.Dir, files[len(files)-2].name))
		if err != nil {
			return nil, err
		}
		_, seq, hash, err := scanTail(prev)
		prev.Close()
		if err != nil {
			return nil, err
		}
		if seq > 0 {
			s.seq, s.hash = seq, hash
		}
	}
	s.synced = s.pos() // what the files held at open is taken as on the disk
	return s, nil
}

// scanTail returns the offset just past the last whole, valid record of f, and that record's
// seq and hash. It reads only the file's last tailWindow bytes (a start does not read a whole
// 64 MiB file), and the whole file when no valid record ends there.
func scanTail(f *os.File) (good int64, seq uint64, hash string, err error) {
	st, err := f.Stat()
	if err != nil {
		return 0, 0, "", err
	}
	if from := st.Size() - tailWindow; from > 0 {
		good, seq, hash, err = scanFrom(f, from)
		if err != nil || seq > 0 {
			return good, seq, hash, err
		}
	}
	return scanFrom(f, 0)
}

// tailWindow is how much of a file's end scanTail reads first: many records, since one is
// at most a few KiB.
const tailWindow = 1 << 20

// scanFrom reads f from the line that starts at or after off (off itself when 0) to its end,
// as scanTail describes.
func scanFrom(f *os.File, off int64) (good int64, seq uint64, hash string, err error) {
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return 0, 0, "", err
	}
	r := bufio.NewReaderSize(f, 1<<20)
	if off > 0 {
		// Skip the rest of the line the window starts in.
		skipped, err := r.ReadBytes('\n')
		if err != nil {
			return 0, 0, "", nil // no whole line in the window: the caller reads it all
		}
		off += int64(len(skipped))
	}
	good = off
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			off += int64(len(line))
			if rec, perr := ParseRecord(line); perr == nil {
				good, seq, hash = off, rec.Seq, rec.Hash
			} else {
				// Only the final line may be torn; a bad line with records after it is
				// tampering, which verify reports; the sink keeps appending after it.
				good = off
			}
		}
		if err == io.EOF {
			return good, seq, hash, nil
		}
		if err != nil {
			return 0, 0, "", err
		}
	}
}

// Durable implements Sink.
func (s *FileSink) Durable() bool { return true }

// Head implements ChainSink.
func (s *FileSink) Head() (uint64, string, error) { return s.seq, s.hash, nil }

// Write implements Sink: it appends the records and fsyncs; on failure it cuts the file back
// to where it was.
func (s *FileSink) Write(recs []*Record) error {
	seq, hash := s.seq, s.hash
	if err := s.WriteBuffered(recs); err != nil {
		return err
	}
	if err := s.Sync(); err != nil {
		// Holding none of them: cut the records back off, or start a new file.
		n := 0
		for _, r := range recs {
			n += len(r.Raw) + 1
		}
		s.mu.Lock()
		cut := s.size >= int64(n) && s.f != nil && s.f.Truncate(s.size-int64(n)) == nil
		if cut {
			s.size -= int64(n)
			s.f.Seek(s.size, io.SeekStart)
		}
		s.seq, s.hash = seq, hash
		s.mu.Unlock()
		if !cut {
			s.retire()
		}
		return err
	}
	return nil
}

// WriteBuffered implements BufferedSink: it appends the records to the current file without
// waiting for stable storage; on failure it cuts the file back to where it was.
func (s *FileSink) WriteBuffered(recs []*Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := s.rotate(recs[0].Seq); err != nil {
		return err
	}
	n := 0
	for _, r := range recs {
		n += len(r.Raw) + 1
	}
	buf := s.buf[:0]
	for _, r := range recs {
		buf = append(buf, r.Raw...)
		buf = append(buf, '\n')
	}
	if cap(buf) <= 1<<20 {
		s.buf = buf // reused by the next write (the writer's only)
	}
	if _, err := s.f.Write(buf); err != nil {
		if terr := s.f.Truncate(s.size); terr == nil {
			s.f.Seek(s.size, io.SeekStart)
		} else {
			// The next write starts with a new file, after the last whole record.
			s.retire()
		}
		return fmt.Errorf("audit: writing %s: %w", s.name, err)
	}
	last := recs[len(recs)-1]
	s.mu.Lock()
	s.size += int64(n)
	s.seq, s.hash = last.Seq, last.Hash
	s.mu.Unlock()
	return nil
}

// Sync implements BufferedSink: it fsyncs every record written so far, in the current file
// and in the files rotated away from since the last Sync. A file whose fsync failed stays
// to be fsynced again.
func (s *FileSink) Sync() error {
	s.mu.Lock()
	if s.damaged {
		s.mu.Unlock()
		return errDamaged
	}
	files := append(s.retired, s.f)
	s.retired = nil
	at := s.pos()
	s.mu.Unlock()
	var errs []error
	var again []*os.File
	for i, f := range files {
		if f == nil {
			continue
		}
		if err := s.syncFile(f); err != nil {
			errs = append(errs, err)
			if i < len(files)-1 {
				again = append(again, f)
			}
			continue
		}
		if i < len(files)-1 {
			f.Close()
		}
	}
	if len(again) > 0 {
		s.mu.Lock()
		s.retired = append(again, s.retired...)
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		s.damaged = true
		return fmt.Errorf("audit: fsync: %w", err)
	}
	if s.damaged { // a Sync beside this one failed
		return errDamaged
	}
	if at.seq >= s.synced.seq {
		s.synced = at
	}
	return nil
}

// errDamaged is Sync's error after an fsync failed, until Rewind.
var errDamaged = errors.New("audit: an fsync failed: the records since the last good one are to be written again")

// Rewind implements BufferedSink: it cuts the files back to where the last Sync that
// succeeded left them, and the chain's head with them. After an fsync fails, what was written
// since may be gone from the disk even once a later fsync succeeds (the kernel may drop the
// pages it could not write), so the log writes those records again after a Rewind.
func (s *FileSink) Rewind() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeFiles()
	s.info = nil
	at := s.synced
	files, err := listFiles(s.opts.Dir)
	if err != nil {
		return err
	}
	for _, fi := range files {
		if fi.name > at.name { // begun after that Sync: it holds nothing it covered
			if err := os.Remove(filepath.Join(s.opts.Dir, fi.name)); err != nil {
				return fmt.Errorf("audit: rewinding: %w", err)
			}
		}
	}
	if at.name != "" {
		f, err := os.OpenFile(filepath.Join(s.opts.Dir, at.name), os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("audit: rewinding: %w", err)
		}
		if err := f.Truncate(at.size); err != nil {
			f.Close()
			return fmt.Errorf("audit: rewinding: %w", err)
		}
		if _, err := f.Seek(at.size, io.SeekStart); err != nil {
			f.Close()
			return fmt.Errorf("audit: rewinding: %w", err)
		}
		s.f = f
		s.info, _ = f.Stat()
	}
	s.name, s.created, s.size, s.seq, s.hash = at.name, at.created, at.size, at.seq, at.hash
	if err := syncDir(s.opts.Dir); err != nil {
		return err
	}
	s.damaged = false
	return nil
}

// retire stops writing to the current file; the next Sync fsyncs and closes it.
func (s *FileSink) retire() {
	s.info = nil
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		s.retired = append(s.retired, s.f)
		s.f = nil
	}
}

// rotate starts a new file when there is none or the current one is full or old, and
// applies retention when it does.
func (s *FileSink) rotate(first uint64) error {
	now := s.opts.Now().UTC()
	if s.f != nil {
		// A file removed behind the sink's back (with its directory, say) still takes writes
		// and fsyncs: records written to it would be acknowledged and lost. Start a new file
		// instead, which fails while the directory is gone.
		if s.info == nil {
			s.info, _ = s.f.Stat()
		}
		named, err := os.Stat(filepath.Join(s.opts.Dir, s.name))
		if s.info == nil || err != nil || !os.SameFile(s.info, named) {
			s.retire()
		}
	}
	if s.f != nil && s.size < s.opts.MaxBytes && now.Sub(s.created) < s.opts.MaxAge {
		return nil
	}
	if s.f != nil && s.size == 0 {
		return nil // an empty file: keep writing to it
	}
	name := fmt.Sprintf("audit-%020d-%s.jsonl", first, now.Format("20060102T150405Z"))
	f, err := os.OpenFile(filepath.Join(s.opts.Dir, name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("audit: starting a new file: %w", err)
	}
	if err := syncDir(s.opts.Dir); err != nil {
		f.Close()
		os.Remove(filepath.Join(s.opts.Dir, name))
		return err
	}
	s.retire()
	s.mu.Lock()
	s.f = f
	s.name, s.created, s.size = name, now, 0
	s.mu.Unlock()
	s.info, _ = f.Stat()
	if s.opts.Retention > 0 {
		if err := s.expire(now); err != nil {
			return err
		}
	}
	return nil
}

// expire removes the files whose records are all older than the retention, after anchoring
// the chain at the record before the oldest file kept.
func (s *FileSink) expire(now time.Time) error {
	files, err := listFiles(s.opts.Dir)
	if err != nil {
		return err
	}
	cut := 0 // files[:cut] go
	for i := 0; i+1 < len(files); i++ {
		// every record of files[i] was written before files[i+1] was created
		if now.Sub(files[i+1].created) < s.opts.Retention {
			break
		}
		cut = i + 1
	}
	if cut == 0 {
		return nil
	}
	// The anchor: the record just before files[cut]'s first one.
	first, err := firstRecord(filepath.Join(s.opts.Dir, files[cut].name))
	if err != nil {
		return err
	}
	if first == nil {
		return nil // the file kept is still empty: try at the next rotation
	}
	a := s.opts.Anchor(first.Seq-1, first.Prev)
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if err := writeFileSync(filepath.Join(s.opts.Dir, AnchorFile), append(b, '\n')); err != nil {
		return err
	}
	for _, f := range files[:cut] {
		if err := os.Remove(filepath.Join(s.opts.Dir, f.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return syncDir(s.opts.Dir)
}

func firstRecord(path string) (*Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	line, err := bufio.NewReaderSize(f, 64<<10).ReadBytes('\n')
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseRecord(line)
}

// Records implements ChainSink.
func (s *FileSink) Records(after uint64, limit int) ([]*Record, error) {
	var out []*Record
	err := DirSource(s.opts.Dir).ScanFrom(after, func(raw []byte, _ string) error {
		r, err := ParseRecord(raw)
		if err != nil {
			return err
		}
		if r.Seq > after {
			out = append(out, r)
			if len(out) >= limit {
				return errStop
			}
		}
		return nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return out, err
}

// closeFiles closes the files retired and the current one, and returns the current one's
// error; the caller holds mu.
func (s *FileSink) closeFiles() error {
	for _, f := range s.retired {
		f.Close()
	}
	s.retired = nil
	var err error
	if s.f != nil {
		err = s.f.Close()
		s.f = nil
	}
	return err
}

// Close implements Sink: it fsyncs what was written and closes the files.
func (s *FileSink) Close() error {
	err := s.Sync()
	s.mu.Lock()
	defer s.mu.Unlock()
	err = errors.Join(err, s.closeFiles())
	return err
}

var errStop = errors.New("stop")

// Source is where a chain is read from, to verify or query it.
type Source interface {
	// Anchor returns the retention anchor, or nil when the chain starts at record 1.
	Anchor() (*Digest, error)
	// Scan calls fn with every line in chain order and where it is ("file:line"); it stops
	// at fn's first error and returns it.
	Scan(fn func(raw []byte, where string) error) error
	// ScanFrom is Scan starting at or before record after+1 (it may give earlier records).
	ScanFrom(after uint64, fn func(raw []byte, where string) error) error
}

// DirSource reads the chain a file sink wrote in a directory.
type DirSource string

// Anchor implements Source.
func (d DirSource) Anchor() (*Digest, error) { return readAnchor(string(d)) }

// Scan implements Source.
func (d DirSource) Scan(fn func(raw []byte, where string) error) error { return d.ScanFrom(0, fn) }

// ScanFrom implements Source: it starts at the file that holds record after+1.
func (d DirSource) ScanFrom(after uint64, fn func(raw []byte, where string) error) error {
	files, err := listFiles(string(d))
	if err != nil {
		return err
	}
	start := 0
	for i, f := range files {
		if f.firstSeq <= after+1 {
			start = i
		}
	}
	for _, fi := range files[start:] {
		if err := scanFile(filepath.Join(string(d), fi.name), fi.name, fn); err != nil {
			return err
		}
	}
	return nil
}

func scanFile(path, name string, fn func(raw []byte, where string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			if ferr := fn(bytes.TrimRight(line, "\n"), name+":"+strconv.Itoa(n)); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func readAnchor(dir string) (*Digest, error) {
	b, err := os.ReadFile(filepath.Join(dir, AnchorFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var d Digest
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("audit: %s: %v", AnchorFile, err)
	}
	return &d, nil
}

// writeFileSync replaces path with b atomically and durably.
func writeFileSync(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// DigestFile is a DigestSink that appends each digest as a JSON line to a file, fsynced: put
// it on another disk or host than the log, so that the log's host cannot rewrite it.
type DigestFile struct{ f *os.File }

// OpenDigestFile opens (creating, mode 0600) a digest file for appending.
func OpenDigestFile(path string) (*DigestFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &DigestFile{f: f}, nil
}

// WriteDigest implements DigestSink.
func (d *DigestFile) WriteDigest(dg *Digest) error {
	b, err := json.Marshal(dg)
	if err != nil {
		return err
	}
	if _, err := d.f.Write(append(b, '\n')); err != nil {
		return err
	}
	return d.f.Sync()
}

// Close implements DigestSink.
func (d *DigestFile) Close() error { return d.f.Close() }

// ReadDigests reads a digest file.
func ReadDigests(r io.Reader) ([]*Digest, error) {
	var out []*Digest
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var d Digest
		if err := json.Unmarshal(line, &d); err != nil {
			return nil, fmt.Errorf("digest line %d: %v", n, err)
		}
		out = append(out, &d)
	}
	return out, sc.Err()
}

// WriterSink writes records to w (stdout) as they come; it is not durable, so it never
// counts towards acknowledging a call.
type WriterSink struct{ W io.Writer }

// Write implements Sink.
func (s WriterSink) Write(recs []*Record) error {
	var buf []byte
	for _, r := range recs {
		buf = append(buf, r.Raw...)
		buf = append(buf, '\n')
	}
	_, err := s.W.Write(buf)
	return err
}

// Durable implements Sink.
func (WriterSink) Durable() bool { return false }

// Close implements Sink.
func (WriterSink) Close() error { return nil }

// OpenDir opens a Log whose one durable sink is a FileSink in dir, with the default
// rotation and no retention: what tests and tools need.
func OpenDir(dir, server string, key ed25519.PrivateKey) (*Log, error) {
	fs, err := OpenFileSink(FileOptions{Dir: dir})
	if err != nil {
		return nil, err
	}
	l, err := Open(Options{Server: server, Key: key, Sinks: []Sink{fs}})
	if err != nil {
		fs.Close()
		return nil, err
	}
	return l, nil
}
