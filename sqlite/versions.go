package sqlite

import (
	"cmp"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/coffer-project/coffer"
)

const versionColumns = `secret_arn, version_id, created_date, last_accessed_date, kms_key_id,
	is_binary, wrapped_key, ciphertext, destroyed_date`

func scanVersion(row scanner) (*coffer.Version, error) {
	var (
		v                            coffer.Version
		created, accessed, destroyed int64
	)
	err := row.Scan(&v.SecretARN, &v.VersionID, &created, &accessed, &v.KMSKeyID, &v.Binary,
		&v.WrappedKey, &v.Ciphertext, &destroyed)
	if err != nil {
		return nil, err
	}
	v.CreatedDate, v.LastAccessedDate = fromMillis(created), fromMillis(accessed)
	v.DestroyedDate = fromMillis(destroyed)
	return &v, nil
}

// Versions implements coffer.Tx.
// The read cache does not keep every version whole (a secret's hundred versions would all be
// copied at each read of one): reads that need one version's value read its headers and
// then that version (VersionHeaders, Version).
func (t *tx) Versions(secretARN string) ([]*coffer.Version, error) {
	return t.versions(secretARN)
}

// VersionHeaders implements coffer.Tx: one statement, the versions without their key and
// ciphertext (empty), each with its stages. It runs on the writer's turn of every new
// version, so it reads no blob and joins the stages rather than asking for them apart.
func (t *tx) VersionHeaders(secretARN string) ([]*coffer.Version, error) {
	if t.cache != nil {
		if vs, ok := t.cache.headers(secretARN); ok {
			coffer.NoteCacheHit(t.ctx)
			return vs, nil
		}
		vs, err := t.versionHeaders(secretARN)
		if err == nil {
			t.cache.putHeaders(t.gen, secretARN, vs)
		}
		return vs, err
	}
	if e := t.cached(secretARN); e != nil && e.full {
		var vs []*coffer.Version // nil when there are none, as the query gives it
		for _, v := range e.headers {
			vs = append(vs, copyVersion(v))
		}
		t.w.c.hits++
		if t.w.c.check {
			stored, _ := t.versionHeaders(secretARN)
			checkSame("versions of "+secretARN, vs, stored)
		}
		return vs, nil
	}
	vs, err := t.versionHeaders(secretARN)
	if err == nil {
		t.apply(secretARN, func(e *wentry) {
			e.headers = make([]*coffer.Version, len(vs))
			for i, v := range vs {
				e.headers[i] = copyVersion(v)
			}
			e.full = true
		})
	}
	return vs, err
}

// headersQuery reads a secret's versions without their key and ciphertext, each with its
// stages: a row per stage (one row without a stage for a deprecated version), the rows of a
// version one after the other, its stages in order. After ReadCurrent, a View's query
// (current) also reads the key and ciphertext of the version labelled AWSCURRENT, on that
// label's row: the version a read of the secret's value reads next, which Version then gives
// without a statement of its own.
func headersQuery(current bool) string {
	blobs := ""
	if current {
		blobs = `, CASE WHEN s.stage = 'AWSCURRENT' THEN v.wrapped_key END,
		CASE WHEN s.stage = 'AWSCURRENT' THEN v.ciphertext END`
	}
	return `SELECT v.version_id, v.created_date, v.last_accessed_date, v.kms_key_id,
		v.is_binary, v.destroyed_date, s.stage` + blobs + `
		FROM versions v LEFT JOIN stages s ON s.secret_arn = v.secret_arn AND s.version_id = v.version_id
		WHERE v.secret_arn = ? ORDER BY v.version_id, s.stage`
}

var (
	headersOnly        = headersQuery(false)
	headersWithCurrent = headersQuery(true)
)

// ReadCurrent implements coffer.CurrentReader.
func (t *tx) ReadCurrent() {
	t.readCurrent = t.lazy != nil
}

