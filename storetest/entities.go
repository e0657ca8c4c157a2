package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

// entityID returns a 21-character IAM-style id of kind, distinct for each n.
func entityID(kind string, n int) string {
	prefix := map[string]string{coffer.EntityUser: "AIDA", coffer.EntityGroup: "AGPA", coffer.EntityRole: "AROA"}[kind]
	return fmt.Sprintf("%s%017d", prefix, n)
}

// newEntity returns a minimal entity: path "/", no tags, no optional field.
func newEntity(account, kind, name string, n int) *coffer.Entity {
	return &coffer.Entity{Account: account, Kind: kind, Name: name, Path: "/", ID: entityID(kind, n), CreatedDate: at(time.Duration(n) * time.Second)}
}

// fullEntity returns an entity with every field set to a distinct, non-default value.
func fullEntity(account, kind, name string, n int) *coffer.Entity {
	e := newEntity(account, kind, name, n)
	e.Path = "/division/Ünïcode team/"
	e.CreatedDate = at(time.Duration(n)*time.Hour + 7*time.Millisecond)
	e.Tags = []coffer.Tag{{Key: "team", Value: "payments"}, {Key: "env", Value: "prod"}, {Key: "Ärger", Value: ""}, {Key: "a", Value: "z"}}
	e.PermissionsBoundary = "arn:aws:iam::111111111111:policy/boundary"
	e.AssumeRolePolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	e.Description = "Ünïcode description — with \"quotes\", 'apostrophes' and a\nnewline"
	e.MaxSessionDuration = 7200
	return e
}

// diffEntity lists the fields in which got differs from want. Tags compare in order, and a
// nil Tags differs from an empty one.
func diffEntity(got, want *coffer.Entity) []string {
	var d []string
	str := func(field, got, want string) {
		if got != want {
			d = append(d, fmt.Sprintf("%s: got %q, want %q", field, got, want))
		}
	}
	str("Account", got.Account, want.Account)
	str("Kind", got.Kind, want.Kind)
	str("Name", got.Name, want.Name)
	str("Path", got.Path, want.Path)
	str("ID", got.ID, want.ID)
	if s := diffTime("CreatedDate", got.CreatedDate, want.CreatedDate); s != "" {
		d = append(d, s)
	}
	if !slices.Equal(got.Tags, want.Tags) {
		d = append(d, fmt.Sprintf("Tags: got %q, want %q", got.Tags, want.Tags))
	}
	if (got.Tags == nil) != (want.Tags == nil) {
		d = append(d, fmt.Sprintf("Tags: got nil %v, want nil %v (nil is never set, empty is all removed)", got.Tags == nil, want.Tags == nil))
	}
	str("PermissionsBoundary", got.PermissionsBoundary, want.PermissionsBoundary)
	str("AssumeRolePolicy", got.AssumeRolePolicy, want.AssumeRolePolicy)
	str("Description", got.Description, want.Description)
	if got.MaxSessionDuration != want.MaxSessionDuration {
		d = append(d, fmt.Sprintf("MaxSessionDuration: got %d, want %d", got.MaxSessionDuration, want.MaxSessionDuration))
	}
	return d
}

// getEntity reads an entity in its own View.
func getEntity(t *testing.T, s coffer.Store, account, kind, name string) (*coffer.Entity, error) {
	t.Helper()
	var got *coffer.Entity
	err := s.View(t.Context(), func(tx coffer.Tx) error {
		var err error
		got, err = tx.Entity(account, kind, name)
		return err
	})
	return got, err
}

// checkEntity fails the test unless the entity (account, kind, name) reads back as want.
func checkEntity(t *testing.T, s coffer.Store, what, account, kind, name string, want *coffer.Entity) {
	t.Helper()
	got, err := getEntity(t, s, account, kind, name)
	if err != nil {
		t.Errorf("%s: Entity(%s, %s, %q): %v", what, account, kind, name, err)
		return
	}
	for _, d := range diffEntity(got, want) {
		t.Errorf("%s: %s", what, d)
	}
}

