package audit

import (
	"reflect"
	"testing"
)

var paramsSeeds = []string{
	`{"SecretId":"app/db"}`,
	` { "SecretId" : "app/db" , "VersionStage":"AWSCURRENT" } ` + "\n",
	`{}`,
	`{"MaxResults":20,"IncludePlannedDeletion":true,"SortOrder":null,"N":-1.5e+3}`,
	`{"SecretId":"app/db","SecretString":"{\"password\":\"hunter2\"}","ClientRequestToken":"a"}`,
	`{"SecretString":"s1","secretstring":"s2","SECRETSTRING":"s3"}`,
	`{"SecretBinary":"aGVsbG8=","SecretId":"x"}`,
	`{"ſecretString":"hunter2"}`,
	`{"SecretString":{"nested":"hunter2"}}`,
	`{"SecretString":"bad \q escape"}`,
	`{"SecretString":"\u00e9\ud83d\ude00"}`,
	`{"Name":"caf\u00e9"}`,
	`{"Tags":[{"Key":"k","Value":"v"}]}`,
	`{"VersionStages":["AWSCURRENT", "X"],"E":[ ],"F":["a",]}`,
	`{"VersionStages":["AWSCURRENT",1]}`,
	`{"ARN":"arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf","VersionStages":["AWSCURRENT"]}`,
	`{"SecretId":"a"} trailing`,
	`{"SecretId":"a",}`,
	`{"a":01}`,
	`{"a":1.}`,
	`{"a":truex}`,
	`{"a":"x","a":"y"}`,
	`[1,2]`,
	`"string"`,
	``,
	`{"a":"` + "\x01" + `"}`,
	`{"a":"é"}`,
}

// TestDecodeParams: DecodeParams reads what encoding/json reads, but for the members Redact
// always removes, which it leaves out.
func TestDecodeParams(t *testing.T) {
	for _, s := range paramsSeeds {
		checkDecodeParams(t, []byte(s))
	}
	// The flat reader takes the common bodies itself.
	for _, s := range []string{`{"SecretId":"app/db"}`, `{"SecretId":"x","SecretString":"{\"p\":\"h\"}"}`, `{"MaxResults":5}`, `{"VersionStages":["AWSCURRENT"],"E":[]}`} {
		if _, ok := decodeFlat([]byte(s)); !ok {
			t.Errorf("%s went to encoding/json", s)
		}
	}
	m := DecodeParams([]byte(`{"SecretId":"x","SecretString":"{\"p\":\"hunter2\"}","secretBINARY":"aGk="}`))
	if len(m) != 1 || m["SecretId"] != "x" {
		t.Errorf("DecodeParams kept %v", m)
	}
}

func FuzzDecodeParams(f *testing.F) {
	for _, s := range paramsSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecodeParams(t, body)
	})
}

func checkDecodeParams(t *testing.T, body []byte) {
	t.Helper()
	got := DecodeParams(body)
	want := decodeJSON(body)
	if (got == nil) != (want == nil) {
		t.Fatalf("%q: DecodeParams %v, encoding/json %v", body, got, want)
	}
	if got == nil {
		return
	}
	if flat, ok := decodeFlat(body); ok {
		for k := range flat {
			if alwaysRemoved[foldName(k)] {
				t.Fatalf("%q: the flat reader kept %q", body, k)
			}
		}
	}
	// Copied without reflection, what encoding/json made is copied as reflection copies it.
	if c, ok := copyPlain(want, 0); !ok || !reflect.DeepEqual(c, copyValue(reflect.ValueOf(want), 0)) {
		t.Fatalf("%q: copyPlain %v (%v), copyValue %v", body, c, ok, copyValue(reflect.ValueOf(want), 0))
	}
	// What Redact makes of each is the same.
	for _, op := range []string{"PutSecretValue", "GetSecretValue"} {
		r1, r2 := Redact("secretsmanager", op, got, true), Redact("secretsmanager", op, want, true)
		if !reflect.DeepEqual(r1, r2) {
			t.Fatalf("%q: redacted, DecodeParams gives %v, encoding/json %v", body, r1, r2)
		}
	}
}
