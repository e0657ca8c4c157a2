package rotation

// The database rotators, as AWS's rotation templates (SecretsManagerRDSPostgreSQLRotation
// SingleUser and MultiUser, SecretsManagerRDSMySQLRotation SingleUser and MultiUser) rotate a
// database user's password:
//
//   - createSecret does nothing when the version already has a value; otherwise it copies the
//     AWSCURRENT value with a new password from GetRandomPassword (and, alternating, the other
//     username of the pair name / name_clone) and puts it as AWSPENDING.
//   - setSecret does nothing when the pending credentials already log in. Single user: it logs
//     in with the AWSCURRENT credentials (or AWSPREVIOUS when those fail) and changes the
//     user's own password. Alternating: it checks that the AWSCURRENT credentials log in (so
//     that a secret's writer cannot have a user it cannot log in as rotated for it), reads the
//     administrator secret named by masterarn through Secrets Manager (authorized as the
//     rotator's principal), logs in as that user, creates the clone user when it does not exist,
//     with the original user's grants, and sets the pending user's password.
//   - testSecret logs in with the pending credentials and runs SELECT NOW().
//   - finishSecret moves AWSCURRENT to the pending version.
//
// What coffer adds to the templates, all of it enforced in connect, the one place that opens a
// connection: the host and port must be in DBOptions.AllowedHosts (compared as written, nothing
// resolved); TLS is used whenever the server offers it and, with RequireTLS (or "ssl": true in
// the secret), required and verified; cleartext password authentication is refused; no error
// text carries a password. And, for PostgreSQL, alternating rotation sets the password of an
// existing role only when the clone is a member of the original (as rotation made it).

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// DBOptions are the security settings of a database rotator, set by the server's operator.
type DBOptions struct {
	// AllowedHosts lists the databases the rotator may connect to, each "host" (any port) or
	// "host:port" ("[::1]:5432" for an IPv6 address). The secret's host and port are compared
	// with them as written, case-insensitively for the host; nothing is resolved. Empty allows
	// nothing: a secret's writer must not be able to point the rotator at any address it can
	// reach.
	AllowedHosts []string
	// RequireTLS refuses a database that does not speak TLS, and verifies its certificate
	// against RootCAs and the secret's host name (libpq's sslmode=verify-full). Without it,
	// TLS is still used whenever the server offers it, unverified, as libpq's sslmode=prefer:
	// it keeps passive listeners out, not an active attacker. A secret with "ssl": true asks
	// for the same as RequireTLS; "ssl": false is ignored.
	RequireTLS bool
	// RootCAs verifies the database's certificate when TLS is required; nil means the
	// system's roots.
	RootCAs *x509.CertPool
	// ConnectTimeout bounds each connection attempt; 5 s when 0, as the templates.
	ConnectTimeout time.Duration
}

// errNotAllowed is returned when a secret names a host that DBOptions.AllowedHosts does not
// list.
var errNotAllowed = errors.New("rotation: database host not in the rotator's allowed hosts")

// policyError marks a refusal of the rotator's security policy (a host not allowed, TLS
// required and not offered): setSecret stops there, where a failed login moves on to the next
// credentials.
type policyError struct{ err error }

func (e *policyError) Error() string { return e.err.Error() }
func (e *policyError) Unwrap() error { return e.err }

// allowed reports whether host:port is in AllowedHosts.
func (o DBOptions) allowed(host string, port int) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	for _, a := range o.AllowedHosts {
		h, p, err := net.SplitHostPort(a)
		if err != nil {
			// No port: the whole entry is the host (a bare IPv6 address included).
			h, p = a, ""
		}
		h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
		if h == "" || !strings.EqualFold(h, host) {
			continue
		}
		if p == "" || p == strconv.Itoa(port) {
			return true
		}
	}
	return false
}

