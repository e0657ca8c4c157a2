package iam

import (
	"context"
	"regexp"
	"strings"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsquery"
)

// Managed policies (with up to five versions), attachments to users, groups and roles, and
// inline policies.

const maxPolicyVersions = 5

var policyARNPattern = regexp.MustCompile(`^arn:aws:iam::([0-9]{12}|aws):policy(/.*)?/[\w+=,.@-]+$`)

func errNoPolicy(arn string) error {
	return coffer.Errorf(ErrNoSuchEntity, "Policy %s does not exist or is not attachable.", arn)
}

// managedPolicy reads a managed policy by ARN, NoSuchEntity when missing.
func managedPolicy(tx coffer.Tx, arn string) (*coffer.ManagedPolicy, error) {
	p, err := tx.ManagedPolicy(arn)
	if coffer.IsNotFound(err) {
		return nil, errNoPolicy(arn)
	}
	return p, err
}

// policyARN reads the PolicyArn parameter; a policy of another account is not visible.
func policyARN(c Caller, q *awsquery.Request) (string, error) {
	p := &params{q: q}
	arn := p.str("PolicyArn", "policyArn", true, 20, 2048, nil)
	if err := p.v.err(); err != nil {
		return "", err
	}
	m := policyARNPattern.FindStringSubmatch(arn)
	if m == nil {
		return "", coffer.Errorf(ErrInvalidInput, "ARN %s is not valid.", arn)
	}
	if m[1] != c.Account && m[1] != "aws" {
		return "", errNoPolicy(arn)
	}
	return arn, nil
}

type policyResult struct {
	Policy policyXML
}

func (s *Service) createPolicy(ctx context.Context, c Caller, q *awsquery.Request) (any, error) {
	p := &params{q: q}
	name := p.str("PolicyName", "policyName", true, 1, 128, namePattern)
	path := p.str("Path", "path", false, 1, 512, pathPattern)
	doc := p.str("PolicyDocument", "policyDocument", true, 1, 131072, nil)
	desc := p.str("Description", "description", false, 0, 1000, nil)
	tags := p.tags()
	if err := p.v.err(); err != nil {
		return nil, err
	}
	if path == "" {
		path = "/"
	}
	if err := checkTags(tags); err != nil {
		return nil, err
	}
	if _, err := checkDocument(doc, false); err != nil {
		return nil, err
	}
	id, err := s.newID("ANPA")
	if err != nil {
		return nil, err
	}
	now := s.clock()
	mp := &coffer.ManagedPolicy{Account: c.Account, Name: name, Path: path, ID: id, Description: desc, DefaultVersion: "v1", CreatedDate: now, UpdateDate: now, Tags: tags}
	err = s.update(ctx, func(tx coffer.Tx) error {
		err := tx.InsertManagedPolicy(mp)
		if coffer.ErrorCode(err) == coffer.ErrResourceExists {
			return coffer.Errorf(ErrEntityAlreadyExists, "A policy called %s already exists. Duplicate names are not allowed.", name)
		}
		if err != nil {
			return err
		}
		return tx.InsertPolicyVersion(&coffer.PolicyVersion{PolicyARN: mp.ARN(), VersionID: "v1", Document: doc, CreatedDate: now})
	})
	if err != nil {
		return nil, err
	}
	return &policyResult{Policy: policyOf(mp, 0)}, nil
}

func (s *Service) getPolicy(ctx context.Context, c Caller, q *awsquery.Request) (any, error) {
	arn, err := policyARN(c, q)
	if err != nil {
		return nil, err
	}
	out := &policyResult{}
	err = s.view(ctx, func(tx coffer.Tx) error {
		mp, err := managedPolicy(tx, arn)
		if err != nil {
			return err
		}
		refs, err := tx.PolicyAttachments(arn)
		if err != nil {
			return err
		}
		out.Policy = policyOf(mp, len(refs))
		return nil
	})
	return out, err
}

type policiesResult struct {
	Policies []policyXML `xml:"Policies>member"`
	listResult
}

