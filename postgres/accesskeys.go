package postgres

import (
	"github.com/coffer-project/coffer"
	"github.com/jackc/pgx/v5/pgtype"
)

// The access key methods IAM needs: the keys of one principal, their status, their removal.

// AccessKeysOf implements coffer.Tx. Keys created at the same instant come in id order.
func (t *tx) AccessKeysOf(principalARN string) ([]*coffer.AccessKey, error) {
	rows, err := t.tx.Query(t.ctx, `SELECT id, account, principal_arn, status, sealed_secret,
		created_date FROM access_keys WHERE principal_arn = $1 ORDER BY created_date, id`, principalARN)
	if err != nil {
		return nil, t.dbError("access keys of", err)
	}
	defer rows.Close()
	var out []*coffer.AccessKey
	for rows.Next() {
		var (
			k       coffer.AccessKey
			created pgtype.Timestamptz
		)
		if err := rows.Scan(&k.ID, &k.Account, &k.PrincipalARN, &k.Status, &k.SealedSecret, &created); err != nil {
			return nil, t.dbError("access keys of", err)
		}
		k.CreatedDate = fromTimestamp(created)
		out = append(out, &k)
	}
	if err := rows.Err(); err != nil {
		return nil, t.dbError("access keys of", err)
	}
	return out, nil
}

// UpdateAccessKeyStatus implements coffer.Tx.
func (t *tx) UpdateAccessKeyStatus(id, status string) error {
	n, err := t.exec("update access key status", `UPDATE access_keys SET status = $1 WHERE id = $2`, status, id)
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
	n, err := t.exec("delete access key", `DELETE FROM access_keys WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.NotFound
	}
	return nil
}
