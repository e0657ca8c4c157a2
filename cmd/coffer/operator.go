package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/keyring"
	"github.com/coffer-project/coffer/seal"
)

const operatorUsage = `Usage: coffer operator <verb> [flags]

Sealing the root key (docs/security.md). With the server stopped:
  init         [--data DIR] [--store S] [--key-file F] (--shares N --threshold T [--share-dir DIR] | --passphrase
               [--passphrase-file F]) [--remove-key-file]
               seal a new deployment, or move an existing key file deployment to the seal
  rotate-root  [--data DIR] [--store S] [--key-file F] [--shares N --threshold T] [--share-dir DIR]
               [--passphrase-file F] [--new-passphrase-file F]
               replace the root key: re-wraps KMS key materials and access keys, not the secrets
With the server running (--endpoint-url, or COFFER_ENDPOINT, AWS_ENDPOINT_URL, http://127.0.0.1:8220;
--ca-bundle or AWS_CA_BUNDLE for a certificate of --tls auto):
  unseal       [--reset]  read one share or the passphrase and send it; prints the progress
  seal-status  [--json]   whether the server is sealed, and the unseal progress
  seal                    seal the server (signed with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)

Shares and passphrases come from a hidden prompt on a terminal, else from standard input (one a
line), or from a file of mode 0600 (--passphrase-file) — never from arguments or the environment.
`

func runOperator(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return runOperatorHooked(ctx, args, stdin, stdout, stderr, nil)
}

// runOperatorHooked is runOperator with a hook into root rotation, which tests use to
// interrupt it after each step.
func runOperatorHooked(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, hook seal.RotateHook) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, operatorUsage)
		return flag.ErrHelp
	}
	in := newSecretInput(stdin, stderr)
	switch args[0] {
	case "init":
		return runInit(ctx, args[1:], in, stdout, stderr)
	case "rotate-root":
		return runRotateRoot(ctx, args[1:], in, stdout, stderr, hook)
	case "unseal", "seal-status", "seal":
		return runRemote(ctx, args[0], args[1:], in, stdout, stderr)
	}
	fmt.Fprint(stderr, operatorUsage)
	return fmt.Errorf("unknown verb %q", args[0])
}

// offline are the flags of the verbs that run with the server stopped.
type offline struct {
	data, store, keyFile string
	keyFileSet           bool
}

func (o *offline) register(fs *flag.FlagSet) {
	fs.StringVar(&o.data, "data", "./coffer-data", "data directory of the stopped server")
	fs.StringVar(&o.store, "store", "sqlite", "store: sqlite (in the data directory) or a postgres://… URL, as the server's --store")
	fs.StringVar(&o.keyFile, "key-file", "./coffer-root.key", "root key file of a key file deployment")
}

// deployment is a stopped server's data directory, store and seal, opened for an offline verb.
type deployment struct {
	data, keyPath, sealPath string
	store                   coffer.Store
	seal                    *seal.Config
	unlock                  func()
}

func (d *deployment) Close() {
	d.store.Close()
	d.unlock()
}

