package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coffer-project/coffer"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// tx is a coffer.Tx on one pgx transaction.
type tx struct {
	ctx context.Context
	tx  querier
	// conflict is set when a statement failed to serialize: the transaction is doomed and
	// Update runs it again, whatever fn returned.
	conflict bool
	// deferWrites is set by DeferWrites: write queues its statements (lazyTx.queue).
	deferWrites bool
	// view is set in a View.
	view bool
	// readCurrent is set, in a View, by ReadCurrent: a lookup also reads the version
	// labelled AWSCURRENT whole (current).
	readCurrent bool
	// endWithLookup is set, in a View, by EndWithLookup: the first lookup's pipeline ends
	// the transaction (lazyTx.endWithFirst).
	endWithLookup bool
	// prefetched are the version headers of the secret a lookup (by name or ARN) last
	// found, read in the same round trip, since nearly every operation asks for them next
	// (in an Update too: a new version, a label moved). VersionHeaders hands them out once,
	// and only while the transaction has written nothing since (writes).
	prefetched *prefetch
	// writes counts the statements that changed, or may have changed, rows (exec, write,
	// InsertVersion).
	writes int
	// current is, after ReadCurrent, the version labelled AWSCURRENT of the secret last
	// looked up, whole, read in the same round trip (nil when it has none, or it holds no
	// value): a read of the secret's value asks for it next. Version hands it out once.
	current *coffer.Version
	// lockSecret is set in an Update after coffer.OneSecretUpdate: a lookup of a secret
	// locks its row (FOR UPDATE). locked are the ARNs it locked, rowWritten those whose row
	// UpdateSecret or DeleteSecret wrote (touchLocked).
	lockSecret         bool
	locked, rowWritten []string
}

// prefetch is the version headers of one secret, read with it.
type prefetch struct {
	arn     string
	headers []*coffer.Version
	writes  int // tx.writes when they were read
}

var _ coffer.Tx = (*tx)(nil)

const secretColumns = `arn, account, region, name, description, kms_key_id, tags, resource_policy,
	rotation_enabled, rotation_lambda_arn, rotation_after_days, rotation_duration, rotation_schedule,
	owning_service, primary_region, created_date, last_changed_date, last_accessed_date,
	last_rotated_date, next_rotation_date, deleted_date, purge_date, type, version_retention`

// dbError turns an error of the driver into a coffer error, noting a serialization failure: a
// uniqueness violation that an insert did not foresee is ResourceExists, anything else is
// internal. A coffer error (a queued write's, returned by the statement it went with) stays
// as it is. PgError.Error leaves out the Detail field, the only one that may quote row contents.
func (t *tx) dbError(op string, err error) error {
	var ce *coffer.Error
	if errors.As(err, &ce) { // a queued write's error, already the caller's (lazyTx.queue)
		return err
	}
	if isConflict(err) {
		t.conflict = true
	}
	var e *pgconn.PgError
	if errors.As(err, &e) && e.Code == sqlstateUniqueViolation {
		return &coffer.Error{Code: coffer.ErrResourceExists, Message: "The resource already exists.", Err: err}
	}
	return coffer.Internal(fmt.Errorf("postgres: %s: %w", op, err))
}

func scanSecret(row pgx.Row) (*coffer.Secret, error) {
	var (
		s                                         coffer.Secret
		tags                                      string
		created, changed, accessed, rotated, next pgtype.Timestamptz
		deleted, purge                            pgtype.Timestamptz
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
	s.CreatedDate, s.LastChangedDate, s.LastAccessedDate = fromTimestamp(created), fromTimestamp(changed), fromTimestamp(accessed)
	s.LastRotatedDate, s.NextRotationDate = fromTimestamp(rotated), fromTimestamp(next)
	s.DeletedDate, s.PurgeDate = fromTimestamp(deleted), fromTimestamp(purge)
	return &s, nil
}

// encodeTags stores tags as a JSON array, keeping their order, and nil tags (never set) as
// the JSON null (not SQL NULL), so that an empty array means set and all removed.
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
		required(s.CreatedDate), timestamp(s.LastChangedDate), timestamp(s.LastAccessedDate),
		timestamp(s.LastRotatedDate), timestamp(s.NextRotationDate), timestamp(s.DeletedDate),
		timestamp(s.PurgeDate), s.Type, s.VersionRetention}, nil
}

