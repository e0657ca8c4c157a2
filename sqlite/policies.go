package sqlite

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/coffer-project/coffer"
)

const managedPolicyColumns = `arn, account, name, name_lower, path, id, description, default_version,
	created_date, update_date, tags`

func scanManagedPolicy(row scanner) (*coffer.ManagedPolicy, error) {
	var (
		p                coffer.ManagedPolicy
		arn, nameLower   string
		tags             string
		created, updated int64
	)
	err := row.Scan(&arn, &p.Account, &p.Name, &nameLower, &p.Path, &p.ID, &p.Description,
		&p.DefaultVersion, &created, &updated, &tags)
	if err != nil {
		return nil, err
	}
	if p.Tags, err = decodeTags(tags); err != nil {
		return nil, err
	}
	p.CreatedDate, p.UpdateDate = fromMillis(created), fromMillis(updated)
	return &p, nil
}

// policyExists reports whether the managed policy arn exists; versions and attachments may
// only name one.
func (t *tx) policyExists(op, arn string) (bool, error) {
	return t.exists(op, `SELECT 1 FROM iam_managed_policies WHERE arn = ?`, arn)
}

// ManagedPolicy implements coffer.Tx.
func (t *tx) ManagedPolicy(arn string) (*coffer.ManagedPolicy, error) {
	p, err := scanManagedPolicy(t.queryRow(`SELECT `+managedPolicyColumns+`
		FROM iam_managed_policies WHERE arn = ?`, arn))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, coffer.NotFound
	}
	if err != nil {
		return nil, dbError("managed policy", err)
	}
	return p, nil
}

// InsertManagedPolicy implements coffer.Tx.
func (t *tx) InsertManagedPolicy(p *coffer.ManagedPolicy) error {
	tags, err := encodeTags(p.Tags)
	if err != nil {
		return coffer.Internal(fmt.Errorf("sqlite: insert managed policy: %w", err))
	}
	n, err := t.exec("insert managed policy", `INSERT INTO iam_managed_policies (`+managedPolicyColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		p.ARN(), p.Account, p.Name, lower(p.Name), p.Path, p.ID, p.Description, p.DefaultVersion,
		millis(p.CreatedDate), millis(p.UpdateDate), tags)
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.Errorf(coffer.ErrResourceExists, "A policy called %s already exists.", p.Name)
	}
	return nil
}

// UpdateManagedPolicy implements coffer.Tx.
func (t *tx) UpdateManagedPolicy(p *coffer.ManagedPolicy) error {
	tags, err := encodeTags(p.Tags)
	if err != nil {
		return coffer.Internal(fmt.Errorf("sqlite: update managed policy: %w", err))
	}
	n, err := t.exec("update managed policy", `UPDATE iam_managed_policies SET default_version = ?,
		description = ?, update_date = ?, tags = ? WHERE arn = ?`,
		p.DefaultVersion, p.Description, millis(p.UpdateDate), tags, p.ARN())
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.NotFound
	}
	return nil
}

// DeleteManagedPolicy implements coffer.Tx. Versions and attachments go with it (ON DELETE
// CASCADE): a policy of the same ARN created later starts unattached.
func (t *tx) DeleteManagedPolicy(arn string) error {
	n, err := t.exec("delete managed policy", `DELETE FROM iam_managed_policies WHERE arn = ?`, arn)
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.NotFound
	}
	return nil
}

// ListManagedPolicies implements coffer.Tx. A limit of 0 or less means no limit.
func (t *tx) ListManagedPolicies(account, pathPrefix, afterName string, limit int) ([]*coffer.ManagedPolicy, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := t.query(`SELECT `+managedPolicyColumns+` FROM iam_managed_policies
		WHERE account = ? AND name_lower > ? AND substr(path, 1, length(?)) = ?
		ORDER BY name_lower LIMIT ?`, account, lower(afterName), pathPrefix, pathPrefix, limit)
	if err != nil {
		return nil, dbError("list managed policies", err)
	}
	defer rows.Close()
	var out []*coffer.ManagedPolicy
	for rows.Next() {
		p, err := scanManagedPolicy(rows)
		if err != nil {
			return nil, dbError("list managed policies", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError("list managed policies", err)
	}
	return out, nil
}

// PolicyVersions implements coffer.Tx. Versions created in the same millisecond come in
// number order (v2 before v10). Like Versions, a missing policy is NotFound.
func (t *tx) PolicyVersions(policyARN string) ([]*coffer.PolicyVersion, error) {
	rows, err := t.query(`SELECT policy_arn, version_id, document, created_date
		FROM iam_policy_versions WHERE policy_arn = ?
		ORDER BY created_date, length(version_id), version_id`, policyARN)
	if err != nil {
		return nil, dbError("policy versions", err)
	}
	defer rows.Close()
	var out []*coffer.PolicyVersion
	for rows.Next() {
		var (
			v       coffer.PolicyVersion
			created int64
		)
		if err := rows.Scan(&v.PolicyARN, &v.VersionID, &v.Document, &created); err != nil {
			return nil, dbError("policy versions", err)
		}
		v.CreatedDate = fromMillis(created)
		out = append(out, &v)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError("policy versions", err)
	}
	if len(out) == 0 {
		ok, err := t.policyExists("policy versions", policyARN)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, coffer.NotFound
		}
	}
	return out, nil
}

// InsertPolicyVersion implements coffer.Tx. A version of a missing policy is NotFound.
func (t *tx) InsertPolicyVersion(v *coffer.PolicyVersion) error {
	ok, err := t.policyExists("insert policy version", v.PolicyARN)
	if err != nil {
		return err
	}
	if !ok {
		return coffer.NotFound
	}
	n, err := t.exec("insert policy version", `INSERT INTO iam_policy_versions (policy_arn, version_id,
		document, created_date) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		v.PolicyARN, v.VersionID, v.Document, millis(v.CreatedDate))
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.Errorf(coffer.ErrResourceExists, "Version %s of policy %s already exists.", v.VersionID, v.PolicyARN)
	}
	return nil
}

// DeletePolicyVersion implements coffer.Tx.
func (t *tx) DeletePolicyVersion(policyARN, versionID string) error {
	n, err := t.exec("delete policy version", `DELETE FROM iam_policy_versions
		WHERE policy_arn = ? AND version_id = ?`, policyARN, versionID)
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.NotFound
	}
	return nil
}

// AttachPolicy implements coffer.Tx. A missing entity or policy is NotFound.
func (t *tx) AttachPolicy(e coffer.EntityRef, policyARN string) error {
	if err := t.notFoundUnless("attach policy", e); err != nil {
		return err
	}
	ok, err := t.policyExists("attach policy", policyARN)
	if err != nil {
		return err
	}
	if !ok {
		return coffer.NotFound
	}
	_, err = t.exec("attach policy", `INSERT INTO iam_attachments (account, kind, name_lower, policy_arn)
		VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, e.Account, e.Kind, lower(e.Name), policyARN)
	return err
}

// DetachPolicy implements coffer.Tx.
func (t *tx) DetachPolicy(e coffer.EntityRef, policyARN string) error {
	n, err := t.exec("detach policy", `DELETE FROM iam_attachments
		WHERE account = ? AND kind = ? AND name_lower = ? AND policy_arn = ?`,
		e.Account, e.Kind, lower(e.Name), policyARN)
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.NotFound
	}
	return nil
}