// tlsConfig returns the TLS configuration for host, and whether TLS is required.
func (o DBOptions) tlsConfig(host string, s *dbSecret) (*tls.Config, bool) {
	if o.RequireTLS || s.SSL {
		return &tls.Config{ServerName: host, RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12}, true
	}
	// sslmode=prefer: encrypt, without verifying whom to (a verification failure would only
	// lead to falling back to no TLS at all).
	return &tls.Config{ServerName: host, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, false //nolint:gosec // prefer semantics, see DBOptions.RequireTLS
}

func (o DBOptions) timeout() time.Duration {
	if o.ConnectTimeout > 0 {
		return o.ConnectTimeout
	}
	return 5 * time.Second
}

// dbSecret is a database secret's JSON: the members the rotators read, and all of them (raw)
// so that a new version keeps the members it does not know.
type dbSecret struct {
	Engine    string
	Host      string
	Port      int
	Username  string
	Password  string
	DBName    string
	MasterARN string
	SSL       bool // "ssl": true or "true": TLS required

	raw map[string]json.RawMessage
}

// parseDBSecret parses and checks a secret's value: engine (one of engines), host, username
// and password are required, as the templates require them; port defaults to defaultPort.
// Errors name the member, never its value.
func parseDBSecret(value string, engines []string, defaultPort int) (*dbSecret, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(value), &raw); err != nil || raw == nil {
		return nil, errors.New("rotation: the secret's value is not a JSON object")
	}
	s := &dbSecret{raw: raw, Port: defaultPort}
	str := func(key string, dst *string, required bool) error {
		v, ok := raw[key]
		if !ok || string(v) == "null" {
			if required {
				return fmt.Errorf("rotation: %s key is missing from secret JSON", key)
			}
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("rotation: %s in secret JSON is not a string", key)
		}
		return nil
	}
	for _, f := range []struct {
		key      string
		dst      *string
		required bool
	}{{"engine", &s.Engine, true}, {"host", &s.Host, true}, {"username", &s.Username, true}, {"password", &s.Password, true},
		{"dbname", &s.DBName, false}, {"masterarn", &s.MasterARN, false}} {
		if err := str(f.key, f.dst, f.required); err != nil {
			return nil, err
		}
	}
	if !has(engines, s.Engine) {
		return nil, fmt.Errorf("rotation: database engine must be set to %q in order to use this rotator", engines[0])
	}
	if v, ok := raw["port"]; ok && string(v) != "null" {
		// A number or a string of digits, as the templates' int(secret_dict['port']).
		var n json.Number
		if err := json.Unmarshal(v, &n); err != nil {
			var str string
			if json.Unmarshal(v, &str) != nil {
				return nil, errors.New("rotation: port in secret JSON is not a number")
			}
			n = json.Number(str)
		}
		p, err := strconv.Atoi(string(n))
		if err != nil || p < 1 || p > 65535 {
			return nil, errors.New("rotation: port in secret JSON is not a port number")
		}
		s.Port = p
	}
	if v, ok := raw["ssl"]; ok {
		var b bool
		var str string
		switch {
		case json.Unmarshal(v, &b) == nil:
			s.SSL = b
		case json.Unmarshal(v, &str) == nil:
			s.SSL = strings.EqualFold(str, "true")
		}
	}
	if !validHost(s.Host) {
		return nil, errors.New("rotation: host in secret JSON is not a host name or IP address")
	}
	if s.Username == "" {
		return nil, errors.New("rotation: username in secret JSON is empty")
	}
	return s, nil
}

