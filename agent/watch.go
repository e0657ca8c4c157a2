package agent

import (
	"context"
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/coffer-project/coffer/cache"
	"github.com/coffer-project/coffer/client"
)

// Watcher is the long poll the agent learns of changes by: coffer's WatchSecrets, which
// *client.Client implements. AWS has no such operation; against it the TTL alone rules.
type Watcher interface {
	WatchSecrets(ctx context.Context, in *client.WatchInput) (*client.WatchOutput, error)
}

// Bounds of the watcher.
const (
	watchWait       = 20   // seconds the server is asked to wait
	watchMaxSecrets = 1000 // the most the server takes in one call, and the most the cache holds
	watchBackoffMin = time.Second
	watchBackoffMax = 30 * time.Second
)

// Watch asks the server, in a long poll, to say when a secret the cache holds changes, and
// drops a changed secret from the cache so that the next read gets the new value. It
// returns when ctx ends, or at once when the agent has no Watcher or no cache, or when the
// server does not know the operation (AWS). Serve runs it.
func (a *Agent) Watch(ctx context.Context) {
	if a.watcher == nil || a.noCache {
		return
	}
	known := map[string]map[string][]string{} // what the server last said, per secret held
	skip := map[string]bool{}                 // secrets the server says nothing about
	var backoff time.Duration
	for ctx.Err() == nil {
		byID := map[string][]cache.Held{}
		for _, h := range a.cache.Held() {
			if !skip[h.SecretID] {
				byID[h.SecretID] = append(byID[h.SecretID], h)
			}
		}
		for id := range known {
			if byID[id] == nil {
				delete(known, id)
			}
		}
		if len(byID) == 0 {
			sleepCtx(ctx, a.watchIdle)
			continue
		}
		ids := make([]string, 0, len(byID))
		for id := range byID {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		if len(ids) > watchMaxSecrets {
			ids = ids[:watchMaxSecrets] // the others are left to the TTL
		}
		in := &client.WatchInput{WaitSeconds: watchWait}
		for _, id := range ids {
			m := known[id]
			if m == nil || !holds(m, byID[id]) {
				m = map[string][]string{}
				for _, h := range byID[id] {
					m[h.VersionID] = h.VersionStages
				}
			}
			in.Secrets = append(in.Secrets, client.Watched{SecretID: id, VersionIdsToStages: m})
		}
		pctx, cancel := context.WithCancel(ctx)
		seen := make(map[string]bool, len(byID)+len(skip)) // the goroutine's own: skip changes
		for id := range byID {
			seen[id] = true
		}
		for id := range skip {
			seen[id] = true
		}
		go a.cancelOnNewHeld(pctx, cancel, seen, len(ids) >= watchMaxSecrets)
		start := time.Now()
		out, err := a.watcher.WatchSecrets(pctx, in)
		restart := pctx.Err() != nil && ctx.Err() == nil // a secret came to be held
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case restart:
			continue
		case err != nil:
			var ae *client.APIError
			if errors.As(err, &ae) && ae.Code == "UnknownOperationException" {
				a.log.Info("agent: the endpoint has no WatchSecrets; values are kept for the TTL")
				return
			}
			backoff = min(max(2*backoff, watchBackoffMin), watchBackoffMax)
			a.log.Warn("agent: watching for changes failed; the TTL rules meanwhile", "err", err, "retry_in", backoff)
			sleepCtx(ctx, backoff)
			continue
		}
		backoff = 0
		for _, ch := range out.Changed {
			if holds(ch.VersionIdsToStages, byID[ch.SecretID]) {
				known[ch.SecretID] = ch.VersionIdsToStages // another version moved: the value held stands
				continue
			}
			delete(known, ch.SecretID)
			a.cache.Invalidate(ch.SecretID)
			a.markSnapshotDirty() // the snapshot must not keep the old value either
			a.log.Debug("agent: a secret changed; its value is dropped", "secret", ch.SecretID)
		}
		for _, u := range out.Unavailable {
			// Gone, or not to be described: the next read asks the service, and the TTL
			// rules this secret from then on.
			delete(known, u.SecretID)
			skip[u.SecretID] = true
			a.cache.Invalidate(u.SecretID)
			a.markSnapshotDirty()
		}
		if len(skip) > 4*MaxCacheSize {
			clear(skip)
		}
		if len(out.Changed) == 0 && len(out.Unavailable) == 0 && time.Since(start) < a.watchIdle {
			sleepCtx(ctx, a.watchIdle) // a server shutting down answers at once
		}
	}
}

// cancelOnNewHeld cancels the poll under way when the cache comes to hold a secret it does
// not watch, so that the new secret is watched within watchIdle.
func (a *Agent) cancelOnNewHeld(ctx context.Context, cancel context.CancelFunc, seen map[string]bool, full bool) {
	if full {
		return
	}
	t := time.NewTicker(a.watchIdle)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, h := range a.cache.Held() {
			if !seen[h.SecretID] {
				cancel()
				return
			}
		}
	}
}

// holds says whether every value held of a secret still has, in m, the labels it was
// read with.
func holds(m map[string][]string, held []cache.Held) bool {
	for _, h := range held {
		x, y := slices.Clone(m[h.VersionID]), slices.Clone(h.VersionStages)
		slices.Sort(x)
		slices.Sort(y)
		if !slices.Equal(x, y) {
			return false
		}
	}
	return true
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
