package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// TestAccountCreate drives `coffer account create` as the default account's root.
func TestAccountCreate(t *testing.T) {
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
	if err := run(ctx, []string{"account", "create", "--account-id", "333344445555"}, &out, &out); err != nil {
		t.Fatalf("account create: %v\n%s", err, out.String())
	}
	if !regexp.MustCompile(`(?m)^export AWS_ACCESS_KEY_ID=AKIA[A-Z2-7]{16}$`).MatchString(out.String()) ||
		!regexp.MustCompile(`(?m)^export AWS_SECRET_ACCESS_KEY=\S{40}$`).MatchString(out.String()) ||
		!strings.Contains(out.String(), "coffer account 333344445555") {
		t.Fatalf("account create printed:\n%s", out.String())
	}
	if err := run(ctx, []string{"account", "create", "--account-id", "333344445555"}, &out, &out); err == nil || !strings.Contains(err.Error(), "ResourceExistsException") {
		t.Fatalf("the same id twice: %v", err)
	}
}
