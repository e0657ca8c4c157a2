package cache_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/coffer-project/coffer/cache"
	"github.com/coffer-project/coffer/internal/testserver"
)

// The operations as Faults counts them.
const (
	getValue = "GetSecretValue"
	describe = "DescribeSecret"
)

// sleeps records the backoffs the cache asks for, and waits none of them.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) All() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// env is a coffer server, an administrator's client to it, and a cache in front of another
// client to it, on an injected clock and sleep.
type env struct {
	srv    *testserver.Server
	admin  *secretsmanager.Client
	clock  *testserver.Clock
	sleeps *sleeps
	cache  *cache.Cache
}

// newEnv starts a server and a cache with options o (Now and Sleep filled in when nil).
func newEnv(t *testing.T, o cache.Options) *env {
	t.Helper()
	srv := testserver.Start(t)
	e := &env{srv: srv, admin: srv.Client(), clock: testserver.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), sleeps: &sleeps{}}
	if o.Now == nil {
		o.Now = e.clock.Now
	}
	if o.Sleep == nil {
		o.Sleep = e.sleeps.Sleep
	}
	e.cache = cache.New(srv.Client(), o)
	return e
}

// create makes a secret with a string value and returns its version id.
func (e *env) create(t *testing.T, name, value string) string {
	t.Helper()
	out, err := e.admin.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.VersionId)
}

// put makes a new AWSCURRENT version and returns its id.
func (e *env) put(t *testing.T, name, value string) string {
	t.Helper()
	out, err := e.admin.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(value)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.VersionId)
}

// getString reads name's AWSCURRENT string through the cache and checks it.
func (e *env) getString(t *testing.T, name, want string) {
	t.Helper()
	got, err := e.cache.GetString(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("GetString(%s) = %q, want %q", name, got, want)
	}
}

// wantCalls checks how many requests of each operation reached the server.
func (e *env) wantCalls(t *testing.T, gets, describes int) {
	t.Helper()
	if got := e.srv.Faults.Count(getValue); got != gets {
		t.Errorf("%d GetSecretValue requests, want %d", got, gets)
	}
	if got := e.srv.Faults.Count(describe); got != describes {
		t.Errorf("%d DescribeSecret requests, want %d", got, describes)
	}
}

// wantCode checks that err is the AWS error code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("got error %v, want %s", err, code)
	}
}

