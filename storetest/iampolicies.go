package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

// newPolicy returns a managed policy of account named name at path "/", without tags.
func newPolicy(account, name string, n int) *coffer.ManagedPolicy {
	return &coffer.ManagedPolicy{Account: account, Name: name, Path: "/", ID: fmt.Sprintf("ANPA%017d", n),
		DefaultVersion: "v1", CreatedDate: at(time.Duration(n) * time.Second), UpdateDate: at(time.Duration(n) * time.Second)}
}

// fullPolicy returns a managed policy with every field set to a distinct, non-default value.
func fullPolicy(account, name string, n int) *coffer.ManagedPolicy {
	p := newPolicy(account, name, n)
	p.Path = "/app/Ünïcode/"
	p.Description = "Ünïcode description — with \"quotes\", 'apostrophes' and a\nnewline"
	p.DefaultVersion = "v3"
	p.CreatedDate = at(time.Duration(n)*time.Hour + 3*time.Millisecond)
	p.UpdateDate = at(time.Duration(n)*time.Hour + 24*time.Hour + 9*time.Millisecond)
	p.Tags = []coffer.Tag{{Key: "team", Value: "payments"}, {Key: "Ärger", Value: ""}, {Key: "a", Value: "z"}}
	return p
}

// diffPolicy lists the fields in which got differs from want; a nil Tags differs from an
// empty one.
func diffPolicy(got, want *coffer.ManagedPolicy) []string {
	var d []string
	str := func(field, got, want string) {
		if got != want {
			d = append(d, fmt.Sprintf("%s: got %q, want %q", field, got, want))
		}
	}
	str("Account", got.Account, want.Account)
	str("Name", got.Name, want.Name)
	str("Path", got.Path, want.Path)
	str("ID", got.ID, want.ID)
	str("Description", got.Description, want.Description)
	str("DefaultVersion", got.DefaultVersion, want.DefaultVersion)
	str("ARN", got.ARN(), want.ARN())
	for _, s := range []string{diffTime("CreatedDate", got.CreatedDate, want.CreatedDate), diffTime("UpdateDate", got.UpdateDate, want.UpdateDate)} {
		if s != "" {
			d = append(d, s)
		}
	}
	if !slices.Equal(got.Tags, want.Tags) || (got.Tags == nil) != (want.Tags == nil) {
		d = append(d, fmt.Sprintf("Tags: got %q (nil %v), want %q (nil %v)", got.Tags, got.Tags == nil, want.Tags, want.Tags == nil))
	}
	return d
}

// checkPolicy fails the test unless the managed policy arn reads back as want.
func checkPolicy(t *testing.T, s coffer.Store, what, arn string, want *coffer.ManagedPolicy) {
	t.Helper()
	var got *coffer.ManagedPolicy
	err := s.View(t.Context(), func(tx coffer.Tx) error {
		var err error
		got, err = tx.ManagedPolicy(arn)
		return err
	})
	if err != nil {
		t.Errorf("%s: ManagedPolicy(%s): %v", what, arn, err)
		return
	}
	for _, d := range diffPolicy(got, want) {
		t.Errorf("%s: %s", what, d)
	}
}

// insertPolicies inserts every managed policy in one transaction.
func insertPolicies(t *testing.T, s coffer.Store, ps ...*coffer.ManagedPolicy) {
	t.Helper()
	update(t, s, func(tx coffer.Tx) error {
		for _, p := range ps {
			if err := tx.InsertManagedPolicy(p); err != nil {
				return fmt.Errorf("InsertManagedPolicy(%s): %w", p.ARN(), err)
			}
		}
		return nil
	})
}

