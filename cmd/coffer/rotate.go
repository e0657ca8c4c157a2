package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/coffer-project/coffer/keyring"
	"github.com/coffer-project/coffer/seal"
)

// runRotateRoot replaces the root key of a stopped server (seal.RotateConfig,
// seal.RotateKeyFile). hook, when not nil, may interrupt it after each step.
func runRotateRoot(ctx context.Context, args []string, in *secretInput, stdout, stderr io.Writer, hook seal.RotateHook) error {
	var o offline
	fs := flag.NewFlagSet("coffer operator rotate-root", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.register(fs)
	shares := fs.Int("shares", 0, "shamir: number of new shares (default: as now)")
	threshold := fs.Int("threshold", 0, "shamir: how many new shares unseal (default: as now)")
	shareDir := fs.String("share-dir", "", "shamir: write each new share into its own file (mode 0600) in this directory, instead of the terminal")
	passphraseFile := fs.String("passphrase-file", "", "passphrase: read the current passphrase from this file (mode 0600)")
	newPassphraseFile := fs.String("new-passphrase-file", "", "passphrase: read the new passphrase from this file (mode 0600)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	d, err := o.open(ctx, fs, stderr)
	if err != nil {
		return err
	}
	defer d.Close()
	cfg := d.seal

	next, err := keyring.NewRootKey()
	if err != nil {
		return err
	}
	defer next.Wipe()
	var stats *seal.RewrapStats
	switch cfg.Type {
	case seal.TypeKeyFile:
		if *shares != 0 || *threshold != 0 || *shareDir != "" || *passphraseFile != "" || *newPassphraseFile != "" {
			return errors.New("this deployment keeps its root key in a key file: rotate-root takes no share or passphrase flags (coffer operator init seals it)")
		}
		cur, err := keyring.ReadRootKey(d.keyPath)
		if err != nil {
			return err
		}
		defer cur.Wipe()
		if stats, err = seal.RotateKeyFile(ctx, d.store, d.keyPath, cur, next, hook); err != nil {
			return rotateError(err)
		}
		fmt.Fprintf(stdout, "Rotated the root key: %s holds the new key; re-wrapped %s.\n", d.keyPath, stats)
		fmt.Fprintln(stdout, "The old key file was replaced: backups of the store taken before now open only with a copy of it kept from before the rotation.")
		return nil

	case seal.TypeShamir:
		if *passphraseFile != "" || *newPassphraseFile != "" {
			return errors.New("this deployment is sealed with shares: rotate-root takes no passphrase flags")
		}
		n, t := cfg.Shamir.Shares, cfg.Shamir.Threshold
		if *shares != 0 {
			n = *shares
		}
		if *threshold != 0 {
			t = *threshold
		}
		out := shareOutput{dir: *shareDir, stdout: stdout}
		if err := out.check(); err != nil {
			return err
		}
		cur, err := collectShares(in, cfg)
		if err != nil {
			return err
		}
		defer cur.Wipe()
		nextCfg, printed, err := seal.InitShamir(next, n, t)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, "The new shares replace the current ones once the rotation completes; if it fails, they are void.")
		if err := out.show(printed, t); err != nil {
			return err
		}
		if stats, err = seal.RotateConfig(ctx, d.store, d.sealPath, cur, next, nextCfg, hook); err != nil {
			return rotateError(err)
		}
		fmt.Fprintf(stdout, "Rotated the root key: re-wrapped %s. The new shares unseal it now; the old ones no longer do.\n", stats)
		fmt.Fprintln(stdout, "Backups of the store taken before now need the old shares (and the seal.json of that time): keep them with those backups.")
		return nil

	case seal.TypePassphrase:
		if *shares != 0 || *threshold != 0 || *shareDir != "" {
			return errors.New("this deployment is sealed with a passphrase: rotate-root takes no share flags")
		}
		p, err := in.passphrase(*passphraseFile, "Current passphrase (hidden): ")
		if err != nil {
			return err
		}
		cur, err := seal.UnwrapPassphrase(cfg, p)
		keyring.Wipe(p)
		if err != nil {
			return err
		}
		defer cur.Wipe()
		np, err := in.newPassphrase(*newPassphraseFile, "New passphrase (hidden): ")
		if err != nil {
			return err
		}
		nextCfg, err := seal.InitPassphrase(next, np, seal.DefaultArgon2Params())
		keyring.Wipe(np)
		if err != nil {
			return err
		}
		if stats, err = seal.RotateConfig(ctx, d.store, d.sealPath, cur, next, nextCfg, hook); err != nil {
			return rotateError(err)
		}
		fmt.Fprintf(stdout, "Rotated the root key: re-wrapped %s. The new passphrase unseals it now.\n", stats)
		fmt.Fprintln(stdout, "Backups of the store taken before now need the old passphrase (and the seal.json of that time).")
		return nil
	}
	return fmt.Errorf("unknown seal type %q", cfg.Type)
}

func rotateError(err error) error {
	if errors.Is(err, seal.ErrRootDiffers) {
		return errors.New("the current root key does not open this store; nothing was changed")
	}
	return fmt.Errorf("root rotation failed: %w", err)
}

// collectShares reads current shares, one per prompt or line, until they reconstruct the root
// key of cfg.
func collectShares(in *secretInput, cfg *seal.Config) (*keyring.RootKey, error) {
	u, err := seal.NewUnsealer(cfg)
	if err != nil {
		return nil, err
	}
	defer u.Reset()
	for {
		s, err := in.read(fmt.Sprintf("Current unseal share %d of %d (hidden): ", u.Progress()+1, u.Threshold()))
		if err != nil {
			return nil, err
		}
		_, root, err := u.Add(string(s))
		keyring.Wipe(s)
		if err != nil {
			return nil, err
		}
		if root != nil {
			return root, nil
		}
	}
}
