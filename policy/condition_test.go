package policy

import (
	"testing"
)

// allowIf returns a policy allowing everything under one condition element.
func allowIf(t *testing.T, cond string) *Policy {
	t.Helper()
	p, err := Parse(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":` + cond + `}}`)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func reqKeys(kv ...string) map[string][]string {
	m := map[string][]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = append(m[kv[i]], kv[i+1])
	}
	return m
}

func TestConditionOperators(t *testing.T) {
	tests := []struct {
		name, cond string
		keys       map[string][]string
		want       bool
	}{
		// String
		{"StringEquals match", `{"StringEquals":{"aws:PrincipalTag/team":"blue"}}`, reqKeys("aws:PrincipalTag/team", "blue"), true},
		{"StringEquals case differs", `{"StringEquals":{"aws:PrincipalTag/team":"blue"}}`, reqKeys("aws:PrincipalTag/team", "Blue"), false},
		{"StringEquals key name case ignored", `{"StringEquals":{"AWS:PRINCIPALTAG/TEAM":"blue"}}`, reqKeys("aws:principaltag/team", "blue"), true},
		{"StringEquals values OR", `{"StringEquals":{"s:k":["a","b"]}}`, reqKeys("s:k", "b"), true},
		{"StringEquals no wildcard", `{"StringEquals":{"s:k":"a*"}}`, reqKeys("s:k", "abc"), false},
		{"StringEquals missing", `{"StringEquals":{"s:k":"a"}}`, nil, false},
		{"StringNotEquals match", `{"StringNotEquals":{"s:k":"a"}}`, reqKeys("s:k", "b"), true},
		{"StringNotEquals equal", `{"StringNotEquals":{"s:k":["a","b"]}}`, reqKeys("s:k", "b"), false},
		{"StringNotEquals missing", `{"StringNotEquals":{"s:k":"a"}}`, nil, true},
		{"StringEqualsIgnoreCase", `{"StringEqualsIgnoreCase":{"s:k":"Blue"}}`, reqKeys("s:k", "bLUE"), true},
		{"StringEqualsIgnoreCase differs", `{"StringEqualsIgnoreCase":{"s:k":"Blue"}}`, reqKeys("s:k", "blu"), false},
		{"StringNotEqualsIgnoreCase", `{"StringNotEqualsIgnoreCase":{"s:k":"Blue"}}`, reqKeys("s:k", "BLUE"), false},
		{"StringNotEqualsIgnoreCase other", `{"StringNotEqualsIgnoreCase":{"s:k":"Blue"}}`, reqKeys("s:k", "red"), true},
		{"StringLike star", `{"StringLike":{"s:k":"prod/*"}}`, reqKeys("s:k", "prod/db/x"), true},
		{"StringLike question", `{"StringLike":{"s:k":"v?"}}`, reqKeys("s:k", "v1"), true},
		{"StringLike question one char", `{"StringLike":{"s:k":"v?"}}`, reqKeys("s:k", "v12"), false},
		{"StringLike case-sensitive", `{"StringLike":{"s:k":"prod/*"}}`, reqKeys("s:k", "Prod/x"), false},
		{"StringNotLike", `{"StringNotLike":{"s:k":"prod/*"}}`, reqKeys("s:k", "dev/x"), true},
		{"StringNotLike matching", `{"StringNotLike":{"s:k":"prod/*"}}`, reqKeys("s:k", "prod/x"), false},
		{"StringNotLike missing", `{"StringNotLike":{"s:k":"prod/*"}}`, nil, true},
		// Numeric
		{"NumericEquals", `{"NumericEquals":{"s:n":"10"}}`, reqKeys("s:n", "10.0"), true},
		{"NumericEquals differs", `{"NumericEquals":{"s:n":10}}`, reqKeys("s:n", "11"), false},
		{"NumericEquals not a number", `{"NumericEquals":{"s:n":10}}`, reqKeys("s:n", "ten"), false},
		{"NumericNotEquals", `{"NumericNotEquals":{"s:n":10}}`, reqKeys("s:n", "11"), true},
		{"NumericNotEquals equal", `{"NumericNotEquals":{"s:n":10}}`, reqKeys("s:n", "10"), false},
		{"NumericLessThan", `{"NumericLessThan":{"s:n":10}}`, reqKeys("s:n", "9.5"), true},
		{"NumericLessThan equal", `{"NumericLessThan":{"s:n":10}}`, reqKeys("s:n", "10"), false},
		{"NumericLessThanEquals", `{"NumericLessThanEquals":{"s:n":10}}`, reqKeys("s:n", "10"), true},
		{"NumericLessThanEquals above", `{"NumericLessThanEquals":{"s:n":10}}`, reqKeys("s:n", "11"), false},
		{"NumericGreaterThan", `{"NumericGreaterThan":{"s:n":10}}`, reqKeys("s:n", "11"), true},
		{"NumericGreaterThan equal", `{"NumericGreaterThan":{"s:n":10}}`, reqKeys("s:n", "10"), false},
		{"NumericGreaterThanEquals", `{"NumericGreaterThanEquals":{"s:n":-1}}`, reqKeys("s:n", "-1"), true},
		{"NumericGreaterThanEquals below", `{"NumericGreaterThanEquals":{"s:n":-1}}`, reqKeys("s:n", "-2"), false},
		{"Numeric missing", `{"NumericLessThan":{"s:n":10}}`, nil, false},
		// Date
		{"DateEquals ISO and epoch", `{"DateEquals":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}`, reqKeys("aws:CurrentTime", "1577836800"), true},
		{"DateEquals zone", `{"DateEquals":{"aws:CurrentTime":"2020-01-01T01:00:00+01:00"}}`, reqKeys("aws:CurrentTime", "2020-01-01T00:00:00Z"), true},
		{"DateEquals date only", `{"DateEquals":{"aws:CurrentTime":"2020-01-01"}}`, reqKeys("aws:CurrentTime", "2020-01-01T00:00:00.000Z"), true},
		{"DateEquals differs", `{"DateEquals":{"aws:CurrentTime":"2020-01-01"}}`, reqKeys("aws:CurrentTime", "2020-01-02"), false},
		{"DateNotEquals", `{"DateNotEquals":{"aws:CurrentTime":"2020-01-01"}}`, reqKeys("aws:CurrentTime", "2020-01-02"), true},
		{"DateNotEquals equal", `{"DateNotEquals":{"aws:CurrentTime":"2020-01-01"}}`, reqKeys("aws:CurrentTime", "2020-01-01"), false},
		{"DateLessThan", `{"DateLessThan":{"aws:CurrentTime":"2020-06-30T00:00:00Z"}}`, reqKeys("aws:CurrentTime", "2020-06-29T23:59:59Z"), true},
		{"DateLessThan after", `{"DateLessThan":{"aws:CurrentTime":"2020-06-30T00:00:00Z"}}`, reqKeys("aws:CurrentTime", "2020-06-30T00:00:00Z"), false},
		{"DateLessThanEquals", `{"DateLessThanEquals":{"aws:CurrentTime":"2020-06-30T00:00:00Z"}}`, reqKeys("aws:CurrentTime", "2020-06-30T00:00:00Z"), true},
		{"DateLessThanEquals after", `{"DateLessThanEquals":{"aws:CurrentTime":"2020-06-30T00:00:00Z"}}`, reqKeys("aws:CurrentTime", "2020-06-30T00:00:01Z"), false},
		{"DateGreaterThan epoch", `{"DateGreaterThan":{"aws:EpochTime":1577836800}}`, reqKeys("aws:EpochTime", "1577836801"), true},
		{"DateGreaterThan before", `{"DateGreaterThan":{"aws:EpochTime":1577836800}}`, reqKeys("aws:EpochTime", "1577836800"), false},
		{"DateGreaterThanEquals", `{"DateGreaterThanEquals":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}`, reqKeys("aws:CurrentTime", "2020-01-01T00:00:00Z"), true},
		{"DateGreaterThanEquals before", `{"DateGreaterThanEquals":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}`, reqKeys("aws:CurrentTime", "2019-12-31T23:59:59Z"), false},
		{"Date not a date", `{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}`, reqKeys("aws:CurrentTime", "tomorrow"), false},
		// Bool
		{"Bool true", `{"Bool":{"aws:SecureTransport":"true"}}`, reqKeys("aws:SecureTransport", "true"), true},
		{"Bool json literal", `{"Bool":{"aws:SecureTransport":true}}`, reqKeys("aws:SecureTransport", "TRUE"), true},
		{"Bool false", `{"Bool":{"aws:SecureTransport":"false"}}`, reqKeys("aws:SecureTransport", "true"), false},
		{"Bool missing", `{"Bool":{"aws:SecureTransport":"false"}}`, nil, false},
		{"BoolIfExists missing", `{"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}}`, nil, true},
		{"BoolIfExists present false", `{"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}}`, reqKeys("aws:MultiFactorAuthPresent", "false"), false},
		// Binary
		{"BinaryEquals", `{"BinaryEquals":{"s:b":"QmluYXJ5VmFsdWU="}}`, reqKeys("s:b", "QmluYXJ5VmFsdWU="), true},
		{"BinaryEquals differs", `{"BinaryEquals":{"s:b":"QmluYXJ5VmFsdWU="}}`, reqKeys("s:b", "QmluYXJ5"), false},
		{"BinaryEquals not base64", `{"BinaryEquals":{"s:b":"QmluYXJ5VmFsdWU="}}`, reqKeys("s:b", "BinaryValue"), false},
		// IP
		{"IpAddress v4 range", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, reqKeys("aws:SourceIp", "203.0.113.7"), true},
		{"IpAddress v4 outside", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, reqKeys("aws:SourceIp", "203.0.114.7"), false},
		{"IpAddress single", `{"IpAddress":{"aws:SourceIp":"198.51.100.7"}}`, reqKeys("aws:SourceIp", "198.51.100.7"), true},
		{"IpAddress v6", `{"IpAddress":{"aws:SourceIp":"2001:db8:1234::/48"}}`, reqKeys("aws:SourceIp", "2001:db8:1234:5::1"), true},
		{"IpAddress v6 outside", `{"IpAddress":{"aws:SourceIp":"2001:db8:1234::/48"}}`, reqKeys("aws:SourceIp", "2001:db8:1235::1"), false},
		{"IpAddress mapped v4", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, reqKeys("aws:SourceIp", "::ffff:10.1.2.3"), true},
		{"IpAddress v4 range, v6 caller", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, reqKeys("aws:SourceIp", "2001:db8::1"), false},
		{"IpAddress not an address", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, reqKeys("aws:SourceIp", "vpce-1"), false},
		{"NotIpAddress outside", `{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24"]}}`, reqKeys("aws:SourceIp", "198.51.100.1"), true},
		{"NotIpAddress inside", `{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24"]}}`, reqKeys("aws:SourceIp", "203.0.113.1"), false},
		{"NotIpAddress missing", `{"NotIpAddress":{"aws:SourceIp":"192.0.2.0/24"}}`, nil, true},
		// ARN
		{"ArnEquals", `{"ArnEquals":{"aws:SourceArn":"arn:aws:lambda:us-east-1:111122223333:function:f"}}`, reqKeys("aws:SourceArn", "arn:aws:lambda:us-east-1:111122223333:function:f"), true},
		{"ArnEquals differs", `{"ArnEquals":{"aws:SourceArn":"arn:aws:lambda:us-east-1:111122223333:function:f"}}`, reqKeys("aws:SourceArn", "arn:aws:lambda:us-east-1:111122223333:function:g"), false},
		{"ArnLike region wildcard", `{"ArnLike":{"aws:SourceArn":"arn:aws:lambda:*:111122223333:function:*"}}`, reqKeys("aws:SourceArn", "arn:aws:lambda:eu-west-1:111122223333:function:f:prod"), true},
		{"ArnLike star stays in its part", `{"ArnLike":{"aws:SourceArn":"arn:aws:*:111122223333:function:f"}}`, reqKeys("aws:SourceArn", "arn:aws:lambda:us-east-1:111122223333:function:f"), false},
		{"ArnLike question", `{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::bucket-?"}}`, reqKeys("aws:SourceArn", "arn:aws:s3:::bucket-1"), true},
		{"ArnLike case-sensitive", `{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::Bucket"}}`, reqKeys("aws:SourceArn", "arn:aws:s3:::bucket"), false},
		{"ArnLike not an ARN", `{"ArnLike":{"aws:SourceArn":"*"}}`, reqKeys("aws:SourceArn", "bucket"), false},
		{"ArnNotEquals", `{"ArnNotEquals":{"aws:SourceArn":"arn:aws:s3:::a"}}`, reqKeys("aws:SourceArn", "arn:aws:s3:::b"), true},
		{"ArnNotLike matching", `{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin-*"}}`, reqKeys("aws:PrincipalArn", "arn:aws:iam::111122223333:role/admin-x"), false},
		{"ArnNotLike missing", `{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin-*"}}`, nil, true},
		// Null
		{"Null true missing", `{"Null":{"aws:TokenIssueTime":"true"}}`, nil, true},
		{"Null true present", `{"Null":{"aws:TokenIssueTime":"true"}}`, reqKeys("aws:TokenIssueTime", "x"), false},
		{"Null false present", `{"Null":{"aws:TokenIssueTime":false}}`, reqKeys("aws:TokenIssueTime", "x"), true},
		{"Null false missing", `{"Null":{"aws:TokenIssueTime":false}}`, nil, false},
		{"Null empty list is missing", `{"Null":{"aws:TagKeys":"true"}}`, map[string][]string{"aws:TagKeys": {}}, true},
		// IfExists
		{"StringEqualsIfExists missing", `{"StringEqualsIfExists":{"s:k":"a"}}`, nil, true},
		{"StringEqualsIfExists present", `{"StringEqualsIfExists":{"s:k":"a"}}`, reqKeys("s:k", "b"), false},
		{"StringNotEqualsIfExists missing", `{"StringNotEqualsIfExists":{"s:k":"a"}}`, nil, true},
		{"StringNotEqualsIfExists present equal", `{"StringNotEqualsIfExists":{"s:k":"a"}}`, reqKeys("s:k", "a"), false},
		{"NumericLessThanIfExists missing", `{"NumericLessThanIfExists":{"s:n":1}}`, nil, true},
		{"IpAddressIfExists present", `{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}`, reqKeys("aws:SourceIp", "10.9.9.9"), true},
		// AND and OR
		{"keys AND", `{"StringEquals":{"s:a":"1","s:b":"2"}}`, reqKeys("s:a", "1", "s:b", "3"), false},
		{"operators AND", `{"StringEquals":{"s:a":"1"},"NumericLessThan":{"s:b":"3"}}`, reqKeys("s:a", "1", "s:b", "2"), true},
		{"operators AND one fails", `{"StringEquals":{"s:a":"1"},"NumericLessThan":{"s:b":"3"}}`, reqKeys("s:a", "1", "s:b", "4"), false},
		{"empty condition", `{}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := allowIf(t, tt.cond)
			got := p.Evaluate(&Request{Action: "s:A", Resource: "*", Keys: tt.keys}, IdentityPolicy)
			if want := map[bool]Effect{true: Allow, false: NotApplicable}[tt.want]; got != want {
				t.Fatalf("got %s, want %s", got, want)
			}
		})
	}
}

func TestSetOperators(t *testing.T) {
	tags := func(v ...string) map[string][]string {
		return map[string][]string{"aws:TagKeys": v}
	}
	tests := []struct {
		name, cond string
		keys       map[string][]string
		want       bool
	}{
		{"ForAllValues subset", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}`, tags("env"), true},
		{"ForAllValues all", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}`, tags("team", "env"), true},
		{"ForAllValues extra", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}`, tags("env", "cost"), false},
		{"ForAllValues empty", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env"]}}`, tags(), true},
		{"ForAllValues missing", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env"]}}`, nil, true},
		{"ForAllValues like", `{"ForAllValues:StringLike":{"aws:TagKeys":["app-*"]}}`, tags("app-a", "app-b"), true},
		{"ForAllValues negated", `{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}`, tags("a", "b"), true},
		{"ForAllValues negated one listed", `{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}`, tags("a", "secret"), false},
		{"ForAnyValue one", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["env","team"]}}`, tags("cost", "team"), true},
		{"ForAnyValue none", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["env","team"]}}`, tags("cost"), false},
		{"ForAnyValue empty", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["env"]}}`, tags(), false},
		{"ForAnyValue missing", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["env"]}}`, nil, false},
		{"ForAnyValue missing negated", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env"]}}`, nil, false},
		{"ForAnyValue IfExists missing", `{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":["env"]}}`, nil, true},
		{"ForAnyValue negated", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env"]}}`, tags("env", "x"), true},
		{"ForAnyValue negated all listed", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env"]}}`, tags("env"), false},
		{"ForAnyValue like ignore case", `{"ForAnyValue:StringEqualsIgnoreCase":{"aws:TagKeys":["ENV"]}}`, tags("env"), true},
		{"no set operator, several values", `{"StringEquals":{"aws:TagKeys":"env"}}`, tags("x", "env"), true},
		{"no set operator negated, several values", `{"StringNotEquals":{"aws:TagKeys":"env"}}`, tags("x", "env"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := allowIf(t, tt.cond).Evaluate(&Request{Action: "s:A", Resource: "*", Keys: tt.keys}, IdentityPolicy)
			if (got == Allow) != tt.want {
				t.Fatalf("got %s, want allow=%v", got, tt.want)
			}
		})
	}
}

func TestVariables(t *testing.T) {
	bob := PrincipalInfo{ARN: "arn:aws:iam::111122223333:user/bob", Account: "111122223333", Type: PrincipalUser,
		UserID: "AIDAEXAMPLE", Username: "bob", Tags: map[string]string{"Team": "blue"}}
	role := PrincipalInfo{ARN: "arn:aws:sts::111122223333:assumed-role/app/s1", Account: "111122223333", Type: PrincipalAssumedRole, UserID: "AROAEXAMPLE:s1"}
	const secret = "arn:aws:secretsmanager:us-east-1:111122223333:secret:"
	tests := []struct {
		name, version, resource, cond string
		who                           PrincipalInfo
		keys                          map[string][]string
		target                        string
		want                          bool
	}{
		{"username in resource", "2012-10-17", secret + "home/${aws:username}/*", "", bob, nil, secret + "home/bob/db-AbCdEf", true},
		{"username other home", "2012-10-17", secret + "home/${aws:username}/*", "", bob, nil, secret + "home/alice/db-AbCdEf", false},
		{"no username for a role", "2012-10-17", secret + "home/${aws:username}/*", "", role, nil, secret + "home//db", false},
		{"default", "2012-10-17", secret + "home/${aws:username, 'shared'}/*", "", role, nil, secret + "home/shared/db", true},
		{"default with spaces", "2012-10-17", secret + "${aws:PrincipalTag/dept,'none'}-*", "", bob, nil, secret + "none-x", true},
		{"userid", "2012-10-17", secret + "${aws:userid}", "", role, nil, secret + "AROAEXAMPLE:s1", true},
		{"principal tag, case of tag key ignored", "2012-10-17", secret + "${aws:PrincipalTag/team}/*", "", bob, nil, secret + "blue/x", true},
		{"key from request", "2012-10-17", secret + "${aws:SourceIp}", "", bob, reqKeys("aws:SourceIp", "10.1.2.3"), secret + "10.1.2.3", true},
		{"escape star is literal", "2012-10-17", secret + "a${*}b", "", bob, nil, secret + "a*b", true},
		{"escape star is no wildcard", "2012-10-17", secret + "a${*}b", "", bob, nil, secret + "axxb", false},
		{"escape question and dollar", "2012-10-17", secret + "${?}${$}", "", bob, nil, secret + "?$", true},
		{"substituted value is literal", "2012-10-17", secret + "${aws:PrincipalTag/p}", "", PrincipalInfo{Type: PrincipalUser, Tags: map[string]string{"p": "*"}}, nil, secret + "x", false},
		{"unclosed is text", "2012-10-17", secret + "${aws:username", "", bob, nil, secret + "${aws:username", true},
		{"2008 does not substitute", "2008-10-17", secret + "${aws:username}", "", bob, nil, secret + "bob", false},
		{"2008 literal", "2008-10-17", secret + "${aws:username}", "", bob, nil, secret + "${aws:username}", true},
		{"condition variable", "2012-10-17", "*", `{"StringEquals":{"aws:ResourceTag/owner":"${aws:username}"}}`, bob, reqKeys("aws:ResourceTag/owner", "bob"), secret + "x", true},
		{"condition variable mismatch", "2012-10-17", "*", `{"StringEquals":{"aws:ResourceTag/owner":"${aws:username}"}}`, bob, reqKeys("aws:ResourceTag/owner", "alice"), secret + "x", false},
		{"condition variable missing", "2012-10-17", "*", `{"StringEquals":{"aws:ResourceTag/owner":"${aws:username}"}}`, role, reqKeys("aws:ResourceTag/owner", ""), secret + "x", false},
		{"condition arn variable", "2012-10-17", "*", `{"ArnLike":{"aws:SourceArn":"arn:aws:iam::${aws:PrincipalAccount}:*"}}`, bob, reqKeys("aws:SourceArn", "arn:aws:iam::111122223333:role/x"), secret + "x", true},
		{"condition like variable and star", "2012-10-17", "*", `{"StringLike":{"s:path":"${aws:username}/*"}}`, bob, reqKeys("s:path", "bob/a/b"), secret + "x", true},
		{"condition like escape literal", "2012-10-17", "*", `{"StringLike":{"s:k":"a${*}"}}`, bob, reqKeys("s:k", "a*"), secret + "x", true},
		{"condition like escape no wildcard", "2012-10-17", "*", `{"StringLike":{"s:k":"a${*}"}}`, bob, reqKeys("s:k", "ab"), secret + "x", false},
		{"condition negated variable missing", "2012-10-17", "*", `{"StringNotEquals":{"aws:ResourceTag/owner":"${aws:username}"}}`, role, reqKeys("aws:ResourceTag/owner", "bob"), secret + "x", true},
		{"bad default is no default", "2012-10-17", secret + "${aws:username, shared}", "", role, nil, secret + "shared", false},
		{"multi-valued key is no variable", "2012-10-17", secret + "${aws:TagKeys}", "", bob, reqKeys("aws:TagKeys", "a", "aws:TagKeys", "b"), secret + "a", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := `{"Version":"` + tt.version + `","Statement":{"Effect":"Allow","Action":"*","Resource":"` + tt.resource + `"`
			if tt.cond != "" {
				doc += `,"Condition":` + tt.cond
			}
			p, err := Parse(doc + `}}`)
			if err != nil {
				t.Fatal(err)
			}
			got := p.Evaluate(&Request{Action: "secretsmanager:GetSecretValue", Resource: tt.target, Principal: tt.who, Keys: tt.keys}, IdentityPolicy)
			if (got == Allow) != tt.want {
				t.Fatalf("got %s, want allow=%v", got, tt.want)
			}
		})
	}
}

