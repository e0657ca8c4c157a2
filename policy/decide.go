package policy

// Input is everything Decide weighs for one request.
type Input struct {
	Request *Request
	// Identity holds the principal's identity-based policies: attached and inline, the
	// user's and its groups', or the role's.
	Identity []*Policy
	// Session holds the session policies passed when the role session was created; nil or
	// empty when none. An Allow in any of them counts.
	Session []*Policy
	// Boundary is the principal's permissions boundary; nil when none.
	Boundary *Policy
	// Resource is the target's resource-based policy (a secret's policy, a key policy); nil
	// when none.
	Resource *Policy
	// ResourceAccount is the account that owns the resource; "" reads as the principal's.
	ResourceAccount string
	// KeyPolicyGate applies KMS's rule: the key policy must allow the request, either to the
	// principal or to its account's root (which lets IAM policies count); without it nothing
	// is allowed, not even in the key's own account.
	KeyPolicyGate bool
}

// Reason says why Decide reached its decision.
type Reason int

// Reasons. The zero Reason is none of them, so a zero Result allows nothing.
const (
	Allowed Reason = iota + 1
	ExplicitDenyIdentity
	ExplicitDenyResource
	ExplicitDenySession
	ExplicitDenyBoundary
	NoIdentityAllow
	NoResourceAllow
	NoSessionAllow
	NoBoundaryAllow
)

var reasonNames = [...]string{"Reason(0)", "Allowed", "ExplicitDenyIdentity", "ExplicitDenyResource",
	"ExplicitDenySession", "ExplicitDenyBoundary", "NoIdentityAllow", "NoResourceAllow",
	"NoSessionAllow", "NoBoundaryAllow"}

// String returns the reason's name.
func (r Reason) String() string {
	if r < 0 || int(r) >= len(reasonNames) {
		return "Reason(?)"
	}
	return reasonNames[r]
}

// Result is Decide's answer. Decision is Allow or Deny (an implicit deny is a Deny whose
// Reason starts with No).
type Result struct {
	Decision Effect
	Reason   Reason
}

func denied(r Reason) Result { return Result{Decision: Deny, Reason: r} }

// Decide evaluates a request against all the policies that bear on it, as AWS does:
//
//  1. An explicit Deny in any policy that applies (identity, session, boundary, resource)
//     decides.
//  2. The identity side allows when an identity policy allows and, if present, the
//     permissions boundary and a session policy allow too. An account's root user needs no
//     identity policy, and boundaries and session policies do not apply to it.
//  3. In the resource's account, a resource policy Allow that names the principal's own ARN
//     (user ARN, role session ARN, service) allows on its own; one that names the session's
//     role, every principal or uses NotPrincipal allows if the boundary and session
//     policies allow too; one that names the account (ID or root ARN) only delegates to
//     the identity side, which otherwise decides alone.
//  4. Across accounts both the identity side and the resource policy must allow.
//  5. With KeyPolicyGate the key policy must allow in every case.
//
// A service principal has no identity side: the resource policy alone grants it access.
func Decide(in *Input) Result {
	req := in.Request
	if req == nil {
		req = &Request{}
	}
	id := evaluateAll(in.Identity, req, IdentityPolicy)
	sess := evaluateAll(in.Session, req, SessionPolicy)
	bnd := in.Boundary.evaluate(req, IdentityPolicy)
	res := in.Resource.evaluate(req, ResourcePolicy)
	root := req.Principal.Type == PrincipalAccount
	switch {
	case id.deny:
		return denied(ExplicitDenyIdentity)
	case res.deny:
		return denied(ExplicitDenyResource)
	case bnd.deny && !root:
		return denied(ExplicitDenyBoundary)
	case sess.deny && !root:
		return denied(ExplicitDenySession)
	}
	if req.Principal.Type == PrincipalService {
		if res.allow >= grantRole {
			return Result{Decision: Allow, Reason: Allowed}
		}
		return denied(NoResourceAllow)
	}

	// limits reports why the boundary or the session policies withhold a grant, 0 if not.
	limits := func() Reason {
		switch {
		case root:
			return 0
		case in.Boundary != nil && bnd.allow == grantNone:
			return NoBoundaryAllow
		case len(in.Session) > 0 && sess.allow == grantNone:
			return NoSessionAllow
		}
		return 0
	}
	identity := func() Reason {
		if !root && id.allow == grantNone {
			return NoIdentityAllow
		}
		return limits()
	}

	same := in.ResourceAccount == "" || in.ResourceAccount == req.Principal.Account
	var why Reason
	switch {
	case (in.KeyPolicyGate || !same) && res.allow == grantNone:
		why = NoResourceAllow
	case !same:
		why = identity()
	case res.allow == grantExact:
		why = 0
	case res.allow == grantRole:
		why = limits()
	default:
		why = identity()
	}
	if why != 0 {
		return denied(why)
	}
	return Result{Decision: Allow, Reason: Allowed}
}

func evaluateAll(ps []*Policy, req *Request, kind Kind) outcome {
	var o outcome
	for _, p := range ps {
		po := p.evaluate(req, kind)
		if po.deny {
			return po
		}
		if po.allow > o.allow {
			o.allow = po.allow
		}
	}
	return o
}

// Message returns the error message AWS gives for a denied request, "" for an allowed one.
// resource may be "" for an action on no resource.
func (r Result) Message(principalARN, action, resource string) string {
	if r.Decision == Allow {
		return ""
	}
	m := "User: " + principalARN + " is not authorized to perform: " + action
	if resource != "" {
		m += " on resource: " + resource
	}
	switch r.Reason {
	case ExplicitDenyIdentity:
		return m + " with an explicit deny in an identity-based policy"
	case ExplicitDenyResource:
		return m + " with an explicit deny in a resource-based policy"
	case ExplicitDenySession:
		return m + " with an explicit deny in a session policy"
	case ExplicitDenyBoundary:
		return m + " with an explicit deny in a permissions boundary"
	case NoResourceAllow:
		return m + " because no resource-based policy allows the " + action + " action"
	case NoSessionAllow:
		return m + " because no session policy allows the " + action + " action"
	case NoBoundaryAllow:
		return m + " because no permissions boundary allows the " + action + " action"
	}
	return m + " because no identity-based policy allows the " + action + " action"
}
