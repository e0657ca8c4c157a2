// Package seal keeps coffer's root key (keyring.RootKey) off the disk in plaintext. It handles
// root key bytes, and with keyring is the only package that does; it never logs or prints them.
//
// Three seals are possible, recorded in a seal configuration (Config) stored beside the data
// as ConfigFile (seal.json, mode 0600, written atomically):
//
//   - shamir: the root key is split with Shamir's secret sharing over GF(2^8) into n shares,
//     any t of which reconstruct it (2 ≤ t ≤ n ≤ 255), fewer revealing nothing. Each byte of
//     the key is the constant term of its own random polynomial of degree t-1; share i is
//     x = i followed by the polynomials' values at x. Field arithmetic is constant time (no
//     log/exp tables). Shares are printed for people as SharePrefix ("coffer-share-v1:") and
//     lowercase hex of the share and a 4-byte SHA-256 checksum, so a mistyped share is
//     reported as such (ErrShareChecksum). Shares are never stored. Shamir's scheme cannot tell
//     a wrong combination of shares from the right one, so the configuration keeps a
//     verifier, HMAC-SHA256 keyed by HKDF-SHA256(root key, random salt, fixed label): checking
//     it needs the whole 256-bit key, and a mismatch is ErrWrongShares.
//   - passphrase: Argon2id (RFC 9106's second recommended option by default: t=3, 64 MiB,
//     p=4; parameters and a 16-byte random salt recorded in the file) derives a 256-bit key
//     from the passphrase, which wraps the root key with AES-256-GCM; the parameters and salt
//     are the additional authenticated data. A wrong passphrase (or an altered file) is
//     ErrWrongPassphrase, never a wrong key.
//   - keyfile: the plaintext key file of keyring.LoadOrCreateRootKey, for development.
//
// The file, for a Shamir seal (byte strings in standard base64):
//
//	{
//	  "version": 1,
//	  "type": "shamir",
//	  "shamir": {"shares": 5, "threshold": 3, "verifier_salt": "…", "verifier": "…"}
//	}
//
// and for a passphrase seal (wrapped_key is a 96-bit nonce and the GCM output):
//
//	{
//	  "version": 1,
//	  "type": "passphrase",
//	  "passphrase": {"kdf": "argon2id", "time": 3, "memory_kib": 65536, "threads": 4,
//	                 "salt": "…", "wrapped_key": "…"}
//	}
//
// The store is bound to its seal: it keeps keyring's check token (MetaRootCheck), which only
// its root key opens, and, for shamir and passphrase seals, the Fingerprint of its seal.json
// (MetaFingerprint), which a sealed server reads without any key. Bind records both.
//
// How cmd/coffer uses it: at start, ResolveConfig (no seal.json means TypeKeyFile) and, for a
// key file, ResolveKeyFile then keyring.LoadOrCreateRootKey; for TypeShamir, feed
// NewUnsealer's Add with shares as they arrive until it returns the root key; for
// TypePassphrase, UnwrapPassphrase. Then keyring.New(root). `coffer operator init` makes the
// configuration with InitShamir (each returned share shown once to its holder) or
// InitPassphrase, WriteConfig(filepath.Join(dataDir, ConfigFile), cfg), then Bind.
//
// Root rotation (Rewrap, RotateConfig, RotateKeyFile) re-wraps everything under the root key
// in one store transaction, between writing the new seal beside the old one and renaming it
// over; rotate.go explains why a crash at any point leaves a store that opens.
//
// Every intermediate buffer of key or share bytes is wiped after use (keyring.Wipe; best
// effort in Go, where strings cannot be wiped and the runtime may copy). Errors never quote
// shares, passphrases or keys.
package seal
