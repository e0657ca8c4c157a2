package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/coffer-project/coffer/agent"
	"github.com/coffer-project/coffer/client"
)

// ttlFlag is a TTL given as seconds (300), as the AWS agent's ttl_seconds, or as a
// duration (5m).
type ttlFlag struct{ d time.Duration }

func (t *ttlFlag) String() string { return strconv.Itoa(int(t.d / time.Second)) }

func (t *ttlFlag) Set(s string) error {
	if n, err := strconv.Atoi(s); err == nil {
		t.d = time.Duration(n) * time.Second
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want seconds (300) or a duration (5m)")
	}
	t.d = d
	return nil
}

// runAgent runs `coffer agent`: the local agent compatible with the AWS Secrets Manager
// Agent, on 127.0.0.1 and ::1, until ctx ends.
func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("coffer agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ttl := &ttlFlag{agent.DefaultTTL}
	configPath := fs.String("config", "", "the AWS agent's TOML configuration `file` (flags override it)")
	port := fs.Int("port", agent.DefaultPort, "port on 127.0.0.1 and ::1 (1024–65535; 0 picks one)")
	fs.Var(ttl, "ttl", "how long a value is served from memory: seconds or a duration, 0 to 3600s (0: no cache)")
	cacheSize := fs.Int("cache-size", agent.DefaultCacheSize, "most secret values held, 1 to 1000")
	maxConn := fs.Int("max-conn", agent.DefaultMaxConn, "most connections open at once, 1 to 1000 (beyond: 429)")
	endpoint := fs.String("endpoint", firstNonEmpty(os.Getenv("AWS_ENDPOINT_URL_SECRETS_MANAGER"), os.Getenv("AWS_ENDPOINT_URL")),
		"coffer server or Secrets Manager endpoint (default $AWS_ENDPOINT_URL_SECRETS_MANAGER, $AWS_ENDPOINT_URL, else AWS's)")
	region := fs.String("region", firstNonEmpty(os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), "us-east-1"), "region")
	logLevel := fs.String("log-level", "info", "debug, info, warn, error or none")
	reportInterval := fs.Duration("report-interval", agent.DefaultReportInterval, "how often reads answered from the cache are reported to a coffer --endpoint's audit trail (coffer.ReportCachedReads); 0: never")
	snapshot := fs.String("snapshot", "", "encrypted `file` keeping the cache's values across restarts, served while the server is unreachable at start")
	snapshotKeyFile := fs.String("snapshot-key-file", "", "`file` holding the snapshot's key: 32 bytes or their base64, mode 0600 (default $COFFER_AGENT_SNAPSHOT_KEY, base64)")
	watch := fs.Bool("watch", true, "learn of changes at once from a coffer --endpoint (coffer.WatchSecrets); stops by itself against AWS")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: coffer agent [flags]\n\nA local HTTP agent compatible with the AWS Secrets Manager Agent (docs/agent.md).\nThe token comes from $AWS_TOKEN, $AWS_SESSION_TOKEN or $AWS_CONTAINER_AUTHORIZATION_TOKEN\n(a value may be file://PATH); the credentials from $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("agent: unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var file agent.File
	if *configPath != "" {
		data, err := os.ReadFile(*configPath)
		if err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		if file, err = agent.ParseFile(data); err != nil {
			return fmt.Errorf("agent: %s: %w", *configPath, err)
		}
	}
	// The file's settings apply where no flag was given.
	override := func(name string, dst *int, v *int) {
		if v != nil && !set[name] {
			*dst = *v
		}
	}
	override("port", port, file.HTTPPort)
	override("cache-size", cacheSize, file.CacheSize)
	override("max-conn", maxConn, file.MaxConn)
	if file.TTLSeconds != nil && !set["ttl"] {
		ttl.d = time.Duration(*file.TTLSeconds) * time.Second
	}
	if file.Region != nil && !set["region"] {
		*region = *file.Region
	}
	if file.LogLevel != nil && !set["log-level"] {
		*logLevel = *file.LogLevel
	}

	if *port != 0 && (*port < 1024 || *port > 65535) {
		return fmt.Errorf("agent: --port must be between 1024 and 65535 (or 0), not %d", *port)
	}
	if ttl.d < 0 || ttl.d > agent.MaxTTL {
		return fmt.Errorf("agent: --ttl must be between 0 and 3600 seconds, not %v", ttl.d)
	}
	if *cacheSize < 1 || *cacheSize > agent.MaxCacheSize {
		return fmt.Errorf("agent: --cache-size must be between 1 and %d, not %d", agent.MaxCacheSize, *cacheSize)
	}
	if *maxConn < 1 || *maxConn > agent.MaxMaxConn {
		return fmt.Errorf("agent: --max-conn must be between 1 and %d, not %d", agent.MaxMaxConn, *maxConn)
	}
	level, quiet, err := parseLogLevel(*logLevel)
	if err != nil {
		return err
	}
	var log *slog.Logger
	if quiet {
		log = slog.New(slog.DiscardHandler)
	} else {
		log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	}

	token, err := agent.TokenFromEnv(file.TokenEnv, os.LookupEnv, nil)
	if err != nil {
		return err
	}
	creds, err := envCredentials("the agent's, to read secrets")
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	sm := secretsmanager.NewFromConfig(aws.Config{
		Region:           *region,
		Credentials:      creds,
		RetryMaxAttempts: 1, // the cache retries, with backoff
	}, func(o *secretsmanager.Options) {
		if *endpoint != "" {
			o.BaseEndpoint = aws.String(*endpoint)
		}
	})
	maxStale := time.Duration(0)
	if file.IgnoreTransientErrors != nil && !*file.IgnoreTransientErrors {
		maxStale = -1
	}
	pathPrefix := ""
	if file.PathPrefix != nil {
		pathPrefix = *file.PathPrefix
	}
	if *reportInterval < 0 {
		return fmt.Errorf("agent: --report-interval must not be negative, not %v", *reportInterval)
	}
	var watcher agent.Watcher
	if *watch && *endpoint != "" && ttl.d > 0 {
		watcher = client.New(*endpoint, *region, creds, &http.Client{Timeout: 90 * time.Second})
	}
	var reporter agent.Reporter
	if *reportInterval > 0 && *endpoint != "" && ttl.d > 0 {
		reporter = client.New(*endpoint, *region, creds, &http.Client{Timeout: 30 * time.Second})
	}
	var snapshotKey []byte
	if *snapshot != "" {
		switch env := os.Getenv("COFFER_AGENT_SNAPSHOT_KEY"); {
		case *snapshotKeyFile != "":
			snapshotKey, err = agent.ReadSnapshotKeyFile(*snapshotKeyFile)
		case env != "":
			snapshotKey, err = agent.ParseSnapshotKey([]byte(env))
		default:
			err = errors.New("agent: --snapshot needs a key: --snapshot-key-file or $COFFER_AGENT_SNAPSHOT_KEY")
		}
		if err != nil {
			return err
		}
		defer clear(snapshotKey)
	} else if *snapshotKeyFile != "" {
		return errors.New("agent: --snapshot-key-file without --snapshot")
	}
	a, err := agent.New(agent.Config{
		Reporter:       reporter,
		ReportInterval: *reportInterval,
		SnapshotPath:   *snapshot,
		SnapshotKey:    snapshotKey,
		Watcher:        watcher,
		Client:         sm,
		Token:          token,
		TokenHeaders:   file.TokenHeaders,
		PathPrefix:     pathPrefix,
		TTL:            ttl.d,
		TTLJitter:      ttl.d / 10,
		CacheSize:      *cacheSize,
		MaxConn:        *maxConn,
		MaxStale:       maxStale,
		Logger:         log,
	})
	if err != nil {
		return err
	}

	var lc net.ListenConfig
	ln4, err := lc.Listen(ctx, "tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)))
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	lns := []net.Listener{ln4}
	// ::1 on the port 127.0.0.1 got, so that "localhost" is one port whichever it resolves
	// to, with --port 0 too.
	port4 := ln4.Addr().(*net.TCPAddr).Port
	ln6, err := lc.Listen(ctx, "tcp6", net.JoinHostPort("::1", strconv.Itoa(port4)))
	if err != nil {
		log.Warn("agent: not listening on ::1; 127.0.0.1 only", "err", err)
	} else {
		lns = append(lns, ln6)
	}
	where := make([]string, len(lns))
	for i, ln := range lns {
		where[i] = "http://" + ln.Addr().String()
	}
	target := *endpoint
	if target == "" {
		target = "AWS Secrets Manager in " + *region
	}
	fmt.Fprintf(stdout, "coffer agent listening on %s (secrets from %s, ttl %v)\n", strings.Join(where, " and "), target, ttl.d)
	return a.Serve(ctx, lns...)
}

// parseLogLevel reads the AWS agent's log levels; quiet is NONE.
func parseLogLevel(s string) (level slog.Level, quiet bool, err error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, false, nil
	case "info":
		return slog.LevelInfo, false, nil
	case "warn":
		return slog.LevelWarn, false, nil
	case "error":
		return slog.LevelError, false, nil
	case "none":
		return 0, true, nil
	}
	return 0, false, fmt.Errorf("agent: the log level must be DEBUG, INFO, WARN, ERROR or NONE, not %q", s)
}
