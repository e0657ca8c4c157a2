package policy

import (
	"strings"
)

// Kind says what role a policy plays in a request, which decides whether its statements'
// Principal elements are read.
type Kind int

// Kinds of policy.
const (
	// IdentityPolicy is a policy attached to the principal (user, group or role), and also
	// how a permissions boundary is read. Principal and NotPrincipal are ignored.
	IdentityPolicy Kind = iota + 1
	// ResourcePolicy is a policy attached to the resource: a secret's resource policy or a
	// key policy. A statement applies only when its Principal names the request's principal,
	// or its NotPrincipal does not; a statement with neither applies to no one.
	ResourcePolicy
	// SessionPolicy is a policy passed when a role session is created. Principal and
	// NotPrincipal are ignored.
	SessionPolicy
)

// grant is how a resource policy statement names the principal it allows, which decides
// whether session policies and permissions boundaries limit the grant.
type grant int

const (
	grantNone    grant = iota
	grantAccount       // the principal's account (ID or root ARN): delegates to IAM policies
	grantRole          // everyone, NotPrincipal, or the role of a role session: limited
	grantExact         // the user's or the session's own ARN, or the service: not limited
)

// outcome is the evaluation of one or more policies of a kind.
type outcome struct {
	deny  bool
	allow grant // for identity and session policies, grantExact when some Allow applies
}

// Evaluate decides req against p alone: Deny when some Deny statement applies, otherwise
// Allow when some Allow statement applies, otherwise NotApplicable. A statement applies when
// its action, resource, principal (for a ResourcePolicy) and every condition match.
func (p *Policy) Evaluate(req *Request, kind Kind) Effect {
	o := p.evaluate(req, kind)
	switch {
	case o.deny:
		return Deny
	case o.allow != grantNone:
		return Allow
	}
	return NotApplicable
}

func (p *Policy) evaluate(req *Request, kind Kind) outcome {
	var o outcome
	if p == nil {
		return o
	}
	if req == nil {
		req = &Request{}
	}
	e := &evaluator{req: req, subst: p.Version == Version2012}
	for i := range p.Statements {
		s := &p.Statements[i]
		g := grantExact
		if kind == ResourcePolicy {
			if g = e.principal(s); g == grantNone {
				continue
			}
		}
		if !e.action(s) || !e.resource(s) || !e.conditions(s.Condition) {
			continue
		}
		if s.Effect == Deny {
			return outcome{deny: true}
		}
		if s.Effect == Allow && g > o.allow {
			o.allow = g
		}
	}
	return o
}

// evaluator evaluates the statements of one policy against one request.
type evaluator struct {
	req   *Request
	subst bool // policy variables are substituted (Version 2012-10-17 only)
}

func (e *evaluator) action(s *Statement) bool {
	list, want := s.Action, true
	if s.NotAction != nil {
		list, want = s.NotAction, false
	}
	for _, a := range list {
		if MatchAction(a, e.req.Action) {
			return want
		}
	}
	return !want
}

// resource matches the request's resource ARN against Resource or NotResource. A statement
// with neither (valid in a resource policy, which applies to its own resource) matches.
func (e *evaluator) resource(s *Statement) bool {
	list, want := s.Resource, true
	switch {
	case s.NotResource != nil:
		list, want = s.NotResource, false
	case s.Resource == nil:
		return true
	}
	for _, r := range list {
		if p, ok := expand(r, e.req, e.subst); ok && glob(p, e.req.Resource) {
			return want
		}
	}
	return !want
}

// principal returns how a resource policy statement's Principal names the request's
// principal, grantNone when the statement does not apply to it.
func (e *evaluator) principal(s *Statement) grant {
	pi := &e.req.Principal
	if s.NotPrincipal != nil {
		// AWS checks every identity the request carries (the account, the user, or the role
		// and its session) against NotPrincipal: the statement applies unless all are listed.
		// This is why AWS asks that a Deny with NotPrincipal list the account too.
		ids := identities(pi)
		if len(ids) == 0 && !s.NotPrincipal.Everyone() {
			return grantRole // an anonymous caller is listed nowhere
		}
		for _, id := range ids {
			if namesPrincipal(s.NotPrincipal, pi, id) == grantNone {
				return grantRole
			}
		}
		return grantNone
	}
	if s.Principal == nil {
		return grantNone
	}
	best := grantNone
	for _, id := range identities(pi) {
		if g := namesPrincipal(s.Principal, pi, id); g > best {
			best = g
		}
	}
	return best
}

// identities lists the identities a request carries: the account root ARN, the user's ARN,
// the session's role ARN and session ARN, or the service's name.
func identities(pi *PrincipalInfo) []string {
	if pi.Type == PrincipalService {
		return []string{pi.ARN}
	}
	ids := []string{}
	if pi.Account != "" {
		ids = append(ids, "arn:aws:iam::"+pi.Account+":root")
	}
	if pi.ARN != "" && pi.Type != PrincipalAccount {
		if role, ok := roleOfSession(pi.ARN); ok {
			ids = append(ids, role)
		}
		ids = append(ids, pi.ARN)
	}
	return ids
}

// namesPrincipal reports how the Principal element p names identity id of the principal pi.
func namesPrincipal(p *Principal, pi *PrincipalInfo, id string) grant {
	if p.Wildcard {
		return grantRole
	}
	best := grantNone
	if pi.Type == PrincipalService {
		for _, svc := range p.Service {
			if svc == "*" {
				best = grantRole
			} else if strings.EqualFold(svc, id) {
				return grantExact
			}
		}
		for _, v := range p.AWS {
			if v == "*" {
				best = grantRole
			}
		}
		return best
	}
	for _, v := range p.AWS {
		var g grant
		switch {
		case v == "*":
			g = grantRole
		case isAccountID(v):
			v = "arn:aws:iam::" + v + ":root"
			fallthrough
		default:
			g = matchAWSPrincipal(v, pi, id)
		}
		if g > best {
			best = g
		}
	}
	// Federated and CanonicalUser principals name identity providers (trust policies) and
	// S3 canonical ids; no request here carries them.
	return best
}

// matchAWSPrincipal matches one ARN of an AWS principal list against identity id.
func matchAWSPrincipal(v string, pi *PrincipalInfo, id string) grant {
	if v != id && stripRolePath(v) != id {
		return grantNone
	}
	switch {
	case strings.HasSuffix(v, ":root"):
		return grantAccount
	case id == pi.ARN:
		return grantExact // the user's or the session's own ARN
	default:
		return grantRole // the role of the session
	}
}

// stripRolePath turns arn:aws:iam::ID:role/PATH/NAME into arn:aws:iam::ID:role/NAME: a role
// session's ARN names its role without the path, and AWS matches the session by the role.
func stripRolePath(arn string) string {
	head, name, ok := strings.Cut(arn, ":role/")
	if !ok || !strings.Contains(head, ":iam::") {
		return arn
	}
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	return head + ":role/" + name
}
