// Package cache keeps secret values in memory in front of a Secrets Manager client — coffer's
// or AWS's own, through aws-sdk-go-v2 — so that a service asks the service for a secret about
// once per refresh interval rather than on every use.
//
// A Cache is made once and shared by every goroutine of a service:
//
//	sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
//		o.RetryMaxAttempts = 1 // the cache retries
//	})
//	secrets := cache.New(sm, cache.Options{})
//	password, err := secrets.GetJSONKey(ctx, "prod/db", "password")
//
// GetString, GetBinary and GetJSONKey read a secret's AWSCURRENT version; Get reads any
// version, by staging label or by version id, as a Value.
//
// How a value is kept:
//
//   - The first read of a secret (at a stage or version) calls GetSecretValue; the value is
//     then served from memory for RefreshInterval.
//   - After that the next read refreshes it: DescribeSecret says which version each staging
//     label is on. When the cached version still carries the label that was asked for (or
//     the version asked for by id is still there), the value is kept without reading it
//     again; otherwise (a rotation, a deletion) GetSecretValue reads it again.
//   - Concurrent reads of the same secret and version that find no fresh value make one call
//     between them.
//   - A call that fails with a transient error (throttling, the service's internal errors,
//     HTTP 5xx, a connection that fails) is retried with exponential backoff and full jitter.
//     Any other error (the secret is gone, access is denied) is the answer: it is returned at
//     once, and drops the value the cache held.
//   - When a refresh still fails after its retries, the last good value is served for up to
//     MaxStale past its refresh time, and the service is asked again at most every
//     ProbeInterval; after MaxStale the error is returned.
//   - Refresh reads a value again at once, fresh or not, and keeps what it reads; when that
//     read fails, the error is its answer, and the value held stays as it was for the reads
//     that follow (the AWS Secrets Manager Agent's refreshNow does the same).
//   - At most MaxSecrets values are held; past that the least recently used is dropped.
//
// Values are held in memory only, never written anywhere or logged: a Value prints (with
// fmt, slog) its name and version but never its bytes, and every read returns a copy of its
// own, which the caller may wipe (Value.Wipe). The strings that GetString and GetJSONKey
// return, and those the SDK decodes, cannot be wiped; read with Get and Value.SecretBinary
// or Value.Bytes where that matters.
//
// The caller needs secretsmanager:GetSecretValue and secretsmanager:DescribeSecret on the
// secrets it reads. A value stays served while DescribeSecret shows it unchanged: a
// GetSecretValue permission withdrawn later is noticed at the next change of version, or
// when the value is dropped from the cache.
package cache

import (
	"container/list"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Client is the part of a Secrets Manager client the cache uses. *secretsmanager.Client
// satisfies it, whether it speaks to coffer or to AWS.
type Client interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
}

var _ Client = (*secretsmanager.Client)(nil)

// Defaults of Options and Retry.
const (
	DefaultMaxSecrets      = 1000
	DefaultRefreshInterval = time.Hour
	DefaultMaxStale        = 5 * time.Minute
	DefaultProbeInterval   = 10 * time.Second
	DefaultMaxAttempts     = 3
	DefaultRetryBase       = 100 * time.Millisecond
	DefaultRetryCap        = 5 * time.Second
)

// Options configure a Cache. The zero value of each field means its default.
type Options struct {
	// MaxSecrets bounds the number of values held (default 1000). Each secret read at each
	// stage or version is one value; past the bound the least recently used is dropped.
	MaxSecrets int
	// RefreshInterval is how long a value is served from memory before it is refreshed
	// (default 1h).
	RefreshInterval time.Duration
	// RefreshJitter makes each value due for refresh up to this much before RefreshInterval,
	// at random, so that the processes of a fleet started together do not all call the
	// service in the same second every interval. 0 (the default): exactly at
	// RefreshInterval; at most RefreshInterval/2.
	RefreshJitter time.Duration
	// MaxStale is how long past its refresh time a value may still be served while its
	// refreshes fail with transient errors (default 5m; negative: never).
	MaxStale time.Duration
	// ProbeInterval is, while a stale value is served, how long after a failed refresh the
	// next read asks the service again (default 10s); reads in between get the stale value
	// at once instead of each waiting out a failing service.
	ProbeInterval time.Duration
	// Retry is how calls that fail with transient errors are retried.
	Retry Retry

	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Sleep waits d or until ctx ends (a timer when nil).
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand returns a uniform random number in [0, n) for the backoff's jitter
	// (math/rand/v2.Int64N when nil). It is called from many goroutines.
	Rand func(n int64) int64

	// OnHit, when set, is called for each read answered from memory without a call to the
	// service (a fresh value, or a stale one between probes), with the reader's ctx, the id
	// and version asked, and the version id served; never with the value. It is called
	// outside the cache's lock, from the reader's goroutine, and must not block.
	OnHit func(ctx context.Context, secretID string, v Version, versionID string)
	// OnStore, when set, is called after the cache came to hold a value it did not hold
	// before (a first read, or a new version), for a holder that keeps a copy elsewhere
	// (Entries). It is called outside the cache's lock and must not block.
	OnStore func()
}

