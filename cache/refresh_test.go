package cache_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/coffer-project/coffer/cache"
	"github.com/coffer-project/coffer/internal/testserver"
)

// refreshString calls Refresh for name's AWSCURRENT version and returns its string.
func (e *env) refreshString(t *testing.T, name string) (string, error) {
	t.Helper()
	v, err := e.cache.Refresh(context.Background(), name, cache.Version{})
	if err != nil {
		return "", err
	}
	defer v.Wipe()
	return v.SecretString()
}

// TestRefresh: Refresh reads a fresh value again with GetSecretValue and keeps what it
// reads; a refresh that fails with a transient error returns it and keeps the value held.
func TestRefresh(t *testing.T) {
	e := newEnv(t, cache.Options{MaxStale: time.Minute})
	e.create(t, "app/db", "old")
	e.getString(t, "app/db", "old")
	e.put(t, "app/db", "new")
	e.getString(t, "app/db", "old") // fresh: from memory
	e.wantCalls(t, 1, 0)

	got, err := e.refreshString(t, "app/db")
	if err != nil || got != "new" {
		t.Fatalf("Refresh: %v; want the value put since", err)
	}
	e.wantCalls(t, 2, 0) // GetSecretValue at once, no DescribeSecret first
	e.getString(t, "app/db", "new")
	e.wantCalls(t, 2, 0)
	if s := e.cache.Stats(); s.Refreshes != 1 || s.Reloads != 1 || s.Entries != 1 {
		t.Fatalf("stats %+v: want one refresh that read another version", s)
	}

	// The service down: the error is Refresh's answer, and the value stays held, fresh.
	e.srv.Faults.SetDown(true)
	_, err = e.refreshString(t, "app/db")
	wantCode(t, err, "ServiceUnavailableException")
	e.wantCalls(t, 5, 0) // 3 attempts
	e.getString(t, "app/db", "new")
	e.wantCalls(t, 5, 0)
	if s := e.cache.Stats(); s.Entries != 1 || s.StaleServes != 0 {
		t.Fatalf("stats %+v: want the value held, and no stale serve", s)
	}

	// Past its refresh time, a stale serve (after the probe interval the failed Refresh
	// started); Refresh still answers the error.
	e.clock.Advance(time.Hour)
	e.getString(t, "app/db", "new")
	e.wantCalls(t, 5, 3)
	if s := e.cache.Stats(); s.StaleServes != 1 {
		t.Fatalf("stats %+v: want a stale serve", s)
	}
	_, err = e.refreshString(t, "app/db")
	wantCode(t, err, "ServiceUnavailableException")
	e.getString(t, "app/db", "new") // within the probe interval the failed Refresh began
	e.wantCalls(t, 8, 3)

	e.srv.Faults.SetDown(false)
	if got, err := e.refreshString(t, "app/db"); err != nil || got != "new" {
		t.Fatalf("Refresh after the service came back: %v, or another value", err)
	}
}

// TestRefreshServiceError: a refresh the service refuses (ResourceNotFoundException)
// returns the error and, as the AWS agent's refreshNow, leaves the value held: it is
// served while fresh, and dropped when its own refresh meets the same answer.
func TestRefreshServiceError(t *testing.T) {
	e := newEnv(t, cache.Options{})
	ctx := context.Background()
	first := e.create(t, "app/db", "blue value")
	e.put(t, "app/db", "current value")
	if _, err := e.admin.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String("app/db"), VersionStage: aws.String("BLUE"), MoveToVersionId: aws.String(first)}); err != nil {
		t.Fatal(err)
	}
	blue := cache.Version{Stage: "BLUE"}
	readBlue := func() (string, error) {
		v, err := e.cache.Get(ctx, "app/db", blue)
		if err != nil {
			return "", err
		}
		defer v.Wipe()
		return v.SecretString()
	}
	if got, err := readBlue(); err != nil || got != "blue value" {
		t.Fatalf("Get(BLUE): %v, or not the value of the version labelled BLUE", err)
	}
	if _, err := e.admin.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String("app/db"), VersionStage: aws.String("BLUE"), RemoveFromVersionId: aws.String(first)}); err != nil {
		t.Fatal(err)
	}

	_, err := e.cache.Refresh(ctx, "app/db", blue)
	wantCode(t, err, "ResourceNotFoundException")
	e.wantCalls(t, 2, 0) // not retried
	if got, err := readBlue(); err != nil || got != "blue value" {
		t.Fatalf("Get(BLUE) after a refused Refresh: %v; want the value held", err)
	}
	e.wantCalls(t, 2, 0)

	e.clock.Advance(time.Hour)
	_, err = readBlue()
	wantCode(t, err, "ResourceNotFoundException")
	e.wantCalls(t, 3, 1)
	if s := e.cache.Stats(); s.Entries != 0 {
		t.Fatalf("stats %+v: want the value dropped by its own refresh", s)
	}
}

