package keyring

import (
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
)

// KMS key material and ciphertext blobs.
//
// A KMS key has one or more generations of material (version 1, 2, … — each rotation adds
// one), each a 256-bit AES-GCM key wrapped under the root key with its key id and version as
// additional authenticated data. Version 1 of a key is wrapped exactly as the foundation's
// key-encryption keys were, so the default KEK of a namespace became the first material of
// its alias/aws/secretsmanager key with no data migrated.
//
// A ciphertext blob (what KMS Encrypt returns and Decrypt takes) names its key and material
// so that Decrypt needs no key id:
//
//	0      format (2)
//	1      n, the length of the key id (1–64)
//	2      key id (n bytes)
//	2+n    material version (uint32, big endian)
//	6+n    nonce (12 bytes)
//	18+n   AES-256-GCM ciphertext and tag
//
// The whole header and the encryption context are authenticated, so changing any byte, or
// presenting the blob with another context, fails to decrypt.

const (
	formatBlob   = 2
	maxKeyIDLen  = 64
	tagSize      = 16
	blobAADLabel = "coffer kms blob v1\x00"
)

// MaxBlobSize is the largest ciphertext blob KMS accepts (CiphertextType's limit).
const MaxBlobSize = 6144

// ErrBlob is returned for bytes that are not a coffer ciphertext blob. It says nothing more.
var ErrBlob = fmt.Errorf("keyring: not a ciphertext blob")

func materialAAD(keyID string, version int) []byte {
	if version == 1 {
		return []byte("kek:" + keyID)
	}
	return []byte("kek:" + keyID + "#" + strconv.Itoa(version))
}

func cacheKey(keyID string, version int) string { return keyID + "#" + strconv.Itoa(version) }

// NewMaterial generates material version of keyID and returns it wrapped under the root key,
// ready to store.
func (k *Keyring) NewMaterial(keyID string, version int) ([]byte, error) {
	if version < 1 {
		return nil, fmt.Errorf("keyring: material version %d", version)
	}
	r, err := k.keys()
	if err != nil {
		return nil, err
	}
	m := make([]byte, KeySize)
	defer Wipe(m)
	if _, err := io.ReadFull(k.rand, m); err != nil {
		return nil, fmt.Errorf("keyring: generate key material: %w", err)
	}
	return k.seal(r.wrapKEK, m, materialAAD(keyID, version))
}

// material returns the cached AEAD of a material, unwrapping wrapped on first use.
func (k *Keyring) material(keyID string, version int, wrapped []byte) (aeadKey, error) {
	r, err := k.keys()
	if err != nil {
		return nil, err
	}
	ck := cacheKey(keyID, version)
	k.mu.RLock()
	a, ok := k.keks[ck]
	k.mu.RUnlock()
	if ok {
		return a, nil
	}
	m, err := open(r.wrapKEK, wrapped, materialAAD(keyID, version))
	if err != nil {
		return nil, fmt.Errorf("keyring: unwrap material %d of key %s: %w", version, keyID, err)
	}
	defer Wipe(m)
	if a, err = newGCM(m); err != nil {
		return nil, err
	}
	k.mu.Lock()
	if k.root.Load() != nil { // not closed meanwhile
		k.keks[ck] = a
	}
	k.mu.Unlock()
	return a, nil
}

// Forget drops every cached material and key-encryption key; the next use unwraps again.
func (k *Keyring) Forget() {
	k.mu.Lock()
	clear(k.keks)
	k.mu.Unlock()
}

