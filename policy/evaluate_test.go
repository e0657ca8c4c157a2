package policy

import (
	"testing"
)

const (
	acct     = "111122223333"
	other    = "444455556666"
	secretX  = "arn:aws:secretsmanager:us-east-1:111122223333:secret:x-AbCdEf"
	keyARN   = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	getValue = "secretsmanager:GetSecretValue"
)

var (
	bob = PrincipalInfo{ARN: "arn:aws:iam::111122223333:user/bob", Account: acct, Type: PrincipalUser,
		UserID: "AIDAEXAMPLEBOB", Username: "bob", Tags: map[string]string{"project": "alpha"}}
	appSession = PrincipalInfo{ARN: "arn:aws:sts::111122223333:assumed-role/app/s1", Account: acct,
		Type: PrincipalAssumedRole, UserID: "AROAEXAMPLEAPP:s1"}
	rootUser = PrincipalInfo{ARN: "arn:aws:iam::111122223333:root", Account: acct, Type: PrincipalAccount, UserID: acct}
	carol    = PrincipalInfo{ARN: "arn:aws:iam::444455556666:user/carol", Account: other, Type: PrincipalUser, Username: "carol"}
	lambda   = PrincipalInfo{ARN: "lambda.amazonaws.com", Type: PrincipalService}
)

func mustParse(t testing.TB, doc string) *Policy {
	t.Helper()
	p, err := Parse(doc)
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	return p
}

// stmts wraps statements in a 2012-10-17 document.
func stmts(s ...string) string {
	doc := `{"Version":"2012-10-17","Statement":[`
	for i, x := range s {
		if i > 0 {
			doc += ","
		}
		doc += x
	}
	return doc + `]}`
}