// oneSecret runs a query for at most one secret.
//
// versionsWhere (a condition on versions.secret_arn, with the same arguments) selects the
// secret's versions, whose headers are read in the same round trip and kept for
// VersionHeaders (after ReadCurrent, with the AWSCURRENT version's blobs, kept for Version).
func (t *tx) oneSecret(op, query, versionsWhere string, args ...any) (*coffer.Secret, error) {
	t.prefetched, t.current = nil, nil
	columns := headerColumns
	if t.readCurrent {
		columns = headerCurrentColumns
	}
	if t.lockSecret {
		// The lock comes with the snapshot's row: when another transaction changed the
		// row since this one began, PostgreSQL fails it (40001) and Update runs it again.
		query += ` FOR UPDATE`
	}
	b := &pgx.Batch{}
	b.Queue(query, args...)
	b.Queue(versionsQuery(columns, versionsWhere), args...)
	if l, ok := t.tx.(*lazyTx); ok && t.endWithLookup {
		l.endWithFirst()
	}
	br := t.tx.SendBatch(t.ctx, b)
	s, err := t.scanOneSecret(op, br.QueryRow())
	var headers []*coffer.Version
	if err == nil {
		rows, qerr := br.Query()
		if qerr == nil {
			headers, qerr = scanVersions(rows)
		}
		if qerr != nil {
			err = t.dbError(op, qerr)
		}
	}
	if cerr := br.Close(); err == nil && cerr != nil {
		err = t.dbError(op, cerr)
	}
	if err != nil {
		return nil, err
	}
	if t.lockSecret && !slices.Contains(t.locked, s.ARN) {
		t.locked = append(t.locked, s.ARN)
	}
	t.prefetched = &prefetch{arn: s.ARN, headers: headers, writes: t.writes}
	for _, h := range headers {
		if len(h.Ciphertext) > 0 { // AWSCURRENT's (headerCurrentColumns)
			v := *h
			v.Stages = slices.Clone(h.Stages)
			t.current = &v
			h.WrappedKey, h.Ciphertext = []byte{}, []byte{}
		}
	}
	return s, nil
}

func (t *tx) scanOneSecret(op string, row pgx.Row) (*coffer.Secret, error) {
	s, err := scanSecret(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, coffer.NotFound
	}
	if err != nil {
		return nil, t.dbError(op, err)
	}
	return s, nil
}