// Retry configures the retries of calls that fail with a transient error. Before retry n
// (n = 0, 1, …) the cache sleeps a uniform random duration in [0, min(Cap, Base·2ⁿ)]
// ("full jitter").
//
// The calls go through the client, which may retry too: aws-sdk-go-v2's client makes up to
// 3 attempts per call by default, so the cache's attempts multiply with its. Set
// RetryMaxAttempts to 1 in the client's options to leave retries to the cache, or
// MaxAttempts to 1 here to leave them to the client.
type Retry struct {
	// MaxAttempts is the number of calls made for one request, the first included
	// (default 3; 1 never retries).
	MaxAttempts int
	// Base is the ceiling of the first backoff (default 100ms).
	Base time.Duration
	// Cap is the largest ceiling of a backoff (default 5s).
	Cap time.Duration
}

// Version names the version of a secret to read: by Stage (a staging label), by ID (a
// version id), or both (the version must then carry the label). The zero Version is the
// stage AWSCURRENT.
type Version struct {
	ID    string
	Stage string
}

// Current is the version secrets are read at unless told otherwise.
const Current = "AWSCURRENT"

// Stats are counters of a Cache's work since it was made.
type Stats struct {
	// Hits are reads answered from memory with a fresh value.
	Hits uint64
	// Misses are reads that found no value in memory and waited for the service (their
	// own call or one another read made).
	Misses uint64
	// Refreshes are refreshes of values held, past their refresh time or asked for with
	// Refresh (one per refresh, however many reads waited for it).
	Refreshes uint64
	// Reloads are the refreshes that found another version and read it.
	Reloads uint64
	// StaleServes are reads answered with a value past its refresh time (within MaxStale)
	// because its refresh failed with a transient error, or the reader's context ended
	// before the refresh did.
	StaleServes uint64
	// Retries are calls repeated after a transient error.
	Retries uint64
	// Evictions are values dropped to stay within MaxSecrets.
	Evictions uint64
	// Entries is the number of values held now.
	Entries int
}

// Cache holds secret values. Its methods may be called from many goroutines at once.
type Cache struct {
	client       Client
	max          int
	refresh      time.Duration
	jitter       time.Duration
	maxStale     time.Duration
	probe        time.Duration
	attempts     int
	retryBase    time.Duration
	retryCap     time.Duration
	now          func() time.Time
	sleep        func(context.Context, time.Duration) error
	rand         func(int64) int64
	onHit        func(context.Context, string, Version, string)
	onStore      func()
	hits, misses atomic.Uint64
	refreshes    atomic.Uint64
	reloads      atomic.Uint64
	staleServes  atomic.Uint64
	retries      atomic.Uint64
	evictions    atomic.Uint64
	mu           sync.Mutex
	entries      map[key]*list.Element // of *entry
	lru          list.List             // most recently used first
	flights      map[key]*flight       // the loads under way
}

// key names a value: a secret id as the caller spelled it, and a version.
type key struct {
	secret string
	Version
}

// entry is a value held, with when the service last vouched for it.
type entry struct {
	key     key
	val     Value     // its bytes are never written once the Value is made
	checked time.Time // when the service last said val is what key names
	fresh   time.Time // until when val is served without asking: checked + refresh - jitter
	// probeAt, after a refresh failed, is when the next read may ask the service again.
	probeAt time.Time
}

