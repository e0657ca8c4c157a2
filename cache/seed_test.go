package cache_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/coffer-project/coffer/cache"
)

// TestSeedAndEntries: a seeded value is due for a refresh at once, is served stale while
// the service fails, and stops being served past MaxStale; Entries returns copies.
func TestSeedAndEntries(t *testing.T) {
	e := newEnv(t, cache.Options{RefreshInterval: time.Minute, MaxStale: time.Hour})
	v := cache.NewValue(cache.Value{Name: "app/db", VersionID: "v1", VersionStages: []string{cache.Current}}, []byte("seeded"), false)
	e.cache.Seed([]cache.Entry{{SecretID: "app/db", Value: v}})
	e.srv.Faults.SetDown(true)
	e.getString(t, "app/db", "seeded")
	if e.srv.Faults.Count(describe) == 0 {
		t.Error("a seeded value was served without asking the service first")
	}
	es := e.cache.Entries()
	if len(es) != 1 || es[0].SecretID != "app/db" || es[0].Version.Stage != cache.Current || string(es[0].Value.Bytes()) != "seeded" {
		t.Fatalf("Entries: %v", es)
	}
	es[0].Value.Wipe()
	e.getString(t, "app/db", "seeded") // Entries' copy was the caller's own
	e.clock.Advance(2 * time.Hour)
	if _, err := e.cache.GetString(context.Background(), "app/db"); err == nil {
		t.Error("a seeded value served past MaxStale")
	}
}

// TestOnHitAndOnStore: OnHit sees the reads answered from memory and only those; OnStore
// sees a value newly held.
func TestOnHitAndOnStore(t *testing.T) {
	var mu sync.Mutex
	var hits []string
	stores := 0
	e := newEnv(t, cache.Options{})
	e.cache = cache.New(e.srv.Client(), cache.Options{Now: e.clock.Now, Sleep: e.sleeps.Sleep,
		OnHit: func(_ context.Context, id string, v cache.Version, versionID string) {
			mu.Lock()
			hits = append(hits, id+"@"+v.Stage+"="+versionID)
			mu.Unlock()
		},
		OnStore: func() { mu.Lock(); stores++; mu.Unlock() },
	})
	vid := e.create(t, "app/db", "one")
	for range 3 {
		e.getString(t, "app/db", "one")
	}
	mu.Lock()
	defer mu.Unlock()
	if want := "app/db@AWSCURRENT=" + vid; len(hits) != 2 || hits[0] != want || hits[1] != want {
		t.Errorf("hits %q, want two of %s", hits, want)
	}
	if stores != 1 {
		t.Errorf("%d OnStore calls, want 1", stores)
	}
}
