package seal

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/keyring"
)

// Root key rotation replaces the root key without touching a secret's ciphertext or data
// key: only what is wrapped under the root changes (KMS key materials, the foundation's
// key-encryption keys kept as meta "kek/<id>", access keys' secret halves, the check token).
// It runs offline, on a stopped server, in three steps, so that a crash at any point leaves a
// store that opens:
//
//  1. the new seal (configuration or key file) is written beside the current one, as
//     NextPath(current), and synced; the store is untouched and opens with the current seal,
//     and the next file is discarded at the next start;
//  2. everything wrapped under the root is re-wrapped under the new root in ONE store
//     transaction, which also records the new check token and, for shamir and passphrase
//     seals, the new configuration's Fingerprint; before it commits, nothing changed, after
//     it, the store is under the new root and the next file is the store's seal;
//  3. the next file is renamed over the current one (atomic) and the directory synced.
//
// A start after a crash between 2 and 3 finishes the rename (ResolveConfig, ResolveKeyFile):
// for a shamir or passphrase seal it tells which file is the store's by the fingerprint the
// store records, which needs no key; for a key file by the check token.

// NextPath is where a rotation writes the seal that will replace path.
func NextPath(path string) string { return path + ".next" }

// Step names a point of a rotation, for RotateHook.
type Step string

// The points at which a rotation calls its hook.
const (
	StepNextWritten Step = "next-written" // step 1 done
	StepRewrapped   Step = "rewrapped"    // step 2, inside the transaction, before it commits
	StepCommitted   Step = "committed"    // step 2 committed, before the rename
)

// RotateHook is called at each Step; an error stops the rotation at once, leaving everything
// as a crash at that point would (tests use it to interrupt a rotation).
type RotateHook func(Step) error

// RewrapStats counts what a rotation re-wrapped.
type RewrapStats struct {
	Materials  int // KMS key materials
	LegacyKEKs int // the foundation's key-encryption keys (meta "kek/<id>")
	AccessKeys int // access keys' secret halves
	AuditKeys  int // the audit trail's digest-signing keys
}

// String describes the counts.
func (s RewrapStats) String() string {
	return fmt.Sprintf("%d key materials, %d legacy key-encryption keys, %d access keys, %d audit signing keys", s.Materials, s.LegacyKEKs, s.AccessKeys, s.AuditKeys)
}

// rewrapPage is how many rows a rotation reads at once.
const rewrapPage = 256

// legacyKEKPrefix is where the foundation kept key-encryption keys: "kek/<id>" holds one,
// wrapped as a first material; "kek/default/<account>/<region>" names a namespace's id.
const legacyKEKPrefix = "kek/"