// open locks the data directory against a running server, opens the store and resolves the
// seal, finishing or discarding an interrupted root rotation.
func (o *offline) open(ctx context.Context, fset *flag.FlagSet, stderr io.Writer) (*deployment, error) {
	fset.Visit(func(f *flag.Flag) { o.keyFileSet = o.keyFileSet || f.Name == "key-file" })
	data, err := filepath.Abs(o.data)
	if err != nil {
		return nil, err
	}
	keyPath, err := filepath.Abs(o.keyFile)
	if err != nil {
		return nil, err
	}
	if keyPath == data || strings.HasPrefix(keyPath, data+string(filepath.Separator)) {
		return nil, fmt.Errorf("the root key file %s is inside the data directory %s", keyPath, data)
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	unlock, err := lockData(data, true)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := openStore(ctx, o.store, data, log)
	if err != nil {
		unlock()
		return nil, err
	}
	d := &deployment{data: data, keyPath: keyPath, sealPath: filepath.Join(data, seal.ConfigFile), store: store, unlock: unlock}
	cfg, res, err := seal.ResolveConfig(ctx, store, d.sealPath)
	if err != nil {
		d.Close()
		return nil, err
	}
	reportResolution(stderr, res, d.sealPath)
	if cfg.Type == seal.TypeKeyFile {
		res, err := seal.ResolveKeyFile(ctx, store, keyPath)
		if err != nil {
			d.Close()
			return nil, err
		}
		reportResolution(stderr, res, keyPath)
	}
	d.seal = cfg
	return d, nil
}

func reportResolution(w io.Writer, res seal.Resolution, path string) {
	switch res {
	case seal.FinishedRotation:
		fmt.Fprintf(w, "An interrupted root rotation had committed: %s now holds the new seal.\n", path)
	case seal.DiscardedRotation:
		fmt.Fprintf(w, "An interrupted root rotation had not committed: its %s was discarded (shares it showed are void).\n", seal.NextPath(path))
	}
}

func runInit(ctx context.Context, args []string, in *secretInput, stdout, stderr io.Writer) error {
	var o offline
	fs := flag.NewFlagSet("coffer operator init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.register(fs)
	shares := fs.Int("shares", 0, "shamir: number of unseal shares to make (2–255)")
	threshold := fs.Int("threshold", 0, "shamir: how many shares unseal (2–shares)")
	shareDir := fs.String("share-dir", "", "shamir: write each share into its own file (mode 0600) in this directory, instead of the terminal")
	usePassphrase := fs.Bool("passphrase", false, "seal with a passphrase (Argon2id) instead of shares")
	passphraseFile := fs.String("passphrase-file", "", "passphrase: read it from this file (mode 0600) instead of a prompt or standard input")
	removeKey := fs.Bool("remove-key-file", false, "after moving a key file deployment to the seal, overwrite and remove the key file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	shamir := *shares != 0 || *threshold != 0
	if shamir == *usePassphrase {
		return errors.New("give either --shares N --threshold T or --passphrase")
	}
	if shamir && (*shares == 0 || *threshold == 0) {
		return errors.New("--shares and --threshold go together")
	}
	out := shareOutput{dir: *shareDir, stdout: stdout}
	if shamir {
		if err := out.check(); err != nil {
			return err
		}
	}

	d, err := o.open(ctx, fs, stderr)
	if err != nil {
		return err
	}
	defer d.Close()
	if d.seal.Type != seal.TypeKeyFile {
		return fmt.Errorf("%s already seals this deployment with a %s seal; coffer operator rotate-root replaces the root key", d.sealPath, d.seal.Type)
	}

	// The root key: the key file's when the store is under it (a migration), else a new one.
	root, migrating, err := initRoot(ctx, d, o.keyFileSet)
	if err != nil {
		return err
	}
	defer root.Wipe()
	keys, err := keyring.New(root)
	if err != nil {
		return err
	}
	defer keys.Close()

	var cfg *seal.Config
	if shamir {
		var printed []string
		if cfg, printed, err = seal.InitShamir(root, *shares, *threshold); err != nil {
			return err
		}
		if err := out.show(printed, *threshold); err != nil {
			return err
		}
	} else {
		p, err := in.newPassphrase(*passphraseFile, "New passphrase (hidden): ")
		if err != nil {
			return err
		}
		cfg, err = seal.InitPassphrase(root, p, seal.DefaultArgon2Params())
		keyring.Wipe(p)
		if err != nil {
			return err
		}
	}
	if err := seal.WriteConfig(d.sealPath, cfg); err != nil {
		return err
	}
	if err := seal.Bind(ctx, d.store, keys, cfg); err != nil {
		return err
	}

	what := "a passphrase"
	lose := "the passphrase"
	if shamir {
		what = fmt.Sprintf("%d unseal shares, any %d of which unseal it", *shares, *threshold)
		lose = fmt.Sprintf("%d of the shares", *threshold)
	}
	fmt.Fprintf(stdout, "\ncoffer's root key is now sealed with %s (%s).\n", what, d.sealPath)
	fmt.Fprintf(stdout, "WITHOUT %s THE DATA IS LOST: there is no recovery, no escrow and no back door.\n", strings.ToUpper(lose))
	if migrating {
		if *removeKey {
			if err := shredFile(d.keyPath); err != nil {
				return fmt.Errorf("the seal is in place, but removing the key file failed (delete it yourself): %w", err)
			}
			fmt.Fprintf(stdout, "The plaintext key file %s was overwritten and removed. Remove it from backups too.\n", d.keyPath)
		} else {
			fmt.Fprintf(stdout, "The plaintext key file %s is no longer needed and still unseals everything: delete it now\n(shred -u %s), and from every backup. The server warns while it exists.\n", d.keyPath, d.keyPath)
		}
	}
	fmt.Fprintf(stdout, "Start the server (coffer server --data %s); it starts sealed. Then unseal it: coffer operator unseal", d.data)
	if shamir {
		fmt.Fprintf(stdout, ", once by each of %d share holders", *threshold)
	}
	fmt.Fprintln(stdout, ".")
	return nil
}

// initRoot returns the root key to seal: the key file's, checked against the store, when the
// store holds data (a migration) or --key-file names an existing file; otherwise a new key.
func initRoot(ctx context.Context, d *deployment, keyFileSet bool) (*keyring.RootKey, bool, error) {
	fresh, err := keyring.NewRootKey()
	if err != nil {
		return nil, false, err
	}
	// A new key cannot open a store that has data: this tells a new store from one in use.
	probe, err := keyring.New(fresh)
	if err != nil {
		return nil, false, err
	}
	check, err := seal.CheckRoot(ctx, d.store, probe)
	probe.Close()
	if err != nil {
		return nil, false, err
	}
	inUse := check != seal.RootUnchecked
	if !inUse && !keyFileSet {
		return fresh, false, nil
	}
	root, err := keyring.ReadRootKey(d.keyPath)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !inUse:
		return fresh, false, nil
	case errors.Is(err, fs.ErrNotExist):
		fresh.Wipe()
		return nil, false, fmt.Errorf("this store holds data under a root key, and %s does not exist: give the deployment's key file with --key-file", d.keyPath)
	case err != nil:
		fresh.Wipe()
		return nil, false, err
	}
	fresh.Wipe()
	keys, err := keyring.New(root)
	if err != nil {
		return nil, false, err
	}
	check, err = seal.CheckRoot(ctx, d.store, keys)
	keys.Close()
	if err != nil {
		return nil, false, err
	}
	if check == seal.RootDiffers {
		root.Wipe()
		return nil, false, fmt.Errorf("the key file %s does not open this store (another deployment's key?)", d.keyPath)
	}
	return root, true, nil
}

// shredFile overwrites a file with zeros, syncs it and removes it. On journaling or
// copy-on-write filesystems and SSDs the old blocks may survive: best effort.
func shredFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err == nil {
		_, err = f.Write(make([]byte, st.Size()))
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	return keyring.SyncDir(filepath.Dir(path))
}
