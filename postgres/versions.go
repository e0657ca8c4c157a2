package postgres

import (
	"errors"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

const versionColumns = `secret_arn, version_id, created_date, last_accessed_date, kms_key_id,
	is_binary, wrapped_key, ciphertext, destroyed_date`

// Versions implements coffer.Tx.
func (t *tx) Versions(secretARN string) ([]*coffer.Version, error) {
	return t.versions(secretARN, versionColumns)
}

// headerColumns are versionColumns with empty blobs for the key and ciphertext.
const headerColumns = `secret_arn, version_id, created_date, last_accessed_date, kms_key_id,
	is_binary, ''::bytea, ''::bytea, destroyed_date`

// headerCurrentColumns are headerColumns with the key and ciphertext of the version labelled
// AWSCURRENT: what a View reads with a secret it looks up after ReadCurrent, since a read of
// the secret's value reads that version next (Version).
const headerCurrentColumns = `secret_arn, version_id, created_date, last_accessed_date, kms_key_id,
	is_binary, CASE WHEN ` + isCurrent + ` THEN wrapped_key ELSE ''::bytea END,
	CASE WHEN ` + isCurrent + ` THEN ciphertext ELSE ''::bytea END, destroyed_date`

const isCurrent = `EXISTS (SELECT 1 FROM stages s WHERE s.secret_arn = versions.secret_arn
	AND s.version_id = versions.version_id AND s.stage = 'AWSCURRENT')`

// VersionHeaders implements coffer.Tx. The headers of the secret the transaction last looked
// up come from that lookup's round trip (tx.prefetched) when it wrote nothing since.
func (t *tx) VersionHeaders(secretARN string) ([]*coffer.Version, error) {
	if p := t.prefetched; p != nil && p.arn == secretARN && p.writes == t.writes {
		t.prefetched = nil // handed out once: the caller may change them
		return p.headers, nil
	}
	return t.versions(secretARN, headerColumns)
}

// versionsQuery selects columns (versionColumns or headerColumns) and the stages of the
// versions of the secret that where (a condition on versions.secret_arn) names, in creation
// order.
func versionsQuery(columns, where string) string {
	return `SELECT ` + columns + versionStages + ` FROM versions
		WHERE ` + where + ` ORDER BY created_date, version_id`
}

// scanVersions reads the rows of a versions query.
func scanVersions(rows pgx.Rows) ([]*coffer.Version, error) {
	defer rows.Close()
	var vs []*coffer.Version
	for rows.Next() {
		v, err := scanVersionStages(rows)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, rows.Err()
}

// versionStages is the column that follows versionColumns or headerColumns: the version's
// stages, sorted byte by byte whatever the database's collation, so that a version and its
// stages come in one round trip.
const versionStages = `, COALESCE((SELECT array_agg(s.stage ORDER BY s.stage COLLATE "C") FROM stages s
	WHERE s.secret_arn = versions.secret_arn AND s.version_id = versions.version_id), '{}')`

// scanVersionStages scans versionColumns (or headerColumns) and versionStages.
func scanVersionStages(row pgx.Row) (*coffer.Version, error) {
	var (
		v                            coffer.Version
		created, accessed, destroyed pgtype.Timestamptz
	)
	err := row.Scan(&v.SecretARN, &v.VersionID, &created, &accessed, &v.KMSKeyID, &v.Binary,
		&v.WrappedKey, &v.Ciphertext, &destroyed, &v.Stages)
	if err != nil {
		return nil, err
	}
	if len(v.Stages) == 0 {
		v.Stages = nil
	}
	v.CreatedDate, v.LastAccessedDate = fromTimestamp(created), fromTimestamp(accessed)
	v.DestroyedDate = fromTimestamp(destroyed)
	return &v, nil
}

// versions reads a secret's versions, selecting columns (versionColumns or headerColumns),
// and their stages.
func (t *tx) versions(secretARN, columns string) ([]*coffer.Version, error) {
	rows, err := t.tx.Query(t.ctx, versionsQuery(columns, `secret_arn = $1`), secretARN)
	if err != nil {
		return nil, t.dbError("versions", err)
	}
	vs, err := scanVersions(rows)
	if err != nil {
		return nil, t.dbError("versions", err)
	}
	if len(vs) == 0 {
		ok, err := t.exists("versions", `SELECT 1 FROM secrets WHERE arn = $1`, secretARN)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, coffer.NotFound
		}
	}
	return vs, nil
}

// Version implements coffer.Tx.
func (t *tx) Version(secretARN, versionID string) (*coffer.Version, error) {
	if v := t.current; v != nil && v.SecretARN == secretARN && v.VersionID == versionID {
		t.current = nil // handed out once: the caller may change it
		return v, nil
	}
	v, err := scanVersionStages(t.tx.QueryRow(t.ctx, `SELECT `+versionColumns+versionStages+` FROM versions
		WHERE secret_arn = $1 AND version_id = $2`, secretARN, versionID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, coffer.NotFound
	}
	if err != nil {
		return nil, t.dbError("version", err)
	}
	return v, nil
}

// insertVersion looks the secret up and inserts the version only when it exists; the
// statements of InsertVersion add what they answer.
const insertVersion = `WITH s AS (SELECT 1 FROM secrets WHERE arn = $1),
	ins AS (INSERT INTO versions (` + versionColumns + `)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 FROM s ON CONFLICT DO NOTHING RETURNING 1) `

// InsertVersion implements coffer.Tx, in one statement: it inserts the version only when its
// secret exists (a foreign key violation would abort the transaction, where NotFound leaves
// it usable), and says which of the two happened. After DeferWrites it is queued, as write
// queues the others, and then fails in the database when it inserts nothing.
func (t *tx) InsertVersion(v *coffer.Version) error {
	const query = insertVersion + `SELECT EXISTS (SELECT 1 FROM s), EXISTS (SELECT 1 FROM ins)`
	args := []any{v.SecretARN, v.VersionID, required(v.CreatedDate), timestamp(v.LastAccessedDate), v.KMSKeyID,
		v.Binary, blob(v.WrappedKey), blob(v.Ciphertext), timestamp(v.DestroyedDate)}
	versionID := v.VersionID
	t.writes++
	outcome := func(secret, inserted bool) error {
		switch {
		case !secret:
			return coffer.NotFound
		case !inserted:
			return coffer.Errorf(coffer.ErrResourceExists, "A version with the ID %s already exists.", versionID)
		}
		return nil
	}
	if l := t.later(); l != nil {
		// So that a COMMIT in its pipeline does not run after it (lazyTx.commit).
		const queued = insertVersion + `SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM s) THEN coffer_no_row('secret')
			WHEN NOT EXISTS (SELECT 1 FROM ins) THEN coffer_no_row('version') ELSE true END`
		l.queue(queued, args, func(br pgx.BatchResults) error {
			_, err := br.Exec()
			switch noRow(err) {
			case "secret":
				return outcome(false, false)
			case "version":
				return outcome(true, false)
			}
			if err != nil {
				return t.dbError("insert version", err)
			}
			return nil
		})
		return nil
	}
	var secret, inserted bool
	if err := t.tx.QueryRow(t.ctx, query, args...).Scan(&secret, &inserted); err != nil {
		return t.dbError("insert version", err)
	}
	return outcome(secret, inserted)
}

// MarkAccessed implements coffer.Tx.
func (t *tx) MarkAccessed(secretARN, versionID string, day time.Time) error {
	ts := timestamp(day)
	if _, err := t.exec("mark accessed", `UPDATE secrets SET last_accessed_date = $1
		WHERE arn = $2 AND COALESCE(last_accessed_date, '-infinity'::timestamptz) < $1`, ts, secretARN); err != nil {
		return err
	}
	n, err := t.exec("mark accessed", `UPDATE versions SET last_accessed_date = $1
		WHERE secret_arn = $2 AND version_id = $3 AND COALESCE(last_accessed_date, '-infinity'::timestamptz) < $1
		AND destroyed_date IS NULL`, ts, secretARN, versionID)
	if err != nil || n > 0 {
		return err
	}
	ok, err := t.exists("mark accessed", `SELECT 1 FROM secrets WHERE arn = $1`, secretARN)
	if err == nil && !ok {
		return coffer.NotFound
	}
	return err
}

// UpdateVersion implements coffer.Tx.
func (t *tx) UpdateVersion(v *coffer.Version) error {
	return t.write("update version", mustChange, `UPDATE versions SET kms_key_id = $1, wrapped_key = $2,
		ciphertext = $3, last_accessed_date = $4 WHERE secret_arn = $5 AND version_id = $6`,
		v.KMSKeyID, blob(v.WrappedKey), blob(v.Ciphertext), timestamp(v.LastAccessedDate),
		v.SecretARN, v.VersionID)
}

// DeleteVersion implements coffer.Tx. Its stages go with it (ON DELETE CASCADE).
func (t *tx) DeleteVersion(secretARN, versionID string) error {
	return t.write("delete version", mustChange, `DELETE FROM versions WHERE secret_arn = $1 AND version_id = $2`,
		secretARN, versionID)
}

// DestroyVersion implements coffer.Tx. It updates the row to empty blobs. Under MVCC the old
// row version (and its TOAST chunks, for a large value) stays in the table's files as a dead
// tuple until VACUUM reclaims the space, and in the WAL until that segment is recycled;
// autovacuum does it in time, a VACUUM of versions does it now. Nothing reads a dead tuple
// through SQL. A version already destroyed is left as it is.
func (t *tx) DestroyVersion(secretARN, versionID string, at time.Time) error {
	if at.IsZero() {
		// NULL is how a live version is stored.
		return coffer.Internal(errors.New("postgres: destroy version: zero DestroyedDate"))
	}
	n, err := t.exec("destroy version", `UPDATE versions SET wrapped_key = '', ciphertext = '',
		destroyed_date = $1 WHERE secret_arn = $2 AND version_id = $3 AND destroyed_date IS NULL`,
		required(at), secretARN, versionID)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	ok, err := t.exists("destroy version", `SELECT 1 FROM versions WHERE secret_arn = $1 AND version_id = $2`,
		secretARN, versionID)
	if err != nil {
		return err
	}
	if !ok {
		return coffer.NotFound
	}
	return nil
}

// SetStage implements coffer.Tx.
func (t *tx) SetStage(secretARN, stage, versionID string) error {
	// One statement: the row is written only when the version exists.
	return t.write("set stage", mustChange, `INSERT INTO stages (secret_arn, stage, version_id)
		SELECT secret_arn, $2, version_id FROM versions WHERE secret_arn = $1 AND version_id = $3
		ON CONFLICT (secret_arn, stage) DO UPDATE SET version_id = EXCLUDED.version_id`,
		secretARN, stage, versionID)
}

// RemoveStage implements coffer.Tx.
func (t *tx) RemoveStage(secretARN, stage string) error {
	return t.write("remove stage", nil, `DELETE FROM stages WHERE secret_arn = $1 AND stage = $2`, secretARN, stage)
}
