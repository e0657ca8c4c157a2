package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/coffer-project/coffer"
)

// IAM names compare case-insensitively: every name is stored as written and, lower-cased by
// lower, in a name_lower column that uniqueness, lookups, order and references use.

const entityColumns = `account, kind, name, name_lower, path, id, created_date, tags,
	permissions_boundary, assume_role_policy, description, max_session_duration`

// lower is the form of an IAM name that compares and orders.
func lower(name string) string { return strings.ToLower(name) }

func scanEntity(row scanner) (*coffer.Entity, error) {
	var (
		e         coffer.Entity
		nameLower string
		tags      string
		created   int64
	)
	err := row.Scan(&e.Account, &e.Kind, &e.Name, &nameLower, &e.Path, &e.ID, &created, &tags,
		&e.PermissionsBoundary, &e.AssumeRolePolicy, &e.Description, &e.MaxSessionDuration)
	if err != nil {
		return nil, err
	}
	if e.Tags, err = decodeTags(tags); err != nil {
		return nil, err
	}
	e.CreatedDate = fromMillis(created)
	return &e, nil
}

// entityExists reports whether the entity exists; memberships, attachments and inline
// policies may only name one.
func (t *tx) entityExists(op string, e coffer.EntityRef) (bool, error) {
	return t.exists(op, `SELECT 1 FROM iam_entities WHERE account = ? AND kind = ? AND name_lower = ?`,
		e.Account, e.Kind, lower(e.Name))
}

// notFoundUnless returns NotFound when the entity e does not exist, nil when it does.
func (t *tx) notFoundUnless(op string, e coffer.EntityRef) error {
	ok, err := t.entityExists(op, e)
	if err != nil {
		return err
	}
	if !ok {
		return coffer.NotFound
	}
	return nil
}

// names runs a query for a column of strings.
func (t *tx) names(op, query string, args ...any) ([]string, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, dbError(op, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, dbError(op, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(op, err)
	}
	return out, nil
}

// Entity implements coffer.Tx.
func (t *tx) Entity(account, kind, name string) (*coffer.Entity, error) {
	e, err := scanEntity(t.queryRow(`SELECT `+entityColumns+` FROM iam_entities
		WHERE account = ? AND kind = ? AND name_lower = ?`, account, kind, lower(name)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, coffer.NotFound
	}
	if err != nil {
		return nil, dbError("entity", err)
	}
	return e, nil
}

// InsertEntity implements coffer.Tx.
func (t *tx) InsertEntity(e *coffer.Entity) error {
	tags, err := encodeTags(e.Tags)
	if err != nil {
		return coffer.Internal(fmt.Errorf("sqlite: insert entity: %w", err))
	}
	n, err := t.exec("insert entity", `INSERT INTO iam_entities (`+entityColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		e.Account, e.Kind, e.Name, lower(e.Name), e.Path, e.ID, millis(e.CreatedDate), tags,
		e.PermissionsBoundary, e.AssumeRolePolicy, e.Description, e.MaxSessionDuration)
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.Errorf(coffer.ErrResourceExists, "The %s with name %s already exists.", e.Kind, e.Name)
	}
	return nil
}

// UpdateEntity implements coffer.Tx.
func (t *tx) UpdateEntity(e *coffer.Entity) error {
	tags, err := encodeTags(e.Tags)
	if err != nil {
		return coffer.Internal(fmt.Errorf("sqlite: update entity: %w", err))
	}
	n, err := t.exec("update entity", `UPDATE iam_entities SET path = ?, tags = ?,
		permissions_boundary = ?, assume_role_policy = ?, description = ?, max_session_duration = ?
		WHERE account = ? AND kind = ? AND name_lower = ?`,
		e.Path, tags, e.PermissionsBoundary, e.AssumeRolePolicy, e.Description, e.MaxSessionDuration,
		e.Account, e.Kind, lower(e.Name))
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.NotFound
	}
	return nil
}

// DeleteEntity implements coffer.Tx. Memberships, attachments and inline policies go with it
// (ON DELETE CASCADE).
func (t *tx) DeleteEntity(account, kind, name string) error {
	n, err := t.exec("delete entity", `DELETE FROM iam_entities WHERE account = ? AND kind = ? AND name_lower = ?`,
		account, kind, lower(name))
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.NotFound
	}
	return nil
}

// ListEntities implements coffer.Tx. The primary key serves the order and the cursor.
func (t *tx) ListEntities(account, kind, pathPrefix, afterName string, limit int) ([]*coffer.Entity, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := t.query(`SELECT `+entityColumns+` FROM iam_entities
		WHERE account = ? AND kind = ? AND name_lower > ? AND substr(path, 1, length(?)) = ?
		ORDER BY name_lower LIMIT ?`, account, kind, lower(afterName), pathPrefix, pathPrefix, limit)
	if err != nil {
		return nil, dbError("list entities", err)
	}
	defer rows.Close()
	var out []*coffer.Entity
	for rows.Next() {
		e, err := scanEntity(rows)
		if err != nil {
			return nil, dbError("list entities", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError("list entities", err)
	}
	return out, nil
}

// AddGroupMember implements coffer.Tx. A missing group or user is NotFound.
func (t *tx) AddGroupMember(account, group, user string) error {
	for _, e := range []coffer.EntityRef{{Account: account, Kind: coffer.EntityGroup, Name: group},
		{Account: account, Kind: coffer.EntityUser, Name: user}} {
		if err := t.notFoundUnless("add group member", e); err != nil {
			return err
		}
	}
	_, err := t.exec("add group member", `INSERT INTO iam_group_members (account, group_lower, user_lower)
		VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, account, lower(group), lower(user))
	return err
}

// RemoveGroupMember implements coffer.Tx.
func (t *tx) RemoveGroupMember(account, group, user string) error {
	n, err := t.exec("remove group member", `DELETE FROM iam_group_members
		WHERE account = ? AND group_lower = ? AND user_lower = ?`, account, lower(group), lower(user))
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.NotFound
	}
	return nil
}

// GroupsOf implements coffer.Tx. Like Versions, a missing user is NotFound and a user in no
// group gives an empty list.
func (t *tx) GroupsOf(account, user string) ([]string, error) {
	out, err := t.names("groups of", `SELECT e.name FROM iam_group_members AS m
		JOIN iam_entities AS e ON e.account = m.account AND e.kind = m.group_kind AND e.name_lower = m.group_lower
		WHERE m.account = ? AND m.user_lower = ? ORDER BY m.group_lower`, account, lower(user))
	if err != nil || len(out) > 0 {
		return out, err
	}
	return out, t.notFoundUnless("groups of", coffer.EntityRef{Account: account, Kind: coffer.EntityUser, Name: user})
}

// MembersOf implements coffer.Tx. A missing group is NotFound.
func (t *tx) MembersOf(account, group string) ([]string, error) {
	out, err := t.names("members of", `SELECT e.name FROM iam_group_members AS m
		JOIN iam_entities AS e ON e.account = m.account AND e.kind = m.user_kind AND e.name_lower = m.user_lower
		WHERE m.account = ? AND m.group_lower = ? ORDER BY m.user_lower`, account, lower(group))
	if err != nil || len(out) > 0 {
		return out, err
	}
	return out, t.notFoundUnless("members of", coffer.EntityRef{Account: account, Kind: coffer.EntityGroup, Name: group})
}