func (s *Service) listPolicies(ctx context.Context, c Caller, q *awsquery.Request) (any, error) {
	after, limit, err := page(q)
	if err != nil {
		return nil, err
	}
	p := &params{q: q}
	prefix := p.str("PathPrefix", "pathPrefix", false, 1, 512, nil)
	scope := p.str("Scope", "scope", false, 1, 16, nil)
	onlyAttached, _ := q.Get("OnlyAttached")
	if err := p.v.err(); err != nil {
		return nil, err
	}
	out := &policiesResult{}
	err = s.view(ctx, func(tx coffer.Tx) error {
		out.Policies, out.listResult = out.Policies[:0], listResult{}
		accounts := []string{c.Account, "aws"}
		switch scope {
		case "Local":
			accounts = accounts[:1]
		case "AWS":
			accounts = accounts[1:]
		}
		for _, acct := range accounts {
			mps, err := tx.ListManagedPolicies(acct, prefix, after, 0)
			if err != nil {
				return err
			}
			for _, mp := range mps {
				refs, err := tx.PolicyAttachments(mp.ARN())
				if err != nil {
					return err
				}
				if onlyAttached == "true" && len(refs) == 0 {
					continue
				}
				if len(out.Policies) == limit {
					out.listResult = listResult{IsTruncated: true, Marker: out.Policies[limit-1].PolicyName}
					return nil
				}
				out.Policies = append(out.Policies, policyOf(mp, len(refs)))
			}
		}
		return nil
	})
	return out, err
}

func (s *Service) deletePolicy(ctx context.Context, c Caller, q *awsquery.Request) error {
	arn, err := policyARN(c, q)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx coffer.Tx) error {
		mp, err := managedPolicy(tx, arn)
		if err != nil {
			return err
		}
		if mp.Account == "aws" {
			return coffer.Errorf(ErrInvalidInput, "An AWS managed policy cannot be deleted.")
		}
		refs, err := tx.PolicyAttachments(arn)
		if err != nil || len(refs) > 0 {
			return firstErr(err, coffer.Errorf(ErrDeleteConflict, "Cannot delete a policy attached to entities."))
		}
		vs, err := tx.PolicyVersions(arn)
		if err != nil || len(vs) > 1 {
			return firstErr(err, coffer.Errorf(ErrDeleteConflict, "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy."))
		}
		return tx.DeleteManagedPolicy(arn)
	})
}

type policyVersionResult struct {
	PolicyVersion policyVersionXML
}

func versionParam(q *awsquery.Request) (string, error) {
	p := &params{q: q}
	v := p.str("VersionId", "versionId", true, 2, 16, regexp.MustCompile(`^v[1-9][0-9]*(\.[A-Za-z0-9-]*)?$`))
	return v, p.v.err()
}

func (s *Service) getPolicyVersion(ctx context.Context, c Caller, q *awsquery.Request) (any, error) {
	arn, err := policyARN(c, q)
	if err != nil {
		return nil, err
	}
	vid, err := versionParam(q)
	if err != nil {
		return nil, err
	}
	out := &policyVersionResult{}
	err = s.view(ctx, func(tx coffer.Tx) error {
		mp, err := managedPolicy(tx, arn)
		if err != nil {
			return err
		}
		vs, err := tx.PolicyVersions(arn)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if v.VersionID == vid {
				out.PolicyVersion = policyVersionXML{Document: encodeDocument(v.Document), VersionId: v.VersionID, IsDefaultVersion: v.VersionID == mp.DefaultVersion, CreateDate: isoTime(v.CreatedDate)}
				return nil
			}
		}
		return coffer.Errorf(ErrNoSuchEntity, "Policy %s version %s does not exist or is not attachable.", arn, vid)
	})
	return out, err
}

func (s *Service) createPolicyVersion(ctx context.Context, c Caller, q *awsquery.Request) (any, error) {
	arn, err := policyARN(c, q)
	if err != nil {
		return nil, err
	}
	p := &params{q: q}
	doc := p.str("PolicyDocument", "policyDocument", true, 1, 131072, nil)
	setDefault, _ := q.Get("SetAsDefault")
	if err := p.v.err(); err != nil {
		return nil, err
	}
	if _, err := checkDocument(doc, false); err != nil {
		return nil, err
	}
	out := &policyVersionResult{}
	err = s.update(ctx, func(tx coffer.Tx) error {
		mp, err := managedPolicy(tx, arn)
		if err != nil {
			return err
		}
		if mp.Account == "aws" {
			return coffer.Errorf(ErrInvalidInput, "An AWS managed policy cannot be changed.")
		}
		vs, err := tx.PolicyVersions(arn)
		if err != nil {
			return err
		}
		if len(vs) >= maxPolicyVersions {
			return coffer.Errorf(ErrLimitExceeded, "A managed policy can have up to %d versions. Before you create a new version, you must delete an existing version.", maxPolicyVersions)
		}
		next := 1
		for _, v := range vs {
			if n := atoiVersion(v.VersionID); n >= next {
				next = n + 1
			}
		}
		now := s.clock()
		v := &coffer.PolicyVersion{PolicyARN: arn, VersionID: "v" + itoa(next), Document: doc, CreatedDate: now}
		if err := tx.InsertPolicyVersion(v); err != nil {
			return err
		}
		isDefault := setDefault == "true"
		if isDefault {
			mp.DefaultVersion = v.VersionID
		}
		mp.UpdateDate = now
		out.PolicyVersion = policyVersionXML{VersionId: v.VersionID, IsDefaultVersion: isDefault, CreateDate: isoTime(now)}
		return tx.UpdateManagedPolicy(mp)
	})
	return out, err
}

