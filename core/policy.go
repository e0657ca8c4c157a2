package core

import (
	"context"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/policy"
)

// Messages of the resource-policy errors, as AWS's Secrets Manager guide (manage_secret-policy)
// gives them. The guide names the BlockPublicPolicy refusal "BlockPublicPolicyException"; the
// service model's exception is PublicPolicyException, which is what clients match on.
const (
	msgPolicySyntax           = "This resource policy contains a syntax error."
	msgPolicyPrincipal        = "This resource policy contains an unsupported principal."
	msgPolicyServicePrincipal = "This resource policy contains an invalid service principal."
	msgPublicPolicy           = "You can't attach a resource-based policy that allows broad access to the secret."
)

// PutResourcePolicyInput is the PutResourcePolicy request.
type PutResourcePolicyInput struct {
	SecretId          *string //nolint:revive // AWS's member name
	ResourcePolicy    *string
	BlockPublicPolicy *bool
}

// GetResourcePolicyInput is the GetResourcePolicy request.
type GetResourcePolicyInput struct {
	SecretId *string //nolint:revive // AWS's member name
}

// DeleteResourcePolicyInput is the DeleteResourcePolicy request.
type DeleteResourcePolicyInput struct {
	SecretId *string //nolint:revive // AWS's member name
}

// ValidateResourcePolicyInput is the ValidateResourcePolicy request.
type ValidateResourcePolicyInput struct {
	SecretId       *string //nolint:revive // AWS's member name
	ResourcePolicy *string
}

// ResourcePolicy is a secret's resource policy as GetResourcePolicy returns it.
type ResourcePolicy struct {
	ARN    string
	Name   string
	Policy string // "" when the secret has none
}

// PolicyValidation is the ValidateResourcePolicy answer: Passed when no finding is left.
type PolicyValidation struct {
	Passed   bool
	Findings []policy.Finding
}

func validPolicyText(v *validator, p *string) {
	v.Required("resourcePolicy", p != nil)
	// Marked sensitive so that a refusal does not echo the document.
	v.Length("resourcePolicy", p, 1, policy.MaxResourcePolicyLength, true)
}

// checkPolicy refuses a document AWS would not store, with the message AWS gives for its
// first problem.
func checkPolicy(doc string) error {
	for _, f := range policy.Validate(doc) {
		if !f.Malformed {
			continue
		}
		switch f.Code {
		case policy.CodeInvalidPrincipalFormat, policy.CodeInvalidPrincipalKey:
			return coffer.Errorf(coffer.ErrMalformedPolicyDocument, msgPolicyPrincipal)
		case policy.CodeInvalidServicePrincipalFormat:
			return coffer.Errorf(coffer.ErrMalformedPolicyDocument, msgPolicyServicePrincipal)
		}
		return coffer.Errorf(coffer.ErrMalformedPolicyDocument, msgPolicySyntax)
	}
	return nil
}

// PutResourcePolicy attaches a resource policy to a secret, replacing any it had. With
// BlockPublicPolicy it refuses a policy that grants broad access (policy.IsPublic).
func (s *Service) PutResourcePolicy(ctx context.Context, ns coffer.Namespace, in *PutResourcePolicyInput) (*SecretRef, error) {
	var v validator
	validSecretID(&v, in.SecretId)
	validPolicyText(&v, in.ResourcePolicy)
	if err := v.Err(); err != nil {
		return nil, err
	}
	doc := *in.ResourcePolicy
	if err := checkPolicy(doc); err != nil {
		return nil, err
	}
	if in.BlockPublicPolicy != nil && *in.BlockPublicPolicy {
		p, err := policy.Parse(doc)
		if err != nil { // checkPolicy let it through, so this cannot happen
			return nil, coffer.Errorf(coffer.ErrMalformedPolicyDocument, msgPolicySyntax)
		}
		if policy.IsPublic(p) {
			return nil, coffer.Errorf(coffer.ErrPublicPolicy, msgPublicPolicy)
		}
	}
	var ref *SecretRef
	err := s.updateSecret(ctx, secretKey(ns, *in.SecretId), func(tx coffer.Tx) error {
		sec, err := s.find(ctx, tx, ns, *in.SecretId)
		if err != nil {
			return err
		}
		if sec.Deleted() {
			return errMarkedForDeletion()
		}
		ref = &SecretRef{ARN: sec.ARN, Name: sec.Name}
		sec.ResourcePolicy = doc
		return s.changed(tx, sec)
	})
	return ref, err
}

// GetResourcePolicy returns a secret's resource policy. Like DescribeSecret it answers for a
// secret scheduled for deletion.
func (s *Service) GetResourcePolicy(ctx context.Context, ns coffer.Namespace, in *GetResourcePolicyInput) (*ResourcePolicy, error) {
	var v validator
	validSecretID(&v, in.SecretId)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *ResourcePolicy
	// This View may run more than once (coffer.EndWithLookup): it only reads, and keeps what
	// it found last.
	err := s.store.View(ctx, func(tx coffer.Tx) error {
		coffer.EndWithLookup(tx) // the secret is all it reads
		sec, err := s.find(ctx, tx, ns, *in.SecretId)
		if err != nil {
			return err
		}
		out = &ResourcePolicy{ARN: sec.ARN, Name: sec.Name, Policy: sec.ResourcePolicy}
		return nil
	})
	return out, err
}

// DeleteResourcePolicy removes a secret's resource policy. Removing a policy the secret does
// not have succeeds and changes nothing.
func (s *Service) DeleteResourcePolicy(ctx context.Context, ns coffer.Namespace, in *DeleteResourcePolicyInput) (*SecretRef, error) {
	var v validator
	validSecretID(&v, in.SecretId)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var ref *SecretRef
	err := s.updateSecret(ctx, secretKey(ns, *in.SecretId), func(tx coffer.Tx) error {
		sec, err := s.find(ctx, tx, ns, *in.SecretId)
		if err != nil {
			return err
		}
		if sec.Deleted() {
			return errMarkedForDeletion()
		}
		ref = &SecretRef{ARN: sec.ARN, Name: sec.Name}
		if sec.ResourcePolicy == "" {
			return nil
		}
		sec.ResourcePolicy = ""
		return s.changed(tx, sec)
	})
	return ref, err
}

// ValidateResourcePolicy checks a policy without attaching it. A document that is not JSON
// is refused as PutResourcePolicy refuses it; any other problem, broad access included, is
// reported as a finding. A SecretId, when given, must name a secret of the namespace.
func (s *Service) ValidateResourcePolicy(ctx context.Context, ns coffer.Namespace, in *ValidateResourcePolicyInput) (*PolicyValidation, error) {
	var v validator
	v.Length("secretId", in.SecretId, 1, 2048, false)
	validPolicyText(&v, in.ResourcePolicy)
	if err := v.Err(); err != nil {
		return nil, err
	}
	findings := policy.Validate(*in.ResourcePolicy)
	for _, f := range findings {
		if f.Code == policy.CodeJSONSyntaxError {
			return nil, coffer.Errorf(coffer.ErrMalformedPolicyDocument, msgPolicySyntax)
		}
	}
	if in.SecretId != nil {
		err := s.store.View(ctx, func(tx coffer.Tx) error {
			_, err := s.find(ctx, tx, ns, *in.SecretId)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return &PolicyValidation{Passed: len(findings) == 0, Findings: findings}, nil
}