func (t *tx) versionHeaders(secretARN string) ([]*coffer.Version, error) {
	withCurrent := t.readCurrent // and the AWSCURRENT version's blobs
	query := headersOnly
	if withCurrent {
		query = headersWithCurrent
	}
	rows, err := t.query(query, secretARN)
	if err != nil {
		return nil, dbError("version headers", err)
	}
	defer rows.Close()
	var (
		vs           []*coffer.Version
		current      *coffer.Version // the header of the version labelled AWSCURRENT
		curWK, curCT []byte          // and its blobs
		id, kms      string
		stage        sql.NullString
		binary       bool
		created      int64
		accessed     int64
		destroyed    int64
		wk, ct       []byte
		dest         = []any{&id, &created, &accessed, &kms, &binary, &destroyed, &stage, &wk, &ct}
	)
	if !withCurrent {
		dest = dest[:7]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, dbError("version headers", err)
		}
		if n := len(vs); n == 0 || vs[n-1].VersionID != id {
			vs = append(vs, &coffer.Version{SecretARN: secretARN, VersionID: id, CreatedDate: fromMillis(created),
				LastAccessedDate: fromMillis(accessed), KMSKeyID: kms, Binary: binary,
				WrappedKey: []byte{}, Ciphertext: []byte{}, DestroyedDate: fromMillis(destroyed)})
		}
		if stage.Valid {
			v := vs[len(vs)-1]
			v.Stages = append(v.Stages, stage.String)
			// A version without a value (a rotation's placeholder, a destroyed one) is left to
			// Version's own statement.
			if withCurrent && stage.String == coffer.StageCurrent && len(wk) > 0 && len(ct) > 0 {
				current, curWK, curCT = v, wk, ct
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, dbError("version headers", err)
	}
	if current != nil {
		// Whole only now, with all its stages.
		full := *current
		full.Stages = slices.Clone(current.Stages)
		full.WrappedKey, full.Ciphertext = curWK, curCT
		t.current = append(t.current, &full)
	}
	if len(vs) == 0 {
		if err := t.secretExists("version headers", secretARN); err != nil {
			return nil, err
		}
	}
	sortHeaders(vs)
	return vs, nil
}

// sortHeaders puts versions in the order Versions and VersionHeaders give them: by creation
// date, then id. The queries read them in the order of the primary key's index, (secret,
// id), and leave the sorting to this: SQLite would sort them in a temporary B-tree, which
// cost a random read of a million secrets' headers more than the rest of the query (17 of
// 40 µs).
func sortHeaders(vs []*coffer.Version) {
	slices.SortFunc(vs, func(a, b *coffer.Version) int {
		return cmp.Or(cmp.Compare(millis(a.CreatedDate), millis(b.CreatedDate)), strings.Compare(a.VersionID, b.VersionID))
	})
}

// secretExists returns NotFound when no secret has the ARN: a secret without versions is
// told apart from a secret that is not there.
func (t *tx) secretExists(op, secretARN string) error {
	ok, err := t.exists(op, `SELECT 1 FROM secrets WHERE arn = ?`, secretARN)
	if err == nil && !ok {
		err = coffer.NotFound
	}
	return err
}

// versions reads a secret's versions, and their stages.
func (t *tx) versions(secretARN string) ([]*coffer.Version, error) {
	rows, err := t.query(`SELECT `+versionColumns+` FROM versions
		WHERE secret_arn = ? ORDER BY version_id`, secretARN)
	if err != nil {
		return nil, dbError("versions", err)
	}
	defer rows.Close()
	var vs []*coffer.Version
	byID := make(map[string]*coffer.Version)
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, dbError("versions", err)
		}
		vs = append(vs, v)
		byID[v.VersionID] = v
	}
	if err := rows.Err(); err != nil {
		return nil, dbError("versions", err)
	}
	if len(vs) == 0 {
		if err := t.secretExists("versions", secretARN); err != nil {
			return nil, err
		}
		return vs, nil
	}
	sortHeaders(vs)
	err = t.stages(func(versionID, stage string) {
		if v := byID[versionID]; v != nil {
			v.Stages = append(v.Stages, stage)
		}
	}, `SELECT version_id, stage FROM stages WHERE secret_arn = ? ORDER BY stage`, secretARN)
	return vs, err
}

