package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestIAMWithAWSCLI: `aws iam` and `aws sts` against coffer, with AWS CLI v1 from pip ("aws")
// and Debian's v2.9 (/usr/bin/aws): a user, its access key, who that key is, that it may do
// nothing without a policy, and what a metadata-only policy lets it do.
func TestIAMWithAWSCLI(t *testing.T) {
	for _, client := range []struct{ name, bin string }{
		{"aws-cli-v1-pip", "aws"},
		{"aws-cli-v2-debian", "/usr/bin/aws"},
	} {
		t.Run(client.name, func(t *testing.T) {
			bin := need(t, client.bin)
			dir := t.TempDir()
			data, addr := filepath.Join(dir, "coffer-data"), freePort(t)
			p := startCoffer(t, nil, "--data", data, "--key-file", filepath.Join(dir, "coffer-root.key"), "--listen", addr)
			admin := append(printedEnv(t, data), "AWS_MAX_ATTEMPTS=1")
			ep := "http://" + addr
			run := func(env []string, args ...string) (map[string]any, string, error) {
				out, err := cli(t, env, bin, append([]string{"--endpoint-url", ep, "--output", "json"}, args...)...)
				var m map[string]any
				json.Unmarshal([]byte(out), &m)
				return m, out, err
			}
			m, out, err := run(admin, "iam", "create-user", "--user-name", "ci-bot")
			if err != nil {
				t.Fatalf("create-user: %v\n%s", err, out)
			}
			user := m["User"].(map[string]any)
			if !strings.HasSuffix(user["Arn"].(string), ":user/ci-bot") {
				t.Fatalf("create-user %v", user)
			}
			if _, out, err := run(admin, "iam", "create-user", "--user-name", "CI-BOT"); err == nil || !strings.Contains(out, "EntityAlreadyExists") {
				t.Fatalf("duplicate user: %v\n%s", err, out)
			}
			m, out, err = run(admin, "iam", "create-access-key", "--user-name", "ci-bot")
			if err != nil {
				t.Fatalf("create-access-key: %v\n%s", err, out)
			}
			k := m["AccessKey"].(map[string]any)
			bot := []string{"AWS_ACCESS_KEY_ID=" + k["AccessKeyId"].(string), "AWS_SECRET_ACCESS_KEY=" + k["SecretAccessKey"].(string),
				"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1", "AWS_MAX_ATTEMPTS=1"}
			m, out, err = run(bot, "sts", "get-caller-identity")
			if err != nil || m["Arn"] != user["Arn"] || m["UserId"] != user["UserId"] {
				t.Fatalf("get-caller-identity as the user: %v\n%s", err, out)
			}
			if _, out, err := run(bot, "secretsmanager", "list-secrets"); err == nil || !strings.Contains(out, "AccessDeniedException") {
				t.Fatalf("the user's key listed secrets: %v\n%s", err, out)
			}
			// The "done when": a metadata-only user describes but does not read.
			if _, out, err := run(admin, "secretsmanager", "create-secret", "--name", "ci/db", "--secret-string", "db-pass-value"); err != nil {
				t.Fatalf("create-secret: %v\n%s", err, out)
			}
			if _, out, err := run(admin, "iam", "attach-user-policy", "--user-name", "ci-bot", "--policy-arn", "arn:aws:iam::aws:policy/coffer/CofferSecretsMetadataReadOnly"); err != nil {
				t.Fatalf("attach-user-policy: %v\n%s", err, out)
			}
			if m, out, err := run(bot, "secretsmanager", "describe-secret", "--secret-id", "ci/db"); err != nil || m["Name"] != "ci/db" {
				t.Fatalf("describe-secret as the metadata-only user: %v\n%s", err, out)
			}
			if _, out, err := run(bot, "secretsmanager", "get-secret-value", "--secret-id", "ci/db"); err == nil || !strings.Contains(out, "AccessDeniedException") || strings.Contains(out, "db-pass-value") {
				t.Fatalf("get-secret-value as the metadata-only user: %v\n%s", err, out)
			}
			if m, out, err := run(admin, "iam", "list-users"); err != nil || len(m["Users"].([]any)) != 1 {
				t.Fatalf("list-users: %v\n%s", err, out)
			}
			if _, out, err := run(admin, "iam", "update-access-key", "--user-name", "ci-bot", "--access-key-id", k["AccessKeyId"].(string), "--status", "Inactive"); err != nil {
				t.Fatalf("update-access-key: %v\n%s", err, out)
			}
			if _, out, err := run(bot, "sts", "get-caller-identity"); err == nil || !strings.Contains(out, "InvalidClientTokenId") {
				t.Fatalf("an inactive key still works: %v\n%s", err, out)
			}
			// aws sts assume-role returns working temporary credentials.
			acct := strings.Split(user["Arn"].(string), ":")[4]
			trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"sts:AssumeRole"}]}`
			if _, out, err := run(admin, "iam", "create-role", "--role-name", "reader", "--assume-role-policy-document", trust); err != nil {
				t.Fatalf("create-role: %v\n%s", err, out)
			}
			if _, out, err := run(admin, "iam", "attach-role-policy", "--role-name", "reader", "--policy-arn", "arn:aws:iam::aws:policy/coffer/CofferSecretsReadValues"); err != nil {
				t.Fatalf("attach-role-policy: %v\n%s", err, out)
			}
			m, out, err = run(admin, "sts", "assume-role", "--role-arn", "arn:aws:iam::"+acct+":role/reader", "--role-session-name", "ci")
			if err != nil {
				t.Fatalf("assume-role: %v\n%s", err, out)
			}
			cr := m["Credentials"].(map[string]any)
			session := []string{"AWS_ACCESS_KEY_ID=" + cr["AccessKeyId"].(string), "AWS_SECRET_ACCESS_KEY=" + cr["SecretAccessKey"].(string),
				"AWS_SESSION_TOKEN=" + cr["SessionToken"].(string), "AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1", "AWS_MAX_ATTEMPTS=1"}
			if m, out, err := run(session, "sts", "get-caller-identity"); err != nil || m["Arn"] != "arn:aws:sts::"+acct+":assumed-role/reader/ci" {
				t.Fatalf("get-caller-identity as the role: %v\n%s", err, out)
			}
			if m, out, err := run(session, "secretsmanager", "get-secret-value", "--secret-id", "ci/db"); err != nil || m["SecretString"] != "db-pass-value" {
				t.Fatalf("get-secret-value as the role: %v\n%s", err, out)
			}
			if _, out, err := run(session, "secretsmanager", "delete-secret", "--secret-id", "ci/db"); err == nil || !strings.Contains(out, "AccessDeniedException") {
				t.Fatalf("the read-only role deleted a secret: %v\n%s", err, out)
			}
			checkLogClean(t, p.out.String(), k["SecretAccessKey"].(string))
			checkLogClean(t, p.out.String(), cr["SecretAccessKey"].(string))
			checkLogClean(t, p.out.String(), "db-pass-value")
		})
	}
}
