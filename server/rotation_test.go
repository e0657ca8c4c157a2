package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/coffer-project/coffer/audit"
)

// rotationRole makes the role rotators act as: it trusts secretsmanager.amazonaws.com and
// may do what the given policy allows.
func rotationRole(t *testing.T, s *testServer, policy string) {
	t.Helper()
	ctx := context.Background()
	ic := s.iamClient(s.Creds)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"secretsmanager.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	must(ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("coffer-rotation"), AssumeRolePolicyDocument: aws.String(trust)})).get(t)
	must(ic.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("coffer-rotation"), PolicyName: aws.String("rotate"), PolicyDocument: aws.String(policy)})).get(t)
}

const rotatePolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["secretsmanager:DescribeSecret","secretsmanager:GetSecretValue","secretsmanager:PutSecretValue","secretsmanager:UpdateSecretVersionStage","secretsmanager:GetRandomPassword"],"Resource":"*"}]}`

func (s *testServer) lambdaARN(name string) string {
	return "arn:aws:lambda:us-east-1:" + s.Account + ":function:" + name
}

func labelsOf(d *sm.DescribeSecretOutput) (current, previous, pending string) {
	for id, st := range d.VersionIdsToStages {
		for _, l := range st {
			switch l {
			case "AWSCURRENT":
				current = id
			case "AWSPREVIOUS":
				previous = id
			case "AWSPENDING":
				pending = id
			}
		}
	}
	return
}

// TestRotateSecret: RotateSecret with the built-in random-value rotator runs the four steps
// as the rotator's own principal, moves the labels as AWS does, shows the schedule in
// DescribeSecret, is recorded in the audit trail, and rotates again when the scheduler finds
// it due.
func TestRotateSecret(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := context.Background()
	c := s.client("us-east-1")
	rotationRole(t, s, rotatePolicy)
	first := must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("app/db"), SecretString: aws.String(`{"username":"app","password":"first-password"}`)})).get(t)

	// AWS's refusals.
	_, err := c.RotateSecret(ctx, &sm.RotateSecretInput{SecretId: aws.String("app/db")})
	wantErr(t, err, "InvalidRequestException", "No Lambda rotation function ARN is associated with this secret.")
	_, err = c.RotateSecret(ctx, &sm.RotateSecretInput{SecretId: aws.String("app/db"), RotationLambdaARN: aws.String(s.lambdaARN("nope"))})
	wantErr(t, err, "AccessDeniedException", "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.")
	_, err = c.RotateSecret(ctx, &sm.RotateSecretInput{SecretId: aws.String("app/db"), RotationLambdaARN: aws.String(s.lambdaARN("random-value")),
		RotationRules: &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(0)}})
	wantErr(t, err, "ValidationException", "1 validation error detected: Value '0' at 'rotationRules.automaticallyAfterDays' failed to satisfy constraint: Member must have value greater than or equal to 1")

	out := must(c.RotateSecret(ctx, &sm.RotateSecretInput{SecretId: aws.String("app/db"), RotationLambdaARN: aws.String(s.lambdaARN("random-value")),
		RotationRules: &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(30)}})).get(t)
	if err := s.Rotations.Wait(*first.ARN); err != nil {
		t.Fatal(err)
	}
	d := must(c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("app/db")})).get(t)
	cur, prev, pending := labelsOf(d)
	if cur != *out.VersionId {
		_, st := s.rawCallAs(t, "secretsmanager", "coffer.GetRotationStatus", "application/x-amz-json-1.1", []byte(`{"SecretId":"app/db"}`), time.Now(), s.Creds, nil)
		t.Logf("status %v", st)
	}
	if cur != *out.VersionId || prev != *first.VersionId || pending != "" || len(d.VersionIdsToStages) != 2 {
		t.Fatalf("after rotation: %v (rotation %s)", d.VersionIdsToStages, *out.VersionId)
	}
	if !aws.ToBool(d.RotationEnabled) || aws.ToInt64(d.RotationRules.AutomaticallyAfterDays) != 30 || d.LastRotatedDate == nil || d.NextRotationDate == nil ||
		aws.ToString(d.RotationLambdaARN) != s.lambdaARN("random-value") {
		t.Fatalf("DescribeSecret after rotation: %+v", d)
	}
	v := must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/db")})).get(t)
	var m map[string]string
	if err := json.Unmarshal([]byte(*v.SecretString), &m); err != nil || m["username"] != "app" || m["password"] == "first-password" || len(m["password"]) != 32 {
		t.Fatalf("rotated value: %v", err)
	}

	// The attempt, step by step, and its audit records: the rotator's calls are its role
	// session's.
	code, status := s.rawCallAs(t, "secretsmanager", "coffer.GetRotationStatus", "application/x-amz-json-1.1", []byte(`{"SecretId":"app/db"}`), time.Now(), s.Creds, nil)
	attempts, _ := status["Attempts"].([]any)
	if code != 200 || len(attempts) != 1 {
		t.Fatalf("GetRotationStatus %d %v", code, status)
	}
	a := attempts[0].(map[string]any)
	if a["outcome"] != "succeeded" || len(a["steps"].([]any)) != 4 || a["rotator"] != "random-value" {
		t.Errorf("attempt %v", a)
	}
	names := map[string]int{}
	rotatorCalls := 0
	for _, e := range auditEvents(t, s) {
		if e.EventType == audit.TypeServiceEvent {
			names[e.EventName]++
		}
		if strings.Contains(e.UserIdentity.ARN, ":assumed-role/coffer-rotation/random-value") {
			rotatorCalls++
		}
	}
	if names["RotationStarted"] != 1 || names["RotationStep"] != 4 || names["RotationSucceeded"] != 1 || rotatorCalls < 6 {
		t.Errorf("audit: service events %v, %d calls by the rotator", names, rotatorCalls)
	}

	// A PutSecretValue counts as a rotation for AutomaticallyAfterDays.
	s.Clock.Advance(10 * 24 * time.Hour)
	must(c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("app/db"), SecretString: aws.String(`{"username":"app","password":"by-hand"}`)})).get(t)
	d2 := must(c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("app/db")})).get(t)
	if !d2.NextRotationDate.After(*d.NextRotationDate) {
		t.Errorf("NextRotationDate after a PutSecretValue: %v, before %v", d2.NextRotationDate, d.NextRotationDate)
	}
	// Due after 30 days: the scheduler rotates once.
	s.Clock.Advance(31 * 24 * time.Hour)
	if n, err := s.Rotations.RunDue(ctx); err != nil || n != 1 {
		t.Fatalf("RunDue: %d %v", n, err)
	}
	if err := s.Rotations.Wait(*first.ARN); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Rotations.RunDue(ctx); n != 0 {
		t.Errorf("RunDue right after a rotation started %d more", n)
	}
	v2 := must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/db")})).get(t)
	if *v2.SecretString == `{"username":"app","password":"by-hand"}` {
		t.Error("the scheduled rotation did not change the value")
	}

	// CancelRotateSecret turns rotation off.
	must(c.CancelRotateSecret(ctx, &sm.CancelRotateSecretInput{SecretId: aws.String("app/db")})).get(t)
	d3 := must(c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("app/db")})).get(t)
	if aws.ToBool(d3.RotationEnabled) || d3.NextRotationDate != nil {
		t.Errorf("after CancelRotateSecret: enabled %v, next %v", d3.RotationEnabled, d3.NextRotationDate)
	}
}

// TestRotationBlockedAndReset: an unfinished rotation (AWSPENDING on another version) blocks
// the next RotateSecret as in AWS; a retry with its token resumes it; reset discards a
// pending version that was never finished.
func TestRotationBlockedAndReset(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := context.Background()
	c := s.client("us-east-1")
	rotationRole(t, s, rotatePolicy)
	first := must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("stuck"), SecretString: aws.String(`{"password":"p"}`)})).get(t)
	// Configured, not rotated: RotateImmediately false only tests, leaving no AWSPENDING.
	must(c.RotateSecret(ctx, &sm.RotateSecretInput{SecretId: aws.String("stuck"), RotationLambdaARN: aws.String(s.lambdaARN("random-value")),
		RotateImmediately: aws.Bool(false), RotationRules: &smtypes.RotationRulesType{ScheduleExpression: aws.String("rate(10 days)")}})).get(t)
	d := must(c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("stuck")})).get(t)
	if cur, _, pending := labelsOf(d); cur != *first.VersionId || pending != "" || !aws.ToBool(d.RotationEnabled) || d.NextRotationDate == nil {
		t.Fatalf("after RotateImmediately false: %v, next %v", d.VersionIdsToStages, d.NextRotationDate)
	}
	stuck := "11111111-2222-3333-4444-555555555555"
	must(c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("stuck"), ClientRequestToken: aws.String(stuck),
		SecretString: aws.String(`{"password":"half-done"}`), VersionStages: []string{"AWSPENDING"}})).get(t)
	_, err := c.RotateSecret(ctx, &sm.RotateSecretInput{SecretId: aws.String("stuck"), RotationLambdaARN: aws.String(s.lambdaARN("random-value"))})
	wantErr(t, err, "InvalidRequestException", "A previous rotation isn't complete. That rotation will be reattempted.")

	// reset: random-value's testSecret accepts the pending value, so the rotation finishes.
	code, out := s.rawCallAs(t, "secretsmanager", "coffer.ResetRotation", "application/x-amz-json-1.1", []byte(`{"SecretId":"stuck"}`), time.Now(), s.Creds, nil)
	if code != 200 || !strings.HasPrefix(out["Result"].(string), "finished") {
		t.Fatalf("ResetRotation %d %v", code, out)
	}
	d = must(c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("stuck")})).get(t)
	if cur, prev, pending := labelsOf(d); cur != stuck || prev != *first.VersionId || pending != "" {
		t.Fatalf("after reset: %v", d.VersionIdsToStages)
	}

	// A pending version whose value the rotator refuses is discarded by reset.
	bad := "66666666-2222-3333-4444-555555555555"
	must(c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("stuck"), ClientRequestToken: aws.String(bad),
		SecretString: aws.String(`not json`), VersionStages: []string{"AWSPENDING"}})).get(t)
	code, out = s.rawCallAs(t, "secretsmanager", "coffer.ResetRotation", "application/x-amz-json-1.1", []byte(`{"SecretId":"stuck"}`), time.Now(), s.Creds, nil)
	if code != 200 || !strings.HasPrefix(out["Result"].(string), "discarded") {
		t.Fatalf("ResetRotation of a bad version %d %v", code, out)
	}
	d = must(c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("stuck")})).get(t)
	if cur, _, pending := labelsOf(d); cur != stuck || pending != "" {
		t.Fatalf("after discarding: %v", d.VersionIdsToStages)
	}

}

// TestRotationNeedsItsRole: without the role, or with a role the rotator may not use to
// read the secret, the attempt fails visibly and is retried later; nothing changes.
func TestRotationNeedsItsRole(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := context.Background()
	c := s.client("us-east-1")
	first := must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("norole"), SecretString: aws.String(`{"password":"p"}`)})).get(t)
	must(c.RotateSecret(ctx, &sm.RotateSecretInput{SecretId: aws.String("norole"), RotationLambdaARN: aws.String(s.lambdaARN("random-value")),
		RotationRules: &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(1)}})).get(t)
	if err := s.Rotations.Wait(*first.ARN); err == nil {
		t.Fatal("a rotation without its role succeeded")
	}
	code, status := s.rawCallAs(t, "secretsmanager", "coffer.GetRotationStatus", "application/x-amz-json-1.1", []byte(`{"SecretId":"norole"}`), time.Now(), s.Creds, nil)
	attempts, _ := status["Attempts"].([]any)
	if code != 200 || len(attempts) != 1 || attempts[0].(map[string]any)["outcome"] != "failed" || !strings.Contains(attempts[0].(map[string]any)["nextTry"].(string), "T") {
		t.Fatalf("status %d %v", code, status)
	}
	// AWS's empty AWSPENDING version stays: the next attempt resumes it.
	d := must(c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("norole")})).get(t)
	cur, _, pending := labelsOf(d)
	if cur != *first.VersionId || pending == "" || d.LastRotatedDate != nil {
		t.Fatalf("after a failed attempt: %v", d.VersionIdsToStages)
	}
	_, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("norole"), VersionStage: aws.String("AWSPENDING")})
	wantErr(t, err, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: AWSPENDING")

	// A role without GetSecretValue: the rotator's own calls are denied.
	rotationRole(t, s, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:DescribeSecret","Resource":"*"}]}`)
	s.Clock.Advance(3 * time.Hour) // past the backoff
	if n, err := s.Rotations.RunDue(ctx); err != nil || n != 1 {
		t.Fatalf("RunDue %d %v", n, err)
	}
	if err := s.Rotations.Wait(*first.ARN); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("a rotator without GetSecretValue: %v", err)
	}
	denied := false
	for _, e := range auditEvents(t, s) {
		denied = denied || e.EventName == "GetSecretValue" && e.ErrorCode == "AccessDeniedException" && strings.Contains(e.UserIdentity.ARN, "assumed-role/coffer-rotation")
	}
	if !denied {
		t.Error("the rotator's denied read is not in the audit trail")
	}
}

