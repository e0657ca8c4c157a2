package cache_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/coffer-project/coffer/cache"
)

// randRecorder is the backoff's random source: it records the bounds it is asked for and
// answers with pick.
type randRecorder struct {
	mu   sync.Mutex
	n    []int64
	pick func(n int64) int64
}

func (r *randRecorder) Int64N(n int64) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n = append(r.n, n)
	return r.pick(n)
}

func TestBackoffOnThrottling(t *testing.T) {
	const base, ceiling = 10 * time.Millisecond, 25 * time.Millisecond
	largest := &randRecorder{pick: func(n int64) int64 { return n - 1 }}
	e := newEnv(t, cache.Options{Retry: cache.Retry{MaxAttempts: 5, Base: base, Cap: ceiling}, Rand: largest.Int64N})
	e.create(t, "app/busy", "worth the wait")

	e.srv.Faults.Throttle(getValue, 3)
	e.getString(t, "app/busy", "worth the wait")
	e.wantCalls(t, 4, 0) // three throttled, then the answer
	// Full jitter: uniform in [0, min(cap, base·2ⁿ)]; the largest pick is the bound itself.
	want := []time.Duration{base, 2 * base, ceiling}
	if got := e.sleeps.All(); !slices.Equal(got, want) {
		t.Fatalf("slept %v, want %v", got, want)
	}
	for i, n := range largest.n {
		if n != int64(want[i])+1 {
			t.Fatalf("random pick %d in [0, %d), want [0, %d]", i, n, want[i])
		}
	}
	if s := e.cache.Stats(); s.Retries != 3 {
		t.Fatalf("stats %+v: want 3 retries", s)
	}

	// A refresh is retried too.
	e.clock.Advance(time.Hour)
	e.srv.Faults.Throttle(describe, 2)
	e.getString(t, "app/busy", "worth the wait")
	e.wantCalls(t, 4, 3)
}

func TestBackoffJitterBounds(t *testing.T) {
	const base = 10 * time.Millisecond
	rng := rand.New(rand.NewPCG(1, 2))
	random := &randRecorder{pick: rng.Int64N}
	e := newEnv(t, cache.Options{Retry: cache.Retry{MaxAttempts: 5, Base: base, Cap: time.Second}, Rand: random.Int64N})
	e.create(t, "app/busy", "v")
	e.srv.Faults.Throttle(getValue, 4)
	e.getString(t, "app/busy", "v")
	e.wantCalls(t, 5, 0)
	got := e.sleeps.All()
	if len(got) != 4 {
		t.Fatalf("slept %v, want 4 backoffs", got)
	}
	for i, d := range got {
		if bound := base << i; d < 0 || d > bound {
			t.Errorf("backoff %d is %v, want within [0, %v]", i, d, bound)
		}
	}
}

func TestRetriesRunOut(t *testing.T) {
	e := newEnv(t, cache.Options{Retry: cache.Retry{MaxAttempts: 3}})
	e.create(t, "app/busy", "v")
	e.srv.Faults.Throttle(getValue, 10)
	_, err := e.cache.GetString(context.Background(), "app/busy")
	wantCode(t, err, "ThrottlingException")
	e.wantCalls(t, 3, 0)
	if got := len(e.sleeps.All()); got != 2 {
		t.Fatalf("%d backoffs, want 2", got)
	}
	if s := e.cache.Stats(); s.Entries != 0 {
		t.Fatalf("stats %+v: an error was kept", s)
	}
}

