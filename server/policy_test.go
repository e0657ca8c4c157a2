package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func TestResourcePolicy(t *testing.T)       { bothStores(t, serverOpts{}, testResourcePolicy) }
func TestResourcePolicyErrors(t *testing.T) { bothStores(t, serverOpts{}, testResourcePolicyErrors) }
func TestValidateResourcePolicy(t *testing.T) {
	bothStores(t, serverOpts{}, testValidateResourcePolicy)
}

const (
	privatePolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`
	publicPolicy  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`
	pinnedPolicy  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*","Condition":{"StringEquals":{"aws:SourceAccount":"111122223333"}}}]}`
)

func testResourcePolicy(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	c := s.client("us-east-1")
	ctx := context.Background()
	created := must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("app/db"), SecretString: aws.String("v")})).get(t)

	// No policy yet: ARN and Name, no ResourcePolicy member.
	got := must(c.GetResourcePolicy(ctx, &sm.GetResourcePolicyInput{SecretId: aws.String("app/db")})).get(t)
	if *got.ARN != *created.ARN || *got.Name != "app/db" || got.ResourcePolicy != nil {
		t.Fatalf("before put: %+v", got)
	}
	before := must(c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("app/db")})).get(t)

	s.Clock.Advance(time.Minute)
	put := must(c.PutResourcePolicy(ctx, &sm.PutResourcePolicyInput{SecretId: created.ARN, ResourcePolicy: aws.String(privatePolicy)})).get(t)
	if *put.ARN != *created.ARN || *put.Name != "app/db" {
		t.Fatalf("put: %+v", put)
	}
	got = must(c.GetResourcePolicy(ctx, &sm.GetResourcePolicyInput{SecretId: aws.String("app/db")})).get(t)
	if got.ResourcePolicy == nil || *got.ResourcePolicy != privatePolicy {
		t.Fatalf("get: %+v", got)
	}
	// The policy changes the secret's LastChangedDate and nothing else DescribeSecret shows.
	after := must(c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("app/db")})).get(t)
	if !after.LastChangedDate.After(*before.LastChangedDate) {
		t.Fatalf("LastChangedDate %v did not move past %v", after.LastChangedDate, before.LastChangedDate)
	}
	if *after.ARN != *before.ARN || !after.CreatedDate.Equal(*before.CreatedDate) || len(after.VersionIdsToStages) != 1 || after.Description != nil {
		t.Fatalf("describe changed: %+v", after)
	}

	// Replacing: the last put wins; whitespace is kept as sent.
	pretty := strings.ReplaceAll(privatePolicy, ",", ",\n  ")
	must(c.PutResourcePolicy(ctx, &sm.PutResourcePolicyInput{SecretId: aws.String("app/db"), ResourcePolicy: aws.String(pretty), BlockPublicPolicy: aws.Bool(true)})).get(t)
	got = must(c.GetResourcePolicy(ctx, &sm.GetResourcePolicyInput{SecretId: aws.String("app/db")})).get(t)
	if *got.ResourcePolicy != pretty {
		t.Fatalf("replaced policy: %q", *got.ResourcePolicy)
	}

	// A public policy is stored when BlockPublicPolicy is not set, as on AWS.
	must(c.PutResourcePolicy(ctx, &sm.PutResourcePolicyInput{SecretId: aws.String("app/db"), ResourcePolicy: aws.String(publicPolicy)})).get(t)
	must(c.PutResourcePolicy(ctx, &sm.PutResourcePolicyInput{SecretId: aws.String("app/db"), ResourcePolicy: aws.String(publicPolicy), BlockPublicPolicy: aws.Bool(false)})).get(t)
	// Pinned to an account, a wildcard principal is not public.
	must(c.PutResourcePolicy(ctx, &sm.PutResourcePolicyInput{SecretId: aws.String("app/db"), ResourcePolicy: aws.String(pinnedPolicy), BlockPublicPolicy: aws.Bool(true)})).get(t)
	got = must(c.GetResourcePolicy(ctx, &sm.GetResourcePolicyInput{SecretId: aws.String("app/db")})).get(t)
	if *got.ResourcePolicy != pinnedPolicy {
		t.Fatalf("pinned policy: %q", *got.ResourcePolicy)
	}

	s.Clock.Advance(time.Minute)
	del := must(c.DeleteResourcePolicy(ctx, &sm.DeleteResourcePolicyInput{SecretId: aws.String("app/db")})).get(t)
	if *del.ARN != *created.ARN || *del.Name != "app/db" {
		t.Fatalf("delete: %+v", del)
	}
	got = must(c.GetResourcePolicy(ctx, &sm.GetResourcePolicyInput{SecretId: aws.String("app/db")})).get(t)
	if got.ResourcePolicy != nil || *got.Name != "app/db" {
		t.Fatalf("after delete: %+v", got)
	}
	deleted := must(c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("app/db")})).get(t)
	if !deleted.LastChangedDate.After(*after.LastChangedDate) {
		t.Fatalf("delete did not move LastChangedDate")
	}
	// Deleting again is not an error.
	must(c.DeleteResourcePolicy(ctx, &sm.DeleteResourcePolicyInput{SecretId: aws.String("app/db")})).get(t)

	// The value is untouched by all of this.
	v := must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/db")})).get(t)
	if *v.SecretString != "v" {
		t.Fatal("value changed")
	}
}

