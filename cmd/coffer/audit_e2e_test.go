package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// trailEvent is the part of a CloudTrail record the audit test reads, with CloudTrail's
// member names (decoded here, not through package audit, so that the wire format is pinned).
type trailEvent struct {
	EventTime       string `json:"eventTime"`
	EventSource     string `json:"eventSource"`
	EventName       string `json:"eventName"`
	AWSRegion       string `json:"awsRegion"`
	SourceIPAddress string `json:"sourceIPAddress"`
	UserAgent       string `json:"userAgent"`
	UserIdentity    struct {
		Type        string `json:"type"`
		PrincipalID string `json:"principalId"`
		ARN         string `json:"arn"`
		AccountID   string `json:"accountId"`
		AccessKeyID string `json:"accessKeyId"`
		UserName    string `json:"userName"`
		InvokedBy   string `json:"invokedBy"`
	} `json:"userIdentity"`
	RequestParameters map[string]any `json:"requestParameters"`
	ResponseElements  map[string]any `json:"responseElements"`
	ErrorCode         string         `json:"errorCode"`
	ErrorMessage      string         `json:"errorMessage"`
	RequestID         string         `json:"requestID"`
	EventID           string         `json:"eventID"`
	ReadOnly          bool           `json:"readOnly"`
	Resources         []struct {
		ARN  string `json:"ARN"`
		Type string `json:"type"`
	} `json:"resources"`
	EventType          string `json:"eventType"`
	RecipientAccountID string `json:"recipientAccountId"`
	Category           string `json:"category"`
}

func (e *trailEvent) String() string {
	return fmt.Sprintf("%s %s by %s (%s) error %q", e.EventSource, e.EventName, e.UserIdentity.ARN, e.UserIdentity.Type, e.ErrorCode)
}

// auditCLI runs `coffer audit args…` and returns its standard output and standard error apart.
func auditCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(cofferBinary(t), append([]string{"audit"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// auditQuery runs `coffer audit query --data data args…` and decodes its lines.
func auditQuery(t *testing.T, data string, args ...string) (events []*trailEvent, stdout, stderr string) {
	t.Helper()
	stdout, stderr, err := auditCLI(t, append([]string{"query", "--data", data}, args...)...)
	if err != nil {
		t.Fatalf("coffer audit query %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	for _, line := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		if line == "" {
			continue
		}
		var e trailEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("coffer audit query %s printed a line that is not an event: %v", strings.Join(args, " "), err)
		}
		events = append(events, &e)
	}
	return events, stdout, stderr
}

// eventIDs names events by their eventID, to compare two lists.
func eventIDs(events []*trailEvent) []string {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.EventID
	}
	return ids
}

// trailLine is where one record of the chain is in the audit directory.
type trailLine struct {
	file string
	line int // from 1
	seq  uint64
	kind string
	ev   trailEvent
}

// trailLines reads every record of the audit files in dir, in chain order.
func trailLines(t *testing.T, dir string) []trailLine {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "audit-*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no audit file in %s: %v", dir, err)
	}
	slices.Sort(files)
	var out []trailLine
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			var rec struct {
				Seq   uint64     `json:"seq"`
				Kind  string     `json:"kind"`
				Event trailEvent `json:"event"`
			}
			if err := json.Unmarshal([]byte(l), &rec); err != nil {
				t.Fatalf("%s:%d is not a record: %v", filepath.Base(f), i+1, err)
			}
			out = append(out, trailLine{file: filepath.Base(f), line: i + 1, seq: rec.Seq, kind: rec.Kind, ev: rec.Event})
		}
	}
	return out
}

