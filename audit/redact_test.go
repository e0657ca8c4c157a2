package audit

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestSensitiveTable(t *testing.T) {
	tests := []struct {
		service, op, dir string
		want             []string
	}{
		{"secretsmanager", "CreateSecret", "input", []string{"SecretString", "SecretBinary"}},
		{"secretsmanager", "PutSecretValue", "input", []string{"SecretString", "SecretBinary", "RotationToken"}},
		{"secretsmanager", "UpdateSecret", "input", []string{"SecretString", "SecretBinary"}},
		{"secretsmanager", "GetSecretValue", "output", []string{"SecretString", "SecretBinary"}},
		{"secretsmanager", "BatchGetSecretValue", "output", []string{"SecretValues[].SecretString", "SecretValues[].SecretBinary"}},
		{"secretsmanager", "GetRandomPassword", "output", []string{"RandomPassword"}},
		{"kms", "Encrypt", "input", []string{"Plaintext"}},
		{"kms", "Decrypt", "output", []string{"Plaintext"}},
		{"kms", "GenerateDataKey", "output", []string{"Plaintext"}},
		{"sts", "AssumeRole", "output", []string{"Credentials.SecretAccessKey"}},
		{"sts", "GetSessionToken", "output", []string{"Credentials.SecretAccessKey"}},
		{"iam", "CreateAccessKey", "output", []string{"AccessKey.SecretAccessKey"}},
	}
	for _, tt := range tests {
		got := sensitivePaths[tt.service][tt.op][tt.dir]
		for _, w := range tt.want {
			if !slices.Contains(got, w) {
				t.Errorf("sensitivePaths[%s][%s][%s] = %q, lacks %q", tt.service, tt.op, tt.dir, got, w)
			}
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		name, service, op string
		input             bool
		in, want          string
	}{{
		name: "CreateSecret", service: "secretsmanager", op: "CreateSecret", input: true,
		in: `{"Name":"db","SecretString":"hunter2","SecretBinary":"aGk=","Description":"d",
			"Tags":[{"Key":"k","Value":"v"}],"AddReplicaRegions":[{"Region":"eu-west-1"}]}`,
		want: `{"Name":"db","Description":"d","Tags":[{"Key":"k","Value":"v"}],"AddReplicaRegions":[{"Region":"eu-west-1"}]}`,
	}, {
		name: "PutSecretValue", service: "secretsmanager.amazonaws.com", op: "PutSecretValue", input: true,
		in:   `{"SecretId":"db","ClientRequestToken":"t","SecretString":"x","RotationToken":"r","VersionStages":["AWSCURRENT"]}`,
		want: `{"SecretId":"db","ClientRequestToken":"t","VersionStages":["AWSCURRENT"]}`,
	}, {
		name: "GetSecretValue", service: "secretsmanager", op: "GetSecretValue",
		in:   `{"ARN":"arn:x","Name":"db","VersionId":"v1","SecretString":"x","SecretBinary":"eA==","VersionStages":["AWSCURRENT"],"CreatedDate":1.5}`,
		want: `{"ARN":"arn:x","Name":"db","VersionId":"v1","VersionStages":["AWSCURRENT"],"CreatedDate":1.5}`,
	}, {
		name: "BatchGetSecretValue", service: "secretsmanager", op: "BatchGetSecretValue",
		in: `{"SecretValues":[{"ARN":"a1","SecretString":"x"},{"ARN":"a2","SecretBinary":"eA=="}],
			"Errors":[{"SecretId":"s3","ErrorCode":"ResourceNotFoundException"}],"NextToken":"n"}`,
		want: `{"SecretValues":[{"ARN":"a1"},{"ARN":"a2"}],"Errors":[{"SecretId":"s3","ErrorCode":"ResourceNotFoundException"}],"NextToken":"n"}`,
	}, {
		name: "GetRandomPassword", service: "secretsmanager", op: "GetRandomPassword",
		in: `{"RandomPassword":"pw"}`, want: `{}`,
	}, {
		name: "Encrypt", service: "kms", op: "Encrypt", input: true,
		in:   `{"KeyId":"alias/a","Plaintext":"cGxhaW4=","EncryptionContext":{"app":"x"}}`,
		want: `{"KeyId":"alias/a","EncryptionContext":{"app":"x"}}`,
	}, {
		name: "Decrypt", service: "kms", op: "Decrypt",
		in:   `{"KeyId":"arn:k","Plaintext":"cGxhaW4=","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}`,
		want: `{"KeyId":"arn:k","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}`,
	}, {
		name: "GenerateDataKey", service: "kms", op: "GenerateDataKey",
		in:   `{"KeyId":"arn:k","Plaintext":"cA==","CiphertextBlob":"Yw=="}`,
		want: `{"KeyId":"arn:k","CiphertextBlob":"Yw=="}`,
	}, {
		name: "AssumeRole", service: "sts", op: "AssumeRole",
		in: `{"Credentials":{"AccessKeyId":"ASIA1","SecretAccessKey":"s","SessionToken":"t","Expiration":"2026-01-01T00:00:00Z"},
			"AssumedRoleUser":{"Arn":"arn:r","AssumedRoleId":"AROA:x"},"PackedPolicySize":6}`,
		want: `{"Credentials":{"AccessKeyId":"ASIA1","Expiration":"2026-01-01T00:00:00Z"},
			"AssumedRoleUser":{"Arn":"arn:r","AssumedRoleId":"AROA:x"},"PackedPolicySize":6}`,
	}, {
		name: "GetSessionToken", service: "sts", op: "GetSessionToken",
		in:   `{"Credentials":{"AccessKeyId":"ASIA1","SecretAccessKey":"s","SessionToken":"t"}}`,
		want: `{"Credentials":{"AccessKeyId":"ASIA1"}}`,
	}, {
		name: "CreateAccessKey", service: "iam", op: "CreateAccessKey",
		in:   `{"AccessKey":{"UserName":"bob","AccessKeyId":"AKIA1","Status":"Active","SecretAccessKey":"s"}}`,
		want: `{"AccessKey":{"UserName":"bob","AccessKeyId":"AKIA1","Status":"Active"}}`,
	}, {
		name: "CreateLoginProfile", service: "iam", op: "CreateLoginProfile", input: true,
		in: `{"UserName":"bob","Password":"pw","PasswordResetRequired":true}`, want: `{"UserName":"bob","PasswordResetRequired":true}`,
	}, {
		name: "always removed, any depth and case", service: "coffer", op: "Unknown", input: true,
		in: `{"headers":{"authorization":"AWS4 sig","X-Amz-Security-Token":"t","x-amz-signature":"s","Host":"h"},
			"deep":[[{"plaintext":"p","secretString":"s","keep":1}]]}`,
		want: `{"headers":{"Host":"h"},"deep":[[{"keep":1}]]}`,
	}, {
		// encoding/json takes these members for SecretString, SecretBinary, RotationToken and
		// SessionToken: "ſ" is U+017F, a long s, and the "K" of RotationToKen U+212A, the
		// Kelvin sign.
		name: "names the decoders fold together", service: "secretsmanager", op: "PutSecretValue", input: true,
		in:   `{"SecretId":"db","ſecretString":"x","SECRETBINARY":"eA==","RotationToKen":"r","Nested":{"ſessionToken":"t","Keep":1}}`,
		want: `{"SecretId":"db","Nested":{"Keep":1}}`,
	}, {
		name: "GenerateSecretValue", service: "coffer", op: "GenerateSecretValue", input: true,
		in: `{"SecretId":"db","ClientRequestToken":"t","GenerateSecretString":{"SecretStringTemplate":"{\"user\":\"u\"}",
			"GenerateStringKey":"password","PasswordLength":32},"VersionStages":["AWSPENDING"]}`,
		want: `{"SecretId":"db","ClientRequestToken":"t","GenerateSecretString":{"GenerateStringKey":"password","PasswordLength":32},"VersionStages":["AWSPENDING"]}`,
	}, {
		name: "GenerateSecretValue, spelled otherwise", service: "coffer", op: "GenerateSecretValue", input: true,
		in:   `{"SecretId":"db","generateſecretstring":{"ſecretStringTemplate":"{}","secretstringtemplate":"{}","Keep":1}}`,
		want: `{"SecretId":"db","generateſecretstring":{"Keep":1}}`,
	}, {
		name: "unknown operation keeps the rest", service: "kms", op: "Nope", input: true,
		in: `{"KeyId":"k","Grants":[1,"a",null,true]}`, want: `{"KeyId":"k","Grants":[1,"a",null,true]}`,
	}, {
		name: "odd shapes", service: "secretsmanager", op: "BatchGetSecretValue",
		in: `{"SecretValues":"not a list","Other":[{"SecretValues":[{"ARN":"x"}]}]}`, want: `{"SecretValues":"not a list","Other":[{"SecretValues":[{"ARN":"x"}]}]}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := decode(t, tt.in)
			before := decode(t, tt.in)
			got := Redact(tt.service, tt.op, in, tt.input)
			if want := decode(t, tt.want); !reflect.DeepEqual(got, want) {
				t.Errorf("Redact = %v\nwant %v", got, want)
			}
			if !reflect.DeepEqual(in, before) {
				t.Errorf("Redact modified its argument: %v", in)
			}
		})
	}
}

// TestRedactMarker puts a marker in every member the table and the fixed
// list name, and checks that it appears nowhere in the encoded result.
func TestRedactMarker(t *testing.T) {
	const marker = "MARKER-d41d8cd98f00"
	check := func(service, op string, input bool, params map[string]any) {
		t.Helper()
		if before, _ := json.Marshal(params); !strings.Contains(string(before), marker) {
			t.Fatalf("%s %s: marker not planted: %s", service, op, before)
		}
		got := Redact(service, op, params, input)
		raw, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), marker) {
			t.Errorf("%s %s input=%v: marker survived: %s", service, op, input, raw)
		}
		if !strings.Contains(string(raw), `"Keep":"kept"`) {
			t.Errorf("%s %s input=%v: lost an ordinary member: %s", service, op, input, raw)
		}
	}
	n := 0
	for service, ops := range sensitivePaths {
		for op, dirs := range ops {
			for dir, paths := range dirs {
				for _, p := range paths {
					params := map[string]any{"Keep": "kept"}
					plant(params, p, marker)
					check(service, op, dir == "input", params)
					n++
				}
			}
		}
	}
	if n < 40 {
		t.Errorf("only %d sensitive paths in the table", n)
	}
	for op, dirs := range cofferPaths {
		for dir, paths := range dirs {
			for _, p := range paths {
				params := map[string]any{"Keep": "kept"}
				plant(params, p, marker)
				check("coffer", op, dir == "input", params)
			}
		}
	}
	for name := range alwaysRemoved {
		for _, key := range []string{name, strings.ToUpper(name)} {
			params := map[string]any{"Keep": "kept", key: marker,
				"Nested": []any{map[string]any{"x": map[string]any{key: marker}}}}
			check("coffer", "Seal", true, params)
		}
	}
}

// plant builds the containers a path walks through, two elements per list
// and map, and sets the member at its end to value.
func plant(m map[string]any, path, value string) {
	seg, rest, _ := strings.Cut(path, ".")
	name, walks := seg, ""
	if i := strings.IndexAny(seg, "[{"); i >= 0 {
		name, walks = seg[:i], seg[i:]
	}
	if rest == "" && walks == "" {
		m[name] = value
		return
	}
	var build func(walks string) any
	build = func(walks string) any {
		switch {
		case strings.HasPrefix(walks, "[]"):
			return []any{build(walks[2:]), build(walks[2:])}
		case strings.HasPrefix(walks, "{}"):
			return map[string]any{"a": build(walks[2:]), "b": build(walks[2:])}
		}
		if rest == "" {
			return value
		}
		leaf := map[string]any{"Keep": "kept"}
		plant(leaf, rest, value)
		return leaf
	}
	m[name] = build(walks)
}

func TestRedactOddInput(t *testing.T) {
	type creds struct {
		AccessKeyID     string
		SecretAccessKey string
	}
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	tests := []map[string]any{
		nil,
		{},
		{"a": nil, "b": []any(nil), "c": map[string]any(nil)},
		{"typed": map[string]string{"SecretString": "x", "ok": "y"}},
		{"slice": []map[string]any{{"SessionToken": "x"}}},
		{"struct": creds{"AKIA", "x"}, "ptr": &creds{"AKIA", "x"}},
		{"bytes": []byte("abc"), "arr": [2]int{1, 2}, "intmap": map[int]string{1: "x"}},
		{"func": func() {}, "chan": make(chan int), "complex": complex(1, 2)},
		cyclic,
	}
	for _, in := range tests {
		got := Redact("secretsmanager", "GetSecretValue", in, false)
		if in == nil && got != nil {
			t.Errorf("Redact(nil) = %v, want nil", got)
		}
		raw, err := json.Marshal(got)
		if err != nil {
			t.Errorf("json.Marshal(Redact(%v)): %v", in, err)
			continue
		}
		for _, k := range []string{`"SecretString"`, `"SessionToken"`, `"SecretAccessKey"`} {
			if strings.Contains(string(raw), k) {
				t.Errorf("Redact left %s in %s", k, raw)
			}
		}
	}
	b := []byte("abc")
	got := Redact("kms", "Encrypt", map[string]any{"CiphertextBlob": b}, true)
	got["CiphertextBlob"].([]byte)[0] = 'X'
	if string(b) != "abc" {
		t.Errorf("Redact shares byte slices with its argument")
	}
}

func FuzzRedact(f *testing.F) {
	f.Add("secretsmanager", "BatchGetSecretValue", false, `{"SecretValues":[{"ARN":"a","SecretString":"x"}]}`)
	f.Add("sts", "AssumeRole", false, `{"Credentials":{"SessionToken":"t","SecretAccessKey":"s"}}`)
	f.Add("kms", "Encrypt", true, `{"Plaintext":"p","x":[[[{"plaintext":1}]]]}`)
	f.Add("iam", "CreateAccessKey", false, `{"AccessKey":[1,2,{"SecretAccessKey":null}]}`)
	f.Fuzz(func(t *testing.T, service, op string, input bool, doc string) {
		var params map[string]any
		if json.Unmarshal([]byte(doc), &params) != nil {
			return
		}
		got := Redact(service, op, params, input)
		var check func(v any)
		check = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, e := range v {
					switch k {
					case "SecretString", "SessionToken", "SecretAccessKey", "Plaintext":
						t.Fatalf("Redact left %q in %v", k, got)
					}
					check(e)
				}
			case []any:
				for _, e := range v {
					check(e)
				}
			}
		}
		check(got)
	})
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return m
}