func testManagedPolicies(t *testing.T, s coffer.Store) {
	full := fullPolicy(accountA, "ReadSecrets", 1)
	bare := newPolicy(accountA, "bare", 2)
	empty := newPolicy(accountA, "empty", 3)
	empty.Tags = []coffer.Tag{}
	shipped := newPolicy("aws", "SecretsManagerReadWrite", 4)
	insertPolicies(t, s, full, bare, empty, shipped)
	for _, p := range []*coffer.ManagedPolicy{full, bare, empty, shipped} {
		checkPolicy(t, s, "ManagedPolicy "+p.Name, p.ARN(), p)
	}

	var other *coffer.ManagedPolicy
	update(t, s, func(tx coffer.Tx) error {
		// A name is unique per account case-insensitively, whatever the path.
		clash := newPolicy(accountA, "READSECRETS", 5)
		wantExists(t, "InsertManagedPolicy of READSECRETS when ReadSecrets exists", tx.InsertManagedPolicy(clash))
		clash.Path = "/other/"
		wantExists(t, "InsertManagedPolicy of READSECRETS at another path", tx.InsertManagedPolicy(clash))
		dupID := newPolicy(accountA, "dup-id", 6)
		dupID.ID = full.ID
		wantExists(t, "InsertManagedPolicy of a used ID", tx.InsertManagedPolicy(dupID))
		other = fullPolicy(accountB, "readsecrets", 7)
		return tx.InsertManagedPolicy(other)
	})
	checkPolicy(t, s, "policy of the same name in another account", other.ARN(), other)
	view(t, s, func(tx coffer.Tx) error {
		_, err := tx.ManagedPolicy("arn:aws:iam::111111111111:policy/dup-id")
		wantNotFound(t, "ManagedPolicy whose insert collided on its ID", err)
		_, err = tx.ManagedPolicy("arn:aws:iam::111111111111:policy/missing")
		wantNotFound(t, "ManagedPolicy of a missing ARN", err)
		return nil
	})

	// UpdateManagedPolicy replaces DefaultVersion, Description, UpdateDate and Tags only.
	changed := *full
	changed.DefaultVersion = "v4"
	changed.Description = ""
	changed.UpdateDate = at(1000 * time.Hour)
	changed.Tags = nil
	changed.ID = "ANPA99999999999999999"
	changed.CreatedDate = at(2000 * time.Hour)
	tagged := *bare
	tagged.Tags = []coffer.Tag{{Key: "k", Value: "v"}}
	update(t, s, func(tx coffer.Tx) error {
		if err := tx.UpdateManagedPolicy(&changed); err != nil {
			return err
		}
		return tx.UpdateManagedPolicy(&tagged)
	})
	want := changed
	want.ID, want.CreatedDate = full.ID, full.CreatedDate
	checkPolicy(t, s, "policy after UpdateManagedPolicy", full.ARN(), &want)
	checkPolicy(t, s, "tagged policy after UpdateManagedPolicy", bare.ARN(), &tagged)
	err := s.Update(t.Context(), func(tx coffer.Tx) error { return tx.UpdateManagedPolicy(newPolicy(accountA, "missing", 8)) })
	wantNotFound(t, "UpdateManagedPolicy of a missing policy", err)

	// DeleteManagedPolicy removes the policy and its versions; a policy of that name may
	// then be created again, without versions.
	update(t, s, func(tx coffer.Tx) error {
		for _, v := range []string{"v1", "v2"} {
			if err := tx.InsertPolicyVersion(&coffer.PolicyVersion{PolicyARN: full.ARN(), VersionID: v, Document: "{}", CreatedDate: at(0)}); err != nil {
				return err
			}
		}
		return tx.InsertPolicyVersion(&coffer.PolicyVersion{PolicyARN: bare.ARN(), VersionID: "v1", Document: "{}", CreatedDate: at(0)})
	})
	update(t, s, func(tx coffer.Tx) error { return tx.DeleteManagedPolicy(full.ARN()) })
	view(t, s, func(tx coffer.Tx) error {
		_, err := tx.ManagedPolicy(full.ARN())
		wantNotFound(t, "ManagedPolicy after DeleteManagedPolicy", err)
		_, err = tx.PolicyVersions(full.ARN())
		wantNotFound(t, "PolicyVersions after DeleteManagedPolicy", err)
		if vs, err := tx.PolicyVersions(bare.ARN()); err != nil || len(vs) != 1 {
			t.Errorf("PolicyVersions of another policy after DeleteManagedPolicy: %d versions, %v; want 1", len(vs), err)
		}
		return nil
	})
	err = s.Update(t.Context(), func(tx coffer.Tx) error { return tx.DeleteManagedPolicy(full.ARN()) })
	wantNotFound(t, "DeleteManagedPolicy again", err)
	insertPolicies(t, s, full)
	view(t, s, func(tx coffer.Tx) error {
		vs, err := tx.PolicyVersions(full.ARN())
		if err != nil || len(vs) != 0 {
			t.Errorf("PolicyVersions of a re-created policy: %d versions, %v; want none", len(vs), err)
		}
		return nil
	})
}