func atoiVersion(v string) int {
	n := 0
	for _, c := range strings.TrimPrefix(v, "v") {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

type policyVersionsResult struct {
	Versions    []policyVersionXML `xml:"Versions>member"`
	IsTruncated bool
}

func (s *Service) listPolicyVersions(ctx context.Context, c Caller, q *awsquery.Request) (any, error) {
	arn, err := policyARN(c, q)
	if err != nil {
		return nil, err
	}
	out := &policyVersionsResult{}
	err = s.view(ctx, func(tx coffer.Tx) error {
		mp, err := managedPolicy(tx, arn)
		if err != nil {
			return err
		}
		vs, err := tx.PolicyVersions(arn)
		if err != nil {
			return err
		}
		out.Versions = out.Versions[:0]
		for i := len(vs) - 1; i >= 0; i-- { // newest first, as IAM lists them
			v := vs[i]
			out.Versions = append(out.Versions, policyVersionXML{VersionId: v.VersionID, IsDefaultVersion: v.VersionID == mp.DefaultVersion, CreateDate: isoTime(v.CreatedDate)})
		}
		return nil
	})
	return out, err
}

func (s *Service) deletePolicyVersion(ctx context.Context, c Caller, q *awsquery.Request) error {
	arn, err := policyARN(c, q)
	if err != nil {
		return err
	}
	vid, err := versionParam(q)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx coffer.Tx) error {
		mp, err := managedPolicy(tx, arn)
		if err != nil {
			return err
		}
		if vid == mp.DefaultVersion {
			return coffer.Errorf(ErrDeleteConflict, "Cannot delete the default version of a policy.")
		}
		err = tx.DeletePolicyVersion(arn, vid)
		if coffer.IsNotFound(err) {
			return coffer.Errorf(ErrNoSuchEntity, "Policy %s version %s does not exist or is not attachable.", arn, vid)
		}
		return err
	})
}

func (s *Service) setDefaultPolicyVersion(ctx context.Context, c Caller, q *awsquery.Request) error {
	arn, err := policyARN(c, q)
	if err != nil {
		return err
	}
	vid, err := versionParam(q)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx coffer.Tx) error {
		mp, err := managedPolicy(tx, arn)
		if err != nil {
			return err
		}
		vs, err := tx.PolicyVersions(arn)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if v.VersionID == vid {
				mp.DefaultVersion, mp.UpdateDate = vid, s.clock()
				return tx.UpdateManagedPolicy(mp)
			}
		}
		return coffer.Errorf(ErrNoSuchEntity, "Policy %s version %s does not exist or is not attachable.", arn, vid)
	})
}

// Attachments.

func (s *Service) attach(ctx context.Context, c Caller, q *awsquery.Request, kind string, detach bool) error {
	name, err := nameOf(q, kind, true)
	if err != nil {
		return err
	}
	arn, err := policyARN(c, q)
	if err != nil {
		return err
	}
	return s.onEntity(ctx, c, kind, name, true, func(tx coffer.Tx, e *coffer.Entity, ref coffer.EntityRef) error {
		if _, err := managedPolicy(tx, arn); err != nil {
			return err
		}
		if detach {
			err := tx.DetachPolicy(ref, arn)
			if coffer.IsNotFound(err) {
				return coffer.Errorf(ErrNoSuchEntity, "Policy %s was not found.", arn)
			}
			return err
		}
		return tx.AttachPolicy(ref, arn)
	})
}

