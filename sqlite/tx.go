package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/coffer-project/coffer"
)

// tx is a coffer.Tx on one database/sql transaction.
type tx struct {
	ctx   context.Context
	tx    *sql.Tx
	stmts *stmtCache // the pool's prepared statements
	// destroyed is set when DestroyVersion erased a value: Update then checkpoints the WAL
	// after the commit.
	destroyed bool
	// cache is the store's read cache in a View (nil in an Update, whose reads must see its
	// own writes), and gen the cache generation the View began in.
	cache *readCache
	gen   uint64
	lazy  *lazyBegin // a View's: tx is begun at the first query
	// readCurrent is set, in a View, by ReadCurrent: versionHeaders then also reads the
	// version labelled AWSCURRENT whole, into current, for Version to give out (copies).
	readCurrent bool
	current     []*coffer.Version
	// touched lists the secrets an Update wrote to: their cache entries go after the commit.
	touched []string
	// w is an Update's view of the write cache (nil in a View, or when the cache is off).
	w *wlayers
	// known holds, in an Update, the columns (secretArgs) of each secret as this
	// transaction last read or wrote it, so that UpdateSecret writes only what changed:
	// a column that is not written leaves its indexes alone.
	known map[string][]any
}

// remember records s's columns as the transaction knows them (Updates only).
func (t *tx) remember(s *coffer.Secret) {
	if t.lazy != nil { // a View
		return
	}
	args, err := secretArgs(s)
	if err != nil {
		return
	}
	if t.known == nil {
		t.known = make(map[string][]any)
	}
	t.known[s.ARN] = args
}

// touch records that the transaction wrote to the secret arn (its row, versions or stages)
// in a way the write cache does not follow: its entry there is unknown from now on.
func (t *tx) touch(arn string) {
	t.wrote(arn)
	t.forget(arn)
}

// wrote records that the transaction wrote to the secret arn; a write the write cache follows
// then applies itself there (or calls forget when it failed).
func (t *tx) wrote(arn string) {
	if len(t.touched) == 0 || t.touched[len(t.touched)-1] != arn {
		t.touched = append(t.touched, arn)
	}
}

// forget marks arn unknown in the write cache, from this Update on.
func (t *tx) forget(arn string) {
	if t.w != nil {
		t.w.forget(arn)
	}
}

// cached returns the write cache's entry for arn, as this Update sees it, or nil.
func (t *tx) cached(arn string) *wentry {
	if t.w == nil {
		return nil
	}
	return t.w.lookup(arn)
}

// apply changes this Update's copy of arn's entry in the write cache.
func (t *tx) apply(arn string, f func(e *wentry)) {
	if t.w != nil {
		f(t.w.mutable(arn))
	}
}

var _ coffer.Tx = (*tx)(nil)

const secretColumns = `arn, account, region, name, description, kms_key_id, tags, resource_policy,
	rotation_enabled, rotation_lambda_arn, rotation_after_days, rotation_duration, rotation_schedule,
	owning_service, primary_region, created_date, last_changed_date, last_accessed_date,
	last_rotated_date, next_rotation_date, deleted_date, purge_date, type, version_retention`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanSecret(row scanner) (*coffer.Secret, error) {
	var (
		s                                         coffer.Secret
		tags                                      string
		created, changed, accessed, rotated, next int64
		deleted, purge                            int64
	)
	err := row.Scan(&s.ARN, &s.Namespace.Account, &s.Namespace.Region, &s.Name, &s.Description,
		&s.KMSKeyID, &tags, &s.ResourcePolicy, &s.RotationEnabled, &s.RotationLambdaARN,
		&s.RotationRules.AutomaticallyAfterDays, &s.RotationRules.Duration,
		&s.RotationRules.ScheduleExpression, &s.OwningService, &s.PrimaryRegion,
		&created, &changed, &accessed, &rotated, &next, &deleted, &purge, &s.Type, &s.VersionRetention)
	if err != nil {
		return nil, err
	}
	if s.Tags, err = decodeTags(tags); err != nil {
		return nil, err
	}
	s.CreatedDate, s.LastChangedDate, s.LastAccessedDate = fromMillis(created), fromMillis(changed), fromMillis(accessed)
	s.LastRotatedDate, s.NextRotationDate = fromMillis(rotated), fromMillis(next)
	s.DeletedDate, s.PurgeDate = fromMillis(deleted), fromMillis(purge)
	return &s, nil
}

