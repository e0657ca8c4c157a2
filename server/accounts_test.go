package server_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/coffer-project/coffer/client"
)

func TestAccounts(t *testing.T) { bothStores(t, serverOpts{}, testAccounts) }

func (s *testServer) cofferClient(c aws.Credentials) *client.Client {
	return client.New(s.URL, "us-east-1", credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, ""), nil)
}

// testAccounts: accounts are isolated; only the default account's root creates them.
func testAccounts(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	ctx := context.Background()
	b := must(s.cofferClient(s.Creds).CreateAccount(ctx, "222233334444")).get(t)
	if b.AccountID != "222233334444" || len(b.SecretAccessKey) != 40 {
		t.Fatalf("CreateAccount %+v", b.AccountID)
	}
	bc := aws.Credentials{AccessKeyID: b.AccessKeyID, SecretAccessKey: b.SecretAccessKey}
	if who := must(s.stsClient("us-east-1", bc).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})).get(t); *who.Arn != "arn:aws:iam::222233334444:root" {
		t.Fatalf("the new root is %s", *who.Arn)
	}
	a, bsm := s.client("us-east-1"), s.clientWith("us-east-1", bc)
	must(a.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("same/name"), SecretString: aws.String("in A")})).get(t)
	must(bsm.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("same/name"), SecretString: aws.String("in B")})).get(t)
	if v := must(bsm.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("same/name")})).get(t); *v.SecretString != "in B" {
		t.Fatalf("B read %q", *v.SecretString)
	}
	if l := must(bsm.ListSecrets(ctx, &sm.ListSecretsInput{})).get(t).SecretList; len(l) != 1 {
		t.Fatalf("B lists %d secrets", len(l))
	}
	// A's ARN is not B's to read.
	aSecret := must(a.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("same/name")})).get(t)
	_, err := bsm.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aSecret.ARN})
	if err == nil {
		t.Fatal("B read A's secret by ARN")
	}
	// Only the default account's root creates accounts.
	_, err = s.cofferClient(bc).CreateAccount(ctx, "")
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Code != "AccessDeniedException" {
		t.Fatalf("B's root created an account: %v", err)
	}
	_, err = s.cofferClient(s.Creds).CreateAccount(ctx, "222233334444")
	if !errors.As(err, &ae) || ae.Code != "ResourceExistsException" {
		t.Fatalf("a second account with the same id: %v", err)
	}
	_, err = s.cofferClient(s.Creds).CreateAccount(ctx, "12")
	if !errors.As(err, &ae) || ae.Code != "ValidationException" {
		t.Fatalf("a malformed id: %v", err)
	}
	user := newUser(t, s, "ops", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, nil)
	_, err = s.cofferClient(user).CreateAccount(ctx, "")
	if !errors.As(err, &ae) || ae.Code != "AccessDeniedException" {
		t.Fatalf("a user created an account: %v", err)
	}
}

// TestSealOnlyByDefaultRoot: another account's root cannot seal the deployment.
func TestSealOnlyByDefaultRoot(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := context.Background()
	b := must(s.cofferClient(s.Creds).CreateAccount(ctx, "")).get(t)
	err := s.cofferClient(aws.Credentials{AccessKeyID: b.AccessKeyID, SecretAccessKey: b.SecretAccessKey}).Call(ctx, "coffer.Seal", struct{}{}, nil)
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Code != "AccessDeniedException" {
		t.Fatalf("another account's root sealed the server: %v", err)
	}
	// The default root reaches the seal itself (this test server has no seal to close).
	err = s.cofferClient(s.Creds).Call(ctx, "coffer.Seal", struct{}{}, nil)
	if !errors.As(err, &ae) || ae.Code != "InvalidRequestException" {
		t.Fatalf("the default root: %v", err)
	}
}
