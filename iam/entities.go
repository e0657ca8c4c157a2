package iam

import (
	"context"
	"strconv"
	"strings"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsquery"
)

// kinds describes the three entity kinds for the actions they share.
var kinds = map[string]struct {
	param, member, prefix, noun, Noun string
}{
	coffer.EntityUser:  {"UserName", "userName", "AIDA", "user", "User"},
	coffer.EntityGroup: {"GroupName", "groupName", "AGPA", "group", "Group"},
	coffer.EntityRole:  {"RoleName", "roleName", "AROA", "role", "Role"},
}

func errNoEntity(kind, name string) error {
	return coffer.Errorf(ErrNoSuchEntity, "The %s with name %s cannot be found.", kinds[kind].noun, name)
}

// entity reads the entity named by kind's parameter, NoSuchEntity when missing.
func entity(tx coffer.Tx, account, kind, name string) (*coffer.Entity, error) {
	e, err := tx.Entity(account, kind, name)
	if coffer.IsNotFound(err) {
		return nil, errNoEntity(kind, name)
	}
	return e, err
}

func (s *Service) view(ctx context.Context, fn func(coffer.Tx) error) error {
	return s.store.View(ctx, fn)
}

func (s *Service) update(ctx context.Context, fn func(coffer.Tx) error) error {
	err := s.store.Update(ctx, func(tx coffer.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return coffer.BumpAuthzGeneration(tx)
	})
	if s.onChange != nil {
		s.onChange()
	}
	return err
}