// insertEntities inserts every entity in one transaction.
func insertEntities(t *testing.T, s coffer.Store, es ...*coffer.Entity) {
	t.Helper()
	update(t, s, func(tx coffer.Tx) error {
		for _, e := range es {
			if err := tx.InsertEntity(e); err != nil {
				return fmt.Errorf("InsertEntity(%s %q): %w", e.Kind, e.Name, err)
			}
		}
		return nil
	})
}

var entityKinds = []string{coffer.EntityUser, coffer.EntityGroup, coffer.EntityRole}

func testEntityRoundTrip(t *testing.T, s coffer.Store) {
	var all []*coffer.Entity
	for i, kind := range entityKinds {
		full := fullEntity(accountA, kind, "Full-"+kind, 10*i+1)
		bare := newEntity(accountA, kind, "bare."+kind, 10*i+2) // nil Tags: never set
		empty := newEntity(accountA, kind, "empty@"+kind, 10*i+3)
		empty.Tags = []coffer.Tag{} // set, then all removed
		all = append(all, full, bare, empty)
	}
	insertEntities(t, s, all...)
	for _, e := range all {
		checkEntity(t, s, e.Kind+" "+e.Name, e.Account, e.Kind, e.Name, e)
	}
	for _, kind := range entityKinds {
		_, err := getEntity(t, s, accountA, kind, "missing")
		wantNotFound(t, "Entity of a missing "+kind, err)
		// The same name is another entity in another account or of another kind.
		_, err = getEntity(t, s, accountB, kind, "Full-"+kind)
		wantNotFound(t, "Entity of another account", err)
	}
	_, err := getEntity(t, s, accountA, coffer.EntityGroup, "Full-user")
	wantNotFound(t, "Entity of another kind", err)
}

func testEntityNames(t *testing.T, s coffer.Store) {
	alice := fullEntity(accountA, coffer.EntityUser, "Alice", 1)
	insertEntities(t, s, alice)

	// Names compare case-insensitively within an account and kind; the transaction stays
	// usable after each collision.
	var group, other *coffer.Entity
	update(t, s, func(tx coffer.Tx) error {
		err := tx.InsertEntity(newEntity(accountA, coffer.EntityUser, "ALICE", 2))
		wantExists(t, "InsertEntity of ALICE when Alice exists", err)
		err = tx.InsertEntity(newEntity(accountA, coffer.EntityUser, "alice", 3))
		wantExists(t, "InsertEntity of alice when Alice exists", err)
		dupID := newEntity(accountA, coffer.EntityUser, "bob", 4)
		dupID.ID = alice.ID
		wantExists(t, "InsertEntity of a used ID", tx.InsertEntity(dupID))
		// Another kind or another account may use the name.
		group = newEntity(accountA, coffer.EntityGroup, "alice", 5)
		other = newEntity(accountB, coffer.EntityUser, "ALICE", 6)
		if err := tx.InsertEntity(group); err != nil {
			return fmt.Errorf("InsertEntity of a group named as a user: %w", err)
		}
		return tx.InsertEntity(other)
	})
	for _, name := range []string{"Alice", "alice", "ALICE", "aLiCe"} {
		checkEntity(t, s, "lookup as "+name, accountA, coffer.EntityUser, name, alice)
	}
	checkEntity(t, s, "group of the same name", accountA, coffer.EntityGroup, "ALICE", group)
	checkEntity(t, s, "user of another account", accountB, coffer.EntityUser, "alice", other)
	_, err := getEntity(t, s, accountA, coffer.EntityUser, "bob")
	wantNotFound(t, "Entity whose insert collided on its ID", err)
}

