package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/audit"
	"github.com/coffer-project/coffer/keyring"
)

// auditFlags configure the audit trail of `coffer server`.
type auditFlags struct {
	dir            string
	stdout         bool
	table          string
	digestFile     string
	digestEvery    int
	digestInterval time.Duration
	maxFileMiB     int
	maxFileAge     time.Duration
	retention      time.Duration
	syncReads      bool
}

func (a *auditFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.dir, "audit-dir", "", "directory of the audit trail's files (default: <data>/audit)")
	fs.BoolVar(&a.stdout, "audit-stdout", false, "also write every audit record to stdout (not durable: never counts as the record of a call)")
	fs.StringVar(&a.table, "audit-table", "auto", "also keep the audit trail in the PostgreSQL store's table: auto (when the store is PostgreSQL), on, off")
	fs.StringVar(&a.digestFile, "audit-digest-file", "", "also append every signed digest to this file: put it on another disk or host, as an anchor the log's host cannot rewrite")
	fs.IntVar(&a.digestEvery, "audit-digest-every", 1000, "write a signed digest after this many records")
	fs.DurationVar(&a.digestInterval, "audit-digest-interval", time.Minute, "and at least this often while records are written")
	fs.IntVar(&a.maxFileMiB, "audit-max-file-size", 64, "start a new audit file past this many MiB")
	fs.DurationVar(&a.maxFileAge, "audit-max-file-age", 24*time.Hour, "start a new audit file when the current one is this old")
	fs.BoolVar(&a.syncReads, "audit-sync-reads", false, "answer calls that changed nothing (reads, refusals) only once their record is fsynced too, as changes always are; by default their record is written to the file before the answer and fsynced right after")
	fs.DurationVar(&a.retention, "audit-retention", 0, "remove audit files older than this (e.g. 2160h for 90 days), keeping a signed anchor; 0 keeps every file")
}

// serverIDFile names the file, in the data directory, that holds this server's name in the
// audit trail: servers sharing a PostgreSQL store keep one chain each.
const serverIDFile = "server-id"

// serverID returns this server's name, made at first start.
func serverID(data string) (string, error) {
	path := filepath.Join(data, serverIDFile)
	b, err := os.ReadFile(path)
	if err == nil {
		id := strings.TrimSpace(string(b))
		if id == "" || len(id) > 64 {
			return "", fmt.Errorf("%s: not a server name", path)
		}
		return id, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	id := "coffer-" + hex.EncodeToString(r[:])
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", err
	}
	return id, keyring.SyncDir(data)
}

// signingKey returns this server's digest-signing key, sealed in the store under the root
// key (coffer.AuditSigningKeyMeta); it is made at first start.
func signingKey(ctx context.Context, store coffer.Store, keys *keyring.Keyring, server string) (ed25519.PrivateKey, error) {
	name := coffer.AuditSigningKeyMeta + server
	var seed []byte
	err := store.Update(ctx, func(tx coffer.Tx) error {
		seed = nil
		sealed, err := tx.Meta(name)
		if err == nil {
			seed, err = keys.OpenSecret(name, sealed)
			if err != nil {
				return fmt.Errorf("opening the audit signing key of %s: %w", server, err)
			}
			return nil
		}
		if !coffer.IsNotFound(err) {
			return err
		}
		seed = make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return err
		}
		if sealed, err = keys.SealSecret(name, seed); err != nil {
			return err
		}
		return tx.PutMeta(name, sealed)
	})
	if err != nil {
		return nil, err
	}
	if len(seed) != ed25519.SeedSize {
		return nil, errors.New("the stored audit signing key is not an Ed25519 seed")
	}
	key := ed25519.NewKeyFromSeed(seed)
	keyring.Wipe(seed)
	return key, nil
}

// publicKeyFile is where the audit directory holds the server's digest key, for verifiers.
const publicKeyFile = "signing.pub"

// openAudit opens the server's audit trail: its files, the PostgreSQL table when asked, stdout
// when asked, and the digest file; it returns the log and where LookupEvents reads it.
func openAudit(ctx context.Context, af *auditFlags, data string, store coffer.Store, keys *keyring.Keyring, stdout io.Writer, log *slog.Logger) (*audit.Log, audit.Source, error) {
	server, err := serverID(data)
	if err != nil {
		return nil, nil, err
	}
	key, err := signingKey(ctx, store, keys, server)
	if err != nil {
		return nil, nil, err
	}
	dir := af.dir
	if dir == "" {
		dir = filepath.Join(data, "audit")
	}
	files, err := audit.OpenFileSink(audit.FileOptions{Dir: dir, MaxBytes: int64(af.maxFileMiB) << 20, MaxAge: af.maxFileAge, Retention: af.retention,
		Anchor: func(seq uint64, hash string) *audit.Digest {
			return audit.SignDigest(key, server, seq, hash, audit.FormatTimeMilli(time.Now()))
		}})
	if err != nil {
		return nil, nil, fmt.Errorf("audit files: %w", err)
	}
	pub := base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)) + "\n"
	if err := os.WriteFile(filepath.Join(dir, publicKeyFile), []byte(pub), 0o644); err != nil {
		files.Close()
		return nil, nil, err
	}
	sinks := []audit.Sink{files}
	var src audit.Source = audit.DirSource(dir)
	table, isTable := store.(coffer.AuditTable)
	switch af.table {
	case "auto", "on", "off":
	default:
		files.Close()
		return nil, nil, fmt.Errorf("--audit-table must be auto, on or off, not %q", af.table)
	}
	if af.table == "on" && !isTable {
		files.Close()
		return nil, nil, errors.New("--audit-table on: the store is not PostgreSQL")
	}
	if isTable && af.table != "off" {
		sinks = append(sinks, audit.NewTableSink(table, server))
		src = audit.TableSource{Table: table, Server: server}
	}
	if af.stdout {
		sinks = append(sinks, audit.WriterSink{W: stdout})
	}
	var digests []audit.DigestSink
	if af.digestFile != "" {
		d, err := audit.OpenDigestFile(af.digestFile)
		if err != nil {
			files.Close()
			return nil, nil, fmt.Errorf("--audit-digest-file: %w", err)
		}
		digests = append(digests, d)
	}
	l, err := audit.Open(audit.Options{Server: server, Key: key, Sinks: sinks, Digests: digests,
		DigestEvery: af.digestEvery, DigestInterval: af.digestInterval, Logger: log})
	if err != nil {
		for _, s := range sinks {
			s.Close()
		}
		for _, d := range digests {
			d.Close()
		}
		return nil, nil, err
	}
	log.Info("audit trail open", "server", server, "dir", dir, "table", len(sinks) > 1 && isTable && af.table != "off", "next_record", l.Stats().Seq+1)
	return l, src, nil
}
