package core

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/coffer-project/coffer"
)

func ptr[T any](v T) *T { return &v }

func TestGeneratePassword(t *testing.T) {
	// Without a template the value is a bare password, and the password members apply.
	got, err := Generate(seeded(3), &GenerateSecretString{PasswordLength: ptr(int64(20)), ExcludePunctuation: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 20 || strings.ContainsAny(string(got), punctuationChars) {
		t.Fatalf("got %d characters, or punctuation", len(got))
	}
	got, err = Generate(seeded(3), &GenerateSecretString{})
	if err != nil || len(got) != DefaultPasswordLength {
		t.Fatalf("default: %d characters, %v", len(got), err)
	}
}

func TestGenerateTemplate(t *testing.T) {
	tests := []struct {
		name, template, key string
		wantPrefix          string // the template as it appears before the added member
	}{
		{"CloudFormation's example", `{"username": "saanvi"}`, "password", `{"username":"saanvi","password":`},
		{"empty object", " {\n} ", "password", `{"password":`},
		{"nested and ordered", `{"z":1,"a":{"password":"inner"},"m":[1,2.50,"x"]}`, "password", `{"z":1,"a":{"password":"inner"},"m":[1,2.50,"x"],"password":`},
		{"key needing escapes", `{"u":"<&>"}`, "pass\"word<&>", `{"u":"<&>","pass\"word<&>":`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every punctuation character, so the escaping of " and \ is exercised.
			g := &GenerateSecretString{SecretStringTemplate: &tt.template, GenerateStringKey: &tt.key, PasswordLength: ptr(int64(200)), ExcludeUppercase: ptr(true), ExcludeLowercase: ptr(true), ExcludeNumbers: ptr(true)}
			out, err := Generate(seeded(byte(i)), g)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(out), tt.wantPrefix) {
				t.Fatalf("got %.80s…, want prefix %s", out, tt.wantPrefix)
			}
			var m map[string]any
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			pw, _ := m[tt.key].(string)
			if len(pw) != 200 || strings.Trim(pw, punctuationChars) != "" {
				t.Fatalf("the %q member is %d characters, not punctuation only", tt.key, len(pw))
			}
			var tm map[string]any
			if err := json.Unmarshal([]byte(tt.template), &tm); err != nil {
				t.Fatal(err)
			}
			delete(m, tt.key)
			a, _ := json.Marshal(m)
			b, _ := json.Marshal(tm)
			if string(a) != string(b) {
				t.Fatalf("the rest of the value changed: %s, want %s", a, b)
			}
		})
	}
}

func TestGenerateErrors(t *testing.T) {
	s := func(v string) *string { return &v }
	pair := coffer.Errorf(coffer.ErrInvalidParameter, msgTemplateKeyPair)
	notObject := coffer.Errorf(coffer.ErrInvalidParameter, "SecretStringTemplate must be a JSON object.")
	tests := []struct {
		name string
		g    GenerateSecretString
		want *coffer.Error
	}{
		{"key without template", GenerateSecretString{GenerateStringKey: s("password")}, pair},
		{"template without key", GenerateSecretString{SecretStringTemplate: s(`{"username":"a"}`)}, pair},
		{"array", GenerateSecretString{SecretStringTemplate: s(`[1]`), GenerateStringKey: s("p")}, notObject},
		{"string", GenerateSecretString{SecretStringTemplate: s(`"x"`), GenerateStringKey: s("p")}, notObject},
		{"null", GenerateSecretString{SecretStringTemplate: s(`null`), GenerateStringKey: s("p")}, notObject},
		{"empty", GenerateSecretString{SecretStringTemplate: s(``), GenerateStringKey: s("p")}, notObject},
		{"not JSON", GenerateSecretString{SecretStringTemplate: s(`{"a":}`), GenerateStringKey: s("p")}, notObject},
		{"two objects", GenerateSecretString{SecretStringTemplate: s(`{} {}`), GenerateStringKey: s("p")}, notObject},
		{"key present", GenerateSecretString{SecretStringTemplate: s(`{"user":"a","password":"old"}`), GenerateStringKey: s("password")},
			coffer.Errorf(coffer.ErrInvalidParameter, "SecretStringTemplate already has a member named password, the GenerateStringKey.")},
		{"key present, escaped", GenerateSecretString{SecretStringTemplate: s(`{"pass\u0077ord":"old"}`), GenerateStringKey: s("password")},
			coffer.Errorf(coffer.ErrInvalidParameter, "SecretStringTemplate already has a member named password, the GenerateStringKey.")},
		{"empty key", GenerateSecretString{SecretStringTemplate: s(`{}`), GenerateStringKey: s("")},
			coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value '' at 'generateSecretString.generateStringKey' failed to satisfy constraint: Member must have length greater than or equal to 1")},
		{"length", GenerateSecretString{PasswordLength: ptr(int64(0))},
			coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value '0' at 'generateSecretString.passwordLength' failed to satisfy constraint: Member must have value greater than or equal to 1")},
		{"template too long, value withheld", GenerateSecretString{SecretStringTemplate: s(`{"k":"` + strings.Repeat("s", 65536) + `"}`), GenerateStringKey: s("p")},
			coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value at 'generateSecretString.secretStringTemplate' failed to satisfy constraint: Member must have length less than or equal to 65536")},
		{"value too long", GenerateSecretString{SecretStringTemplate: s(`{"k":"` + strings.Repeat("s", 65000) + `"}`), GenerateStringKey: s("p"), PasswordLength: ptr(int64(1000)), ExcludePunctuation: ptr(true)},
			coffer.Errorf(coffer.ErrInvalidParameter, "The generated secret string is 66015 bytes long; a SecretString holds at most 65536.")},
		{"impossible password", GenerateSecretString{PasswordLength: ptr(int64(2))}, coffer.Errorf(coffer.ErrInvalidParameter, msgPasswordTooShort)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Generate(seeded(4), &tt.g)
			e := coffer.AsError(err)
			if e == nil || e.Code != tt.want.Code || e.Message != tt.want.Message {
				t.Fatalf("got %v (%d bytes)\nwant %v", err, len(out), tt.want)
			}
		})
	}
}

func TestGenerateValueLimit(t *testing.T) {
	// A value of exactly 65536 bytes is allowed: the template, a comma, "p":, and a quoted
	// 1000-character password without quotes or backslashes.
	pad := 65536 - len(`{"k":"","p":""}`) - 1000
	tmpl := `{"k":"` + strings.Repeat("s", pad) + `"}`
	out, err := Generate(seeded(5), &GenerateSecretString{SecretStringTemplate: &tmpl, GenerateStringKey: ptr("p"), PasswordLength: ptr(int64(1000)), ExcludePunctuation: ptr(true)})
	if err != nil || len(out) != 65536 || cap(out) != 65536 {
		t.Fatalf("%d bytes (cap %d), %v", len(out), cap(out), err)
	}
}