// encodeTags stores tags as a JSON array, keeping their order, and nil tags (never set) as
// the JSON null, so that an empty array means set and all removed.
func encodeTags(tags []coffer.Tag) (string, error) {
	if tags == nil {
		return "null", nil
	}
	if len(tags) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(tags)
	return string(b), err
}

// decodeTags reads what encodeTags wrote: null reads back as nil, [] as an empty, non-nil
// slice.
func decodeTags(s string) ([]coffer.Tag, error) {
	switch s { // the common cases, without the JSON decoder
	case "null":
		return nil, nil
	case "[]":
		return []coffer.Tag{}, nil
	}
	var tags []coffer.Tag
	if err := json.Unmarshal([]byte(s), &tags); err != nil {
		return nil, fmt.Errorf("decode tags: %w", err)
	}
	return tags, nil
}

// secretArgs returns the values of secretColumns for s.
func secretArgs(s *coffer.Secret) ([]any, error) {
	tags, err := encodeTags(s.Tags)
	if err != nil {
		return nil, err
	}
	return []any{s.ARN, s.Namespace.Account, s.Namespace.Region, s.Name, s.Description,
		s.KMSKeyID, tags, s.ResourcePolicy, s.RotationEnabled, s.RotationLambdaARN,
		s.RotationRules.AutomaticallyAfterDays, s.RotationRules.Duration,
		s.RotationRules.ScheduleExpression, s.OwningService, s.PrimaryRegion,
		millis(s.CreatedDate), millis(s.LastChangedDate), accessMillis(s.LastAccessedDate),
		millis(s.LastRotatedDate), millis(s.NextRotationDate), millis(s.DeletedDate),
		millis(s.PurgeDate), s.Type, s.VersionRetention}, nil
}

