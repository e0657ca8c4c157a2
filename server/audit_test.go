package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/coffer-project/coffer/audit"
)

// auditEvents returns every event of the server's trail, in order.
func auditEvents(t *testing.T, s *testServer) []*audit.Event {
	t.Helper()
	entries, next, err := audit.Query(audit.DirSource(s.AuditDir), audit.Filter{}, 0, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	if next != 0 {
		t.Fatal("more events than one page")
	}
	out := make([]*audit.Event, len(entries))
	for i, e := range entries {
		out[i] = e.Event
	}
	return out
}

// TestAuditTrail: each call leaves one record, before its answer, with the caller, the
// outcome and the secret it touched, and without the value; the key use a value read causes
// is recorded too, linked by the request id.
func TestAuditTrail(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := context.Background()
	c := s.client("us-east-1")
	const value = "audit-canary-value-7f3a"
	cr := must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("app/db"), SecretString: aws.String(value)})).get(t)
	must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/db")})).get(t)
	reader := newUser(t, s, "reader", "", nil, "CofferSecretsMetadataReadOnly")
	_, err := s.clientWith("us-east-1", reader).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/db")})
	wantErr(t, err, "AccessDeniedException", "")
	must(c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("app/db"), ForceDeleteWithoutRecovery: aws.Bool(true)})).get(t)

	// Every record is on disk when the answer arrives: no wait is needed.
	evs := auditEvents(t, s)
	var sm []*audit.Event
	for _, e := range evs {
		if e.EventSource == audit.SourceSecretsManager {
			sm = append(sm, e)
		}
	}
	type want struct{ name, principal, code, category string }
	wants := []want{
		{"CreateSecret", s.Account + ":root", "", "secrets.create"},
		{"GetSecretValue", s.Account + ":root", "", "secrets.get_value"},
		{"GetSecretValue", ":user/reader", "AccessDeniedException", "secrets.get_value"},
		{"DeleteSecret", s.Account + ":root", "", "secrets.delete"},
	}
	if len(sm) != len(wants) {
		for _, e := range sm {
			t.Logf("%s %s %s", e.EventName, e.UserIdentity.ARN, e.ErrorCode)
		}
		t.Fatalf("%d Secrets Manager records, want %d", len(sm), len(wants))
	}
	for i, w := range wants {
		e := sm[i]
		if e.EventName != w.name || !strings.HasSuffix(e.UserIdentity.ARN, w.principal) || e.ErrorCode != w.code || e.Category != w.category {
			t.Errorf("record %d: %s by %s code %q category %s, want %+v", i, e.EventName, e.UserIdentity.ARN, e.ErrorCode, e.Category, w)
		}
		if e.RequestParameters["secretId"] != "app/db" && e.RequestParameters["name"] != "app/db" {
			t.Errorf("record %d: request parameters %v name no secret", i, e.RequestParameters)
		}
		found := false
		for _, r := range e.Resources {
			found = found || r.ARN == *cr.ARN && r.Type == audit.ResourceSecret
		}
		if !found {
			t.Errorf("record %d (%s): resources %v lack the secret", i, e.EventName, e.Resources)
		}
		if e.EventVersion == "" || e.EventID == "" || e.RequestID == "" || e.SourceIPAddress != "127.0.0.1" || e.UserIdentity.AccessKeyID == "" || e.AWSRegion != "us-east-1" {
			t.Errorf("record %d lacks CloudTrail members: %+v", i, e)
		}
	}
	if sm[0].ResponseElements["arn"] != *cr.ARN || sm[1].ResponseElements != nil || !sm[1].ReadOnly || sm[0].ReadOnly {
		t.Errorf("response elements / readOnly: create %v (ro %v), get %v (ro %v)", sm[0].ResponseElements, sm[0].ReadOnly, sm[1].ResponseElements, sm[1].ReadOnly)
	}
	if sm[2].UserIdentity.Type != audit.IdentityIAMUser || sm[2].UserIdentity.UserName != "reader" || sm[2].UserIdentity.PrincipalID == "" {
		t.Errorf("the IAM user's identity: %+v", sm[2].UserIdentity)
	}
	// The key uses: GenerateDataKey for the create, Decrypt for the read, with their
	// call's request id and the caller, invoked by Secrets Manager.
	uses := map[string]string{}
	for _, e := range evs {
		if e.EventSource == audit.SourceKMS && e.UserIdentity.InvokedBy == audit.SourceSecretsManager {
			uses[e.RequestID] = e.EventName
		}
	}
	if uses[sm[0].RequestID] != "GenerateDataKey" || uses[sm[1].RequestID] != "Decrypt" {
		t.Errorf("key uses by request id: %v", uses)
	}
	if _, ok := uses[sm[2].RequestID]; ok {
		t.Errorf("a denied read used the key")
	}
	scanForValue(t, s.AuditDir, value)
	rep, err := audit.Verify(audit.DirSource(s.AuditDir), audit.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if int(rep.LastSeq) != len(evs)+rep.Digests {
		t.Errorf("verify read %d records, %d events and %d digests", rep.LastSeq, len(evs), rep.Digests)
	}
}