func testUpdateEntity(t *testing.T, s coffer.Store) {
	role := fullEntity(accountA, coffer.EntityRole, "Deployer", 1)
	user := newEntity(accountA, coffer.EntityUser, "Ops", 2)
	insertEntities(t, s, role, user)

	// Every field but account, kind, name, ID and creation date changes; the name may be
	// given in any case.
	changed := *role
	changed.Name = "DEPLOYER"
	changed.ID = entityID(coffer.EntityRole, 99)
	changed.CreatedDate = at(99 * time.Hour)
	changed.Path = "/new/path/"
	changed.Tags = []coffer.Tag{{Key: "z", Value: "1"}, {Key: "a", Value: "2"}}
	changed.PermissionsBoundary = ""
	changed.AssumeRolePolicy = `{"Version":"2012-10-17","Statement":[]}`
	changed.Description = "changed"
	changed.MaxSessionDuration = 43200
	userTags := *user
	userTags.Tags = []coffer.Tag{}
	userTags.PermissionsBoundary = "arn:aws:iam::111111111111:policy/b"
	update(t, s, func(tx coffer.Tx) error {
		if err := tx.UpdateEntity(&changed); err != nil {
			return err
		}
		return tx.UpdateEntity(&userTags)
	})
	want := changed
	want.Name, want.ID, want.CreatedDate = role.Name, role.ID, role.CreatedDate
	checkEntity(t, s, "role after UpdateEntity", accountA, coffer.EntityRole, "deployer", &want)
	checkEntity(t, s, "user after UpdateEntity to empty tags", accountA, coffer.EntityUser, "Ops", &userTags)

	// Back to nil tags.
	nilTags := userTags
	nilTags.Tags = nil
	update(t, s, func(tx coffer.Tx) error { return tx.UpdateEntity(&nilTags) })
	checkEntity(t, s, "user after UpdateEntity to nil tags", accountA, coffer.EntityUser, "Ops", &nilTags)

	for _, e := range []*coffer.Entity{
		newEntity(accountA, coffer.EntityUser, "missing", 3),
		newEntity(accountB, coffer.EntityRole, "Deployer", 4),
		newEntity(accountA, coffer.EntityGroup, "Ops", 5),
	} {
		err := s.Update(t.Context(), func(tx coffer.Tx) error { return tx.UpdateEntity(e) })
		wantNotFound(t, fmt.Sprintf("UpdateEntity of missing %s %s %s", e.Account, e.Kind, e.Name), err)
	}
}

// entityNames returns the names of es, in order.
func entityNames(es []*coffer.Entity) []string {
	names := make([]string, 0, len(es))
	for _, e := range es {
		names = append(names, e.Name)
	}
	return names
}

// listEntities calls ListEntities in its own View.
func listEntities(t *testing.T, s coffer.Store, account, kind, prefix, after string, limit int) []*coffer.Entity {
	t.Helper()
	var got []*coffer.Entity
	view(t, s, func(tx coffer.Tx) error {
		var err error
		got, err = tx.ListEntities(account, kind, prefix, after, limit)
		return err
	})
	return got
}