func testListManagedPolicies(t *testing.T, s coffer.Store) {
	var ps []*coffer.ManagedPolicy
	for i, np := range [][2]string{{"zeta", "/"}, {"Beta", "/app/"}, {"alpha", "/app/sub/"}, {"Gamma", "/ops/"}, {"delta", "/application/"}} {
		p := newPolicy(accountA, np[0], i+1)
		p.Path = np[1]
		if np[0] == "Beta" {
			p = fullPolicy(accountA, np[0], i+1)
			p.Path = np[1]
		}
		ps = append(ps, p)
	}
	insertPolicies(t, s, ps...)
	insertPolicies(t, s, newPolicy(accountB, "aardvark", 10), newPolicy("aws", "AdministratorAccess", 11))
	byName := map[string]*coffer.ManagedPolicy{}
	for _, p := range ps {
		byName[p.Name] = p
	}
	all := []string{"alpha", "Beta", "delta", "Gamma", "zeta"}
	for _, tc := range []struct {
		what, prefix, after string
		limit               int
		want                []string
	}{
		{"everything", "", "", 0, all},
		{"prefix /", "/", "", 0, all},
		{"prefix /app/", "/app/", "", 0, []string{"alpha", "Beta"}},
		{"prefix /app", "/app", "", 0, []string{"alpha", "Beta", "delta"}},
		{"limit", "", "", 2, []string{"alpha", "Beta"}},
		{"after in another case", "", "BETA", 2, []string{"delta", "Gamma"}},
		{"after the last", "", "zeta", 0, nil},
		{"prefix, after and limit", "/app", "alpha", 1, []string{"Beta"}},
	} {
		var got []*coffer.ManagedPolicy
		view(t, s, func(tx coffer.Tx) error {
			var err error
			got, err = tx.ListManagedPolicies(accountA, tc.prefix, tc.after, tc.limit)
			return err
		})
		var names []string
		for _, p := range got {
			names = append(names, p.Name)
		}
		if !slices.Equal(names, tc.want) {
			t.Errorf("ListManagedPolicies %s: got %q, want %q", tc.what, names, tc.want)
			continue
		}
		for _, p := range got {
			for _, d := range diffPolicy(p, byName[p.Name]) {
				t.Errorf("ListManagedPolicies %s, %s: %s", tc.what, p.Name, d)
			}
		}
	}
	view(t, s, func(tx coffer.Tx) error {
		for account, want := range map[string][]string{accountB: {"aardvark"}, "aws": {"AdministratorAccess"}, "333333333333": nil} {
			got, err := tx.ListManagedPolicies(account, "", "", 0)
			if err != nil {
				return err
			}
			var names []string
			for _, p := range got {
				names = append(names, p.Name)
			}
			if !slices.Equal(names, want) {
				t.Errorf("ListManagedPolicies of account %s: got %q, want %q", account, names, want)
			}
		}
		return nil
	})
}

