package policy

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestDecide(t *testing.T) {
	p := func(doc string) *Policy { return mustParse(t, doc) }
	allowAll := p(stmts(`{"Effect":"Allow","Action":"*","Resource":"*"}`))
	allowGet := p(stmts(`{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}`))
	allowKMS := p(stmts(`{"Effect":"Allow","Action":"kms:*","Resource":"*"}`))
	denyGet := p(stmts(`{"Effect":"Deny","Action":"secretsmanager:GetSecretValue","Resource":"*"}`))
	allowList := p(stmts(`{"Effect":"Allow","Action":"secretsmanager:ListSecrets","Resource":"*"}`))
	resTo := func(principal, action string) *Policy {
		return p(stmts(`{"Effect":"Allow","Principal":{"AWS":"` + principal + `"},"Action":"` + action + `","Resource":"*"}`))
	}
	resDeny := p(stmts(`{"Effect":"Deny","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}`))
	resStar := p(stmts(`{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}`))
	resService := p(stmts(`{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"*","Resource":"*"}`))

	tests := []struct {
		name   string
		in     Input
		action string
		who    PrincipalInfo
		want   Reason
	}{
		// same account
		{"identity allows", Input{Identity: []*Policy{allowList, allowGet}}, getValue, bob, Allowed},
		{"nothing allows", Input{Identity: []*Policy{allowList}}, getValue, bob, NoIdentityAllow},
		{"no policies", Input{}, getValue, bob, NoIdentityAllow},
		{"resource names user", Input{Resource: resTo(bob.ARN, getValue)}, getValue, bob, Allowed},
		{"resource names account delegates", Input{Resource: resTo("arn:aws:iam::111122223333:root", "*")}, getValue, bob, NoIdentityAllow},
		{"resource names account, identity allows", Input{Identity: []*Policy{allowGet}, Resource: resTo(acct, "*")}, getValue, bob, Allowed},
		{"resource star", Input{Resource: resStar}, getValue, bob, Allowed},
		{"identity deny beats resource allow", Input{Identity: []*Policy{denyGet}, Resource: resTo(bob.ARN, "*")}, getValue, bob, ExplicitDenyIdentity},
		{"resource deny beats identity allow", Input{Identity: []*Policy{allowAll}, Resource: resDeny}, getValue, bob, ExplicitDenyResource},
		{"deny in any identity policy", Input{Identity: []*Policy{allowAll, denyGet}}, getValue, bob, ExplicitDenyIdentity},
		// boundaries
		{"boundary allows", Input{Identity: []*Policy{allowAll}, Boundary: allowGet}, getValue, bob, Allowed},
		{"boundary does not allow", Input{Identity: []*Policy{allowAll}, Boundary: allowList}, getValue, bob, NoBoundaryAllow},
		{"boundary alone grants nothing", Input{Identity: []*Policy{allowList}, Boundary: allowAll}, getValue, bob, NoIdentityAllow},
		{"boundary deny", Input{Identity: []*Policy{allowAll}, Boundary: p(stmts(`{"Effect":"Allow","Action":"*","Resource":"*"}`, `{"Effect":"Deny","Action":"secretsmanager:Get*","Resource":"*"}`))}, getValue, bob, ExplicitDenyBoundary},
		{"boundary does not limit a grant to the user ARN", Input{Boundary: allowList, Resource: resTo(bob.ARN, "*")}, getValue, bob, Allowed},
		{"boundary limits a grant to the role", Input{Boundary: allowList, Resource: resTo("arn:aws:iam::111122223333:role/app", "*")}, getValue, appSession, NoBoundaryAllow},
		{"boundary does not limit a grant to the session", Input{Boundary: allowList, Resource: resTo(appSession.ARN, "*")}, getValue, appSession, Allowed},
		{"boundary deny limits a grant to the user ARN", Input{Boundary: denyGet, Resource: resTo(bob.ARN, "*")}, getValue, bob, ExplicitDenyBoundary},
		// sessions
		{"session allows", Input{Identity: []*Policy{allowAll}, Session: []*Policy{allowGet}}, getValue, appSession, Allowed},
		{"either session policy", Input{Identity: []*Policy{allowAll}, Session: []*Policy{allowList, allowGet}}, getValue, appSession, Allowed},
		{"session does not allow", Input{Identity: []*Policy{allowAll}, Session: []*Policy{allowList}}, getValue, appSession, NoSessionAllow},
		{"session alone grants nothing", Input{Identity: []*Policy{allowList}, Session: []*Policy{allowAll}}, getValue, appSession, NoIdentityAllow},
		{"session deny", Input{Identity: []*Policy{allowAll}, Session: []*Policy{allowAll, denyGet}}, getValue, appSession, ExplicitDenySession},
		{"session limits a grant to the role", Input{Session: []*Policy{allowList}, Resource: resTo("arn:aws:iam::111122223333:role/app", "*")}, getValue, appSession, NoSessionAllow},
		{"session allows a grant to the role", Input{Session: []*Policy{allowGet}, Resource: resTo("arn:aws:iam::111122223333:role/app", "*")}, getValue, appSession, Allowed},
		{"session does not limit a grant to the session", Input{Session: []*Policy{allowList}, Resource: resTo(appSession.ARN, "*")}, getValue, appSession, Allowed},
		{"boundary before session", Input{Identity: []*Policy{allowAll}, Session: []*Policy{allowList}, Boundary: allowList}, getValue, appSession, NoBoundaryAllow},
		// root and services
		{"root needs no identity policy", Input{}, getValue, rootUser, Allowed},
		{"root and resource deny", Input{Resource: resDeny}, getValue, rootUser, ExplicitDenyResource},
		{"service via resource policy", Input{Resource: resService}, getValue, lambda, Allowed},
		{"service without resource policy", Input{Identity: []*Policy{allowAll}}, getValue, lambda, NoResourceAllow},
		{"service and account grant", Input{Resource: resTo(acct, "*")}, getValue, lambda, NoResourceAllow},
		// cross account
		{"cross account both allow", Input{Identity: []*Policy{allowGet}, Resource: resTo(other, "*")}, getValue, carol, Allowed},
		{"cross account user ARN both allow", Input{Identity: []*Policy{allowGet}, Resource: resTo(carol.ARN, "*")}, getValue, carol, Allowed},
		{"cross account no resource policy", Input{Identity: []*Policy{allowGet}}, getValue, carol, NoResourceAllow},
		{"cross account resource names another account", Input{Identity: []*Policy{allowGet}, Resource: resTo(acct, "*")}, getValue, carol, NoResourceAllow},
		{"cross account resource alone", Input{Resource: resTo(carol.ARN, "*")}, getValue, carol, NoIdentityAllow},
		{"cross account boundary", Input{Identity: []*Policy{allowGet}, Boundary: allowList, Resource: resTo(carol.ARN, "*")}, getValue, carol, NoBoundaryAllow},
		{"cross account resource deny", Input{Identity: []*Policy{allowGet}, Resource: p(stmts(`{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"*","Resource":"*"}`, `{"Effect":"Deny","Principal":{"AWS":"444455556666"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}`))}, getValue, carol, ExplicitDenyResource},
		{"cross account root", Input{Resource: resTo(other, "*")}, getValue, PrincipalInfo{ARN: "arn:aws:iam::444455556666:root", Account: other, Type: PrincipalAccount}, Allowed},
		// KMS
		{"kms no key policy", Input{Identity: []*Policy{allowKMS}, KeyPolicyGate: true}, "kms:Decrypt", bob, NoResourceAllow},
		{"kms key policy silent", Input{Identity: []*Policy{allowKMS}, Resource: resTo("arn:aws:iam::111122223333:user/alice", "kms:*"), KeyPolicyGate: true}, "kms:Decrypt", bob, NoResourceAllow},
		{"kms key policy delegates to IAM", Input{Identity: []*Policy{allowKMS}, Resource: resTo("arn:aws:iam::111122223333:root", "kms:*"), KeyPolicyGate: true}, "kms:Decrypt", bob, Allowed},
		{"kms key policy delegates, IAM silent", Input{Identity: []*Policy{allowList}, Resource: resTo("arn:aws:iam::111122223333:root", "kms:*"), KeyPolicyGate: true}, "kms:Decrypt", bob, NoIdentityAllow},
		{"kms key policy names user", Input{Resource: resTo(bob.ARN, "kms:Decrypt"), KeyPolicyGate: true}, "kms:Decrypt", bob, Allowed},
		{"kms key policy other action", Input{Identity: []*Policy{allowKMS}, Resource: resTo(bob.ARN, "kms:Encrypt"), KeyPolicyGate: true}, "kms:Decrypt", bob, NoResourceAllow},
		{"kms root needs key policy", Input{KeyPolicyGate: true}, "kms:Decrypt", rootUser, NoResourceAllow},
		{"kms root with key policy", Input{Resource: resTo(acct, "kms:*"), KeyPolicyGate: true}, "kms:Decrypt", rootUser, Allowed},
		{"kms cross account", Input{Identity: []*Policy{allowKMS}, Resource: resTo(other, "kms:Decrypt"), KeyPolicyGate: true}, "kms:Decrypt", carol, Allowed},
		{"kms cross account IAM silent", Input{Resource: resTo(other, "kms:Decrypt"), KeyPolicyGate: true}, "kms:Decrypt", carol, NoIdentityAllow},
		{"kms identity deny", Input{Identity: []*Policy{allowKMS, p(stmts(`{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}`))}, Resource: resTo(bob.ARN, "kms:*"), KeyPolicyGate: true}, "kms:Decrypt", bob, ExplicitDenyIdentity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.Request = &Request{Action: tt.action, Resource: secretX, Principal: tt.who}
			if in.ResourceAccount == "" {
				in.ResourceAccount = acct
			}
			got := Decide(&in)
			want := Result{Decision: Deny, Reason: tt.want}
			if tt.want == Allowed {
				want.Decision = Allow
			}
			if got != want {
				t.Fatalf("got %s %s, want %s %s", got.Decision, got.Reason, want.Decision, want.Reason)
			}
		})
	}
}

