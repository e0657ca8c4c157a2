package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/core"
	"github.com/coffer-project/coffer/postgres"
	"github.com/coffer-project/coffer/sqlite"
)

// serverFlags are the settings of `coffer server`. Secrets (the administrator key pair) are
// never flags: arguments are visible to every local user. They come from the environment or
// a file instead.
type serverFlags struct {
	listen       string
	data         string
	keyFile      string
	regions      string
	store        string
	tls          string
	tlsCert      string
	tlsKey       string
	insecureHTTP bool
	logLevel     string
	// allowDisableInUse lifts key hygiene server-wide: keys that protect live secrets may be
	// disabled or scheduled for deletion.
	allowDisableInUse bool
	readCache         int
	// trustedProxies are the proxies whose X-Forwarded-For sets aws:SourceIp.
	trustedProxies cidrList
	// passphraseFile unseals a passphrase seal at start.
	passphraseFile string
	// audit configures the audit trail.
	audit auditFlags
	// rotationConfig names the rotators' configuration file.
	rotationConfig string
}

// Environment variables read by `coffer server`.
const (
	envAccountID       = "COFFER_ACCOUNT_ID"
	envAccessKeyID     = "COFFER_ADMIN_ACCESS_KEY_ID"
	envSecretAccessKey = "COFFER_ADMIN_SECRET_ACCESS_KEY"
	envCredentialsFile = "COFFER_ADMIN_CREDENTIALS_FILE"
	envRegion          = "COFFER_REGION"
)

func runServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	tuneGC()
	var f serverFlags
	fs := flag.NewFlagSet("coffer server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8220", "address to listen on")
	fs.StringVar(&f.data, "data", "./coffer-data", "data directory (store, TLS material, first-start credentials)")
	fs.StringVar(&f.keyFile, "key-file", "./coffer-root.key", "root key file, created at first start; keep it outside the data directory")
	fs.StringVar(&f.regions, "region", envOr(envRegion, "us-east-1"), "region(s) served, comma-separated; the first is the default (env "+envRegion+")")
	fs.StringVar(&f.store, "store", "sqlite", "store: sqlite (in the data directory) or a postgres://… URL")
	fs.StringVar(&f.tls, "tls", "off", "TLS: off, auto (certificate generated in the data directory), or files (with --tls-cert and --tls-key)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate file (PEM); implies --tls files")
	fs.StringVar(&f.tlsKey, "tls-key", "", "TLS private key file (PEM); implies --tls files")
	fs.BoolVar(&f.insecureHTTP, "insecure-http", false, "allow plain HTTP on a non-loopback address (values then cross the network in clear)")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&f.passphraseFile, "passphrase-file", "", "unseal a passphrase seal at start with the passphrase in this file (mode 0600)")
	fs.Var(&f.trustedProxies, "trusted-proxy", "address or CIDR of a reverse proxy whose X-Forwarded-For header gives aws:SourceIp (repeatable); from others the header is ignored")
	f.audit.register(fs)
	fs.StringVar(&f.rotationConfig, "rotation-config", "", "JSON file configuring the rotators a RotationLambdaARN may name (docs/rotation.md); without it, only random-value")
	fs.IntVar(&f.readCache, "read-cache", sqlite.DefaultReadCache, "SQLite store: how many secrets (rows and ciphertexts, never values) the read cache keeps; 0 turns it off")
	fs.BoolVar(&f.allowDisableInUse, "allow-disable-in-use", false, "let DisableKey and ScheduleKeyDeletion proceed on KMS keys that still protect live secrets (per key: tag coffer:allow-disable-in-use=true)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: coffer server [flags]\n\nThe administrator key pair and account id may be given with %s, %s and %s,\nor in a file named by %s holding those NAME=value lines.\n\nFlags:\n",
			envAccessKeyID, envSecretAccessKey, envAccountID, envCredentialsFile)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	log, err := newLogger(stderr, f.logLevel)
	if err != nil {
		return err
	}
	regions, err := parseRegions(f.regions)
	if err != nil {
		return err
	}
	if f.tlsCert != "" || f.tlsKey != "" {
		if f.tlsCert == "" || f.tlsKey == "" {
			return errors.New("--tls-cert and --tls-key must be given together")
		}
		f.tls = "files"
	}
	switch f.tls {
	case "off", "auto", "files":
	default:
		return fmt.Errorf("--tls must be off, auto or files, not %q", f.tls)
	}
	if f.tls == "files" && f.tlsCert == "" {
		return errors.New("--tls files needs --tls-cert and --tls-key")
	}
	if f.readCache < 0 {
		return fmt.Errorf("--read-cache must be 0 (off) or more, not %d", f.readCache)
	}
	if f.tls == "off" && !isLoopback(f.listen) && !f.insecureHTTP {
		return fmt.Errorf("refusing plain HTTP on %s, which is not a loopback address: secret values would cross the network in clear; use --tls auto or --tls-cert/--tls-key, or say --insecure-http", f.listen)
	}
	boot, err := bootstrapConfig()
	if err != nil {
		return err
	}

	data, err := filepath.Abs(f.data)
	if err != nil {
		return err
	}
	keyPath, err := filepath.Abs(f.keyFile)
	if err != nil {
		return err
	}
	if keyPath == data || strings.HasPrefix(keyPath, data+string(filepath.Separator)) {
		return fmt.Errorf("the root key file %s is inside the data directory %s: keep it outside, so that a copy of the data is not a copy of the key", keyPath, data)
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	// On SQLite the server is the database's only writer, which its read cache relies on
	// (package sqlite): it holds the lock exclusively. Servers sharing a PostgreSQL store
	// share the lock.
	unlock, err := lockData(data, f.store == "sqlite")
	if err != nil {
		return err
	}
	defer unlock()
	store, err := openStore(ctx, f.store, data, log, sqlite.WithReadCache(f.readCache))
	if err != nil {
		return err
	}
	defer store.Close()

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	gate, err := newGate(runCtx, &f, data, keyPath, store, boot, regions, stdout, log)
	if err != nil {
		return err
	}
	defer gate.Close(context.Background())

	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           gate,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(gate.EndWatches) // long polls answer now rather than hold the shutdown
	scheme := "http"
	if f.tls != "off" {
		cfg, fingerprint, err := tlsConfig(f, data, log)
		if err != nil {
			ln.Close()
			return err
		}
		srv.TLSConfig = cfg
		ln = tlsListener(ln, cfg)
		scheme = "https"
		log.Info("TLS enabled", "certificate_sha256", fingerprint)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if gate.Sealed() {
		log.Warn("coffer is serving, sealed: only /healthz, /readyz and the seal endpoints answer until it is unsealed (coffer operator unseal)", "endpoint", scheme+"://"+ln.Addr().String(), "seal", gate.Status().Type)
	} else {
		log.Info("coffer is serving the AWS Secrets Manager and KMS APIs", "endpoint", scheme+"://"+ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	err = srv.Shutdown(shutCtx)
	if cerr := gate.Close(shutCtx); err == nil {
		err = cerr
	}
	return err
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func parseRegions(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, r := range strings.Split(s, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if !coffer.ValidRegion(r) {
			return nil, fmt.Errorf("%q is not a region name like us-east-1", r)
		}
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("--region names no region")
	}
	return out, nil
}

// isLoopback reports whether a listen address binds only to loopback.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func openStore(ctx context.Context, spec, data string, log *slog.Logger, opts ...sqlite.Option) (coffer.Store, error) {
	switch {
	case spec == "sqlite":
		return sqlite.Open(ctx, filepath.Join(data, "coffer.db"), append([]sqlite.Option{sqlite.WithLogger(log)}, opts...)...)
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		return postgres.Open(ctx, spec)
	}
	return nil, fmt.Errorf("--store must be sqlite or a postgres:// URL")
}

// bootstrapConfig reads the administrator key pair and account id from the environment, or
// from the file that COFFER_ADMIN_CREDENTIALS_FILE names.
func bootstrapConfig() (core.BootstrapConfig, error) {
	vals := map[string]string{}
	if path := os.Getenv(envCredentialsFile); path != "" {
		fv, err := readEnvFile(path)
		if err != nil {
			return core.BootstrapConfig{}, err
		}
		vals = fv
	}
	for _, k := range []string{envAccountID, envAccessKeyID, envSecretAccessKey} {
		if v := os.Getenv(k); v != "" {
			vals[k] = v
		}
	}
	return core.BootstrapConfig{
		AccountID:       vals[envAccountID],
		AccessKeyID:     vals[envAccessKeyID],
		SecretAccessKey: vals[envSecretAccessKey],
	}, nil
}

// readEnvFile reads NAME=value lines ("export " and quotes allowed, # comments). The AWS_*
// names of the credentials file that coffer writes are accepted as the COFFER_ADMIN_* ones.
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envCredentialsFile, err)
	}
	defer f.Close()
	alias := map[string]string{"AWS_ACCESS_KEY_ID": envAccessKeyID, "AWS_SECRET_ACCESS_KEY": envSecretAccessKey}
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"'`)
		if a, ok := alias[k]; ok {
			k = a
		}
		out[k] = v
	}
	return out, sc.Err()
}

