package rotation

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// NewPostgres returns the PostgreSQL rotator, as AWS's SecretsManagerRDSPostgreSQLRotation
// templates: postgres-single-user (the user changes its own password), or, when alternating,
// postgres-alternating-users (the administrator of masterarn sets the password of name and
// name_clone in turn, creating name_clone as a member of name). See database.go for the steps
// and the security rules.
//
// For PostgreSQL these rules mean: the connection is built field by field, never from a
// string holding the secret's values; TLS is tried first, and plaintext is used only when the
// server refuses TLS and TLS is not required; only SCRAM-SHA-256 (with channel binding when
// the server offers it over TLS) and MD5 authentication are accepted (pgx's require_auth), so
// a server, or an impostor, asking for the cleartext password (or for none) is refused before
// the password is sent; and a new password reaches the server only as a SCRAM-SHA-256
// verifier computed here, so that it cannot appear in the server's statement logs.
func NewPostgres(alternating bool, o DBOptions) Rotator {
	return &dbRotator{db: postgresEngine{}, alternating: alternating, o: o}
}

type postgresEngine struct{}

func (postgresEngine) name() string              { return "PostgreSQL" }
func (postgresEngine) engines() []string         { return []string{"postgres", "aurora-postgresql"} }
func (postgresEngine) defaultPort() int          { return 5432 }
func (postgresEngine) maxUsername() int          { return 63 }
func (postgresEngine) excludeCharacters() string { return `:/@"'\` }

// pgBase is parsed for a config that ConnectConfig accepts; every value in it is then replaced.
// Naming each setting keeps the environment (PGHOST, PGSSLMODE, …) out of it.
const pgBase = "host=invalid.invalid port=5432 user=invalid dbname=invalid sslmode=disable connect_timeout=5 target_session_attrs=any"

// pgAuthMethods are the authentication methods the rotators accept: none that sends the
// password itself, and none that skips it (a password that is not checked proves nothing).
const pgAuthMethods = "scram-sha-256,md5"

func (postgresEngine) connect(ctx context.Context, o DBOptions, s *dbSecret) (dbConn, error) {
	cfg, err := pgx.ParseConfig(pgBase)
	if err != nil {
		return nil, fmt.Errorf("rotation: PostgreSQL configuration: %w", err)
	}
	host := strings.TrimSuffix(strings.TrimPrefix(s.Host, "["), "]")
	dbname := s.DBName
	if dbname == "" {
		dbname = "postgres"
	}
	tlsConf, required := o.tlsConfig(host, s)
	cfg.Host, cfg.Port, cfg.Database, cfg.User, cfg.Password = host, uint16(s.Port), dbname, s.Username, s.Password
	cfg.ConnectTimeout = o.timeout()
	cfg.TLSConfig = tlsConf
	cfg.Fallbacks = nil
	if !required {
		cfg.Fallbacks = []*pgconn.FallbackConfig{{Host: host, Port: uint16(s.Port)}}
	}
	cfg.SSLNegotiation = "postgres"
	cfg.RequireAuth = pgAuthMethods
	cfg.ChannelBinding = "prefer"
	cfg.KerberosSrvName, cfg.KerberosSpn = "", ""
	cfg.OAuthTokenProvider = nil
	cfg.RuntimeParams = map[string]string{"application_name": "coffer-rotation"}
	cfg.ValidateConnect, cfg.AfterConnect, cfg.AfterNetConnect = nil, nil, nil
	cfg.Tracer = nil
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		if required && tlsRefused(err) {
			return nil, &policyError{fmt.Errorf("TLS is required: %w", err)}
		}
		return nil, err
	}
	return &pgConn{c: conn}, nil
}

// tlsRefused reports whether a connection failed for want of TLS or of a certificate that
// verifies.
func tlsRefused(err error) bool {
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	var ve *tls.CertificateVerificationError
	return errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) || errors.As(err, &ve) ||
		strings.Contains(err.Error(), "server refused TLS connection") // pgconn's error has no type
}

type pgConn struct{ c *pgx.Conn }

func (p *pgConn) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = p.c.Close(ctx) // nothing to do about a failed goodbye
}

func (p *pgConn) now(ctx context.Context) error {
	_, err := p.c.Exec(ctx, "SELECT NOW()")
	return err
}

func (p *pgConn) setOwnPassword(ctx context.Context, username, password string) error {
	lit, err := p.passwordLiteral(ctx, password)
	if err != nil {
		return err
	}
	_, err = p.c.Exec(ctx, "ALTER ROLE "+pgx.Identifier{username}.Sanitize()+" WITH PASSWORD "+lit)
	return pgSecretStatementError(err)
}

func (p *pgConn) setClonePassword(ctx context.Context, current, pending, password string) error {
	if strings.ContainsRune(current, 0) || strings.ContainsRune(pending, 0) {
		return errors.New("rotation: a PostgreSQL role name cannot hold a NUL byte")
	}
	lit, err := p.passwordLiteral(ctx, password)
	if err != nil {
		return err
	}
	var exists bool
	if err := p.c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", pending).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		return pgx.BeginFunc(ctx, p.c, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "CREATE ROLE "+pgx.Identifier{pending}.Sanitize()+" WITH LOGIN PASSWORD "+lit); err != nil {
				return pgSecretStatementError(err)
			}
			_, err := tx.Exec(ctx, "GRANT "+pgx.Identifier{current}.Sanitize()+" TO "+pgx.Identifier{pending}.Sanitize())
			return err
		})
	}
	// An existing role gets its password set only when it is the twin that rotation made (the
	// clone a member of the original): otherwise a secret's writer who owns a user x could have
	// the administrator hand over an unrelated user x_clone, or x's, to whoever reads the secret.
	base, clone := current, pending
	if strings.HasSuffix(current, cloneSuffix) {
		base, clone = pending, current
	}
	var twin bool
	err = p.c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
		JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = $1 AND u.rolname = $2)`, base, clone).Scan(&twin)
	if err != nil {
		return err
	}
	if !twin {
		return fmt.Errorf("rotation: role %s exists but %s is not a member of %s: refusing to set the password of a role that rotation did not make", pending, clone, base)
	}
	_, err = p.c.Exec(ctx, "ALTER ROLE "+pgx.Identifier{pending}.Sanitize()+" WITH PASSWORD "+lit)
	return pgSecretStatementError(err)
}