func TestNotRetried(t *testing.T) {
	e := newEnv(t, cache.Options{})
	ctx := context.Background()

	_, err := e.cache.GetString(ctx, "app/missing")
	wantCode(t, err, "ResourceNotFoundException")
	e.wantCalls(t, 1, 0)

	// Scheduled for deletion: DescribeSecret still answers, with a DeletedDate, and
	// GetSecretValue refuses. The value is dropped.
	e.create(t, "app/retired", "old")
	e.getString(t, "app/retired", "old")
	if _, err := e.admin.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("app/retired")}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	_, err = e.cache.GetString(ctx, "app/retired")
	wantCode(t, err, "InvalidRequestException")
	e.wantCalls(t, 3, 1)
	if s := e.cache.Stats(); s.Entries != 0 {
		t.Fatalf("stats %+v: the value of a deleted secret was kept", s)
	}

	// Deleted at once: DescribeSecret says so (as AWS does, for a while, with
	// InvalidRequestException rather than ResourceNotFoundException).
	e.create(t, "app/gone", "old")
	e.getString(t, "app/gone", "old")
	if _, err := e.admin.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("app/gone"), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	_, err = e.cache.GetString(ctx, "app/gone")
	wantCode(t, err, "InvalidRequestException")
	e.wantCalls(t, 4, 2)
	if s := e.cache.Stats(); s.Entries != 0 || s.Retries != 0 || s.StaleServes != 0 {
		t.Fatalf("stats %+v", s)
	}
	if got := e.sleeps.All(); len(got) != 0 {
		t.Fatalf("backoffs %v, want none", got)
	}
}

func TestStaleWhileUnreachable(t *testing.T) {
	const refresh, maxStale, probe = time.Hour, 5 * time.Minute, 10 * time.Second
	e := newEnv(t, cache.Options{RefreshInterval: refresh, MaxStale: maxStale, ProbeInterval: probe, Retry: cache.Retry{MaxAttempts: 2}})
	ctx := context.Background()
	e.create(t, "app/db", "last good")
	e.create(t, "app/other", "never read")
	e.getString(t, "app/db", "last good")
	e.wantCalls(t, 1, 0)

	e.srv.Faults.SetDown(true)
	wantStale := func(stale uint64) {
		t.Helper()
		e.getString(t, "app/db", "last good")
		if s := e.cache.Stats(); s.StaleServes != stale {
			t.Fatalf("stats %+v: want %d stale serves", s, stale)
		}
	}
	e.clock.Advance(refresh)
	wantStale(1) // the refresh failed twice: the last good value
	e.wantCalls(t, 1, 2)
	wantStale(2) // within the probe interval: no call
	e.wantCalls(t, 1, 2)
	e.clock.Advance(probe)
	wantStale(3) // asked again, failed again
	e.wantCalls(t, 1, 4)
	e.clock.Advance(maxStale - probe - time.Nanosecond)
	wantStale(4) // the last instant within MaxStale
	e.wantCalls(t, 1, 6)

	e.clock.Advance(time.Nanosecond)
	_, err := e.cache.GetString(ctx, "app/db")
	wantCode(t, err, "ServiceUnavailableException")
	e.wantCalls(t, 1, 8)
	if s := e.cache.Stats(); s.Entries != 0 || s.StaleServes != 4 {
		t.Fatalf("stats %+v: want the value dropped", s)
	}

	// A secret never read has no value to fall back on.
	_, err = e.cache.GetString(ctx, "app/other")
	wantCode(t, err, "ServiceUnavailableException")
	e.wantCalls(t, 3, 8)

	e.srv.Faults.SetDown(false)
	e.getString(t, "app/db", "last good")
	e.wantCalls(t, 4, 8)
}

func TestStaleWhenServerGone(t *testing.T) {
	e := newEnv(t, cache.Options{MaxStale: time.Minute})
	ctx := context.Background()
	e.create(t, "app/db", "last good")
	e.getString(t, "app/db", "last good")

	e.srv.Close() // connections refused from now on: a transport error, retried
	e.clock.Advance(time.Hour)
	e.getString(t, "app/db", "last good")
	if s := e.cache.Stats(); s.StaleServes != 1 || s.Retries != 2 {
		t.Fatalf("stats %+v: want a stale serve after 2 retries", s)
	}

	e.clock.Advance(time.Minute)
	_, err := e.cache.GetString(ctx, "app/db")
	if err == nil {
		t.Fatal("a value past MaxStale was served")
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		t.Fatalf("got the service's answer %v, want a connection error", err)
	}
}
