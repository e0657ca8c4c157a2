package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/argon2"

	"github.com/coffer-project/coffer/keyring"
)

// ErrWrongPassphrase is returned by UnwrapPassphrase when the wrapped root key does not open:
// the passphrase is wrong, or the seal configuration was altered. AES-GCM cannot tell the two
// apart, and a wrong key is never returned.
var ErrWrongPassphrase = errors.New("seal: wrong passphrase (or the seal configuration was altered)")

const (
	// KDFArgon2id names the one passphrase key derivation in use.
	KDFArgon2id = "argon2id"

	saltSize    = 16
	gcmNonce    = 12
	gcmTag      = 16
	wrappedSize = gcmNonce + keyring.KeySize + gcmTag

	// Bounds on parameters read from a file, so that an altered file cannot make unsealing
	// allocate without limit or spin for hours.
	maxArgon2Time      = 64
	maxArgon2MemoryKiB = 4 << 20 // 4 GiB
)

// Argon2Params are the cost parameters of Argon2id, recorded beside the wrapped key.
type Argon2Params struct {
	Time      uint32 `json:"time"`       // passes over memory
	MemoryKiB uint32 `json:"memory_kib"` // memory in KiB
	Threads   uint8  `json:"threads"`    // lanes
}

// DefaultArgon2Params returns RFC 9106's second recommended option: t=3, m=64 MiB, p=4.
// Tests may pass much smaller values to InitPassphrase; production should not.
func DefaultArgon2Params() Argon2Params {
	return Argon2Params{Time: 3, MemoryKiB: 64 << 10, Threads: 4}
}

func (p Argon2Params) validate() error {
	switch {
	case p.Time < 1 || p.Time > maxArgon2Time:
		return fmt.Errorf("seal: argon2id time %d outside 1…%d", p.Time, maxArgon2Time)
	case p.Threads < 1:
		return errors.New("seal: argon2id threads must be at least 1")
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxArgon2MemoryKiB:
		// Argon2 needs 8 KiB per lane at least.
		return fmt.Errorf("seal: argon2id memory %d KiB outside %d…%d", p.MemoryKiB, 8*uint32(p.Threads), maxArgon2MemoryKiB)
	}
	return nil
}

// PassphraseConfig is the passphrase seal: the root key wrapped with AES-256-GCM under a key
// that Argon2id derives from the passphrase and Salt. Nothing in it is secret.
type PassphraseConfig struct {
	KDF string `json:"kdf"` // KDFArgon2id
	Argon2Params
	Salt       []byte `json:"salt"`        // 16 random bytes
	WrappedKey []byte `json:"wrapped_key"` // 96-bit nonce || AES-256-GCM(root key)
}

func (p *PassphraseConfig) validate() error {
	if p.KDF != KDFArgon2id {
		return fmt.Errorf("seal: unknown passphrase kdf %q", p.KDF)
	}
	if err := p.Argon2Params.validate(); err != nil {
		return err
	}
	if len(p.Salt) != saltSize {
		return fmt.Errorf("seal: passphrase salt must be %d bytes, got %d", saltSize, len(p.Salt))
	}
	if len(p.WrappedKey) != wrappedSize {
		return fmt.Errorf("seal: wrapped key must be %d bytes, got %d", wrappedSize, len(p.WrappedKey))
	}
	return nil
}

// aad binds every parameter of the derivation to the wrapped key, so that an altered file
// fails to open rather than deriving some other key.
func (p *PassphraseConfig) aad(version int) []byte {
	return fmt.Appendf(nil, "coffer seal v%d passphrase kdf=%s t=%d m=%d p=%d salt=%x",
		version, p.KDF, p.Time, p.MemoryKiB, p.Threads, p.Salt)
}

// gcm derives the wrapping key from passphrase and returns its AEAD.
func (p *PassphraseConfig) gcm(passphrase []byte) (cipher.AEAD, error) {
	key := argon2.IDKey(passphrase, p.Salt, p.Time, p.MemoryKiB, p.Threads, keyring.KeySize)
	defer keyring.Wipe(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return cipher.NewGCM(block)
}

// InitPassphrase returns a passphrase seal configuration holding root wrapped under
// passphrase with Argon2id cost params (DefaultArgon2Params in production) and a fresh salt.
// The passphrase stays the caller's to wipe.
func InitPassphrase(root *keyring.RootKey, passphrase []byte, params Argon2Params) (*Config, error) {
	return initPassphrase(rand.Reader, root, passphrase, params)
}

func initPassphrase(random io.Reader, root *keyring.RootKey, passphrase []byte, params Argon2Params) (*Config, error) {
	if len(passphrase) == 0 {
		return nil, errors.New("seal: empty passphrase")
	}
	if err := params.validate(); err != nil {
		return nil, err
	}
	rk, err := rootKeyBytes(root)
	if err != nil {
		return nil, err
	}
	defer keyring.Wipe(rk)
	p := &PassphraseConfig{KDF: KDFArgon2id, Argon2Params: params, Salt: make([]byte, saltSize)}
	nonce := make([]byte, gcmNonce, wrappedSize)
	if _, err := io.ReadFull(random, p.Salt); err != nil {
		return nil, fmt.Errorf("seal: salt: %w", err)
	}
	if _, err := io.ReadFull(random, nonce); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	a, err := p.gcm(passphrase)
	if err != nil {
		return nil, err
	}
	p.WrappedKey = a.Seal(nonce, nonce, rk, p.aad(ConfigVersion))
	return &Config{Version: ConfigVersion, Type: TypePassphrase, Passphrase: p}, nil
}

// UnwrapPassphrase returns the root key that cfg (a passphrase seal) wraps, or
// ErrWrongPassphrase. The passphrase stays the caller's to wipe.
func UnwrapPassphrase(cfg *Config, passphrase []byte) (*keyring.RootKey, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Type != TypePassphrase {
		return nil, fmt.Errorf("seal: configuration is a %s seal, not a passphrase seal", cfg.Type)
	}
	if len(passphrase) == 0 {
		return nil, ErrWrongPassphrase
	}
	p := cfg.Passphrase
	a, err := p.gcm(passphrase)
	if err != nil {
		return nil, err
	}
	rk, err := a.Open(nil, p.WrappedKey[:gcmNonce], p.WrappedKey[gcmNonce:], p.aad(cfg.Version))
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	defer keyring.Wipe(rk)
	return keyring.RootKeyFromBytes(rk)
}