// gateClient holds every GetSecretValue call until open is closed.
type gateClient struct {
	cache.Client
	open chan struct{}
}

func (g *gateClient) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	select {
	case <-g.open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Client.GetSecretValue(ctx, in, optFns...)
}

// TestRefreshCoalesced: concurrent Refreshes of a secret, and the Gets that find no value,
// make one GetSecretValue between them.
func TestRefreshCoalesced(t *testing.T) {
	srv := testserver.Start(t)
	if _, err := srv.Client().CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String("app/shared"), SecretString: aws.String("one value")}); err != nil {
		t.Fatal(err)
	}
	gate := &gateClient{Client: srv.Client(), open: make(chan struct{})}
	c := cache.New(gate, cache.Options{})

	const n = 20
	errs := make(chan error, 2*n)
	var wg sync.WaitGroup
	for i := range 2 * n {
		wg.Go(func() {
			read := c.Refresh
			if i%2 == 1 {
				read = c.Get
			}
			v, err := read(context.Background(), "app/shared", cache.Version{})
			if err == nil {
				if s, _ := v.SecretString(); s != "one value" {
					err = errors.New("a reader got another value")
				}
			}
			errs <- err
		})
	}
	waitFor(t, func() bool { return c.Stats().Misses == 2*n }) // every reader waits
	close(gate.open)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.Faults.Count(getValue); got != 1 {
		t.Fatalf("%d GetSecretValue requests, want 1", got)
	}
}

// describeGate asks the service DescribeSecret, says so on answered, then holds the
// answer until open is closed.
type describeGate struct {
	cache.Client
	answered chan struct{} // one buffered slot
	open     chan struct{}
}

func (g *describeGate) DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	out, err := g.Client.DescribeSecret(ctx, in, optFns...)
	g.answered <- struct{}{}
	<-g.open
	return out, err
}

// TestRefreshAfterGetsRefresh: a Refresh that finds Get's refresh under way (which may
// vouch for the value held with DescribeSecret alone) waits for it, then reads the value
// itself.
func TestRefreshAfterGetsRefresh(t *testing.T) {
	srv := testserver.Start(t)
	admin := srv.Client()
	ctx := context.Background()
	if _, err := admin.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("app/db"), SecretString: aws.String("old")}); err != nil {
		t.Fatal(err)
	}
	clk := testserver.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var nows atomic.Int64 // calls of Now: one each time a read looks at what is held
	gate := &describeGate{Client: srv.Client(), answered: make(chan struct{}, 1), open: make(chan struct{})}
	c := cache.New(gate, cache.Options{Now: func() time.Time { nows.Add(1); return clk.Now() }})
	if _, err := c.Get(ctx, "app/db", cache.Version{}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)

	// read sends which value f read, "old" or "new", and anything else as "neither".
	read := func(f func(context.Context, string, cache.Version) (cache.Value, error), got chan<- string) {
		v, err := f(ctx, "app/db", cache.Version{})
		s, _ := v.SecretString()
		if err != nil || (s != "old" && s != "new") {
			s = "neither"
		}
		got <- s
	}
	got := make(chan string, 1)
	go read(c.Get, got)
	<-gate.answered // "still current"
	if _, err := admin.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("app/db"), SecretString: aws.String("new")}); err != nil {
		t.Fatal(err)
	}
	refreshed := make(chan string, 1)
	before := nows.Load()
	go read(c.Refresh, refreshed)
	waitFor(t, func() bool { return nows.Load() > before }) // it found the refresh under way
	close(gate.open)
	if v := <-got; v != "old" {
		t.Errorf("Get = %q, want the value DescribeSecret vouched for", v)
	}
	if v := <-refreshed; v != "new" {
		t.Errorf("Refresh = %q, want the value put since", v)
	}
	if n := srv.Faults.Count(getValue); n != 2 {
		t.Errorf("%d GetSecretValue requests, want 2", n)
	}
}