func TestHitAndMiss(t *testing.T) {
	e := newEnv(t, cache.Options{})
	e.create(t, "app/db", "s3cret")

	v, err := e.cache.Get(context.Background(), "app/db", cache.Version{})
	if err != nil {
		t.Fatal(err)
	}
	e.wantCalls(t, 1, 0)
	if s := e.cache.Stats(); s.Misses != 1 || s.Hits != 0 || s.Entries != 1 {
		t.Fatalf("after a miss: %+v", s)
	}
	v.Wipe() // the caller's copy: the cache's stays whole

	e.clock.Advance(59 * time.Minute)
	e.getString(t, "app/db", "s3cret")
	e.wantCalls(t, 1, 0)
	if s := e.cache.Stats(); s.Misses != 1 || s.Hits != 1 {
		t.Fatalf("after a hit: %+v", s)
	}

	// AWSCURRENT named explicitly is the same value.
	v, err = e.cache.Get(context.Background(), "app/db", cache.Version{Stage: "AWSCURRENT"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := v.SecretString(); got != "s3cret" || v.Name != "app/db" || v.VersionID == "" {
		t.Fatalf("Get = %v %q", v, got)
	}
	e.wantCalls(t, 1, 0)
}

func TestCoalescing(t *testing.T) {
	e := newEnv(t, cache.Options{})
	e.create(t, "app/shared", "one value")

	const n = 100
	getAll := func() {
		t.Helper()
		start := make(chan struct{})
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				<-start
				got, err := e.cache.GetString(context.Background(), "app/shared")
				if err == nil && got != "one value" {
					err = errors.New("wrong value " + got)
				}
				errs <- err
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}

	getAll() // 100 misses at once
	e.wantCalls(t, 1, 0)
	if s := e.cache.Stats(); s.Misses+s.Hits != n {
		t.Fatalf("stats %+v: want %d reads", s, n)
	}

	e.clock.Advance(time.Hour + time.Second)
	getAll() // 100 reads of a value due for refresh at once
	e.wantCalls(t, 1, 1)
	if s := e.cache.Stats(); s.Refreshes != 1 {
		t.Fatalf("stats %+v: want 1 refresh", s)
	}
}

// TestRefreshJitter: with RefreshJitter, a value is due up to that much before
// RefreshInterval, as Rand draws it; the stale bound still counts from RefreshInterval.
func TestRefreshJitter(t *testing.T) {
	for _, tc := range []struct {
		name  string
		draw  func(n int64) int64
		early time.Duration
	}{
		{"largest draw", func(n int64) int64 { return n - 1 }, 10 * time.Minute},
		{"smallest draw", func(int64) int64 { return 0 }, 0},
		{"half", func(n int64) int64 { return n / 2 }, 5 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, cache.Options{RefreshInterval: time.Hour, RefreshJitter: 10 * time.Minute, Rand: tc.draw})
			e.create(t, "app/api", "v1")
			e.getString(t, "app/api", "v1")
			e.wantCalls(t, 1, 0)
			e.clock.Advance(time.Hour - tc.early - time.Second)
			e.getString(t, "app/api", "v1")
			e.wantCalls(t, 1, 0) // still fresh
			e.clock.Advance(time.Second)
			e.getString(t, "app/api", "v1")
			e.wantCalls(t, 1, 1) // due: one DescribeSecret
		})
	}
	// A jitter beyond half the interval is cut to half.
	e := newEnv(t, cache.Options{RefreshInterval: time.Hour, RefreshJitter: 5 * time.Hour, Rand: func(n int64) int64 { return n - 1 }})
	e.create(t, "app/api", "v1")
	e.getString(t, "app/api", "v1")
	e.clock.Advance(30*time.Minute - time.Second)
	e.getString(t, "app/api", "v1")
	e.wantCalls(t, 1, 0)
	e.clock.Advance(time.Second)
	e.getString(t, "app/api", "v1")
	e.wantCalls(t, 1, 1)
}

func TestRefreshAfterRotation(t *testing.T) {
	e := newEnv(t, cache.Options{RefreshInterval: time.Hour})
	e.create(t, "app/api", "v1")
	e.getString(t, "app/api", "v1")
	e.wantCalls(t, 1, 0)

	// Due for refresh, nothing changed: DescribeSecret only.
	e.clock.Advance(time.Hour)
	e.getString(t, "app/api", "v1")
	e.wantCalls(t, 1, 1)
	if s := e.cache.Stats(); s.Refreshes != 1 || s.Reloads != 0 {
		t.Fatalf("stats %+v", s)
	}

	// Rotated: served from memory until the refresh time, then read again.
	e.put(t, "app/api", "v2")
	e.clock.Advance(time.Hour - time.Second)
	e.getString(t, "app/api", "v1")
	e.wantCalls(t, 1, 1)
	e.clock.Advance(time.Second)
	e.getString(t, "app/api", "v2")
	e.wantCalls(t, 2, 2)
	if s := e.cache.Stats(); s.Refreshes != 2 || s.Reloads != 1 {
		t.Fatalf("stats %+v", s)
	}

	// The refresh vouched for it anew: a hit.
	e.getString(t, "app/api", "v2")
	e.wantCalls(t, 2, 2)
}

