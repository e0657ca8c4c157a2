package agent

// The snapshot keeps the cache's values across a restart of the agent, so that it can
// serve them while the server is unreachable at start. The file is
//
//	"CAGS" | format version (1 byte) | 12-byte random nonce | AES-256-GCM ciphertext
//
// sealed with a 32-byte key the operator keeps apart from the file, and the additional
// data snapshotLabel | format version, so that a file of another format or purpose does
// not open. The plaintext is a length-prefixed binary list of entries (secret id and
// version as asked, ARN, Name, VersionId, VersionStages, CreatedDate, binary flag, value
// bytes); it is built in one buffer of its own size and zeroed after use. The file is
// written to a temporary file in the same directory (mode 0600), fsynced and renamed.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coffer-project/coffer/cache"
)

const (
	snapshotMagic   = "CAGS"
	snapshotVersion = 1
	snapshotLabel   = "coffer agent snapshot"
	// SnapshotKeySize is the size of a snapshot key: AES-256.
	SnapshotKeySize = 32
	// snapshotEvery is the shortest time between two writes of the snapshot.
	snapshotEvery = 5 * time.Second
)

// errSnapshotOpen is the error of a snapshot that does not decrypt: a wrong key, or a
// file altered or cut short. It never says more (the content is not quoted).
var errSnapshotOpen = errors.New("the snapshot does not decrypt: wrong key, or the file was altered")

// ParseSnapshotKey reads a snapshot key: 32 bytes, or their standard base64 (surrounding
// white space ignored).
func ParseSnapshotKey(b []byte) ([]byte, error) {
	if len(b) == SnapshotKeySize {
		return append([]byte(nil), b...), nil
	}
	s := strings.TrimSpace(string(b))
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(key) != SnapshotKeySize {
		clear(key)
		return nil, fmt.Errorf("agent: a snapshot key is %d bytes, or their base64", SnapshotKeySize)
	}
	return key, nil
}

// ReadSnapshotKeyFile reads a snapshot key from a file that only its owner may read or
// write (mode 0600 or 0400).
func ReadSnapshotKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("agent: snapshot key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("agent: snapshot key %s: mode %04o lets others read it; want 0600", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("agent: snapshot key: %w", err)
	}
	defer clear(b)
	return ParseSnapshotKey(b)
}

func snapshotAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func snapshotAAD() []byte { return append([]byte(snapshotLabel), snapshotVersion) }

// sealSnapshot encrypts entries into the file's bytes.
func sealSnapshot(key []byte, entries []cache.Entry) ([]byte, error) {
	aead, err := snapshotAEAD(key)
	if err != nil {
		return nil, err
	}
	plain := encodeEntries(entries)
	defer clear(plain)
	out := make([]byte, 0, len(snapshotMagic)+1+aead.NonceSize()+len(plain)+aead.Overhead())
	out = append(out, snapshotMagic...)
	out = append(out, snapshotVersion)
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plain, snapshotAAD()), nil
}

// openSnapshot decrypts a file's bytes into entries, whose values are the caller's to wipe.
func openSnapshot(key, file []byte) ([]cache.Entry, error) {
	aead, err := snapshotAEAD(key)
	if err != nil {
		return nil, err
	}
	h := len(snapshotMagic) + 1
	if len(file) < h+aead.NonceSize()+aead.Overhead() || string(file[:len(snapshotMagic)]) != snapshotMagic {
		return nil, errors.New("not a snapshot of coffer's agent")
	}
	if file[h-1] != snapshotVersion {
		return nil, fmt.Errorf("snapshot format %d, want %d", file[h-1], snapshotVersion)
	}
	nonce := file[h : h+aead.NonceSize()]
	plain, err := aead.Open(nil, nonce, file[h+aead.NonceSize():], snapshotAAD())
	if err != nil {
		return nil, errSnapshotOpen
	}
	defer clear(plain)
	return decodeEntries(plain)
}