func testPolicyVersions(t *testing.T, s coffer.Store) {
	p, q := newPolicy(accountA, "p", 1), newPolicy(accountA, "q", 2)
	insertPolicies(t, s, p, q)
	doc := func(n int) string {
		return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:*","Resource":"%d — ü"}]}`, n)
	}
	// Inserted out of order: oldest first is v1, v2, v3.
	vs := []*coffer.PolicyVersion{
		{PolicyARN: p.ARN(), VersionID: "v3", Document: doc(3), CreatedDate: at(3 * time.Hour)},
		{PolicyARN: p.ARN(), VersionID: "v1", Document: doc(1), CreatedDate: at(1*time.Hour + time.Millisecond)},
		{PolicyARN: p.ARN(), VersionID: "v2", Document: doc(2), CreatedDate: at(2 * time.Hour)},
	}
	update(t, s, func(tx coffer.Tx) error {
		for _, v := range vs {
			if err := tx.InsertPolicyVersion(v); err != nil {
				return err
			}
		}
		dup := *vs[0]
		dup.Document = "{}"
		wantExists(t, "InsertPolicyVersion of a used VersionID", tx.InsertPolicyVersion(&dup))
		missing := coffer.PolicyVersion{PolicyARN: "arn:aws:iam::111111111111:policy/missing", VersionID: "v1", CreatedDate: at(0)}
		wantNotFound(t, "InsertPolicyVersion of a missing policy", tx.InsertPolicyVersion(&missing))
		// The same id in another policy is another version.
		return tx.InsertPolicyVersion(&coffer.PolicyVersion{PolicyARN: q.ARN(), VersionID: "v3", Document: "{}", CreatedDate: at(0)})
	})
	check := func(what string, want ...*coffer.PolicyVersion) {
		t.Helper()
		var got []*coffer.PolicyVersion
		view(t, s, func(tx coffer.Tx) error {
			var err error
			got, err = tx.PolicyVersions(p.ARN())
			return err
		})
		if len(got) != len(want) {
			t.Errorf("%s: got %d versions, want %d", what, len(got), len(want))
			return
		}
		for i, w := range want {
			g := got[i]
			if g.PolicyARN != w.PolicyARN || g.VersionID != w.VersionID || g.Document != w.Document {
				t.Errorf("%s[%d]: got {%s %s %q}, want {%s %s %q}", what, i, g.PolicyARN, g.VersionID, g.Document, w.PolicyARN, w.VersionID, w.Document)
			}
			if d := diffTime("CreatedDate", g.CreatedDate, w.CreatedDate); d != "" {
				t.Errorf("%s[%d]: %s", what, i, d)
			}
		}
	}
	check("PolicyVersions", vs[1], vs[2], vs[0])

	update(t, s, func(tx coffer.Tx) error {
		if err := tx.DeletePolicyVersion(p.ARN(), "v2"); err != nil {
			return err
		}
		wantNotFound(t, "DeletePolicyVersion again", tx.DeletePolicyVersion(p.ARN(), "v2"))
		wantNotFound(t, "DeletePolicyVersion of a missing policy", tx.DeletePolicyVersion("arn:aws:iam::111111111111:policy/missing", "v1"))
		return nil
	})
	check("PolicyVersions after DeletePolicyVersion", vs[1], vs[0])
	view(t, s, func(tx coffer.Tx) error {
		got, err := tx.PolicyVersions(q.ARN())
		if err != nil || len(got) != 1 || got[0].VersionID != "v3" || got[0].Document != "{}" {
			t.Errorf("PolicyVersions of another policy: %d versions, %v; want its v3", len(got), err)
		}
		_, err = tx.PolicyVersions("arn:aws:iam::111111111111:policy/missing")
		wantNotFound(t, "PolicyVersions of a missing policy", err)
		return nil
	})
	update(t, s, func(tx coffer.Tx) error {
		for _, v := range []string{"v1", "v3"} {
			if err := tx.DeletePolicyVersion(p.ARN(), v); err != nil {
				return err
			}
		}
		return nil
	})
	check("PolicyVersions after deleting every version")
}

