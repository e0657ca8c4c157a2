package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
)

// sessionCreds turns STS credentials into SDK credentials.
func sessionCreds(c *ststypes.Credentials) aws.Credentials {
	return aws.Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: *c.SessionToken}
}

// smAs is a Secrets Manager client with c, session token included.
func (s *testServer) smAs(c aws.Credentials) *sm.Client {
	cfg := aws.Config{Region: "us-east-1", RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)}
	return sm.NewFromConfig(cfg, func(o *sm.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

// stsAs is an STS client with c, session token included.
func (s *testServer) stsAs(c aws.Credentials) *sts.Client {
	cfg := aws.Config{Region: "us-east-1", RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)}
	return sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

// iamAs is an IAM client with c, session token included.
func (s *testServer) iamAs(c aws.Credentials) *iam.Client {
	cfg := aws.Config{Region: "us-east-1", RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)}
	return iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

// newRole creates a role with a trust policy, an inline policy and a maximum session duration.
func newRole(t *testing.T, s *testServer, name, trust, inline string, maxSeconds int32) string {
	t.Helper()
	ctx := context.Background()
	c := s.iamClient(s.Creds)
	out := must(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust),
		MaxSessionDuration: aws.Int32(maxSeconds)})).get(t)
	if inline != "" {
		must(c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String("inline"), PolicyDocument: aws.String(inline)})).get(t)
	}
	return *out.Role.Arn
}

func trustOf(principals ...string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":["` +
		strings.Join(principals, `","`) + `"]}}]}`
}

