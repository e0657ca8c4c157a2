package sqlite

import (
	"database/sql"
	"errors"

	"github.com/coffer-project/coffer"
)

const aliasColumns = `account, region, name, key_id, created_date, last_updated_date`

func scanAlias(row scanner) (*coffer.Alias, error) {
	var (
		a                coffer.Alias
		created, updated int64
	)
	err := row.Scan(&a.Namespace.Account, &a.Namespace.Region, &a.Name, &a.KeyID, &created, &updated)
	if err != nil {
		return nil, err
	}
	a.CreatedDate, a.LastUpdatedDate = fromMillis(created), fromMillis(updated)
	return &a, nil
}

// Alias implements coffer.Tx.
func (t *tx) Alias(ns coffer.Namespace, name string) (*coffer.Alias, error) {
	a, err := scanAlias(t.queryRow(`SELECT `+aliasColumns+` FROM kms_aliases
		WHERE account = ? AND region = ? AND name = ?`, ns.Account, ns.Region, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, coffer.NotFound
	}
	if err != nil {
		return nil, dbError("alias", err)
	}
	return a, nil
}

// InsertAlias implements coffer.Tx. An alias of a missing key is NotFound.
func (t *tx) InsertAlias(a *coffer.Alias) error {
	ok, err := t.keyExists("insert alias", a.KeyID)
	if err != nil {
		return err
	}
	if !ok {
		return coffer.NotFound
	}
	n, err := t.exec("insert alias", `INSERT INTO kms_aliases (`+aliasColumns+`)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		a.Namespace.Account, a.Namespace.Region, a.Name, a.KeyID, millis(a.CreatedDate), millis(a.LastUpdatedDate))
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
	n, err := t.exec("update alias", `UPDATE kms_aliases SET key_id = ?, last_updated_date = ?
		WHERE account = ? AND region = ? AND name = ?`,
		a.KeyID, millis(a.LastUpdatedDate), a.Namespace.Account, a.Namespace.Region, a.Name)
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
	n, err := t.exec("delete alias", `DELETE FROM kms_aliases WHERE account = ? AND region = ? AND name = ?`,
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
	if limit <= 0 {
		limit = -1
	}
	where := `account = ? AND region = ? AND name > ?`
	args := []any{ns.Account, ns.Region, afterName}
	if keyID != "" {
		where += ` AND key_id = ?`
		args = append(args, keyID)
	}
	query := `SELECT ` + aliasColumns + ` FROM kms_aliases WHERE ` + where + ` ORDER BY name LIMIT ?`
	args = append(args, limit)
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, dbError("list aliases", err)
	}
	defer rows.Close()
	var out []*coffer.Alias
	for rows.Next() {
		a, err := scanAlias(rows)
		if err != nil {
			return nil, dbError("list aliases", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError("list aliases", err)
	}
	return out, nil
}
