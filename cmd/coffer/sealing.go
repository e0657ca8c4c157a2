package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/core"
	"github.com/coffer-project/coffer/keyring"
	"github.com/coffer-project/coffer/kms"
	"github.com/coffer-project/coffer/rotation"
	"github.com/coffer-project/coffer/seal"
	"github.com/coffer-project/coffer/server"
)

// newGate resolves the deployment's seal and returns the server's gate: open at once for a
// key file (as before sealing existed) or a passphrase seal given --passphrase-file, sealed
// otherwise until operators unseal it.
func newGate(ctx context.Context, f *serverFlags, data, keyPath string, store coffer.Store, boot core.BootstrapConfig, regions []string, stdout io.Writer, log *slog.Logger) (*server.Gate, error) {
	sealPath := filepath.Join(data, seal.ConfigFile)
	cfg, res, err := seal.ResolveConfig(ctx, store, sealPath)
	if err != nil {
		return nil, err
	}
	logResolution(log, res, sealPath)
	a := &api{ctx: ctx, f: f, data: data, store: store, boot: boot, regions: regions, stdout: stdout, log: log}
	gate, err := server.NewGate(server.GateConfig{Seal: cfg, Open: a.open, Logger: log})
	if err != nil {
		return nil, err
	}
	a.gate = gate
	if f.passphraseFile != "" && cfg.Type != seal.TypePassphrase {
		return nil, fmt.Errorf("--passphrase-file: this deployment's seal is %s, not passphrase", cfg.Type)
	}
	switch cfg.Type {
	case seal.TypeKeyFile:
		res, err := seal.ResolveKeyFile(ctx, store, keyPath)
		if err != nil {
			return nil, err
		}
		logResolution(log, res, keyPath)
		root, created, err := keyring.LoadOrCreateRootKey(keyPath)
		if err != nil {
			return nil, err
		}
		if created {
			log.Warn("created a new root key file; it is a plain key file, fit for development only (seal the root key with coffer operator init): back it up, and keep it apart from the data directory", "key_file", keyPath)
		} else {
			log.Warn("the root key is read from a plain key file: fit for development only (seal it with coffer operator init)", "key_file", keyPath)
		}
		if err := gate.Unseal(root); err != nil {
			return nil, err
		}
		return gate, nil
	case seal.TypePassphrase:
		if f.passphraseFile != "" {
			p, err := readSecretFile(f.passphraseFile)
			if err != nil {
				return nil, fmt.Errorf("--passphrase-file: %w", err)
			}
			root, err := seal.UnwrapPassphrase(cfg, p)
			keyring.Wipe(p)
			if err != nil {
				return nil, fmt.Errorf("--passphrase-file: %w", err)
			}
			if err := gate.Unseal(root); err != nil {
				return nil, err
			}
		}
	}
	if _, err := os.Stat(keyPath); err == nil {
		log.Warn("a plaintext root key file is still present although the root key is sealed: delete it (shred -u) and remove it from backups", "key_file", keyPath)
	}
	return gate, nil
}

func logResolution(log *slog.Logger, res seal.Resolution, path string) {
	switch res {
	case seal.FinishedRotation:
		log.Warn("an interrupted root rotation had committed: its new seal now replaces the old one", "file", path)
	case seal.DiscardedRotation:
		log.Warn("an interrupted root rotation had not committed: its next file was discarded (shares it showed are void)", "file", seal.NextPath(path))
	}
}

// api builds the server's API once the root key is known (server.GateConfig.Open).
type api struct {
	ctx     context.Context // the server's: background work stops with it
	f       *serverFlags
	data    string
	store   coffer.Store
	boot    core.BootstrapConfig
	regions []string
	stdout  io.Writer
	log     *slog.Logger
	gate    *server.Gate
}

// open derives the keyring, verifies the root key against the store (core.Bootstrap), builds
// the services, the handler and the background work.
func (a *api) open(root *keyring.RootKey) (*server.Unsealed, error) {
	keys, err := keyring.New(root)
	if err != nil {
		return nil, err
	}
	res, err := core.Bootstrap(a.ctx, a.store, keys, a.boot)
	if err == nil && res.Generated != nil {
		err = showCredentials(res.Generated, a.regions[0], *a.f, a.data, a.stdout, a.log)
	}
	if err != nil {
		keys.Close()
		return nil, err
	}
	a.log.Info("default account ready", "account", res.AccountID, "regions", strings.Join(a.regions, ","), "first_start", res.FirstStart)

	trail, trailSrc, err := openAudit(a.ctx, &a.f.audit, a.data, a.store, keys, a.stdout, a.log)
	if err != nil {
		keys.Close()
		return nil, err
	}
	// On a store that keeps audit intents (SQLite), the records a crash left only there go
	// to the trail before anything else does.
	intents, _ := a.store.(coffer.AuditIntentStore)
	writer, _ := a.store.(coffer.WriterStatsSource)
	if intents != nil {
		n, err := server.RecoverAuditIntents(a.ctx, intents, trail)
		if err != nil {
			trail.Close()
			keys.Close()
			return nil, fmt.Errorf("recovering the audit records committed with their calls: %w", err)
		}
		if n > 0 {
			a.log.Warn("appended to the audit trail the records of calls committed before the last stop whose records it lacked", "calls", n)
		}
	}
	keySvc := kms.New(a.store, keys, kms.Options{Logger: a.log, AllowDisableInUse: a.f.allowDisableInUse})
	svc := core.New(a.store, keys, core.Options{Logger: a.log, KMS: keySvc})
	h := server.New(server.Config{
		Audit:          trail,
		AuditSyncReads: a.f.audit.syncReads,
		AuditSource:    trailSrc,
		AuditIntents:   intents,
		Writer:         writer,
		Regions:        a.regions,
		Secrets:        svc,
		Creds:          server.NewCredentials(a.store, keys),
		Logger:         a.log,
		Ready: func(ctx context.Context) error {
			return a.store.View(ctx, func(tx coffer.Tx) error { _, err := tx.Meta("default-account"); return err })
		},
		Seal:           a.gate.Seal,
		TrustedProxies: a.f.trustedProxies,
		SharedStore:    a.f.store != "sqlite",
	})
	rotators := rotation.Defaults()
	if a.f.rotationConfig != "" {
		if rotators, err = rotation.LoadConfig(a.f.rotationConfig); err != nil {
			trail.Close()
			keys.Close()
			return nil, err
		}
	}
	serverName, err := serverID(a.data)
	if err != nil {
		trail.Close()
		keys.Close()
		return nil, err
	}
	engine := rotation.New(rotation.Options{Rotators: rotators, Store: a.store, Secrets: svc, Credentials: h.RotatorCredentials,
		Client: h.InProcessClient, Event: h.RecordServiceEvent, Logger: a.log, Server: serverName})
	h.SetRotations(engine)
	jobs, cancel := context.WithCancel(a.ctx)
	var wg sync.WaitGroup
	wg.Go(func() { svc.RunPurger(jobs, time.Minute) })
	wg.Go(func() { keySvc.RunScheduler(jobs) })
	wg.Go(func() { svc.RunAccessRecorder(jobs) })
	wg.Go(func() { engine.RunScheduler(jobs, time.Minute) })
	wg.Go(func() { h.IAM().RunKeyUsageRecorder(jobs) })
	wg.Go(func() { h.RunAuditIntents(jobs) })
	return &server.Unsealed{Handler: h, Close: func() {
		cancel()
		wg.Wait()
		if err := trail.Close(); err != nil {
			a.log.Error("closing the audit trail", "err", err)
		}
		keys.Close()
	}}, nil
}