// oneSecret runs a query for at most one secret.
func (t *tx) oneSecret(op, query string, args ...any) (*coffer.Secret, error) {
	s, err := scanSecret(t.queryRow(query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, coffer.NotFound
	}
	if err != nil {
		return nil, dbError(op, err)
	}
	return s, nil
}

// secrets runs a query for any number of secrets.
func (t *tx) secrets(op, query string, args ...any) ([]*coffer.Secret, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, dbError(op, err)
	}
	defer rows.Close()
	var out []*coffer.Secret
	for rows.Next() {
		s, err := scanSecret(rows)
		if err != nil {
			return nil, dbError(op, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(op, err)
	}
	return out, nil
}

// exists reports whether query finds a row.
func (t *tx) exists(op, query string, args ...any) (bool, error) {
	var one int
	err := t.queryRow(query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, dbError(op, err)
	}
	return true, nil
}

// exec runs a statement and returns how many rows it changed.
func (t *tx) exec(op, query string, args ...any) (int64, error) {
	res, err := t.execStmt(query, args...)
	if err != nil {
		return 0, dbError(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, dbError(op, err)
	}
	return n, nil
}

// SecretByName implements coffer.Tx.
func (t *tx) SecretByName(ns coffer.Namespace, name string) (*coffer.Secret, error) {
	if t.cache != nil {
		if s := t.cache.secretByName(ns, name); s != nil {
			coffer.NoteCacheHit(t.ctx)
			return s, nil
		}
	}
	var e *wentry
	if t.w != nil {
		if arn, ok := t.w.byName(ns, name); ok {
			if e = t.w.lookup(arn); e != nil && e.secret != nil && (e.secret.Name != name || e.secret.Namespace != ns) {
				e = nil
			}
		}
	}
	return t.secret(e, func() (*coffer.Secret, error) {
		return t.oneSecret("secret by name", `SELECT `+secretColumns+` FROM secrets
		WHERE account = ? AND region = ? AND name = ?`, ns.Account, ns.Region, name)
	})
}

// SecretByARN implements coffer.Tx.
func (t *tx) SecretByARN(arn string) (*coffer.Secret, error) {
	if t.cache != nil {
		if s := t.cache.secretByARN(arn); s != nil {
			coffer.NoteCacheHit(t.ctx)
			return s, nil
		}
	}
	return t.secret(t.cached(arn), func() (*coffer.Secret, error) {
		return t.oneSecret("secret by arn", `SELECT `+secretColumns+` FROM secrets WHERE arn = ?`, arn)
	})
}

// secret answers a read of one secret from e, the write cache's entry for it, when e holds
// the row; otherwise it runs query, and fills the caches with what it read.
func (t *tx) secret(e *wentry, query func() (*coffer.Secret, error)) (*coffer.Secret, error) {
	if e != nil && e.secret != nil {
		s := copySecret(e.secret)
		t.w.c.hits++
		if t.w.c.check {
			stored, _ := query()
			checkSame("secret "+s.ARN, s, stored)
		}
		t.remember(s)
		return s, nil
	}
	s, err := query()
	if err == nil {
		if t.cache != nil {
			t.cache.putSecret(t.gen, s)
		}
		t.remember(s)
		t.apply(s.ARN, func(e *wentry) { e.secret = copySecret(s) })
	}
	return s, err
}

// InsertSecret implements coffer.Tx.
func (t *tx) InsertSecret(s *coffer.Secret) error {
	args, err := secretArgs(s)
	if err != nil {
		return coffer.Internal(fmt.Errorf("sqlite: insert secret: %w", err))
	}
	n, err := t.exec("insert secret", `INSERT INTO secrets (`+secretColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.Errorf(coffer.ErrResourceExists, "The operation failed because the secret %s already exists.", s.Name)
	}
	t.remember(s)
	// A new secret has no versions yet.
	t.apply(s.ARN, func(e *wentry) { *e = wentry{secret: normSecret(s), full: true} })
	return nil
}

// UpdateSecret implements coffer.Tx. When the transaction knows the row (it read or wrote it),
// only the columns that differ are written, so that an update of a secret's dates does not
// rewrite every index of the table.
func (t *tx) UpdateSecret(s *coffer.Secret) (err error) {
	t.wrote(s.ARN)
	defer func() {
		if err != nil {
			t.forget(s.ARN)
		} else {
			t.apply(s.ARN, func(e *wentry) { e.secret = normSecret(s) })
		}
	}()
	args, err := secretArgs(s)
	if err != nil {
		return coffer.Internal(fmt.Errorf("sqlite: update secret: %w", err))
	}
	// Columns 0–3 (arn, account, region, name) never change.
	var set strings.Builder
	var vals []any
	if old, ok := t.known[s.ARN]; ok {
		for i := 4; i < len(args); i++ {
			if args[i] != old[i] {
				if set.Len() > 0 {
					set.WriteString(", ")
				}
				set.WriteString(secretColumnNames[i] + " = ?")
				vals = append(vals, args[i])
			}
		}
		if len(vals) == 0 {
			return nil // nothing changed in a row this transaction holds
		}
	} else {
		for i := 4; i < len(args); i++ {
			if i > 4 {
				set.WriteString(", ")
			}
			set.WriteString(secretColumnNames[i] + " = ?")
		}
		vals = args[4:]
	}
	n, err := t.exec("update secret", `UPDATE secrets SET `+set.String()+` WHERE arn = ?`, append(vals, s.ARN)...)
	if err != nil {
		return err
	}
	if n == 0 {
		delete(t.known, s.ARN)
		return coffer.NotFound
	}
	if t.known == nil {
		t.known = make(map[string][]any)
	}
	t.known[s.ARN] = args
	return nil
}

// secretColumnNames are secretColumns' names, in secretArgs' order.
var secretColumnNames = func() []string {
	names := strings.Split(secretColumns, ",")
	for i, n := range names {
		names[i] = strings.TrimSpace(n)
	}
	return names
}()

// DeleteSecret implements coffer.Tx. Versions and stages go with it (ON DELETE CASCADE).
func (t *tx) DeleteSecret(arn string) error {
	t.touch(arn)
	delete(t.known, arn)
	n, err := t.exec("delete secret", `DELETE FROM secrets WHERE arn = ?`, arn)
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.NotFound
	}
	return nil
}

// sortColumn returns the column ListSecrets orders by for sortBy, and the value of that
// column at the cursor c (nil for none).
func sortColumn(sortBy string, c *coffer.ListCursor) (column string, at any, err error) {
	var t time.Time
	var name string
	if c != nil {
		t, name = c.Time, c.Name
	}
	switch sortBy {
	case "", coffer.SortCreatedDate:
		return "created_date", millis(t), nil
	case coffer.SortLastChangedDate:
		return "last_changed_date", millis(t), nil
	case coffer.SortLastAccessedDate:
		return "last_accessed_date", accessMillis(t), nil
	case coffer.SortName:
		return "name", name, nil
	}
	return "", nil, fmt.Errorf("unknown SortBy %q", sortBy)
}

// ListSecrets implements coffer.Tx.
func (t *tx) ListSecrets(ns coffer.Namespace, q coffer.ListQuery) ([]*coffer.Secret, error) {
	if secs, ok, err := t.listByWalk(ns, q); ok || err != nil {
		return secs, err
	}
	query, args, err := listQuery(ns, q)
	if err != nil {
		return nil, coffer.Internal(fmt.Errorf("sqlite: list secrets: %w", err))
	}
	return t.secrets("list secrets", query, args...)
}

// listProbe and listBudget choose between the two ways of answering a list in a date order
// (created, last changed or last accessed) with name prefixes. listQuery's range search of
// the name index reads and sorts every secret the prefixes match: fast for a few, but a
// prefix that a million secrets share took half a second a page (docs/performance.md).
// Walking the order's index and keeping what matches stops after a page's worth, fast when
// the matches are dense. So when the name index holds at least listProbe matches (counted on
// the index alone), the walk is tried first, over at most listBudget × the limit entries;
// when that finds no full page and the namespace goes on, the range search answers. Rows are
// stored in the order secrets were created, so a walk in that order reads the table in order
// too; in the others it reads each walked secret's row where it lies. Variables for tests.
var (
	listProbe  = 1000
	listBudget = 25
)

// walkIndexes names the index of each date order a walk follows (a list by name is a range
// search of the name index in that order already).
var walkIndexes = map[string]string{
	"":                          "secrets_list",
	coffer.SortCreatedDate:      "secrets_list",
	coffer.SortLastChangedDate:  "secrets_list_changed",
	coffer.SortLastAccessedDate: "secrets_list_accessed",
}

// listByWalk answers q by a walk of its order's index when listProbe says so (ok), or
// reports that listQuery should.
func (t *tx) listByWalk(ns coffer.Namespace, q coffer.ListQuery) (secs []*coffer.Secret, ok bool, err error) {
	index, byDate := walkIndexes[q.SortBy]
	if len(q.NamePrefixes) == 0 || q.Limit <= 0 || !byDate {
		return nil, false, nil
	}
	key, after, err := sortColumn(q.SortBy, q.After)
	if err != nil {
		return nil, false, coffer.Internal(fmt.Errorf("sqlite: list secrets: %w", err))
	}
	names, nameArgs := prefixRanges(q.NamePrefixes)
	var matches int
	if err := t.queryRow(`SELECT count(*) FROM (SELECT 1 FROM secrets WHERE account = ? AND region = ? AND `+names+` LIMIT ?)`,
		append(append([]any{ns.Account, ns.Region}, nameArgs...), listProbe)...).Scan(&matches); err != nil {
		return nil, false, dbError("list secrets", err)
	}
	if matches < listProbe {
		return nil, false, nil
	}
	cmp, order := ">", "ASC"
	if q.Descending {
		cmp, order = "<", "DESC"
	}
	orderBy := key + ` ` + order + `, arn ` + order
	walk := `FROM secrets INDEXED BY ` + index + ` WHERE account = ? AND region = ?`
	walkArgs := []any{ns.Account, ns.Region}
	if q.After != nil {
		walk += ` AND (` + key + `, arn) ` + cmp + ` (?, ?)`
		walkArgs = append(walkArgs, after, q.After.ARN)
	}
	walk += ` ORDER BY ` + orderBy + ` LIMIT ?`
	walkArgs = append(walkArgs, listBudget*q.Limit)
	keep := names
	if !q.IncludeDeleted {
		keep += ` AND deleted_date = 0`
	}
	args := append(append(slices.Clone(walkArgs), nameArgs...), q.Limit)
	secs, err = t.secrets("list secrets", `SELECT `+secretColumns+` FROM secrets JOIN (
		SELECT id FROM (SELECT rowid AS id, name, deleted_date `+walk+`) WHERE `+keep+` LIMIT ?
	) AS hits ON secrets.rowid = hits.id ORDER BY `+orderBy, args...)
	if err != nil || len(secs) == q.Limit {
		return secs, err == nil, err
	}
	// Fewer than a page: the walk either saw the rest of the namespace (then that is the
	// answer) or stopped at its budget.
	var walked int
	if err := t.queryRow(`SELECT count(*) FROM (SELECT 1 `+walk+`)`, walkArgs...).Scan(&walked); err != nil {
		return nil, false, dbError("list secrets", err)
	}
	return secs, walked < listBudget*q.Limit, nil
}

// prefixRanges is the condition that name starts with one of prefixes, and its arguments:
// a range of the (account, region, name) index per prefix. Names are valid UTF-8, which
// never holds the byte 0xff, so every name starting with p sorts (bytewise, SQLite's BINARY
// collation) at or after p and before p+"\xff". (One prefix is one range search; several are
// OR'ed, which SQLite may answer by a walk of the order's index instead.)
func prefixRanges(prefixes []string) (cond string, args []any) {
	var b strings.Builder
	b.WriteString(`(`)
	for i, p := range prefixes {
		if i > 0 {
			b.WriteString(` OR `)
		}
		b.WriteString(`(name >= ? AND name < ?)`)
		args = append(args, p, p+"\xff")
	}
	b.WriteString(`)`)
	return b.String(), args
}

// listQuery returns the statement of ListSecrets. Each order has an index whose columns
// after (account, region) are (key, arn) or, for names, which are unique, (name); SQLite
// walks it either way, and the row-value comparison with the cursor is a range on it.
func listQuery(ns coffer.Namespace, q coffer.ListQuery) (string, []any, error) {
	key, after, err := sortColumn(q.SortBy, q.After)
	if err != nil {
		return "", nil, err
	}
	var where strings.Builder
	where.WriteString(`account = ? AND region = ?`)
	args := []any{ns.Account, ns.Region}
	if !q.IncludeDeleted {
		where.WriteString(` AND deleted_date = 0`)
	}
	cmp, order := ">", "ASC"
	if q.Descending {
		cmp, order = "<", "DESC"
	}
	if q.After != nil {
		fmt.Fprintf(&where, ` AND (%s, arn) %s (?, ?)`, key, cmp)
		args = append(args, after, q.After.ARN)
	}
	if len(q.NamePrefixes) > 0 {
		names, nameArgs := prefixRanges(q.NamePrefixes)
		where.WriteString(` AND ` + names)
		args = append(args, nameArgs...)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = -1 // no limit
	}
	args = append(args, limit)
	return `SELECT ` + secretColumns + ` FROM secrets WHERE ` + where.String() +
		` ORDER BY ` + key + ` ` + order + `, arn ` + order + ` LIMIT ?`, args, nil
}

// DueForPurge implements coffer.Tx.
func (t *tx) DueForPurge(now time.Time, limit int) ([]*coffer.Secret, error) {
	if limit <= 0 {
		limit = -1
	}
	return t.secrets("due for purge", `SELECT `+secretColumns+` FROM secrets
		WHERE purge_date <> 0 AND purge_date <= ? ORDER BY purge_date, arn LIMIT ?`, millis(now), limit)
}

// DueRotations implements coffer.Tx.
func (t *tx) DueRotations(now time.Time, limit int) ([]*coffer.Secret, error) {
	if limit <= 0 {
		limit = -1
	}
	return t.secrets("due for rotation", `SELECT `+secretColumns+` FROM secrets
		WHERE rotation_enabled <> 0 AND purge_date = 0 AND next_rotation_date <> 0 AND next_rotation_date <= ?
		ORDER BY next_rotation_date, arn LIMIT ?`, millis(now), limit)
}

// Account implements coffer.Tx.
func (t *tx) Account(id string) (*coffer.Account, error) {
	var (
		a       = coffer.Account{ID: id}
		created int64
	)
	err := t.queryRow(`SELECT created_date FROM accounts WHERE id = ?`, id).Scan(&created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, coffer.NotFound
	}
	if err != nil {
		return nil, dbError("account", err)
	}
	a.CreatedDate = fromMillis(created)
	return &a, nil
}

// InsertAccount implements coffer.Tx.
func (t *tx) InsertAccount(a *coffer.Account) error {
	n, err := t.exec("insert account", `INSERT INTO accounts (id, created_date) VALUES (?, ?)
		ON CONFLICT DO NOTHING`, a.ID, millis(a.CreatedDate))
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.Errorf(coffer.ErrResourceExists, "The account %s already exists.", a.ID)
	}
	return nil
}

// Accounts implements coffer.Tx.
func (t *tx) Accounts() ([]*coffer.Account, error) {
	rows, err := t.query(`SELECT id, created_date FROM accounts ORDER BY id`)
	if err != nil {
		return nil, dbError("accounts", err)
	}
	defer rows.Close()
	var out []*coffer.Account
	for rows.Next() {
		var (
			a       coffer.Account
			created int64
		)
		if err := rows.Scan(&a.ID, &created); err != nil {
			return nil, dbError("accounts", err)
		}
		a.CreatedDate = fromMillis(created)
		out = append(out, &a)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError("accounts", err)
	}
	return out, nil
}

// AccessKey implements coffer.Tx.
func (t *tx) AccessKey(id string) (*coffer.AccessKey, error) {
	var (
		k       coffer.AccessKey
		created int64
	)
	err := t.queryRow(`SELECT id, account, principal_arn, status, sealed_secret,
		created_date FROM access_keys WHERE id = ?`, id).
		Scan(&k.ID, &k.Account, &k.PrincipalARN, &k.Status, &k.SealedSecret, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, coffer.NotFound
	}
	if err != nil {
		return nil, dbError("access key", err)
	}
	k.CreatedDate = fromMillis(created)
	return &k, nil
}

// InsertAccessKey implements coffer.Tx.
func (t *tx) InsertAccessKey(k *coffer.AccessKey) error {
	n, err := t.exec("insert access key", `INSERT INTO access_keys (id, account, principal_arn, status,
		sealed_secret, created_date) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		k.ID, k.Account, k.PrincipalARN, k.Status, blob(k.SealedSecret), millis(k.CreatedDate))
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.Errorf(coffer.ErrResourceExists, "The access key %s already exists.", k.ID)
	}
	return nil
}

// Meta implements coffer.Tx.
func (t *tx) Meta(key string) ([]byte, error) {
	var v []byte
	err := t.queryRow(`SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, coffer.NotFound
	}
	if err != nil {
		return nil, dbError("meta", err)
	}
	return v, nil
}

// PutMeta implements coffer.Tx.
func (t *tx) PutMeta(key string, value []byte) error {
	_, err := t.exec("put meta", `INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, blob(value))
	return err
}

// DeleteMeta implements coffer.Tx.
func (t *tx) DeleteMeta(key string) error {
	_, err := t.exec("delete meta", `DELETE FROM meta WHERE key = ?`, key)
	return err
}
