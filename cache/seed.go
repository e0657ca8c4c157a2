package cache

import "slices"

// Entry is a value held under the id and version it was read as: what Entries returns
// and Seed takes, for a holder that keeps the cache's values across a restart (the agent's
// encrypted snapshot). It holds the value's bytes: handle it as the value itself.
type Entry struct {
	SecretID string
	Version  Version
	Value    Value
}

// NewValue returns a Value with the metadata of meta and a copy of b as its bytes
// (SecretBinary when binary, else SecretString's UTF-8): for Seed.
func NewValue(meta Value, b []byte, binary bool) Value {
	meta.p = &payload{binary: binary, b: slices.Clone(b)}
	meta.VersionStages = slices.Clone(meta.VersionStages)
	return meta
}

// Entries returns a copy of every value held, most recently used first. The bytes are the
// caller's own; wipe them (Value.Wipe) after use.
func (c *Cache) Entries() []Entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Entry, 0, c.lru.Len())
	for el := c.lru.Front(); el != nil; el = el.Next() {
		e := el.Value.(*entry)
		out = append(out, Entry{SecretID: e.key.secret, Version: e.key.Version, Value: e.val.clone()})
	}
	return out
}

// Seed holds entries (their values copied) that the cache does not hold yet, as due for a
// refresh: the first read of each asks the service whether it is still current, as past
// the refresh interval. While the service fails with transient errors, a seeded value is
// served stale for up to MaxStale after Seed, as any value past its refresh time is.
// Entries beyond MaxSecrets are ignored, the first kept.
func (c *Cache) Seed(entries []Entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	due := c.now().Add(-c.refresh) // checked this long ago: due now, stale until now+MaxStale
	for _, en := range entries {
		if en.Version == (Version{}) {
			en.Version.Stage = Current
		}
		k := key{en.SecretID, en.Version}
		if en.SecretID == "" || en.Value.p == nil || c.entries[k] != nil {
			continue
		}
		if c.lru.Len() >= c.max {
			break
		}
		c.entries[k] = c.lru.PushBack(&entry{key: k, val: en.Value.clone(), checked: due, fresh: due.Add(c.refresh)})
	}
}
