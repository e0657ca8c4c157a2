// Package keyring is coffer's envelope encryption, and the only package that holds key bytes.
//
// The scheme has three layers. The root key (256 bits; see package seal) never encrypts
// data: HKDF-SHA256 derives from it one purpose-bound AEAD key per use ("wrap key-encryption
// keys", "seal access-key secrets", "check the root key", "seal session tokens").
// Key-encryption keys (KEKs, 256 bits, one per KMS-style key id) are stored wrapped under the root: AES-256-GCM with the key id as
// additional authenticated data, so a wrapped KEK cannot be presented under another id. Every
// secret version gets its own random 256-bit data key: the value is sealed with AES-256-GCM
// under the data key, and the data key is sealed under the KEK; both seals bind the version's
// encryption context ({"SecretARN": …, "SecretVersionId": …}) as additional authenticated data,
// so ciphertext copied onto another secret or version fails to open.
//
// Sealed blobs are a format byte, a 96-bit random nonce and the GCM output. Plaintext data keys
// are wiped after use; callers wipe value plaintext with Wipe when done (best effort in Go).
//
// The root key comes from package seal (a key file, Shamir shares or a passphrase). Root key
// rotation opens everything wrapped under one root and wraps it under another without the
// plaintext leaving this package (RewrapMaterial, RewrapSecret). Close drops every key a
// Keyring holds when a server is sealed: afterwards every operation fails with ErrClosed.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/coffer-project/coffer/internal/jsonw"
)

// KeySize is the size in bytes of the root key, KEKs and data keys.
const KeySize = 32

const (
	formatV1  = 1
	nonceSize = 12
)

// ErrOpen is returned when a sealed blob does not open: wrong key, wrong context, or tampering.
// It says nothing more, on purpose.
var ErrOpen = errors.New("keyring: message authentication failed")

// ErrClosed is returned by every operation of a Keyring after Close: the server was sealed.
var ErrClosed = errors.New("keyring: closed (the root key was sealed)")

// RootKey is the 256-bit root of the key hierarchy. Its bytes are unexported and never printed.
type RootKey struct {
	b [KeySize]byte
}

// NewRootKey returns a fresh random root key.
func NewRootKey() (*RootKey, error) {
	var k RootKey
	if _, err := io.ReadFull(rand.Reader, k.b[:]); err != nil {
		return nil, fmt.Errorf("keyring: generate root key: %w", err)
	}
	return &k, nil
}

// RootKeyFromBytes copies a 32-byte root key.
func RootKeyFromBytes(b []byte) (*RootKey, error) {
	if len(b) != KeySize {
		return nil, fmt.Errorf("keyring: root key must be %d bytes, got %d", KeySize, len(b))
	}
	var k RootKey
	copy(k.b[:], b)
	return &k, nil
}

// Equal compares two root keys in constant time.
func (k *RootKey) Equal(o *RootKey) bool { return subtle.ConstantTimeCompare(k.b[:], o.b[:]) == 1 }

// Bytes returns a copy of the key's bytes, for sealing it (package seal); the caller wipes it.
func (k *RootKey) Bytes() []byte { return append([]byte(nil), k.b[:]...) }

// String never reveals the key.
func (k *RootKey) String() string { return "RootKey(redacted)" }

// Format never reveals the key, whatever the verb (%x and %d included).
func (k *RootKey) Format(f fmt.State, _ rune) { io.WriteString(f, "RootKey(redacted)") }

// GoString never reveals the key.
func (k *RootKey) GoString() string { return k.String() }

// Wipe overwrites the key's bytes with zeros; the key is useless afterwards. Call it once a
// Keyring has been derived from the key (New keeps no reference to it).
func (k *RootKey) Wipe() { clear(k.b[:]) }

// Keyring performs every encryption and decryption of coffer. It caches unwrapped KEKs in
// memory by key id. It is safe for concurrent use.
type Keyring struct {
	// root holds the root-derived keys; nil once closed.
	root atomic.Pointer[rootKeys]
	rand io.Reader

	mu   sync.RWMutex
	keks map[string]cipher.AEAD // by cacheKey(key id, material version)
}

// rootKeys are the purpose-bound keys HKDF derives from the root key.
type rootKeys struct {
	wrapKEK    cipher.AEAD // wraps KEKs and key materials
	sealSecret cipher.AEAD // seals access-key secrets and other small server secrets
	check      cipher.AEAD // proves a root key matches a data directory
	session    cipher.AEAD // seals STS session tokens
}

