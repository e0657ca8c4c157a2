package policy

import (
	"errors"
	"testing"
)

// FuzzParse checks that no document makes Parse, Validate or IsPublic panic, and that Parse
// and Validate agree on which documents are malformed.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`,
		`{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["111122223333"]},"NotAction":"s3:*","Condition":{"ForAnyValue:StringLike":{"aws:PrincipalOrgID":["o-*"]},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}`,
		`{"Version":1,"Statement":[[],{},null,true]}`,
		`{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":1}}}}}}}}}}}}}}}}}}`,
		`{"Effect":"Allow","Effect":"Deny"}`,
		"", "{", "[", `"x"`, "\xff", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"*"}} x`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		p, err := Parse(doc)
		fs := Validate(doc)
		malformed := false
		for _, f := range fs {
			if f.Malformed && f.Code != CodeMissingPrincipal {
				malformed = true
			}
			if f.Code == "" || f.Message == "" {
				t.Fatalf("empty finding %+v", f)
			}
		}
		var pe *Error
		if errors.As(err, &pe) != malformed {
			t.Fatalf("Parse error %v but Validate findings %+v", err, fs)
		}
		if err == nil {
			if p == nil {
				t.Fatal("nil policy without error")
			}
			IsPublic(p)
		}
	})
}
