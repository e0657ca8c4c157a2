package sqlite

import (
	"slices"
	"sync"

	"github.com/coffer-project/coffer"
)

// readCache keeps secrets and their versions as last committed, so that a read (View) of a
// hot secret runs no query. It is correct because this process is the database's only
// writer (a server takes its data directory's lock exclusively on SQLite; see the package
// comment) and every write goes through Update, which empties the entries of the secrets it
// touched after its commit and before it returns:
//
//   - a View that finds an entry gets what the last commit touching that secret left;
//   - a View fills the cache only when no Update has committed since the View began
//     (gen is unchanged), so that an old snapshot never replaces a newer commit's entry.
//
// Entries are copied in and out: callers may change what they are given. The cache holds
// ciphertexts and wrapped keys only, as the database does.
type readCache struct {
	mu       sync.Mutex
	gen      uint64
	max      int   // secrets
	maxBytes int64 // what the entries hold, about
	bytes    int64
	byARN    map[string]*cacheEntry
	byName   map[nameKey]string
	stats    struct{ hits, misses uint64 }
}

type nameKey struct {
	ns   coffer.Namespace
	name string
}

// cacheEntry is one secret: its row; its versions' headers (no key, no ciphertext) once a
// View has read them all; and the versions a View read one by one, whole. A read of one
// version, the common one, copies that version alone, however many the secret has.
type cacheEntry struct {
	secret  *coffer.Secret
	headers []*coffer.Version
	full    bool                       // headers holds every version (possibly none)
	bodies  map[string]*coffer.Version // by version id
	size    int64                      // the bytes of the above, about
}

// DefaultReadCache is the number of secrets the read cache keeps when Open is not told
// otherwise (WithReadCache).
const DefaultReadCache = 10000

// readCacheBytesPerSecret is the read cache's byte budget per secret it may keep: the cache
// of n secrets holds at most n times this (60 MiB for the default 10,000), so that secrets
// with many or large versions cannot make it grow past that.
const readCacheBytesPerSecret = 6 << 10

// WithReadCache sets how many secrets the read cache keeps, and the writer's cache of rows
// and version headers (see writeCache) too; 0 turns both off.
func WithReadCache(n int) Option {
	return func(s *Store) { s.cacheSize = n }
}

func newReadCache(max int) *readCache {
	if max <= 0 {
		return nil
	}
	return &readCache{max: max, maxBytes: int64(max) * readCacheBytesPerSecret,
		byARN: map[string]*cacheEntry{}, byName: map[nameKey]string{}}
}

// generation returns the generation a View starting now fills the cache under.
func (c *readCache) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// secretByName returns a copy of the cached secret named name in ns.
func (c *readCache) secretByName(ns coffer.Namespace, name string) *coffer.Secret {
	c.mu.Lock()
	defer c.mu.Unlock()
	if arn, ok := c.byName[nameKey{ns, name}]; ok {
		if e := c.byARN[arn]; e != nil && e.secret != nil {
			c.stats.hits++
			return copySecret(e.secret)
		}
	}
	c.stats.misses++
	return nil
}

// secretByARN returns a copy of the cached secret with this ARN.
func (c *readCache) secretByARN(arn string) *coffer.Secret {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.byARN[arn]; e != nil && e.secret != nil {
		c.stats.hits++
		return copySecret(e.secret)
	}
	c.stats.misses++
	return nil
}

// headers returns copies of the headers of every version of the secret, when they are
// cached.
func (c *readCache) headers(arn string) ([]*coffer.Version, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.byARN[arn]
	if e == nil || !e.full {
		c.stats.misses++
		return nil, false
	}
	c.stats.hits++
	var out []*coffer.Version // nil when there are none, as the query gives it
	for _, v := range e.headers {
		out = append(out, copyVersion(v))
	}
	return out, true
}

// version returns a copy of one cached version; ok is false when the cache cannot say
// (found is then meaningless): a version not read whole is found missing only when the
// secret's headers are cached and do not have it.
func (c *readCache) version(arn, id string) (v *coffer.Version, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.byARN[arn]
	if e == nil {
		c.stats.misses++
		return nil, false
	}
	if v := e.bodies[id]; v != nil {
		c.stats.hits++
		return shareVersion(v), true
	}
	if e.full && !slices.ContainsFunc(e.headers, func(h *coffer.Version) bool { return h.VersionID == id }) {
		c.stats.hits++
		return nil, true
	}
	c.stats.misses++
	return nil, false
}