func testListEntities(t *testing.T, s coffer.Store) {
	paths := map[string]string{"bob": "/", "Alice": "/eng/", "carol": "/eng/sub/", "Dave": "/ops/", "eve": "/engineering/", "_frank": "/"}
	var users []*coffer.Entity
	n := 0
	for _, name := range []string{"eve", "Dave", "bob", "_frank", "carol", "Alice"} {
		n++
		u := newEntity(accountA, coffer.EntityUser, name, n)
		u.Path = paths[name]
		if name == "carol" {
			u = fullEntity(accountA, coffer.EntityUser, name, n)
			u.Path = paths[name]
		}
		users = append(users, u)
	}
	insertEntities(t, s, users...)
	// Entities of another kind or account never show.
	insertEntities(t, s, newEntity(accountA, coffer.EntityGroup, "aaron", 100), newEntity(accountA, coffer.EntityRole, "bea", 101),
		newEntity(accountB, coffer.EntityUser, "abe", 102))

	byName := map[string]*coffer.Entity{}
	for _, u := range users {
		byName[u.Name] = u
	}
	// The order is that of the lower-cased names, byte by byte: "_frank" ('_' is 0x5f) comes
	// before "alice" and "dave", though as written it would come after "Alice" and "Dave".
	all := []string{"_frank", "Alice", "bob", "carol", "Dave", "eve"}
	for _, tc := range []struct {
		what, prefix, after string
		limit               int
		want                []string
	}{
		{"everything", "", "", 0, all},
		{"prefix /", "/", "", 0, all},
		{"prefix /eng/", "/eng/", "", 0, []string{"Alice", "carol"}},
		{"prefix /eng", "/eng", "", 0, []string{"Alice", "carol", "eve"}},
		{"prefix /ops/", "/ops/", "", 0, []string{"Dave"}},
		{"prefix of nothing", "/nothing/", "", 0, nil},
		{"limit", "", "", 2, []string{"_frank", "Alice"}},
		{"after", "", "alice", 2, []string{"bob", "carol"}},
		{"after in another case", "", "BOB", 0, []string{"carol", "Dave", "eve"}},
		{"after a name not stored", "", "c", 0, []string{"carol", "Dave", "eve"}},
		{"after the last", "", "eve", 0, nil},
		{"negative limit", "", "", -1, all},
		{"prefix and after", "/eng", "alice", 1, []string{"carol"}},
	} {
		got := listEntities(t, s, accountA, coffer.EntityUser, tc.prefix, tc.after, tc.limit)
		if !slices.Equal(entityNames(got), tc.want) {
			t.Errorf("ListEntities %s: got %q, want %q", tc.what, entityNames(got), tc.want)
			continue
		}
		for _, e := range got {
			for _, d := range diffEntity(e, byName[e.Name]) {
				t.Errorf("ListEntities %s, %s: %s", tc.what, e.Name, d)
			}
		}
	}

	// Paging one at a time walks every user once.
	var walked []string
	after := ""
	for range len(all) + 1 {
		page := listEntities(t, s, accountA, coffer.EntityUser, "", after, 1)
		if len(page) == 0 {
			break
		}
		walked = append(walked, page[0].Name)
		after = page[0].Name
	}
	if !slices.Equal(walked, all) {
		t.Errorf("ListEntities page by page: got %q, want %q", walked, all)
	}

	if got := entityNames(listEntities(t, s, accountA, coffer.EntityGroup, "", "", 0)); !slices.Equal(got, []string{"aaron"}) {
		t.Errorf("ListEntities of groups: got %q, want [aaron]", got)
	}
	if got := entityNames(listEntities(t, s, accountB, coffer.EntityUser, "", "", 0)); !slices.Equal(got, []string{"abe"}) {
		t.Errorf("ListEntities of another account: got %q, want [abe]", got)
	}
	if got := listEntities(t, s, "333333333333", coffer.EntityUser, "", "", 0); len(got) != 0 {
		t.Errorf("ListEntities of an account without users: got %q, want none", entityNames(got))
	}
}

// groupsOf and membersOf call GroupsOf and MembersOf in their own View.
func groupsOf(t *testing.T, s coffer.Store, account, user string) ([]string, error) {
	t.Helper()
	var got []string
	err := s.View(t.Context(), func(tx coffer.Tx) error {
		var err error
		got, err = tx.GroupsOf(account, user)
		return err
	})
	return got, err
}

func membersOf(t *testing.T, s coffer.Store, account, group string) ([]string, error) {
	t.Helper()
	var got []string
	err := s.View(t.Context(), func(tx coffer.Tx) error {
		var err error
		got, err = tx.MembersOf(account, group)
		return err
	})
	return got, err
}

// checkNames fails the test unless names, err are want and no error.
func checkNames(t *testing.T, what string, got []string, err error, want ...string) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}

