package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// TestIAMVerbs drives `coffer iam create-user`, `list-users` and `delete-user`.
func TestIAMVerbs(t *testing.T) {
	ctx := context.Background()
	addr, creds, stop, err := startBenchServer(ctx, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	t.Setenv("AWS_ACCESS_KEY_ID", creds.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", creds.SecretAccessKey)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("COFFER_ENDPOINT", "http://"+addr)
	var out bytes.Buffer
	if err := run(ctx, []string{"iam", "create-user", "app", "--policy", "CofferSecretsReadValues"}, &out, &out); err != nil {
		t.Fatalf("create-user: %v\n%s", err, out.String())
	}
	id := regexp.MustCompile(`(?m)^export AWS_ACCESS_KEY_ID=(\S+)$`).FindStringSubmatch(out.String())
	secret := regexp.MustCompile(`(?m)^export AWS_SECRET_ACCESS_KEY=(\S+)$`).FindStringSubmatch(out.String())
	if id == nil || secret == nil {
		t.Fatalf("create-user printed:\n%s", out.String())
	}
	c := sts.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(id[1], secret[1], "")},
		func(o *sts.Options) { o.BaseEndpoint = aws.String("http://" + addr) })
	who, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || !strings.HasSuffix(*who.Arn, ":user/app") {
		t.Fatalf("the printed key: %v", err)
	}
	out.Reset()
	if err := run(ctx, []string{"iam", "list-users"}, &out, &out); err != nil || !regexp.MustCompile(`app\s+-\s+CofferSecretsReadValues`).MatchString(out.String()) {
		t.Fatalf("list-users: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"iam", "delete-user", "app"}, &out, &out); err != nil || !strings.Contains(out.String(), "1 access keys") {
		t.Fatalf("delete-user: %v\n%s", err, out.String())
	}
	if _, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err == nil {
		t.Fatal("the deleted user's key still works")
	}
}
