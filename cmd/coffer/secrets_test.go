package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestSecretsVerbs drives `coffer secrets destroy-version` and `set-retention` against a
// server, with the credentials in the environment as a user would have them.
func TestSecretsVerbs(t *testing.T) {
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
	lg := &loadGen{client: http.DefaultClient, creds: creds, region: "us-east-1"}
	first := "11111111-1111-4111-8111-111111111111"
	for i, tok := range []string{first, "22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333"} {
		op, in := "PutSecretValue", map[string]string{"SecretId": "app", "SecretString": tok, "ClientRequestToken": tok}
		if i == 0 {
			op, in = "CreateSecret", map[string]string{"Name": "app", "SecretString": tok, "ClientRequestToken": tok}
		}
		if code, body, err := lg.call(ctx, "http://"+addr, op, in); err != nil || code != 200 {
			t.Fatalf("%s: %d %s %v", op, code, body, err)
		}
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"secrets", "destroy-version", "--secret-id", "app", "--version-id", first}, &out, &out); err != nil {
		t.Fatalf("destroy-version: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), `"VersionId": "`+first+`"`) || !strings.Contains(out.String(), "DestroyedDate") {
		t.Fatalf("destroy-version printed %s", out.String())
	}
	code, body, _ := lg.call(ctx, "http://"+addr, "GetSecretValue", map[string]string{"SecretId": "app", "VersionId": first})
	if code != 400 || !strings.Contains(string(body), "destroyed") {
		t.Fatalf("reading a destroyed version: %d %s", code, body)
	}
	out.Reset()
	if err := run(ctx, []string{"secrets", "set-retention", "--secret-id", "app", "--keep", "1"}, &out, &out); err != nil {
		t.Fatalf("set-retention: %v\n%s", err, out.String())
	}
	// A labelled version cannot be destroyed: the API's error reaches the user.
	err = run(ctx, []string{"secrets", "destroy-version", "--secret-id", "app", "--version-id", "33333333-3333-4333-8333-333333333333"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "InvalidRequestException") {
		t.Fatalf("destroying AWSCURRENT: %v", err)
	}
	// generate: the server makes the value; the CLI never prints it.
	out.Reset()
	if err := run(ctx, []string{"secrets", "generate", "--secret-id", "app", "--template", `{"user":"u"}`, "--key", "password", "--length", "20", "--stages", "AWSPENDING"}, &out, &out); err != nil {
		t.Fatalf("generate: %v\n%s", err, out.String())
	}
	code, body, _ = lg.call(ctx, "http://"+addr, "GetSecretValue", map[string]string{"SecretId": "app", "VersionStage": "AWSPENDING"})
	var got struct{ SecretString string }
	json.Unmarshal(body, &got)
	var doc map[string]string
	if code != 200 || json.Unmarshal([]byte(got.SecretString), &doc) != nil || doc["user"] != "u" || len(doc["password"]) != 20 {
		t.Fatalf("generated value: %d", code)
	}
	if strings.Contains(out.String(), doc["password"]) || !strings.Contains(out.String(), `"AWSPENDING"`) {
		t.Fatalf("generate printed %s", out.String())
	}
	if err := run(ctx, []string{"secrets", "frob", "--secret-id", "x"}, &out, &out); err == nil {
		t.Fatal("unknown verb accepted")
	}
}
