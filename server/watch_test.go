package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/coffer-project/coffer/client"
	"github.com/coffer-project/coffer/server"
)

func TestWatchSecrets(t *testing.T) { bothStores(t, serverOpts{}, testWatchSecrets) }

// watchStagesOf returns a secret's version→labels map, as DescribeSecret says.
func watchStagesOf(t *testing.T, c *sm.Client, id string) map[string][]string {
	t.Helper()
	d := must(c.DescribeSecret(context.Background(), &sm.DescribeSecretInput{SecretId: aws.String(id)})).get(t)
	return d.VersionIdsToStages
}

func testWatchSecrets(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	c := s.client("us-east-1")
	w := s.cofferClient(s.Creds)
	ctx := context.Background()
	sec := must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("app/db"), SecretString: aws.String("one")})).get(t)
	known := watchStagesOf(t, c, "app/db")

	// A map that differs from the server's is answered at once, with the server's.
	start := time.Now()
	out := must(w.WatchSecrets(ctx, &client.WatchInput{Secrets: []client.Watched{{SecretID: "app/db"}}, WaitSeconds: 30})).get(t)
	if time.Since(start) > 10*time.Second || len(out.Changed) != 1 || len(out.Unavailable) != 0 {
		t.Fatalf("stale map: %+v after %v, want one change at once", out, time.Since(start))
	}
	if got := out.Changed[0]; got.SecretID != "app/db" || got.ARN != *sec.ARN || !maps.EqualFunc(got.VersionIdsToStages, known, equalStrings) {
		t.Errorf("stale map: changed %+v, want app/db %s %v", got, *sec.ARN, known)
	}

	// Nothing changes: the wait ends with empty lists.
	start = time.Now()
	out = must(w.WatchSecrets(ctx, &client.WatchInput{Secrets: []client.Watched{{SecretID: "app/db", VersionIdsToStages: known}}, WaitSeconds: 1})).get(t)
	if len(out.Changed) != 0 || len(out.Unavailable) != 0 || time.Since(start) < 900*time.Millisecond {
		t.Errorf("no change: %+v after %v, want empty lists after about 1s", out, time.Since(start))
	}

	// A change made while the call waits ends the wait, long before WaitSeconds.
	type result struct {
		out *client.WatchOutput
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := w.WatchSecrets(ctx, &client.WatchInput{Secrets: []client.Watched{{SecretID: "app/db", VersionIdsToStages: known}}, WaitSeconds: 30})
		done <- result{out, err}
	}()
	time.Sleep(500 * time.Millisecond)
	put := must(s.client("us-east-1").PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("app/db"), SecretString: aws.String("two")})).get(t)
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		if len(r.out.Changed) != 1 || !equalStrings(r.out.Changed[0].VersionIdsToStages[*put.VersionId], []string{"AWSCURRENT"}) {
			t.Errorf("after a put: %+v, want %s as AWSCURRENT", r.out, *put.VersionId)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the watch did not answer within 10s of a put")
	}
}

func equalStrings(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

// TestWatchWokenByChange: a watch of 1,000 secrets reads them again only every 10 s when
// nothing happens, but a change this server makes wakes it at once.
func TestWatchWokenByChange(t *testing.T) {
	s := startServer(t, serverOpts{})
	c := s.client("us-east-1")
	ctx := context.Background()
	must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("app/db"), SecretString: aws.String("one")})).get(t)
	must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("app/other"), SecretString: aws.String("one")})).get(t)
	known := watchStagesOf(t, c, "app/db")
	watched := make([]client.Watched, 1000)
	for i := range watched {
		watched[i] = client.Watched{SecretID: "app/db", VersionIdsToStages: known}
	}
	done := make(chan *client.WatchOutput, 1)
	start := time.Now()
	go func() {
		out, _ := s.cofferClient(s.Creds).WatchSecrets(ctx, &client.WatchInput{Secrets: watched, WaitSeconds: 60})
		done <- out // nil on an error, which the checks below report
	}()
	time.Sleep(500 * time.Millisecond)
	// A change to another secret wakes the watch, which reads again and waits on.
	must(c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("app/other"), SecretString: aws.String("two")})).get(t)
	time.Sleep(500 * time.Millisecond)
	select {
	case out := <-done:
		t.Fatalf("the watch answered %+v after a change to a secret it does not watch", out)
	default:
	}
	put := must(c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("app/db"), SecretString: aws.String("two")})).get(t)
	select {
	case out := <-done:
		if out == nil || len(out.Changed) != 1000 || !equalStrings(out.Changed[0].VersionIdsToStages[*put.VersionId], []string{"AWSCURRENT"}) {
			t.Fatalf("after the put: %+v", out)
		}
	// Without the change signal the next read would come 10 s after the last one.
	case <-time.After(5 * time.Second):
		t.Fatalf("the watch did not answer within 5 s of a put (started %v ago)", time.Since(start))
	}
}