// attachedPolicies, policyAttachments and inlinePolicies call their method in their own View.
func attachedPolicies(t *testing.T, s coffer.Store, e coffer.EntityRef) ([]string, error) {
	t.Helper()
	var got []string
	err := s.View(t.Context(), func(tx coffer.Tx) error {
		var err error
		got, err = tx.AttachedPolicies(e)
		return err
	})
	return got, err
}

func policyAttachments(t *testing.T, s coffer.Store, arn string) ([]coffer.EntityRef, error) {
	t.Helper()
	var got []coffer.EntityRef
	err := s.View(t.Context(), func(tx coffer.Tx) error {
		var err error
		got, err = tx.PolicyAttachments(arn)
		return err
	})
	return got, err
}

func inlinePolicies(t *testing.T, s coffer.Store, e coffer.EntityRef) ([]string, error) {
	t.Helper()
	var got []string
	err := s.View(t.Context(), func(tx coffer.Tx) error {
		var err error
		got, err = tx.InlinePolicies(e)
		return err
	})
	return got, err
}

// checkRefs fails the test unless refs, err are want and no error.
func checkRefs(t *testing.T, what string, got []coffer.EntityRef, err error, want ...coffer.EntityRef) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func ref(account, kind, name string) coffer.EntityRef {
	return coffer.EntityRef{Account: account, Kind: kind, Name: name}
}