// validHost accepts a DNS name or an IP address (IPv6 with or without brackets): nothing a
// driver could read as a socket path, a list of hosts or options.
func validHost(h string) bool {
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if h == "" || len(h) > 253 {
		return false
	}
	if net.ParseIP(h) != nil {
		return true
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return h[0] != '-' && h[0] != '.'
}

// with returns the secret's JSON with username and password replaced, every other member kept.
func (s *dbSecret) with(username, password string) (string, error) {
	out := make(map[string]json.RawMessage, len(s.raw)+2)
	for k, v := range s.raw {
		out[k] = v
	}
	u, _ := json.Marshal(username) // a string always marshals
	p, _ := json.Marshal(password)
	out["username"], out["password"] = u, p
	b, err := json.Marshal(out)
	return string(b), err
}

// cloneSuffix is what the alternating rotators append to a username for its twin, as AWS's.
const cloneSuffix = "_clone"

// altUsername returns the other user of the pair name / name_clone; maxLen is the engine's
// longest user name.
func altUsername(name string, maxLen int) (string, error) {
	if base, ok := strings.CutSuffix(name, cloneSuffix); ok {
		return base, nil
	}
	alt := name + cloneSuffix
	if len(alt) > maxLen {
		return "", fmt.Errorf("rotation: unable to clone user, username length with %s appended would exceed %d characters", cloneSuffix, maxLen)
	}
	return alt, nil
}

// dbEngine is what a database rotator needs of its database.
type dbEngine interface {
	// name is the database's name in messages.
	name() string
	// engines are the accepted values of the secret's "engine".
	engines() []string
	defaultPort() int
	// maxUsername is the longest user name the database accepts.
	maxUsername() int
	// excludeCharacters are kept out of generated passwords, as the engine's template does.
	excludeCharacters() string
	// connect logs in as s's user. It is called only after the host was allowed.
	connect(ctx context.Context, o DBOptions, s *dbSecret) (dbConn, error)
}

// dbConn is a logged-in connection.
type dbConn interface {
	// now runs SELECT NOW().
	now(ctx context.Context) error
	// setOwnPassword changes the logged-in user's password (single user).
	setOwnPassword(ctx context.Context, username, password string) error
	// setClonePassword, logged in as the administrator, creates pending (the twin of current)
	// with current's grants when it does not exist, and sets its password (alternating).
	setClonePassword(ctx context.Context, current, pending, password string) error
	close()
}

// dbRotator is a database rotator: single user or alternating users, over one engine.
type dbRotator struct {
	db          dbEngine
	alternating bool
	o           DBOptions
	// check verifies the event before a step; CheckEvent unless a test replaces it.
	check func(ctx context.Context, sm *secretsmanager.Client, ev Event) (*secretsmanager.DescribeSecretOutput, error)
}

// Step runs one step, after the checks the templates make (rotation enabled, the version
// staged AWSPENDING); a version already AWSCURRENT has nothing left to do.
func (r *dbRotator) Step(ctx context.Context, sm *secretsmanager.Client, ev Event) error {
	check := r.check
	if check == nil {
		check = CheckEvent
	}
	d, err := check(ctx, sm, ev)
	if err != nil {
		return err
	}
	if IsCurrent(d, ev) {
		return nil
	}
	switch ev.Step {
	case StepCreate:
		return r.createSecret(ctx, sm, ev)
	case StepSet:
		return r.setSecret(ctx, sm, ev)
	case StepTest:
		return r.testSecret(ctx, sm, ev)
	case StepFinish:
		return Finish(ctx, sm, ev)
	}
	return fmt.Errorf("rotation: invalid step %q", ev.Step)
}

// secret reads and parses one version of a secret; found is false when there is none.
func (r *dbRotator) secret(ctx context.Context, sm *secretsmanager.Client, id, versionID, stage string) (*dbSecret, bool, error) {
	v, found, err := Value(ctx, sm, id, versionID, stage)
	if err != nil || !found {
		return nil, found, err
	}
	s, err := parseDBSecret(v, r.db.engines(), r.db.defaultPort())
	if err != nil {
		return nil, true, fmt.Errorf("%w (secret %s, %s)", err, id, stage)
	}
	return s, true, nil
}

func (r *dbRotator) mustSecret(ctx context.Context, sm *secretsmanager.Client, id, versionID, stage string) (*dbSecret, error) {
	s, found, err := r.secret(ctx, sm, id, versionID, stage)
	if err == nil && !found {
		err = fmt.Errorf("rotation: secret %s has no %s version", id, stage)
	}
	return s, err
}

func (r *dbRotator) createSecret(ctx context.Context, sm *secretsmanager.Client, ev Event) error {
	current, err := r.mustSecret(ctx, sm, ev.SecretId, "", StageCurrent)
	if err != nil {
		return err
	}
	// Refuse early a database the rotator will never connect to, before a version is made.
	if !r.o.allowed(current.Host, current.Port) {
		return &policyError{fmt.Errorf("%w: %s", errNotAllowed, net.JoinHostPort(current.Host, strconv.Itoa(current.Port)))}
	}
	if _, found, err := r.secret(ctx, sm, ev.SecretId, ev.ClientRequestToken, StagePending); err != nil || found {
		return err
	}
	username := current.Username
	if r.alternating {
		if username, err = altUsername(username, r.db.maxUsername()); err != nil {
			return err
		}
	}
	out, err := sm.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{
		ExcludeCharacters: aws.String(r.db.excludeCharacters()), PasswordLength: aws.Int64(32), RequireEachIncludedType: aws.Bool(true)})
	if err != nil {
		return err
	}
	value, err := current.with(username, aws.ToString(out.RandomPassword))
	if err != nil {
		return err
	}
	return PutPending(ctx, sm, ev, value)
}

