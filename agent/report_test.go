package agent_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-project/coffer/agent"
	"github.com/coffer-project/coffer/audit"
	"github.com/coffer-project/coffer/internal/testserver"
)

// cachedReads returns the servedFromCache records of the trail in dir.
func cachedReads(t *testing.T, dir string) []*audit.Event {
	t.Helper()
	entries, _, err := audit.Query(audit.DirSource(dir), audit.Filter{}, 0, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	var out []*audit.Event
	for _, e := range entries {
		if e.Event.AdditionalEventData["servedFromCache"] == true {
			out = append(out, e.Event)
		}
	}
	return out
}

// TestAgentReportsCachedReads: reads the agent answers from its cache reach the server's
// audit trail as GetSecretValue records marked servedFromCache, counted, with the
// application's address; the read that called the service is not among them.
func TestAgentReportsCachedReads(t *testing.T) {
	ts := testserver.Start(t)
	f := startWith(t, ts, ts.Client(), agent.Config{TTL: agent.DefaultTTL, Reporter: watcherFor(ts, ts.URL), ReportInterval: 200 * time.Millisecond})
	out := f.create(t, "app/db", "one")
	const path = "/secretsmanager/get?secretId=app/db"
	for range 5 {
		f.value(t, path) // the first calls the service, four come from the cache
	}
	dir := ts.AuditDir
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs := cachedReads(t, dir)
		n := 0
		for _, r := range recs {
			n += int(r.AdditionalEventData["count"].(float64))
		}
		if n == 4 {
			r := recs[0]
			if r.EventName != "GetSecretValue" || r.RequestParameters["secretId"] != "app/db" ||
				r.RequestParameters["versionId"] != *out.VersionId || r.RequestParameters["versionStage"] != "AWSCURRENT" ||
				r.AdditionalEventData["clientIP"] != "127.0.0.1" {
				t.Errorf("record %+v", r)
			}
			break
		}
		if n > 4 || time.Now().After(deadline) {
			t.Fatalf("%d reads from the cache in the trail, want 4", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	if n := ts.Faults.Count("ReportCachedReads"); n != 1 {
		t.Errorf("%d ReportCachedReads calls with nothing new to report, want 1", n)
	}
}

// TestAgentReportRetriesAndStops: a report that fails is sent again at the next interval;
// against an endpoint without the operation, reporting stops.
func TestAgentReportRetriesAndStops(t *testing.T) {
	ts := testserver.Start(t)
	f := startWith(t, ts, ts.Client(), agent.Config{TTL: agent.DefaultTTL, Reporter: watcherFor(ts, ts.URL), ReportInterval: 200 * time.Millisecond})
	f.create(t, "app/db", "one")
	const path = "/secretsmanager/get?secretId=app/db"
	f.value(t, path)
	ts.Faults.SetDown(true)
	f.value(t, path)
	f.value(t, path)
	time.Sleep(600 * time.Millisecond) // reports fail meanwhile
	ts.Faults.SetDown(false)
	dir := ts.AuditDir
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := 0
		for _, r := range cachedReads(t, dir) {
			n += int(r.AdditionalEventData["count"].(float64))
		}
		if n == 2 {
			break
		}
		if n > 2 || time.Now().After(deadline) {
			t.Fatalf("%d reads from the cache in the trail after failed reports, want 2", n)
		}
		time.Sleep(100 * time.Millisecond)
	}

	var calls atomic.Int64
	aws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"__type":"UnknownOperationException","Message":"Unknown operation"}`))
	}))
	t.Cleanup(aws.Close)
	g := startWith(t, ts, ts.Client(), agent.Config{TTL: agent.DefaultTTL, Reporter: watcherFor(ts, aws.URL), ReportInterval: 100 * time.Millisecond})
	for range 3 {
		g.value(t, path)
	}
	time.Sleep(500 * time.Millisecond)
	g.value(t, path)
	time.Sleep(500 * time.Millisecond)
	if n := calls.Load(); n != 1 {
		t.Errorf("%d calls to an endpoint without ReportCachedReads, want 1", n)
	}
}