func testAttachments(t *testing.T, s coffer.Store) {
	insertEntities(t, s,
		newEntity(accountA, coffer.EntityUser, "Zoe", 1), newEntity(accountA, coffer.EntityUser, "adam", 2),
		newEntity(accountA, coffer.EntityGroup, "Ops", 3), newEntity(accountA, coffer.EntityRole, "Deployer", 4),
		newEntity(accountB, coffer.EntityUser, "adam", 5))
	read, write, shipped := newPolicy(accountA, "read", 1), newPolicy(accountA, "Write", 2), newPolicy("aws", "ReadOnlyAccess", 3)
	unused := newPolicy(accountA, "unused", 4)
	insertPolicies(t, s, read, write, shipped, unused)

	update(t, s, func(tx coffer.Tx) error {
		for _, a := range []struct {
			e   coffer.EntityRef
			arn string
		}{
			{ref(accountA, coffer.EntityUser, "ZOE"), write.ARN()},
			{ref(accountA, coffer.EntityUser, "zoe"), read.ARN()},
			{ref(accountA, coffer.EntityUser, "Zoe"), shipped.ARN()},
			{ref(accountA, coffer.EntityRole, "deployer"), read.ARN()},
			{ref(accountA, coffer.EntityGroup, "ops"), read.ARN()},
			{ref(accountA, coffer.EntityUser, "Adam"), read.ARN()},
			{ref(accountB, coffer.EntityUser, "adam"), shipped.ARN()},
			{ref(accountA, coffer.EntityUser, "Zoe"), read.ARN()}, // again
		} {
			if err := tx.AttachPolicy(a.e, a.arn); err != nil {
				return fmt.Errorf("AttachPolicy(%v, %s): %w", a.e, a.arn, err)
			}
		}
		wantNotFound(t, "AttachPolicy to a missing entity", tx.AttachPolicy(ref(accountA, coffer.EntityUser, "missing"), read.ARN()))
		wantNotFound(t, "AttachPolicy to an entity of another kind", tx.AttachPolicy(ref(accountA, coffer.EntityGroup, "Zoe"), read.ARN()))
		wantNotFound(t, "AttachPolicy of a missing policy", tx.AttachPolicy(ref(accountA, coffer.EntityUser, "Zoe"), "arn:aws:iam::111111111111:policy/missing"))
		return nil
	})
	// Attaching again in a later transaction changes nothing either.
	update(t, s, func(tx coffer.Tx) error { return tx.AttachPolicy(ref(accountA, coffer.EntityGroup, "OPS"), read.ARN()) })

	zoe := ref(accountA, coffer.EntityUser, "zoe")
	got, err := attachedPolicies(t, s, zoe)
	checkNames(t, "AttachedPolicies of Zoe", got, err, slices.Sorted(slices.Values([]string{read.ARN(), write.ARN(), shipped.ARN()}))...)
	got, err = attachedPolicies(t, s, ref(accountA, coffer.EntityGroup, "Ops"))
	checkNames(t, "AttachedPolicies of Ops", got, err, read.ARN())
	got, err = attachedPolicies(t, s, ref(accountA, coffer.EntityRole, "Deployer"))
	checkNames(t, "AttachedPolicies of Deployer", got, err, read.ARN())
	_, err = attachedPolicies(t, s, ref(accountA, coffer.EntityRole, "missing"))
	wantNotFound(t, "AttachedPolicies of a missing entity", err)

	refs, err := policyAttachments(t, s, read.ARN())
	checkRefs(t, "PolicyAttachments of read", refs, err,
		ref(accountA, coffer.EntityGroup, "Ops"), ref(accountA, coffer.EntityRole, "Deployer"),
		ref(accountA, coffer.EntityUser, "adam"), ref(accountA, coffer.EntityUser, "Zoe"))
	refs, err = policyAttachments(t, s, shipped.ARN())
	// Ordered by kind and name, whatever the account.
	checkRefs(t, "PolicyAttachments of an aws policy", refs, err,
		ref(accountB, coffer.EntityUser, "adam"), ref(accountA, coffer.EntityUser, "Zoe"))
	refs, err = policyAttachments(t, s, unused.ARN())
	checkRefs(t, "PolicyAttachments of a policy attached to nothing", refs, err)
	_, err = policyAttachments(t, s, "arn:aws:iam::111111111111:policy/missing")
	wantNotFound(t, "PolicyAttachments of a missing policy", err)

	update(t, s, func(tx coffer.Tx) error {
		if err := tx.DetachPolicy(ref(accountA, coffer.EntityUser, "ZOE"), read.ARN()); err != nil {
			return err
		}
		wantNotFound(t, "DetachPolicy again", tx.DetachPolicy(zoe, read.ARN()))
		wantNotFound(t, "DetachPolicy of a policy never attached", tx.DetachPolicy(zoe, unused.ARN()))
		wantNotFound(t, "DetachPolicy from a missing entity", tx.DetachPolicy(ref(accountA, coffer.EntityUser, "missing"), read.ARN()))
		return nil
	})
	got, err = attachedPolicies(t, s, zoe)
	checkNames(t, "AttachedPolicies of Zoe after DetachPolicy", got, err, slices.Sorted(slices.Values([]string{write.ARN(), shipped.ARN()}))...)
	refs, err = policyAttachments(t, s, read.ARN())
	checkRefs(t, "PolicyAttachments of read after DetachPolicy", refs, err,
		ref(accountA, coffer.EntityGroup, "Ops"), ref(accountA, coffer.EntityRole, "Deployer"), ref(accountA, coffer.EntityUser, "adam"))

	// Deleting a policy takes its attachments with it: a policy created again under the
	// same ARN starts attached to nothing.
	update(t, s, func(tx coffer.Tx) error { return tx.DeleteManagedPolicy(write.ARN()) })
	got, err = attachedPolicies(t, s, zoe)
	checkNames(t, "AttachedPolicies of Zoe after DeleteManagedPolicy", got, err, shipped.ARN())
	insertPolicies(t, s, write)
	refs, err = policyAttachments(t, s, write.ARN())
	checkRefs(t, "PolicyAttachments of a policy created again", refs, err)
}