// scanForValue fails when any file under dir holds value.
func scanForValue(t *testing.T, dir, value string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), value) {
			t.Errorf("%s holds a secret value", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAuditUnauthenticated: a request with a bad signature, and one in an unknown protocol,
// are recorded too, with the key they claimed.
func TestAuditUnauthenticated(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := context.Background()
	bad := s.clientWith("us-east-1", aws.Credentials{AccessKeyID: s.Creds.AccessKeyID, SecretAccessKey: "wrong-secret-key-wrong-secret-key-12345"})
	_, err := bad.ListSecrets(ctx, &sm.ListSecretsInput{})
	wantErr(t, err, "InvalidSignatureException", "")
	evs := auditEvents(t, s)
	if len(evs) != 1 {
		t.Fatalf("%d records", len(evs))
	}
	e := evs[0]
	if e.EventName != "ListSecrets" || e.ErrorCode != "InvalidSignatureException" || e.UserIdentity.Type != "Unknown" || e.UserIdentity.AccessKeyID != s.Creds.AccessKeyID {
		t.Errorf("record %+v", e)
	}
}

// TestAuditSTSNoCredentials: the credentials AssumeRole and GetSessionToken hand out never
// reach the trail, and a session's calls are recorded as the session.
func TestAuditSTSNoCredentials(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := context.Background()
	stc := sts.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(s.Creds.AccessKeyID, s.Creds.SecretAccessKey, ""), RetryMaxAttempts: 1},
		func(o *sts.Options) { o.BaseEndpoint = aws.String(s.URL) })
	out := must(stc.GetSessionToken(ctx, &sts.GetSessionTokenInput{})).get(t)
	sess := sm.NewFromConfig(aws.Config{Region: "us-east-1", RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(*out.Credentials.AccessKeyId, *out.Credentials.SecretAccessKey, *out.Credentials.SessionToken)},
		func(o *sm.Options) { o.BaseEndpoint = aws.String(s.URL) })
	must(sess.ListSecrets(ctx, &sm.ListSecretsInput{})).get(t)
	scanForValue(t, s.AuditDir, *out.Credentials.SecretAccessKey)
	scanForValue(t, s.AuditDir, *out.Credentials.SessionToken)
	evs := auditEvents(t, s)
	if len(evs) != 2 || evs[0].EventSource != audit.SourceSTS || evs[0].EventName != "GetSessionToken" {
		t.Fatalf("records %+v", evs)
	}
	if evs[1].UserIdentity.AccessKeyID != *out.Credentials.AccessKeyId || evs[1].UserIdentity.SessionContext == nil {
		t.Errorf("the session's record: %+v", evs[1].UserIdentity)
	}
}