// stages calls add for every (version id, stage) row of query.
func (t *tx) stages(add func(versionID, stage string), query string, args ...any) error {
	rows, err := t.query(query, args...)
	if err != nil {
		return dbError("stages", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, stage string
		if err := rows.Scan(&id, &stage); err != nil {
			return dbError("stages", err)
		}
		add(id, stage)
	}
	if err := rows.Err(); err != nil {
		return dbError("stages", err)
	}
	return nil
}

// Version implements coffer.Tx.
func (t *tx) Version(secretARN, versionID string) (*coffer.Version, error) {
	for _, v := range t.current {
		if v.SecretARN == secretARN && v.VersionID == versionID {
			if t.cache != nil {
				t.cache.putVersion(t.gen, v)
			}
			return shareVersion(v), nil
		}
	}
	if t.cache != nil {
		if v, ok := t.cache.version(secretARN, versionID); ok {
			coffer.NoteCacheHit(t.ctx)
			if v == nil {
				return nil, coffer.NotFound
			}
			return v, nil
		}
	}
	v, err := t.version(secretARN, versionID)
	if err != nil {
		return nil, err
	}
	if t.cache != nil {
		t.cache.putVersion(t.gen, v)
	}
	return v, nil
}

// version reads one version and its stages in one statement: a row per stage (one row
// without a stage for a deprecated version), the version's columns read from the first.
func (t *tx) version(secretARN, versionID string) (*coffer.Version, error) {
	rows, err := t.query(`SELECT v.secret_arn, v.version_id, v.created_date, v.last_accessed_date,
		v.kms_key_id, v.is_binary, v.wrapped_key, v.ciphertext, v.destroyed_date, s.stage
		FROM versions v LEFT JOIN stages s ON s.secret_arn = v.secret_arn AND s.version_id = v.version_id
		WHERE v.secret_arn = ? AND v.version_id = ? ORDER BY s.stage`, secretARN, versionID)
	if err != nil {
		return nil, dbError("version", err)
	}
	defer rows.Close()
	var v *coffer.Version
	for rows.Next() {
		var stage sql.NullString
		if v == nil {
			var created, accessed, destroyed int64
			v = &coffer.Version{}
			err = rows.Scan(&v.SecretARN, &v.VersionID, &created, &accessed, &v.KMSKeyID, &v.Binary,
				&v.WrappedKey, &v.Ciphertext, &destroyed, &stage)
			v.CreatedDate, v.LastAccessedDate = fromMillis(created), fromMillis(accessed)
			v.DestroyedDate = fromMillis(destroyed)
		} else {
			var skip sql.RawBytes
			err = rows.Scan(&skip, &skip, &skip, &skip, &skip, &skip, &skip, &skip, &skip, &stage)
		}
		if err != nil {
			return nil, dbError("version", err)
		}
		if stage.Valid {
			v.Stages = append(v.Stages, stage.String)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, dbError("version", err)
	}
	if v == nil {
		return nil, coffer.NotFound
	}
	return v, nil
}

// InsertVersion implements coffer.Tx.
func (t *tx) InsertVersion(v *coffer.Version) (err error) {
	t.wrote(v.SecretARN)
	defer func() {
		if err != nil {
			t.forget(v.SecretARN)
			return
		}
		t.apply(v.SecretARN, func(e *wentry) {
			if e.full {
				e.headers = append(e.headers, header(v))
				sortHeaders(e.headers)
			}
		})
	}()
	// The secret's row, when the write cache holds it, says it exists.
	e := t.cached(v.SecretARN)
	known := e != nil && e.secret != nil
	if !known || t.w.c.check {
		ok, err := t.exists("insert version", `SELECT 1 FROM secrets WHERE arn = ?`, v.SecretARN)
		if err != nil {
			return err
		}
		if known {
			checkSame("existence of "+v.SecretARN, true, ok)
		}
		if !ok {
			return coffer.NotFound
		}
	}
	n, err := t.exec("insert version", `INSERT INTO versions (`+versionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		v.SecretARN, v.VersionID, millis(v.CreatedDate), accessMillis(v.LastAccessedDate), v.KMSKeyID,
		v.Binary, blob(v.WrappedKey), blob(v.Ciphertext), millis(v.DestroyedDate))
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.Errorf(coffer.ErrResourceExists, "A version with the ID %s already exists.", v.VersionID)
	}
	return nil
}

// UpdateVersion implements coffer.Tx.
func (t *tx) UpdateVersion(v *coffer.Version) error {
	t.touch(v.SecretARN)
	n, err := t.exec("update version", `UPDATE versions SET kms_key_id = ?, wrapped_key = ?,
		ciphertext = ?, last_accessed_date = ? WHERE secret_arn = ? AND version_id = ?`,
		v.KMSKeyID, blob(v.WrappedKey), blob(v.Ciphertext), accessMillis(v.LastAccessedDate),
		v.SecretARN, v.VersionID)
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.NotFound
	}
	return nil
}