func TestVersionsAndStages(t *testing.T) {
	e := newEnv(t, cache.Options{})
	ctx := context.Background()
	v1 := e.create(t, "app/key", "first")
	v2 := e.put(t, "app/key", "second")

	get := func(v cache.Version, want, wantID string, wantStage string) {
		t.Helper()
		got, err := e.cache.Get(ctx, "app/key", v)
		if err != nil {
			t.Fatalf("Get(%+v): %v", v, err)
		}
		s, err := got.SecretString()
		if err != nil || s != want || got.VersionID != wantID {
			t.Fatalf("Get(%+v) = %v %q (%v), want %q of %s", v, got, s, err, want, wantID)
		}
		if wantStage != "" && !slices.Contains(got.VersionStages, wantStage) {
			t.Fatalf("Get(%+v): stages %q, want %s", v, got.VersionStages, wantStage)
		}
	}
	get(cache.Version{Stage: "AWSPREVIOUS"}, "first", v1, "AWSPREVIOUS")
	get(cache.Version{ID: v1}, "first", v1, "AWSPREVIOUS")
	get(cache.Version{ID: v2, Stage: "AWSCURRENT"}, "second", v2, "AWSCURRENT")
	get(cache.Version{}, "second", v2, "AWSCURRENT")
	e.wantCalls(t, 4, 0) // four values: stage, id, id and stage, AWSCURRENT
	get(cache.Version{Stage: "AWSPREVIOUS"}, "first", v1, "")
	get(cache.Version{ID: v1}, "first", v1, "")
	e.wantCalls(t, 4, 0)

	// Rotate again: AWSPREVIOUS moves to v2, and v1 keeps no label.
	e.put(t, "app/key", "third")
	e.clock.Advance(time.Hour)
	get(cache.Version{Stage: "AWSPREVIOUS"}, "second", v2, "AWSPREVIOUS")
	e.wantCalls(t, 5, 1)
	get(cache.Version{ID: v1}, "first", v1, "") // deprecated: read again by id
	e.wantCalls(t, 6, 2)

	// v2 is no longer AWSCURRENT: the service's answer drops the value.
	before := e.cache.Stats().Entries
	_, err := e.cache.Get(ctx, "app/key", cache.Version{ID: v2, Stage: "AWSCURRENT"})
	wantCode(t, err, "InvalidRequestException") // "You provided a VersionStage that is not associated to the provided VersionId."
	if s := e.cache.Stats(); s.Entries != before-1 {
		t.Fatalf("stats %+v: want %d entries", s, before-1)
	}
}

func TestLRU(t *testing.T) {
	e := newEnv(t, cache.Options{MaxSecrets: 2})
	for _, name := range []string{"a", "b", "c"} {
		e.create(t, name, "value of "+name)
	}
	e.getString(t, "a", "value of a")
	e.getString(t, "b", "value of b")
	e.getString(t, "a", "value of a") // a is now the most recently used
	e.getString(t, "c", "value of c") // b goes
	e.wantCalls(t, 3, 0)
	if s := e.cache.Stats(); s.Evictions != 1 || s.Entries != 2 {
		t.Fatalf("stats %+v", s)
	}
	e.getString(t, "a", "value of a")
	e.getString(t, "c", "value of c")
	e.wantCalls(t, 3, 0)
	e.getString(t, "b", "value of b") // read again; a goes
	e.wantCalls(t, 4, 0)
	e.getString(t, "c", "value of c")
	e.wantCalls(t, 4, 0)
	e.getString(t, "a", "value of a")
	e.wantCalls(t, 5, 0)
}

func TestInvalidate(t *testing.T) {
	e := newEnv(t, cache.Options{})
	e.create(t, "app/own", "old")
	e.getString(t, "app/own", "old")
	e.put(t, "app/own", "new")
	e.getString(t, "app/own", "old")
	e.cache.Invalidate("app/own")
	e.getString(t, "app/own", "new")
	e.wantCalls(t, 2, 0)
}

// blockingClient passes calls on to a real client, but holds the first call of operation
// op until its context ends, so that a test can give up a call while others wait for it.
type blockingClient struct {
	cache.Client
	op   string
	once sync.Once
}

