package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/core"
	"github.com/coffer-project/coffer/keyring"
	"github.com/coffer-project/coffer/sqlite"
)

// Populating a data directory.
const (
	// populateMarker names the file, in the data directory, that holds how many bench/pop/
	// secrets it has.
	populateMarker = "bench-populated"
	// populateWorkers is how many goroutines create the secrets.
	populateWorkers = 32
	// populateValueSize is the size of each populated secret's value.
	populateValueSize = 64
)

// populate makes data hold n secrets named bench/pop/%09d with random 64-byte values, in the
// default account's namespace of region, creating those it lacks by calling the core
// directly from populateWorkers goroutines (no HTTP, no audit records). It prints progress
// every 10 % and the rate.
func populate(ctx context.Context, out io.Writer, data, keyPath, region string, n int) error {
	have := populated(data)
	if have >= n {
		fmt.Fprintf(out, "populate: %s holds %d bench/pop/ secrets already (%s); none created\n", data, have, populateMarker)
		return nil
	}
	unlock, err := lockData(data, true)
	if err != nil {
		return err
	}
	defer unlock()
	root, err := keyring.ReadRootKey(keyPath)
	if err != nil {
		return err
	}
	keys, err := keyring.New(root)
	root.Wipe()
	if err != nil {
		return err
	}
	defer keys.Close()
	store, err := sqlite.Open(ctx, filepath.Join(data, "coffer.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	res, err := core.Bootstrap(ctx, store, keys, core.BootstrapConfig{})
	if err != nil {
		return err
	}
	p := &populator{
		svc:   core.New(store, keys, core.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}),
		ns:    coffer.Namespace{Account: res.AccountID, Region: region},
		out:   out,
		from:  have,
		to:    n,
		start: time.Now(),
	}
	p.next.Store(int64(have))
	if err := p.run(ctx); err != nil {
		return err
	}
	elapsed := time.Since(p.start)
	fmt.Fprintf(out, "populate: %d secrets created in %s, %.0f secrets/s (%d goroutines calling core.CreateSecret)\n",
		n-have, elapsed.Round(time.Millisecond), float64(n-have)/elapsed.Seconds(), populateWorkers)
	return os.WriteFile(filepath.Join(data, populateMarker), []byte(strconv.Itoa(n)+"\n"), 0o600)
}

// populated returns how many bench/pop/ secrets the marker of data counts.
func populated(data string) int {
	b, err := os.ReadFile(filepath.Join(data, populateMarker))
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return n
}

// populator creates the secrets from index from up to to.
type populator struct {
	svc      *core.Service
	ns       coffer.Namespace
	out      io.Writer
	from, to int
	start    time.Time
	next     atomic.Int64 // the next index to create
	done     atomic.Int64 // how many are created
	mu       sync.Mutex   // serializes progress lines
	tenths   int64        // tenths printed, under mu
}

// run creates the secrets from populateWorkers goroutines and returns the first failure.
func (p *populator) run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for range populateWorkers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(p.next.Add(1) - 1)
				if i >= p.to {
					return
				}
				if err := p.create(ctx, i); err != nil {
					cancel(err)
					return
				}
				p.progress(p.done.Add(1))
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// create creates secret i; one that exists already (from an interrupted run) counts.
func (p *populator) create(ctx context.Context, i int) error {
	name, token := popName(i), newToken()
	value := core.Text(randomText(populateValueSize))
	defer clear(value)
	_, err := p.svc.CreateSecret(ctx, p.ns, &core.CreateSecretInput{Name: &name, ClientRequestToken: &token, SecretString: &value})
	if err != nil && coffer.ErrorCode(err) != coffer.ErrResourceExists {
		return fmt.Errorf("bench: populate %s: %w", name, err)
	}
	return nil
}

// progress prints a line each time another tenth of the secrets is created.
func (p *populator) progress(done int64) {
	total := int64(p.to - p.from)
	p.mu.Lock()
	defer p.mu.Unlock()
	if done*10/total <= p.tenths {
		return
	}
	p.tenths = done * 10 / total
	elapsed := time.Since(p.start)
	fmt.Fprintf(p.out, "populate: %d/%d (%d %%), %s, %.0f secrets/s\n",
		done, total, done*100/total, elapsed.Round(time.Millisecond), float64(done)/elapsed.Seconds())
}