func testGroupMembers(t *testing.T, s coffer.Store) {
	insertEntities(t, s,
		newEntity(accountA, coffer.EntityUser, "Zed", 1), newEntity(accountA, coffer.EntityUser, "amy", 2),
		newEntity(accountA, coffer.EntityUser, "Bob", 3), newEntity(accountA, coffer.EntityUser, "lonely", 4),
		newEntity(accountA, coffer.EntityGroup, "devs", 5), newEntity(accountA, coffer.EntityGroup, "Admins", 6),
		newEntity(accountA, coffer.EntityGroup, "empty", 7),
		newEntity(accountB, coffer.EntityUser, "amy", 8), newEntity(accountB, coffer.EntityGroup, "devs", 9))

	update(t, s, func(tx coffer.Tx) error {
		for _, m := range [][2]string{{"devs", "Zed"}, {"DEVS", "AMY"}, {"devs", "bob"}, {"Admins", "amy"},
			{"admins", "Zed"}, {"devs", "amy"} /* again */, {"Devs", "Zed"} /* again */} {
			if err := tx.AddGroupMember(accountA, m[0], m[1]); err != nil {
				return fmt.Errorf("AddGroupMember(%s, %s): %w", m[0], m[1], err)
			}
		}
		return tx.AddGroupMember(accountB, "devs", "amy")
	})
	// Adding again, in a later transaction, changes nothing either.
	update(t, s, func(tx coffer.Tx) error { return tx.AddGroupMember(accountA, "devs", "Zed") })

	got, err := membersOf(t, s, accountA, "devs")
	checkNames(t, "MembersOf devs", got, err, "amy", "Bob", "Zed")
	got, err = membersOf(t, s, accountA, "ADMINS")
	checkNames(t, "MembersOf ADMINS", got, err, "amy", "Zed")
	got, err = groupsOf(t, s, accountA, "zed")
	checkNames(t, "GroupsOf zed", got, err, "Admins", "devs")
	got, err = groupsOf(t, s, accountA, "Bob")
	checkNames(t, "GroupsOf Bob", got, err, "devs")
	got, err = groupsOf(t, s, accountB, "amy")
	checkNames(t, "GroupsOf amy of account B", got, err, "devs")
	got, err = membersOf(t, s, accountB, "devs")
	checkNames(t, "MembersOf devs of account B", got, err, "amy")
	got, err = groupsOf(t, s, accountA, "lonely")
	checkNames(t, "GroupsOf a user in no group", got, err)
	got, err = membersOf(t, s, accountA, "empty")
	checkNames(t, "MembersOf an empty group", got, err)
	_, err = groupsOf(t, s, accountA, "missing")
	wantNotFound(t, "GroupsOf a missing user", err)
	_, err = membersOf(t, s, accountA, "missing")
	wantNotFound(t, "MembersOf a missing group", err)
	_, err = membersOf(t, s, accountA, "amy") // a user, not a group
	wantNotFound(t, "MembersOf a user", err)

	for _, m := range []struct{ what, account, group, user string }{
		{"missing group", accountA, "missing", "amy"},
		{"missing user", accountA, "devs", "missing"},
		{"group given as user", accountA, "amy", "Zed"},
		{"user of another account", accountB, "devs", "Zed"},
	} {
		err := s.Update(t.Context(), func(tx coffer.Tx) error { return tx.AddGroupMember(m.account, m.group, m.user) })
		wantNotFound(t, "AddGroupMember of a "+m.what, err)
	}

	update(t, s, func(tx coffer.Tx) error {
		if err := tx.RemoveGroupMember(accountA, "Devs", "ZED"); err != nil {
			return err
		}
		wantNotFound(t, "RemoveGroupMember again", tx.RemoveGroupMember(accountA, "devs", "Zed"))
		wantNotFound(t, "RemoveGroupMember of a user not in the group", tx.RemoveGroupMember(accountA, "admins", "Bob"))
		wantNotFound(t, "RemoveGroupMember of a missing group", tx.RemoveGroupMember(accountA, "missing", "amy"))
		// The transaction stays usable.
		return tx.RemoveGroupMember(accountA, "admins", "amy")
	})
	got, err = membersOf(t, s, accountA, "devs")
	checkNames(t, "MembersOf devs after RemoveGroupMember", got, err, "amy", "Bob")
	got, err = groupsOf(t, s, accountA, "Zed")
	checkNames(t, "GroupsOf Zed after RemoveGroupMember", got, err, "Admins")
	got, err = groupsOf(t, s, accountA, "amy")
	checkNames(t, "GroupsOf amy after RemoveGroupMember", got, err, "devs")
	got, err = membersOf(t, s, accountB, "devs")
	checkNames(t, "MembersOf devs of account B after removals in A", got, err, "amy")
}