// MarkAccessed implements coffer.Tx: two narrow UPDATEs, which touch only the index on
// last access dates, where UpdateSecret rewrites every column and index.
func (t *tx) MarkAccessed(secretARN, versionID string, day time.Time) error {
	t.touch(secretARN)
	ms := millis(day)
	if _, err := t.exec("mark accessed", `UPDATE secrets SET last_accessed_date = ?
		WHERE arn = ? AND last_accessed_date < ?`, ms, secretARN, ms); err != nil {
		return err
	}
	n, err := t.exec("mark accessed", `UPDATE versions SET last_accessed_date = ?
		WHERE secret_arn = ? AND version_id = ? AND last_accessed_date < ? AND destroyed_date = 0`,
		ms, secretARN, versionID, ms)
	if err != nil || n > 0 {
		return err
	}
	ok, err := t.exists("mark accessed", `SELECT 1 FROM secrets WHERE arn = ?`, secretARN)
	if err == nil && !ok {
		return coffer.NotFound
	}
	return err
}

// DeleteVersion implements coffer.Tx. Its stages go with it (ON DELETE CASCADE).
func (t *tx) DeleteVersion(secretARN, versionID string) error {
	t.wrote(secretARN)
	n, err := t.exec("delete version", `DELETE FROM versions WHERE secret_arn = ? AND version_id = ?`,
		secretARN, versionID)
	if err == nil && n == 0 {
		err = coffer.NotFound
	}
	if err != nil {
		t.forget(secretARN)
		return err
	}
	t.apply(secretARN, func(e *wentry) {
		if e.full {
			n := len(e.headers)
			e.headers = slices.DeleteFunc(e.headers, func(v *coffer.Version) bool { return v.VersionID == versionID })
			if len(e.headers) != n-1 {
				*e = wentry{secret: e.secret} // not what the database holds: read it again
			}
		}
	})
	return nil
}

// DestroyVersion implements coffer.Tx. The row keeps its place with empty blobs; with
// secure_delete on, SQLite overwrites the space and the overflow pages the old blobs held with
// zeros, and Update checkpoints the WAL after the commit so that the pages written by earlier
// transactions go from there too. A version already destroyed is left as it is.
func (t *tx) DestroyVersion(secretARN, versionID string, at time.Time) error {
	t.touch(secretARN)
	if at.IsZero() {
		// The zero time is how a live version is stored.
		return coffer.Internal(errors.New("sqlite: destroy version: zero DestroyedDate"))
	}
	n, err := t.exec("destroy version", `UPDATE versions SET wrapped_key = x'', ciphertext = x'',
		destroyed_date = ? WHERE secret_arn = ? AND version_id = ? AND destroyed_date = 0`,
		millis(at), secretARN, versionID)
	if err != nil {
		return err
	}
	if n > 0 {
		t.destroyed = true
		return nil
	}
	ok, err := t.exists("destroy version", `SELECT 1 FROM versions WHERE secret_arn = ? AND version_id = ?`,
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
	t.wrote(secretARN)
	// One statement: the row is written only when the version exists.
	n, err := t.exec("set stage", `INSERT INTO stages (secret_arn, stage, version_id)
		SELECT secret_arn, ?, version_id FROM versions WHERE secret_arn = ? AND version_id = ?
		ON CONFLICT (secret_arn, stage) DO UPDATE SET version_id = excluded.version_id`,
		stage, secretARN, versionID)
	if err == nil && n == 0 {
		err = coffer.NotFound
	}
	if err != nil {
		t.forget(secretARN)
		return err
	}
	t.apply(secretARN, func(e *wentry) {
		if e.full && !e.setStage(stage, versionID) {
			*e = wentry{secret: e.secret} // not what the database holds: read it again
		}
	})
	return nil
}

// RemoveStage implements coffer.Tx.
func (t *tx) RemoveStage(secretARN, stage string) error {
	t.wrote(secretARN)
	_, err := t.exec("remove stage", `DELETE FROM stages WHERE secret_arn = ? AND stage = ?`, secretARN, stage)
	if err != nil {
		t.forget(secretARN)
		return err
	}
	t.apply(secretARN, func(e *wentry) {
		if e.full {
			e.removeStage(stage)
		}
	})
	return nil
}
