package postgres

import (
	"github.com/coffer-project/coffer"
	"github.com/jackc/pgx/v5/pgtype"
)

// The methods root key rotation needs: walk and rewrite everything wrapped under the root key.

// AllKeyMaterials implements coffer.Tx. key_id is COLLATE "C", so the order is byte order,
// as on SQLite.
func (t *tx) AllKeyMaterials(afterKeyID string, afterVersion, limit int) ([]*coffer.KeyMaterial, error) {
	rows, err := t.tx.Query(t.ctx, `SELECT key_id, version, wrapped, created_date, rotation_type
		FROM kms_key_materials WHERE (key_id, version) > ($1, $2) ORDER BY key_id, version LIMIT $3`,
		afterKeyID, afterVersion, noLimit(limit))
	if err != nil {
		return nil, t.dbError("all key materials", err)
	}
	defer rows.Close()
	var out []*coffer.KeyMaterial
	for rows.Next() {
		var (
			m       coffer.KeyMaterial
			created pgtype.Timestamptz
		)
		if err := rows.Scan(&m.KeyID, &m.Version, &m.Wrapped, &created, &m.RotationType); err != nil {
			return nil, t.dbError("all key materials", err)
		}
		m.CreatedDate = fromTimestamp(created)
		out = append(out, &m)
	}
	if err := rows.Err(); err != nil {
		return nil, t.dbError("all key materials", err)
	}
	return out, nil
}

// UpdateKeyMaterial implements coffer.Tx.
func (t *tx) UpdateKeyMaterial(m *coffer.KeyMaterial) error {
	n, err := t.exec("update key material", `UPDATE kms_key_materials SET wrapped = $1
		WHERE key_id = $2 AND version = $3`, blob(m.Wrapped), m.KeyID, m.Version)
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.NotFound
	}
	return nil
}

// AccessKeys implements coffer.Tx.
func (t *tx) AccessKeys(afterID string, limit int) ([]*coffer.AccessKey, error) {
	rows, err := t.tx.Query(t.ctx, `SELECT id, account, principal_arn, status, sealed_secret,
		created_date FROM access_keys WHERE id > $1 ORDER BY id LIMIT $2`, afterID, noLimit(limit))
	if err != nil {
		return nil, t.dbError("access keys", err)
	}
	defer rows.Close()
	var out []*coffer.AccessKey
	for rows.Next() {
		var (
			k       coffer.AccessKey
			created pgtype.Timestamptz
		)
		if err := rows.Scan(&k.ID, &k.Account, &k.PrincipalARN, &k.Status, &k.SealedSecret, &created); err != nil {
			return nil, t.dbError("access keys", err)
		}
		k.CreatedDate = fromTimestamp(created)
		out = append(out, &k)
	}
	if err := rows.Err(); err != nil {
		return nil, t.dbError("access keys", err)
	}
	return out, nil
}

// UpdateAccessKeySecret implements coffer.Tx.
func (t *tx) UpdateAccessKeySecret(id string, sealed []byte) error {
	n, err := t.exec("update access key secret", `UPDATE access_keys SET sealed_secret = $1 WHERE id = $2`, blob(sealed), id)
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.NotFound
	}
	return nil
}

// MetaKeys implements coffer.Tx. key is COLLATE "C": byte order.
func (t *tx) MetaKeys(prefix string) ([]string, error) {
	rows, err := t.tx.Query(t.ctx, `SELECT key FROM meta WHERE starts_with(key, $1) ORDER BY key`, prefix)
	if err != nil {
		return nil, t.dbError("meta keys", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, t.dbError("meta keys", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, t.dbError("meta keys", err)
	}
	return out, nil
}