// TestAuditConcurrent: N calls at once give N records, each once, in one unbroken chain
// that shares fsyncs.
func TestAuditConcurrent(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := context.Background()
	c := s.client("us-east-1")
	must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("busy"), SecretString: aws.String("v")})).get(t)
	const workers, each = 16, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				_, err := c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("busy")})
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	ids := map[string]bool{}
	for _, e := range auditEvents(t, s) {
		if e.EventName == "DescribeSecret" {
			n++
			if ids[e.RequestID] {
				t.Errorf("request %s recorded twice", e.RequestID)
			}
			ids[e.RequestID] = true
		}
	}
	if n != workers*each {
		t.Errorf("%d DescribeSecret records, want %d", n, workers*each)
	}
	if _, err := audit.Verify(audit.DirSource(s.AuditDir), audit.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	st := s.Audit.Stats()
	if st.Commits >= st.Records {
		t.Logf("no group commit happened: %d commits for %d records (calls did not overlap)", st.Commits, st.Records)
	}
}

// TestAuditSinkFailure: when the audit files cannot be written, calls are refused with
// ServiceUnavailableException and a metric, and served again once the sink writes.
func TestAuditSinkFailure(t *testing.T) {
	s := startServer(t, serverOpts{auditMaxBytes: 1}) // every write starts a new file
	ctx := context.Background()
	c := s.client("us-east-1")
	must(c.ListSecrets(ctx, &sm.ListSecretsInput{})).get(t)
	moved := s.AuditDir + ".moved"
	if err := os.Rename(s.AuditDir, moved); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("unaudited"), SecretString: aws.String("v")})
	wantErr(t, err, "ServiceUnavailableException", "")
	_, err = c.ListSecrets(ctx, &sm.ListSecretsInput{})
	wantErr(t, err, "ServiceUnavailableException", "")
	if m := metrics(t, s); !strings.Contains(m, "coffer_audit_healthy 0") || strings.Contains(m, "coffer_audit_refused_calls_total 0\n") {
		t.Errorf("metrics while failing:\n%s", m)
	}
	if code, _ := get(t, s.URL+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz answered %d while the audit trail fails", code)
	}
	if err := os.Rename(moved, s.AuditDir); err != nil {
		t.Fatal(err)
	}
	// The log retries its backlog every second; calls are served again once it is written.
	waitFor(t, func() bool { return s.Audit.Ready() == nil })
	must(c.ListSecrets(ctx, &sm.ListSecretsInput{})).get(t)
	rep, err := audit.Verify(audit.DirSource(s.AuditDir), audit.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The CreateSecret whose record failed did happen (the store committed it); its record
	// was kept and written once the sink came back, so the trail shows it.
	created := false
	for _, e := range auditEvents(t, s) {
		created = created || e.EventName == "CreateSecret" && e.ErrorCode == ""
	}
	if !created || rep.LastSeq < 3 {
		t.Errorf("the withheld call's record is missing (created %v, %d records)", created, rep.LastSeq)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not reached in 10 s")
}

func metrics(t *testing.T, s *testServer) string {
	t.Helper()
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// lookup calls coffer.LookupEvents as creds and returns the status and body.
func lookup(t *testing.T, s *testServer, creds aws.Credentials, in map[string]any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(in)
	return s.rawCallAs(t, "secretsmanager", "coffer.LookupEvents", "application/x-amz-json-1.1", b, time.Now(), creds, nil)
}

func lookedUp(t *testing.T, body map[string]any) []map[string]any {
	t.Helper()
	raw, _ := body["Events"].([]any)
	out := make([]map[string]any, len(raw))
	for i, e := range raw {
		out[i], _ = e.(map[string]any)
	}
	return out
}

// TestLookupEvents: the trail through the API, one account's events only, filtered and
// paged, for a caller allowed coffer:LookupEvents (CofferAuditor) and no one else.
func TestLookupEvents(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := context.Background()
	c := s.client("us-east-1")
	for _, n := range []string{"a", "b", "c"} {
		must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String(n), SecretString: aws.String("v-" + n)})).get(t)
	}
	other := must(s.cofferClient(s.Creds).CreateAccount(ctx, "222233334444")).get(t)
	otherCreds := aws.Credentials{AccessKeyID: other.AccessKeyID, SecretAccessKey: other.SecretAccessKey}
	must(s.clientWith("us-east-1", otherCreds).CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("theirs"), SecretString: aws.String("v")})).get(t)

	code, body := lookup(t, s, s.Creds, map[string]any{"EventName": "CreateSecret"})
	evs := lookedUp(t, body)
	if code != 200 || len(evs) != 3 {
		t.Fatalf("%d: %d CreateSecret events of the default account, want 3: %v", code, len(evs), body)
	}
	for _, e := range evs {
		if e["recipientAccountId"] != s.Account {
			t.Errorf("another account's event: %v", e["recipientAccountId"])
		}
	}
	_, body = lookup(t, s, otherCreds, map[string]any{"EventName": "secrets."})
	if evs := lookedUp(t, body); len(evs) != 1 || evs[0]["requestParameters"].(map[string]any)["name"] != "theirs" {
		t.Fatalf("the other account sees %v", evs)
	}
	// Paging: every CreateSecret once, two at a time.
	seen := 0
	var token any
	for page := 0; page < 5; page++ {
		in := map[string]any{"EventName": "CreateSecret", "MaxResults": 2}
		if token != nil {
			in["NextToken"] = token
		}
		_, body := lookup(t, s, s.Creds, in)
		seen += len(lookedUp(t, body))
		if token = body["NextToken"]; token == nil {
			break
		}
	}
	if seen != 3 {
		t.Errorf("pages gave %d events, want 3", seen)
	}
	_, body = lookup(t, s, s.Creds, map[string]any{"SecretId": "b"})
	if evs := lookedUp(t, body); len(evs) != 1 || evs[0]["eventName"] != "CreateSecret" {
		t.Errorf("SecretId b: %v", evs)
	}
	code, body = lookup(t, s, s.Creds, map[string]any{"MaxResults": 0})
	if code != 400 || body["__type"] != "ValidationException" {
		t.Errorf("MaxResults 0: %d %v", code, body)
	}
	code, body = lookup(t, s, s.Creds, map[string]any{"NextToken": "x"})
	if code != 400 || body["__type"] != "InvalidNextTokenException" {
		t.Errorf("bad NextToken: %d %v", code, body)
	}
	reader := newUser(t, s, "reader", "", nil, "CofferSecretsMetadataReadOnly")
	if code, body := lookup(t, s, reader, map[string]any{}); code != 400 || body["__type"] != "AccessDeniedException" {
		t.Errorf("a metadata reader: %d %v", code, body)
	}
	auditor := newUser(t, s, "auditor", "", nil, "CofferAuditor")
	if code, body := lookup(t, s, auditor, map[string]any{"Principal": "reader", "ErrorCode": "*"}); code != 200 || len(lookedUp(t, body)) != 1 {
		t.Errorf("the auditor, on the reader's denied call: %d %v", code, body)
	}
}

