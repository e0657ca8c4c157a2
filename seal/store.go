package seal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/keyring"
)

// Meta names of what binds a store to its root key and seal.
const (
	// MetaRootCheck is the check token only the store's root key opens (keyring.NewCheck);
	// core.Bootstrap writes it at first start under this same name.
	MetaRootCheck = "root-key-check"
	// MetaFingerprint is the Fingerprint of the seal configuration whose root key the store
	// is under, for shamir and passphrase seals (absent for a key file). Reading it needs no
	// key, so a sealed server knows, before anyone unseals it, which configuration is the
	// store's after an interrupted root rotation.
	MetaFingerprint = "seal-fingerprint"
)

// Fingerprint identifies a seal configuration: SHA-256, in hex, of a label and the canonical
// JSON of cfg. A new root key gives a new fingerprint (the verifier or the wrapped key
// changes), and so does any change of the parameters. It reveals nothing secret.
func Fingerprint(cfg *Config) (string, error) {
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return "", fmt.Errorf("seal: encode configuration: %w", err)
	}
	sum := sha256.Sum256(append([]byte("coffer seal fingerprint v1\x00"), b...))
	return hex.EncodeToString(sum[:]), nil
}

// RootCheck is what a store's check token says of a root key.
type RootCheck int

// What CheckRoot finds.
const (
	RootUnchecked RootCheck = iota // the store has no check token yet: it was never started
	RootMatches                    // the store is under this root key
	RootDiffers                    // the store is under another root key
)

// CheckRoot reports whether the store is under the root key of keys.
func CheckRoot(ctx context.Context, store coffer.Store, keys *keyring.Keyring) (RootCheck, error) {
	var token []byte
	err := store.View(ctx, func(tx coffer.Tx) error {
		var err error
		token, err = tx.Meta(MetaRootCheck)
		return err
	})
	switch {
	case coffer.IsNotFound(err):
		return RootUnchecked, nil
	case err != nil:
		return 0, err
	case keys.VerifyCheck(token):
		return RootMatches, nil
	}
	return RootDiffers, nil
}

// ErrRootDiffers is returned when a root key is not the one the store is under.
var ErrRootDiffers = errors.New("seal: the root key does not match this store")

// Bind records in the store, in one transaction, that it is under the root key of keys sealed
// by cfg: the check token (made when the store has none; verified when it has one) and cfg's
// fingerprint (removed for a key file). A root key the store's token refuses is
// ErrRootDiffers and nothing is written.
func Bind(ctx context.Context, store coffer.Store, keys *keyring.Keyring, cfg *Config) error {
	fp, err := Fingerprint(cfg)
	if err != nil {
		return err
	}
	return store.Update(ctx, func(tx coffer.Tx) error {
		token, err := tx.Meta(MetaRootCheck)
		switch {
		case coffer.IsNotFound(err):
			if token, err = keys.NewCheck(); err != nil {
				return err
			}
			if err := tx.PutMeta(MetaRootCheck, token); err != nil {
				return err
			}
		case err != nil:
			return err
		case !keys.VerifyCheck(token):
			return ErrRootDiffers
		}
		return putFingerprint(tx, cfg, fp)
	})
}

func putFingerprint(tx coffer.Tx, cfg *Config, fp string) error {
	if cfg.Type == TypeKeyFile {
		return tx.DeleteMeta(MetaFingerprint)
	}
	return tx.PutMeta(MetaFingerprint, []byte(fp))
}

// StoredFingerprint returns the fingerprint the store records, and whether it records one.
func StoredFingerprint(ctx context.Context, store coffer.Store) (string, bool, error) {
	var fp []byte
	err := store.View(ctx, func(tx coffer.Tx) error {
		var err error
		fp, err = tx.Meta(MetaFingerprint)
		return err
	})
	if coffer.IsNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return string(fp), true, nil
}
