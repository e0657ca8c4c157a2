package keyring

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// A root key file holds one line: this prefix and the key in standard base64.
const rootFilePrefix = "coffer-root-key-v1:"

// maxRootFileSize bounds what ReadRootKey reads; a real file is 64 bytes.
const maxRootFileSize = 4 << 10

// LoadOrCreateRootKey reads the root key file at path, or creates it (mode 0600, parent
// directories 0700) with a fresh key when it does not exist. created reports which happened.
// An existing file readable or writable by group or others is refused, as ssh refuses keys.
func LoadOrCreateRootKey(path string) (key *RootKey, created bool, err error) {
	key, err = ReadRootKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		if key, err = NewRootKey(); err != nil {
			return nil, false, err
		}
		if err := WriteRootKey(path, key); err != nil {
			return nil, false, err
		}
		return key, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	return key, false, nil
}

// ReadRootKey reads the root key file at path. A missing file is an error for which
// errors.Is(err, fs.ErrNotExist) holds; a file readable or writable by group or others is
// refused.
func ReadRootKey(path string) (*RootKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keyring: read root key: %w", err)
	}
	defer f.Close()
	st, err := f.Stat() // the file opened, not whatever path names by now
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("keyring: root key file %s is not a regular file", path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("keyring: root key file %s has mode %v; it must not be accessible to group or others (chmod 600)", path, st.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxRootFileSize))
	if err != nil {
		return nil, fmt.Errorf("keyring: read root key: %w", err)
	}
	defer Wipe(b)
	line := strings.TrimSpace(string(b))
	if !strings.HasPrefix(line, rootFilePrefix) {
		return nil, fmt.Errorf("keyring: %s is not a coffer root key file", path)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(line, rootFilePrefix))
	defer Wipe(raw)
	if err != nil || len(raw) != KeySize {
		return nil, fmt.Errorf("keyring: %s holds a malformed root key", path)
	}
	return RootKeyFromBytes(raw)
}

// WriteRootKey creates the root key file path (mode 0600, parent directories 0700) holding
// key. It refuses to replace an existing file. The file and its directory are synced, so the
// key is on disk when WriteRootKey returns.
func WriteRootKey(path string, key *RootKey) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("keyring: create root key file: %w", err)
	}
	enc := make([]byte, len(rootFilePrefix)+base64.StdEncoding.EncodedLen(KeySize)+1)
	defer Wipe(enc)
	n := copy(enc, rootFilePrefix)
	base64.StdEncoding.Encode(enc[n:], key.b[:])
	enc[len(enc)-1] = '\n'
	if _, err := f.Write(enc); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("keyring: write root key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("keyring: sync root key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("keyring: write root key file: %w", err)
	}
	return SyncDir(dir)
}

// SyncDir makes a file created or renamed in dir durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("keyring: sync directory: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("keyring: sync directory: %w", err)
	}
	return nil
}
