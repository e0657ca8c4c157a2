package agent

import (
	"context"
	"errors"
	"math"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/coffer-project/coffer/cache"
	"github.com/coffer-project/coffer/client"
)

// Reporter sends the reads the agent answered from its cache to the server's audit trail:
// coffer's ReportCachedReads, which *client.Client implements. AWS has no such operation.
type Reporter interface {
	ReportCachedReads(ctx context.Context, reads []client.CachedRead) (int, error)
}

// DefaultReportInterval is how often the reads answered from the cache are reported.
const DefaultReportInterval = 10 * time.Second

// Bounds of a report.
const (
	reportMaxLines = 100       // lines per call, the server's bound
	reportMaxCount = 1_000_000 // reads per line, the server's bound
	reportMaxKeys  = MaxCacheSize
)

// readKey is what one report line counts: the secret as asked, the version served, the
// stage asked, and the application's address.
type readKey struct {
	secret, versionID, stage, clientIP string
}

type readCount struct {
	n           int
	first, last time.Time
}

// reads counts the reads answered from the cache until they are reported.
type reads struct {
	mu      sync.Mutex
	m       map[readKey]*readCount
	dropped int  // reads not counted because m was full
	off     bool // the endpoint has no ReportCachedReads
}

// clientIPKey is the context key of the address of the application a read is for.
type clientIPKey struct{}

// onHit counts a read the cache answered from memory.
func (a *Agent) onHit(ctx context.Context, secretID string, v cache.Version, versionID string) {
	if a.reporter == nil {
		return
	}
	ip, _ := ctx.Value(clientIPKey{}).(string)
	now := a.now()
	k := readKey{secretID, versionID, v.Stage, ip}
	a.reads.mu.Lock()
	defer a.reads.mu.Unlock()
	if a.reads.off {
		return
	}
	a.reads.add(k, readCount{n: 1, first: now, last: now})
}

// add merges c into the count of k; the caller holds mu.
func (r *reads) add(k readKey, c readCount) {
	if r.m == nil {
		r.m = map[readKey]*readCount{}
	}
	cur := r.m[k]
	if cur == nil {
		if len(r.m) >= reportMaxKeys {
			r.dropped += c.n
			return
		}
		r.m[k] = &c
		return
	}
	cur.n += c.n
	if c.first.Before(cur.first) {
		cur.first = c.first
	}
	if c.last.After(cur.last) {
		cur.last = c.last
	}
}

// report runs until ctx ends, reporting the reads counted every interval, and once more
// at the end.
func (a *Agent) report(ctx context.Context) {
	if a.reporter == nil {
		return
	}
	t := time.NewTicker(a.reportEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			a.flushReads(fctx)
			cancel()
			return
		case <-t.C:
			a.flushReads(ctx)
		}
	}
}

// flushReads sends the reads counted, up to reportMaxLines per call. What a failed call
// did not send is kept for the next time.
func (a *Agent) flushReads(ctx context.Context) {
	a.reads.mu.Lock()
	m, dropped := a.reads.m, a.reads.dropped
	a.reads.m, a.reads.dropped = nil, 0
	off := a.reads.off
	a.reads.mu.Unlock()
	if off || len(m) == 0 {
		return
	}
	if dropped > 0 {
		a.log.Warn("agent: reads from the cache not reported: too many secrets counted", "reads", dropped)
	}
	keys := make([]readKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]].first.Before(m[keys[j]].first) })
	keep := func(ks []readKey) {
		a.reads.mu.Lock()
		defer a.reads.mu.Unlock()
		for _, k := range ks {
			if c := m[k]; c.n > 0 {
				a.reads.add(k, *c)
			}
		}
	}
	for len(keys) > 0 {
		batch := keys[:min(len(keys), reportMaxLines)]
		lines := make([]client.CachedRead, len(batch))
		for i, k := range batch {
			c := m[k]
			n := min(c.n, reportMaxCount)
			lines[i] = client.CachedRead{SecretID: k.secret, VersionID: k.versionID, VersionStage: k.stage, Count: n,
				FirstTime: seconds(c.first), LastTime: seconds(c.last), ClientIP: k.clientIP}
		}
		if _, err := a.reporter.ReportCachedReads(ctx, lines); err != nil {
			var ae *client.APIError
			if errors.As(err, &ae) && ae.Code == "UnknownOperationException" {
				a.log.Info("agent: the endpoint has no ReportCachedReads; reads from the cache are not reported")
				a.reads.mu.Lock()
				a.reads.off, a.reads.m = true, nil
				a.reads.mu.Unlock()
				return
			}
			a.log.Warn("agent: reporting the reads from the cache failed; retrying at the next interval", "err", err)
			keep(keys)
			return
		}
		for i, k := range batch {
			m[k].n -= lines[i].Count // more than reportMaxCount: the rest goes next time
		}
		keep(batch)
		keys = keys[len(batch):]
	}
}

// seconds is t in epoch seconds, to the millisecond.
func seconds(t time.Time) float64 { return math.Round(float64(t.UnixMilli())) / 1000 }

// remoteHost is the host of an http.Request's RemoteAddr.
func remoteHost(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
