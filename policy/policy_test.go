package policy

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParseNormalises(t *testing.T) {
	doc := `{
	  "Version": "2012-10-17",
	  "Id": "policy-1",
	  "Statement": {
	    "Sid": "one",
	    "Effect": "Allow",
	    "Principal": {"AWS": ["arn:aws:iam::111122223333:root", "444455556666"], "Service": "lambda.amazonaws.com"},
	    "Action": "secretsmanager:GetSecretValue",
	    "Resource": ["*"],
	    "Condition": {
	      "StringEquals": {"aws:SourceAccount": "111122223333"},
	      "Bool": {"aws:SecureTransport": true},
	      "NumericLessThan": {"secretsmanager:RecoveryWindowInDays": [10, 20]}
	    }
	  }
	}`
	got, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := &Policy{
		Version: "2012-10-17",
		ID:      "policy-1",
		Statements: []Statement{{
			Sid:       "one",
			Effect:    "Allow",
			Principal: &Principal{AWS: []string{"arn:aws:iam::111122223333:root", "444455556666"}, Service: []string{"lambda.amazonaws.com"}},
			Action:    []string{"secretsmanager:GetSecretValue"},
			Resource:  []string{"*"},
			Condition: Condition{
				"StringEquals":    {"aws:SourceAccount": {"111122223333"}},
				"Bool":            {"aws:SecureTransport": {"true"}},
				"NumericLessThan": {"secretsmanager:RecoveryWindowInDays": {"10", "20"}},
			},
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %#v\nwant %#v", got, want)
	}
}

func TestParseStatementList(t *testing.T) {
	got, err := Parse(`{"Statement":[{"Effect":"Deny","NotPrincipal":"*","NotAction":["s3:*"],"NotResource":"x"},{"Effect":"Allow","Principal":"*","Action":"*"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Statements) != 2 || got.Version != "" {
		t.Fatalf("%+v", got)
	}
	s := got.Statements[0]
	if !s.NotPrincipal.Wildcard || s.Principal != nil || s.Action != nil || fmt.Sprint(s.NotAction) != "[s3:*]" || fmt.Sprint(s.NotResource) != "[x]" || s.Resource != nil || s.Condition != nil {
		t.Fatalf("%+v", s)
	}
}

func codes(fs []Finding) string {
	var c []string
	for _, f := range fs {
		c = append(c, f.Code)
	}
	return strings.Join(c, ",")
}

func TestValidate(t *testing.T) {
	const allow = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":%s,"Resource":"*"}]}`
	stmt := func(body string) string { return `{"Version":"2012-10-17","Statement":[` + body + `]}` }
	tests := []struct {
		name, doc, want string
		malformed       bool
	}{
		{"valid", fmt.Sprintf(allow, `"secretsmanager:GetSecretValue"`), "", false},
		{"wildcards", fmt.Sprintf(allow, `["secretsmanager:Get*","secretsmanager:*","*","secretsmanager:describe?ecret","kms:Decrypt"]`), "", false},
		{"2008 version", `{"Version":"2008-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"*"}}`, "", false},
		{"invalid JSON", `{"Version":`, "JSON_SYNTAX_ERROR", true},
		{"trailing data", fmt.Sprintf(allow, `"*"`) + "{}", "JSON_SYNTAX_ERROR", true},
		{"duplicate key", stmt(`{"Effect":"Deny","Effect":"Allow","Principal":"*","Action":"*"}`), "JSON_SYNTAX_ERROR", true},
		{"not an object", `["Statement"]`, "DATA_TYPE_MISMATCH", true},
		{"unsupported version", `{"Version":"2019-10-19","Statement":{"Effect":"Allow","Principal":"*","Action":"*"}}`, "INVALID_VERSION", true},
		{"unknown element", `{"Versoin":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"*"}}`, "INVALID_POLICY_ELEMENT", true},
		{"no statement", `{"Version":"2012-10-17"}`, "MISSING_STATEMENT", true},
		{"empty statement list", `{"Version":"2012-10-17","Statement":[]}`, "MISSING_STATEMENT", true},
		{"unknown effect", stmt(`{"Effect":"AllowSomething","Principal":"*","Action":"*"}`), "INVALID_EFFECT", true},
		{"missing effect", stmt(`{"Principal":"*","Action":"*"}`), "MISSING_EFFECT", true},
		{"missing action", stmt(`{"Effect":"Allow","Principal":"*","Resource":"*"}`), "MISSING_ACTION", true},
		{"empty action", stmt(`{"Effect":"Allow","Principal":"*","Action":[]}`), "MISSING_ACTION", true},
		{"action and notaction", stmt(`{"Effect":"Allow","Principal":"*","Action":"*","NotAction":"s3:*"}`), "UNSUPPORTED_ELEMENT_COMBINATION", true},
		{"principal and notprincipal", stmt(`{"Effect":"Deny","Principal":"*","NotPrincipal":{"AWS":"111122223333"},"Action":"*"}`), "UNSUPPORTED_ELEMENT_COMBINATION", true},
		{"missing principal", stmt(`{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}`), "MISSING_PRINCIPAL", true},
		{"action without service", fmt.Sprintf(allow, `"GetSecretValue"`), "INVALID_ACTION_FORMAT", true},
		{"action with two colons", fmt.Sprintf(allow, `"secretsmanager:Get:SecretValue"`), "INVALID_ACTION_FORMAT", true},
		{"upper-case service", fmt.Sprintf(allow, `"SecretsManager:GetSecretValue"`), "INVALID_ACTION_FORMAT", true},
		{"unknown secretsmanager action", fmt.Sprintf(allow, `"secretsmanager:GetSecret"`), "INVALID_ACTION", false},
		{"wildcard matching nothing", fmt.Sprintf(allow, `"secretsmanager:Frob*"`), "INVALID_ACTION", false},
		{"action is a number", fmt.Sprintf(allow, `5`), "DATA_TYPE_MISMATCH,MISSING_ACTION", true},
		{"bare principal ARN", stmt(`{"Effect":"Allow","Principal":"arn:aws:iam::111122223333:root","Action":"*"}`), "INVALID_PRINCIPAL_FORMAT", true},
		{"bad principal key", stmt(`{"Effect":"Allow","Principal":{"Users":"x"},"Action":"*"}`), "INVALID_PRINCIPAL_KEY", true},
		{"bad AWS principal", stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::*:root"},"Action":"*"}`), "INVALID_PRINCIPAL_FORMAT", true},
		{"bad service principal", stmt(`{"Effect":"Allow","Principal":{"Service":"lambda"},"Action":"*"}`), "INVALID_SERVICE_PRINCIPAL_FORMAT", true},
		{"unknown operator", stmt(`{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEqual":{"aws:SourceAccount":"111122223333"}}}`), "INVALID_CONDITION_OPERATOR", true},
		{"null if exists", stmt(`{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"NullIfExists":{"aws:SourceAccount":"true"}}}`), "INVALID_CONDITION_OPERATOR", true},
		{"condition key format", stmt(`{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"SourceAccount":"111122223333"}}}`), "INVALID_CONDITION_KEY_FORMAT", true},
		{"condition value object", stmt(`{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"aws:SourceAccount":{"a":"b"}}}}`), "DATA_TYPE_MISMATCH", true},
		{"broad access", stmt(`{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}`), "BROAD_ACCESS", false},
		{"lockout", stmt(`{"Effect":"Deny","Principal":"*","Action":"secretsmanager:*","Resource":"*"}`), "LOCKOUT", false},
		{"deny with condition is no lockout", stmt(`{"Effect":"Deny","Principal":"*","Action":"secretsmanager:*","Condition":{"StringNotEquals":{"aws:PrincipalAccount":"111122223333"}}}`), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := Validate(tt.doc)
			if got := codes(fs); got != tt.want {
				t.Fatalf("findings %q (%+v), want %q", got, fs, tt.want)
			}
			_, err := Parse(tt.doc)
			var pe *Error
			if gotMalformed := errors.As(err, &pe); gotMalformed != (tt.malformed && tt.want != "MISSING_PRINCIPAL") {
				t.Fatalf("Parse error %v, want malformed=%v", err, tt.malformed)
			}
			for _, f := range fs {
				if f.Malformed != tt.malformed || f.Message == "" {
					t.Fatalf("finding %+v, want malformed=%v", f, tt.malformed)
				}
			}
		})
	}
}

func TestFindingMessages(t *testing.T) {
	fs := Validate("{\n  \"Version\": 1,\n  \"Statement\": [\n    {\"Effect\": \"Allow\" \"x\"}\n  ]\n}")
	if len(fs) != 1 || fs[0].Message != "Fix the JSON syntax error at index 58 line 4 column 24." {
		t.Fatalf("%+v", fs)
	}
	fs = Validate(`{"Statement":{"Effect":"Maybe","Principal":"*","Action":"*"}}`)
	if len(fs) != 1 || fs[0].Message != `The effect "Maybe" is not valid. Use Allow or Deny.` || fs[0].Statement != 0 {
		t.Fatalf("%+v", fs)
	}
	long := strings.Repeat("x", 500)
	fs = Validate(`{"Statement":{"Effect":"` + long + `","Principal":"*","Action":"*"}}`)
	if len(fs) != 1 || strings.Contains(fs[0].Message, strings.Repeat("x", 65)) {
		t.Fatalf("finding echoes too much: %+v", fs)
	}
}

func TestIsPublic(t *testing.T) {
	stmt := func(principal, cond string) string {
		s := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` + principal + `,"Action":"secretsmanager:GetSecretValue","Resource":"*"`
		if cond != "" {
			s += `,"Condition":` + cond
		}
		return s + `}]}`
	}
	tests := []struct {
		name, doc string
		want      bool
	}{
		{"star", stmt(`"Principal":"*"`, ""), true},
		{"AWS star", stmt(`"Principal":{"AWS":"*"}`, ""), true},
		{"star in list", stmt(`"Principal":{"AWS":["111122223333","*"]}`, ""), true},
		{"not principal", stmt(`"NotPrincipal":{"AWS":"111122223333"}`, ""), true},
		{"account", stmt(`"Principal":{"AWS":"111122223333"}`, ""), false},
		{"service", stmt(`"Principal":{"Service":"lambda.amazonaws.com"}`, ""), false},
		{"deny star", `{"Statement":{"Effect":"Deny","Principal":"*","Action":"*"}}`, false},
		{"source account", stmt(`"Principal":"*"`, `{"StringEquals":{"aws:SourceAccount":"111122223333"}}`), false},
		{"key case ignored", stmt(`"Principal":"*"`, `{"StringEquals":{"AWS:sourceaccount":"111122223333"}}`), false},
		{"principal account", stmt(`"Principal":"*"`, `{"StringEquals":{"aws:PrincipalAccount":["111122223333","444455556666"]}}`), false},
		{"org id", stmt(`"Principal":"*"`, `{"StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}`), false},
		{"any value org id", stmt(`"Principal":"*"`, `{"ForAnyValue:StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}`), false},
		{"source vpce", stmt(`"Principal":"*"`, `{"StringEquals":{"aws:SourceVpce":"vpce-1a2b3c4d"}}`), false},
		{"source vpc", stmt(`"Principal":"*"`, `{"StringEqualsIgnoreCase":{"aws:SourceVpc":"vpc-111bbb22"}}`), false},
		{"source arn", stmt(`"Principal":"*"`, `{"ArnEquals":{"aws:SourceArn":"arn:aws:lambda:us-east-1:111122223333:function:f"}}`), false},
		{"source arn like resource wildcard", stmt(`"Principal":"*"`, `{"ArnLike":{"aws:SourceArn":"arn:aws:lambda:us-east-1:111122223333:function:*"}}`), false},
		{"source arn any account", stmt(`"Principal":"*"`, `{"ArnLike":{"aws:SourceArn":"arn:aws:lambda:us-east-1:*:function:f"}}`), true},
		{"principal arn", stmt(`"Principal":"*"`, `{"StringEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/app"}}`), false},
		{"source ip", stmt(`"Principal":"*"`, `{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","198.51.100.7"]}}`), false},
		{"source ip everything", stmt(`"Principal":"*"`, `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`), true},
		{"source ip too wide", stmt(`"Principal":"*"`, `{"IpAddress":{"aws:SourceIp":"10.0.0.0/7"}}`), true},
		{"source ip v6", stmt(`"Principal":"*"`, `{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`), false},
		{"not ip address", stmt(`"Principal":"*"`, `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`), true},
		{"wildcard account", stmt(`"Principal":"*"`, `{"StringLike":{"aws:SourceAccount":"1111*"}}`), true},
		{"like without wildcard", stmt(`"Principal":"*"`, `{"StringLike":{"aws:SourceAccount":"111122223333"}}`), false},
		{"not equals", stmt(`"Principal":"*"`, `{"StringNotEquals":{"aws:SourceAccount":"111122223333"}}`), true},
		{"if exists", stmt(`"Principal":"*"`, `{"StringEqualsIfExists":{"aws:SourceAccount":"111122223333"}}`), true},
		{"for all values", stmt(`"Principal":"*"`, `{"ForAllValues:StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}`), true},
		{"variable", stmt(`"Principal":"*"`, `{"StringEquals":{"aws:SourceAccount":"${aws:PrincipalAccount}"}}`), true},
		{"empty value", stmt(`"Principal":"*"`, `{"StringEquals":{"aws:SourceAccount":[]}}`), true},
		{"unrelated key", stmt(`"Principal":"*"`, `{"Bool":{"aws:SecureTransport":"true"}}`), true},
		{"unrelated key and pin", stmt(`"Principal":"*"`, `{"Bool":{"aws:SecureTransport":"true"},"StringEquals":{"aws:SourceAccount":"111122223333"}}`), false},
		{"one public statement is enough", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"*"},{"Effect":"Allow","Principal":"*","Action":"*"}]}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.doc)
			if err != nil {
				t.Fatal(err)
			}
			if got := IsPublic(p); got != tt.want {
				t.Fatalf("IsPublic = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true}, {"*", "abc", true}, {"a*c", "abbbc", true}, {"a*c", "abcd", false},
		{"a?c", "abc", true}, {"a?c", "ac", false}, {"*Secret*", "GetSecretValue", true},
		{"Get*Value", "GetSecretValue", true}, {"", "", true}, {"", "a", false}, {"é?", "éé", true},
		{"*", "*0", true}, {"a*", "a*b", true}, {"*b", "**b", true}, {"?*", "*", true},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.s); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
	if !MatchAction("SECRETSMANAGER:getsecret*", "secretsmanager:GetSecretValue") {
		t.Error("MatchAction is case-sensitive")
	}
}

func TestParseOperator(t *testing.T) {
	o, ok := ParseOperator("ForAnyValue:StringLikeIfExists")
	if !ok || o != (Operator{Set: "ForAnyValue", Base: "StringLike", IfExists: true}) {
		t.Fatalf("%+v %v", o, ok)
	}
	for _, bad := range []string{"", "StringEqual", "ForSomeValues:StringEquals", "NullIfExists", "IfExists"} {
		if _, ok := ParseOperator(bad); ok {
			t.Errorf("ParseOperator(%q) accepted", bad)
		}
	}
}
