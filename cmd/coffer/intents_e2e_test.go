package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/sqlite"
)

// TestAuditIntentRecoveredAtStart: an audit intent a crash left in the SQLite store (a change
// committed whose record never reached the trail) is appended to the trail when the server
// next starts, before it serves, marked recoveredFromIntent; the trail still verifies, and
// the intent is gone.
func TestAuditIntentRecoveredAtStart(t *testing.T) {
	dir := t.TempDir()
	data, key := filepath.Join(dir, "data"), filepath.Join(dir, "root.key")
	p := startCoffer(t, nil, "--data", data, "--key-file", key, "--listen", freePort(t))
	p.stop()

	// What a crash between a PutSecretValue's commit and its record's write leaves behind.
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(data, "coffer.db"))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"seq":0,"events":[{"eventVersion":"1.08","eventTime":"2026-11-28T12:00:00Z","eventSource":"secretsmanager.amazonaws.com",` +
		`"eventName":"PutSecretValue","awsRegion":"us-east-1","sourceIPAddress":"127.0.0.1","userAgent":"test","userIdentity":{"type":"Root",` +
		`"principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"},"requestParameters":{"secretId":"app/db"},` +
		`"responseElements":null,"requestID":"11111111-2222-4333-8444-555555555555","eventID":"e1","readOnly":false,"eventType":"AwsApiCall",` +
		`"recipientAccountId":"111122223333","category":"secrets.put_value"}]}`)
	in := &coffer.AuditIntent{Build: func() []byte { return body }}
	if err := st.Update(coffer.WithAuditIntent(coffer.OneSecretUpdate(ctx, "k"), in), func(coffer.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	st.Close()

	p = startCoffer(t, nil, "--data", data, "--key-file", key, "--listen", freePort(t))
	if !strings.Contains(p.out.String(), "appended to the audit trail the records of calls committed before the last stop") {
		t.Fatalf("the server did not say it recovered a record:\n%s", p.out)
	}
	p.stop()

	var out bytes.Buffer
	if err := run(ctx, []string{"audit", "query", "--data", data, "--request-id", "11111111-2222-4333-8444-555555555555"}, &out, &out); err != nil {
		t.Fatalf("audit query: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "PutSecretValue") {
		t.Fatalf("the recovered record is not in the trail:\n%s", out.String())
	}
	files, _ := filepath.Glob(filepath.Join(data, "audit", "audit-*.jsonl"))
	found := false
	for _, f := range files {
		b, _ := os.ReadFile(f)
		found = found || bytes.Contains(b, []byte(`"recoveredFromIntent":true`))
	}
	if !found {
		t.Fatal("the recovered record is not marked recoveredFromIntent")
	}
	out.Reset()
	if err := run(ctx, []string{"audit", "verify", "--data", data}, &out, &out); err != nil {
		t.Fatalf("audit verify: %v\n%s", err, out.String())
	}
	st, err = sqlite.Open(ctx, filepath.Join(data, "coffer.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if rows, err := st.AuditIntents(ctx); err != nil || len(rows) != 0 {
		t.Fatalf("intents left after the start: %v, %v", rows, err)
	}
}
