package server

import (
	"context"
	"regexp"
	"strconv"
	"strings"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsquery"
	"github.com/coffer-project/coffer/policy"
)

// SimulatePrincipalPolicy, for troubleshooting: the decision the server would make for a
// user, group or role of the caller's account on each action and resource, with the same
// evaluation (identity policies, plus PolicyInputList; ResourcePolicy when given; context
// entries as condition keys).

type evalResult struct {
	EvalActionName   string
	EvalResourceName string
	EvalDecision     string
}

type simulateResult struct {
	EvaluationResults []evalResult `xml:"EvaluationResults>member"`
	IsTruncated       bool
}

var simulateARN = regexp.MustCompile(`^arn:aws:iam::([0-9]{12}):(user|group|role)(/.*)?/([\w+=,.@-]+)$`)

func (h *Handler) simulatePrincipalPolicy(ctx context.Context, c *call, q *awsquery.Request) (any, error) {
	src, ok := q.Get("PolicySourceArn")
	if !ok {
		return nil, coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value null at 'policySourceArn' failed to satisfy constraint: Member must not be null")
	}
	actions := q.List("ActionNames")
	if len(actions) == 0 {
		return nil, coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value null at 'actionNames' failed to satisfy constraint: Member must not be null")
	}
	m := simulateARN.FindStringSubmatch(src)
	if m == nil || m[1] != c.ns.Account {
		return nil, coffer.Errorf("NoSuchEntity", "The entity %s cannot be found.", src)
	}
	kind, name := m[2], m[4]
	var p *principalPolicies
	var err error
	switch kind {
	case coffer.EntityGroup:
		p, err = h.groupPolicies(ctx, c.ns.Account, name)
	default:
		p, err = h.authz.entity(ctx, c.ns.Account, kind, name, "simulate:"+src)
	}
	if coffer.IsNotFound(err) || coffer.ErrorCode(err) == coffer.ErrUnrecognizedClient {
		return nil, coffer.Errorf("NoSuchEntity", "The entity %s cannot be found.", src)
	}
	if err != nil {
		return nil, err
	}
	identity := append([]*policy.Policy(nil), p.identity...)
	for _, doc := range q.List("PolicyInputList") {
		pp, err := policy.Parse(doc)
		if err != nil {
			return nil, coffer.Errorf("MalformedPolicyDocument", "Syntax errors in policy.")
		}
		identity = append(identity, pp)
	}
	var resourcePolicy *policy.Policy
	if doc, ok := q.Get("ResourcePolicy"); ok {
		if resourcePolicy, err = policy.Parse(doc); err != nil {
			return nil, coffer.Errorf("MalformedPolicyDocument", "Syntax errors in policy.")
		}
	}
	keys := map[string][]string{}
	for k, v := range c.conditionKeys() {
		keys[k] = v
	}
	for i := 1; ; i++ {
		base := "ContextEntries.member." + strconv.Itoa(i) + "."
		name, ok := q.Get(base + "ContextKeyName")
		if !ok {
			break
		}
		keys[name] = q.List(base + "ContextKeyValues")
	}
	resources := q.List("ResourceArns")
	if len(resources) == 0 {
		resources = []string{"*"}
	}
	out := &simulateResult{}
	for _, a := range actions {
		for _, r := range resources {
			res := policy.Decide(&policy.Input{
				Request:         &policy.Request{Action: a, Resource: r, Principal: p.info, Keys: keys},
				Identity:        identity,
				Boundary:        p.boundary,
				Resource:        resourcePolicy,
				ResourceAccount: c.ns.Account,
			})
			out.EvaluationResults = append(out.EvaluationResults, evalResult{EvalActionName: a, EvalResourceName: r, EvalDecision: decisionName(res)})
		}
	}
	return out, nil
}

// decisionName is IAM's EvalDecision for a result.
func decisionName(r policy.Result) string {
	switch {
	case r.Decision == policy.Allow:
		return "allowed"
	case strings.Contains(r.Reason.String(), "ExplicitDeny"):
		return "explicitDeny"
	}
	return "implicitDeny"
}

// groupPolicies loads a group's attached and inline policies (a group is never a principal,
// but it can be simulated).
func (h *Handler) groupPolicies(ctx context.Context, account, name string) (*principalPolicies, error) {
	p := &principalPolicies{info: policy.PrincipalInfo{Account: account, Type: policy.PrincipalUser}}
	err := h.authz.store.View(ctx, func(tx coffer.Tx) error {
		p.identity = nil
		g, err := tx.Entity(account, coffer.EntityGroup, name)
		if err != nil {
			return err
		}
		p.info.ARN = g.ARN()
		p.identity, err = h.authz.entityPolicies(tx, coffer.EntityRef{Account: account, Kind: coffer.EntityGroup, Name: g.Name}, nil)
		return err
	})
	return p, err
}

// IAMOperations lists the IAM actions the server answers itself rather than package iam.
func IAMOperations() []string { return []string{"SimulatePrincipalPolicy"} }