func (r *dbRotator) setSecret(ctx context.Context, sm *secretsmanager.Client, ev Event) error {
	var previous *dbSecret
	if !r.alternating {
		// A previous version that is missing or not a database secret is no fallback.
		previous, _, _ = r.secret(ctx, sm, ev.SecretId, "", StagePrevious)
	}
	current, err := r.mustSecret(ctx, sm, ev.SecretId, "", StageCurrent)
	if err != nil {
		return err
	}
	pending, err := r.mustSecret(ctx, sm, ev.SecretId, ev.ClientRequestToken, StagePending)
	if err != nil {
		return err
	}
	red := redactor{current.Password, pending.Password}
	if previous != nil {
		red = append(red, previous.Password)
	}

	conn, err := r.connect(ctx, pending, red)
	if err == nil {
		conn.close()
		return nil // already set
	}
	if isPolicy(err) {
		return err
	}

	if err := samePlace(current, pending, "current"); err != nil {
		return err
	}
	if r.alternating {
		return r.setAlternating(ctx, sm, current, pending, red)
	}
	if current.Username != pending.Username {
		return fmt.Errorf("rotation: attempting to modify user %s other than current user %s", pending.Username, current.Username)
	}
	conn, err = r.connect(ctx, current, red)
	if err != nil && !isPolicy(err) && previous != nil {
		if previous.Username != pending.Username {
			return fmt.Errorf("rotation: attempting to modify user %s other than previous valid user %s", pending.Username, previous.Username)
		}
		if err := samePlace(previous, pending, "previous"); err != nil {
			return err
		}
		conn, err = r.connect(ctx, previous, red)
	}
	if err != nil {
		if isPolicy(err) {
			return err
		}
		return fmt.Errorf("rotation: unable to log into %s with previous, current, or pending secret of secret %s: %w", r.db.name(), ev.SecretId, err)
	}
	defer conn.close()
	if err := conn.setOwnPassword(ctx, pending.Username, pending.Password); err != nil {
		return red.wrap("rotation: set the password of "+pending.Username, err)
	}
	return nil
}

// setAlternating is setSecret's second half for alternating users.
func (r *dbRotator) setAlternating(ctx context.Context, sm *secretsmanager.Client, current, pending *dbSecret, red redactor) error {
	alt, err := altUsername(current.Username, r.db.maxUsername())
	if err != nil {
		return err
	}
	if alt != pending.Username {
		return fmt.Errorf("rotation: attempting to modify user %s other than current user or clone %s", pending.Username, current.Username)
	}
	// The current credentials must work: this keeps a secret's writer from having the
	// administrator act on a user whose password the writer does not know (confused deputy).
	conn, err := r.connect(ctx, current, red)
	if err != nil {
		if isPolicy(err) {
			return err
		}
		return fmt.Errorf("rotation: unable to log into %s using current credentials: %w", r.db.name(), err)
	}
	conn.close()

	if current.MasterARN == "" {
		return errors.New("rotation: masterarn key is missing from secret JSON")
	}
	// Read as the rotator's own principal: its policy decides which administrator secrets it
	// may use.
	master, err := r.mustSecret(ctx, sm, current.MasterARN, "", StageCurrent)
	if err != nil {
		return err
	}
	red = append(red, master.Password)
	if _, ok := r.db.(postgresEngine); ok {
		master.DBName = current.DBName // the template logs the administrator into the user's database
	}
	if !strings.EqualFold(master.Host, current.Host) {
		return fmt.Errorf("rotation: current database host %s is not the same host as master %s", current.Host, master.Host)
	}
	conn, err = r.connect(ctx, master, red)
	if err != nil {
		if isPolicy(err) {
			return err
		}
		return fmt.Errorf("rotation: unable to log into %s using credentials in master secret %s: %w", r.db.name(), current.MasterARN, err)
	}
	defer conn.close()
	if err := conn.setClonePassword(ctx, current.Username, pending.Username, pending.Password); err != nil {
		return red.wrap("rotation: set the password of "+pending.Username, err)
	}
	return nil
}