func TestEvaluateActionsAndResources(t *testing.T) {
	tests := []struct {
		name, stmt, action, resource string
		want                         Effect
	}{
		{"action exact", `{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}`, getValue, secretX, Allow},
		{"action case ignored", `{"Effect":"Allow","Action":"secretsmanager:getsecretvalue","Resource":"*"}`, getValue, secretX, Allow},
		{"action wildcard", `{"Effect":"Allow","Action":"secretsmanager:Get*","Resource":"*"}`, getValue, secretX, Allow},
		{"action question", `{"Effect":"Allow","Action":"kms:?ecrypt","Resource":"*"}`, "kms:Decrypt", keyARN, Allow},
		{"action other service", `{"Effect":"Allow","Action":"kms:*","Resource":"*"}`, getValue, secretX, NotApplicable},
		{"action list", `{"Effect":"Allow","Action":["kms:Decrypt","secretsmanager:Describe*"],"Resource":"*"}`, "secretsmanager:DescribeSecret", secretX, Allow},
		{"star action", `{"Effect":"Allow","Action":"*","Resource":"*"}`, "coffer:DestroySecretVersion", secretX, Allow},
		{"not action excludes", `{"Effect":"Allow","NotAction":"secretsmanager:Delete*","Resource":"*"}`, "secretsmanager:DeleteSecret", secretX, NotApplicable},
		{"not action includes", `{"Effect":"Allow","NotAction":"secretsmanager:Delete*","Resource":"*"}`, getValue, secretX, Allow},
		{"not action deny", `{"Effect":"Deny","NotAction":["iam:*","sts:*"],"Resource":"*"}`, "kms:Decrypt", keyARN, Deny},
		{"resource exact", `{"Effect":"Allow","Action":"*","Resource":"` + secretX + `"}`, getValue, secretX, Allow},
		{"resource wildcard", `{"Effect":"Allow","Action":"*","Resource":"arn:aws:secretsmanager:*:111122223333:secret:x-??????"}`, getValue, secretX, Allow},
		{"resource wildcard too short", `{"Effect":"Allow","Action":"*","Resource":"arn:aws:secretsmanager:*:111122223333:secret:x-?????"}`, getValue, secretX, NotApplicable},
		{"resource case-sensitive", `{"Effect":"Allow","Action":"*","Resource":"arn:aws:secretsmanager:us-east-1:111122223333:secret:X-*"}`, getValue, secretX, NotApplicable},
		{"resource other account", `{"Effect":"Allow","Action":"*","Resource":"arn:aws:secretsmanager:*:444455556666:secret:*"}`, getValue, secretX, NotApplicable},
		{"resource star matches none", `{"Effect":"Allow","Action":"iam:CreateUser","Resource":"*"}`, "iam:CreateUser", "*", Allow},
		{"not resource excludes", `{"Effect":"Allow","Action":"*","NotResource":"arn:aws:secretsmanager:*:*:secret:x-*"}`, getValue, secretX, NotApplicable},
		{"not resource includes", `{"Effect":"Allow","Action":"*","NotResource":"arn:aws:secretsmanager:*:*:secret:y-*"}`, getValue, secretX, Allow},
		{"no resource element", `{"Effect":"Allow","Action":"*"}`, getValue, secretX, Allow},
		{"deny wins within a policy", `{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"secretsmanager:GetSecretValue","Resource":"*"}`, getValue, secretX, Deny},
		{"deny not applicable", `{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"secretsmanager:PutSecretValue","Resource":"*"}`, getValue, secretX, Allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, stmts(tt.stmt))
			got := p.Evaluate(&Request{Action: tt.action, Resource: tt.resource, Principal: bob}, IdentityPolicy)
			if got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
	var nilPolicy *Policy
	if got := nilPolicy.Evaluate(nil, IdentityPolicy); got != NotApplicable {
		t.Fatalf("nil policy: %s", got)
	}
}

func TestEvaluatePrincipals(t *testing.T) {
	allowTo := func(principal string) string {
		return stmts(`{"Effect":"Allow",` + principal + `,"Action":"*","Resource":"*"}`)
	}
	tests := []struct {
		name, doc string
		who       PrincipalInfo
		want      Effect
	}{
		{"star", allowTo(`"Principal":"*"`), carol, Allow},
		{"AWS star", allowTo(`"Principal":{"AWS":"*"}`), appSession, Allow},
		{"account id", allowTo(`"Principal":{"AWS":"111122223333"}`), bob, Allow},
		{"account root", allowTo(`"Principal":{"AWS":"arn:aws:iam::111122223333:root"}`), appSession, Allow},
		{"account root other account", allowTo(`"Principal":{"AWS":"arn:aws:iam::111122223333:root"}`), carol, NotApplicable},
		{"account names root user", allowTo(`"Principal":{"AWS":"111122223333"}`), rootUser, Allow},
		{"user ARN", allowTo(`"Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"}`), bob, Allow},
		{"other user ARN", allowTo(`"Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"}`), bob, NotApplicable},
		{"role ARN matches its session", allowTo(`"Principal":{"AWS":"arn:aws:iam::111122223333:role/app"}`), appSession, Allow},
		{"role ARN with path matches its session", allowTo(`"Principal":{"AWS":"arn:aws:iam::111122223333:role/team/app"}`), appSession, Allow},
		{"other role", allowTo(`"Principal":{"AWS":"arn:aws:iam::111122223333:role/web"}`), appSession, NotApplicable},
		{"session ARN", allowTo(`"Principal":{"AWS":"arn:aws:sts::111122223333:assumed-role/app/s1"}`), appSession, Allow},
		{"other session ARN", allowTo(`"Principal":{"AWS":"arn:aws:sts::111122223333:assumed-role/app/s2"}`), appSession, NotApplicable},
		{"service", allowTo(`"Principal":{"Service":"lambda.amazonaws.com"}`), lambda, Allow},
		{"service is not an account", allowTo(`"Principal":{"AWS":"111122223333"}`), lambda, NotApplicable},
		{"user is not a service", allowTo(`"Principal":{"Service":"lambda.amazonaws.com"}`), bob, NotApplicable},
		{"no principal element", stmts(`{"Effect":"Allow","Action":"*","Resource":"*"}`), bob, NotApplicable},
		{"not principal excludes user and account", stmts(`{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/bob","111122223333"]},"Action":"*","Resource":"*"}`), bob, NotApplicable},
		{"not principal user only does not exclude", stmts(`{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"*","Resource":"*"}`), bob, Deny},
		{"not principal others", stmts(`{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/bob","111122223333"]},"Action":"*","Resource":"*"}`), carol, Deny},
		{"not principal session needs role and session", stmts(`{"Effect":"Deny","NotPrincipal":{"AWS":["111122223333","arn:aws:iam::111122223333:role/app","arn:aws:sts::111122223333:assumed-role/app/s1"]},"Action":"*","Resource":"*"}`), appSession, NotApplicable},
		{"not principal session role only", stmts(`{"Effect":"Deny","NotPrincipal":{"AWS":["111122223333","arn:aws:iam::111122223333:role/app"]},"Action":"*","Resource":"*"}`), appSession, Deny},
		{"not principal anonymous", stmts(`{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"*","Resource":"*"}`), PrincipalInfo{}, Deny},
		{"not principal star", stmts(`{"Effect":"Deny","NotPrincipal":"*","Action":"*","Resource":"*"}`), bob, NotApplicable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, tt.doc)
			req := &Request{Action: getValue, Resource: secretX, Principal: tt.who}
			if got := p.Evaluate(req, ResourcePolicy); got != tt.want {
				t.Fatalf("resource policy: got %s, want %s", got, tt.want)
			}
			// Identity and session policies do not read Principal.
			if got := p.Evaluate(req, IdentityPolicy); got == NotApplicable {
				t.Fatalf("identity policy: got %s", got)
			}
		})
	}
}

