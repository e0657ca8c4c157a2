package audit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"
)

func TestCategory(t *testing.T) {
	tests := []struct {
		source, name, want string
	}{
		{SourceSecretsManager, "GetSecretValue", "secrets.get_value"},
		{SourceSecretsManager, "WatchSecrets", "secrets.read"},
		{SourceSecretsManager, "BatchGetSecretValue", "secrets.get_value"},
		{SourceSecretsManager, "PutSecretValue", "secrets.put_value"},
		{SourceSecretsManager, "DeleteSecret", "secrets.delete"},
		{SourceSecretsManager, "CreateSecret", "secrets.create"},
		{SourceSecretsManager, "DestroySecretVersion", "secrets.destroy_version"},
		{SourceSecretsManager, "UpdateSecretVersionRetention", "secrets.update"},
		{SourceSecretsManager, "GenerateSecretValue", "secrets.put_value"},
		{SourceSecretsManager, "TagResource", "secrets.tag"},
		{SourceKMS, "Encrypt", "kms.encrypt"},
		{SourceKMS, "Decrypt", "kms.decrypt"},
		{SourceKMS, "ReEncrypt", "kms.re_encrypt"},
		{SourceKMS, "GenerateDataKeyWithoutPlaintext", "kms.generate_data_key"},
		{SourceKMS, "TagResource", "kms.tag"},
		{SourceKMS, "ListKeyBindings", "kms.read"},
		{SourceKMS, "ListUnusableKeyBindings", "kms.read"},
		{SourceIAM, "CreateAccessKey", "iam.create_access_key"},
		{SourceIAM, "ListMFADevices", "iam.list_mfa_devices"},
		{SourceIAM, "CreateAccount", "iam.create_account"},
		{SourceCoffer, "CreateAccount", "iam.create_account"},
		{SourceCoffer, "Seal", "server.seal"},
		{SourceCoffer, "Unseal", "server.unseal"},
		{SourceSTS, "AssumeRole", "sts.assume_role"},
		{SourceSTS, "GetCallerIdentity", "sts.read"},
		{SourceSTS, "GetSessionToken", "sts.session_token"},
		{"sso.amazonaws.com", "GetRoleCredentials", "sso.get_role_credentials"},
	}
	for _, tt := range tests {
		if got := Category(tt.source, tt.name); got != tt.want {
			t.Errorf("Category(%q, %q) = %q, want %q", tt.source, tt.name, got, tt.want)
		}
	}
}

func TestReadOnly(t *testing.T) {
	tests := []struct {
		source, name string
		want         bool
	}{
		{SourceSecretsManager, "GetSecretValue", true},
		{SourceSecretsManager, "BatchGetSecretValue", true},
		{SourceSecretsManager, "ListSecrets", true},
		{SourceSecretsManager, "DescribeSecret", true},
		{SourceSecretsManager, "ValidateResourcePolicy", true},
		{SourceSecretsManager, "PutSecretValue", false},
		{SourceSecretsManager, "DeleteSecret", false},
		{SourceSecretsManager, "DestroySecretVersion", false},
		{SourceKMS, "Encrypt", true},
		{SourceKMS, "Decrypt", true},
		{SourceKMS, "ListKeyBindings", true},
		{SourceKMS, "GetPublicKey", true},
		{SourceIAM, "SimulatePrincipalPolicy", true},
		{SourceIAM, "CreateUser", false},
		{SourceSTS, "GetCallerIdentity", true},
		{SourceSTS, "AssumeRole", false},
		{SourceCoffer, "Seal", false},
		{SourceCoffer, "Getaway", false},
		{SourceCoffer, "Listen", false},
		{SourceSecretsManager, "WatchSecrets", true},
		{SourceCoffer, "Watchdog", false},
	}
	for _, tt := range tests {
		if got := ReadOnly(tt.source, tt.name); got != tt.want {
			t.Errorf("ReadOnly(%q, %q) = %v, want %v", tt.source, tt.name, got, tt.want)
		}
	}
}

func TestSnakeCase(t *testing.T) {
	tests := map[string]string{
		"CreateAccessKey":    "create_access_key",
		"ListMFADevices":     "list_mfa_devices",
		"AssumeRoleWithSAML": "assume_role_with_saml",
		"GetSAMLProvider":    "get_saml_provider",
		"ReEncrypt":          "re_encrypt",
		"Seal":               "seal",
		"":                   "",
	}
	for in, want := range tests {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCategoryCoversModels checks that every operation the models name gets
// a well-formed category under its own service, and that the explicit
// tables name no operation the models lack.
func TestCategoryCoversModels(t *testing.T) {
	ops := modelOperations(t)
	if ops == nil {
		return
	}
	sources := map[string]string{
		"secretsmanager": SourceSecretsManager, "kms": SourceKMS, "iam": SourceIAM, "sts": SourceSTS,
	}
	prefixes := map[string]string{"secretsmanager": "secrets", "kms": "kms", "iam": "iam", "sts": "sts"}
	wellFormed := regexp.MustCompile(`^[a-z]+\.[a-z0-9_]+$`)
	for svc, names := range ops {
		for _, op := range names {
			c := Category(sources[svc], op)
			if !wellFormed.MatchString(c) || c[:len(prefixes[svc])+1] != prefixes[svc]+"." {
				t.Errorf("Category(%s, %s) = %q", svc, op, c)
			}
		}
	}
	for prefix, table := range categories {
		svc := map[string]string{"secrets": "secretsmanager", "kms": "kms", "sts": "sts"}[prefix]
		known := map[string]bool{}
		for _, op := range ops[svc] {
			known[op] = true
		}
		for op := range table {
			if !known[op] {
				t.Errorf("categories[%q] names %q, which the %s model lacks", prefix, op, svc)
			}
		}
		if len(table) != len(ops[svc]) {
			t.Errorf("categories[%q] has %d entries, model %s has %d operations", prefix, len(table), svc, len(ops[svc]))
		}
	}
}

// modelsDir is where the botocore models live, relative to this package.
var modelsDir = filepath.Join("..", "..", "shared", "aws-models")

// skipWithoutModels skips (and on CI fails) a test that needs the models.
func skipWithoutModels(t *testing.T) bool {
	t.Helper()
	if _, err := os.Stat(modelsDir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but the AWS models are missing: %v", err)
		}
		t.Skipf("AWS models not found at %s (%v); skipping", modelsDir, err)
		return true
	}
	return false
}

func modelOperations(t *testing.T) map[string][]string {
	t.Helper()
	if skipWithoutModels(t) {
		return nil
	}
	ops := map[string][]string{}
	for _, svc := range []string{"secretsmanager", "kms", "iam", "sts"} {
		raw, err := os.ReadFile(filepath.Join(modelsDir, svc+".service-2.json"))
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Operations map[string]json.RawMessage `json:"operations"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		for op := range m.Operations {
			ops[svc] = append(ops[svc], op)
		}
		sort.Strings(ops[svc])
		if len(ops[svc]) == 0 {
			t.Fatalf("%s model has no operations", svc)
		}
	}
	return ops
}
