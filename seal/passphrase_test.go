package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/coffer-project/coffer/keyring"
)

// testArgon2 keeps tests fast; production uses DefaultArgon2Params.
var testArgon2 = Argon2Params{Time: 1, MemoryKiB: 64, Threads: 2}

func newRoot(t testing.TB) (*keyring.RootKey, []byte) {
	t.Helper()
	raw := randomBytes(t, keyring.KeySize)
	root, err := keyring.RootKeyFromBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	return root, raw
}

func TestDefaultArgon2Params(t *testing.T) {
	if got, want := DefaultArgon2Params(), (Argon2Params{Time: 3, MemoryKiB: 65536, Threads: 4}); got != want {
		t.Errorf("DefaultArgon2Params() = %+v, want %+v (RFC 9106 second option)", got, want)
	}
}

func TestPassphraseRoundTrip(t *testing.T) {
	root, raw := newRoot(t)
	pass := []byte("correct horse battery staple")
	cfg, err := InitPassphrase(root, pass, testArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Type != TypePassphrase || cfg.Version != ConfigVersion || cfg.Shamir != nil {
		t.Fatalf("config %+v is not a version %d passphrase config", cfg, ConfigVersion)
	}
	p := cfg.Passphrase
	if p.KDF != "argon2id" || p.Argon2Params != testArgon2 || len(p.Salt) != 16 || len(p.WrappedKey) != 60 {
		t.Fatalf("passphrase section %+v does not record the parameters", p)
	}
	if bytes.Contains(p.WrappedKey, raw[:8]) {
		t.Fatal("wrapped key contains the root key")
	}
	got, err := UnwrapPassphrase(cfg, pass)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(root) {
		t.Fatal("unwrapped root key differs")
	}

	// The documented construction, rebuilt here from its description.
	key := argon2.IDKey(pass, p.Salt, p.Time, p.MemoryKiB, p.Threads, 32)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	aad := fmt.Sprintf("coffer seal v1 passphrase kdf=argon2id t=%d m=%d p=%d salt=%x", p.Time, p.MemoryKiB, p.Threads, p.Salt)
	plain, err := gcm.Open(nil, p.WrappedKey[:12], p.WrappedKey[12:], []byte(aad))
	if err != nil || !bytes.Equal(plain, raw) {
		t.Fatalf("wrapped key is not AES-256-GCM under Argon2id with the parameters as AAD (%v)", err)
	}

	again, err := InitPassphrase(root, pass, testArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(again.Passphrase.Salt, p.Salt) || bytes.Equal(again.Passphrase.WrappedKey, p.WrappedKey) {
		t.Error("two wraps share a salt or ciphertext")
	}
}

func TestWrongPassphrase(t *testing.T) {
	root, _ := newRoot(t)
	cfg, err := InitPassphrase(root, []byte("right"), testArgon2)
	if err != nil {
		t.Fatal(err)
	}
	for _, pass := range []string{"wrong", "Right", "right ", ""} {
		got, err := UnwrapPassphrase(cfg, []byte(pass))
		if !errors.Is(err, ErrWrongPassphrase) || got != nil {
			t.Errorf("passphrase %q: got %v, %v; want nil, ErrWrongPassphrase", pass, got, err)
		}
	}
}

func TestPassphraseTampering(t *testing.T) {
	root, _ := newRoot(t)
	pass := []byte("right")
	for _, c := range []struct {
		name   string
		tamper func(*Config)
		wrong  bool // still well formed: must fail as ErrWrongPassphrase
	}{
		{"time", func(c *Config) { c.Passphrase.Time++ }, true},
		{"memory", func(c *Config) { c.Passphrase.MemoryKiB *= 2 }, true},
		{"threads", func(c *Config) { c.Passphrase.Threads = 1 }, true},
		{"salt", func(c *Config) { c.Passphrase.Salt[15] ^= 1 }, true},
		{"nonce", func(c *Config) { c.Passphrase.WrappedKey[0] ^= 1 }, true},
		{"ciphertext", func(c *Config) { c.Passphrase.WrappedKey[20] ^= 0x80 }, true},
		{"tag", func(c *Config) { c.Passphrase.WrappedKey[59] ^= 1 }, true},
		{"version", func(c *Config) { c.Version = 2 }, false},
		{"kdf", func(c *Config) { c.Passphrase.KDF = "scrypt" }, false},
		{"time zero", func(c *Config) { c.Passphrase.Time = 0 }, false},
		{"time huge", func(c *Config) { c.Passphrase.Time = 1 << 30 }, false},
		{"memory huge", func(c *Config) { c.Passphrase.MemoryKiB = 1 << 31 }, false},
		{"memory below 8 KiB per lane", func(c *Config) { c.Passphrase.MemoryKiB = 15 }, false},
		{"threads zero", func(c *Config) { c.Passphrase.Threads = 0 }, false},
		{"short salt", func(c *Config) { c.Passphrase.Salt = c.Passphrase.Salt[:8] }, false},
		{"short wrapped key", func(c *Config) { c.Passphrase.WrappedKey = c.Passphrase.WrappedKey[:59] }, false},
		{"type", func(c *Config) { c.Type = TypeShamir }, false},
		{"extra section", func(c *Config) { c.Shamir = &ShamirConfig{} }, false},
	} {
		cfg, err := InitPassphrase(root, pass, testArgon2)
		if err != nil {
			t.Fatal(err)
		}
		c.tamper(cfg)
		got, err := UnwrapPassphrase(cfg, pass)
		if err == nil || got != nil {
			t.Errorf("%s: tampered config unwrapped", c.name)
			continue
		}
		if c.wrong != errors.Is(err, ErrWrongPassphrase) {
			t.Errorf("%s: err = %v; ErrWrongPassphrase expected: %v", c.name, err, c.wrong)
		}
	}
}

func TestInitPassphraseErrors(t *testing.T) {
	root, _ := newRoot(t)
	if _, err := InitPassphrase(root, nil, testArgon2); err == nil {
		t.Error("empty passphrase accepted")
	}
	if _, err := InitPassphrase(root, []byte("p"), Argon2Params{Time: 0, MemoryKiB: 64, Threads: 1}); err == nil {
		t.Error("time 0 accepted")
	}
	if _, err := InitPassphrase(nil, []byte("p"), testArgon2); err == nil {
		t.Error("nil root key accepted")
	}
	if _, err := initPassphrase(&fixedReader{}, root, []byte("p"), testArgon2); err == nil {
		t.Error("failing random source accepted")
	}
}