func TestMessage(t *testing.T) {
	const head = "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: secretsmanager:GetSecretValue on resource: " + secretX
	tests := []struct {
		reason Reason
		want   string
	}{
		{ExplicitDenyIdentity, head + " with an explicit deny in an identity-based policy"},
		{ExplicitDenyResource, head + " with an explicit deny in a resource-based policy"},
		{ExplicitDenySession, head + " with an explicit deny in a session policy"},
		{ExplicitDenyBoundary, head + " with an explicit deny in a permissions boundary"},
		{NoIdentityAllow, head + " because no identity-based policy allows the secretsmanager:GetSecretValue action"},
		{NoResourceAllow, head + " because no resource-based policy allows the secretsmanager:GetSecretValue action"},
		{NoSessionAllow, head + " because no session policy allows the secretsmanager:GetSecretValue action"},
		{NoBoundaryAllow, head + " because no permissions boundary allows the secretsmanager:GetSecretValue action"},
	}
	for _, tt := range tests {
		if got := (Result{Decision: Deny, Reason: tt.reason}).Message(bob.ARN, getValue, secretX); got != tt.want {
			t.Errorf("%s:\ngot  %s\nwant %s", tt.reason, got, tt.want)
		}
	}
	if got := (Result{Decision: Allow, Reason: Allowed}).Message(bob.ARN, getValue, secretX); got != "" {
		t.Errorf("allowed: %q", got)
	}
	got := (Result{Decision: Deny, Reason: NoIdentityAllow}).Message(bob.ARN, "secretsmanager:ListSecrets", "")
	if want := "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: secretsmanager:ListSecrets because no identity-based policy allows the secretsmanager:ListSecrets action"; got != want {
		t.Errorf("no resource:\ngot  %s\nwant %s", got, want)
	}
	if Allowed.String() != "Allowed" || NoBoundaryAllow.String() != "NoBoundaryAllow" || Reason(0).String() != "Reason(0)" || Reason(99).String() != "Reason(?)" {
		t.Error("Reason.String")
	}
}