// TestReportCachedReads: reads an agent served from its cache become GetSecretValue records
// marked as such, written with the report's own record.
func TestReportCachedReads(t *testing.T) {
	s := startServer(t, serverOpts{})
	agent := newUser(t, s, "agent", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"coffer:ReportCachedReads","Resource":"*"}]}`, nil)
	body := []byte(`{"Reads":[{"SecretId":"app/db","VersionStage":"AWSCURRENT","Count":12,"FirstTime":1790000000,"LastTime":1790000060,"ClientIP":"10.0.0.7"},{"SecretId":"app/api"}]}`)
	code, out := s.rawCallAs(t, "secretsmanager", "coffer.ReportCachedReads", "application/x-amz-json-1.1", body, time.Now(), agent, nil)
	if code != 200 || out["Recorded"] != float64(2) {
		t.Fatalf("%d %v", code, out)
	}
	var cached []*audit.Event
	for _, e := range auditEvents(t, s) {
		if e.AdditionalEventData["servedFromCache"] == true {
			cached = append(cached, e)
		}
	}
	if len(cached) != 2 || cached[0].EventName != "GetSecretValue" || cached[0].RequestParameters["secretId"] != "app/db" ||
		!strings.HasSuffix(cached[0].UserIdentity.ARN, ":user/agent") || cached[0].EventTime != "2026-09-21T14:14:20Z" ||
		cached[0].AdditionalEventData["count"] != float64(12) || cached[0].AdditionalEventData["clientIP"] != "10.0.0.7" {
		t.Fatalf("cached reads %+v", cached)
	}
	reader := newUser(t, s, "reader", "", nil, "CofferSecretsMetadataReadOnly")
	if code, out := s.rawCallAs(t, "secretsmanager", "coffer.ReportCachedReads", "application/x-amz-json-1.1", body, time.Now(), reader, nil); code != 400 || out["__type"] != "AccessDeniedException" {
		t.Errorf("a caller without coffer:ReportCachedReads: %d %v", code, out)
	}
	if code, out := s.rawCallAs(t, "secretsmanager", "coffer.ReportCachedReads", "application/x-amz-json-1.1", []byte(`{"Reads":[]}`), time.Now(), agent, nil); code != 400 || out["__type"] != "ValidationException" {
		t.Errorf("an empty report: %d %v", code, out)
	}
}

// TestAuditServiceEvents: a purge at the end of a recovery window and a scheduled key
// deletion are recorded as service events.
func TestAuditServiceEvents(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := context.Background()
	c := s.client("us-east-1")
	cr := must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("old"), SecretString: aws.String("v")})).get(t)
	must(c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("old"), RecoveryWindowInDays: aws.Int64(7)})).get(t)
	k := s.kmsClient("us-east-1")
	key := must(k.CreateKey(ctx, &kms.CreateKeyInput{})).get(t)
	must(k.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: key.KeyMetadata.KeyId, PendingWindowInDays: aws.Int32(7)})).get(t)
	s.Clock.Advance(8 * 24 * time.Hour)
	if n, err := s.Secrets.PurgeDue(ctx); err != nil || n != 1 {
		t.Fatalf("PurgeDue %d %v", n, err)
	}
	s.Secrets.KMS().RunDue(ctx)
	found := map[string]bool{}
	for _, e := range auditEvents(t, s) {
		if e.EventType != audit.TypeServiceEvent {
			continue
		}
		if len(e.Resources) != 1 || e.UserIdentity.Type != "AWSService" || e.RecipientAccountID != s.Account {
			t.Errorf("service event %+v", e)
			continue
		}
		found[e.EventName+" "+e.Resources[0].ARN] = true
	}
	if !found["EndSecretDeletion "+*cr.ARN] || !found["DeleteKey "+*key.KeyMetadata.Arn] {
		t.Errorf("service events %v", found)
	}
}

// TestGetAuditDigest: the last signed digest, through the API, verifies the trail as an
// exported anchor.
func TestGetAuditDigest(t *testing.T) {
	s := startServer(t, serverOpts{auditDigests: 3})
	ctx := context.Background()
	c := s.client("us-east-1")
	call := func() map[string]any {
		code, out := s.rawCallAs(t, "secretsmanager", "coffer.GetAuditDigest", "application/x-amz-json-1.1", []byte(`{}`), time.Now(), s.Creds, nil)
		if code != 200 {
			t.Fatalf("%d %v", code, out)
		}
		return out
	}
	if out := call(); out["Digest"] != nil {
		t.Fatalf("a digest before any was written: %v", out)
	}
	for range 4 {
		must(c.ListSecrets(ctx, &sm.ListSecretsInput{})).get(t)
	}
	// Reads are answered once their records are written; a digest is exported once the fsync
	// that covers it is done, within the trail's SyncInterval.
	out := call()
	for deadline := time.Now().Add(10 * time.Second); out["Digest"] == nil && time.Now().Before(deadline); out = call() {
		time.Sleep(5 * time.Millisecond)
	}
	raw, _ := json.Marshal(out["Digest"])
	var d audit.Digest
	if err := json.Unmarshal(raw, &d); err != nil || d.Server != "test" || d.Seq == 0 || d.Signature == "" {
		t.Fatalf("digest %s", raw)
	}
	rep, err := audit.Verify(audit.DirSource(s.AuditDir), audit.VerifyOptions{Digests: []*audit.Digest{&d}})
	if err != nil || rep.LastSignedSeq < d.Seq {
		t.Fatalf("verify against the API's digest: %v %+v", err, rep)
	}
	reader := newUser(t, s, "reader", "", nil, "CofferSecretsMetadataReadOnly")
	if code, out := s.rawCallAs(t, "secretsmanager", "coffer.GetAuditDigest", "application/x-amz-json-1.1", []byte(`{}`), time.Now(), reader, nil); code != 400 || out["__type"] != "AccessDeniedException" {
		t.Errorf("a metadata reader: %d %v", code, out)
	}
}

// TestAuditQueryProtocolRedaction: an IAM call's sensitive members (by the IAM model, per
// action) are not recorded, whether coffer serves the action or not.
func TestAuditQueryProtocolRedaction(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := context.Background()
	ic := s.iamClient(s.Creds)
	const password = "audit-login-password-5e1d"
	ic.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("nobody"), Password: aws.String(password)})
	ic.ChangePassword(ctx, &iam.ChangePasswordInput{OldPassword: aws.String(password), NewPassword: aws.String(password + "-new")})
	scanForValue(t, s.AuditDir, password)
	names := map[string]bool{}
	for _, e := range auditEvents(t, s) {
		names[e.EventName] = true
	}
	if !names["CreateLoginProfile"] || !names["ChangePassword"] {
		t.Fatalf("the calls were not recorded: %v", names)
	}
}

// metricValue returns the value of the sample named name in the /metrics text m, and
// whether there is one.
func metricValue(m, name string) (float64, bool) {
	for line := range strings.SplitSeq(m, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// TestMetricsWriter: on SQLite, /metrics counts the writer's work: the writes just made,
// the commits that covered them, and the time the writer was held.
func TestMetricsWriter(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := context.Background()
	c := s.client("us-east-1")
	value := func(m, name string) float64 {
		t.Helper()
		v, ok := metricValue(m, name)
		if !ok {
			t.Fatalf("no %s in /metrics:\n%s", name, m)
		}
		return v
	}
	before := metrics(t, s)
	must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("counted"), SecretString: aws.String("v0")})).get(t)
	for i := range 3 {
		must(c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("counted"), SecretString: aws.String(strconv.Itoa(i))})).get(t)
	}
	after := metrics(t, s)
	if d := value(after, "coffer_store_writer_updates_total") - value(before, "coffer_store_writer_updates_total"); d < 4 {
		t.Errorf("%v Updates counted for a CreateSecret and three puts", d)
	}
	if d := value(after, "coffer_store_writer_commits_total") - value(before, "coffer_store_writer_commits_total"); d < 1 {
		t.Errorf("%v commits counted for four writes", d)
	}
	busy := value(after, "coffer_store_writer_busy_seconds_total") - value(before, "coffer_store_writer_busy_seconds_total")
	committing := value(after, "coffer_store_writer_commit_seconds_total") - value(before, "coffer_store_writer_commit_seconds_total")
	if busy <= 0 || committing <= 0 || committing > busy {
		t.Errorf("writer held %vs, committing %vs", busy, committing)
	}
	// Each write waited for its commit.
	if d := value(after, "coffer_store_writer_commit_wait_seconds_total") - value(before, "coffer_store_writer_commit_wait_seconds_total"); d <= 0 {
		t.Errorf("the writes waited %vs for their commits", d)
	}
	if _, ok := metricValue(after, "coffer_store_writer_turn_wait_seconds_total"); !ok {
		t.Errorf("no coffer_store_writer_turn_wait_seconds_total in /metrics:\n%s", after)
	}
}
