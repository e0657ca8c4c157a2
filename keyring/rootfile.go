package keyring

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// A root key file holds one line: this prefix and the key in standard base64.
const rootFilePrefix = "coffer-root-key-v1:"

// LoadOrCreateRootKey reads the root key file at path, or creates it (mode 0600, parent
// directories 0700) with a fresh key when it does not exist. created reports which happened.
// An existing file readable or writable by group or others is refused, as ssh refuses keys.
func LoadOrCreateRootKey(path string) (key *RootKey, created bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = NewRootKey()
		if err != nil {
			return nil, false, err
		}
		if err := writeRootKey(path, key); err != nil {
			return nil, false, err
		}
		return key, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("keyring: read root key: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, false, fmt.Errorf("keyring: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, false, fmt.Errorf("keyring: root key file %s has mode %v; it must not be accessible to group or others (chmod 600)", path, st.Mode().Perm())
	}
	line := strings.TrimSpace(string(b))
	if !strings.HasPrefix(line, rootFilePrefix) {
		return nil, false, fmt.Errorf("keyring: %s is not a coffer root key file", path)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(line, rootFilePrefix))
	if err != nil || len(raw) != KeySize {
		return nil, false, fmt.Errorf("keyring: %s holds a malformed root key", path)
	}
	defer Wipe(raw)
	key, err = RootKeyFromBytes(raw)
	return key, false, err
}

func writeRootKey(path string, key *RootKey) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("keyring: create root key file: %w", err)
	}
	line := rootFilePrefix + base64.StdEncoding.EncodeToString(key.b[:]) + "\n"
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return fmt.Errorf("keyring: write root key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("keyring: sync root key file: %w", err)
	}
	return f.Close()
}
