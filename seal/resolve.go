package seal

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/keyring"
)

// Resolution says what a start found of an interrupted root rotation.
type Resolution string

// What ResolveConfig and ResolveKeyFile may do.
const (
	NoRotation        Resolution = ""          // no next file: nothing was interrupted
	FinishedRotation  Resolution = "finished"  // the store was under the next seal: it replaced the current one
	DiscardedRotation Resolution = "discarded" // the store never came under the next seal: it was removed
)

// ResolveConfig returns the seal configuration of the store, read from path
// (<data>/seal.json), after resolving an interrupted root rotation (see RotateConfig): a next
// configuration whose fingerprint the store records replaces the current one; any other next
// configuration is removed. No seal.json means a key file (KeyFileConfig), unless the store
// records a fingerprint: then seal.json is missing, and that is an error, as is a seal.json
// whose fingerprint differs from the store's (another deployment's, or of another time).
// It needs no key.
func ResolveConfig(ctx context.Context, store coffer.Store, path string) (*Config, Resolution, error) {
	cur, err := readOptional(path)
	if err != nil {
		return nil, NoRotation, err
	}
	nextPath := NextPath(path)
	next, err := readOptional(nextPath)
	if err != nil {
		return nil, NoRotation, err
	}
	stored, recorded, err := StoredFingerprint(ctx, store)
	if err != nil {
		return nil, NoRotation, err
	}
	res := NoRotation
	if next != nil {
		fp, err := Fingerprint(next)
		if err != nil {
			return nil, NoRotation, err
		}
		if recorded && fp == stored {
			if err := os.Rename(nextPath, path); err != nil {
				return nil, NoRotation, fmt.Errorf("seal: finish an interrupted root rotation: %w", err)
			}
			cur, res = next, FinishedRotation
		} else {
			if err := os.Remove(nextPath); err != nil {
				return nil, NoRotation, fmt.Errorf("seal: discard an interrupted root rotation: %w", err)
			}
			res = DiscardedRotation
		}
		if err := keyring.SyncDir(filepath.Dir(path)); err != nil {
			return nil, res, err
		}
	}
	if cur == nil {
		if recorded {
			return nil, res, fmt.Errorf("seal: %s is missing, but the store is sealed (shamir or passphrase): restore seal.json from the backup of the data directory", path)
		}
		return KeyFileConfig(), res, nil
	}
	if !recorded {
		// Before the first Bind, or a key file.
		return cur, res, nil
	}
	fp, err := Fingerprint(cur)
	if err != nil {
		return nil, res, err
	}
	if cur.Type == TypeKeyFile || fp != stored {
		return nil, res, fmt.Errorf("seal: %s does not match this store: it belongs to another deployment, or to another time of this one (a backup of the store or of seal.json from before or after a root rotation); use the seal.json from the same time as the store", path)
	}
	return cur, res, nil
}

func readOptional(path string) (*Config, error) {
	cfg, err := ReadConfig(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return cfg, err
}

// ResolveKeyFile resolves an interrupted rotation of a key file deployment (see
// RotateKeyFile): a next key file that the store's check token accepts replaces the key file
// at path; any other is removed. The caller then reads path as usual.
func ResolveKeyFile(ctx context.Context, store coffer.Store, path string) (Resolution, error) {
	nextPath := NextPath(path)
	next, err := keyring.ReadRootKey(nextPath)
	if errors.Is(err, fs.ErrNotExist) {
		return NoRotation, nil
	}
	if err != nil {
		return NoRotation, err
	}
	keys, err := keyring.New(next)
	next.Wipe()
	if err != nil {
		return NoRotation, err
	}
	check, err := CheckRoot(ctx, store, keys)
	keys.Close()
	if err != nil {
		return NoRotation, err
	}
	res := DiscardedRotation
	if check == RootMatches {
		if err := os.Rename(nextPath, path); err != nil {
			return NoRotation, fmt.Errorf("seal: finish an interrupted root rotation: %w", err)
		}
		res = FinishedRotation
	} else if err := os.Remove(nextPath); err != nil {
		return NoRotation, fmt.Errorf("seal: discard an interrupted root rotation: %w", err)
	}
	return res, keyring.SyncDir(filepath.Dir(path))
}
