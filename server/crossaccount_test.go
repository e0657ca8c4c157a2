package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestCrossAccount(t *testing.T) { bothStores(t, serverOpts{}, testCrossAccount) }

// testCrossAccount: account B reads account A's secret through A's resource policy and A's
// customer key's policy; both sides must allow, as in AWS.
func testCrossAccount(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	ctx := context.Background()
	a := s.client("us-east-1")
	acctA, acctB := s.Account, "444455556666"
	nb := must(s.cofferClient(s.Creds).CreateAccount(ctx, acctB)).get(t)
	rootB := aws.Credentials{AccessKeyID: nb.AccessKeyID, SecretAccessKey: nb.SecretAccessKey}
	bsm := s.clientWith("us-east-1", rootB)

	key := createKey(t, s.kmsClient("us-east-1"), "shared")
	keyPolicy := func(decrypters ...string) string {
		doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acctA + `:root"},"Action":"kms:*","Resource":"*"}`
		for _, p := range decrypters {
			doc += `,{"Effect":"Allow","Principal":{"AWS":"` + p + `"},"Action":"kms:Decrypt","Resource":"*"}`
		}
		return doc + `]}`
	}
	must(s.kmsClient("us-east-1").PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: key.KeyId, Policy: aws.String(keyPolicy("arn:aws:iam::" + acctB + ":root"))})).get(t)
	shared := must(a.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("shared/db"), SecretString: aws.String("shared-value"), KmsKeyId: key.Arn})).get(t)
	plain := must(a.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("shared/plain"), SecretString: aws.String("plain-value")})).get(t)

	// No resource policy: B cannot read.
	_, err := bsm.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: shared.ARN})
	wantErr(t, err, "AccessDeniedException", "")
	grant := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acctB + `:root"},"Action":["secretsmanager:GetSecretValue","secretsmanager:DescribeSecret"],"Resource":"*"}]}`
	for _, arn := range []*string{shared.ARN, plain.ARN} {
		must(a.PutResourcePolicy(ctx, &sm.PutResourcePolicyInput{SecretId: arn, ResourcePolicy: aws.String(grant)})).get(t)
	}
	if v := must(bsm.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: shared.ARN})).get(t); *v.SecretString != "shared-value" {
		t.Fatalf("B read %q", *v.SecretString)
	}
	must(bsm.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: shared.ARN})).get(t)
	_, err = bsm.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: shared.ARN, SecretString: aws.String("x")})
	wantErr(t, err, "AccessDeniedException", "")
	// Under the AWS-managed key, never from another account.
	_, err = bsm.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: plain.ARN})
	wantErr(t, err, "AccessDeniedException", "You can't access a secret from a different AWS account if you encrypt the secret with the default KMS service key.")

	// A user of B needs its own identity policy too (B's root in the policy delegates to B).
	userB := s.cofferIAMUser(t, rootB, "reader", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["secretsmanager:GetSecretValue","kms:Decrypt"],"Resource":"*"}]}`)
	nobody := s.cofferIAMUser(t, rootB, "nobody", "")
	if v := must(s.clientWith("us-east-1", userB).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: shared.ARN})).get(t); *v.SecretString != "shared-value" {
		t.Fatal("B's reader could not read")
	}
	_, err = s.clientWith("us-east-1", nobody).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: shared.ARN})
	wantErr(t, err, "AccessDeniedException", "")

	// The key policy no longer lets B decrypt: the secret policy alone is not enough.
	must(s.kmsClient("us-east-1").PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: key.KeyId, Policy: aws.String(keyPolicy())})).get(t)
	_, err = bsm.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: shared.ARN})
	wantErr(t, err, "AccessDeniedException", "Access to KMS is not allowed")
}

// cofferIAMUser creates, with the credentials of an account's root, a user with an inline
// policy (none when "") and returns its access key.
func (s *testServer) cofferIAMUser(t *testing.T, root aws.Credentials, name, inline string) aws.Credentials {
	t.Helper()
	ctx := context.Background()
	c := s.iamClient(root)
	must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)})).get(t)
	if inline != "" {
		must(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String("p"), PolicyDocument: aws.String(inline)})).get(t)
	}
	k := must(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})).get(t).AccessKey
	return aws.Credentials{AccessKeyID: *k.AccessKeyId, SecretAccessKey: *k.SecretAccessKey}
}

// TestCrossAccountAssumeRole: a role of account A trusted by account B; B's principals need
// their own permission too, as across accounts both sides must allow.
func TestCrossAccountAssumeRole(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := context.Background()
	acctA, acctB := s.Account, "555566667777"
	nb := must(s.cofferClient(s.Creds).CreateAccount(ctx, acctB)).get(t)
	rootB := aws.Credentials{AccessKeyID: nb.AccessKeyID, SecretAccessKey: nb.SecretAccessKey}
	ia := s.iamClient(s.Creds)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acctB + `:root"},"Action":"sts:AssumeRole"}]}`
	must(ia.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("partner"), AssumeRolePolicyDocument: aws.String(trust)})).get(t)
	must(ia.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("partner"), PolicyArn: aws.String("arn:aws:iam::aws:policy/coffer/CofferSecretsMetadataReadOnly")})).get(t)
	must(ia.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("private"), AssumeRolePolicyDocument: aws.String(strings.Replace(trust, acctB, acctA, 1))})).get(t)
	must(s.client("us-east-1").CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("a/secret"), SecretString: aws.String("v")})).get(t)

	assume := func(c aws.Credentials, role string) (*sts.AssumeRoleOutput, error) {
		return s.stsClient("us-east-1", c).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + acctA + ":role/" + role), RoleSessionName: aws.String("bb")})
	}
	out := must(assume(rootB, "partner")).get(t)
	sess := aws.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey, SessionToken: *out.Credentials.SessionToken}
	if who := must(s.stsClientSession(sess).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})).get(t); *who.Arn != "arn:aws:sts::"+acctA+":assumed-role/partner/bb" || *who.Account != acctA {
		t.Fatalf("the session is %s in %s", *who.Arn, *who.Account)
	}
	if l := must(s.clientSession(sess).ListSecrets(ctx, &sm.ListSecretsInput{})).get(t).SecretList; len(l) != 1 {
		t.Fatalf("the partner session lists %d of A's secrets", len(l))
	}
	_, err := assume(rootB, "private")
	wantErr(t, err, "AccessDenied", "")
	// A user of B: the trust policy names B's root, which delegates to B's policies.
	nobody := s.cofferIAMUser(t, rootB, "nobody", "")
	_, err = assume(nobody, "partner")
	wantErr(t, err, "AccessDenied", "")
	allowed := s.cofferIAMUser(t, rootB, "ops", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::`+acctA+`:role/partner"}]}`)
	must(assume(allowed, "partner")).get(t)
}

func (s *testServer) stsClientSession(c aws.Credentials) *sts.Client {
	cfg := aws.Config{Region: "us-east-1", RetryMaxAttempts: 1, Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)}
	return sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

func (s *testServer) clientSession(c aws.Credentials) *sm.Client {
	cfg := aws.Config{Region: "us-east-1", RetryMaxAttempts: 1, Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)}
	return sm.NewFromConfig(cfg, func(o *sm.Options) { o.BaseEndpoint = aws.String(s.URL) })
}