func testInlinePolicies(t *testing.T, s coffer.Store) {
	insertEntities(t, s, newEntity(accountA, coffer.EntityUser, "Ann", 1), newEntity(accountA, coffer.EntityGroup, "Ann", 2),
		newEntity(accountA, coffer.EntityRole, "Runner", 3), newEntity(accountB, coffer.EntityUser, "Ann", 4))
	user, group, role := ref(accountA, coffer.EntityUser, "ann"), ref(accountA, coffer.EntityGroup, "ANN"), ref(accountA, coffer.EntityRole, "Runner")
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*","Sid":"ü"}]}`
	update(t, s, func(tx coffer.Tx) error {
		for _, p := range []struct {
			e          coffer.EntityRef
			name, body string
		}{
			{user, "zeta", "first"},
			{user, "Alpha", doc},
			{user, "alpha", "lower"}, // names compare exactly
			{ref(accountA, coffer.EntityUser, "ANN"), "zeta", "second"},
			{group, "zeta", "group's"},
			{role, "trust-extra", "{}"},
			{ref(accountB, coffer.EntityUser, "Ann"), "zeta", "other account"},
		} {
			if err := tx.PutInlinePolicy(p.e, p.name, p.body); err != nil {
				return fmt.Errorf("PutInlinePolicy(%v, %s): %w", p.e, p.name, err)
			}
		}
		wantNotFound(t, "PutInlinePolicy of a missing entity", tx.PutInlinePolicy(ref(accountA, coffer.EntityRole, "Ann"), "p", "{}"))
		return nil
	})

	view(t, s, func(tx coffer.Tx) error {
		for _, c := range []struct {
			e          coffer.EntityRef
			name, want string
		}{
			{user, "zeta", "second"}, {user, "Alpha", doc}, {user, "alpha", "lower"}, {group, "zeta", "group's"},
			{role, "trust-extra", "{}"}, {ref(accountB, coffer.EntityUser, "ann"), "zeta", "other account"},
		} {
			got, err := tx.InlinePolicy(c.e, c.name)
			if err != nil || got != c.want {
				t.Errorf("InlinePolicy(%v, %s): got %q, %v; want %q", c.e, c.name, got, err, c.want)
			}
		}
		_, err := tx.InlinePolicy(user, "ZETA")
		wantNotFound(t, "InlinePolicy of a name in another case", err)
		_, err = tx.InlinePolicy(group, "Alpha")
		wantNotFound(t, "InlinePolicy of another entity's policy", err)
		_, err = tx.InlinePolicy(ref(accountA, coffer.EntityUser, "missing"), "zeta")
		wantNotFound(t, "InlinePolicy of a missing entity", err)
		return nil
	})
	got, err := inlinePolicies(t, s, user)
	checkNames(t, "InlinePolicies of the user", got, err, "Alpha", "alpha", "zeta")
	got, err = inlinePolicies(t, s, group)
	checkNames(t, "InlinePolicies of the group", got, err, "zeta")
	_, err = inlinePolicies(t, s, ref(accountA, coffer.EntityRole, "Ann"))
	wantNotFound(t, "InlinePolicies of a missing entity", err)

	update(t, s, func(tx coffer.Tx) error {
		if err := tx.DeleteInlinePolicy(ref(accountA, coffer.EntityUser, "ANN"), "Alpha"); err != nil {
			return err
		}
		wantNotFound(t, "DeleteInlinePolicy again", tx.DeleteInlinePolicy(user, "Alpha"))
		wantNotFound(t, "DeleteInlinePolicy of a missing name", tx.DeleteInlinePolicy(role, "zeta"))
		return tx.DeleteInlinePolicy(role, "trust-extra")
	})
	got, err = inlinePolicies(t, s, user)
	checkNames(t, "InlinePolicies of the user after DeleteInlinePolicy", got, err, "alpha", "zeta")
	got, err = inlinePolicies(t, s, role)
	checkNames(t, "InlinePolicies of the role after deleting its only one", got, err)
	got, err = inlinePolicies(t, s, group)
	checkNames(t, "InlinePolicies of the group after the user's were deleted", got, err, "zeta")
}