// TestSessionToken: GetSessionToken's session acts as its user, cannot make another
// session, and ends at its expiry (by the credential clock).
func TestSessionToken(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := context.Background()
	must(s.client("us-east-1").CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("app/db"), SecretString: aws.String("pw")})).get(t)
	alice := newUser(t, s, "alice", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`, nil)

	out := must(s.stsClient("us-east-1", alice).GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(900)})).get(t)
	sc := sessionCreds(out.Credentials)
	if !strings.HasPrefix(sc.AccessKeyID, "ASIA") || len(sc.AccessKeyID) != 20 || len(sc.SecretAccessKey) != 40 {
		t.Fatalf("credentials %s / %d-character secret", sc.AccessKeyID, len(sc.SecretAccessKey))
	}
	if d := out.Credentials.Expiration.Sub(s.Clock.Now()); d < 899*time.Second || d > 901*time.Second {
		t.Fatalf("expiration in %v", d)
	}
	v := must(s.smAs(sc).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/db")})).get(t)
	if *v.SecretString != "pw" {
		t.Fatalf("value %q", *v.SecretString)
	}
	_, err := s.smAs(sc).DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("app/db")})
	wantErr(t, err, "AccessDeniedException", "")
	id := must(s.stsAs(sc).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})).get(t)
	if *id.Arn != "arn:aws:iam::"+s.Account+":user/alice" || !strings.HasPrefix(*id.UserId, "AIDA") {
		t.Fatalf("caller %s %s", *id.Arn, *id.UserId)
	}
	_, err = s.stsAs(sc).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	wantErr(t, err, "AccessDenied", "Cannot call GetSessionToken with session credentials")
	// As in AWS without MFA: no IAM call with GetSessionToken credentials.
	_, err = s.iamAs(sc).ListUsers(ctx, &iam.ListUsersInput{})
	wantErr(t, err, "InvalidClientTokenId", "")
	_, err = s.stsClient("us-east-1", alice).GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(899)})
	wantErr(t, err, "ValidationError", "")

	// The account root's session lasts an hour at most.
	root := must(s.stsClient("us-east-1", s.Creds).GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(7200)})).get(t)
	if d := root.Credentials.Expiration.Sub(s.Clock.Now()); d > time.Hour+time.Second {
		t.Fatalf("root session of %v", d)
	}

	// Without its token, or with a token altered, a session key is unknown.
	noToken := sc
	noToken.SessionToken = ""
	_, err = s.smAs(noToken).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/db")})
	wantErr(t, err, "UnrecognizedClientException", "")
	tampered := sc
	b := []byte(sc.SessionToken)
	b[len(b)/2] ^= 1
	tampered.SessionToken = string(b)
	_, err = s.smAs(tampered).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/db")})
	wantErr(t, err, "UnrecognizedClientException", "")
	_, err = s.stsAs(tampered).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantErr(t, err, "InvalidClientTokenId", "")
	// Another session's token does not vouch for this key.
	other := sessionCreds(root.Credentials)
	other.AccessKeyID = sc.AccessKeyID
	other.SecretAccessKey = sc.SecretAccessKey
	_, err = s.smAs(other).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/db")})
	wantErr(t, err, "UnrecognizedClientException", "")

	s.Clock.Advance(901 * time.Second)
	_, err = s.smAs(sc).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/db")})
	wantErr(t, err, "ExpiredTokenException", "The security token included in the request is expired")
	_, err = s.stsAs(sc).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantErr(t, err, "ExpiredToken", "The security token included in the request is expired")
}

// TestAssumeRole: trust policies, role sessions' policies, session policies, chaining and
// revocation through aws:TokenIssueTime.
func TestAssumeRole(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := context.Background()
	must(s.client("us-east-1").CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("app/db"), SecretString: aws.String("pw")})).get(t)
	acct := s.Account
	aliceARN := "arn:aws:iam::" + acct + ":user/alice"
	alice := newUser(t, s, "alice", "", nil) // no policy of its own: not even sts:AssumeRole
	bob := newUser(t, s, "bob", "", nil)
	readerARN := "arn:aws:iam::" + acct + ":role/reader"
	newRole(t, s, "reader", trustOf(aliceARN, readerARN),
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["secretsmanager:GetSecretValue","secretsmanager:DescribeSecret"],"Resource":"*"}]}`, 43200)
	newRole(t, s, "admin", trustOf("arn:aws:iam::"+acct+":root"), "", 3600)

	// The trust policy naming alice suffices in her own account.
	a := s.stsClient("us-east-1", alice)
	out := must(a.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(readerARN), RoleSessionName: aws.String("job-1"), DurationSeconds: aws.Int32(7200)})).get(t)
	sessARN := "arn:aws:sts::" + acct + ":assumed-role/reader/job-1"
	if *out.AssumedRoleUser.Arn != sessARN || !strings.HasPrefix(*out.AssumedRoleUser.AssumedRoleId, "AROA") || !strings.HasSuffix(*out.AssumedRoleUser.AssumedRoleId, ":job-1") {
		t.Fatalf("assumed role user %+v", out.AssumedRoleUser)
	}
	rs := sessionCreds(out.Credentials)
	id := must(s.stsAs(rs).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})).get(t)
	if *id.Arn != sessARN || *id.UserId != *out.AssumedRoleUser.AssumedRoleId || *id.Account != acct {
		t.Fatalf("caller %s %s %s", *id.Arn, *id.UserId, *id.Account)
	}
	must(s.smAs(rs).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/db")})).get(t)
	_, err := s.iamAs(rs).ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
	wantErr(t, err, "ValidationError", "Must specify userName when calling with non-User credentials")
	_, err = s.smAs(rs).DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("app/db")})
	wantErr(t, err, "AccessDeniedException", "")

	// Not named by the trust policy: bob; a trust policy naming the account leaves it to
	// alice's identity policies, which allow nothing; a role of another account.
	_, err = s.stsClient("us-east-1", bob).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(readerARN), RoleSessionName: aws.String("x1")})
	wantErr(t, err, "AccessDenied", "")
	_, err = a.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + acct + ":role/admin"), RoleSessionName: aws.String("x1")})
	wantErr(t, err, "AccessDenied", "")
	_, err = a.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::999988887777:role/reader"), RoleSessionName: aws.String("x1")})
	wantErr(t, err, "AccessDenied", "")
	_, err = a.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + acct + ":role/none"), RoleSessionName: aws.String("x1")})
	wantErr(t, err, "AccessDenied", "")
	_, err = a.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(readerARN), RoleSessionName: aws.String("bad name")})
	wantErr(t, err, "ValidationError", "")
	// The root, whose identity needs no policy, may assume the role trusting its account.
	must(s.stsClient("us-east-1", s.Creds).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + acct + ":role/admin"), RoleSessionName: aws.String("ops")})).get(t)

	// A session policy narrows the role's.
	narrow := must(a.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(readerARN), RoleSessionName: aws.String("narrow"),
		Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:DescribeSecret","Resource":"*"}]}`)})).get(t)
	ns := sessionCreds(narrow.Credentials)
	must(s.smAs(ns).DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("app/db")})).get(t)
	_, err = s.smAs(ns).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/db")})
	wantErr(t, err, "AccessDeniedException", "")

	// Managed policies as session policies.
	meta := must(a.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(readerARN), RoleSessionName: aws.String("meta"),
		PolicyArns: []ststypes.PolicyDescriptorType{{Arn: aws.String("arn:aws:iam::aws:policy/coffer/CofferSecretsMetadataReadOnly")}}})).get(t)
	ms := sessionCreds(meta.Credentials)
	must(s.smAs(ms).DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("app/db")})).get(t)
	_, err = s.smAs(ms).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/db")})
	wantErr(t, err, "AccessDeniedException", "")

	// Session tags are the session's principal tags; the trust policy must allow sts:TagSession.
	newRole(t, s, "tagged", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole","sts:TagSession"],"Principal":{"AWS":"`+aliceARN+`"}}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"blue"}}}]}`, 3600)
	for team, want := range map[string]bool{"blue": true, "red": false} {
		tagged := must(a.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + acct + ":role/tagged"), RoleSessionName: aws.String(team),
			Tags: []ststypes.Tag{{Key: aws.String("team"), Value: aws.String(team)}}})).get(t)
		_, err = s.smAs(sessionCreds(tagged.Credentials)).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/db")})
		if (err == nil) != want {
			t.Fatalf("team %s: %v", team, err)
		}
	}
	_, err = a.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(readerARN), RoleSessionName: aws.String("tags"),
		Tags: []ststypes.Tag{{Key: aws.String("team"), Value: aws.String("blue")}}})
	wantErr(t, err, "AccessDenied", "")

	// Role chaining: at most an hour.
	_, err = s.stsAs(rs).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(readerARN), RoleSessionName: aws.String("chain"), DurationSeconds: aws.Int32(3601)})
	wantErr(t, err, "ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	chained := must(s.stsAs(rs).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(readerARN), RoleSessionName: aws.String("chain")})).get(t)
	must(s.smAs(sessionCreds(chained.Credentials)).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/db")})).get(t)

	// Revocation as the console does it: deny sessions issued before now.
	cutoff := s.Clock.Now().Add(time.Second).UTC().Format(time.RFC3339)
	must(s.iamClient(s.Creds).PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("reader"), PolicyName: aws.String("revoke"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"` + cutoff + `"}}}]}`)})).get(t)
	_, err = s.smAs(rs).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/db")})
	wantErr(t, err, "AccessDeniedException", "User: "+sessARN+" is not authorized to perform: secretsmanager:GetSecretValue on resource: "+
		*must(s.client("us-east-1").DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("app/db")})).get(t).ARN+" with an explicit deny in an identity-based policy")
	s.Clock.Advance(2 * time.Second)
	fresh := must(a.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(readerARN), RoleSessionName: aws.String("job-2")})).get(t)
	must(s.smAs(sessionCreds(fresh.Credentials)).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/db")})).get(t)
}