// Rewrap re-wraps, in one transaction, everything store keeps under from's root key under to's
// root key, replaces the check token and records next (the seal of to) by its fingerprint.
// It refuses (ErrRootDiffers) when from is not the store's root key. hook, when not nil, is
// called with StepRewrapped before the transaction commits. Secrets' ciphertext and data keys
// are not read.
func Rewrap(ctx context.Context, store coffer.Store, from, to *keyring.Keyring, next *Config, hook RotateHook) (*RewrapStats, error) {
	fp, err := Fingerprint(next)
	if err != nil {
		return nil, err
	}
	var stats RewrapStats
	err = store.Update(ctx, func(tx coffer.Tx) error {
		stats = RewrapStats{} // fn may run again
		token, err := tx.Meta(MetaRootCheck)
		if err != nil && !coffer.IsNotFound(err) {
			return err
		}
		if err == nil && !from.VerifyCheck(token) {
			return ErrRootDiffers
		}
		afterID, afterVersion := "", 0
		for {
			page, err := tx.AllKeyMaterials(afterID, afterVersion, rewrapPage)
			if err != nil {
				return err
			}
			for _, m := range page {
				if m.Wrapped, err = from.RewrapMaterial(to, m.KeyID, m.Version, m.Wrapped); err != nil {
					return err
				}
				if err := tx.UpdateKeyMaterial(m); err != nil {
					return err
				}
				stats.Materials++
			}
			if len(page) < rewrapPage {
				break
			}
			afterID, afterVersion = page[len(page)-1].KeyID, page[len(page)-1].Version
		}
		names, err := tx.MetaKeys(legacyKEKPrefix)
		if err != nil {
			return err
		}
		for _, name := range names {
			id := strings.TrimPrefix(name, legacyKEKPrefix)
			if id == "" || strings.Contains(id, "/") {
				continue // "kek/default/…" names an id; it wraps nothing
			}
			w, err := tx.Meta(name)
			if err != nil {
				return err
			}
			if w, err = from.RewrapMaterial(to, id, 1, w); err != nil {
				return err
			}
			if err := tx.PutMeta(name, w); err != nil {
				return err
			}
			stats.LegacyKEKs++
		}
		after := ""
		for {
			page, err := tx.AccessKeys(after, rewrapPage)
			if err != nil {
				return err
			}
			for _, k := range page {
				sealed, err := from.RewrapSecret(to, k.ID, k.SealedSecret)
				if err != nil {
					return err
				}
				if err := tx.UpdateAccessKeySecret(k.ID, sealed); err != nil {
					return err
				}
				stats.AccessKeys++
			}
			if len(page) < rewrapPage {
				break
			}
			after = page[len(page)-1].ID
		}
		// The audit trail's digest-signing keys, one per server (coffer.AuditSigningKeyMeta).
		signers, err := tx.MetaKeys(coffer.AuditSigningKeyMeta)
		if err != nil {
			return err
		}
		for _, name := range signers {
			w, err := tx.Meta(name)
			if err != nil {
				return err
			}
			if w, err = from.RewrapSecret(to, name, w); err != nil {
				return err
			}
			if err := tx.PutMeta(name, w); err != nil {
				return err
			}
			stats.AuditKeys++
		}
		if token, err = to.NewCheck(); err != nil {
			return err
		}
		if err := tx.PutMeta(MetaRootCheck, token); err != nil {
			return err
		}
		if err := putFingerprint(tx, next, fp); err != nil {
			return err
		}
		if hook != nil {
			return hook(StepRewrapped)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &stats, nil
}

// RotateConfig rotates the root key of a shamir or passphrase seal whose configuration is at
// path (<data>/seal.json): from is the current root key, to the new one, and next the new
// configuration sealing to (made by InitShamir or InitPassphrase; the caller has already
// handed out its shares). See the steps above. A failure before the commit removes the next
// file; hook's errors return at once.
func RotateConfig(ctx context.Context, store coffer.Store, path string, from, to *keyring.RootKey, next *Config, hook RotateHook) (*RewrapStats, error) {
	if next.Type == TypeKeyFile {
		return nil, errors.New("seal: RotateConfig needs a shamir or passphrase configuration")
	}
	nextPath := NextPath(path)
	return rotate(ctx, store, path, nextPath, from, to, next, hook, func() error { return WriteConfig(nextPath, next) })
}

// RotateKeyFile rotates the root key of a key file deployment: the key file at path holds
// from; to is written beside it, then replaces it. See RotateConfig.
func RotateKeyFile(ctx context.Context, store coffer.Store, path string, from, to *keyring.RootKey, hook RotateHook) (*RewrapStats, error) {
	nextPath := NextPath(path)
	return rotate(ctx, store, path, nextPath, from, to, KeyFileConfig(), hook, func() error {
		// Called once from is known to be the store's root: a leftover next key is void.
		if err := os.Remove(nextPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("seal: %w", err)
		}
		return keyring.WriteRootKey(nextPath, to)
	})
}

func rotate(ctx context.Context, store coffer.Store, path, nextPath string, from, to *keyring.RootKey, next *Config, hook RotateHook, writeNext func() error) (*RewrapStats, error) {
	if hook == nil {
		hook = func(Step) error { return nil }
	}
	fromKeys, err := keyring.New(from)
	if err != nil {
		return nil, err
	}
	defer fromKeys.Close()
	toKeys, err := keyring.New(to)
	if err != nil {
		return nil, err
	}
	defer toKeys.Close()
	// Refuse a wrong current key before writing anything.
	switch c, err := CheckRoot(ctx, store, fromKeys); {
	case err != nil:
		return nil, err
	case c == RootDiffers:
		return nil, ErrRootDiffers
	}

	if err := writeNext(); err != nil {
		return nil, err
	}
	if err := hook(StepNextWritten); err != nil {
		return nil, err
	}
	var hookErr error
	stats, err := Rewrap(ctx, store, fromKeys, toKeys, next, func(s Step) error {
		hookErr = hook(s)
		return hookErr
	})
	if hookErr != nil {
		return nil, hookErr
	}
	if err != nil {
		// Rolled back: the store is under from, the next file is of no use.
		os.Remove(nextPath)
		return nil, err
	}
	if err := hook(StepCommitted); err != nil {
		return nil, err
	}
	if err := os.Rename(nextPath, path); err != nil {
		return nil, fmt.Errorf("seal: the store is under the new root key, but %s could not replace %s (the next start does it): %w", nextPath, path, err)
	}
	if err := keyring.SyncDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	return stats, nil
}
