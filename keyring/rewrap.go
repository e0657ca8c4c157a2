package keyring

import "fmt"

// Root key rotation: what one root key wrapped, wrapped again under another, without the
// plaintext leaving this package.

// RewrapMaterial opens material version of keyID, wrapped under k's root key, and returns it
// wrapped under to's root key. Version 1 covers the foundation's key-encryption keys too
// (stored as meta "kek/<id>"), which are wrapped exactly as first materials are. Neither
// Keyring caches the material.
func (k *Keyring) RewrapMaterial(to *Keyring, keyID string, version int, wrapped []byte) ([]byte, error) {
	if version < 1 {
		return nil, fmt.Errorf("keyring: material version %d", version)
	}
	from, err := k.keys()
	if err != nil {
		return nil, err
	}
	dst, err := to.keys()
	if err != nil {
		return nil, err
	}
	aad := materialAAD(keyID, version)
	m, err := open(from.wrapKEK, wrapped, aad)
	if err != nil {
		return nil, fmt.Errorf("keyring: unwrap material %d of key %s: %w", version, keyID, err)
	}
	defer Wipe(m)
	return to.seal(dst.wrapKEK, m, aad)
}

// RewrapSecret opens a server secret sealed by k's SealSecret under label and returns it
// sealed under to's root key, as to.SealSecret would.
func (k *Keyring) RewrapSecret(to *Keyring, label string, sealed []byte) ([]byte, error) {
	secret, err := k.OpenSecret(label, sealed)
	if err != nil {
		return nil, fmt.Errorf("keyring: open the secret of %s: %w", label, err)
	}
	defer Wipe(secret)
	return to.SealSecret(label, secret)
}