func TestRequestValues(t *testing.T) {
	r := &Request{
		Principal: PrincipalInfo{ARN: "arn:aws:sts::111122223333:assumed-role/app/s1", Account: "111122223333", Type: PrincipalAssumedRole,
			UserID: "AROA:s1", Tags: map[string]string{"Team": "blue"}},
		Keys: map[string][]string{"aws:SourceIp": {"10.0.0.1"}, "AWS:PrincipalAccount": {"444455556666"}},
	}
	tests := []struct{ key, want string }{
		{"aws:sourceip", "[10.0.0.1]"},
		{"aws:PrincipalAccount", "[444455556666]"}, // Keys win
		{"aws:PrincipalArn", "[arn:aws:iam::111122223333:role/app]"},
		{"aws:PrincipalType", "[AssumedRole]"},
		{"aws:principaltag/TEAM", "[blue]"},
		{"aws:username", "[]"},
		{"aws:userid", "[AROA:s1]"},
		{"aws:PrincipalIsAWSService", "[false]"},
		{"aws:PrincipalServiceName", "[]"},
	}
	for _, tt := range tests {
		if got := fmtList(r.Values(tt.key)); got != tt.want {
			t.Errorf("Values(%q) = %s, want %s", tt.key, got, tt.want)
		}
	}
	svc := &Request{Principal: PrincipalInfo{ARN: "lambda.amazonaws.com", Type: PrincipalService}}
	if got := fmtList(svc.Values("aws:PrincipalServiceName")); got != "[lambda.amazonaws.com]" {
		t.Errorf("service name %s", got)
	}
	if got := fmtList(svc.Values("aws:PrincipalArn")); got != "[]" {
		t.Errorf("service arn %s", got)
	}
}

func fmtList(v []string) string {
	s := "["
	for i, x := range v {
		if i > 0 {
			s += " "
		}
		s += x
	}
	return s + "]"
}