func testResourcePolicyErrors(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	c := s.client("us-east-1")
	ctx := context.Background()
	must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("p"), SecretString: aws.String("v")})).get(t)
	must(c.PutResourcePolicy(ctx, &sm.PutResourcePolicyInput{SecretId: aws.String("p"), ResourcePolicy: aws.String(privatePolicy)})).get(t)

	const (
		notFound  = "Secrets Manager can't find the specified secret."
		syntax    = "This resource policy contains a syntax error."
		principal = "This resource policy contains an unsupported principal."
		service   = "This resource policy contains an invalid service principal."
		public    = "You can't attach a resource-based policy that allows broad access to the secret."
		marked    = "You can't perform this operation on the secret because it was marked for deletion."
	)
	stmt := func(body string) string { return `{"Version":"2012-10-17","Statement":[` + body + `]}` }
	puts := []struct {
		name, doc, code, msg string
		block                bool
	}{
		{"not JSON", `{"Version":"2012-10-17",`, "MalformedPolicyDocumentException", syntax, false},
		{"unknown effect", stmt(`{"Effect":"AllowSomething","Principal":"*","Action":"secretsmanager:*","Resource":"*"}`), "MalformedPolicyDocumentException", syntax, false},
		{"missing action", stmt(`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Resource":"*"}`), "MalformedPolicyDocumentException", syntax, false},
		{"action and notaction", stmt(`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"*","NotAction":"s3:*"}`), "MalformedPolicyDocumentException", syntax, false},
		{"unsupported version", `{"Version":"2019-10-19","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"*"}}`, "MalformedPolicyDocumentException", syntax, false},
		{"missing principal", stmt(`{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}`), "MalformedPolicyDocumentException", syntax, false},
		{"action format", stmt(`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"GetSecretValue"}`), "MalformedPolicyDocumentException", syntax, false},
		{"bad principal", stmt(`{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"*"}`), "MalformedPolicyDocumentException", principal, false},
		{"bad service principal", stmt(`{"Effect":"Allow","Principal":{"Service":"invalidservice"},"Action":"*"}`), "MalformedPolicyDocumentException", service, false},
		{"public blocked", publicPolicy, "PublicPolicyException", public, true},
		{"AWS star blocked", stmt(`{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"secretsmanager:*","Resource":"*"}`), "PublicPolicyException", public, true},
		{"too long", strings.Repeat(" ", 20481), "ValidationException",
			"1 validation error detected: Value at 'resourcePolicy' failed to satisfy constraint: Member must have length less than or equal to 20480", false},
		{"empty", "", "ValidationException", "", false},
	}
	for _, tt := range puts {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.PutResourcePolicy(ctx, &sm.PutResourcePolicyInput{SecretId: aws.String("p"), ResourcePolicy: aws.String(tt.doc), BlockPublicPolicy: aws.Bool(tt.block)})
			wantErr(t, err, tt.code, tt.msg)
		})
	}
	// None of the refusals replaced the policy.
	got := must(c.GetResourcePolicy(ctx, &sm.GetResourcePolicyInput{SecretId: aws.String("p")})).get(t)
	if *got.ResourcePolicy != privatePolicy {
		t.Fatalf("a refused put changed the policy: %q", *got.ResourcePolicy)
	}
	// An unknown secretsmanager action is stored, as AWS stores it.
	odd := stmt(`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"secretsmanager:GetSecret","Resource":"*"}`)
	must(c.PutResourcePolicy(ctx, &sm.PutResourcePolicyInput{SecretId: aws.String("p"), ResourcePolicy: aws.String(odd)})).get(t)

	// Missing secrets.
	_, err := c.PutResourcePolicy(ctx, &sm.PutResourcePolicyInput{SecretId: aws.String("nope"), ResourcePolicy: aws.String(privatePolicy)})
	wantErr(t, err, "ResourceNotFoundException", notFound)
	_, err = c.GetResourcePolicy(ctx, &sm.GetResourcePolicyInput{SecretId: aws.String("nope")})
	wantErr(t, err, "ResourceNotFoundException", notFound)
	_, err = c.DeleteResourcePolicy(ctx, &sm.DeleteResourcePolicyInput{SecretId: aws.String("nope")})
	wantErr(t, err, "ResourceNotFoundException", notFound)
	_, err = c.ValidateResourcePolicy(ctx, &sm.ValidateResourcePolicyInput{SecretId: aws.String("nope"), ResourcePolicy: aws.String(privatePolicy)})
	wantErr(t, err, "ResourceNotFoundException", notFound)
	_, err = c.GetResourcePolicy(ctx, &sm.GetResourcePolicyInput{SecretId: aws.String("arn:aws:secretsmanager:us-east-1:999999999999:secret:p")})
	wantErr(t, err, "ResourceNotFoundException", notFound)
	status, body := s.rawCall(t, "secretsmanager.GetResourcePolicy", jsonCT, []byte(`{}`), time.Now(), s.Creds, nil)
	if status != 400 || body["__type"] != "ValidationException" {
		t.Fatalf("no SecretId: %d %v", status, body)
	}

	// A secret scheduled for deletion: changes are refused, reads still answer.
	must(c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("p"), RecoveryWindowInDays: aws.Int64(7)})).get(t)
	_, err = c.PutResourcePolicy(ctx, &sm.PutResourcePolicyInput{SecretId: aws.String("p"), ResourcePolicy: aws.String(privatePolicy)})
	wantErr(t, err, "InvalidRequestException", marked)
	_, err = c.DeleteResourcePolicy(ctx, &sm.DeleteResourcePolicyInput{SecretId: aws.String("p")})
	wantErr(t, err, "InvalidRequestException", marked)
	got = must(c.GetResourcePolicy(ctx, &sm.GetResourcePolicyInput{SecretId: aws.String("p")})).get(t)
	if *got.ResourcePolicy != odd {
		t.Fatalf("policy of a deleted secret: %q", *got.ResourcePolicy)
	}
	d := must(c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("p")})).get(t)
	if d.DeletedDate == nil {
		t.Fatal("not scheduled for deletion")
	}
	// Restored, it keeps its policy.
	must(c.RestoreSecret(ctx, &sm.RestoreSecretInput{SecretId: aws.String("p")})).get(t)
	must(c.DeleteResourcePolicy(ctx, &sm.DeleteResourcePolicyInput{SecretId: aws.String("p")})).get(t)
}