// showCredentials shows a generated key pair once: on standard output when it is a terminal,
// otherwise in <data>/admin-credentials (mode 0600), with a log line saying where.
func showCredentials(c *core.AdminCredentials, region string, f serverFlags, data string, stdout io.Writer, log *slog.Logger) error {
	scheme := "http"
	if f.tls != "off" {
		scheme = "https"
	}
	text := fmt.Sprintf(`# coffer administrator credentials for account %s, shown once.
# Load them with:  . %s
# Then, for example:
#   aws --endpoint-url %s://%s secretsmanager list-secrets
export AWS_ACCESS_KEY_ID=%s
export AWS_SECRET_ACCESS_KEY=%s
export AWS_REGION=%s
export AWS_DEFAULT_REGION=%s
`, c.AccountID, filepath.Join(data, "admin-credentials"), scheme, f.listen, c.AccessKeyID, c.SecretAccessKey, region, region)
	if isTerminal(stdout) {
		fmt.Fprint(stdout, "\nFirst start: these administrator credentials are shown only this once.\n\n"+text+"\n")
		return nil
	}
	path := filepath.Join(data, "admin-credentials")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return fmt.Errorf("write first-start credentials: %w", err)
	}
	log.Info("first start: administrator credentials written (standard output is not a terminal)", "file", path)
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// cidrList is a repeatable flag of addresses or CIDR ranges.
type cidrList []*net.IPNet

func (c *cidrList) String() string {
	var s []string
	for _, n := range *c {
		s = append(s, n.String())
	}
	return strings.Join(s, ",")
}

func (c *cidrList) Set(v string) error {
	if !strings.Contains(v, "/") {
		ip := net.ParseIP(v)
		if ip == nil {
			return fmt.Errorf("%q is not an address or CIDR range", v)
		}
		bits := 32
		if ip.To4() == nil {
			bits = 128
		}
		v = fmt.Sprintf("%s/%d", v, bits)
	}
	_, n, err := net.ParseCIDR(v)
	if err != nil {
		return fmt.Errorf("%q is not an address or CIDR range", v)
	}
	*c = append(*c, n)
	return nil
}

// tuneGC lets the heap grow to five times the live heap between collections (GOGC=400)
// unless the GOGC environment variable says otherwise. A server's live heap is small (tens
// of MiB: values are read from the store and wiped per call), and collecting four times less
// often gave the read path a third more throughput on two cores (docs/performance.md).
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}
