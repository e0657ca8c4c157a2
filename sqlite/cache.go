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
	mu     sync.Mutex
	gen    uint64
	max    int
	byARN  map[string]*cacheEntry
	byName map[nameKey]string
	stats  struct{ hits, misses uint64 }
}

type nameKey struct {
	ns   coffer.Namespace
	name string
}

// cacheEntry is one secret: its row, and its versions once a View has read them all.
type cacheEntry struct {
	secret   *coffer.Secret
	versions []*coffer.Version
	full     bool // versions holds every version (possibly none)
}

// DefaultReadCache is the number of secrets the read cache keeps when Open is not told
// otherwise (WithReadCache).
const DefaultReadCache = 10000

// WithReadCache sets how many secrets the read cache keeps, and the writer's cache of rows
// and version headers (see writeCache) too; 0 turns both off.
func WithReadCache(n int) Option {
	return func(s *Store) { s.cacheSize = n }
}

func newReadCache(max int) *readCache {
	if max <= 0 {
		return nil
	}
	return &readCache{max: max, byARN: map[string]*cacheEntry{}, byName: map[nameKey]string{}}
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

// versions returns copies of every version of the secret, when they are cached.
func (c *readCache) versions(arn string) ([]*coffer.Version, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.byARN[arn]
	if e == nil || !e.full {
		c.stats.misses++
		return nil, false
	}
	c.stats.hits++
	out := make([]*coffer.Version, len(e.versions))
	for i, v := range e.versions {
		out[i] = copyVersion(v)
	}
	return out, true
}

// version returns a copy of one cached version; ok is false when the secret's versions are
// not cached (found is then meaningless).
func (c *readCache) version(arn, id string) (v *coffer.Version, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.byARN[arn]
	if e == nil || !e.full {
		return nil, false
	}
	for _, v := range e.versions {
		if v.VersionID == id {
			return copyVersion(v), true
		}
	}
	return nil, true
}

// entry returns the entry of arn for a fill made under generation gen, or nil when an
// Update has committed since gen (the fill might be older than that commit).
func (c *readCache) entry(gen uint64, arn string) *cacheEntry {
	if c.gen != gen {
		return nil
	}
	e := c.byARN[arn]
	if e == nil {
		if len(c.byARN) >= c.max {
			c.evictOne()
		}
		e = &cacheEntry{}
		c.byARN[arn] = e
	}
	return e
}

// putSecret fills the cache with a secret a View read under generation gen.
func (c *readCache) putSecret(gen uint64, s *coffer.Secret) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entry(gen, s.ARN); e != nil {
		e.secret = copySecret(s)
		c.byName[nameKey{s.Namespace, s.Name}] = s.ARN
	}
}

// putVersions fills the cache with every version of a secret, as a View read them under
// generation gen.
func (c *readCache) putVersions(gen uint64, arn string, vs []*coffer.Version) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entry(gen, arn); e != nil {
		e.versions = make([]*coffer.Version, len(vs))
		for i, v := range vs {
			e.versions[i] = copyVersion(v)
		}
		e.full = true
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
	if e := c.byARN[arn]; e != nil && e.secret != nil {
		delete(c.byName, nameKey{e.secret.Namespace, e.secret.Name})
	}
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

func copySecret(s *coffer.Secret) *coffer.Secret {
	c := *s
	if s.Tags != nil {
		c.Tags = slices.Clone(s.Tags)
	}
	return &c
}

func copyVersion(v *coffer.Version) *coffer.Version {
	c := *v
	c.Stages = slices.Clone(v.Stages)
	c.WrappedKey = slices.Clone(v.WrappedKey)
	c.Ciphertext = slices.Clone(v.Ciphertext)
	return &c
}