// createEntity is CreateUser, CreateGroup and CreateRole.
func (s *Service) createEntity(ctx context.Context, c Caller, q *awsquery.Request, kind string) (*coffer.Entity, error) {
	k := kinds[kind]
	p := &params{q: q}
	name := p.str(k.param, k.member, true, 1, 64, namePattern)
	path := p.str("Path", "path", false, 1, 512, pathPattern)
	e := &coffer.Entity{Account: c.Account, Kind: kind, Name: name, Path: path, CreatedDate: s.clock()}
	if kind != coffer.EntityGroup {
		e.PermissionsBoundary = p.str("PermissionsBoundary", "permissionsBoundary", false, 20, 2048, nil)
		e.Tags = p.tags()
	}
	if kind == coffer.EntityRole {
		e.AssumeRolePolicy = p.str("AssumeRolePolicyDocument", "assumeRolePolicyDocument", true, 1, 131072, nil)
		e.Description = p.str("Description", "description", false, 0, 1000, nil)
		e.MaxSessionDuration = 3600
		if n, ok := p.int("MaxSessionDuration", "maxSessionDuration", 3600, 43200); ok {
			e.MaxSessionDuration = n
		}
	}
	if err := p.v.err(); err != nil {
		return nil, err
	}
	if e.Path == "" {
		e.Path = "/"
	}
	if err := checkTags(e.Tags); err != nil {
		return nil, err
	}
	if kind == coffer.EntityRole {
		if _, err := checkDocument(e.AssumeRolePolicy, true); err != nil {
			return nil, err
		}
	}
	id, err := s.newID(k.prefix)
	if err != nil {
		return nil, err
	}
	e.ID = id
	err = s.update(ctx, func(tx coffer.Tx) error {
		if e.PermissionsBoundary != "" {
			if _, err := managedPolicy(tx, e.PermissionsBoundary); err != nil {
				return err
			}
		}
		err := tx.InsertEntity(e)
		if coffer.ErrorCode(err) == coffer.ErrResourceExists {
			return coffer.Errorf(ErrEntityAlreadyExists, "%s with name %s already exists.", k.Noun, name)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// nameOf reads the entity name parameter of kind.
func nameOf(q *awsquery.Request, kind string, required bool) (string, error) {
	k := kinds[kind]
	p := &params{q: q}
	name := p.str(k.param, k.member, required, 1, 128, namePattern)
	return name, p.v.err()
}

// getEntity reads one entity.
func (s *Service) getEntity(ctx context.Context, c Caller, q *awsquery.Request, kind string) (*coffer.Entity, error) {
	name, err := nameOf(q, kind, true)
	if err != nil {
		return nil, err
	}
	var e *coffer.Entity
	err = s.view(ctx, func(tx coffer.Tx) (err error) {
		e, err = entity(tx, c.Account, kind, name)
		return err
	})
	return e, err
}

// page reads Marker and MaxItems (1–1000, default 100).
func page(q *awsquery.Request) (after string, limit int, err error) {
	p := &params{q: q}
	limit = 100
	if n, ok := p.int("MaxItems", "maxItems", 1, 1000); ok {
		limit = n
	}
	after = p.str("Marker", "marker", false, 1, 320, nil)
	return after, limit, p.v.err()
}

type listResult struct {
	IsTruncated bool
	Marker      string `xml:",omitempty"`
}

// listEntities is ListUsers, ListGroups and ListRoles.
func (s *Service) listEntities(ctx context.Context, c Caller, q *awsquery.Request, kind string) ([]*coffer.Entity, listResult, error) {
	after, limit, err := page(q)
	if err != nil {
		return nil, listResult{}, err
	}
	p := &params{q: q}
	prefix := p.str("PathPrefix", "pathPrefix", false, 1, 512, nil)
	if err := p.v.err(); err != nil {
		return nil, listResult{}, err
	}
	var es []*coffer.Entity
	err = s.view(ctx, func(tx coffer.Tx) (err error) {
		es, err = tx.ListEntities(c.Account, kind, prefix, after, limit+1)
		return err
	})
	var lr listResult
	if len(es) > limit {
		es = es[:limit]
		lr = listResult{IsTruncated: true, Marker: es[limit-1].Name}
	}
	return es, lr, err
}

// deleteEntity is DeleteUser, DeleteGroup and DeleteRole: IAM refuses while the entity has
// access keys, group memberships or members, attached or inline policies.
func (s *Service) deleteEntity(ctx context.Context, c Caller, q *awsquery.Request, kind string) error {
	name, err := nameOf(q, kind, true)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx coffer.Tx) error {
		e, err := entity(tx, c.Account, kind, name)
		if err != nil {
			return err
		}
		ref := coffer.EntityRef{Account: c.Account, Kind: kind, Name: e.Name}
		if kind == coffer.EntityUser {
			if ks, err := tx.AccessKeysOf(e.ARN()); err != nil || len(ks) > 0 {
				return firstErr(err, coffer.Errorf(ErrDeleteConflict, "Cannot delete entity, must delete access keys first."))
			}
			if gs, err := tx.GroupsOf(c.Account, e.Name); err != nil || len(gs) > 0 {
				return firstErr(err, coffer.Errorf(ErrDeleteConflict, "Cannot delete entity, must remove users from group first."))
			}
		}
		if kind == coffer.EntityGroup {
			if ms, err := tx.MembersOf(c.Account, e.Name); err != nil || len(ms) > 0 {
				return firstErr(err, coffer.Errorf(ErrDeleteConflict, "Cannot delete entity, must remove users from group first."))
			}
		}
		if ps, err := tx.AttachedPolicies(ref); err != nil || len(ps) > 0 {
			return firstErr(err, coffer.Errorf(ErrDeleteConflict, "Cannot delete entity, must detach all policies first."))
		}
		if ps, err := tx.InlinePolicies(ref); err != nil || len(ps) > 0 {
			return firstErr(err, coffer.Errorf(ErrDeleteConflict, "Cannot delete entity, must delete policies first."))
		}
		return tx.DeleteEntity(c.Account, kind, e.Name)
	})
}

func firstErr(err, other error) error {
	if err != nil {
		return err
	}
	return other
}

// Tags of users and roles.

func (s *Service) tagEntity(ctx context.Context, c Caller, q *awsquery.Request, kind string) error {
	name, err := nameOf(q, kind, true)
	if err != nil {
		return err
	}
	add := (&params{q: q}).tags()
	if err := checkTags(add); err != nil {
		return err
	}
	return s.update(ctx, func(tx coffer.Tx) error {
		e, err := entity(tx, c.Account, kind, name)
		if err != nil {
			return err
		}
		for _, t := range add {
			found := false
			for i := range e.Tags {
				if strings.EqualFold(e.Tags[i].Key, t.Key) {
					e.Tags[i], found = t, true
				}
			}
			if !found {
				e.Tags = append(e.Tags, t)
			}
		}
		if err := checkTags(e.Tags); err != nil {
			return err
		}
		return tx.UpdateEntity(e)
	})
}

func (s *Service) untagEntity(ctx context.Context, c Caller, q *awsquery.Request, kind string) error {
	name, err := nameOf(q, kind, true)
	if err != nil {
		return err
	}
	keys := q.List("TagKeys")
	return s.update(ctx, func(tx coffer.Tx) error {
		e, err := entity(tx, c.Account, kind, name)
		if err != nil {
			return err
		}
		kept := e.Tags[:0:0]
		for _, t := range e.Tags {
			drop := false
			for _, k := range keys {
				drop = drop || strings.EqualFold(k, t.Key)
			}
			if !drop {
				kept = append(kept, t)
			}
		}
		e.Tags = kept
		return tx.UpdateEntity(e)
	})
}

type listTagsResult struct {
	Tags        []tagXML `xml:"Tags>member"`
	IsTruncated bool
}

func (s *Service) listEntityTags(ctx context.Context, c Caller, q *awsquery.Request, kind string) (any, error) {
	e, err := s.getEntity(ctx, c, q, kind)
	if err != nil {
		return nil, err
	}
	return &listTagsResult{Tags: tagsXML(e.Tags)}, nil
}

// Groups and their members.

// membership resolves the GroupName and UserName of a request and runs change with their
// stored names in a write transaction.
func (s *Service) membership(ctx context.Context, c Caller, q *awsquery.Request, change func(tx coffer.Tx, group, user string) error) error {
	group, err := nameOf(q, coffer.EntityGroup, true)
	if err != nil {
		return err
	}
	user, err := nameOf(q, coffer.EntityUser, true)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx coffer.Tx) error {
		g, err := entity(tx, c.Account, coffer.EntityGroup, group)
		if err != nil {
			return err
		}
		u, err := entity(tx, c.Account, coffer.EntityUser, user)
		if err != nil {
			return err
		}
		return change(tx, g.Name, u.Name)
	})
}