// TestAWSExamples runs examples from AWS's IAM and service documentation.
func TestAWSExamples(t *testing.T) {
	businessHours := mustParse(t, stmts(`{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*",
		"Condition":{"DateGreaterThan":{"aws:CurrentTime":"2020-04-01T00:00:00Z"},"DateLessThan":{"aws:CurrentTime":"2020-06-30T23:59:59Z"}}}`))
	sourceIP := mustParse(t, stmts(`{"Effect":"Deny","Action":"*","Resource":"*",
		"Condition":{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24"]},"Bool":{"aws:ViaAWSService":"false"}}}`,
		`{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"}`))
	tagMatch := mustParse(t, stmts(`{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*",
		"Condition":{"StringEquals":{"aws:ResourceTag/project":"${aws:PrincipalTag/project}"}}}`))
	smTag := mustParse(t, stmts(`{"Effect":"Allow","Action":["secretsmanager:GetSecretValue","secretsmanager:DescribeSecret"],"Resource":"*",
		"Condition":{"StringEquals":{"secretsmanager:ResourceTag/ServerName":"ServerABC"}}}`))
	// The default key policy of an AWS managed key (aws/secretsmanager).
	managedKey := mustParse(t, `{"Version":"2012-10-17","Id":"auto-secretsmanager-2","Statement":[
		{"Sid":"Allow access through AWS Secrets Manager for all principals in the account that are authorized to use AWS Secrets Manager",
		 "Effect":"Allow","Principal":{"AWS":"*"},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:CreateGrant","kms:DescribeKey"],"Resource":"*",
		 "Condition":{"StringEquals":{"kms:CallerAccount":"111122223333","kms:ViaService":"secretsmanager.us-east-1.amazonaws.com"}}},
		{"Sid":"Allow access through AWS Secrets Manager for all principals in the account that are authorized to use AWS Secrets Manager",
		 "Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:GenerateDataKey*","Resource":"*",
		 "Condition":{"StringEquals":{"kms:CallerAccount":"111122223333"},"StringLike":{"kms:ViaService":"secretsmanager.*.amazonaws.com"}}},
		{"Sid":"Allow direct access to key metadata to the account","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},
		 "Action":["kms:Describe*","kms:Get*","kms:List*","kms:RevokeGrant"],"Resource":"*"}]}`)
	mfa := mustParse(t, stmts(`{"Effect":"Deny","Action":"secretsmanager:DeleteSecret","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}`))

	tests := []struct {
		name   string
		p      *Policy
		kind   Kind
		action string
		who    PrincipalInfo
		keys   map[string][]string
		want   Effect
	}{
		{"business hours inside", businessHours, IdentityPolicy, getValue, bob, reqKeys("aws:CurrentTime", "2020-05-05T12:00:00Z"), Allow},
		{"business hours before", businessHours, IdentityPolicy, getValue, bob, reqKeys("aws:CurrentTime", "2020-03-31T23:00:00Z"), NotApplicable},
		{"business hours after", businessHours, IdentityPolicy, getValue, bob, reqKeys("aws:CurrentTime", "2020-07-01T00:00:00Z"), NotApplicable},
		{"business hours no clock", businessHours, IdentityPolicy, getValue, bob, nil, NotApplicable},
		{"source ip inside", sourceIP, IdentityPolicy, getValue, bob, reqKeys("aws:SourceIp", "203.0.113.10", "aws:ViaAWSService", "false"), Allow},
		{"source ip outside denied", sourceIP, IdentityPolicy, getValue, bob, reqKeys("aws:SourceIp", "198.51.100.10", "aws:ViaAWSService", "false"), Deny},
		{"source ip via service", sourceIP, IdentityPolicy, getValue, bob, reqKeys("aws:SourceIp", "198.51.100.10", "aws:ViaAWSService", "true"), Allow},
		{"tag match", tagMatch, IdentityPolicy, getValue, bob, reqKeys("aws:ResourceTag/project", "alpha"), Allow},
		{"tag mismatch", tagMatch, IdentityPolicy, getValue, bob, reqKeys("aws:ResourceTag/project", "beta"), NotApplicable},
		{"tag principal untagged", tagMatch, IdentityPolicy, getValue, appSession, reqKeys("aws:ResourceTag/project", "alpha"), NotApplicable},
		{"tag resource untagged", tagMatch, IdentityPolicy, getValue, bob, nil, NotApplicable},
		{"secretsmanager tag", smTag, IdentityPolicy, "secretsmanager:DescribeSecret", bob, reqKeys("secretsmanager:ResourceTag/ServerName", "ServerABC"), Allow},
		{"secretsmanager tag other", smTag, IdentityPolicy, getValue, bob, reqKeys("secretsmanager:ResourceTag/ServerName", "ServerXYZ"), NotApplicable},
		{"managed key via service", managedKey, ResourcePolicy, "kms:Decrypt", appSession, reqKeys("kms:CallerAccount", acct, "kms:ViaService", "secretsmanager.us-east-1.amazonaws.com"), Allow},
		{"managed key other region service", managedKey, ResourcePolicy, "kms:Decrypt", appSession, reqKeys("kms:CallerAccount", acct, "kms:ViaService", "secretsmanager.eu-west-1.amazonaws.com"), NotApplicable},
		{"managed key generate any region", managedKey, ResourcePolicy, "kms:GenerateDataKey", bob, reqKeys("kms:CallerAccount", acct, "kms:ViaService", "secretsmanager.eu-west-1.amazonaws.com"), Allow},
		{"managed key direct", managedKey, ResourcePolicy, "kms:Decrypt", bob, reqKeys("kms:CallerAccount", acct), NotApplicable},
		{"managed key other account", managedKey, ResourcePolicy, "kms:Decrypt", carol, reqKeys("kms:CallerAccount", other, "kms:ViaService", "secretsmanager.us-east-1.amazonaws.com"), NotApplicable},
		{"managed key describe", managedKey, ResourcePolicy, "kms:DescribeKey", bob, nil, Allow},
		{"mfa missing", mfa, IdentityPolicy, "secretsmanager:DeleteSecret", bob, nil, Deny},
		{"mfa present", mfa, IdentityPolicy, "secretsmanager:DeleteSecret", bob, reqKeys("aws:MultiFactorAuthPresent", "true"), NotApplicable},
		{"mfa false", mfa, IdentityPolicy, "secretsmanager:DeleteSecret", bob, reqKeys("aws:MultiFactorAuthPresent", "false"), Deny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &Request{Action: tt.action, Resource: secretX, Principal: tt.who, Keys: tt.keys}
			if got := tt.p.Evaluate(req, tt.kind); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}