// TestExplicitDenyWins checks on random inputs that an applicable Deny decides, whatever
// the other policies say and wherever the Deny is.
func TestExplicitDenyWins(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		in := randomInput(t, r)
		where := r.IntN(4)
		deny := `{"Effect":"Deny","Action":"*","Resource":"*"}`
		if where == 3 {
			deny = `{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}`
		}
		withDeny := func(p *Policy) *Policy {
			if p == nil {
				p = &Policy{Version: Version2012}
			}
			q := *p
			q.Statements = append(append([]Statement{}, p.Statements...), mustParse(t, stmts(deny)).Statements...)
			return &q
		}
		want := map[int]Reason{0: ExplicitDenyIdentity, 1: ExplicitDenySession, 2: ExplicitDenyBoundary, 3: ExplicitDenyResource}[where]
		switch where {
		case 0:
			in.Identity = append(in.Identity, withDeny(nil))
		case 1:
			in.Session = append(in.Session, withDeny(nil))
		case 2:
			in.Boundary = withDeny(in.Boundary)
		case 3:
			in.Resource = withDeny(in.Resource)
		}
		if in.Request.Principal.Type == PrincipalAccount && (where == 1 || where == 2) {
			continue // boundaries and session policies do not apply to the root user
		}
		got := Decide(in)
		if got.Decision != Deny || !strings.HasPrefix(got.Reason.String(), "ExplicitDeny") {
			t.Fatalf("input %d: got %s %s, want an explicit deny (%s)", i, got.Decision, got.Reason, want)
		}
	}
}