// TestWatchUnavailable checks that a secret the caller may not describe and one that does
// not exist get the same answer, which says nothing but the id the caller wrote.
func TestWatchUnavailable(t *testing.T) {
	s := startServer(t, serverOpts{})
	c := s.client("us-east-1")
	ctx := context.Background()
	sec := must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("app/db"), SecretString: aws.String("one")})).get(t)
	must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("other"), SecretString: aws.String("x")})).get(t)
	known := watchStagesOf(t, c, "app/db")
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:DescribeSecret","Resource":%q}]}`, *sec.ARN)
	user := newUser(t, s, "watcher", policy, nil)

	body, _ := json.Marshal(map[string]any{"WaitSeconds": 0, "Secrets": []map[string]any{
		{"SecretId": "app/db", "VersionIdsToStages": known},
		{"SecretId": "other", "VersionIdsToStages": map[string][]string{}},
		{"SecretId": "missing", "VersionIdsToStages": map[string][]string{}},
	}})
	status, m := s.rawCall(t, "coffer.WatchSecrets", jsonCT, body, time.Now(), user, nil)
	if status != 200 {
		t.Fatalf("status %d: %v", status, m)
	}
	if ch, _ := m["Changed"].([]any); len(ch) != 0 {
		t.Errorf("Changed = %v, want none (app/db is as the caller said)", ch)
	}
	un, _ := m["Unavailable"].([]any)
	want := []any{map[string]any{"SecretId": "other"}, map[string]any{"SecretId": "missing"}}
	if fmt.Sprint(un) != fmt.Sprint(want) {
		t.Errorf("Unavailable = %v, want %v: the forbidden and the missing answered alike", un, want)
	}

	// The caller who may describe everything gets the same for the missing one.
	body, _ = json.Marshal(map[string]any{"WaitSeconds": 0, "Secrets": []map[string]any{{"SecretId": "missing"}}})
	_, m = s.rawCall(t, "coffer.WatchSecrets", jsonCT, body, time.Now(), s.Creds, nil)
	if fmt.Sprint(m["Unavailable"]) != fmt.Sprint([]any{map[string]any{"SecretId": "missing"}}) {
		t.Errorf("root, missing: %v", m)
	}
}

func TestWatchValidation(t *testing.T) {
	s := startServer(t, serverOpts{})
	many := make([]map[string]any, 1001)
	for i := range many {
		many[i] = map[string]any{"SecretId": fmt.Sprint("s", i)}
	}
	one := []map[string]any{{"SecretId": "app/db"}}
	tests := []struct {
		name string
		in   map[string]any
	}{
		{"no secrets", map[string]any{"Secrets": []map[string]any{}}},
		{"too many secrets", map[string]any{"Secrets": many}},
		{"wait too long", map[string]any{"Secrets": one, "WaitSeconds": 61}},
		{"negative wait", map[string]any{"Secrets": one, "WaitSeconds": -1}},
		{"no secret id", map[string]any{"Secrets": []map[string]any{{"VersionIdsToStages": map[string][]string{}}}}},
	}
	for _, tt := range tests {
		body, _ := json.Marshal(tt.in)
		status, m := s.ext(t, "WatchSecrets", string(body))
		if status != 400 || m["__type"] != "ValidationException" {
			t.Errorf("%s: %d %v, want 400 ValidationException", tt.name, status, m)
		}
	}
	// The Go client reports the operation's errors as APIErrors.
	_, err := s.cofferClient(s.Creds).WatchSecrets(context.Background(), &client.WatchInput{})
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Code != "ValidationException" {
		t.Errorf("client, no secrets: %v", err)
	}
}

// TestWatchThrottled: past the watches a server holds at once, a call is throttled, as AWS
// throttles; once one ends, a new one is taken.
func TestWatchThrottled(t *testing.T) {
	s := startServer(t, serverOpts{})
	server.SetMaxWatches(s.handler.(*server.Handler), 2)
	c := s.client("us-east-1")
	ctx := context.Background()
	must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("app/db"), SecretString: aws.String("one")})).get(t)
	known := watchStagesOf(t, c, "app/db")
	w := s.cofferClient(s.Creds)
	in := &client.WatchInput{Secrets: []client.Watched{{SecretID: "app/db", VersionIdsToStages: known}}, WaitSeconds: 60}
	done := make(chan error, 2)
	for range 2 {
		go func() { _, err := w.WatchSecrets(ctx, in); done <- err }()
	}
	// The third is throttled once the two are open (they open within moments; until then a
	// third, which waits 1 s, is taken).
	time.Sleep(500 * time.Millisecond)
	var err error
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err = w.WatchSecrets(ctx, &client.WatchInput{Secrets: in.Secrets, WaitSeconds: 1}); err != nil || time.Now().After(deadline) {
			break
		}
	}
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Code != "ThrottlingException" || ae.Status != 400 {
		t.Fatalf("a third watch: %v, want ThrottlingException", err)
	}
	// A put ends both; then a watch is taken again.
	must(c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("app/db"), SecretString: aws.String("two")})).get(t)
	for range 2 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("a watch did not answer after a put")
		}
	}
	if _, err := w.WatchSecrets(ctx, &client.WatchInput{Secrets: in.Secrets, WaitSeconds: 1}); err != nil {
		t.Fatalf("a watch after the others ended: %v", err)
	}
}

// TestWatchOutlivesWriteTimeout: an authenticated watch may wait past the server's
// WriteTimeout (coffer server sets 30 s), which the handler extends for it alone.
func TestWatchOutlivesWriteTimeout(t *testing.T) {
	s := startServer(t, serverOpts{})
	c := s.client("us-east-1")
	ctx := context.Background()
	must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("app/db"), SecretString: aws.String("one")})).get(t)
	known := watchStagesOf(t, c, "app/db")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	w := client.New("http://"+ln.Addr().String(), "us-east-1", credentials.NewStaticCredentialsProvider(s.Creds.AccessKeyID, s.Creds.SecretAccessKey, ""), nil)
	out, err := w.WatchSecrets(ctx, &client.WatchInput{Secrets: []client.Watched{{SecretID: "app/db", VersionIdsToStages: known}}, WaitSeconds: 3})
	if err != nil || len(out.Changed) != 0 {
		t.Fatalf("a 3 s watch behind a 1 s WriteTimeout: %+v, %v", out, err)
	}
}
