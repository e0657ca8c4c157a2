package sqlite

import (
	"strings"

	"github.com/coffer-project/coffer"
)

// The methods root key rotation needs: walk and rewrite everything wrapped under the root key.

// AllKeyMaterials implements coffer.Tx.
func (t *tx) AllKeyMaterials(afterKeyID string, afterVersion, limit int) ([]*coffer.KeyMaterial, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := t.query(`SELECT key_id, version, wrapped, created_date, rotation_type
		FROM kms_key_materials WHERE (key_id, version) > (?, ?) ORDER BY key_id, version LIMIT ?`,
		afterKeyID, afterVersion, limit)
	if err != nil {
		return nil, dbError("all key materials", err)
	}
	defer rows.Close()
	var out []*coffer.KeyMaterial
	for rows.Next() {
		var (
			m       coffer.KeyMaterial
			created int64
		)
		if err := rows.Scan(&m.KeyID, &m.Version, &m.Wrapped, &created, &m.RotationType); err != nil {
			return nil, dbError("all key materials", err)
		}
		m.CreatedDate = fromMillis(created)
		out = append(out, &m)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError("all key materials", err)
	}
	return out, nil
}

// UpdateKeyMaterial implements coffer.Tx.
func (t *tx) UpdateKeyMaterial(m *coffer.KeyMaterial) error {
	n, err := t.exec("update key material", `UPDATE kms_key_materials SET wrapped = ?
		WHERE key_id = ? AND version = ?`, blob(m.Wrapped), m.KeyID, m.Version)
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
	if limit <= 0 {
		limit = -1
	}
	rows, err := t.query(`SELECT id, account, principal_arn, status, sealed_secret,
		created_date FROM access_keys WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit)
	if err != nil {
		return nil, dbError("access keys", err)
	}
	defer rows.Close()
	var out []*coffer.AccessKey
	for rows.Next() {
		var (
			k       coffer.AccessKey
			created int64
		)
		if err := rows.Scan(&k.ID, &k.Account, &k.PrincipalARN, &k.Status, &k.SealedSecret, &created); err != nil {
			return nil, dbError("access keys", err)
		}
		k.CreatedDate = fromMillis(created)
		out = append(out, &k)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError("access keys", err)
	}
	return out, nil
}

// UpdateAccessKeySecret implements coffer.Tx.
func (t *tx) UpdateAccessKeySecret(id string, sealed []byte) error {
	n, err := t.exec("update access key secret", `UPDATE access_keys SET sealed_secret = ? WHERE id = ?`, blob(sealed), id)
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.NotFound
	}
	return nil
}

// MetaKeys implements coffer.Tx. The names with a prefix are contiguous in the primary key's
// byte order (BINARY collation), so the walk starts at the prefix and stops at the first name
// without it.
func (t *tx) MetaKeys(prefix string) ([]string, error) {
	rows, err := t.query(`SELECT key FROM meta WHERE key >= ? ORDER BY key`, prefix)
	if err != nil {
		return nil, dbError("meta keys", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, dbError("meta keys", err)
		}
		if !strings.HasPrefix(k, prefix) {
			break
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError("meta keys", err)
	}
	return out, nil
}