func (r *dbRotator) testSecret(ctx context.Context, sm *secretsmanager.Client, ev Event) error {
	pending, err := r.mustSecret(ctx, sm, ev.SecretId, ev.ClientRequestToken, StagePending)
	if err != nil {
		return err
	}
	red := redactor{pending.Password}
	conn, err := r.connect(ctx, pending, red)
	if err != nil {
		if isPolicy(err) {
			return err
		}
		return fmt.Errorf("rotation: unable to log into %s with pending secret of secret %s: %w", r.db.name(), ev.SecretId, err)
	}
	defer conn.close()
	if err := conn.now(ctx); err != nil {
		return red.wrap("rotation: SELECT NOW()", err)
	}
	return nil
}

// connect is the only way to a database: it refuses a host not allowed before anything is
// sent, and returns errors without passwords.
func (r *dbRotator) connect(ctx context.Context, s *dbSecret, red redactor) (dbConn, error) {
	if !r.o.allowed(s.Host, s.Port) {
		return nil, &policyError{fmt.Errorf("%w: %s", errNotAllowed, net.JoinHostPort(s.Host, strconv.Itoa(s.Port)))}
	}
	c, err := r.db.connect(ctx, r.o, s)
	if err != nil {
		var pe *policyError
		if errors.As(err, &pe) {
			return nil, &policyError{red.wrap("rotation: connect to "+r.db.name(), pe.err)}
		}
		return nil, red.wrap(fmt.Sprintf("log into %s as %s", r.db.name(), s.Username), err)
	}
	return c, nil
}

// samePlace checks that pending names the database that other (current or previous) does.
func samePlace(other, pending *dbSecret, which string) error {
	if !strings.EqualFold(other.Host, pending.Host) || other.Port != pending.Port {
		return fmt.Errorf("rotation: attempting to modify user for host %s other than %s host %s",
			net.JoinHostPort(pending.Host, strconv.Itoa(pending.Port)), which, net.JoinHostPort(other.Host, strconv.Itoa(other.Port)))
	}
	return nil
}

func isPolicy(err error) bool {
	var pe *policyError
	return errors.As(err, &pe)
}

// redactor holds the passwords a step handles, to keep them out of its errors.
type redactor []string

// dbError is a database error made safe to show: its text has no password, and it keeps no
// link to the driver's error (whose text may have one) except a context's end.
type dbError struct {
	msg   string
	cause error // context.Canceled or context.DeadlineExceeded, or nil
}

func (e *dbError) Error() string { return e.msg }
func (e *dbError) Unwrap() error { return e.cause }

// wrap returns err, prefixed with what was being done, with every password replaced by
// "[REDACTED]".
func (r redactor) wrap(what string, err error) error {
	msg := what + ": " + r.scrub(err.Error())
	var cause error
	switch {
	case errors.Is(err, context.Canceled):
		cause = context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		cause = context.DeadlineExceeded
	}
	return &dbError{msg: msg, cause: cause}
}

func (r redactor) scrub(s string) string {
	ps := slices.Clone(r)
	// Longest first: where two passwords match at one place, the longer one must go.
	slices.SortFunc(ps, func(a, b string) int { return len(b) - len(a) })
	var pairs []string
	for _, p := range ps {
		if p != "" {
			pairs = append(pairs, p, "[REDACTED]")
		}
	}
	return strings.NewReplacer(pairs...).Replace(s)
}