// freshUntil is until when a value vouched for at checked is served without asking the
// service: RefreshInterval later, less a random part of RefreshJitter.
func (c *Cache) freshUntil(checked time.Time) time.Time {
	d := c.refresh
	if c.jitter > 0 {
		d -= time.Duration(c.rand(int64(c.jitter) + 1))
	}
	return checked.Add(d)
}

// staleUntil is when e stops being served in place of an error.
func (c *Cache) staleUntil(e *entry) time.Time { return e.checked.Add(c.refresh + c.maxStale) }

// flight is a load under way; readers of the same key wait for it instead of calling too.
type flight struct {
	done chan struct{}
	// force says that the load is Refresh's: it calls GetSecretValue whatever is held, and
	// its failure leaves the value held as it was.
	force bool
	// miss says that no value was held when the load began: it calls GetSecretValue too,
	// and a Refresh may wait for it as for its own.
	miss bool
	// Set before done is closed:
	val   Value // shared by the waiters, who each copy it
	stale bool  // val is a stale value served to Get's readers because the service was unreachable
	err   error // Get's answer
	// refreshErr is Refresh's answer: the service's error, never a stale value.
	refreshErr error
	// abandoned says that the reader who made the call gave up (its context ended) or
	// that its client panicked: the others call again.
	abandoned bool
	// noStore says that Invalidate ran during the load: its result is returned, not kept.
	noStore bool
}

// New returns a Cache in front of client.
func New(client Client, o Options) *Cache {
	if client == nil {
		panic("cache: nil Client")
	}
	c := &Cache{
		client: client, max: o.MaxSecrets, refresh: o.RefreshInterval, jitter: o.RefreshJitter, maxStale: o.MaxStale, probe: o.ProbeInterval,
		attempts: o.Retry.MaxAttempts, retryBase: o.Retry.Base, retryCap: o.Retry.Cap,
		now: o.Now, sleep: o.Sleep, rand: o.Rand, onHit: o.OnHit, onStore: o.OnStore,
		entries: map[key]*list.Element{}, flights: map[key]*flight{},
	}
	if c.max <= 0 {
		c.max = DefaultMaxSecrets
	}
	if c.refresh <= 0 {
		c.refresh = DefaultRefreshInterval
	}
	c.jitter = min(max(c.jitter, 0), c.refresh/2)
	switch {
	case c.maxStale == 0:
		c.maxStale = DefaultMaxStale
	case c.maxStale < 0:
		c.maxStale = 0
	}
	if c.probe <= 0 {
		c.probe = DefaultProbeInterval
	}
	if c.attempts <= 0 {
		c.attempts = DefaultMaxAttempts
	}
	if c.retryBase <= 0 {
		c.retryBase = DefaultRetryBase
	}
	if c.retryCap <= 0 {
		c.retryCap = DefaultRetryCap
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = sleep
	}
	if c.rand == nil {
		c.rand = rand.Int64N
	}
	return c
}

// GetString returns the SecretString of secretID's AWSCURRENT version (ErrBinary when the
// secret holds a SecretBinary).
func (c *Cache) GetString(ctx context.Context, secretID string) (string, error) {
	v, err := c.Get(ctx, secretID, Version{})
	if err != nil {
		return "", err
	}
	return v.SecretString()
}

// GetBinary returns the SecretBinary of secretID's AWSCURRENT version (ErrString when the
// secret holds a SecretString). The bytes are the caller's own.
func (c *Cache) GetBinary(ctx context.Context, secretID string) ([]byte, error) {
	v, err := c.Get(ctx, secretID, Version{})
	if err != nil {
		return nil, err
	}
	return v.SecretBinary()
}

// GetJSONKey returns the member key of the JSON object that is the SecretString of
// secretID's AWSCURRENT version, as Value.JSONKey does.
func (c *Cache) GetJSONKey(ctx context.Context, secretID, jsonKey string) (string, error) {
	v, err := c.Get(ctx, secretID, Version{})
	if err != nil {
		return "", err
	}
	defer v.Wipe()
	return v.JSONKey(jsonKey)
}

// Get returns version v of secretID: from memory when it is fresh, else from the service
// (see the package comment). secretID is a name or ARN; the cache keeps the value under the
// id as spelled, so a name and its ARN are two values. The Value returned is the caller's
// own copy.
//
// When ctx ends while the service is asked, Get returns the value held if it may still be
// served stale (within MaxStale past its refresh time), else ctx's error.
func (c *Cache) Get(ctx context.Context, secretID string, v Version) (Value, error) {
	return c.get(ctx, secretID, v, false)
}