type aeadKey = cipher.AEAD

// New returns a Keyring rooted at root. It keeps no reference to root, which the caller may
// wipe once New returns.
func New(root *RootKey) (*Keyring, error) {
	k := &Keyring{rand: rand.Reader, keks: make(map[string]cipher.AEAD)}
	r := &rootKeys{}
	var err error
	if r.wrapKEK, err = derive(root, "coffer v1 wrap key-encryption keys"); err != nil {
		return nil, err
	}
	if r.sealSecret, err = derive(root, "coffer v1 seal server secrets"); err != nil {
		return nil, err
	}
	if r.check, err = derive(root, "coffer v1 root key check"); err != nil {
		return nil, err
	}
	if r.session, err = derive(root, "coffer v1 seal session tokens"); err != nil {
		return nil, err
	}
	k.root.Store(r)
	return k, nil
}

// keys returns the root-derived keys, or ErrClosed.
func (k *Keyring) keys() (*rootKeys, error) {
	r := k.root.Load()
	if r == nil {
		return nil, ErrClosed
	}
	return r, nil
}

// Close drops every key the Keyring holds: the root-derived keys and every cached material
// and key-encryption key. Every later operation fails with ErrClosed; materials already
// handed to a caller are not affected (the Keyring hands out none). The Keyring holds its
// keys only inside cipher.AEAD values, whose expanded AES key schedules Go gives no way to
// overwrite: dropping them leaves them to the garbage collector. Close is idempotent.
func (k *Keyring) Close() {
	k.root.Store(nil)
	k.mu.Lock()
	clear(k.keks)
	k.mu.Unlock()
}

func derive(root *RootKey, purpose string) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, root.b[:], nil, purpose, KeySize)
	if err != nil {
		return nil, fmt.Errorf("keyring: derive %q: %w", purpose, err)
	}
	defer Wipe(key)
	return newGCM(key)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return cipher.NewGCM(block)
}

// seal returns formatV1 || nonce || aead.Seal(plaintext, aad).
func (k *Keyring) seal(a cipher.AEAD, plaintext, aad []byte) ([]byte, error) {
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(plaintext)+a.Overhead())
	out[0] = formatV1
	if _, err := io.ReadFull(k.rand, out[1:]); err != nil {
		return nil, fmt.Errorf("keyring: nonce: %w", err)
	}
	return a.Seal(out, out[1:1+nonceSize], plaintext, aad), nil
}

