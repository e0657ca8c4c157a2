package sqlite

import "github.com/coffer-project/coffer"

// The access key methods IAM needs: the keys of one principal, their status, their removal.

// AccessKeysOf implements coffer.Tx. Keys created in the same millisecond come in id order.
func (t *tx) AccessKeysOf(principalARN string) ([]*coffer.AccessKey, error) {
	rows, err := t.query(`SELECT id, account, principal_arn, status, sealed_secret,
		created_date FROM access_keys WHERE principal_arn = ? ORDER BY created_date, id`, principalARN)
	if err != nil {
		return nil, dbError("access keys of", err)
	}
	defer rows.Close()
	var out []*coffer.AccessKey
	for rows.Next() {
		var (
			k       coffer.AccessKey
			created int64
		)
		if err := rows.Scan(&k.ID, &k.Account, &k.PrincipalARN, &k.Status, &k.SealedSecret, &created); err != nil {
			return nil, dbError("access keys of", err)
		}
		k.CreatedDate = fromMillis(created)
		out = append(out, &k)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError("access keys of", err)
	}
	return out, nil
}

// UpdateAccessKeyStatus implements coffer.Tx.
func (t *tx) UpdateAccessKeyStatus(id, status string) error {
	n, err := t.exec("update access key status", `UPDATE access_keys SET status = ? WHERE id = ?`, status, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.NotFound
	}
	return nil
}

// DeleteAccessKey implements coffer.Tx.
func (t *tx) DeleteAccessKey(id string) error {
	n, err := t.exec("delete access key", `DELETE FROM access_keys WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.NotFound
	}
	return nil
}