// ParseBlob returns the key id and material version a ciphertext blob names. It checks the
// shape only; Decrypt authenticates.
func ParseBlob(blob []byte) (keyID string, version int, err error) {
	if len(blob) < 2 || len(blob) > MaxBlobSize || blob[0] != formatBlob {
		return "", 0, ErrBlob
	}
	n := int(blob[1])
	if n < 1 || n > maxKeyIDLen || len(blob) < 2+n+4+nonceSize+tagSize {
		return "", 0, ErrBlob
	}
	id := blob[2 : 2+n]
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return "", 0, ErrBlob
		}
	}
	v := binary.BigEndian.Uint32(blob[2+n:])
	if v < 1 || v > 1<<20 {
		return "", 0, ErrBlob
	}
	return string(id), int(v), nil
}

func blobAAD(header []byte, ctx Context) []byte {
	aad := make([]byte, 0, len(blobAADLabel)+len(header)+128)
	aad = append(aad, blobAADLabel...)
	aad = append(aad, header...)
	return ctx.appendTo(aad)
}

// Encrypt seals plaintext under material version of keyID (wrapped under the root key) and
// binds ctx, returning a ciphertext blob.
func (k *Keyring) Encrypt(keyID string, version int, wrapped []byte, ctx Context, plaintext []byte) ([]byte, error) {
	if len(keyID) < 1 || len(keyID) > maxKeyIDLen || version < 1 {
		return nil, fmt.Errorf("keyring: bad key id or material version")
	}
	a, err := k.material(keyID, version, wrapped)
	if err != nil {
		return nil, err
	}
	n := len(keyID)
	out := make([]byte, 2+n+4+nonceSize, 2+n+4+nonceSize+len(plaintext)+tagSize)
	out[0], out[1] = formatBlob, byte(n)
	copy(out[2:], keyID)
	binary.BigEndian.PutUint32(out[2+n:], uint32(version))
	nonce := out[6+n:]
	if _, err := io.ReadFull(k.rand, nonce); err != nil {
		return nil, fmt.Errorf("keyring: nonce: %w", err)
	}
	return a.Seal(out, nonce, plaintext, blobAAD(out[:6+n], ctx)), nil
}

// Decrypt opens a ciphertext blob made by Encrypt, given the wrapped material it names (see
// ParseBlob) and the same context. Anything that does not match gives ErrOpen.
func (k *Keyring) Decrypt(blob, wrapped []byte, ctx Context) ([]byte, error) {
	keyID, version, err := ParseBlob(blob)
	if err != nil {
		return nil, ErrOpen
	}
	a, err := k.material(keyID, version, wrapped)
	if err != nil {
		return nil, err
	}
	n := len(keyID)
	pt, err := a.Open(nil, blob[6+n:18+n], blob[18+n:], blobAAD(blob[:6+n], ctx))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// SealData encrypts a secret value under a plaintext data key (from GenerateDataKey),
// binding ctx. The caller wipes dataKey.
func (k *Keyring) SealData(dataKey []byte, ctx Context, plaintext []byte) ([]byte, error) {
	a, err := newGCM(dataKey)
	if err != nil {
		return nil, err
	}
	var aad [256]byte // the AAD is not kept: on the stack for a usual context
	return k.seal(a, plaintext, ctx.appendTo(aad[:0]))
}

// OpenData decrypts what SealData sealed under the same data key and context.
func (k *Keyring) OpenData(dataKey []byte, ctx Context, sealed []byte) ([]byte, error) {
	a, err := newGCM(dataKey)
	if err != nil {
		return nil, err
	}
	var aad [256]byte
	return open(a, sealed, ctx.appendTo(aad[:0]))
}

// IsBlob reports whether a wrapped data key is a KMS ciphertext blob, rather than a data key
// wrapped by the foundation's Seal (which Open still reads).
func IsBlob(b []byte) bool { return len(b) > 0 && b[0] == formatBlob }

// ForgetKey drops every cached material of keyID.
func (k *Keyring) ForgetKey(keyID string) {
	k.mu.Lock()
	for ck := range k.keks {
		if len(ck) > len(keyID) && ck[:len(keyID)+1] == keyID+"#" {
			delete(k.keks, ck)
		}
	}
	k.mu.Unlock()
}