func open(a cipher.AEAD, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < 1+nonceSize+a.Overhead() || sealed[0] != formatV1 {
		return nil, ErrOpen
	}
	pt, err := a.Open(nil, sealed[1:1+nonceSize], sealed[1+nonceSize:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// NewKEK generates a key-encryption key for keyID and returns it wrapped under the root key,
// ready to store. The unwrapped KEK stays cached in the keyring.
func (k *Keyring) NewKEK(keyID string) ([]byte, error) {
	r, err := k.keys()
	if err != nil {
		return nil, err
	}
	kek := make([]byte, KeySize)
	defer Wipe(kek)
	if _, err := io.ReadFull(k.rand, kek); err != nil {
		return nil, fmt.Errorf("keyring: generate KEK: %w", err)
	}
	wrapped, err := k.seal(r.wrapKEK, kek, []byte("kek:"+keyID))
	if err != nil {
		return nil, err
	}
	a, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	if k.root.Load() != nil { // not closed meanwhile
		k.keks[cacheKey(keyID, 1)] = a
	}
	k.mu.Unlock()
	return wrapped, nil
}

// kek returns the cached AEAD of keyID's first material, unwrapping wrapped on first use.
func (k *Keyring) kek(keyID string, wrapped []byte) (cipher.AEAD, error) {
	return k.material(keyID, 1, wrapped)
}

// Context is an encryption context: name/value pairs bound to a ciphertext as additional
// authenticated data, as in AWS KMS.
type Context map[string]string

// bytes returns the canonical encoding of c: JSON of the pairs sorted by name.
func (c Context) bytes() []byte { return c.appendTo(nil) }

// appendTo appends c.bytes() to b, growing it once at most (the pairs' names sorted on the
// stack for the small contexts secrets use).
func (c Context) appendTo(b []byte) []byte {
	var room [8]string
	names := room[:0]
	size := 2
	for n, v := range c {
		names = append(names, n)
		size += len(n) + len(v) + 8
	}
	slices.Sort(names)
	b = slices.Grow(b, size)
	// As encoding/json writes the [][2]string of the pairs (TestContextBytes): the AAD of
	// every blob sealed so far.
	b = append(b, '[')
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = jsonw.AppendString(b, n)
		b = append(b, ',')
		b = jsonw.AppendString(b, c[n])
		b = append(b, ']')
	}
	return append(b, ']')
}

// Envelope is a value sealed under its own data key, and that data key wrapped under a KEK.
type Envelope struct {
	KeyID      string
	WrappedKey []byte
	Ciphertext []byte
}

// Seal encrypts plaintext under a fresh data key, wraps the data key under the KEK keyID
// (whose root-wrapped form is wrappedKEK), and binds ctx to both.
func (k *Keyring) Seal(keyID string, wrappedKEK []byte, ctx Context, plaintext []byte) (*Envelope, error) {
	kek, err := k.kek(keyID, wrappedKEK)
	if err != nil {
		return nil, err
	}
	dk := make([]byte, KeySize)
	defer Wipe(dk)
	if _, err := io.ReadFull(k.rand, dk); err != nil {
		return nil, fmt.Errorf("keyring: generate data key: %w", err)
	}
	aad := ctx.bytes()
	wrappedDK, err := k.seal(kek, dk, append([]byte("dk:"+keyID+":"), aad...))
	if err != nil {
		return nil, err
	}
	a, err := newGCM(dk)
	if err != nil {
		return nil, err
	}
	ct, err := k.seal(a, plaintext, aad)
	if err != nil {
		return nil, err
	}
	return &Envelope{KeyID: keyID, WrappedKey: wrappedDK, Ciphertext: ct}, nil
}

// Open decrypts an envelope sealed by Seal with the same context. It returns ErrOpen (wrapped)
// when anything does not match. The caller wipes the plaintext when done with it.
func (k *Keyring) Open(env *Envelope, wrappedKEK []byte, ctx Context) ([]byte, error) {
	kek, err := k.kek(env.KeyID, wrappedKEK)
	if err != nil {
		return nil, err
	}
	aad := ctx.bytes()
	dk, err := open(kek, env.WrappedKey, append([]byte("dk:"+env.KeyID+":"), aad...))
	if err != nil {
		return nil, err
	}
	defer Wipe(dk)
	a, err := newGCM(dk)
	if err != nil {
		return nil, err
	}
	return open(a, env.Ciphertext, aad)
}

// SealSecret seals a small server secret (an access key's secret half) under the root key,
// bound to label (e.g. the access key id).
func (k *Keyring) SealSecret(label string, secret []byte) ([]byte, error) {
	r, err := k.keys()
	if err != nil {
		return nil, err
	}
	return k.seal(r.sealSecret, secret, []byte("secret:"+label))
}

// OpenSecret opens what SealSecret sealed under the same label.
func (k *Keyring) OpenSecret(label string, sealed []byte) ([]byte, error) {
	r, err := k.keys()
	if err != nil {
		return nil, err
	}
	return open(r.sealSecret, sealed, []byte("secret:"+label))
}

// SealSession seals the contents of an STS session token under the root key. The token is
// handed to the client and comes back with each request it signs; nothing is stored.
func (k *Keyring) SealSession(plaintext []byte) ([]byte, error) {
	r, err := k.keys()
	if err != nil {
		return nil, err
	}
	return k.seal(r.session, plaintext, []byte("session-token"))
}

// OpenSession opens what SealSession sealed, or fails with ErrOpen for anything else.
func (k *Keyring) OpenSession(sealed []byte) ([]byte, error) {
	r, err := k.keys()
	if err != nil {
		return nil, err
	}
	return open(r.session, sealed, []byte("session-token"))
}

const checkPlaintext = "coffer root key check"

// NewCheck returns a token, to store beside the data, that only this root key opens.
func (k *Keyring) NewCheck() ([]byte, error) {
	r, err := k.keys()
	if err != nil {
		return nil, err
	}
	return k.seal(r.check, []byte(checkPlaintext), nil)
}

// VerifyCheck reports whether token was made by NewCheck under this keyring's root key.
func (k *Keyring) VerifyCheck(token []byte) bool {
	r, err := k.keys()
	if err != nil {
		return false
	}
	pt, err := open(r.check, token, nil)
	return err == nil && subtle.ConstantTimeCompare(pt, []byte(checkPlaintext)) == 1
}

// Wipe overwrites b with zeros. Go may have copied the bytes elsewhere; this is best effort.
func Wipe(b []byte) { clear(b) }
