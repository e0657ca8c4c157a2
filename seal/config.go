package seal

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/coffer-project/coffer/keyring"
)

// ConfigVersion is the version of the seal configuration format this package writes and reads.
const ConfigVersion = 1

// ConfigFile is the conventional name of the seal configuration in the data directory.
const ConfigFile = "seal.json"

// maxConfigSize bounds what ReadConfig reads; a real file is well under 1 KiB.
const maxConfigSize = 64 << 10

// Type is how the root key is sealed.
type Type string

// The seal types.
const (
	TypeShamir     Type = "shamir"     // split into shares; a threshold of them unseal
	TypePassphrase Type = "passphrase" // wrapped under an Argon2id-derived key
	TypeKeyFile    Type = "keyfile"    // plaintext root key file (keyring.LoadOrCreateRootKey); development only
)

// Config is the seal configuration, stored as JSON beside the data (ConfigFile). It holds
// nothing secret: shares are never stored, and the passphrase seal holds only the wrapped key.
// Exactly the section of its Type is set.
type Config struct {
	Version    int               `json:"version"`
	Type       Type              `json:"type"`
	Shamir     *ShamirConfig     `json:"shamir,omitempty"`
	Passphrase *PassphraseConfig `json:"passphrase,omitempty"`
}

// ShamirConfig is the Shamir seal: how many shares were made, how many unseal, and a verifier
// that tells the right root key from the wrong one a wrong combination of shares yields.
type ShamirConfig struct {
	Shares    int `json:"shares"`
	Threshold int `json:"threshold"`
	// Verifier is HMAC-SHA256, under a key HKDF-SHA256 derives from the root key with
	// VerifierSalt and a fixed label, of that label. Checking it needs the whole root key;
	// it reveals nothing more about the key than a hash would.
	VerifierSalt []byte `json:"verifier_salt"` // 32 random bytes
	Verifier     []byte `json:"verifier"`
}

const (
	verifierLabel   = "coffer seal v1 shamir verifier"
	verifierSaltLen = 32
)

// KeyFileConfig returns the configuration of a deployment whose root key stays in a plaintext
// key file: for development, or before a migration to another seal.
func KeyFileConfig() *Config {
	return &Config{Version: ConfigVersion, Type: TypeKeyFile}
}

// Validate reports whether c is well formed: known version and type, exactly the section of
// its type, and parameters in range. It says nothing about whether a key will unseal.
func (c *Config) Validate() error {
	if c == nil {
		return errors.New("seal: no configuration")
	}
	if c.Version != ConfigVersion {
		return fmt.Errorf("seal: unsupported configuration version %d", c.Version)
	}
	switch c.Type {
	case TypeShamir:
		if c.Shamir == nil || c.Passphrase != nil {
			return errors.New("seal: a shamir configuration needs its shamir section and no other")
		}
		return c.Shamir.validate()
	case TypePassphrase:
		if c.Passphrase == nil || c.Shamir != nil {
			return errors.New("seal: a passphrase configuration needs its passphrase section and no other")
		}
		return c.Passphrase.validate()
	case TypeKeyFile:
		if c.Shamir != nil || c.Passphrase != nil {
			return errors.New("seal: a keyfile configuration has no shamir or passphrase section")
		}
		return nil
	}
	return fmt.Errorf("seal: unknown seal type %q", c.Type)
}

func (s *ShamirConfig) validate() error {
	if err := checkSplitParams(s.Shares, s.Threshold); err != nil {
		return err
	}
	if len(s.VerifierSalt) != verifierSaltLen || len(s.Verifier) != sha256.Size {
		return errors.New("seal: shamir verifier malformed")
	}
	return nil
}

// verifier computes the verifier of root key bytes rk.
func verifier(rk, salt []byte) ([]byte, error) {
	key, err := hkdf.Key(sha256.New, rk, salt, verifierLabel, sha256.Size)
	if err != nil {
		return nil, fmt.Errorf("seal: derive verifier key: %w", err)
	}
	defer keyring.Wipe(key)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(verifierLabel))
	return m.Sum(nil), nil
}