// Refresh reads version v of secretID from the service now, with GetSecretValue, whether
// or not the value held is fresh, keeps what it reads as a fresh value, and returns it
// (the caller's own copy): for a caller who knows the secret has just changed. Concurrent
// Refreshes of the same secret and version make one call between them, and the reads of
// it that find no fresh value wait for that call too.
//
// When the call fails, Refresh returns the error, never a stale value, and leaves the
// value held as it was: the reads that follow are answered as if Refresh had not been
// called, from memory while the value is fresh or may be served stale. This is what the
// AWS Secrets Manager Agent does with refreshNow=true; it holds whatever the error, the
// service's answer (the secret is gone, access is denied) included, until the value's
// next refresh asks the service again.
func (c *Cache) Refresh(ctx context.Context, secretID string, v Version) (Value, error) {
	return c.get(ctx, secretID, v, true)
}

// get is Get, or Refresh when force.
func (c *Cache) get(ctx context.Context, secretID string, v Version, force bool) (Value, error) {
	if v == (Version{}) {
		v.Stage = Current
	}
	k := key{secretID, v}
	missed := false // counted in Stats.Misses, once however often the loop goes round
	for {
		c.mu.Lock()
		now := c.now()
		el := c.entries[k]
		var e *entry
		if el != nil {
			e = el.Value.(*entry)
			switch {
			case force: // asks the service whatever is held
			case now.Before(e.fresh):
				c.lru.MoveToFront(el)
				c.hits.Add(1)
				val := e.val.clone()
				c.mu.Unlock()
				c.hit(ctx, k, val.VersionID)
				return val, nil
			case now.Before(e.probeAt) && now.Before(c.staleUntil(e)):
				c.lru.MoveToFront(el)
				c.staleServes.Add(1)
				val := e.val.clone()
				c.mu.Unlock()
				c.hit(ctx, k, val.VersionID)
				return val, nil
			}
		}
		if e == nil && !missed {
			c.misses.Add(1)
			missed = true
		}
		if f := c.flights[k]; f != nil {
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				if force {
					return Value{}, ctx.Err()
				}
				return c.staleOr(k, ctx.Err())
			}
			switch {
			case force && !f.force && !f.miss:
				// Get's refresh may ask DescribeSecret alone: call once it is done.
				continue
			case f.abandoned && ctx.Err() == nil:
				continue // the reader who called gave up (or its call panicked): call again
			case f.abandoned && force:
				return Value{}, ctx.Err()
			case f.abandoned:
				return c.staleOr(k, ctx.Err())
			case force && f.refreshErr != nil:
				return Value{}, f.refreshErr
			case force:
				return f.val.clone(), nil
			case f.err != nil:
				return Value{}, f.err
			}
			if f.stale {
				c.staleServes.Add(1)
			}
			return f.val.clone(), nil
		}
		f := &flight{done: make(chan struct{}), force: force, miss: e == nil}
		c.flights[k] = f
		var old *entry
		if e != nil {
			c.refreshes.Add(1)
			snapshot := *e
			old = &snapshot
		}
		c.mu.Unlock()
		return c.lead(ctx, k, f, old)
	}
}

