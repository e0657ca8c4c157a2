package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-project/coffer"
)

const keyColumns = `id, account, region, description, manager, state, policy, tags,
	created_date, deletion_date, pending_window_days, rotation_enabled, rotation_period_days,
	next_rotation_date, current_material`

func scanKey(row scanner) (*coffer.Key, error) {
	var (
		k                       coffer.Key
		tags                    string
		created, deletion, next int64
	)
	err := row.Scan(&k.ID, &k.Namespace.Account, &k.Namespace.Region, &k.Description, &k.Manager,
		&k.State, &k.Policy, &tags, &created, &deletion, &k.PendingWindowDays, &k.RotationEnabled,
		&k.RotationPeriodDays, &next, &k.CurrentMaterial)
	if err != nil {
		return nil, err
	}
	if k.Tags, err = decodeTags(tags); err != nil {
		return nil, err
	}
	k.CreatedDate, k.DeletionDate, k.NextRotationDate = fromMillis(created), fromMillis(deletion), fromMillis(next)
	return &k, nil
}

// keyArgs returns the values of keyColumns for k.
func keyArgs(k *coffer.Key) ([]any, error) {
	tags, err := encodeTags(k.Tags)
	if err != nil {
		return nil, err
	}
	return []any{k.ID, k.Namespace.Account, k.Namespace.Region, k.Description, k.Manager,
		k.State, k.Policy, tags, millis(k.CreatedDate), millis(k.DeletionDate), k.PendingWindowDays,
		k.RotationEnabled, k.RotationPeriodDays, millis(k.NextRotationDate), k.CurrentMaterial}, nil
}

// keyExists reports whether the key id exists; aliases and materials may only name one.
func (t *tx) keyExists(op, id string) (bool, error) {
	return t.exists(op, `SELECT 1 FROM kms_keys WHERE id = ?`, id)
}

// keys runs a query for any number of keys.
func (t *tx) keys(op, query string, args ...any) ([]*coffer.Key, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, dbError(op, err)
	}
	defer rows.Close()
	var out []*coffer.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, dbError(op, err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(op, err)
	}
	return out, nil
}

