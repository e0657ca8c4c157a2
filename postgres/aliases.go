package postgres

import (
	"errors"

	"github.com/coffer-project/coffer"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

const aliasColumns = `account, region, name, key_id, created_date, last_updated_date`

func scanAlias(row pgx.Row) (*coffer.Alias, error) {
	var (
		a                coffer.Alias
		created, updated pgtype.Timestamptz
	)
	err := row.Scan(&a.Namespace.Account, &a.Namespace.Region, &a.Name, &a.KeyID, &created, &updated)
	if err != nil {
		return nil, err
	}
	a.CreatedDate, a.LastUpdatedDate = fromTimestamp(created), fromTimestamp(updated)
	return &a, nil
}

// Alias implements coffer.Tx.
func (t *tx) Alias(ns coffer.Namespace, name string) (*coffer.Alias, error) {
	a, err := scanAlias(t.tx.QueryRow(t.ctx, `SELECT `+aliasColumns+` FROM kms_aliases
		WHERE account = $1 AND region = $2 AND name = $3`, ns.Account, ns.Region, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, coffer.NotFound
	}
	if err != nil {
		return nil, t.dbError("alias", err)
	}
	return a, nil
}

// InsertAlias implements coffer.Tx. The key is looked up first: an alias of a missing key is
// NotFound, where a foreign key violation would abort the transaction.
func (t *tx) InsertAlias(a *coffer.Alias) error {
	ok, err := t.keyExists("insert alias", a.KeyID)
	if err != nil {
		return err
	}
	if !ok {
		return coffer.NotFound
	}
	n, err := t.exec("insert alias", `INSERT INTO kms_aliases (`+aliasColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		a.Namespace.Account, a.Namespace.Region, a.Name, a.KeyID, required(a.CreatedDate), timestamp(a.LastUpdatedDate))
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.Errorf(coffer.ErrResourceExists, "An alias with the name %s already exists.", a.Name)
	}
	return nil
}

// UpdateAlias implements coffer.Tx. Pointing an alias at a missing key is NotFound.
func (t *tx) UpdateAlias(a *coffer.Alias) error {
	ok, err := t.keyExists("update alias", a.KeyID)
	if err != nil {
		return err
	}
	if !ok {
		return coffer.NotFound
	}
	n, err := t.exec("update alias", `UPDATE kms_aliases SET key_id = $1, last_updated_date = $2
		WHERE account = $3 AND region = $4 AND name = $5`,
		a.KeyID, timestamp(a.LastUpdatedDate), a.Namespace.Account, a.Namespace.Region, a.Name)
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.NotFound
	}
	return nil
}

// DeleteAlias implements coffer.Tx.
func (t *tx) DeleteAlias(ns coffer.Namespace, name string) error {
	n, err := t.exec("delete alias", `DELETE FROM kms_aliases WHERE account = $1 AND region = $2 AND name = $3`,
		ns.Account, ns.Region, name)
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.NotFound
	}
	return nil
}

// ListAliases implements coffer.Tx.
func (t *tx) ListAliases(ns coffer.Namespace, keyID, afterName string, limit int) ([]*coffer.Alias, error) {
	query := `SELECT ` + aliasColumns + ` FROM kms_aliases
		WHERE account = $1 AND region = $2 AND name > $3 ORDER BY name LIMIT $4`
	args := []any{ns.Account, ns.Region, afterName, noLimit(limit)}
	if keyID != "" {
		query = `SELECT ` + aliasColumns + ` FROM kms_aliases
			WHERE account = $1 AND region = $2 AND name > $3 AND key_id = $5 ORDER BY name LIMIT $4`
		args = append(args, keyID)
	}
	rows, err := t.tx.Query(t.ctx, query, args...)
	if err != nil {
		return nil, t.dbError("list aliases", err)
	}
	defer rows.Close()
	var out []*coffer.Alias
	for rows.Next() {
		a, err := scanAlias(rows)
		if err != nil {
			return nil, t.dbError("list aliases", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, t.dbError("list aliases", err)
	}
	return out, nil
}