// encodeEntries writes entries in one buffer of its exact size, so that no partial copy
// of a value is left behind by a growing buffer.
func encodeEntries(entries []cache.Entry) []byte {
	strs := func(e cache.Entry) []string {
		v := e.Value
		return []string{e.SecretID, e.Version.ID, e.Version.Stage, v.ARN, v.Name, v.VersionID}
	}
	size := binary.MaxVarintLen64
	for _, e := range entries {
		for _, s := range strs(e) {
			size += binary.MaxVarintLen64 + len(s)
		}
		size += binary.MaxVarintLen64
		for _, s := range e.Value.VersionStages {
			size += binary.MaxVarintLen64 + len(s)
		}
		size += binary.MaxVarintLen64 + 1 + binary.MaxVarintLen64 + len(e.Value.Bytes())
	}
	b := make([]byte, 0, size)
	b = binary.AppendUvarint(b, uint64(len(entries)))
	for _, e := range entries {
		for _, s := range strs(e) {
			b = appendBytes(b, []byte(s))
		}
		b = binary.AppendUvarint(b, uint64(len(e.Value.VersionStages)))
		for _, s := range e.Value.VersionStages {
			b = appendBytes(b, []byte(s))
		}
		var created int64
		if !e.Value.CreatedDate.IsZero() {
			created = e.Value.CreatedDate.UnixNano()
		}
		b = binary.AppendVarint(b, created)
		flag := byte(0)
		if e.Value.IsBinary() {
			flag = 1
		}
		b = append(b, flag)
		b = appendBytes(b, e.Value.Bytes())
	}
	return b
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errSnapshotFormat = errors.New("the snapshot's content is malformed")

// decodeEntries reads what encodeEntries wrote; the values are copies of their own.
func decodeEntries(b []byte) ([]cache.Entry, error) {
	r := &reader{b: b}
	n := r.uvarint()
	if n > MaxCacheSize {
		return nil, errSnapshotFormat
	}
	var out []cache.Entry
	for range n {
		var e cache.Entry
		e.SecretID, e.Version.ID, e.Version.Stage = string(r.bytes()), string(r.bytes()), string(r.bytes())
		var meta cache.Value
		meta.ARN, meta.Name, meta.VersionID = string(r.bytes()), string(r.bytes()), string(r.bytes())
		ns := r.uvarint()
		if ns > 100 {
			r.err = true
		}
		for i := uint64(0); i < ns && !r.err; i++ {
			meta.VersionStages = append(meta.VersionStages, string(r.bytes()))
		}
		if created := r.varint(); created != 0 {
			meta.CreatedDate = time.Unix(0, created).UTC()
		}
		flag := r.byte()
		val := r.bytes()
		if r.err {
			break
		}
		e.Value = cache.NewValue(meta, val, flag == 1)
		out = append(out, e)
	}
	if r.err || len(r.b) != 0 {
		for _, e := range out {
			e.Value.Wipe()
		}
		return nil, errSnapshotFormat
	}
	return out, nil
}

// reader reads encodeEntries' fields; a short or malformed input sets err.
type reader struct {
	b   []byte
	err bool
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.err = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err || n > uint64(len(r.b)) {
		r.err = true
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

// writeFileAtomic writes data to path through a temporary file in the same directory
// (mode 0600), fsynced, then renamed over path.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// loadSnapshot seeds the cache from the snapshot file, if there is one that decrypts. A
// file that does not is logged (never its content) and left alone.
func (a *Agent) loadSnapshot() {
	file, err := os.ReadFile(a.snapshotPath)
	if errors.Is(err, os.ErrNotExist) {
		a.log.Info("agent: no snapshot yet; starting with an empty cache", "path", a.snapshotPath)
		return
	}
	if err != nil {
		a.log.Error("agent: reading the snapshot failed; starting without it", "path", a.snapshotPath, "err", err)
		return
	}
	entries, err := openSnapshot(a.snapshotKey, file)
	if err != nil {
		a.log.Error("agent: the snapshot cannot be used; starting without it", "path", a.snapshotPath, "err", err)
		return
	}
	a.cache.Seed(entries)
	for _, e := range entries {
		e.Value.Wipe()
	}
	a.log.Info("agent: cache seeded from the snapshot; values are checked with the service on first use", "path", a.snapshotPath, "values", len(entries))
}

// WriteSnapshot writes the values the cache holds to the snapshot file now. Without a
// snapshot configured it does nothing.
func (a *Agent) WriteSnapshot() error {
	if a.snapshotPath == "" {
		return nil
	}
	a.snapshotMu.Lock()
	defer a.snapshotMu.Unlock()
	entries := a.cache.Entries()
	defer func() {
		for _, e := range entries {
			e.Value.Wipe()
		}
	}()
	data, err := sealSnapshot(a.snapshotKey, entries)
	if err != nil {
		return fmt.Errorf("agent: snapshot: %w", err)
	}
	if err := writeFileAtomic(a.snapshotPath, data); err != nil {
		return fmt.Errorf("agent: snapshot: %w", err)
	}
	return nil
}

// snapshots writes the snapshot after the cache comes to hold a new value, at most every
// snapshotEvery, until ctx ends; then once more if a value came meanwhile.
func (a *Agent) snapshots(done <-chan struct{}) {
	if a.snapshotPath == "" {
		return
	}
	var last time.Time
	write := func() {
		if err := a.WriteSnapshot(); err != nil {
			a.log.Error("agent: writing the snapshot failed", "err", err)
		}
		last = time.Now()
	}
	for {
		select {
		case <-done:
			select {
			case <-a.snapshotDirty:
				write()
			default:
			}
			return
		case <-a.snapshotDirty:
		}
		if wait := time.Until(last.Add(snapshotEvery)); wait > 0 {
			select {
			case <-done:
				write()
				return
			case <-time.After(wait):
			}
		}
		write()
	}
}

// markSnapshotDirty is the cache's OnStore, and the watcher's call when it drops a value: the
// snapshot is to be written again.
func (a *Agent) markSnapshotDirty() {
	select {
	case a.snapshotDirty <- struct{}{}:
	default:
	}
}
