package server_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/audit"
	"github.com/coffer-project/coffer/server"
	"github.com/coffer-project/coffer/sqlite"
)

// heldSink is the trail's file sink with its fsyncs held back until released.
type heldSink struct {
	*audit.FileSink
	release chan struct{}
}

func (h *heldSink) Sync() error {
	<-h.release
	return h.FileSink.Sync()
}

// TestChangeAnswersWithItsIntent: on SQLite a change of a secret commits its audit intent
// with its writes and is answered once its record is written to the trail, while the trail's
// fsync is held back; a change that keeps no intent (a KMS key's) waits for that fsync. Once
// the fsync comes, the intents go.
func TestChangeAnswersWithItsIntent(t *testing.T) {
	held := &heldSink{release: make(chan struct{})}
	released := false
	release := func() {
		if !released {
			released = true
			close(held.release)
		}
	}
	defer release()
	s := startServer(t, serverOpts{auditSink: func(fs *audit.FileSink) audit.Sink { held.FileSink = fs; return held }})
	sm := s.client("us-east-1")
	ctx := t.Context()
	call := func(f func(ctx context.Context) error) chan error {
		done := make(chan error, 1)
		go func() { done <- f(ctx) }()
		return done
	}
	answered := func(what string, done chan error) {
		t.Helper()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s not answered while the trail's fsync is held back", what)
		}
	}
	answered("CreateSecret", call(func(ctx context.Context) error {
		_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("intent/app"), SecretString: aws.String("v1")})
		return err
	}))
	answered("PutSecretValue", call(func(ctx context.Context) error {
		_, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("intent/app"), SecretString: aws.String("v2")})
		return err
	}))
	intents := s.Store.(coffer.AuditIntentStore)
	rows, err := intents.AuditIntents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d intents kept while the fsync is held back, want 2 (CreateSecret, PutSecretValue)", len(rows))
	}
	names := map[string]bool{}
	for _, e := range auditEvents(t, s) {
		names[e.EventName] = true
	}
	if !names["CreateSecret"] || !names["PutSecretValue"] {
		t.Fatalf("the trail holds %v before the answers' fsync; want both calls written", names)
	}

	key := call(func(ctx context.Context) error {
		_, err := s.kmsClient("us-east-1").CreateKey(ctx, &kms.CreateKeyInput{})
		return err
	})
	select {
	case err := <-key:
		t.Fatalf("CreateKey answered (%v) before its record's fsync", err)
	case <-time.After(100 * time.Millisecond):
	}
	release()
	answered("CreateKey", key)
	waitFor(t, func() bool {
		rows, err := intents.AuditIntents(ctx)
		return err == nil && len(rows) == 0
	})
}

// TestRecoverAuditIntents: at start, the records of the intents a crash left that the trail
// lacks are appended, marked recoveredFromIntent, once each; those the trail holds are not
// appended again; and every intent goes.
func TestRecoverAuditIntents(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "coffer.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	trail := openAudit(t, filepath.Join(dir, "audit"), 0, 0)
	event := func(requestID, name string) *audit.Event {
		return &audit.Event{EventVersion: audit.EventVersion, EventSource: "secretsmanager.amazonaws.com", EventName: name,
			RequestID: requestID, EventID: requestID + "-e", EventType: audit.TypeAPICall, AWSRegion: "us-east-1"}
	}
	if err := trail.Append(ctx, event("before", "GetSecretValue")); err != nil {
		t.Fatal(err)
	}
	seq := trail.Stats().Seq
	body := func(evs ...*audit.Event) []byte {
		b := []byte(`{"seq":` + itoa(int(seq)) + `,"events":[`)
		for i, ev := range evs {
			if i > 0 {
				b = append(b, ',')
			}
			b = ev.AppendJSON(b)
		}
		return append(b, "]}"...)
	}
	keep := func(b []byte) {
		in := &coffer.AuditIntent{Build: func() []byte { return b }}
		if err := st.Update(coffer.WithAuditIntent(coffer.OneSecretUpdate(ctx, "k"), in), func(coffer.Tx) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	// written and fsynced before the crash: in the trail
	if err := trail.Append(ctx, event("present", "TagResource")); err != nil {
		t.Fatal(err)
	}
	keep(body(event("present", "TagResource")))
	// committed, never written to the trail: twice (two Updates of one call), with its key use
	keep(body(event("missing", "PutSecretValue"), event("missing", "GenerateDataKey")))
	keep(body(event("missing", "PutSecretValue"), event("missing", "GenerateDataKey")))

	n, err := server.RecoverAuditIntents(ctx, st, trail)
	if err != nil || n != 1 {
		t.Fatalf("RecoverAuditIntents: %d, %v; want 1 call recovered", n, err)
	}
	if rows, err := st.AuditIntents(ctx); err != nil || len(rows) != 0 {
		t.Fatalf("intents left: %v, %v", rows, err)
	}
	recs, err := trail.Records(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range recs {
		if r.Event == nil {
			continue
		}
		var ev audit.Event
		if err := jsonUnmarshal(r.Event, &ev); err != nil {
			t.Fatal(err)
		}
		count[ev.RequestID+"/"+ev.EventName]++
		if ev.RequestID == "missing" && ev.AdditionalEventData["recoveredFromIntent"] != true {
			t.Errorf("recovered %s not marked: %v", ev.EventName, ev.AdditionalEventData)
		}
	}
	for key, want := range map[string]int{"before/GetSecretValue": 1, "present/TagResource": 1, "missing/PutSecretValue": 1, "missing/GenerateDataKey": 1} {
		if count[key] != want {
			t.Errorf("%s: %d records, want %d (all: %v)", key, count[key], want, count)
		}
	}
	// Nothing left: a second start appends nothing.
	if n, err := server.RecoverAuditIntents(ctx, st, trail); err != nil || n != 0 {
		t.Fatalf("second RecoverAuditIntents: %d, %v", n, err)
	}
}

// TestAuditIntentsConcurrentPuts: concurrent changes, each committing its intent in a group
// commit shared with others, leave one record each in a trail that verifies, and no intent
// once the trail's fsyncs covered them.
func TestAuditIntentsConcurrentPuts(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := t.Context()
	sm := s.client("us-east-1")
	const workers, each = 16, 8
	var wg sync.WaitGroup
	ids := make(chan string, workers*each)
	for w := range workers {
		name := aws.String("intent/busy/" + itoa(w))
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: name, SecretString: aws.String("v0")}); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for i := range each {
				out, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: name, SecretString: aws.String("v" + itoa(i+1))})
				if err != nil {
					t.Error(err)
					return
				}
				id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
				ids <- id
			}
		})
	}
	wg.Wait()
	close(ids)
	want := map[string]bool{}
	for id := range ids {
		want[id] = true
	}
	if len(want) != workers*each {
		t.Fatalf("%d distinct request ids, want %d", len(want), workers*each)
	}
	seen := map[string]int{}
	for _, e := range auditEvents(t, s) {
		if e.EventName == "PutSecretValue" {
			seen[e.RequestID]++
		}
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("request %s: %d PutSecretValue records, want 1", id, seen[id])
		}
	}
	if _, err := audit.Verify(audit.DirSource(s.AuditDir), audit.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		rows, err := s.Store.(coffer.AuditIntentStore).AuditIntents(ctx)
		return err == nil && len(rows) == 0
	})
}
