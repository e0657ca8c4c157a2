package policy

import (
	"errors"
	"strings"
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

// FuzzEvaluate checks that no parsed document and request make Evaluate or Decide panic, and
// that a statement denying everything, added to the document, always decides.
func FuzzEvaluate(f *testing.F) {
	f.Add(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:secretsmanager:*:${aws:PrincipalAccount}:secret:${aws:username, 'x'}-*","Condition":{"ForAnyValue:StringLike":{"aws:TagKeys":"a*"}}}}`,
		"secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:111122223333:secret:bob-AbCdEf", "aws:TagKeys", "abc", uint8(0))
	f.Add(`{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"111122223333"},"NotAction":"kms:*","NotResource":"a?${*}","Condition":{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","::1"]},"DateLessThanIfExists":{"aws:CurrentTime":"2020-01-01"}}}]}`,
		"kms:Decrypt", "*", "aws:SourceIp", "10.1.2.3", uint8(1))
	f.Add(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/a/b"},"Action":"*","Condition":{"ArnLike":{"aws:SourceArn":"arn:*:${aws:x}:::"},"Null":{"aws:x":"true"},"BinaryEquals":{"s:b":"AA=="},"NumericLessThan":{"s:n":"1e3"},"Bool":{"s:b":"true"}}}}`,
		"iam:CreateUser", "arn:aws:iam::111122223333:user/x", "s:b", "AA==", uint8(2))
	f.Fuzz(func(t *testing.T, doc, action, resource, key, value string, who uint8) {
		p, err := Parse(doc)
		if err != nil {
			return
		}
		principals := []PrincipalInfo{
			{ARN: "arn:aws:iam::111122223333:user/bob", Account: "111122223333", Type: PrincipalUser, Username: "bob", Tags: map[string]string{key: value}},
			{ARN: "arn:aws:sts::111122223333:assumed-role/a/" + value, Account: "111122223333", Type: PrincipalAssumedRole, UserID: value},
			{ARN: "arn:aws:iam::444455556666:root", Account: "444455556666", Type: PrincipalAccount},
			{ARN: value, Type: PrincipalService},
			{ARN: value, Account: key},
		}
		req := &Request{Action: action, Resource: resource, Principal: principals[int(who)%len(principals)],
			Keys: map[string][]string{key: {value}, "aws:TagKeys": {value, key}}}
		for _, kind := range []Kind{IdentityPolicy, ResourcePolicy, SessionPolicy} {
			p.Evaluate(req, kind)
		}
		in := &Input{Request: req, Identity: []*Policy{p}, Session: []*Policy{p}, Boundary: p, Resource: p,
			ResourceAccount: "111122223333", KeyPolicyGate: who&8 != 0}
		if r := Decide(in); r.Decision != Allow && !strings.Contains(r.Message(req.Principal.ARN, action, resource), " is not authorized to perform: ") {
			t.Fatalf("message of %+v", r)
		}

		deny := func(principal string) *Policy {
			q := *p
			d, err := Parse(`{"Statement":{"Effect":"Deny",` + principal + `"Action":"*","Resource":"*"}}`)
			if err != nil {
				t.Fatal(err)
			}
			q.Statements = append(append([]Statement{}, p.Statements...), d.Statements...)
			return &q
		}
		withDeny, withDenyAll := deny(""), deny(`"Principal":"*",`)
		for _, kind := range []Kind{IdentityPolicy, SessionPolicy} {
			if got := withDeny.Evaluate(req, kind); got != Deny {
				t.Fatalf("kind %d with a Deny statement: %s", kind, got)
			}
		}
		if got := withDenyAll.Evaluate(req, ResourcePolicy); got != Deny {
			t.Fatalf("resource policy with a Deny statement: %s", got)
		}
		in.Identity = []*Policy{p, withDeny}
		if got := Decide(in); got.Decision != Deny {
			t.Fatalf("Decide with a Deny statement: %+v", got)
		}
	})
}
