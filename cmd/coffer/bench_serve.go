package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/core"
	"github.com/coffer-project/coffer/keyring"
	"github.com/coffer-project/coffer/server"
)

// serveBench is the hidden mode of coffer bench that runs as its child process, not listed
// in the usage:
//
//	coffer bench --serve coffer --data DIR --key-file FILE --region R
//	coffer bench --serve baseline --body-file FILE
//	coffer bench --serve sqlite --db FILE --writers N --size B --warmup D --duration D
//
// The first two serve on a loopback port and print their benchReady line once they do; the
// third runs the SQLite baseline and prints its line with the result. Each ends when its
// standard input closes.
func serveBench(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("coffer bench --serve", flag.ContinueOnError)
	kind := fs.String("serve", "", "coffer, baseline or sqlite")
	data := fs.String("data", "", "data directory (coffer)")
	keyFile := fs.String("key-file", "", "root key file, mode 0600 (coffer)")
	region := fs.String("region", "us-east-1", "region served (coffer)")
	cpuProfile := fs.String("cpuprofile", "", "CPU profile to write from ready to the end (coffer)")
	store := fs.String("store", "sqlite", "sqlite or a postgres:// URL (coffer)")
	bodyFile := fs.String("body-file", "", "the response to serve (baseline)")
	db := fs.String("db", "", "database file to create (sqlite)")
	writers := fs.Int("writers", 16, "concurrent writers (sqlite)")
	size := fs.Int("size", defaultPutSize, "bytes per row (sqlite)")
	warmup := fs.Duration("warmup", time.Second, "unmeasured warm-up (sqlite)")
	duration := fs.Duration("duration", 5*time.Second, "measured duration (sqlite)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	switch *kind {
	case "coffer":
		if *cpuProfile != "" {
			f, err := os.OpenFile(*cpuProfile, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		return serveCoffer(ctx, *data, *keyFile, *region, *store, stdout)
	case "baseline":
		return serveBaseline(ctx, *bodyFile, stdout)
	case "sqlite":
		res, err := runSQLiteBaseline(ctx, *db, *writers, *size, *warmup, *duration)
		if err != nil {
			return err
		}
		return writeReady(stdout, benchReady{PID: os.Getpid(), Result: res})
	}
	return fmt.Errorf("bench: --serve %q: not coffer, baseline or sqlite", *kind)
}

// writeReady prints the child's line.
func writeReady(w io.Writer, r benchReady) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// serveCoffer serves a coffer server on data until ctx is done.
func serveCoffer(ctx context.Context, data, keyFile, region, store string, stdout io.Writer) error {
	tuneGC() // as coffer server does
	if data == "" || keyFile == "" {
		return errors.New("bench: --serve coffer needs --data and --key-file")
	}
	// The only writer of its SQLite database, as a server on SQLite is.
	unlock, err := lockData(data, true)
	if err != nil {
		return err
	}
	defer unlock()
	srv, err := openBenchServer(ctx, data, keyFile, region, store)
	if err != nil {
		return err
	}
	defer srv.close()
	return serveUntilDone(ctx, srv.handler, benchReady{AccessKeyID: srv.accessKeyID, SecretAccessKey: srv.secretAccessKey}, stdout)
}

// serveBaseline serves the bytes of bodyFile, fixed, from a bare net/http handler until ctx
// is done: the ceiling of HTTP on this machine for a response of that size.
func serveBaseline(ctx context.Context, bodyFile string, stdout io.Writer) error {
	body, err := os.ReadFile(bodyFile)
	if err != nil {
		return fmt.Errorf("bench: --serve baseline: %w", err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("x-amzn-RequestId", "00000000-0000-4000-8000-000000000000")
		w.Write(body)
	})
	return serveUntilDone(ctx, h, benchReady{}, stdout)
}

// serveUntilDone serves h on a loopback port, prints ready completed with the address and
// pid, and serves until ctx is done.
func serveUntilDone(ctx context.Context, h http.Handler, ready benchReady, stdout io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	ready.PID, ready.Addr = os.Getpid(), ln.Addr().String()
	if err := writeReady(stdout, ready); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// benchServer is the coffer server a bench child serves, wired as the bench always has: a
// fresh administrator key pair, SQLite, and every call durably audited.
type benchServer struct {
	handler         http.Handler
	accessKeyID     string
	secretAccessKey string
	close           func()
}

// openBenchServer opens the store in data with the root key in keyFile and builds the
// server's handler.
func openBenchServer(ctx context.Context, data, keyFile, region, storeSpec string) (*benchServer, error) {
	root, err := keyring.ReadRootKey(keyFile)
	if err != nil {
		return nil, err
	}
	keys, err := keyring.New(root)
	root.Wipe()
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := openStore(ctx, storeSpec, data, log)
	if err != nil {
		keys.Close()
		return nil, err
	}
	fail := func(err error) (*benchServer, error) {
		store.Close()
		keys.Close()
		return nil, err
	}
	gen, err := core.NewAccessKeyPair()
	if err != nil {
		return fail(err)
	}
	if _, err := core.Bootstrap(ctx, store, keys, core.BootstrapConfig{AccessKeyID: gen.AccessKeyID, SecretAccessKey: gen.SecretAccessKey}); err != nil {
		return fail(err)
	}
	svc := core.New(store, keys, core.Options{Logger: log})
	// Every safeguard on: the calls are audited, durably, as a server audits them.
	trail, _, err := openAudit(ctx, &auditFlags{table: "auto", digestEvery: 1000, digestInterval: time.Minute, maxFileMiB: 64, maxFileAge: 24 * time.Hour}, data, store, keys, io.Discard, log)
	if err != nil {
		return fail(err)
	}
	intents, _ := store.(coffer.AuditIntentStore)
	writer, _ := store.(coffer.WriterStatsSource)
	if intents != nil {
		if _, err := server.RecoverAuditIntents(ctx, intents, trail); err != nil {
			trail.Close()
			return fail(err)
		}
	}
	h := server.New(server.Config{Regions: []string{region}, Secrets: svc, Creds: server.NewCredentials(store, keys), Logger: log, Audit: trail,
		AuditIntents: intents, SharedStore: storeSpec != "sqlite", Writer: writer})
	recCtx, stopRecorder := context.WithCancel(context.Background())
	recorded := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		wg.Go(func() { svc.RunAccessRecorder(recCtx) })
		wg.Go(func() { h.RunAuditIntents(recCtx) })
		wg.Wait()
		close(recorded)
	}()
	return &benchServer{handler: h, accessKeyID: gen.AccessKeyID, secretAccessKey: gen.SecretAccessKey, close: func() {
		stopRecorder()
		<-recorded
		trail.Close()
		store.Close()
		keys.Close()
	}}, nil
}
