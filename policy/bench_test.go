package policy

import "testing"

// BenchmarkDecide is the authorization of one GetSecretValue by an IAM user whose policies
// are the common shapes (AWS's read-only managed policy for secrets, an inline policy with a
// resource pattern and a condition), against a secret with a resource policy: the decision
// every such call pays.
func BenchmarkDecide(b *testing.B) {
	managed := mustParseB(b, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["secretsmanager:GetSecretValue","secretsmanager:DescribeSecret","secretsmanager:ListSecretVersionIds"],"Resource":"*"}]}`)
	inline := mustParseB(b, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:*","Resource":"arn:aws:secretsmanager:*:111122223333:secret:app/*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"app"}}},{"Effect":"Deny","Action":"secretsmanager:DeleteSecret","Resource":"*"}]}`)
	resource := mustParseB(b, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`)
	in := &Input{
		Request:  &Request{Action: getValue, Resource: secretX, Principal: bob},
		Identity: []*Policy{managed, inline}, Resource: resource, ResourceAccount: acct,
	}
	if r := Decide(in); r.Decision != Allow {
		b.Fatalf("Decide: %+v", r)
	}
	b.ReportAllocs()
	for b.Loop() {
		Decide(in)
	}
}

func mustParseB(b *testing.B, doc string) *Policy {
	p, err := Parse(doc)
	if err != nil {
		b.Fatal(err)
	}
	return p
}