func (s *Service) addUserToGroup(ctx context.Context, c Caller, q *awsquery.Request) error {
	return s.membership(ctx, c, q, func(tx coffer.Tx, group, user string) error {
		return tx.AddGroupMember(c.Account, group, user)
	})
}

func (s *Service) removeUserFromGroup(ctx context.Context, c Caller, q *awsquery.Request) error {
	return s.membership(ctx, c, q, func(tx coffer.Tx, group, user string) error {
		err := tx.RemoveGroupMember(c.Account, group, user)
		if coffer.IsNotFound(err) {
			return coffer.Errorf(ErrNoSuchEntity, "The user with name %s cannot be found in group %s.", user, group)
		}
		return err
	})
}

// onEntity runs fn, in a read (write false) or write transaction, with the entity of kind
// named name (NoSuchEntity when missing) and its reference.
func (s *Service) onEntity(ctx context.Context, c Caller, kind, name string, write bool, fn func(tx coffer.Tx, e *coffer.Entity, ref coffer.EntityRef) error) error {
	run := s.view
	if write {
		run = s.update
	}
	return run(ctx, func(tx coffer.Tx) error {
		e, err := entity(tx, c.Account, kind, name)
		if err != nil {
			return err
		}
		return fn(tx, e, coffer.EntityRef{Account: c.Account, Kind: kind, Name: e.Name})
	})
}

type getGroupResult struct {
	Group       groupXML
	Users       []userXML `xml:"Users>member"`
	IsTruncated bool
}

func (s *Service) getGroup(ctx context.Context, c Caller, q *awsquery.Request) (any, error) {
	name, err := nameOf(q, coffer.EntityGroup, true)
	if err != nil {
		return nil, err
	}
	out := &getGroupResult{}
	err = s.view(ctx, func(tx coffer.Tx) error {
		g, err := entity(tx, c.Account, coffer.EntityGroup, name)
		if err != nil {
			return err
		}
		out.Group = groupOf(g)
		members, err := tx.MembersOf(c.Account, g.Name)
		if err != nil {
			return err
		}
		out.Users = out.Users[:0]
		for _, m := range members {
			u, err := tx.Entity(c.Account, coffer.EntityUser, m)
			if err != nil {
				return err
			}
			out.Users = append(out.Users, userOf(u))
		}
		return nil
	})
	return out, err
}

type groupsResult struct {
	Groups []groupXML `xml:"Groups>member"`
	listResult
}

func (s *Service) listGroupsForUser(ctx context.Context, c Caller, q *awsquery.Request) (any, error) {
	name, err := nameOf(q, coffer.EntityUser, true)
	if err != nil {
		return nil, err
	}
	out := &groupsResult{}
	err = s.view(ctx, func(tx coffer.Tx) error {
		u, err := entity(tx, c.Account, coffer.EntityUser, name)
		if err != nil {
			return err
		}
		names, err := tx.GroupsOf(c.Account, u.Name)
		if err != nil {
			return err
		}
		out.Groups = out.Groups[:0]
		for _, n := range names {
			g, err := tx.Entity(c.Account, coffer.EntityGroup, n)
			if err != nil {
				return err
			}
			out.Groups = append(out.Groups, groupOf(g))
		}
		return nil
	})
	return out, err
}

// updateAssumeRolePolicy replaces a role's trust policy.
func (s *Service) updateAssumeRolePolicy(ctx context.Context, c Caller, q *awsquery.Request) error {
	p := &params{q: q}
	name := p.str("RoleName", "roleName", true, 1, 64, namePattern)
	doc := p.str("PolicyDocument", "policyDocument", true, 1, 131072, nil)
	if err := p.v.err(); err != nil {
		return err
	}
	if _, err := checkDocument(doc, true); err != nil {
		return err
	}
	return s.update(ctx, func(tx coffer.Tx) error {
		e, err := entity(tx, c.Account, coffer.EntityRole, name)
		if err != nil {
			return err
		}
		e.AssumeRolePolicy = doc
		return tx.UpdateEntity(e)
	})
}

func itoa(i int) string { return strconv.Itoa(i) }
