package postgres

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

const keyColumns = `id, account, region, description, manager, state, policy, tags,
	created_date, deletion_date, pending_window_days, rotation_enabled, rotation_period_days,
	next_rotation_date, current_material`

func scanKey(row pgx.Row) (*coffer.Key, error) {
	var (
		k                       coffer.Key
		tags                    string
		created, deletion, next pgtype.Timestamptz
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
	k.CreatedDate, k.DeletionDate, k.NextRotationDate = fromTimestamp(created), fromTimestamp(deletion), fromTimestamp(next)
	return &k, nil
}

// keyArgs returns the values of keyColumns for k.
func keyArgs(k *coffer.Key) ([]any, error) {
	tags, err := encodeTags(k.Tags)
	if err != nil {
		return nil, err
	}
	return []any{k.ID, k.Namespace.Account, k.Namespace.Region, k.Description, k.Manager,
		k.State, k.Policy, tags, required(k.CreatedDate), timestamp(k.DeletionDate),
		k.PendingWindowDays, k.RotationEnabled, k.RotationPeriodDays, timestamp(k.NextRotationDate),
		k.CurrentMaterial}, nil
}

// keyExists reports whether the key id exists; aliases and materials may only name one.
func (t *tx) keyExists(op, id string) (bool, error) {
	return t.exists(op, `SELECT 1 FROM kms_keys WHERE id = $1`, id)
}

// keys runs a query for any number of keys.
func (t *tx) keys(op, query string, args ...any) ([]*coffer.Key, error) {
	rows, err := t.tx.Query(t.ctx, query, args...)
	if err != nil {
		return nil, t.dbError(op, err)
	}
	defer rows.Close()
	var out []*coffer.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, t.dbError(op, err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, t.dbError(op, err)
	}
	return out, nil
}

// noLimit returns limit for a LIMIT parameter, or NULL (no limit) when it is 0 or less.
func noLimit(limit int) any {
	if limit <= 0 {
		return nil
	}
	return limit
}

// Key implements coffer.Tx.
func (t *tx) Key(id string) (*coffer.Key, error) {
	k, err := scanKey(t.tx.QueryRow(t.ctx, `SELECT `+keyColumns+` FROM kms_keys WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, coffer.NotFound
	}
	if err != nil {
		return nil, t.dbError("key", err)
	}
	return k, nil
}

// InsertKey implements coffer.Tx. ON CONFLICT DO NOTHING answers a taken id without aborting
// the transaction.
func (t *tx) InsertKey(k *coffer.Key) error {
	args, err := keyArgs(k)
	if err != nil {
		return coffer.Internal(fmt.Errorf("postgres: insert key: %w", err))
	}
	n, err := t.exec("insert key", `INSERT INTO kms_keys (`+keyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
		ON CONFLICT DO NOTHING`, args...)
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
		return coffer.Internal(fmt.Errorf("postgres: update key: %w", err))
	}
	// id, account, region, manager (args[4]) and created_date (args[8]) never change.
	n, err := t.exec("update key", `UPDATE kms_keys SET description = $1, state = $2, policy = $3,
		tags = $4, deletion_date = $5, pending_window_days = $6, rotation_enabled = $7,
		rotation_period_days = $8, next_rotation_date = $9, current_material = $10
		WHERE id = $11`, args[3], args[5], args[6], args[7], args[9], args[10], args[11], args[12],
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
	n, err := t.exec("delete key", `DELETE FROM kms_keys WHERE id = $1`, id)
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
	return t.keys("list keys", `SELECT `+keyColumns+` FROM kms_keys
		WHERE account = $1 AND region = $2 AND id > $3 ORDER BY id LIMIT $4`,
		ns.Account, ns.Region, afterID, noLimit(limit))
}

// DueKeyDeletions implements coffer.Tx.
func (t *tx) DueKeyDeletions(now time.Time, limit int) ([]*coffer.Key, error) {
	return t.keys("due key deletions", `SELECT `+keyColumns+` FROM kms_keys
		WHERE deletion_date IS NOT NULL AND deletion_date <= $1 AND state = $2
		ORDER BY deletion_date, id LIMIT $3`, required(now), coffer.KeyStatePendingDeletion, noLimit(limit))
}

// DueKeyRotations implements coffer.Tx. A key without a NextRotationDate is never due.
func (t *tx) DueKeyRotations(now time.Time, limit int) ([]*coffer.Key, error) {
	return t.keys("due key rotations", `SELECT `+keyColumns+` FROM kms_keys
		WHERE next_rotation_date IS NOT NULL AND next_rotation_date <= $1 AND rotation_enabled
		AND state <> $2 ORDER BY next_rotation_date, id LIMIT $3`,
		required(now), coffer.KeyStatePendingDeletion, noLimit(limit))
}

// KeyMaterials implements coffer.Tx. Like Versions, a missing key is NotFound and a key
// without materials gives an empty list.
func (t *tx) KeyMaterials(keyID string) ([]*coffer.KeyMaterial, error) {
	rows, err := t.tx.Query(t.ctx, `SELECT key_id, version, wrapped, created_date, rotation_type
		FROM kms_key_materials WHERE key_id = $1 ORDER BY version`, keyID)
	if err != nil {
		return nil, t.dbError("key materials", err)
	}
	var out []*coffer.KeyMaterial
	for rows.Next() {
		var (
			m       coffer.KeyMaterial
			created pgtype.Timestamptz
		)
		if err := rows.Scan(&m.KeyID, &m.Version, &m.Wrapped, &created, &m.RotationType); err != nil {
			rows.Close()
			return nil, t.dbError("key materials", err)
		}
		m.CreatedDate = fromTimestamp(created)
		out = append(out, &m)
	}
	// The connection is free for the next query only once rows is closed.
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, t.dbError("key materials", err)
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

// InsertKeyMaterial implements coffer.Tx. The key is looked up first: a foreign key violation
// would abort the transaction, where NotFound leaves it usable.
func (t *tx) InsertKeyMaterial(m *coffer.KeyMaterial) error {
	ok, err := t.keyExists("insert key material", m.KeyID)
	if err != nil {
		return err
	}
	if !ok {
		return coffer.NotFound
	}
	n, err := t.exec("insert key material", `INSERT INTO kms_key_materials (key_id, version, wrapped,
		created_date, rotation_type) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		m.KeyID, m.Version, blob(m.Wrapped), required(m.CreatedDate), m.RotationType)
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.Errorf(coffer.ErrResourceExists, "Version %d of the key material of %s already exists.", m.Version, m.KeyID)
	}
	return nil
}

// bindingsQuery returns the statement of KeyBindings and its arguments: a page of the key's
// live versions, a range scan of the index versions_kms_key, joined with their secret and,
// one row per label, their stages (NULL for a version without any).
func bindingsQuery(keyID, afterARN, afterVersion string, limit int) (string, []any) {
	args := []any{keyID}
	cursor := ``
	if afterARN != "" {
		cursor = ` AND (secret_arn, version_id) > ($2, $3)`
		args = append(args, afterARN, afterVersion)
	}
	args = append(args, noLimit(limit))
	return `SELECT v.secret_arn, s.name, v.version_id, s.deleted_date IS NOT NULL, st.stage
		FROM (SELECT secret_arn, version_id FROM versions
			WHERE kms_key_id = $1 AND destroyed_date IS NULL` + cursor + `
			ORDER BY secret_arn, version_id LIMIT $` + strconv.Itoa(len(args)) + `) AS v
		JOIN secrets AS s ON s.arn = v.secret_arn
		LEFT JOIN stages AS st ON st.secret_arn = v.secret_arn AND st.version_id = v.version_id
		ORDER BY v.secret_arn, v.version_id, st.stage`, args
}

// KeyBindings implements coffer.Tx.
func (t *tx) KeyBindings(keyID, afterARN, afterVersion string, limit int) ([]*coffer.KeyBinding, error) {
	query, args := bindingsQuery(keyID, afterARN, afterVersion, limit)
	rows, err := t.tx.Query(t.ctx, query, args...)
	if err != nil {
		return nil, t.dbError("key bindings", err)
	}
	defer rows.Close()
	var out []*coffer.KeyBinding
	for rows.Next() {
		var (
			b     coffer.KeyBinding
			stage pgtype.Text
		)
		if err := rows.Scan(&b.SecretARN, &b.SecretName, &b.VersionID, &b.SecretDeleted, &stage); err != nil {
			return nil, t.dbError("key bindings", err)
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
		return nil, t.dbError("key bindings", err)
	}
	return out, nil
}