// verify reports, in constant time, whether rk is the root key the verifier was made from.
func (s *ShamirConfig) verify(rk []byte) (bool, error) {
	v, err := verifier(rk, s.VerifierSalt)
	if err != nil {
		return false, err
	}
	return hmac.Equal(v, s.Verifier), nil
}

// InitShamir splits root into shares, threshold of which unseal it, and returns the Shamir seal
// configuration with its verifier and the shares in printable form (EncodeShare). The shares
// exist nowhere else: the caller hands each to its holder once and keeps none. Go strings
// cannot be wiped, so the caller drops them as soon as they are shown.
func InitShamir(root *keyring.RootKey, shares, threshold int) (cfg *Config, shareStrings []string, err error) {
	return initShamir(rand.Reader, root, shares, threshold)
}

func initShamir(random io.Reader, root *keyring.RootKey, shares, threshold int) (*Config, []string, error) {
	if err := checkSplitParams(shares, threshold); err != nil {
		return nil, nil, err
	}
	rk, err := rootKeyBytes(root)
	if err != nil {
		return nil, nil, err
	}
	defer keyring.Wipe(rk)
	s := &ShamirConfig{Shares: shares, Threshold: threshold, VerifierSalt: make([]byte, verifierSaltLen)}
	if _, err := io.ReadFull(random, s.VerifierSalt); err != nil {
		return nil, nil, fmt.Errorf("seal: verifier salt: %w", err)
	}
	if s.Verifier, err = verifier(rk, s.VerifierSalt); err != nil {
		return nil, nil, err
	}
	raw, err := split(random, rk, shares, threshold)
	if err != nil {
		return nil, nil, err
	}
	out := make([]string, len(raw))
	for i, sh := range raw {
		out[i] = EncodeShare(sh)
		keyring.Wipe(sh)
	}
	return &Config{Version: ConfigVersion, Type: TypeShamir, Shamir: s}, out, nil
}

// WriteConfig validates cfg and writes it to path, mode 0600, atomically: a temporary file in
// the same directory is written, synced and renamed over path, then the directory is synced,
// so a crash leaves the old file or the new one, never a torn one. Missing parent directories
// are created with mode 0700.
func WriteConfig(path string, cfg *Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("seal: encode configuration: %w", err)
	}
	b = append(b, '\n')
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*") // created 0600
	if err != nil {
		return fmt.Errorf("seal: create temporary configuration: %w", err)
	}
	tmp := f.Name()
	if err := writeSynced(f, b); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("seal: replace configuration: %w", err)
	}
	return syncDir(dir)
}

// writeSynced writes b to f, makes sure of mode 0600, syncs and closes f.
func writeSynced(f *os.File, b []byte) error {
	_, err := f.Write(b)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("seal: write configuration: %w", err)
	}
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("seal: sync directory: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("seal: sync directory: %w", err)
	}
	return nil
}

// ReadConfig reads and validates the seal configuration at path. Like
// keyring.LoadOrCreateRootKey, it refuses a file accessible to group or others, since the
// file decides how the root key is unsealed. Unknown fields are refused too.
func ReadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("seal: read configuration: %w", err)
	}
	defer f.Close()
	st, err := f.Stat() // the file opened, not whatever path names by now
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("seal: %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("seal: configuration %s has mode %v; it must not be accessible to group or others (chmod 600)", path, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("seal: read configuration: %w", err)
	}
	if len(b) > maxConfigSize {
		return nil, fmt.Errorf("seal: configuration %s is larger than %d bytes", path, maxConfigSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("seal: configuration %s: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("seal: configuration %s: trailing data", path)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("seal: configuration %s: %w", path, err)
	}
	return &cfg, nil
}