// entry returns the entry of arn for a fill made under generation gen, or nil when an
// Update has committed since gen (the fill might be older than that commit).
func (c *readCache) entry(gen uint64, arn string) *cacheEntry {
	if c.gen != gen {
		return nil
	}
	e := c.byARN[arn]
	if e == nil {
		for len(c.byARN) >= c.max {
			c.evictOne()
		}
		e = &cacheEntry{}
		c.byARN[arn] = e
	}
	return e
}

// resize records e's new size, and evicts entries (e among them, perhaps) while the cache
// holds more bytes than its budget.
func (c *readCache) resize(e *cacheEntry, size int64) {
	c.bytes += size - e.size
	e.size = size
	for c.bytes > c.maxBytes && len(c.byARN) > 0 {
		c.evictOne()
	}
}

// putSecret fills the cache with a secret a View read under generation gen.
func (c *readCache) putSecret(gen uint64, s *coffer.Secret) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entry(gen, s.ARN); e != nil {
		old := int64(0)
		if e.secret != nil {
			old = secretSize(e.secret)
			delete(c.byName, nameKey{e.secret.Namespace, e.secret.Name})
		}
		e.secret = copySecret(s)
		c.byName[nameKey{s.Namespace, s.Name}] = s.ARN
		c.resize(e, e.size-old+secretSize(s))
	}
}

// putHeaders fills the cache with the headers of every version of a secret, as a View read
// them under generation gen.
func (c *readCache) putHeaders(gen uint64, arn string, vs []*coffer.Version) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entry(gen, arn); e != nil {
		size := e.size
		for _, v := range e.headers {
			size -= versionSize(v)
		}
		e.headers = make([]*coffer.Version, len(vs))
		for i, v := range vs {
			e.headers[i] = copyVersion(v)
			size += versionSize(v)
		}
		e.full = true
		c.resize(e, size)
	}
}

// putVersion fills the cache with one version a View read under generation gen.
func (c *readCache) putVersion(gen uint64, v *coffer.Version) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entry(gen, v.SecretARN); e != nil {
		size := e.size + versionSize(v)
		if old := e.bodies[v.VersionID]; old != nil {
			size -= versionSize(old)
		}
		if e.bodies == nil {
			e.bodies = make(map[string]*coffer.Version, 1)
		}
		e.bodies[v.VersionID] = copyVersion(v)
		c.resize(e, size)
	}
}

// evictOne removes an entry, at random (Go's map order). c.mu is held.
func (c *readCache) evictOne() {
	for arn := range c.byARN {
		c.removeLocked(arn)
		return
	}
}

func (c *readCache) removeLocked(arn string) {
	e := c.byARN[arn]
	if e == nil {
		return
	}
	if e.secret != nil {
		delete(c.byName, nameKey{e.secret.Namespace, e.secret.Name})
	}
	c.bytes -= e.size
	delete(c.byARN, arn)
}

// invalidate empties the entries of the secrets an Update touched, after its commit, and
// starts a new generation so that no View that began before the commit fills the cache.
func (c *readCache) invalidate(arns []string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, arn := range arns {
		c.removeLocked(arn)
	}
}

// entryOverhead is what the cache counts for a secret or version beyond its strings and
// byte slices: the structs, maps and slices that hold them.
const entryOverhead = 256

func secretSize(s *coffer.Secret) int64 {
	n := entryOverhead + len(s.ARN) + len(s.Name) + len(s.Description) + len(s.KMSKeyID) + len(s.ResourcePolicy)
	for _, t := range s.Tags {
		n += len(t.Key) + len(t.Value) + 32
	}
	return int64(n)
}

func versionSize(v *coffer.Version) int64 {
	n := entryOverhead + len(v.SecretARN) + len(v.VersionID) + len(v.KMSKeyID) + len(v.WrappedKey) + len(v.Ciphertext)
	for _, st := range v.Stages {
		n += len(st) + 16
	}
	return int64(n)
}

func copySecret(s *coffer.Secret) *coffer.Secret {
	c := *s
	if s.Tags != nil {
		c.Tags = slices.Clone(s.Tags)
	}
	return &c
}

// shareVersion copies what a reader of a cached version may change, but not its sealed
// bytes, which readers never write into (coffer.Tx.Version): a hit does not copy a value's
// ciphertext.
func shareVersion(v *coffer.Version) *coffer.Version {
	c := *v
	c.Stages = slices.Clone(v.Stages)
	return &c
}

func copyVersion(v *coffer.Version) *coffer.Version {
	c := *v
	c.Stages = slices.Clone(v.Stages)
	c.WrappedKey = slices.Clone(v.WrappedKey)
	c.Ciphertext = slices.Clone(v.Ciphertext)
	return &c
}
