package sqlite

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

// TestMigrateFrom0001 builds a database at schema 0001, with rows as that schema's coffer
// wrote them, and checks that Open migrates it to the latest schema with the rows intact.
func TestMigrateFrom0001(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffer.db")
	old, err := open(t.Context(), path, 1)
	if err != nil {
		t.Fatalf("open at 0001: %v", err)
	}
	var v int
	if err := old.writer.QueryRowContext(t.Context(), `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil || v != 1 {
		t.Fatalf("schema version of the old database: %d, %v; want 1", v, err)
	}
	ns := coffer.Namespace{Account: "111111111111", Region: "us-east-1"}
	untagged := coffer.SecretARN(ns, "untagged", "AAAAAA")
	tagged := coffer.SecretARN(ns, "tagged", "BBBBBB")
	created := time.Date(2024, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	ct := bytes.Repeat([]byte{0xc0, 0xff, 0xee}, 1000)
	// One statement per call: the driver numbers the parameters of each statement from 1.
	for _, st := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO secrets (arn, account, region, name, description, kms_key_id, tags,
			resource_policy, rotation_enabled, rotation_lambda_arn, rotation_after_days,
			rotation_duration, rotation_schedule, owning_service, primary_region, created_date,
			last_changed_date, last_accessed_date, last_rotated_date, next_rotation_date,
			deleted_date, purge_date)
		VALUES (?, ?, ?, 'untagged', 'd', '', '[]', '', 0, '', 0, '', '', '', '', ?, ?, 0, 0, 0, 0, 0),
		       (?, ?, ?, 'tagged', '', 'alias/k', '[{"Key":"team","Value":"x"}]', '{}', 1, 'arn:l', 30,
		        '3h', '', 'rds', 'eu-west-1', ?, ?, ?, 0, 0, 0, 0)`,
			[]any{untagged, ns.Account, ns.Region, created.UnixMilli(), created.UnixMilli(),
				tagged, ns.Account, ns.Region, created.UnixMilli() + 1, created.UnixMilli() + 1, created.UnixMilli()}},
		{`INSERT INTO versions (secret_arn, version_id, created_date, last_accessed_date, kms_key_id,
			is_binary, wrapped_key, ciphertext) VALUES (?, 'v1', ?, 0, 'key-1', 1, x'0102', ?)`,
			[]any{tagged, created.UnixMilli(), ct}},
		{`INSERT INTO stages (secret_arn, stage, version_id) VALUES (?, 'AWSCURRENT', 'v1')`, []any{tagged}},
		{`INSERT INTO access_keys (id, account, principal_arn, status, sealed_secret, created_date)
			VALUES ('AKIAIOSFODNN7EXAMPLE', ?, ?, 'Active', x'0102', ?)`,
			[]any{ns.Account, "arn:aws:iam::111111111111:user/ops", created.UnixMilli()}},
	} {
		if _, err = old.writer.ExecContext(t.Context(), st.sql, st.args...); err != nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("rows at 0001: %v", err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open migrating from 0001: %v", err)
	}
	defer s.Close()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.writer.QueryRowContext(t.Context(), `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil || v != len(ms) {
		t.Fatalf("schema version after Open: %d, %v; want %d", v, err, len(ms))
	}
	// 0006 gives what was never read the six-byte date that a mark rewrites in place; a date
	// stays.
	var uAccessed, gAccessed, vAccessed int64
	if err := s.writer.QueryRowContext(t.Context(), `SELECT
		(SELECT last_accessed_date FROM secrets WHERE arn = ?), (SELECT last_accessed_date FROM secrets WHERE arn = ?),
		(SELECT last_accessed_date FROM versions WHERE secret_arn = ?)`, untagged, tagged, tagged).Scan(&uAccessed, &gAccessed, &vAccessed); err != nil {
		t.Fatal(err)
	}
	if uAccessed != neverAccessed || gAccessed != created.UnixMilli() || vAccessed != neverAccessed {
		t.Errorf("last access dates after migration: %d, %d, %d; want %d, %d, %d", uAccessed, gAccessed, vAccessed, int64(neverAccessed), created.UnixMilli(), int64(neverAccessed))
	}
	err = s.View(t.Context(), func(tx coffer.Tx) error {
		u, err := tx.SecretByARN(untagged)
		if err != nil {
			return err
		}
		if u.Tags != nil || u.Description != "d" || !u.CreatedDate.Equal(created) || u.Type != "" || u.VersionRetention != 0 || !u.LastAccessedDate.IsZero() {
			t.Errorf("untagged secret after migration: %+v; want nil Tags (0001's [] is never set), Description d, CreatedDate %v, no Type or retention, never read", u, created)
		}
		g, err := tx.SecretByName(ns, "tagged")
		if err != nil {
			return err
		}
		if !slices.Equal(g.Tags, []coffer.Tag{{Key: "team", Value: "x"}}) || g.KMSKeyID != "alias/k" ||
			g.RotationRules.AutomaticallyAfterDays != 30 || !g.RotationEnabled || g.PrimaryRegion != "eu-west-1" ||
			!g.LastAccessedDate.Equal(created) {
			t.Errorf("tagged secret after migration: %+v", g)
		}
		vs, err := tx.Versions(tagged)
		if err != nil {
			return err
		}
		if len(vs) != 1 || vs[0].VersionID != "v1" || !bytes.Equal(vs[0].Ciphertext, ct) ||
			!bytes.Equal(vs[0].WrappedKey, []byte{1, 2}) || !vs[0].Binary || vs[0].Destroyed() ||
			!slices.Equal(vs[0].Stages, []string{coffer.StageCurrent}) {
			t.Errorf("version after migration: %d versions, first %q, %d bytes, stages %q, destroyed %v",
				len(vs), vs[0].VersionID, len(vs[0].Ciphertext), vs[0].Stages, vs[0].Destroyed())
		}
		list, err := tx.ListSecrets(ns, coffer.ListQuery{SortBy: coffer.SortName})
		if err != nil {
			return err
		}
		if len(list) != 2 || list[0].ARN != tagged || list[1].ARN != untagged {
			t.Errorf("ListSecrets by name after migration: got %d secrets", len(list))
		}
		// 0003 indexes the versions of 0001 by key.
		bs, err := tx.KeyBindings("key-1", "", "", 0)
		if err != nil {
			return err
		}
		if len(bs) != 1 || bs[0].SecretARN != tagged || bs[0].SecretName != "tagged" || bs[0].VersionID != "v1" ||
			bs[0].SecretDeleted || !slices.Equal(bs[0].Stages, []string{coffer.StageCurrent}) {
			t.Errorf("KeyBindings after migration: got %d bindings, want the version v1 of tagged, AWSCURRENT", len(bs))
		}
		// 0004 indexes the access keys of 0001 by principal.
		ks, err := tx.AccessKeysOf("arn:aws:iam::111111111111:user/ops")
		if err != nil {
			return err
		}
		if len(ks) != 1 || ks[0].ID != "AKIAIOSFODNN7EXAMPLE" || ks[0].Status != coffer.KeyActive || !ks[0].CreatedDate.Equal(created) {
			t.Errorf("AccessKeysOf after migration: got %d keys, want AKIAIOSFODNN7EXAMPLE", len(ks))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The migrated database takes the new fields.
	err = s.Update(t.Context(), func(tx coffer.Tx) error {
		if err := tx.DestroyVersion(tagged, "v1", created.Add(time.Hour)); err != nil {
			return err
		}
		u, err := tx.SecretByARN(untagged)
		if err != nil {
			return err
		}
		u.Tags, u.Type, u.VersionRetention = []coffer.Tag{}, "t", 2
		if err := tx.UpdateSecret(u); err != nil {
			return err
		}
		k := &coffer.Key{ID: "1234abcd-12ab-34cd-56ef-1234567890ab", Namespace: ns, Manager: coffer.KeyManagerCustomer,
			State: coffer.KeyStateEnabled, CreatedDate: created, CurrentMaterial: 1}
		if err := tx.InsertKey(k); err != nil {
			return err
		}
		if err := tx.InsertKeyMaterial(&coffer.KeyMaterial{KeyID: k.ID, Version: 1, Wrapped: []byte{1}, CreatedDate: created}); err != nil {
			return err
		}
		if err := tx.InsertAlias(&coffer.Alias{Namespace: ns, Name: "alias/k", KeyID: k.ID, CreatedDate: created}); err != nil {
			return err
		}
		return migratedIAM(tx, ns.Account, created)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestListUsesIndexes checks that every order of ListSecrets, either way, with a cursor or
// without, is served by an index: SQLite's plan has no temporary B-tree for the ORDER BY.
func TestListUsesIndexes(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	ns := coffer.Namespace{Account: "111111111111", Region: "us-east-1"}
	for _, sortBy := range []string{coffer.SortCreatedDate, coffer.SortName, coffer.SortLastChangedDate, coffer.SortLastAccessedDate} {
		for _, desc := range []bool{false, true} {
			for _, after := range []*coffer.ListCursor{nil, {Time: time.Now(), Name: "n", ARN: "a"}} {
				query, args, err := listQuery(ns, coffer.ListQuery{SortBy: sortBy, Descending: desc, After: after, Limit: 10})
				if err != nil {
					t.Fatal(err)
				}
				joined := queryPlan(t, s, query, args...)
				if strings.Contains(joined, "TEMP B-TREE") || !strings.Contains(joined, "USING INDEX") {
					t.Errorf("SortBy %s, descending %v, cursor %v: plan %q, want an index walk without a sort", sortBy, desc, after != nil, joined)
				}
			}
		}
	}
}

// TestKeyBindingsUsesIndex checks that KeyBindings, with a cursor or without, reads the
// versions of its key on the index versions_kms_key rather than scanning every version.
func TestKeyBindingsUsesIndex(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	for _, afterARN := range []string{"", "arn:aws:secretsmanager:us-east-1:111111111111:secret:a-AbCdEf"} {
		query, args := bindingsQuery("key-1", afterARN, "v1", 10)
		joined := queryPlan(t, s, query, args...)
		if !strings.Contains(joined, "versions USING COVERING INDEX versions_kms_key") &&
			!strings.Contains(joined, "versions USING INDEX versions_kms_key") {
			t.Errorf("cursor %v: plan %q, want a search of versions using versions_kms_key", afterARN != "", joined)
		}
	}
}

// migratedIAM writes an IAM user with a group, a managed policy and an inline policy, as a
// migrated schema must take them, and reads them back.
func migratedIAM(tx coffer.Tx, account string, created time.Time) error {
	u := &coffer.Entity{Account: account, Kind: coffer.EntityUser, Name: "ops", Path: "/", ID: "AIDA00000000000000001", CreatedDate: created}
	g := &coffer.Entity{Account: account, Kind: coffer.EntityGroup, Name: "Admins", Path: "/", ID: "AGPA00000000000000001", CreatedDate: created}
	p := &coffer.ManagedPolicy{Account: account, Name: "read", Path: "/", ID: "ANPA00000000000000001", DefaultVersion: "v1", CreatedDate: created, UpdateDate: created}
	for _, e := range []*coffer.Entity{u, g} {
		if err := tx.InsertEntity(e); err != nil {
			return err
		}
	}
	if err := tx.InsertManagedPolicy(p); err != nil {
		return err
	}
	if err := tx.InsertPolicyVersion(&coffer.PolicyVersion{PolicyARN: p.ARN(), VersionID: "v1", Document: "{}", CreatedDate: created}); err != nil {
		return err
	}
	ref := coffer.EntityRef{Account: account, Kind: coffer.EntityUser, Name: "OPS"}
	if err := tx.AddGroupMember(account, "admins", "Ops"); err != nil {
		return err
	}
	if err := tx.AttachPolicy(ref, p.ARN()); err != nil {
		return err
	}
	if err := tx.PutInlinePolicy(ref, "inline", "{}"); err != nil {
		return err
	}
	groups, err := tx.GroupsOf(account, "ops")
	if err != nil {
		return err
	}
	attached, err := tx.AttachedPolicies(ref)
	if err != nil {
		return err
	}
	if !slices.Equal(groups, []string{"Admins"}) || !slices.Equal(attached, []string{p.ARN()}) {
		return fmt.Errorf("IAM after migration: groups %q, attached %q", groups, attached)
	}
	return nil
}

// TestListNamePrefixUsesNameIndex: a name prefix is a range search of the index on names,
// not a scan of every secret of the namespace, whatever the order. (Several prefixes are
// OR'ed: correct, but SQLite may walk the order's index for them.)
func TestListNamePrefixUsesNameIndex(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	ns := coffer.Namespace{Account: "111111111111", Region: "us-east-1"}
	for _, prefixes := range [][]string{{"app/"}} {
		for _, sortBy := range []string{coffer.SortCreatedDate, coffer.SortName} {
			query, args, err := listQuery(ns, coffer.ListQuery{SortBy: sortBy, Limit: 10, NamePrefixes: prefixes})
			if err != nil {
				t.Fatal(err)
			}
			joined := queryPlan(t, s, query, args...)
			if !strings.Contains(joined, "name>? AND name<?") {
				t.Errorf("prefixes %q, SortBy %s: plan %q, want a range search on name", prefixes, sortBy, joined)
			}
		}
	}
}

// queryPlan returns SQLite's plan of query, its lines joined by "; ".
func queryPlan(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	rows, err := s.reader.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "; ")
}

// TestMigrateKeepsTempStoreInMemory: migrations journal their statements in temporary files
// (a migration may rewrite a whole table), and the writer is back to memory after them, for
// the savepoints of its group commits.
func TestMigrateKeepsTempStoreInMemory(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	var mode int
	if err := s.writer.QueryRowContext(t.Context(), `PRAGMA temp_store`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != 2 {
		t.Errorf("the writer's temp_store after Open is %d; want 2 (memory)", mode)
	}
}
