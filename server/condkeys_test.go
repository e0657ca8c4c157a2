package server_test

import (
	"context"
	"net"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// TestRequestConditionKeys: request tags, tag keys and the KMS encryption context reach
// policy conditions.
func TestRequestConditionKeys(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := context.Background()
	u := s.clientWith("us-east-1", newUser(t, s, "tagger", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"secretsmanager:CreateSecret","Resource":"*",
		 "Condition":{"StringEquals":{"aws:RequestTag/team":"blue"},"ForAllValues:StringEquals":{"aws:TagKeys":["team"]}}},
		{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:app":"test"}}}]}`, nil))
	create := func(name string, tags ...smtypes.Tag) error {
		_, err := u.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("v"), Tags: tags})
		return err
	}
	tag := func(k, v string) smtypes.Tag { return smtypes.Tag{Key: aws.String(k), Value: aws.String(v)} }
	if err := create("blue", tag("team", "blue")); err != nil {
		t.Fatalf("a blue secret: %v", err)
	}
	wantErr(t, create("red", tag("team", "red")), "AccessDeniedException", "")
	wantErr(t, create("extra", tag("team", "blue"), tag("cost", "x")), "AccessDeniedException", "")
	wantErr(t, create("untagged"), "AccessDeniedException", "")

	key := createKey(t, s.kmsClient("us-east-1"), "k")
	k := s.kmsClientAs(newUser(t, s, "enc", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:app":"test"}}}]}`, nil))
	must(k.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyId, Plaintext: []byte("x"), EncryptionContext: map[string]string{"app": "test"}})).get(t)
	_, err := k.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyId, Plaintext: []byte("x"), EncryptionContext: map[string]string{"app": "other"}})
	wantErr(t, err, "AccessDeniedException", "")
}

// TestTrustedProxy: X-Forwarded-For sets aws:SourceIp only from a trusted proxy.
func TestTrustedProxy(t *testing.T) {
	_, loopback, _ := net.ParseCIDR("127.0.0.1/32")
	s := startServer(t, serverOpts{trustedProxies: []*net.IPNet{loopback}})
	ctx := context.Background()
	must(s.client("us-east-1").CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("office"), SecretString: aws.String("v")})).get(t)
	creds := newUser(t, s, "office", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.9.0.0/16"}}}]}`, nil)
	forwarded := func(ip string) func(*sm.Options) {
		return func(o *sm.Options) {
			o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
				return st.Build.Add(middleware.BuildMiddlewareFunc("xff", func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
					if req, ok := in.Request.(*smithyhttp.Request); ok {
						req.Header.Set("X-Forwarded-For", "203.0.113.9, "+ip)
					}
					return next.HandleBuild(ctx, in)
				}), middleware.After)
			})
		}
	}
	get := &sm.GetSecretValueInput{SecretId: aws.String("office")}
	// Through the trusted proxy on 127.0.0.1, from the office.
	must(s.clientFrom("127.0.0.1", creds).GetSecretValue(ctx, get, forwarded("10.9.1.2"))).get(t)
	// From outside the office, through the same proxy.
	_, err := s.clientFrom("127.0.0.1", creds).GetSecretValue(ctx, get, forwarded("198.51.100.7"))
	wantErr(t, err, "AccessDeniedException", "")
	// From 127.0.0.2, which is no trusted proxy, the header counts for nothing.
	_, err = s.clientFrom("127.0.0.2", creds).GetSecretValue(ctx, get, forwarded("10.9.1.2"))
	wantErr(t, err, "AccessDeniedException", "")
}

// TestKeyResourceTags: a KMS key's tags reach conditions as aws:ResourceTag.
func TestKeyResourceTags(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := context.Background()
	admin := s.kmsClient("us-east-1")
	blue := must(admin.CreateKey(ctx, &kms.CreateKeyInput{Tags: []ktypes.Tag{{TagKey: aws.String("team"), TagValue: aws.String("blue")}}})).get(t).KeyMetadata
	red := must(admin.CreateKey(ctx, &kms.CreateKeyInput{Tags: []ktypes.Tag{{TagKey: aws.String("team"), TagValue: aws.String("red")}}})).get(t).KeyMetadata
	k := s.kmsClientAs(newUser(t, s, "blue", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"blue"}}}]}`, nil))
	must(k.Encrypt(ctx, &kms.EncryptInput{KeyId: blue.KeyId, Plaintext: []byte("x")})).get(t)
	_, err := k.Encrypt(ctx, &kms.EncryptInput{KeyId: red.KeyId, Plaintext: []byte("x")})
	wantErr(t, err, "AccessDeniedException", "")

	// kms:ResourceAliases: the aliases that point at the key.
	must(admin.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app/db"), TargetKeyId: red.KeyId})).get(t)
	byAlias := s.kmsClientAs(newUser(t, s, "byalias", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*","Condition":{"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/app/*"}}}]}`, nil))
	must(byAlias.Encrypt(ctx, &kms.EncryptInput{KeyId: red.KeyId, Plaintext: []byte("x")})).get(t)
	_, err = byAlias.Encrypt(ctx, &kms.EncryptInput{KeyId: blue.KeyId, Plaintext: []byte("x")})
	wantErr(t, err, "AccessDeniedException", "")
}
