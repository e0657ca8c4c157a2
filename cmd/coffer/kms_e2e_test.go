package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestKMSWithAWSCLI is the keys issue's flow with the real AWS CLI: create a key, put a secret
// under it, be refused when disabling it while the secret lives, disable it with the override
// tag, see reads fail with DecryptionFailure, enable it and read again. AWS CLI v1 from pip
// ("aws" on PATH, current botocore) then walks every KMS operation coffer serves, errors
// included; Debian's AWS CLI v2.9 (/usr/bin/aws) runs the flow only, as its models predate
// RotateKeyOnDemand and ListKeyRotations.
func TestKMSWithAWSCLI(t *testing.T) {
	for _, client := range []struct {
		name, bin string
		every     bool
	}{
		{"aws-cli-v1-pip", "aws", true},
		{"aws-cli-v2-debian", "/usr/bin/aws", false},
	} {
		t.Run(client.name, func(t *testing.T) {
			bin := need(t, client.bin)
			dir := t.TempDir()
			data, addr := filepath.Join(dir, "coffer-data"), freePort(t)
			p := startCoffer(t, nil, "--data", data, "--key-file", filepath.Join(dir, "coffer-root.key"), "--listen", addr)
			// max_attempts=1: an expected error is not retried.
			env := append(printedEnv(t, data), "AWS_MAX_ATTEMPTS=1", "AWS_RETRY_MODE=standard")
			ep := "http://" + addr
			aws := func(args ...string) (string, error) {
				return cli(t, env, bin, append([]string{"--endpoint-url", ep, "--output", "json"}, args...)...)
			}
			ok := func(args ...string) map[string]any {
				t.Helper()
				out, err := aws(args...)
				if err != nil {
					t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
				}
				var m map[string]any
				if strings.TrimSpace(out) != "" {
					if err := json.Unmarshal([]byte(out), &m); err != nil {
						t.Fatalf("aws %s printed %q", strings.Join(args, " "), out)
					}
				}
				return m
			}
			fails := func(code string, args ...string) string {
				t.Helper()
				out, err := aws(args...)
				if err == nil || !strings.Contains(out, "("+code+")") {
					t.Fatalf("aws %s: want %s, got %v\n%s", strings.Join(args, " "), code, err, out)
				}
				return out
			}

			key := ok("kms", "create-key", "--description", "app key")["KeyMetadata"].(map[string]any)
			keyID := key["KeyId"].(string)
			ok("kms", "create-alias", "--alias-name", "alias/app", "--target-key-id", keyID)
			ok("secretsmanager", "create-secret", "--name", "app/db", "--secret-string", "s3cr3t-value", "--kms-key-id", "alias/app")
			out := fails("KMSInvalidStateException", "kms", "disable-key", "--key-id", keyID)
			if !strings.Contains(out, "protects 1 secret") {
				t.Fatalf("the refusal does not count the secrets:\n%s", out)
			}
			ok("kms", "tag-resource", "--key-id", keyID, "--tags", "TagKey=coffer:allow-disable-in-use,TagValue=true")
			ok("kms", "disable-key", "--key-id", keyID)
			fails("DecryptionFailure", "secretsmanager", "get-secret-value", "--secret-id", "app/db")
			fails("EncryptionFailure", "secretsmanager", "put-secret-value", "--secret-id", "app/db", "--secret-string", "other")
			// coffer keys report names the secret that cannot be read.
			report := cofferCLI(t, env, ep, "keys", "report")
			if !strings.Contains(report, "app/db") || !strings.Contains(report, "Disabled") {
				t.Fatalf("coffer keys report:\n%s", report)
			}
			ok("kms", "enable-key", "--key-id", keyID)
			got := ok("secretsmanager", "get-secret-value", "--secret-id", "app/db")
			if got["SecretString"] != "s3cr3t-value" {
				t.Fatalf("after enable-key: %v", got["SecretString"])
			}
			bindings := cofferCLI(t, env, ep, "keys", "bindings", "alias/app")
			if !strings.Contains(bindings, "protects 1 secret version") || !strings.Contains(bindings, "AWSCURRENT") {
				t.Fatalf("coffer keys bindings:\n%s", bindings)
			}
			if !client.every {
				checkLogClean(t, p.out.String(), "s3cr3t-value")
				return
			}

			// Every other operation, through the CLI.
			if d := ok("kms", "describe-key", "--key-id", "alias/app")["KeyMetadata"].(map[string]any); d["KeyId"] != keyID || d["KeyState"] != "Enabled" {
				t.Fatalf("describe-key %v", d)
			}
			// Only the app key: no secret used the AWS-managed key, so it was never created.
			if l := ok("kms", "list-keys")["Keys"].([]any); len(l) != 1 {
				t.Fatalf("list-keys %v", l)
			}
			ok("kms", "update-key-description", "--key-id", keyID, "--description", "renamed")
			other := ok("kms", "create-key")["KeyMetadata"].(map[string]any)["KeyId"].(string)
			ok("kms", "update-alias", "--alias-name", "alias/app", "--target-key-id", other)
			if as := ok("kms", "list-aliases", "--key-id", other)["Aliases"].([]any); len(as) != 1 {
				t.Fatalf("list-aliases %v", as)
			}
			ok("kms", "delete-alias", "--alias-name", "alias/app")
			fails("NotFoundException", "kms", "describe-key", "--key-id", "alias/app")
			ok("kms", "create-alias", "--alias-name", "alias/x", "--target-key-id", keyID)
			fails("AlreadyExistsException", "kms", "create-alias", "--alias-name", "alias/x", "--target-key-id", other)
			// Blobs go in as files (fileb://), which both CLI majors read as raw bytes.
			ptFile := filepath.Join(t.TempDir(), "plaintext")
			os.WriteFile(ptFile, []byte("hello"), 0o600)
			enc := ok("kms", "encrypt", "--key-id", keyID, "--plaintext", "fileb://"+ptFile, "--encryption-context", "app=test")
			blob := enc["CiphertextBlob"].(string)
			blobFile := filepath.Join(t.TempDir(), "blob")
			raw, _ := base64.StdEncoding.DecodeString(blob)
			os.WriteFile(blobFile, raw, 0o600)
			dec := ok("kms", "decrypt", "--ciphertext-blob", "fileb://"+blobFile, "--encryption-context", "app=test")
			if pt, _ := base64.StdEncoding.DecodeString(dec["Plaintext"].(string)); string(pt) != "hello" {
				t.Fatalf("decrypt gave %q", pt)
			}
			fails("InvalidCiphertextException", "kms", "decrypt", "--ciphertext-blob", "fileb://"+blobFile, "--encryption-context", "app=other")
			re := ok("kms", "re-encrypt", "--ciphertext-blob", "fileb://"+blobFile, "--source-encryption-context", "app=test", "--destination-key-id", other)
			if !strings.HasSuffix(re["KeyId"].(string), other) {
				t.Fatalf("re-encrypt %v", re)
			}
			if dk := ok("kms", "generate-data-key", "--key-id", keyID, "--key-spec", "AES_256"); dk["Plaintext"] == nil || dk["CiphertextBlob"] == nil {
				t.Fatalf("generate-data-key %v", dk)
			}
			if dk := ok("kms", "generate-data-key-without-plaintext", "--key-id", keyID, "--number-of-bytes", "16"); dk["Plaintext"] != nil {
				t.Fatalf("generate-data-key-without-plaintext %v", dk)
			}
			fails("ValidationException", "kms", "generate-data-key", "--key-id", keyID)
			if r := ok("kms", "generate-random", "--number-of-bytes", "32"); r["Plaintext"] == nil {
				t.Fatalf("generate-random %v", r)
			}
			ok("kms", "enable-key-rotation", "--key-id", keyID, "--rotation-period-in-days", "180")
			if st := ok("kms", "get-key-rotation-status", "--key-id", keyID); st["KeyRotationEnabled"] != true || st["RotationPeriodInDays"] != float64(180) {
				t.Fatalf("get-key-rotation-status %v", st)
			}
			ok("kms", "rotate-key-on-demand", "--key-id", keyID)
			if rs := ok("kms", "list-key-rotations", "--key-id", keyID)["Rotations"].([]any); len(rs) != 1 {
				t.Fatalf("list-key-rotations %v", rs)
			}
			ok("kms", "disable-key-rotation", "--key-id", keyID)
			if tags := ok("kms", "list-resource-tags", "--key-id", keyID)["Tags"].([]any); len(tags) != 1 {
				t.Fatalf("list-resource-tags %v", tags)
			}
			ok("kms", "untag-resource", "--key-id", keyID, "--tag-keys", "coffer:allow-disable-in-use")
			fails("TagException", "kms", "tag-resource", "--key-id", keyID, "--tags", "TagKey=aws:x,TagValue=y")
			if pol := ok("kms", "get-key-policy", "--key-id", keyID, "--policy-name", "default"); !strings.Contains(pol["Policy"].(string), "kms:*") {
				t.Fatalf("get-key-policy %v", pol)
			}
			ok("kms", "put-key-policy", "--key-id", keyID, "--policy-name", "default", "--policy", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}`)
			fails("MalformedPolicyDocumentException", "kms", "put-key-policy", "--key-id", keyID, "--policy-name", "default", "--policy", "{")
			if names := ok("kms", "list-key-policies", "--key-id", keyID)["PolicyNames"].([]any); len(names) != 1 || names[0] != "default" {
				t.Fatalf("list-key-policies %v", names)
			}
			fails("KMSInvalidStateException", "kms", "schedule-key-deletion", "--key-id", keyID)
			ok("secretsmanager", "delete-secret", "--secret-id", "app/db", "--recovery-window-in-days", "7")
			sd := ok("kms", "schedule-key-deletion", "--key-id", keyID, "--pending-window-in-days", "7")
			if sd["KeyState"] != "PendingDeletion" {
				t.Fatalf("schedule-key-deletion %v", sd)
			}
			fails("KMSInvalidStateException", "kms", "encrypt", "--key-id", keyID, "--plaintext", "fileb://"+ptFile)
			ok("kms", "cancel-key-deletion", "--key-id", keyID)
			fails("DisabledException", "kms", "encrypt", "--key-id", keyID, "--plaintext", "fileb://"+ptFile)
			fails("ValidationException", "kms", "schedule-key-deletion", "--key-id", keyID, "--pending-window-in-days", "3")
			checkLogClean(t, p.out.String(), "s3cr3t-value")
		})
	}
}

// cofferCLI runs the coffer binary's client verbs with env against endpoint.
func cofferCLI(t *testing.T, env []string, endpoint string, args ...string) string {
	t.Helper()
	cmd := exec.Command(cofferBinary(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "COFFER_ENDPOINT=" + endpoint}, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("coffer %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func checkLogClean(t *testing.T, log, value string) {
	t.Helper()
	if strings.Contains(log, value) {
		t.Fatalf("the server log holds a secret value:\n%s", log)
	}
}
