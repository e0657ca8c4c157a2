package iam

import (
	"context"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsquery"
)

type action func(s *Service, ctx context.Context, c Caller, q *awsquery.Request) (any, error)

// none adapts an action without a result.
func none(fn func(s *Service, ctx context.Context, c Caller, q *awsquery.Request) error) action {
	return func(s *Service, ctx context.Context, c Caller, q *awsquery.Request) (any, error) {
		return nil, fn(s, ctx, c, q)
	}
}

type userResult struct{ User userXML }
type groupResult struct{ Group groupXML }
type roleResult struct{ Role roleXML }
type usersResult struct {
	Users []userXML `xml:"Users>member"`
	listResult
}
type rolesResult struct {
	Roles []roleXML `xml:"Roles>member"`
	listResult
}

// Operations is the list of IAM actions coffer serves (for docs and their test).
func Operations() []string {
	out := make([]string, 0, len(actions))
	for a := range actions {
		out = append(out, a)
	}
	return out
}

var actions map[string]action

func init() {
	entityActions := func(kind string) {
		k := kinds[kind].Noun
		actions["Create"+k] = func(s *Service, ctx context.Context, c Caller, q *awsquery.Request) (any, error) {
			e, err := s.createEntity(ctx, c, q, kind)
			if err != nil {
				return nil, err
			}
			return resultOf(e), nil
		}
		actions["Delete"+k] = none(func(s *Service, ctx context.Context, c Caller, q *awsquery.Request) error {
			return s.deleteEntity(ctx, c, q, kind)
		})
		actions["Attach"+k+"Policy"] = none(func(s *Service, ctx context.Context, c Caller, q *awsquery.Request) error {
			return s.attach(ctx, c, q, kind, false)
		})
		actions["Detach"+k+"Policy"] = none(func(s *Service, ctx context.Context, c Caller, q *awsquery.Request) error {
			return s.attach(ctx, c, q, kind, true)
		})
		actions["ListAttached"+k+"Policies"] = func(s *Service, ctx context.Context, c Caller, q *awsquery.Request) (any, error) {
			return s.listAttached(ctx, c, q, kind)
		}
		actions["Put"+k+"Policy"] = none(func(s *Service, ctx context.Context, c Caller, q *awsquery.Request) error {
			return s.putInline(ctx, c, q, kind)
		})
		actions["Get"+k+"Policy"] = func(s *Service, ctx context.Context, c Caller, q *awsquery.Request) (any, error) {
			return s.getInline(ctx, c, q, kind)
		}
		actions["Delete"+k+"Policy"] = none(func(s *Service, ctx context.Context, c Caller, q *awsquery.Request) error {
			return s.deleteInline(ctx, c, q, kind)
		})
		actions["List"+k+"Policies"] = func(s *Service, ctx context.Context, c Caller, q *awsquery.Request) (any, error) {
			return s.listInline(ctx, c, q, kind)
		}
		if kind != coffer.EntityGroup {
			actions["Tag"+k] = none(func(s *Service, ctx context.Context, c Caller, q *awsquery.Request) error {
				return s.tagEntity(ctx, c, q, kind)
			})
			actions["Untag"+k] = none(func(s *Service, ctx context.Context, c Caller, q *awsquery.Request) error {
				return s.untagEntity(ctx, c, q, kind)
			})
			actions["List"+k+"Tags"] = func(s *Service, ctx context.Context, c Caller, q *awsquery.Request) (any, error) {
				return s.listEntityTags(ctx, c, q, kind)
			}
		}
	}
	actions = map[string]action{
		"GetUser": func(s *Service, ctx context.Context, c Caller, q *awsquery.Request) (any, error) {
			if _, ok := q.Get("UserName"); !ok && c.isRoot() {
				return &userResult{User: userXML{UserId: c.Account, Arn: c.PrincipalARN, CreateDate: isoTime(s.clock())}}, nil
			}
			if _, ok := q.Get("UserName"); !ok {
				arn := c.PrincipalARN
				q.Params.Set("UserName", arn[lastSlash(arn)+1:])
			}
			e, err := s.getEntity(ctx, c, q, coffer.EntityUser)
			if err != nil {
				return nil, err
			}
			return &userResult{User: userOf(e)}, nil
		},
		"GetRole": func(s *Service, ctx context.Context, c Caller, q *awsquery.Request) (any, error) {
			e, err := s.getEntity(ctx, c, q, coffer.EntityRole)
			if err != nil {
				return nil, err
			}
			return &roleResult{Role: roleOf(e, true)}, nil
		},
		"GetGroup": func(s *Service, ctx context.Context, c Caller, q *awsquery.Request) (any, error) {
			return s.getGroup(ctx, c, q)
		},
		"ListUsers": func(s *Service, ctx context.Context, c Caller, q *awsquery.Request) (any, error) {
			es, lr, err := s.listEntities(ctx, c, q, coffer.EntityUser)
			out := &usersResult{listResult: lr}
			for _, e := range es {
				out.Users = append(out.Users, userOf(e))
			}
			return out, err
		},
		"ListGroups": func(s *Service, ctx context.Context, c Caller, q *awsquery.Request) (any, error) {
			es, lr, err := s.listEntities(ctx, c, q, coffer.EntityGroup)
			out := &groupsResult{listResult: lr}
			for _, e := range es {
				out.Groups = append(out.Groups, groupOf(e))
			}
			return out, err
		},
		"ListRoles": func(s *Service, ctx context.Context, c Caller, q *awsquery.Request) (any, error) {
			es, lr, err := s.listEntities(ctx, c, q, coffer.EntityRole)
			out := &rolesResult{listResult: lr}
			for _, e := range es {
				out.Roles = append(out.Roles, roleOf(e, false))
			}
			return out, err
		},
		"AddUserToGroup":          none((*Service).addUserToGroup),
		"RemoveUserFromGroup":     none((*Service).removeUserFromGroup),
		"ListGroupsForUser":       (*Service).listGroupsForUser,
		"UpdateAssumeRolePolicy":  none((*Service).updateAssumeRolePolicy),
		"CreateAccessKey":         (*Service).createAccessKey,
		"GetAccessKeyLastUsed":    (*Service).getAccessKeyLastUsed,
		"ListAccessKeys":          (*Service).listAccessKeys,
		"UpdateAccessKey":         none((*Service).updateAccessKey),
		"DeleteAccessKey":         none((*Service).deleteAccessKey),
		"CreatePolicy":            (*Service).createPolicy,
		"GetPolicy":               (*Service).getPolicy,
		"ListPolicies":            (*Service).listPolicies,
		"DeletePolicy":            none((*Service).deletePolicy),
		"GetPolicyVersion":        (*Service).getPolicyVersion,
		"CreatePolicyVersion":     (*Service).createPolicyVersion,
		"ListPolicyVersions":      (*Service).listPolicyVersions,
		"DeletePolicyVersion":     none((*Service).deletePolicyVersion),
		"SetDefaultPolicyVersion": none((*Service).setDefaultPolicyVersion),
	}
	for _, kind := range []string{coffer.EntityUser, coffer.EntityGroup, coffer.EntityRole} {
		entityActions(kind)
	}
}

func resultOf(e *coffer.Entity) any {
	switch e.Kind {
	case coffer.EntityUser:
		return &userResult{User: userOf(e)}
	case coffer.EntityGroup:
		return &groupResult{Group: groupOf(e)}
	}
	return &roleResult{Role: roleOf(e, true)}
}