// secrets runs a query for any number of secrets.
func (t *tx) secrets(op, query string, args ...any) ([]*coffer.Secret, error) {
	rows, err := t.tx.Query(t.ctx, query, args...)
	if err != nil {
		return nil, t.dbError(op, err)
	}
	defer rows.Close()
	var out []*coffer.Secret
	for rows.Next() {
		s, err := scanSecret(rows)
		if err != nil {
			return nil, t.dbError(op, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, t.dbError(op, err)
	}
	return out, nil
}

// exists reports whether query finds a row.
func (t *tx) exists(op, query string, args ...any) (bool, error) {
	var one int
	err := t.tx.QueryRow(t.ctx, query, args...).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, t.dbError(op, err)
	}
	return true, nil
}

// exec runs a statement and returns how many rows it changed.
func (t *tx) exec(op, query string, args ...any) (int64, error) {
	t.writes++
	tag, err := t.tx.Exec(t.ctx, query, args...)
	if err != nil {
		return 0, t.dbError(op, err)
	}
	return tag.RowsAffected(), nil
}

// ReadCurrent implements coffer.CurrentReader.
func (t *tx) ReadCurrent() {
	t.readCurrent = t.view
}

// EndWithLookup implements coffer.LookupEnder.
func (t *tx) EndWithLookup() {
	t.endWithLookup = t.view
}

// DeferWrites implements coffer.WriteDeferrer: from now on write (and InsertVersion) queue
// their statements to go with the next statement or the commit (lazyTx.queue).
func (t *tx) DeferWrites() {
	t.deferWrites = !t.view
}

// later returns the transaction to queue a write on, or nil when writes run at once.
func (t *tx) later() *lazyTx {
	if !t.deferWrites {
		return nil
	}
	l, _ := t.tx.(*lazyTx)
	return l
}

// write runs a statement that changes rows, or, after DeferWrites, queues it to go with the
// next statement or the commit. check, when not nil, turns the number of rows it changed into
// the caller's error; when the statement was queued, that error, or the statement's own, is
// the error of the next statement or of the commit, and the Update's.
func (t *tx) write(op string, check func(n int64) error, query string, args ...any) error {
	l := t.later()
	if l == nil {
		n, err := t.exec(op, query, args...)
		if err == nil && check != nil {
			err = check(n)
		}
		return err
	}
	t.writes++
	if check == nil {
		l.queue(query, args, func(br pgx.BatchResults) error {
			if _, err := br.Exec(); err != nil {
				return t.dbError(op, err)
			}
			return nil
		})
		return nil
	}
	// Queued, a write that must change a row says so in the database (coffer_no_row), so
	// that a COMMIT in its pipeline does not run after it (lazyTx.commit).
	l.queue(`WITH w AS (`+query+` RETURNING 1)
		SELECT CASE WHEN EXISTS (SELECT 1 FROM w) THEN true ELSE coffer_no_row('row') END`, args,
		func(br pgx.BatchResults) error {
			_, err := br.Exec()
			if noRow(err) == "row" {
				return check(0)
			}
			if err != nil {
				return t.dbError(op, err)
			}
			return nil
		})
	return nil
}

// noRow returns what coffer_no_row was told when err is its error, and "" otherwise.
func noRow(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) && e.Code == sqlstateNoRow {
		return e.Message
	}
	return ""
}

// mustChange is the check of a write that fails with NotFound when it changed no row.
func mustChange(n int64) error {
	if n == 0 {
		return coffer.NotFound
	}
	return nil
}

// SecretByName implements coffer.Tx.
func (t *tx) SecretByName(ns coffer.Namespace, name string) (*coffer.Secret, error) {
	const where = `account = $1 AND region = $2 AND name = $3`
	return t.oneSecret("secret by name", `SELECT `+secretColumns+` FROM secrets WHERE `+where,
		`secret_arn = (SELECT arn FROM secrets WHERE `+where+`)`, ns.Account, ns.Region, name)
}

// SecretByARN implements coffer.Tx.
func (t *tx) SecretByARN(arn string) (*coffer.Secret, error) {
	return t.oneSecret("secret by arn", `SELECT `+secretColumns+` FROM secrets WHERE arn = $1`,
		`secret_arn = $1`, arn)
}