func testValidateResourcePolicy(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	c := s.client("us-east-1")
	ctx := context.Background()
	must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("v")})).get(t)

	ok := must(c.ValidateResourcePolicy(ctx, &sm.ValidateResourcePolicyInput{ResourcePolicy: aws.String(privatePolicy)})).get(t)
	if !ok.PolicyValidationPassed || len(ok.ValidationErrors) != 0 {
		t.Fatalf("private policy: %+v", ok)
	}
	ok = must(c.ValidateResourcePolicy(ctx, &sm.ValidateResourcePolicyInput{SecretId: aws.String("v"), ResourcePolicy: aws.String(pinnedPolicy)})).get(t)
	if !ok.PolicyValidationPassed {
		t.Fatalf("pinned policy: %+v", ok)
	}
	tests := []struct{ name, doc, check, msg string }{
		{"public", publicPolicy, "BROAD_ACCESS", "This resource policy grants broad access to your secret."},
		{"unknown effect", `{"Version":"2012-10-17","Statement":{"Effect":"Maybe","Principal":"*","Action":"*"}}`, "INVALID_EFFECT", `The effect "Maybe" is not valid. Use Allow or Deny.`},
		{"missing action", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"}}}`, "MISSING_ACTION", "Add an Action or NotAction element to the policy statement."},
		{"missing principal", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"secretsmanager:GetSecretValue"}}`, "MISSING_PRINCIPAL", "Add a Principal element to the policy statement."},
		{"unknown action", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"secretsmanager:GetSecret"}}`, "INVALID_ACTION", `The action "secretsmanager:GetSecret" does not exist.`},
		{"lockout", `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"secretsmanager:*","Resource":"*"}}`, "LOCKOUT", "Your requested changes will not allow you to manage this secret in the future."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := must(c.ValidateResourcePolicy(ctx, &sm.ValidateResourcePolicyInput{ResourcePolicy: aws.String(tt.doc)})).get(t)
			if out.PolicyValidationPassed || len(out.ValidationErrors) != 1 {
				t.Fatalf("%+v", out)
			}
			if e := out.ValidationErrors[0]; *e.CheckName != tt.check || *e.ErrorMessage != tt.msg {
				t.Fatalf("got %s %q, want %s %q", *e.CheckName, *e.ErrorMessage, tt.check, tt.msg)
			}
		})
	}
	_, err := c.ValidateResourcePolicy(ctx, &sm.ValidateResourcePolicyInput{ResourcePolicy: aws.String("{")})
	wantErr(t, err, "MalformedPolicyDocumentException", "This resource policy contains a syntax error.")
	status, body := s.rawCall(t, "secretsmanager.ValidateResourcePolicy", jsonCT, []byte(`{}`), time.Now(), s.Creds, nil)
	if status != 400 || body["__type"] != "ValidationException" ||
		body["Message"] != "1 validation error detected: Value null at 'resourcePolicy' failed to satisfy constraint: Member must not be null" {
		t.Fatalf("no ResourcePolicy: %d %v", status, body)
	}

	// Validation attaches nothing.
	got := must(c.GetResourcePolicy(ctx, &sm.GetResourcePolicyInput{SecretId: aws.String("v")})).get(t)
	if got.ResourcePolicy != nil {
		t.Fatalf("validate attached a policy: %q", *got.ResourcePolicy)
	}
}