// editLines rewrites a file of lines with edit.
func editLines(t *testing.T, path string, edit func(lines []string) []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := edit(strings.Split(strings.TrimSuffix(string(b), "\n"), "\n"))
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAuditTrailWithAWSCLI is the audit issue's "done when", with the AWS CLI v1 from pip
// ("aws"): after a session of creates, reads, a denied read and deletions, `coffer audit
// query` returns exactly those calls, with their principals and outcomes and no value;
// `coffer audit verify` passes on the trail a clean stop left, and fails at the record where
// one byte was changed, a line removed or two lines swapped, and, given the exported digests,
// when the end of the trail was cut off.
func TestAuditTrailWithAWSCLI(t *testing.T) {
	bin := need(t, "aws")
	dir := t.TempDir()
	data, addr := filepath.Join(dir, "coffer-data"), freePort(t)
	digests := filepath.Join(dir, "elsewhere", "digests.jsonl")
	if err := os.MkdirAll(filepath.Dir(digests), 0o700); err != nil {
		t.Fatal(err)
	}
	p := startCoffer(t, nil, "--data", data, "--key-file", filepath.Join(dir, "coffer-root.key"), "--listen", addr, "--audit-digest-file", digests)
	admin := append(printedEnv(t, data), "AWS_MAX_ATTEMPTS=1") // a retry would be a second call
	ep := "http://" + addr
	run := func(env []string, args ...string) (map[string]any, string, error) {
		out, err := cli(t, env, bin, append([]string{"--endpoint-url", ep, "--output", "json"}, args...)...)
		var m map[string]any
		json.Unmarshal([]byte(out), &m)
		return m, out, err
	}
	envValue := func(env []string, name string) string {
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, name+"="); ok {
				return v
			}
		}
		t.Fatalf("no %s in the environment", name)
		return ""
	}

	// The session. want lists the Secrets Manager calls it makes, in order.
	type call struct {
		name, secret, user, errorCode string
	}
	var want []call
	began := time.Now().Add(-time.Second)
	values := map[string]string{"audit/db": "db-" + rand.Text(), "audit/api-key": "api-" + rand.Text()}
	arns := map[string]string{}
	for _, name := range []string{"audit/db", "audit/api-key"} {
		m, out, err := run(admin, "secretsmanager", "create-secret", "--name", name, "--secret-string", values[name])
		if err != nil {
			t.Fatalf("create-secret %s: %v\n%s", name, err, out)
		}
		arns[name], _ = m["ARN"].(string)
		if !strings.HasPrefix(arns[name], "arn:aws:secretsmanager:us-east-1:") {
			t.Fatalf("create-secret %s: ARN %q", name, arns[name])
		}
		want = append(want, call{"CreateSecret", name, "", ""})
	}
	account := strings.Split(arns["audit/db"], ":")[4]
	if m, _, err := run(admin, "secretsmanager", "get-secret-value", "--secret-id", "audit/db"); err != nil || m["SecretString"] != values["audit/db"] {
		t.Fatalf("get-secret-value as the administrator: %v", err)
	}
	want = append(want, call{"GetSecretValue", "audit/db", "", ""})
	if _, out, err := run(admin, "secretsmanager", "describe-secret", "--secret-id", "audit/api-key"); err != nil {
		t.Fatalf("describe-secret as the administrator: %v\n%s", err, out)
	}
	want = append(want, call{"DescribeSecret", "audit/api-key", "", ""})

	m, out, err := run(admin, "iam", "create-user", "--user-name", "auditor")
	if err != nil {
		t.Fatalf("create-user: %v\n%s", err, out)
	}
	userID, _ := m["User"].(map[string]any)["UserId"].(string)
	if _, out, err := run(admin, "iam", "attach-user-policy", "--user-name", "auditor", "--policy-arn", "arn:aws:iam::aws:policy/coffer/CofferSecretsMetadataReadOnly"); err != nil {
		t.Fatalf("attach-user-policy: %v\n%s", err, out)
	}
	m, out, err = run(admin, "iam", "create-access-key", "--user-name", "auditor")
	if err != nil {
		t.Fatalf("create-access-key: %v\n%s", err, out)
	}
	k := m["AccessKey"].(map[string]any)
	userKey, userSecretKey := k["AccessKeyId"].(string), k["SecretAccessKey"].(string)
	user := []string{"AWS_ACCESS_KEY_ID=" + userKey, "AWS_SECRET_ACCESS_KEY=" + userSecretKey,
		"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1", "AWS_MAX_ATTEMPTS=1"}
	if m, out, err := run(user, "secretsmanager", "describe-secret", "--secret-id", "audit/db"); err != nil || m["Name"] != "audit/db" {
		t.Fatalf("describe-secret as the metadata-only user: %v\n%s", err, out)
	}
	want = append(want, call{"DescribeSecret", "audit/db", "auditor", ""})
	if _, out, err := run(user, "secretsmanager", "get-secret-value", "--secret-id", "audit/db"); err == nil || !strings.Contains(out, "AccessDeniedException") {
		t.Fatalf("get-secret-value as the metadata-only user was not denied: %v", err)
	}
	want = append(want, call{"GetSecretValue", "audit/db", "auditor", "AccessDeniedException"})

	if _, out, err := run(admin, "secretsmanager", "delete-secret", "--secret-id", "audit/db", "--recovery-window-in-days", "7"); err != nil {
		t.Fatalf("delete-secret with a recovery window: %v\n%s", err, out)
	}
	want = append(want, call{"DeleteSecret", "audit/db", "", ""})
	if _, out, err := run(admin, "secretsmanager", "delete-secret", "--secret-id", "audit/api-key", "--force-delete-without-recovery"); err != nil {
		t.Fatalf("delete-secret without recovery: %v\n%s", err, out)
	}
	want = append(want, call{"DeleteSecret", "audit/api-key", "", ""})
	ended := time.Now().Add(time.Second)

	// Everything the trail must not hold, by a name to print instead of the value.
	hidden := map[string]string{
		"the value of audit/db":                 values["audit/db"],
		"the value of audit/api-key":            values["audit/api-key"],
		"the administrator's secret access key": envValue(admin, "AWS_SECRET_ACCESS_KEY"),
		"the user's secret access key":          userSecretKey,
	}
	rootARN, userARN := "arn:aws:iam::"+account+":root", "arn:aws:iam::"+account+":user/auditor"
	adminKey := envValue(admin, "AWS_ACCESS_KEY_ID")

	// The query runs while the server runs, as an operator's would.
	all, allOut, _ := auditQuery(t, data)
	var sm, kms, iam []*trailEvent
	for _, e := range all {
		switch e.EventSource {
		case "secretsmanager.amazonaws.com":
			sm = append(sm, e)
		case "kms.amazonaws.com":
			kms = append(kms, e)
		case "iam.amazonaws.com":
			iam = append(iam, e)
		default:
			t.Errorf("an event the session did not cause: %v", e)
		}
	}
	if len(sm) != len(want) {
		t.Fatalf("%d Secrets Manager events, want the session's %d calls:\n%v", len(sm), len(want), sm)
	}
	smOf := map[string]*trailEvent{} // request id → the Secrets Manager call
	for _, e := range sm {
		smOf[e.RequestID] = e
	}

	t.Run("SecretsManagerCalls", func(t *testing.T) {
		seen := map[string]bool{}
		for i, w := range want {
			e := sm[i]
			if e.EventName != w.name || e.ErrorCode != w.errorCode {
				t.Errorf("event %d: %v; want %s with error %q", i, e, w.name, w.errorCode)
			}
			id := e.UserIdentity
			if w.user == "" {
				if id.Type != "Root" || id.ARN != rootARN || id.PrincipalID != account || id.AccessKeyID != adminKey {
					t.Errorf("event %d (%s): userIdentity %+v; want the root %s with key %s", i, w.name, id, rootARN, adminKey)
				}
			} else if id.Type != "IAMUser" || id.ARN != userARN || id.UserName != w.user || id.AccessKeyID != userKey || id.PrincipalID != userID {
				t.Errorf("event %d (%s): userIdentity %+v; want the IAM user %s (%s) with key %s", i, w.name, id, userARN, userID, userKey)
			}
			if id.AccountID != account || e.RecipientAccountID != account || id.InvokedBy != "" {
				t.Errorf("event %d (%s): accounts %q, %q, invokedBy %q", i, w.name, id.AccountID, e.RecipientAccountID, id.InvokedBy)
			}
			named := e.RequestParameters["secretId"]
			if w.name == "CreateSecret" {
				named = e.RequestParameters["name"]
			}
			if named != w.secret {
				t.Errorf("event %d (%s): requestParameters %v; want the secret %s", i, w.name, e.RequestParameters, w.secret)
			}
			// The secret's ARN, and nothing else (the secret is under the AWS-managed key,
			// whose use is a KMS record of its own).
			arn := arns[w.secret]
			if len(e.Resources) != 1 || e.Resources[0].ARN != arn || e.Resources[0].Type != "AWS::SecretsManager::Secret" {
				t.Errorf("event %d (%s): resources %+v, want only %s", i, w.name, e.Resources, arn)
			}
			if e.SourceIPAddress != "127.0.0.1" || !strings.Contains(e.UserAgent, "aws-cli") {
				t.Errorf("event %d (%s): sourceIPAddress %q, userAgent %q", i, w.name, e.SourceIPAddress, e.UserAgent)
			}
			readOnly := w.name == "GetSecretValue" || w.name == "DescribeSecret"
			if e.ReadOnly != readOnly || e.EventType != "AwsApiCall" || e.AWSRegion != "us-east-1" {
				t.Errorf("event %d (%s): readOnly %v, eventType %q, awsRegion %q", i, w.name, e.ReadOnly, e.EventType, e.AWSRegion)
			}
			if w.errorCode != "" && (e.ErrorMessage == "" || e.ResponseElements != nil) {
				t.Errorf("event %d (%s): a failed call with errorMessage %q and responseElements %v", i, w.name, e.ErrorMessage, e.ResponseElements)
			}
			if at, err := time.Parse(time.RFC3339, e.EventTime); err != nil || at.Before(began.Truncate(time.Second)) || at.After(ended) {
				t.Errorf("event %d (%s): eventTime %q is not during the session", i, w.name, e.EventTime)
			}
			if e.RequestID == "" || e.EventID == "" || seen[e.RequestID] || seen[e.EventID] {
				t.Errorf("event %d (%s): requestID %q, eventID %q missing or not unique", i, w.name, e.RequestID, e.EventID)
			}
			seen[e.RequestID], seen[e.EventID] = true, true
		}
		if got := sm[len(sm)-2].RequestParameters["recoveryWindowInDays"]; got != 7.0 {
			t.Errorf("DeleteSecret with a recovery window: recoveryWindowInDays %v", got)
		}
		if got := sm[len(sm)-1].RequestParameters["forceDeleteWithoutRecovery"]; got != true {
			t.Errorf("DeleteSecret without recovery: forceDeleteWithoutRecovery %v", got)
		}
	})

	t.Run("KeyUses", func(t *testing.T) {
		// A data key made per create and a decryption per read that succeeded, each under the
		// request id and the principal of the call that caused it.
		var got, wantUses []string
		for _, e := range sm {
			switch {
			case e.EventName == "CreateSecret":
				wantUses = append(wantUses, "GenerateDataKey for "+e.RequestID)
			case e.EventName == "GetSecretValue" && e.ErrorCode == "":
				wantUses = append(wantUses, "Decrypt for "+e.RequestID)
			}
		}
		for _, e := range kms {
			got = append(got, e.EventName+" for "+e.RequestID)
			c := smOf[e.RequestID]
			if c == nil {
				t.Errorf("%v: requestID %q is no Secrets Manager call's", e, e.RequestID)
				continue
			}
			if e.UserIdentity.InvokedBy != "secretsmanager.amazonaws.com" || e.UserIdentity.ARN != c.UserIdentity.ARN || e.ErrorCode != "" {
				t.Errorf("%v: invokedBy %q; want secretsmanager.amazonaws.com on behalf of %s", e, e.UserIdentity.InvokedBy, c.UserIdentity.ARN)
			}
			ctx, _ := e.RequestParameters["encryptionContext"].(map[string]any)
			if want := c.ResponseElements["arn"]; c.EventName == "CreateSecret" && ctx["SecretARN"] != want {
				t.Errorf("%v: encryptionContext %v; want the SecretARN %v", e, ctx, want)
			}
		}
		if !slices.Equal(got, wantUses) {
			t.Errorf("key uses:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantUses, "\n"))
		}
	})

	t.Run("IAMCalls", func(t *testing.T) {
		var got []string
		for _, e := range iam {
			got = append(got, e.EventName)
			if e.UserIdentity.ARN != rootARN || e.ErrorCode != "" || e.SourceIPAddress != "127.0.0.1" {
				t.Errorf("%v from %s", e, e.SourceIPAddress)
			}
		}
		if want := []string{"CreateUser", "AttachUserPolicy", "CreateAccessKey"}; !slices.Equal(got, want) {
			t.Errorf("IAM events %v, want %v", got, want)
		}
	})

	t.Run("Filters", func(t *testing.T) {
		byUser, _, _ := auditQuery(t, data, "--principal", "auditor")
		if got, want := eventIDs(byUser), eventIDs(sm[4:6]); !slices.Equal(got, want) {
			t.Errorf("--principal auditor: %v; want the user's DescribeSecret and GetSecretValue", byUser)
		}
		if byARN, _, _ := auditQuery(t, data, "--principal", userARN); !slices.Equal(eventIDs(byARN), eventIDs(byUser)) {
			t.Errorf("--principal %s: %v; want what --principal auditor gave", userARN, byARN)
		}
		for _, flag := range []string{"--error", "--error=AccessDeniedException"} {
			if failed, _, _ := auditQuery(t, data, flag); !slices.Equal(eventIDs(failed), eventIDs(sm[5:6])) {
				t.Errorf("%s: %v; want only the denied GetSecretValue", flag, failed)
			}
		}
		if none, _, _ := auditQuery(t, data, "--error=ResourceNotFoundException"); len(none) != 0 {
			t.Errorf("--error=ResourceNotFoundException: %v; want none", none)
		}
		var ofDB []*trailEvent
		for _, e := range sm {
			if e.RequestParameters["secretId"] == "audit/db" || e.RequestParameters["name"] == "audit/db" {
				ofDB = append(ofDB, e)
			}
		}
		for _, s := range []string{"audit/db", arns["audit/db"]} {
			if got, _, _ := auditQuery(t, data, "--secret", s); !slices.Equal(eventIDs(got), eventIDs(ofDB)) {
				t.Errorf("--secret %s: %v; want %v", s, got, ofDB)
			}
		}
		gets, _, _ := auditQuery(t, data, "--event", "secrets.get_value")
		if !slices.Equal(eventIDs(gets), []string{sm[2].EventID, sm[5].EventID}) {
			t.Errorf("--event secrets.get_value: %v; want the two GetSecretValue calls", gets)
		}
		if byName, _, _ := auditQuery(t, data, "--event", "GetSecretValue"); !slices.Equal(eventIDs(byName), eventIDs(gets)) {
			t.Errorf("--event GetSecretValue: %v; want %v", byName, gets)
		}
		if one, _, _ := auditQuery(t, data, "--request-id", sm[0].RequestID); len(one) != 2 || one[0].EventName != "CreateSecret" || one[1].EventName != "GenerateDataKey" {
			t.Errorf("--request-id of the first create: %v; want the call and its key use", one)
		}

		// Pages of two: every event once, in order, then no token.
		var paged []*trailEvent
		token := ""
		for pages := 0; ; pages++ {
			if pages > len(all) {
				t.Fatalf("paging does not end: %d pages for %d events", pages, len(all))
			}
			args := []string{"--max-results", "2"}
			if token != "" {
				args = append(args, "--next-token", token)
			}
			page, _, stderr := auditQuery(t, data, args...)
			if len(page) == 0 || len(page) > 2 {
				t.Fatalf("page %d holds %d events", pages, len(page))
			}
			paged = append(paged, page...)
			token = ""
			if _, after, ok := strings.Cut(stderr, "More events: --next-token "); ok {
				token = strings.TrimSpace(after)
			}
			if token == "" {
				break
			}
		}
		if !slices.Equal(eventIDs(paged), eventIDs(all)) {
			t.Errorf("paging by two visited %d events; want the %d of one query, once each, in order", len(paged), len(all))
		}
	})

	p.stop()
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("the server did not stop cleanly: %v\n%s", err, p.out)
		}
	default:
		t.Fatalf("the server did not stop:\n%s", p.out)
	}
	auditDir := filepath.Join(data, "audit")

	t.Run("NoValues", func(t *testing.T) {
		table, stderr, err := auditCLI(t, "query", "--data", data, "--output", "table")
		if err != nil || strings.Count(table, "\n") != len(all)+1 {
			t.Fatalf("query --output table: %v\n%s", err, stderr)
		}
		texts := map[string]string{"the query's JSON output": allOut, "the query's table output": table, "the server's log": p.out.String()}
		files, _ := filepath.Glob(filepath.Join(auditDir, "*"))
		for _, f := range append(files, digests) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			texts[f] = string(b)
		}
		for where, text := range texts {
			for what, v := range hidden {
				if strings.Contains(text, v) {
					t.Errorf("%s holds %s", where, what)
				}
			}
		}
	})

	recs := trailLines(t, auditDir)
	last := recs[len(recs)-1]
	t.Run("Verify", func(t *testing.T) {
		if last.kind != "digest" {
			t.Errorf("the trail ends with a %q record; a clean stop ends it with a digest", last.kind)
		}
		want := fmt.Sprintf("OK: records 1 to %d verify (%d events,", last.seq, len(all))
		for _, args := range [][]string{{}, {"--digests", digests}, {"--public-key", filepath.Join(auditDir, "signing.pub")}} {
			out, stderr, err := auditCLI(t, append([]string{"verify", "--data", data}, args...)...)
			if err != nil || !strings.HasPrefix(out, want) || strings.Contains(out, "follow the last signed digest") {
				t.Errorf("verify %s: %v\n%s%s\nwant %q and no unsigned record", strings.Join(args, " "), err, out, stderr, want)
			}
		}
	})

	// The denied read is the record to tamper with: one in the middle of the trail.
	var denied trailLine
	for _, r := range recs {
		if r.kind == "event" && r.ev.EventName == "GetSecretValue" && r.ev.ErrorCode == "AccessDeniedException" {
			denied = r
		}
	}
	if denied.seq == 0 || denied.seq == last.seq-1 {
		t.Fatalf("the denied GetSecretValue is record %d of %d", denied.seq, last.seq)
	}
	for _, tc := range []struct {
		name, kind string
		edit       func(lines []string) []string
	}{
		{"OneByteChanged", "changed", func(lines []string) []string {
			l := &lines[denied.line-1]
			if !strings.Contains(*l, `"sourceIPAddress":"127.0.0.1"`) {
				t.Fatalf("record %d has no sourceIPAddress 127.0.0.1", denied.seq)
			}
			*l = strings.Replace(*l, `"sourceIPAddress":"127.0.0.1"`, `"sourceIPAddress":"127.0.0.2"`, 1)
			return lines
		}},
		{"LineRemoved", "removed", func(lines []string) []string {
			return slices.Delete(lines, denied.line-1, denied.line)
		}},
		{"LinesSwapped", "inserted or reordered", func(lines []string) []string {
			lines[denied.line-1], lines[denied.line] = lines[denied.line], lines[denied.line-1]
			return lines
		}},
	} {
		t.Run("Tampered/"+tc.name, func(t *testing.T) {
			copied := filepath.Join(t.TempDir(), "data")
			copyDir(t, auditDir, filepath.Join(copied, "audit"))
			editLines(t, filepath.Join(copied, "audit", denied.file), tc.edit)
			out, stderr, err := auditCLI(t, "verify", "--data", copied)
			want := fmt.Sprintf("TAMPERED: record %d (%s:%d): %s:", denied.seq, denied.file, denied.line, tc.kind)
			if err == nil || !strings.HasPrefix(out, want) {
				t.Errorf("verify: %v\n%s%s\nwant %q and a non-zero exit", err, out, stderr, want)
			}
		})
	}

	t.Run("Tampered/EndCutOff", func(t *testing.T) {
		// Cut the final digest and the event before it: the chain that is left is whole, and
		// only the digests exported elsewhere show that it ended later.
		b, err := os.ReadFile(digests)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		var d struct {
			Seq uint64 `json:"seq"`
		}
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &d); err != nil || d.Seq != last.seq-1 {
			t.Fatalf("the last exported digest signs record %d (%v); want %d, the last event", d.Seq, err, last.seq-1)
		}
		copied := filepath.Join(t.TempDir(), "data")
		copyDir(t, auditDir, filepath.Join(copied, "audit"))
		editLines(t, filepath.Join(copied, "audit", last.file), func(lines []string) []string { return lines[:len(lines)-2] })
		out, stderr, err := auditCLI(t, "verify", "--data", copied)
		if err != nil || !strings.Contains(out, "No record is signed yet") {
			t.Errorf("verify without the exported digests: %v\n%s%s\nwant a pass that says the end is unsigned", err, out, stderr)
		}
		out, stderr, err = auditCLI(t, "verify", "--data", copied, "--digests", digests)
		if want := fmt.Sprintf("TAMPERED: record %d: truncated:", d.Seq); err == nil || !strings.HasPrefix(out, want) {
			t.Errorf("verify --digests: %v\n%s%s\nwant %q and a non-zero exit", err, out, stderr, want)
		}
	})
}