// InsertSecret implements coffer.Tx. ON CONFLICT DO NOTHING answers a taken name or ARN
// without aborting the transaction, which stays usable.
func (t *tx) InsertSecret(s *coffer.Secret) error {
	args, err := secretArgs(s)
	if err != nil {
		return coffer.Internal(fmt.Errorf("postgres: insert secret: %w", err))
	}
	name := s.Name
	return t.write("insert secret", func(n int64) error {
		if n == 0 {
			return coffer.Errorf(coffer.ErrResourceExists, "The operation failed because the secret %s already exists.", name)
		}
		return nil
	}, `INSERT INTO secrets (`+secretColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
		$19, $20, $21, $22, $23, $24) ON CONFLICT DO NOTHING`, args...)
}

// UpdateSecret implements coffer.Tx.
func (t *tx) UpdateSecret(s *coffer.Secret) error {
	args, err := secretArgs(s)
	if err != nil {
		return coffer.Internal(fmt.Errorf("postgres: update secret: %w", err))
	}
	t.wroteRow(s.ARN)
	// args[4:] skips arn, account, region and name, which never change.
	return t.write("update secret", mustChange, `UPDATE secrets SET description = $1, kms_key_id = $2,
		tags = $3, resource_policy = $4, rotation_enabled = $5, rotation_lambda_arn = $6,
		rotation_after_days = $7, rotation_duration = $8, rotation_schedule = $9,
		owning_service = $10, primary_region = $11, created_date = $12, last_changed_date = $13,
		last_accessed_date = $14, last_rotated_date = $15, next_rotation_date = $16,
		deleted_date = $17, purge_date = $18, type = $19, version_retention = $20
		WHERE arn = $21`, append(args[4:], s.ARN)...)
}

// DeleteSecret implements coffer.Tx. Versions and stages go with it (ON DELETE CASCADE).
func (t *tx) DeleteSecret(arn string) error {
	t.wroteRow(arn)
	return t.write("delete secret", mustChange, `DELETE FROM secrets WHERE arn = $1`, arn)
}

func (t *tx) wroteRow(arn string) {
	if t.lockSecret && !slices.Contains(t.rowWritten, arn) {
		t.rowWritten = append(t.rowWritten, arn)
	}
}

// touchLocked writes, before the commit of a transaction that wrote anything, the row of
// each secret it locked and did not write: another transaction waiting for that lock at
// REPEATABLE READ then fails to serialize and runs again on a snapshot that holds this one's
// writes (a version, a label), instead of going on without them, as it would after a lock
// that was only taken.
func (t *tx) touchLocked() error {
	if t.writes == 0 {
		return nil
	}
	for _, arn := range t.locked {
		if !slices.Contains(t.rowWritten, arn) {
			if err := t.write("touch secret", nil, `UPDATE secrets SET arn = arn WHERE arn = $1`, arn); err != nil {
				return err
			}
		}
	}
	return nil
}

// sortKey returns the expression ListSecrets orders by for sortBy, and its value at the
// cursor c (nil for none). The expressions are those of the indexes of migration 0002 (and
// secrets_list of 0001), so that a page is a range scan either way: names compare byte by
// byte, and a time never set (NULL) sorts as -infinity, before every other, as the zero time
// does in Go.
func sortKey(sortBy string, c *coffer.ListCursor) (key string, at any, err error) {
	var t time.Time
	var name string
	if c != nil {
		t, name = c.Time, c.Name
	}
	orNever := func(t time.Time) pgtype.Timestamptz {
		if t.IsZero() {
			return pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true}
		}
		return required(t)
	}
	switch sortBy {
	case "", coffer.SortCreatedDate:
		return "created_date", required(t), nil
	case coffer.SortLastChangedDate:
		return "COALESCE(last_changed_date, '-infinity'::timestamptz)", orNever(t), nil
	case coffer.SortLastAccessedDate:
		return "COALESCE(last_accessed_date, '-infinity'::timestamptz)", orNever(t), nil
	case coffer.SortName:
		return `(name COLLATE "C")`, name, nil
	}
	return "", nil, fmt.Errorf("unknown SortBy %q", sortBy)
}

// ListSecrets implements coffer.Tx.
func (t *tx) ListSecrets(ns coffer.Namespace, q coffer.ListQuery) ([]*coffer.Secret, error) {
	if len(q.NamePrefixes) > 0 && q.Limit > 0 && q.SortBy != coffer.SortName {
		secs, _, err := t.listPrefixesInDateOrder(ns, q)
		return secs, err
	}
	query, args, err := listQuery(ns, q)
	if err != nil {
		return nil, coffer.Internal(fmt.Errorf("postgres: list secrets: %w", err))
	}
	return t.secrets("list secrets", query, args...)
}

// listQuery returns the statement of ListSecrets: a range scan, either way, of the index on
// (account, region, key, arn) of its order.
func listQuery(ns coffer.Namespace, q coffer.ListQuery) (string, []any, error) {
	key, after, err := sortKey(q.SortBy, q.After)
	if err != nil {
		return "", nil, err
	}
	var where strings.Builder
	where.WriteString(`account = $1 AND region = $2`)
	args := []any{ns.Account, ns.Region}
	if !q.IncludeDeleted {
		where.WriteString(` AND deleted_date IS NULL`)
	}
	cmp, order := ">", "ASC"
	if q.Descending {
		cmp, order = "<", "DESC"
	}
	if q.After != nil {
		fmt.Fprintf(&where, ` AND (%s, arn) %s ($3, $4)`, key, cmp)
		args = append(args, after, q.After.ARN)
	}
	if len(q.NamePrefixes) > 0 {
		// Byte for byte, whatever the database's collation.
		cond, nameArgs := prefixesCond(len(args)+1, q.NamePrefixes)
		where.WriteString(` AND ` + cond)
		args = append(args, nameArgs...)
	}
	var limit any // NULL: no limit
	if q.Limit > 0 {
		limit = q.Limit
	}
	args = append(args, limit)
	return `SELECT ` + secretColumns + ` FROM secrets WHERE ` + where.String() +
		` ORDER BY ` + key + ` ` + order + `, arn ` + order + ` LIMIT $` + strconv.Itoa(len(args)), args, nil
}

// prefixesCond is the condition that name starts with one of prefixes, in parentheses, its
// parameters numbered from $first, and its arguments (prefixCond's for each prefix).
func prefixesCond(first int, prefixes []string) (string, []any) {
	var b strings.Builder
	var args []any
	for i, p := range prefixes {
		if i > 0 {
			b.WriteString(` OR `)
		}
		cond, extra := prefixCond(first+len(args), p)
		args = append(append(args, p), extra...)
		b.WriteString(cond)
	}
	return `(` + b.String() + `)`, args
}

// prefixCond is the condition that name starts with the prefix in parameter $n, which it
// also gives as bounds of name COLLATE "C", the upper one in parameter $n+1 when there is one
// (extra: the arguments to append after the prefix's). The bounds let a generic plan of a
// prepared statement, which knows no parameter's value, search the (account, region, name
// COLLATE "C") index, where starts_with alone made it filter the whole namespace.
func prefixCond(n int, prefix string) (cond string, extra []any) {
	cond = fmt.Sprintf(`((name COLLATE "C") >= $%d`, n)
	if upper, ok := prefixUpper(prefix); ok {
		cond += fmt.Sprintf(` AND (name COLLATE "C") < $%d`, n+1)
		extra = []any{upper}
	}
	return cond + fmt.Sprintf(` AND starts_with(name, $%d))`, n), extra
}

// prefixUpper returns the least string above every string that starts with prefix, in byte
// order (the C collation): prefix with its last character replaced by the next one, after
// dropping characters that have none; ok is false when every character is the last.
func prefixUpper(prefix string) (string, bool) {
	rs := []rune(prefix)
	for i := len(rs) - 1; i >= 0; i-- {
		next := rs[i] + 1
		if next == 0xD800 { // surrogates are not characters
			next = 0xE000
		}
		if next <= utf8.MaxRune {
			rs[i] = next
			return string(rs[:i+1]), true
		}
	}
	return "", false
}

// listProbe and listBudget choose between the two ways of answering a list in a date order
// (created, last changed or last accessed) with name prefixes, as the SQLite store does
// (package sqlite). PostgreSQL's planner picks one from its statistics, which take names and
// dates as unrelated: for 10,000 of a million secrets whose names share a prefix and that
// were created last, it walked the created-date index through the 990,000 others (0.4 to 1 s
// a page) where a search of the name index takes 10 ms. So the plan is chosen here: when the
// name index holds at least listProbe matches, a walk of the order's index over at most
// listBudget × the limit entries; when that finds no full page and the namespace goes on, or
// when the matches are fewer, the name index's matches, sorted. Variables for tests.
var (
	listProbe  = 1000
	listBudget = 25
)

// listPrefixesInDateOrder answers q, a list in a date order with name prefixes, and says
// how (walk, or names: the name index's matches). Its statements number their parameters
// alike: $1 and $2 the namespace, then the cursor's two when there is one, then the
// prefixes, then the limit.
func (t *tx) listPrefixesInDateOrder(ns coffer.Namespace, q coffer.ListQuery) (secs []*coffer.Secret, plan string, err error) {
	key, at, err := sortKey(q.SortBy, q.After)
	if err != nil {
		return nil, "", coffer.Internal(fmt.Errorf("postgres: list secrets: %w", err))
	}
	cmp, order := ">", "ASC"
	if q.Descending {
		cmp, order = "<", "DESC"
	}
	orderBy := key + ` ` + order + `, arn ` + order
	args := []any{ns.Account, ns.Region}
	after := ""
	if q.After != nil {
		args = append(args, at, q.After.ARN)
		after = ` AND (` + key + `, arn) ` + cmp + ` ($3, $4)`
	}
	walkArgs := len(args)
	match, nameArgs := prefixesCond(walkArgs+1, q.NamePrefixes)
	args = append(args, nameArgs...)
	if !q.IncludeDeleted {
		match += ` AND deleted_date IS NULL`
	}
	args = append(args, q.Limit)
	limit := `$` + strconv.Itoa(len(args))

	var matches int
	probe, probeArgs := prefixesCond(3, q.NamePrefixes)
	if err := t.tx.QueryRow(t.ctx, `SELECT count(*) FROM (SELECT 1 FROM secrets
		WHERE account = $1 AND region = $2 AND `+probe+` LIMIT `+strconv.Itoa(listProbe)+`) AS m`,
		append([]any{ns.Account, ns.Region}, probeArgs...)...).Scan(&matches); err != nil {
		return nil, "", t.dbError("list secrets", err)
	}
	if matches >= listProbe {
		walk := `FROM secrets WHERE account = $1 AND region = $2` + after +
			` ORDER BY ` + orderBy + ` LIMIT ` + strconv.Itoa(listBudget*q.Limit)
		secs, err := t.secrets("list secrets", `SELECT `+secretColumns+` FROM (SELECT * `+walk+`) AS w
			WHERE `+match+` ORDER BY `+orderBy+` LIMIT `+limit, args...)
		if err != nil || len(secs) == q.Limit {
			return secs, "walk", err
		}
		// Fewer than a page: the walk either saw the rest of the namespace (then that is the
		// answer) or stopped at its budget.
		var walked int
		if err := t.tx.QueryRow(t.ctx, `SELECT count(*) FROM (SELECT 1 `+walk+`) AS w`, args[:walkArgs]...).Scan(&walked); err != nil {
			return nil, "", t.dbError("list secrets", err)
		}
		if walked < listBudget*q.Limit {
			return secs, "walk", nil
		}
	}
	// The matches from the name index (a materialized CTE, which the planner cannot turn
	// into a walk of the order's index), sorted.
	secs, err = t.secrets("list secrets", `WITH m AS MATERIALIZED (SELECT arn, created_date, last_changed_date, last_accessed_date
		FROM secrets WHERE account = $1 AND region = $2 AND `+match+`)
		SELECT `+secretColumns+` FROM secrets WHERE arn IN (SELECT arn FROM m WHERE true`+after+`
			ORDER BY `+orderBy+` LIMIT `+limit+`)
		ORDER BY `+orderBy, args...)
	return secs, "names", err
}

// DueForPurge implements coffer.Tx.
func (t *tx) DueForPurge(now time.Time, limit int) ([]*coffer.Secret, error) {
	var lim any // NULL: no limit
	if limit > 0 {
		lim = limit
	}
	return t.secrets("due for purge", `SELECT `+secretColumns+` FROM secrets
		WHERE purge_date IS NOT NULL AND purge_date <= $1 ORDER BY purge_date, arn LIMIT $2`,
		required(now), lim)
}

// DueRotations implements coffer.Tx.
func (t *tx) DueRotations(now time.Time, limit int) ([]*coffer.Secret, error) {
	var lim any // NULL: no limit
	if limit > 0 {
		lim = limit
	}
	return t.secrets("due for rotation", `SELECT `+secretColumns+` FROM secrets
		WHERE rotation_enabled AND purge_date IS NULL AND next_rotation_date IS NOT NULL AND next_rotation_date <= $1
		ORDER BY next_rotation_date, arn LIMIT $2`, required(now), lim)
}

// Account implements coffer.Tx.
func (t *tx) Account(id string) (*coffer.Account, error) {
	var created pgtype.Timestamptz
	err := t.tx.QueryRow(t.ctx, `SELECT created_date FROM accounts WHERE id = $1`, id).Scan(&created)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, coffer.NotFound
	}
	if err != nil {
		return nil, t.dbError("account", err)
	}
	return &coffer.Account{ID: id, CreatedDate: fromTimestamp(created)}, nil
}

// InsertAccount implements coffer.Tx.
func (t *tx) InsertAccount(a *coffer.Account) error {
	n, err := t.exec("insert account", `INSERT INTO accounts (id, created_date) VALUES ($1, $2)
		ON CONFLICT DO NOTHING`, a.ID, required(a.CreatedDate))
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
	rows, err := t.tx.Query(t.ctx, `SELECT id, created_date FROM accounts ORDER BY id`)
	if err != nil {
		return nil, t.dbError("accounts", err)
	}
	defer rows.Close()
	var out []*coffer.Account
	for rows.Next() {
		var (
			a       coffer.Account
			created pgtype.Timestamptz
		)
		if err := rows.Scan(&a.ID, &created); err != nil {
			return nil, t.dbError("accounts", err)
		}
		a.CreatedDate = fromTimestamp(created)
		out = append(out, &a)
	}
	if err := rows.Err(); err != nil {
		return nil, t.dbError("accounts", err)
	}
	return out, nil
}

// AccessKey implements coffer.Tx.
func (t *tx) AccessKey(id string) (*coffer.AccessKey, error) {
	var (
		k       coffer.AccessKey
		created pgtype.Timestamptz
	)
	err := t.tx.QueryRow(t.ctx, `SELECT id, account, principal_arn, status, sealed_secret,
		created_date FROM access_keys WHERE id = $1`, id).
		Scan(&k.ID, &k.Account, &k.PrincipalARN, &k.Status, &k.SealedSecret, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, coffer.NotFound
	}
	if err != nil {
		return nil, t.dbError("access key", err)
	}
	k.CreatedDate = fromTimestamp(created)
	return &k, nil
}

// InsertAccessKey implements coffer.Tx.
func (t *tx) InsertAccessKey(k *coffer.AccessKey) error {
	n, err := t.exec("insert access key", `INSERT INTO access_keys (id, account, principal_arn, status,
		sealed_secret, created_date) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		k.ID, k.Account, k.PrincipalARN, k.Status, blob(k.SealedSecret), required(k.CreatedDate))
	if err != nil {
		return err
	}
	if n == 0 {
		return coffer.Errorf(coffer.ErrResourceExists, "The access key %s already exists.", k.ID)
	}
	return nil
}

