package rotation

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// NewMySQL returns the MySQL (and MariaDB) rotator, as AWS's SecretsManagerRDSMySQLRotation
// templates: mysql-single-user (the user changes its own password), or, when alternating,
// mysql-alternating-users (the administrator of masterarn sets the password of name and
// name_clone in turn, creating name_clone@'%' with name's grants and TLS requirements). See
// database.go for the steps and the security rules.
//
// For MySQL these rules mean: the driver's configuration is built field by field; TLS is used
// whenever the server offers it, and plaintext only when it does not and TLS is not required;
// the cleartext and old-password authentication plugins are refused (mysql_native_password,
// caching_sha2_password, sha256_password and MariaDB's client_ed25519 never send the password
// in the clear; note that caching_sha2_password over plaintext fetches the server's RSA key
// unauthenticated, as the driver always does); values reach SQL only as placeholders, which
// the driver quotes itself (InterpolateParams: MySQL cannot take a password as a prepared
// statement's parameter), knowing the server's NO_BACKSLASH_ESCAPES state, over utf8mb4.
func NewMySQL(alternating bool, o DBOptions) Rotator {
	return &dbRotator{db: mysqlEngine{}, alternating: alternating, o: o}
}

type mysqlEngine struct{}

func (mysqlEngine) name() string              { return "MySQL" }
func (mysqlEngine) engines() []string         { return []string{"mysql", "mariadb", "aurora-mysql"} }
func (mysqlEngine) defaultPort() int          { return 3306 }
func (mysqlEngine) maxUsername() int          { return 32 } // MySQL 5.7 and later; MariaDB allows 80
func (mysqlEngine) excludeCharacters() string { return `/@"'\` }

func (mysqlEngine) connect(ctx context.Context, o DBOptions, s *dbSecret) (dbConn, error) {
	host := strings.TrimSuffix(strings.TrimPrefix(s.Host, "["), "]")
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = s.Username, s.Password
	cfg.Net, cfg.Addr, cfg.DBName = "tcp", net.JoinHostPort(host, strconv.Itoa(s.Port)), s.DBName
	cfg.Timeout = o.timeout()
	tlsConf, required := o.tlsConfig(host, s)
	cfg.TLS, cfg.AllowFallbackToPlaintext = tlsConf, !required
	cfg.AllowCleartextPasswords, cfg.AllowOldPasswords, cfg.AllowNativePasswords = false, false, true
	cfg.AllowAllFiles, cfg.MultiStatements = false, false
	cfg.InterpolateParams = true
	cfg.Collation = "utf8mb4_general_ci"
	cfg.Logger = &mysql.NopLogger{} // the driver's own log lines go nowhere; errors come back
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("rotation: MySQL configuration: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	// cfg.Timeout bounds the dial; this bounds the handshake too, as pgx's ConnectTimeout does.
	lctx, cancel := context.WithTimeout(ctx, o.timeout())
	defer cancel()
	if err := db.PingContext(lctx); err != nil {
		db.Close()
		if required && (errors.Is(err, mysql.ErrNoTLS) || tlsRefused(err)) {
			return nil, &policyError{fmt.Errorf("TLS is required: %w", err)}
		}
		return nil, err
	}
	return &mysqlConn{db: db}, nil
}

type mysqlConn struct{ db *sql.DB }

func (m *mysqlConn) close() { m.db.Close() }

func (m *mysqlConn) now(ctx context.Context) error {
	_, err := m.db.ExecContext(ctx, "SELECT NOW()")
	return err
}

// passwordFunction is how the server takes a password in SET PASSWORD: through PASSWORD() on
// MariaDB and MySQL 5, as is on MySQL 8 and later (which dropped PASSWORD()).
func (m *mysqlConn) passwordFunction(ctx context.Context) (string, error) {
	var v string
	if err := m.db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err != nil {
		return "", err
	}
	if strings.Contains(strings.ToLower(v), "mariadb") || strings.HasPrefix(v, "5.") {
		return "PASSWORD(?)", nil
	}
	return "?", nil
}

func (m *mysqlConn) setOwnPassword(ctx context.Context, _, password string) error {
	fn, err := m.passwordFunction(ctx)
	if err != nil {
		return err
	}
	_, err = m.db.ExecContext(ctx, "SET PASSWORD = "+fn, password)
	return mysqlSecretStatementError(err, password)
}

func (m *mysqlConn) setClonePassword(ctx context.Context, current, pending, password string) error {
	var n int
	if err := m.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = '%'", pending).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		_, err := m.db.ExecContext(ctx, "CREATE USER ?@'%' IDENTIFIED BY ?", pending, password)
		if err != nil {
			return mysqlSecretStatementError(err, password)
		}
	}

	// Copy the grants: each of SHOW GRANTS' statements, given to pending instead.
	rows, err := m.db.QueryContext(ctx, "SHOW GRANTS FOR ?@'%'", current)
	if err != nil {
		return err
	}
	var grants []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			rows.Close()
			return err
		}
		grants = append(grants, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, g := range grants {
		stmt, err := regrant(g, current, pending)
		if err != nil {
			return err
		}
		// No arguments: the statement is the server's own text, sent as it is.
		if _, err := m.db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("copy grant %q: %w", stmt, err)
		}
	}

	// Copy the TLS requirements (REQUIRE), which SHOW GRANTS does not show on MySQL 8.
	var sslType, cipher, issuer, subject sql.NullString
	err = m.db.QueryRowContext(ctx, "SELECT ssl_type, ssl_cipher, x509_issuer, x509_subject FROM mysql.user WHERE User = ? AND Host = '%'", current).
		Scan(&sslType, &cipher, &issuer, &subject)
	if err != nil {
		return err
	}
	require, args := " NONE", []any{pending}
	switch sslType.String {
	case "ANY":
		require = " SSL"
	case "X509":
		require = " X509"
	case "SPECIFIED":
		var parts []string
		for _, p := range []struct {
			kw string
			v  sql.NullString
		}{{"CIPHER", cipher}, {"ISSUER", issuer}, {"SUBJECT", subject}} {
			if p.v.String != "" {
				parts, args = append(parts, p.kw+" ?"), append(args, p.v.String)
			}
		}
		if len(parts) > 0 {
			require = " " + strings.Join(parts, " AND ")
		}
	}
	if _, err := m.db.ExecContext(ctx, "ALTER USER ?@'%' REQUIRE"+require, args...); err != nil {
		return err
	}

	fn, err := m.passwordFunction(ctx)
	if err != nil {
		return err
	}
	_, err = m.db.ExecContext(ctx, "SET PASSWORD FOR ?@'%' = "+fn, pending, password)
	return mysqlSecretStatementError(err, password)
}

// quoteMySQLIdent quotes a name with backticks.
func quoteMySQLIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// regrant turns one line of SHOW GRANTS FOR from@'%' into the same grant to to@'%': GRANT …
// TO from [IDENTIFIED BY …] [REQUIRE …] [WITH GRANT OPTION | WITH ADMIN OPTION], or MariaDB's
// SET DEFAULT ROLE … FOR from. The grantee is found in the forms servers print it in; what
// follows it is dropped but the GRANT or ADMIN option (the template drops it too; keeping it
// makes the twin the same as the original), the password hash (set afterwards) and the
// REQUIRE clause (copied afterwards).
func regrant(line, from, to string) (string, error) {
	forms := []string{
		quoteMySQLIdent(from) + "@`%`",
		"'" + strings.ReplaceAll(from, "'", "''") + "'@'%'",
		"'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(from) + "'@'%'",
	}
	keyword := " TO "
	switch {
	case strings.HasPrefix(line, "GRANT "):
	case strings.HasPrefix(line, "SET DEFAULT ROLE "):
		keyword = " FOR "
	default:
		return "", fmt.Errorf("rotation: cannot copy the grant %q", line)
	}
	for i := 0; i < len(line); i++ {
		rest, ok := strings.CutPrefix(line[i:], keyword)
		if !ok {
			continue
		}
		for _, f := range forms {
			after, ok := strings.CutPrefix(rest, f)
			if !ok || (after != "" && after[0] != ' ') {
				continue
			}
			stmt := line[:i] + keyword + quoteMySQLIdent(to) + "@`%`"
			for _, opt := range []string{" WITH GRANT OPTION", " WITH ADMIN OPTION"} {
				if strings.HasSuffix(after, opt) && keyword == " TO " {
					stmt += opt
				}
			}
			return stmt, nil
		}
	}
	return "", fmt.Errorf("rotation: cannot find the grantee in the grant %q", line)
}

// mysqlSecretStatementError makes safe an error from a statement that carried password: a
// syntax error's message quotes the statement, so it is dropped; any other message is kept
// with the password, raw or as quoted in SQL, taken out.
func mysqlSecretStatementError(err error, password string) error {
	if err == nil {
		return nil
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		const erParseError, erSyntaxError = 1064, 1149
		if me.Number == erParseError || me.Number == erSyntaxError {
			return fmt.Errorf("error %d (%s): syntax error", me.Number, me.SQLState[:])
		}
		msg := redactor{password, strings.ReplaceAll(password, "'", "''"),
			strings.NewReplacer(`\`, `\\`, "'", `\'`, `"`, `\"`).Replace(password)}.scrub(me.Message)
		return fmt.Errorf("error %d (%s): %s", me.Number, me.SQLState[:], msg)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return errors.New("the statement failed")
}