// passwordLiteral returns the SQL literal to give a role password: a SCRAM-SHA-256 verifier
// for a password of printable ASCII (which SASLprep leaves as it is), so the password itself
// never reaches the server; any other password is quoted by the server (quote_literal).
func (p *pgConn) passwordLiteral(ctx context.Context, password string) (string, error) {
	if printableASCII(password) {
		v, err := scramVerifier(password)
		if err != nil {
			return "", err
		}
		return "'" + v + "'", nil // base64, '$' and ':' only: nothing to escape
	}
	var lit string
	if err := p.c.QueryRow(ctx, "SELECT quote_literal($1::text)", password).Scan(&lit); err != nil {
		return "", pgSecretStatementError(err)
	}
	return lit, nil
}

// pgSecretStatementError keeps only the SQLSTATE and message of an error from a statement
// that carried a password: no position, detail or statement text.
func pgSecretStatementError(err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s (SQLSTATE %s)", pe.Message, pe.Code)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return errors.New("the statement failed")
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return s != ""
}

// scramIterations is PostgreSQL's default (scram_iterations).
const scramIterations = 4096

// scramVerifier returns the SCRAM-SHA-256 verifier PostgreSQL stores for password (RFC 5802,
// RFC 7677; PostgreSQL's scram_build_secret): SCRAM-SHA-256$iterations:salt$StoredKey:ServerKey.
// password must already be SASLprep-normalized.
func scramVerifier(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	return scramVerifierSalt(password, salt, scramIterations)
}

// scramVerifierSalt is scramVerifier with a given salt and iteration count.
func scramVerifierSalt(password string, salt []byte, iterations int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", err
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	stored := sha256.Sum256(mac(salted, "Client Key"))
	server := mac(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(stored[:]), b64(server)), nil
}