// AttachedPolicies implements coffer.Tx. The ARNs are in byte order; a missing entity is
// NotFound.
func (t *tx) AttachedPolicies(e coffer.EntityRef) ([]string, error) {
	out, err := t.names("attached policies", `SELECT policy_arn FROM iam_attachments
		WHERE account = ? AND kind = ? AND name_lower = ? ORDER BY policy_arn`,
		e.Account, e.Kind, lower(e.Name))
	if err != nil || len(out) > 0 {
		return out, err
	}
	return out, t.notFoundUnless("attached policies", e)
}

// PolicyAttachments implements coffer.Tx. Entities of the same kind and name in several
// accounts (a policy of the "aws" account) come in account order; a missing policy is
// NotFound.
func (t *tx) PolicyAttachments(policyARN string) ([]coffer.EntityRef, error) {
	rows, err := t.query(`SELECT e.account, e.kind, e.name FROM iam_attachments AS a
		JOIN iam_entities AS e ON e.account = a.account AND e.kind = a.kind AND e.name_lower = a.name_lower
		WHERE a.policy_arn = ? ORDER BY a.kind, a.name_lower, a.account`, policyARN)
	if err != nil {
		return nil, dbError("policy attachments", err)
	}
	defer rows.Close()
	var out []coffer.EntityRef
	for rows.Next() {
		var e coffer.EntityRef
		if err := rows.Scan(&e.Account, &e.Kind, &e.Name); err != nil {
			return nil, dbError("policy attachments", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError("policy attachments", err)
	}
	if len(out) == 0 {
		ok, err := t.policyExists("policy attachments", policyARN)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, coffer.NotFound
		}
	}
	return out, nil
}

// PutInlinePolicy implements coffer.Tx. A missing entity is NotFound.
func (t *tx) PutInlinePolicy(e coffer.EntityRef, name, document string) error {
	if err := t.notFoundUnless("put inline policy", e); err != nil {
		return err
	}
	_, err := t.exec("put inline policy", `INSERT INTO iam_inline_policies (account, kind, name_lower,
		policy_name, document) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (account, kind, name_lower, policy_name) DO UPDATE SET document = excluded.document`,
		e.Account, e.Kind, lower(e.Name), name, document)
	return err
}

// InlinePolicy implements coffer.Tx.
func (t *tx) InlinePolicy(e coffer.EntityRef, name string) (string, error) {
	var doc string
	err := t.queryRow(`SELECT document FROM iam_inline_policies
		WHERE account = ? AND kind = ? AND name_lower = ? AND policy_name = ?`,
		e.Account, e.Kind, lower(e.Name), name).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return "", coffer.NotFound
	}
	if err != nil {
		return "", dbError("inline policy", err)
	}
	return doc, nil
}

// DeleteInlinePolicy implements coffer.Tx.
func (t *tx) DeleteInlinePolicy(e coffer.EntityRef, name string) error {
	n, err := t.exec("delete inline policy", `DELETE FROM iam_inline_policies
		WHERE account = ? AND kind = ? AND name_lower = ? AND policy_name = ?`,
		e.Account, e.Kind, lower(e.Name), name)
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.NotFound
	}
	return nil
}

// InlinePolicies implements coffer.Tx. The names are in byte order; a missing entity is
// NotFound.
func (t *tx) InlinePolicies(e coffer.EntityRef) ([]string, error) {
	out, err := t.names("inline policies", `SELECT policy_name FROM iam_inline_policies
		WHERE account = ? AND kind = ? AND name_lower = ? ORDER BY policy_name`,
		e.Account, e.Kind, lower(e.Name))
	if err != nil || len(out) > 0 {
		return out, err
	}
	return out, t.notFoundUnless("inline policies", e)
}