// TestRotateSecretNeedsInvokeFunction: as in AWS, naming a rotation function needs
// lambda:InvokeFunction on it besides secretsmanager:RotateSecret.
func TestRotateSecretNeedsInvokeFunction(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := context.Background()
	must(s.client("us-east-1").CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("fn"), SecretString: aws.String(`{"password":"p"}`)})).get(t)
	rotator := newUser(t, s, "operator", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"}]}`, nil)
	c := s.clientWith("us-east-1", rotator)
	_, err := c.RotateSecret(ctx, &sm.RotateSecretInput{SecretId: aws.String("fn"), RotationLambdaARN: aws.String(s.lambdaARN("random-value"))})
	wantErr(t, err, "AccessDeniedException", "")
	if !strings.Contains(err.Error(), "lambda:InvokeFunction") {
		t.Errorf("the refusal does not name lambda:InvokeFunction: %v", err)
	}
	admin := newUser(t, s, "admin", "", nil, "CofferSecretsAdministrator")
	rotationRole(t, s, rotatePolicy)
	must(s.clientWith("us-east-1", admin).RotateSecret(ctx, &sm.RotateSecretInput{SecretId: aws.String("fn"), RotationLambdaARN: aws.String(s.lambdaARN("random-value"))})).get(t)
}