// Key implements coffer.Tx.
func (t *tx) Key(id string) (*coffer.Key, error) {
	k, err := scanKey(t.queryRow(`SELECT `+keyColumns+` FROM kms_keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, coffer.NotFound
	}
	if err != nil {
		return nil, dbError("key", err)
	}
	return k, nil
}

// InsertKey implements coffer.Tx.
func (t *tx) InsertKey(k *coffer.Key) error {
	args, err := keyArgs(k)
	if err != nil {
		return coffer.Internal(fmt.Errorf("sqlite: insert key: %w", err))
	}
	n, err := t.exec("insert key", `INSERT INTO kms_keys (`+keyColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.Errorf(coffer.ErrResourceExists, "The key %s already exists.", k.ID)
	}
	return nil
}

// UpdateKey implements coffer.Tx.
func (t *tx) UpdateKey(k *coffer.Key) error {
	args, err := keyArgs(k)
	if err != nil {
		return coffer.Internal(fmt.Errorf("sqlite: update key: %w", err))
	}
	// id, account, region, manager and created_date never change.
	n, err := t.exec("update key", `UPDATE kms_keys SET description = ?, state = ?, policy = ?,
		tags = ?, deletion_date = ?, pending_window_days = ?, rotation_enabled = ?,
		rotation_period_days = ?, next_rotation_date = ?, current_material = ?
		WHERE id = ?`, args[3], args[5], args[6], args[7], args[9], args[10], args[11], args[12],
		args[13], args[14], k.ID)
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.NotFound
	}
	return nil
}

// DeleteKey implements coffer.Tx. Materials and aliases go with it (ON DELETE CASCADE).
func (t *tx) DeleteKey(id string) error {
	n, err := t.exec("delete key", `DELETE FROM kms_keys WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.NotFound
	}
	return nil
}

// ListKeys implements coffer.Tx.
func (t *tx) ListKeys(ns coffer.Namespace, afterID string, limit int) ([]*coffer.Key, error) {
	if limit <= 0 {
		limit = -1
	}
	return t.keys("list keys", `SELECT `+keyColumns+` FROM kms_keys
		WHERE account = ? AND region = ? AND id > ? ORDER BY id LIMIT ?`,
		ns.Account, ns.Region, afterID, limit)
}

// DueKeyDeletions implements coffer.Tx.
func (t *tx) DueKeyDeletions(now time.Time, limit int) ([]*coffer.Key, error) {
	if limit <= 0 {
		limit = -1
	}
	return t.keys("due key deletions", `SELECT `+keyColumns+` FROM kms_keys
		WHERE deletion_date <> 0 AND deletion_date <= ? AND state = ?
		ORDER BY deletion_date, id LIMIT ?`, millis(now), coffer.KeyStatePendingDeletion, limit)
}

// DueKeyRotations implements coffer.Tx. A key without a NextRotationDate is never due.
func (t *tx) DueKeyRotations(now time.Time, limit int) ([]*coffer.Key, error) {
	if limit <= 0 {
		limit = -1
	}
	return t.keys("due key rotations", `SELECT `+keyColumns+` FROM kms_keys
		WHERE next_rotation_date <> 0 AND next_rotation_date <= ? AND rotation_enabled <> 0
		AND state <> ? ORDER BY next_rotation_date, id LIMIT ?`,
		millis(now), coffer.KeyStatePendingDeletion, limit)
}

// KeyMaterials implements coffer.Tx. Like Versions, a missing key is NotFound and a key
// without materials gives an empty list.
func (t *tx) KeyMaterials(keyID string) ([]*coffer.KeyMaterial, error) {
	rows, err := t.query(`SELECT key_id, version, wrapped, created_date, rotation_type
		FROM kms_key_materials WHERE key_id = ? ORDER BY version`, keyID)
	if err != nil {
		return nil, dbError("key materials", err)
	}
	defer rows.Close()
	var out []*coffer.KeyMaterial
	for rows.Next() {
		var (
			m       coffer.KeyMaterial
			created int64
		)
		if err := rows.Scan(&m.KeyID, &m.Version, &m.Wrapped, &created, &m.RotationType); err != nil {
			return nil, dbError("key materials", err)
		}
		m.CreatedDate = fromMillis(created)
		out = append(out, &m)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError("key materials", err)
	}
	if len(out) == 0 {
		ok, err := t.keyExists("key materials", keyID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, coffer.NotFound
		}
	}
	return out, nil
}

// InsertKeyMaterial implements coffer.Tx. The key is looked up first: a material of a missing
// key is NotFound rather than a foreign key violation.
func (t *tx) InsertKeyMaterial(m *coffer.KeyMaterial) error {
	ok, err := t.keyExists("insert key material", m.KeyID)
	if err != nil {
		return err
	}
	if !ok {
		return coffer.NotFound
	}
	n, err := t.exec("insert key material", `INSERT INTO kms_key_materials (key_id, version, wrapped,
		created_date, rotation_type) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		m.KeyID, m.Version, blob(m.Wrapped), millis(m.CreatedDate), m.RotationType)
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.Errorf(coffer.ErrResourceExists, "Version %d of the key material of %s already exists.", m.Version, m.KeyID)
	}
	return nil
}

// bindingsQuery returns the statement of KeyBindings and its arguments: a page of the key's
// live versions, walked on the index versions_kms_key, joined with their secret and, one row
// per label, their stages (NULL for a version without any). The cursor's row-value
// comparison is a range on that index.
func bindingsQuery(keyID, afterARN, afterVersion string, limit int) (string, []any) {
	args := []any{keyID}
	cursor := ``
	if afterARN != "" {
		cursor = ` AND (secret_arn, version_id) > (?, ?)`
		args = append(args, afterARN, afterVersion)
	}
	if limit <= 0 {
		limit = -1 // no limit
	}
	args = append(args, limit)
	return `SELECT v.secret_arn, s.name, v.version_id, s.deleted_date <> 0, st.stage
		FROM (SELECT secret_arn, version_id FROM versions
			WHERE kms_key_id = ? AND destroyed_date = 0` + cursor + `
			ORDER BY secret_arn, version_id LIMIT ?) AS v
		JOIN secrets AS s ON s.arn = v.secret_arn
		LEFT JOIN stages AS st ON st.secret_arn = v.secret_arn AND st.version_id = v.version_id
		ORDER BY v.secret_arn, v.version_id, st.stage`, args
}

// KeyBindings implements coffer.Tx.
func (t *tx) KeyBindings(keyID, afterARN, afterVersion string, limit int) ([]*coffer.KeyBinding, error) {
	query, args := bindingsQuery(keyID, afterARN, afterVersion, limit)
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, dbError("key bindings", err)
	}
	defer rows.Close()
	var out []*coffer.KeyBinding
	for rows.Next() {
		var (
			b     coffer.KeyBinding
			stage sql.NullString
		)
		if err := rows.Scan(&b.SecretARN, &b.SecretName, &b.VersionID, &b.SecretDeleted, &stage); err != nil {
			return nil, dbError("key bindings", err)
		}
		// Rows of one version are adjacent, its stages in order.
		if n := len(out); n > 0 && out[n-1].SecretARN == b.SecretARN && out[n-1].VersionID == b.VersionID {
			out[n-1].Stages = append(out[n-1].Stages, stage.String)
			continue
		}
		if stage.Valid {
			b.Stages = []string{stage.String}
		}
		out = append(out, &b)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError("key bindings", err)
	}
	return out, nil
}