func (b *blockingClient) block(ctx context.Context, op string) error {
	first := false
	if op == b.op {
		b.once.Do(func() { first = true })
	}
	if first {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (b *blockingClient) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	if err := b.block(ctx, getValue); err != nil {
		return nil, err
	}
	return b.Client.GetSecretValue(ctx, in, optFns...)
}

func (b *blockingClient) DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	if err := b.block(ctx, describe); err != nil {
		return nil, err
	}
	return b.Client.DescribeSecret(ctx, in, optFns...)
}

func TestCallerGivesUp(t *testing.T) {
	srv := testserver.Start(t)
	admin := srv.Client()
	if _, err := admin.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String("app/slow"), SecretString: aws.String("patience")}); err != nil {
		t.Fatal(err)
	}
	c := cache.New(&blockingClient{Client: srv.Client(), op: getValue}, cache.Options{})

	ctx, cancel := context.WithCancel(context.Background())
	leader := make(chan error, 1)
	go func() {
		_, err := c.GetString(ctx, "app/slow")
		leader <- err
	}()
	waitFor(t, func() bool { return c.Stats().Misses == 1 })
	const n = 10
	errs := make(chan error, n)
	for range n {
		go func() {
			got, err := c.GetString(context.Background(), "app/slow")
			if err == nil && got != "patience" {
				err = errors.New("wrong value")
			}
			errs <- err
		}()
	}
	waitFor(t, func() bool { return c.Stats().Misses == n+1 })
	cancel()
	if err := <-leader; !errors.Is(err, context.Canceled) {
		t.Fatalf("the reader who gave up got %v", err)
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("a reader who waited got %v", err)
		}
	}
	if got := srv.Faults.Count(getValue); got != 1 {
		t.Fatalf("%d GetSecretValue requests reached the server, want 1", got)
	}
}

// TestDeadlineDuringRefresh checks that a reader whose context ends while a refresh waits
// for the service gets the value held, while it may be served stale.
func TestDeadlineDuringRefresh(t *testing.T) {
	srv := testserver.Start(t)
	admin := srv.Client()
	if _, err := admin.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String("app/slow"), SecretString: aws.String("held")}); err != nil {
		t.Fatal(err)
	}
	clk := testserver.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	c := cache.New(&blockingClient{Client: srv.Client(), op: describe}, cache.Options{Now: clk.Now, MaxStale: time.Minute})
	if _, err := c.GetString(context.Background(), "app/slow"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)

	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan string, 1)
	go func() {
		v, err := c.GetString(ctx, "app/slow")
		if err != nil {
			v = err.Error()
		}
		got <- v
	}()
	waitFor(t, func() bool { return c.Stats().Refreshes == 1 })
	cancel()
	if v := <-got; v != "held" {
		t.Fatalf("got %q, want the value held", v)
	}
	if s := c.Stats(); s.StaleServes != 1 || s.Entries != 1 {
		t.Fatalf("stats %+v", s)
	}

	// Past MaxStale, the context's error.
	clk.Advance(time.Minute)
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := c.GetString(ctx, "app/slow"); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

// waitFor polls cond until it holds, or fails the test after a generous deadline.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
	}
}

func TestHeld(t *testing.T) {
	e := newEnv(t, cache.Options{})
	v1 := e.create(t, "app/db", "one")
	if got := e.cache.Held(); len(got) != 0 {
		t.Fatalf("Held() = %v before any read", got)
	}
	e.getString(t, "app/db", "one")
	got := e.cache.Held()
	if len(got) != 1 || got[0].SecretID != "app/db" || got[0].VersionID != v1 || fmt.Sprint(got[0].VersionStages) != "[AWSCURRENT]" {
		t.Fatalf("Held() = %+v, want app/db %s [AWSCURRENT]", got, v1)
	}
	e.cache.Invalidate("app/db")
	if got := e.cache.Held(); len(got) != 0 {
		t.Fatalf("Held() = %v after Invalidate", got)
	}
}
