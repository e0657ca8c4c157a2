package agent_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/coffer-project/coffer/agent"
	cofferclient "github.com/coffer-project/coffer/client"
	"github.com/coffer-project/coffer/internal/testserver"
)

// watcherFor is a coffer client for url with the test server's administrator key.
func watcherFor(ts *testserver.Server, url string) *cofferclient.Client {
	creds := credentials.NewStaticCredentialsProvider(ts.Creds.AccessKeyID, ts.Creds.SecretAccessKey, "")
	return cofferclient.New(url, testserver.Region, creds, &http.Client{Timeout: 90 * time.Second})
}

// TestAgentWatchSeesChange is the "done when": with a TTL of an hour, a value
// changed on the server reaches the agent's readers within seconds.
func TestAgentWatchSeesChange(t *testing.T) {
	ts := testserver.Start(t)
	f := startWith(t, ts, ts.Client(), agent.Config{TTL: agent.MaxTTL, Watcher: watcherFor(ts, ts.URL)})
	f.create(t, "app/db", "one")
	const path = "/secretsmanager/get?secretId=app/db"
	if a := f.value(t, path); *a.SecretString != "one" {
		t.Fatalf("first read: %q", *a.SecretString)
	}
	time.Sleep(1500 * time.Millisecond) // let the watcher take the secret up (not required: a put before is seen too)
	if _, err := f.sm.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: aws.String("app/db"), SecretString: aws.String("two")}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if a := f.value(t, path); *a.SecretString == "two" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("10s after a put, the agent still serves the old value (TTL 1h)")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := ts.Faults.Count("WatchSecrets"); n == 0 {
		t.Error("no WatchSecrets call reached the server")
	}
}

// TestAgentWatchServerDown: while the server answers 503, the watcher backs off and the
// agent keeps serving the value it holds.
func TestAgentWatchServerDown(t *testing.T) {
	ts := testserver.Start(t)
	f := startWith(t, ts, ts.Client(), agent.Config{TTL: agent.MaxTTL, Watcher: watcherFor(ts, ts.URL)})
	f.create(t, "app/db", "one")
	const path = "/secretsmanager/get?secretId=app/db"
	f.value(t, path)
	ts.Faults.SetDown(true)
	time.Sleep(3 * time.Second) // the watcher's calls fail meanwhile
	if a := f.value(t, path); *a.SecretString != "one" {
		t.Fatalf("while the server is down: %q, want the value held", *a.SecretString)
	}
	ts.Faults.SetDown(false)
	if a := f.value(t, path); *a.SecretString != "one" {
		t.Fatalf("after the server is back: %q", *a.SecretString)
	}
}

// TestAgentWatchStopsWithoutOperation: against an endpoint that does not know
// WatchSecrets (AWS), the watcher stops after its first call.
func TestAgentWatchStopsWithoutOperation(t *testing.T) {
	ts := testserver.Start(t)
	var calls atomic.Int64
	aws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"__type":"UnknownOperationException","Message":"Unknown operation"}`))
	}))
	t.Cleanup(aws.Close)
	f := startWith(t, ts, ts.Client(), agent.Config{TTL: agent.MaxTTL, Watcher: watcherFor(ts, aws.URL)})
	f.create(t, "app/db", "one")
	f.value(t, "/secretsmanager/get?secretId=app/db")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { f.agent.Watch(ctx); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("the watcher did not stop against an endpoint without WatchSecrets")
	}
	time.Sleep(2500 * time.Millisecond)
	n := calls.Load()
	time.Sleep(2500 * time.Millisecond)
	if n == 0 || calls.Load() != n || n > 2 {
		t.Errorf("%d then %d calls, want one per watcher (Serve's and this test's) and no more", n, calls.Load())
	}
}