const metaQuery = `SELECT value FROM meta WHERE key = $1`

// Meta implements coffer.Tx.
func (t *tx) Meta(key string) ([]byte, error) {
	var v []byte
	err := t.tx.QueryRow(t.ctx, metaQuery, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, coffer.NotFound
	}
	if err != nil {
		return nil, t.dbError("meta", err)
	}
	return v, nil
}

// ReadMeta reads one meta value with a statement of its own, outside any transaction: one
// round trip where View's would be three (begin, select, rollback). The server reads the
// access-control generation this way before every call (server.MetaReader).
func (s *Store) ReadMeta(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := s.pool.QueryRow(ctx, metaQuery, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, coffer.NotFound
	}
	if err != nil {
		return nil, coffer.Internal(fmt.Errorf("postgres: meta: %w", err))
	}
	return v, nil
}

// PutMeta implements coffer.Tx.
func (t *tx) PutMeta(key string, value []byte) error {
	_, err := t.exec("put meta", `INSERT INTO meta (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, key, blob(value))
	if err == nil && key == coffer.AuthzGenerationMeta {
		// Only after the transaction's check passed: a failed one fails every statement.
		if c := coffer.AuthzCheckFrom(t.ctx); c != nil {
			c.Wrote(string(value))
		}
	}
	return err
}

// DeleteMeta implements coffer.Tx.
func (t *tx) DeleteMeta(key string) error {
	_, err := t.exec("delete meta", `DELETE FROM meta WHERE key = $1`, key)
	return err
}