type attachedResult struct {
	AttachedPolicies []attachedXML `xml:"AttachedPolicies>member"`
	IsTruncated      bool
}

func (s *Service) listAttached(ctx context.Context, c Caller, q *awsquery.Request, kind string) (any, error) {
	name, err := nameOf(q, kind, true)
	if err != nil {
		return nil, err
	}
	out := &attachedResult{}
	err = s.onEntity(ctx, c, kind, name, false, func(tx coffer.Tx, e *coffer.Entity, ref coffer.EntityRef) error {
		arns, err := tx.AttachedPolicies(ref)
		if err != nil {
			return err
		}
		out.AttachedPolicies = out.AttachedPolicies[:0]
		for _, a := range arns {
			out.AttachedPolicies = append(out.AttachedPolicies, attachedXML{PolicyName: a[lastSlash(a)+1:], PolicyArn: a})
		}
		return nil
	})
	return out, err
}

// Inline policies.

func inlineParams(q *awsquery.Request, kind string, withDoc bool) (name, policyName, doc string, err error) {
	k := kinds[kind]
	p := &params{q: q}
	name = p.str(k.param, k.member, true, 1, 128, namePattern)
	policyName = p.str("PolicyName", "policyName", true, 1, 128, namePattern)
	if withDoc {
		doc = p.str("PolicyDocument", "policyDocument", true, 1, 131072, nil)
	}
	return name, policyName, doc, p.v.err()
}

func (s *Service) putInline(ctx context.Context, c Caller, q *awsquery.Request, kind string) error {
	name, pname, doc, err := inlineParams(q, kind, true)
	if err != nil {
		return err
	}
	if _, err := checkDocument(doc, false); err != nil {
		return err
	}
	return s.onEntity(ctx, c, kind, name, true, func(tx coffer.Tx, e *coffer.Entity, ref coffer.EntityRef) error {
		return tx.PutInlinePolicy(ref, pname, doc)
	})
}

type inlineResult struct {
	UserName       string `xml:",omitempty"`
	GroupName      string `xml:",omitempty"`
	RoleName       string `xml:",omitempty"`
	PolicyName     string
	PolicyDocument string
}

func (s *Service) getInline(ctx context.Context, c Caller, q *awsquery.Request, kind string) (any, error) {
	name, pname, _, err := inlineParams(q, kind, false)
	if err != nil {
		return nil, err
	}
	out := &inlineResult{PolicyName: pname}
	err = s.onEntity(ctx, c, kind, name, false, func(tx coffer.Tx, e *coffer.Entity, ref coffer.EntityRef) error {
		doc, err := tx.InlinePolicy(ref, pname)
		if coffer.IsNotFound(err) {
			return coffer.Errorf(ErrNoSuchEntity, "The %s policy with name %s cannot be found.", kinds[kind].noun, pname)
		}
		if err != nil {
			return err
		}
		out.PolicyDocument = encodeDocument(doc)
		switch kind {
		case coffer.EntityUser:
			out.UserName = e.Name
		case coffer.EntityGroup:
			out.GroupName = e.Name
		default:
			out.RoleName = e.Name
		}
		return nil
	})
	return out, err
}

func (s *Service) deleteInline(ctx context.Context, c Caller, q *awsquery.Request, kind string) error {
	name, pname, _, err := inlineParams(q, kind, false)
	if err != nil {
		return err
	}
	return s.onEntity(ctx, c, kind, name, true, func(tx coffer.Tx, e *coffer.Entity, ref coffer.EntityRef) error {
		err = tx.DeleteInlinePolicy(ref, pname)
		if coffer.IsNotFound(err) {
			return coffer.Errorf(ErrNoSuchEntity, "The %s policy with name %s cannot be found.", kinds[kind].noun, pname)
		}
		return err
	})
}

type inlineNamesResult struct {
	PolicyNames []string `xml:"PolicyNames>member"`
	IsTruncated bool
}

func (s *Service) listInline(ctx context.Context, c Caller, q *awsquery.Request, kind string) (any, error) {
	name, err := nameOf(q, kind, true)
	if err != nil {
		return nil, err
	}
	out := &inlineNamesResult{}
	err = s.onEntity(ctx, c, kind, name, false, func(tx coffer.Tx, e *coffer.Entity, ref coffer.EntityRef) error {
		out.PolicyNames, err = tx.InlinePolicies(ref)
		return err
	})
	return out, err
}
