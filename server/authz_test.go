package server_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	itypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

func TestAuthorization(t *testing.T) { bothStores(t, serverOpts{}, testAuthorization) }

// newUser creates an IAM user with the given inline policy (none when "") and managed
// policies attached, and returns its access key.
func newUser(t *testing.T, s *testServer, name, inline string, tags map[string]string, managed ...string) aws.Credentials {
	t.Helper()
	ctx := context.Background()
	c := s.iamClient(s.Creds)
	in := &iam.CreateUserInput{UserName: aws.String(name)}
	for k, v := range tags {
		in.Tags = append(in.Tags, itypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	must(c.CreateUser(ctx, in)).get(t)
	if inline != "" {
		must(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String("inline"), PolicyDocument: aws.String(inline)})).get(t)
	}
	for _, m := range managed {
		must(c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(name), PolicyArn: aws.String("arn:aws:iam::aws:policy/coffer/" + m)})).get(t)
	}
	k := must(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})).get(t).AccessKey
	return aws.Credentials{AccessKeyID: *k.AccessKeyId, SecretAccessKey: *k.SecretAccessKey}
}

// clientFrom is a Secrets Manager client whose connections come from the local address ip.
func (s *testServer) clientFrom(ip string, c aws.Credentials) *sm.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	cfg := aws.Config{Region: "us-east-1", RetryMaxAttempts: 1, HTTPClient: hc,
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")}
	return sm.NewFromConfig(cfg, func(o *sm.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

func (s *testServer) kmsClientAs(c aws.Credentials) *kms.Client {
	cfg := aws.Config{Region: "us-east-1", RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")}
	return kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

func testAuthorization(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	ctx := context.Background()
	admin := s.client("us-east-1")
	acct := s.Account
	blue := must(admin.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("app/blue"), SecretString: aws.String("blue-value"),
		Tags: []smtypes.Tag{{Key: aws.String("team"), Value: aws.String("blue")}}})).get(t)
	red := must(admin.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("app/red"), SecretString: aws.String("red-value"),
		Tags: []smtypes.Tag{{Key: aws.String("team"), Value: aws.String("red")}}})).get(t)
	key := createKey(t, s.kmsClient("us-east-1"), "app key")
	must(admin.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("app/cmk"), SecretString: aws.String("cmk-value"), KmsKeyId: key.KeyId})).get(t)

	// Metadata only: describe, never read (the "done when").
	meta := newUser(t, s, "meta", "", nil, "CofferSecretsMetadataReadOnly")
	mc := s.clientWith("us-east-1", meta)
	must(mc.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("app/blue")})).get(t)
	must(mc.ListSecrets(ctx, &sm.ListSecretsInput{})).get(t)
	_, err := mc.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/blue")})
	wantErr(t, err, "AccessDeniedException", "User: arn:aws:iam::"+acct+":user/meta is not authorized to perform: secretsmanager:GetSecretValue on resource: "+*blue.ARN+" because no identity-based policy allows the secretsmanager:GetSecretValue action")
	_, err = mc.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("app/blue"), SecretString: aws.String("x")})
	wantErr(t, err, "AccessDeniedException", "")
	// A name that does not exist tells such a caller nothing more.
	_, err = mc.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("no/such")})
	wantErr(t, err, "AccessDeniedException", "")

	// Read values: the default-key secrets and, through Secrets Manager, the customer key.
	reader := s.clientWith("us-east-1", newUser(t, s, "reader", "", nil, "CofferSecretsReadValues"))
	if v := must(reader.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/cmk")})).get(t); *v.SecretString != "cmk-value" {
		t.Fatal("reader could not read the customer-key secret")
	}
	_, err = reader.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("missing")})
	wantErr(t, err, "ResourceNotFoundException", "")
	// GetSecretValue without kms:Decrypt: the default key admits it, a customer key does not.
	noKMS := s.clientWith("us-east-1", newUser(t, s, "nokms", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`, nil))
	must(noKMS.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/blue")})).get(t)
	_, err = noKMS.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/cmk")})
	wantErr(t, err, "AccessDeniedException", "Access to KMS is not allowed")

	// A user limited by tag: its team's secrets only.
	tagged := s.clientWith("us-east-1", newUser(t, s, "tagged", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*",
		"Condition":{"StringEquals":{"secretsmanager:ResourceTag/team":"${aws:PrincipalTag/team}"}}}]}`, map[string]string{"team": "blue"}))
	must(tagged.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/blue")})).get(t)
	_, err = tagged.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/red")})
	wantErr(t, err, "AccessDeniedException", "")

	// An IP range: from 127.0.0.1 yes, from 127.0.0.2 no.
	ipKey := newUser(t, s, "iponly", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*",
		"Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.1/32"}}}]}`, nil)
	must(s.clientFrom("127.0.0.1", ipKey).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/blue")})).get(t)
	_, err = s.clientFrom("127.0.0.2", ipKey).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/blue")})
	wantErr(t, err, "AccessDeniedException", "")

	// A time window (break-glass hours), with the server's policy clock.
	now := s.Clock.Now().UTC()
	window := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*",
		"Condition":{"DateGreaterThan":{"aws:CurrentTime":"` + now.Add(-time.Hour).Format(time.RFC3339) + `"},"DateLessThan":{"aws:CurrentTime":"` + now.Add(time.Hour).Format(time.RFC3339) + `"}}}]}`
	timed := s.clientWith("us-east-1", newUser(t, s, "timed", window, nil))
	must(timed.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/blue")})).get(t)
	s.Clock.Advance(2 * time.Hour)
	_, err = timed.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/blue")})
	wantErr(t, err, "AccessDeniedException", "")

	// A resource policy grants a user with no identity policy; an explicit deny in it binds
	// even the account root.
	plain := newUser(t, s, "plain", "", nil)
	pc := s.clientWith("us-east-1", plain)
	_, err = pc.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/red")})
	wantErr(t, err, "AccessDeniedException", "")
	must(admin.PutResourcePolicy(ctx, &sm.PutResourcePolicyInput{SecretId: aws.String("app/red"), ResourcePolicy: aws.String(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:user/plain"},"Action":"secretsmanager:GetSecretValue","Resource":"*"},
		{"Effect":"Deny","Principal":"*","Action":"secretsmanager:DeleteSecret","Resource":"*"}]}`)})).get(t)
	if v := must(pc.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/red")})).get(t); *v.SecretString != "red-value" {
		t.Fatal("the resource policy's grant did not read")
	}
	_, err = admin.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("app/red")})
	wantErr(t, err, "AccessDeniedException", "User: arn:aws:iam::"+acct+":root is not authorized to perform: secretsmanager:DeleteSecret on resource: "+*red.ARN+" with an explicit deny in a resource-based policy")

	// A policy change takes effect on the next request.
	ic := s.iamClient(s.Creds)
	must(ic.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String("meta"), PolicyArn: aws.String("arn:aws:iam::aws:policy/coffer/CofferSecretsMetadataReadOnly")})).get(t)
	_, err = mc.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("app/blue")})
	wantErr(t, err, "AccessDeniedException", "")

	// IAM and KMS are enforced too.
	_, err = s.iamClient(plain).ListUsers(ctx, &iam.ListUsersInput{})
	wantErr(t, err, "AccessDenied", "")
	auditor := newUser(t, s, "auditor", "", nil, "CofferAuditor")
	must(s.iamClient(auditor).ListUsers(ctx, &iam.ListUsersInput{})).get(t)
	_, err = s.kmsClientAs(plain).ListKeys(ctx, &kms.ListKeysInput{})
	wantErr(t, err, "AccessDeniedException", "")
	keyAdmin := s.kmsClientAs(newUser(t, s, "keyadmin", "", nil, "CofferKeyAdministrator"))
	must(keyAdmin.ListKeys(ctx, &kms.ListKeysInput{})).get(t)
	must(keyAdmin.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: key.KeyId, Description: aws.String("by the key admin")})).get(t)
	_, err = keyAdmin.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyId, Plaintext: []byte("x")})
	wantErr(t, err, "AccessDeniedException", "")
	// A key policy that no longer delegates to the account: IAM policies stop counting.
	must(s.kmsClient("us-east-1").PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: key.KeyId, Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:user/reader"},"Action":"kms:Decrypt","Resource":"*"}]}`)})).get(t)
	_, err = keyAdmin.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: key.KeyId, Description: aws.String("again")})
	wantErr(t, err, "AccessDeniedException", "")
	must(reader.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app/cmk")})).get(t)
}