func testDeleteEntity(t *testing.T, s coffer.Store) {
	insertEntities(t, s,
		newEntity(accountA, coffer.EntityUser, "Gone", 1), newEntity(accountA, coffer.EntityUser, "stays", 2),
		newEntity(accountA, coffer.EntityGroup, "Team", 3), newEntity(accountA, coffer.EntityGroup, "other", 4),
		newEntity(accountA, coffer.EntityRole, "Gone", 5), newEntity(accountB, coffer.EntityUser, "Gone", 6))
	pol := newPolicy(accountA, "pol", 1)
	insertPolicies(t, s, pol)
	gone, stays := ref(accountA, coffer.EntityUser, "Gone"), ref(accountA, coffer.EntityUser, "stays")
	team, other := ref(accountA, coffer.EntityGroup, "Team"), ref(accountA, coffer.EntityGroup, "other")
	roleGone, userB := ref(accountA, coffer.EntityRole, "Gone"), ref(accountB, coffer.EntityUser, "Gone")
	update(t, s, func(tx coffer.Tx) error {
		for _, m := range [][2]string{{"Team", "Gone"}, {"Team", "stays"}, {"other", "Gone"}, {"other", "stays"}} {
			if err := tx.AddGroupMember(accountA, m[0], m[1]); err != nil {
				return err
			}
		}
		for _, e := range []coffer.EntityRef{gone, stays, team, other, roleGone, userB} {
			if e != userB {
				if err := tx.AttachPolicy(e, pol.ARN()); err != nil {
					return err
				}
			}
			if err := tx.PutInlinePolicy(e, "inline", e.Kind+" "+e.Name); err != nil {
				return err
			}
		}
		return nil
	})

	// Deleting the user takes its memberships, attachments and inline policies with it, and
	// nothing of the role or the other account's user of the same name.
	update(t, s, func(tx coffer.Tx) error { return tx.DeleteEntity(accountA, coffer.EntityUser, "GONE") })
	_, err := getEntity(t, s, accountA, coffer.EntityUser, "Gone")
	wantNotFound(t, "Entity after DeleteEntity", err)
	names, err := membersOf(t, s, accountA, "Team")
	checkNames(t, "MembersOf Team after deleting a member", names, err, "stays")
	names, err = membersOf(t, s, accountA, "other")
	checkNames(t, "MembersOf other after deleting a member", names, err, "stays")
	refs, err := policyAttachments(t, s, pol.ARN())
	checkRefs(t, "PolicyAttachments after deleting a user", refs, err, other, team, roleGone, stays)
	err = s.Update(t.Context(), func(tx coffer.Tx) error { return tx.DeleteEntity(accountA, coffer.EntityUser, "Gone") })
	wantNotFound(t, "DeleteEntity again", err)

	// A user created again under the name starts with nothing.
	insertEntities(t, s, newEntity(accountA, coffer.EntityUser, "gone", 7))
	names, err = groupsOf(t, s, accountA, "gone")
	checkNames(t, "GroupsOf a user created again", names, err)
	names, err = attachedPolicies(t, s, gone)
	checkNames(t, "AttachedPolicies of a user created again", names, err)
	names, err = inlinePolicies(t, s, gone)
	checkNames(t, "InlinePolicies of a user created again", names, err)
	for _, e := range []coffer.EntityRef{roleGone, userB} {
		names, err = inlinePolicies(t, s, e)
		checkNames(t, fmt.Sprintf("InlinePolicies of %v, named as the deleted user", e), names, err, "inline")
	}

	// Deleting a group takes its memberships from its users' side too.
	update(t, s, func(tx coffer.Tx) error { return tx.DeleteEntity(accountA, coffer.EntityGroup, "team") })
	names, err = groupsOf(t, s, accountA, "stays")
	checkNames(t, "GroupsOf stays after deleting a group", names, err, "other")
	refs, err = policyAttachments(t, s, pol.ARN())
	checkRefs(t, "PolicyAttachments after deleting a group", refs, err, other, roleGone, stays)
	_, err = inlinePolicies(t, s, team)
	wantNotFound(t, "InlinePolicies of a deleted group", err)

	update(t, s, func(tx coffer.Tx) error { return tx.DeleteEntity(accountA, coffer.EntityRole, "Gone") })
	refs, err = policyAttachments(t, s, pol.ARN())
	checkRefs(t, "PolicyAttachments after deleting a role", refs, err, other, stays)
	err = s.Update(t.Context(), func(tx coffer.Tx) error { return tx.DeleteEntity(accountA, coffer.EntityRole, "stays") })
	wantNotFound(t, "DeleteEntity of a name of another kind", err)
}