// randomInput builds a random decision input from a small vocabulary of policies.
func randomInput(t testing.TB, r *rand.Rand) *Input {
	docs := []string{
		stmts(`{"Effect":"Allow","Action":"*","Resource":"*"}`),
		stmts(`{"Effect":"Allow","Action":"secretsmanager:Get*","Resource":"arn:aws:secretsmanager:*:*:secret:x-*"}`),
		stmts(`{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}}`),
		stmts(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"NotAction":"kms:*"}`),
		stmts(`{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}`),
		stmts(`{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"ForAllValues:StringLike":{"aws:TagKeys":"a*"}}}`),
	}
	pick := func() *Policy { return mustParse(t, docs[r.IntN(len(docs))]) }
	who := []PrincipalInfo{bob, appSession, rootUser, carol, lambda}[r.IntN(5)]
	actions := []string{getValue, "kms:Decrypt", "iam:CreateUser"}
	in := &Input{
		Request: &Request{Action: actions[r.IntN(len(actions))], Resource: secretX, Principal: who,
			Keys: reqKeys("aws:SourceIp", []string{"10.1.1.1", "192.0.2.1"}[r.IntN(2)], "aws:TagKeys", "ab")},
		ResourceAccount: []string{acct, other}[r.IntN(2)],
		KeyPolicyGate:   r.IntN(2) == 0,
	}
	for n := r.IntN(3); n > 0; n-- {
		in.Identity = append(in.Identity, pick())
	}
	if r.IntN(2) == 0 {
		in.Session = []*Policy{pick()}
	}
	if r.IntN(2) == 0 {
		in.Boundary = pick()
	}
	if r.IntN(2) == 0 {
		in.Resource = pick()
	}
	return in
}