// lead makes the call for the readers of k, who wait on f, and keeps what it learns. old
// is a copy of the entry held, if any.
func (c *Cache) lead(ctx context.Context, k key, f *flight, old *entry) (Value, error) {
	loaded := false
	defer func() {
		if !loaded { // the client panicked: let the waiters call again rather than hang
			c.mu.Lock()
			delete(c.flights, k)
			f.abandoned = true
			c.mu.Unlock()
			close(f.done)
		}
	}()
	var val Value
	var reloaded bool
	var err error
	if f.force {
		val, _, err = c.load(ctx, k, nil)
		reloaded = err == nil && old != nil && val.VersionID != old.val.VersionID
	} else {
		val, reloaded, err = c.load(ctx, k, old)
	}
	loaded = true
	c.mu.Lock()
	now := c.now()
	delete(c.flights, k)
	el := c.entries[k]
	stale, stored := false, false
	refreshErr := err
	switch {
	case err == nil:
		if reloaded {
			c.reloads.Add(1)
		}
		if !f.noStore {
			c.put(k, val, now)
			stored = old == nil || reloaded
		}
	case ctx.Err() != nil:
		f.abandoned = true
		if old != nil && !f.noStore && now.Before(c.staleUntil(old)) {
			val, stale, err = old.val, true, nil
		}
	case old != nil && !f.noStore && transient(err) && now.Before(c.staleUntil(old)):
		if el != nil {
			el.Value.(*entry).probeAt = now.Add(c.probe)
		}
		val, stale, err = old.val, true, nil
	case el != nil && !f.force:
		// The service's answer (the secret is gone, access is denied), or a value past
		// MaxStale: it is no longer served. Refresh leaves it to the next refresh.
		c.remove(el)
	}
	if stale && !f.force {
		c.staleServes.Add(1) // the leader's own read; Refresh serves no stale value
	}
	f.val, f.stale, f.err, f.refreshErr = val, stale, err, refreshErr
	c.mu.Unlock()
	close(f.done)
	if stored && c.onStore != nil {
		c.onStore()
	}
	if f.force {
		err = refreshErr
	}
	if err != nil {
		return Value{}, err
	}
	return val.clone(), nil
}

// hit reports a read answered from memory to OnHit.
func (c *Cache) hit(ctx context.Context, k key, versionID string) {
	if c.onHit != nil {
		c.onHit(ctx, k.secret, k.Version, versionID)
	}
}

// staleOr returns the value held under k if it may be served stale, else err.
func (c *Cache) staleOr(k key, err error) (Value, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el := c.entries[k]; el != nil {
		e := el.Value.(*entry)
		if c.now().Before(c.staleUntil(e)) {
			c.staleServes.Add(1)
			return e.val.clone(), nil
		}
	}
	return Value{}, err
}

// put keeps val under k, vouched for at now, as the most recently used value.
func (c *Cache) put(k key, val Value, now time.Time) {
	if el := c.entries[k]; el != nil {
		e := el.Value.(*entry)
		e.val, e.checked, e.fresh, e.probeAt = val, now, c.freshUntil(now), time.Time{}
		c.lru.MoveToFront(el)
		return
	}
	c.entries[k] = c.lru.PushFront(&entry{key: k, val: val, checked: now, fresh: c.freshUntil(now)})
	for c.lru.Len() > c.max {
		c.remove(c.lru.Back())
		c.evictions.Add(1)
	}
}

func (c *Cache) remove(el *list.Element) {
	c.lru.Remove(el)
	delete(c.entries, el.Value.(*entry).key)
}

// Invalidate drops every value held of secretID (as spelled in Get), so that the next
// read asks the service: for a service that has just changed the secret itself. A load of
// it under way is returned to its readers but not kept.
func (c *Cache) Invalidate(secretID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, el := range c.entries {
		if k.secret == secretID {
			c.remove(el)
		}
	}
	for k, f := range c.flights {
		if k.secret == secretID {
			f.noStore = true
		}
	}
}

// Stats returns the cache's counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	n := c.lru.Len()
	c.mu.Unlock()
	return Stats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Refreshes: c.refreshes.Load(), Reloads: c.reloads.Load(),
		StaleServes: c.staleServes.Load(), Retries: c.retries.Load(), Evictions: c.evictions.Load(), Entries: n,
	}
}

// Format prints the cache's size and never a value, whatever the verb.
func (c *Cache) Format(f fmt.State, verb rune) {
	s := c.Stats()
	io.WriteString(f, fmt.Sprintf("cache.Cache{Entries: %d, Hits: %d, Misses: %d}", s.Entries, s.Hits, s.Misses))
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Held is a value the cache holds: the secret id as spelled in Get, and the version and
// labels the service gave with it.
type Held struct {
	SecretID      string
	VersionID     string
	VersionStages []string
}

// Held lists the values held, for a watcher that asks the service to say when one of
// them changes (and then calls Invalidate). It never returns a value's bytes.
func (c *Cache) Held() []Held {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Held, 0, len(c.entries))
	for k, el := range c.entries {
		v := el.Value.(*entry).val
		out = append(out, Held{SecretID: k.secret, VersionID: v.VersionID, VersionStages: slices.Clone(v.VersionStages)})
	}
	return out
}
