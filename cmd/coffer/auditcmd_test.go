package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-project/coffer/audit"
	"github.com/coffer-project/coffer/postgres"
	"github.com/coffer-project/coffer/storetest"
)

// writeTrail appends n events, alternating two principals, with the third one failing, and
// closes the log (a final digest).
func writeTrail(t *testing.T, sinks []audit.Sink, n int) ed25519.PublicKey {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(audit.Options{Server: "srv-a", Key: key, Sinks: sinks})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		ev := &audit.Event{EventName: "GetSecretValue", EventSource: audit.SourceSecretsManager, Category: "secrets.get_value",
			EventTime: audit.FormatTime(time.Now()), RequestID: fmt.Sprintf("req-%d", i),
			UserIdentity: audit.UserIdentity{ARN: []string{"arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:user/bob"}[i%2]}}
		if i == 2 {
			ev.ErrorCode = "AccessDeniedException"
		}
		if err := l.Append(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return pub
}

// TestAuditCommands: coffer audit query and verify over files and over the PostgreSQL table.
func TestAuditCommands(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	dir := filepath.Join(data, "audit")
	fs, err := audit.OpenFileSink(audit.FileOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	pub := writeTrail(t, []audit.Sink{fs}, 5)
	cmd := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, args, &out, &errOut)
		return out.String(), errOut.String(), err
	}
	out, errOut, err := cmd("audit", "query", "--data", data, "--principal", "alice", "--max-results", "2")
	if err != nil || strings.Count(out, "\n") != 2 || !strings.Contains(errOut, "--next-token") {
		t.Fatalf("query alice, page 1: %v\n%s%s", err, out, errOut)
	}
	token := strings.TrimSpace(errOut[strings.Index(errOut, "--next-token")+len("--next-token"):])
	out, errOut, err = cmd("audit", "query", "--data", data, "--principal", "alice", "--max-results", "2", "--next-token", token)
	if err != nil || strings.Count(out, "\n") != 1 || errOut != "" {
		t.Fatalf("query alice, page 2: %v\n%s%s", err, out, errOut)
	}
	out, _, err = cmd("audit", "query", "--data", data, "--error")
	var ev audit.Event
	if err != nil || json.Unmarshal([]byte(out), &ev) != nil || ev.RequestID != "req-2" {
		t.Fatalf("--error: %v %s", err, out)
	}
	if out, _, _ = cmd("audit", "query", "--data", data, "--error=ThrottlingException"); out != "" {
		t.Errorf("--error=ThrottlingException: %s", out)
	}
	if out, _, _ = cmd("audit", "query", "--data", data, "--since", "1h", "--output", "table"); strings.Count(out, "GetSecretValue") != 5 {
		t.Errorf("--since 1h as a table:\n%s", out)
	}
	if _, _, err = cmd("audit", "query", "--data", data, "--since", "yesterday"); err == nil {
		t.Error("--since yesterday was accepted")
	}
	out, _, err = cmd("audit", "verify", "--data", data)
	if err != nil || !strings.Contains(out, "OK: records 1 to 6 verify (5 events, 1 digests)") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	// Another trusted key: the digest does not verify.
	other, _, _ := ed25519.GenerateKey(nil)
	keyFile := filepath.Join(t.TempDir(), "other.pub")
	os.WriteFile(keyFile, []byte(base64Key(other)), 0o600)
	if out, _, err = cmd("audit", "verify", "--data", data, "--public-key", keyFile); err == nil || !strings.Contains(out, "TAMPERED: record 6") || !strings.Contains(out, "signature") {
		t.Errorf("verify under another key: %v\n%s", err, out)
	}
	if out, _, err = cmd("audit", "verify", "--data", data, "--public-key", base64Key(pub)); err != nil {
		t.Errorf("verify under its own key: %v\n%s", err, out)
	}

	// The same over the PostgreSQL table.
	dsn := storetest.PostgresDSN(t)
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		t.Skipf("the PostgreSQL DSN is not a URL, which --store needs")
	}
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	writeTrail(t, []audit.Sink{audit.NewTableSink(st, "srv-a")}, 4)
	out, _, err = cmd("audit", "verify", "--store", dsn, "--server", "srv-a")
	if err != nil || !strings.Contains(out, "OK: records 1 to 5 verify (4 events, 1 digests)") {
		t.Fatalf("verify the table: %v\n%s", err, out)
	}
	if out, _, err = cmd("audit", "query", "--store", dsn, "--server", "srv-a", "--principal", "bob"); err != nil || strings.Count(out, "\n") != 2 {
		t.Errorf("query the table: %v\n%s", err, out)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE audit_lines SET line = convert_to(replace(convert_from(line, 'UTF8'), 'req-1', 'req-9'), 'UTF8') WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	if out, _, err = cmd("audit", "verify", "--store", dsn, "--server", "srv-a"); err == nil || !strings.Contains(out, "TAMPERED: record 2 (server srv-a seq 2): changed") {
		t.Errorf("verify a changed row: %v\n%s", err, out)
	}
}

func base64Key(k ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(k) }
