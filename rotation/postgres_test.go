package rotation_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-project/coffer/rotation"
)

// pgCluster is a throwaway PostgreSQL cluster with scram-sha-256 authentication (the machine's
// shared server trusts every login, so it cannot tell a good password from a bad one), TLS
// with a certificate of its own CA, and one user, pgCleartextUser, that pg_hba makes log in
// with a cleartext password.
type pgCluster struct {
	port    int
	super   string // the postgres superuser's password
	rootCAs *x509.CertPool
}

const pgCleartextUser = "coffer_cleartext"

// startPGCluster runs initdb and pg_ctl (as the postgres OS user when the test runs as root,
// since initdb refuses root) in a temporary directory, and stops and removes the cluster when
// the test ends.
func startPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	bin := pgBinDir()
	if bin == "" {
		skipOrFail(t, "PostgreSQL's initdb is not installed (looked in PATH and /usr/lib/postgresql/*/bin)")
	}
	var uid, gid = -1, -1
	asPostgres := os.Geteuid() == 0
	if asPostgres {
		u, err := user.Lookup("postgres")
		if err != nil {
			skipOrFail(t, "running as root and there is no postgres OS user to run initdb as: %v", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	run := func(name string, args ...string) ([]byte, error) {
		path := filepath.Join(bin, name)
		var cmd *exec.Cmd
		if asPostgres {
			cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
		} else {
			cmd = exec.Command(path, args...)
		}
		cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C"}
		return cmd.CombinedOutput()
	}

	dir, err := os.MkdirTemp("", "coffer-rotation-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if asPostgres {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	if asPostgres {
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	c := &pgCluster{super: "super-" + uniq() + uniq()}
	write("pwfile", c.super+"\n")
	data := filepath.Join(dir, "data")
	if out, err := run("initdb", "-D", data, "-A", "scram-sha-256", "-U", "postgres", "--pwfile", filepath.Join(dir, "pwfile"), "-E", "UTF8", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}

	certPEM, keyPEM, pool := selfSignedCert(t)
	c.rootCAs = pool
	write("data/server.crt", certPEM)
	write("data/server.key", keyPEM)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf, err := os.ReadFile(filepath.Join(data, "postgresql.conf"))
	if err != nil {
		t.Fatal(err)
	}
	write("data/postgresql.conf", string(conf)+fmt.Sprintf(`
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
fsync = off
max_connections = 40
`, c.port, dir))
	write("data/pg_hba.conf", "local all all scram-sha-256\n"+
		"host all "+pgCleartextUser+" 127.0.0.1/32 password\n"+
		"host all all 127.0.0.1/32 scram-sha-256\n")
	if out, err := run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	t.Cleanup(func() {
		if out, err := run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"); err != nil {
			t.Errorf("pg_ctl stop: %v\n%s", err, out)
		}
	})
	return c
}

// pgBinDir finds the directory of initdb and pg_ctl.
func pgBinDir() string {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { // the newest version
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	return ""
}

// selfSignedCert returns a certificate and key for 127.0.0.1 and localhost, in PEM, and a pool
// that trusts it.
func selfSignedCert(t *testing.T) (certPEM, keyPEM string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "coffer test database"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})), pool
}

// superExec runs statements as the cluster's superuser.
func (c *pgCluster) superExec(t *testing.T, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/postgres?sslmode=disable", c.super, c.port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// login reports whether user logs in with password (over TLS, checked against the cluster's
// CA), and if so whether it can read the table.
func (c *pgCluster) login(user, password, table string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=127.0.0.1 port=%d dbname=postgres sslmode=disable", c.port))
	if err != nil {
		return err
	}
	cfg.User, cfg.Password = user, password
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if table != "" {
		var n int
		return conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n)
	}
	return nil
}

// secretValue is the JSON of a PostgreSQL secret on the cluster.
func (c *pgCluster) secretValue(user, password string) map[string]any {
	return map[string]any{"engine": "postgres", "host": "127.0.0.1", "port": c.port, "username": user, "password": password, "dbname": "postgres"}
}

// lit quotes a literal for the tests' own SQL.
func lit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

// initialPassword has every character that quoting must get right.
const initialPassword = `in'it"ial\pa$$ -- ;'--`

// TestPostgres rotates users of a throwaway scram-sha-256 cluster through a real coffer
// server, single user and alternating users, and checks the security rules.
func TestPostgres(t *testing.T) {
	cl := startPGCluster(t)
	cs := startCoffer(t)
	allow := rotation.DBOptions{AllowedHosts: []string{"127.0.0.1:" + strconv.Itoa(cl.port)}}
	cl.superExec(t, "CREATE TABLE rotated (n int)", "INSERT INTO rotated VALUES (1)")

	t.Run("single user", func(t *testing.T) {
		user := "single_" + uniq()
		cl.superExec(t, "CREATE ROLE "+ident(user)+" LOGIN PASSWORD "+lit(initialPassword), "GRANT SELECT ON rotated TO "+ident(user))
		arn := cs.secret(t, "pg-single-"+user, cl.secretValue(user, initialPassword), "postgres-single-user")
		r := rotation.LenientCreate(rotation.NewPostgres(false, allow))
		token := newToken()
		cs.rotate(t, r, arn, token)

		if got := cs.stages(t, arn)["AWSCURRENT"]; got != token {
			t.Fatalf("AWSCURRENT is on %s, want %s", got, token)
		}
		cur := cs.value(t, arn, "AWSCURRENT")
		if cur["username"] != user || cur["password"] == initialPassword || cur["dbname"] != "postgres" {
			t.Fatalf("AWSCURRENT = %v", cur)
		}
		if p := cur["password"].(string); len(p) != 32 || strings.ContainsAny(p, `:/@"'\`) {
			t.Errorf("new password %q: want 32 characters without :/@\"'\\", p)
		}
		if err := cl.login(user, cur["password"].(string), "rotated"); err != nil {
			t.Errorf("the new password does not log in: %v", err)
		}
		if err := cl.login(user, initialPassword, ""); err == nil {
			t.Error("the old password still logs in")
		}
		if prev := cs.value(t, arn, "AWSPREVIOUS"); prev["password"] != initialPassword {
			t.Errorf("AWSPREVIOUS = %v", prev)
		}
		// The whole rotation again, after the end: every step sees its version AWSCURRENT.
		cs.rotate(t, r, arn, token)
		// A second rotation starts from the generated password.
		second := newToken()
		cs.rotate(t, r, arn, second)
		if err := cl.login(user, cs.value(t, arn, "AWSCURRENT")["password"].(string), "rotated"); err != nil {
			t.Errorf("after a second rotation, the new password does not log in: %v", err)
		}
		if err := cl.login(user, cur["password"].(string), ""); err == nil {
			t.Error("after a second rotation, the first rotation's password still logs in")
		}
	})

	t.Run("single user falls back to AWSPREVIOUS", func(t *testing.T) {
		// The database has the previous password: a rotation whose setSecret had run but whose
		// finishSecret had not, then a value put by hand. setSecret logs in with AWSPREVIOUS.
		user := "prev_" + uniq()
		cl.superExec(t, "CREATE ROLE "+ident(user)+" LOGIN PASSWORD "+lit(initialPassword))
		arn := cs.secret(t, "pg-prev-"+user, cl.secretValue(user, initialPassword), "postgres-single-user")
		_, err := cs.sm.PutSecretValue(context.Background(), secretString(arn, cl.secretValue(user, "not-the-password")))
		if err != nil {
			t.Fatal(err)
		}
		r := rotation.LenientCreate(rotation.NewPostgres(false, allow))
		cs.rotate(t, r, arn, newToken())
		if err := cl.login(user, cs.value(t, arn, "AWSCURRENT")["password"].(string), ""); err != nil {
			t.Errorf("the new password does not log in: %v", err)
		}
	})

	t.Run("resumed after createSecret", func(t *testing.T) {
		user := "resume_" + uniq()
		cl.superExec(t, "CREATE ROLE "+ident(user)+" LOGIN PASSWORD "+lit(initialPassword))
		arn := cs.secret(t, "pg-resume-"+user, cl.secretValue(user, initialPassword), "postgres-single-user")
		token := newToken()
		cs.rotate(t, rotation.LenientCreate(rotation.NewPostgres(false, allow)), arn, token, rotation.StepCreate)
		pending := cs.value(t, arn, "AWSPENDING")
		// The rotation stops there; another rotator (a restarted server) takes it up.
		cs.rotate(t, rotation.NewPostgres(false, allow), arn, token, rotation.StepSet, rotation.StepTest, rotation.StepFinish)
		if cur := cs.value(t, arn, "AWSCURRENT"); cur["password"] != pending["password"] {
			t.Fatalf("AWSCURRENT has not the pending password")
		}
		if err := cl.login(user, pending["password"].(string), ""); err != nil {
			t.Errorf("the new password does not log in: %v", err)
		}
	})

	t.Run("alternating users", func(t *testing.T) {
		admin, user := "admin_"+uniq(), `alt"q'`+uniq()
		adminPassword := "adm-" + uniq() + uniq()
		cl.superExec(t, "CREATE ROLE "+ident(admin)+" LOGIN CREATEROLE PASSWORD "+lit(adminPassword),
			"CREATE ROLE "+ident(user)+" LOGIN PASSWORD "+lit(initialPassword), "GRANT SELECT ON rotated TO "+ident(user))
		master := cs.secret(t, "pg-master-"+admin, cl.secretValue(admin, adminPassword), "")
		v := cl.secretValue(user, initialPassword)
		v["masterarn"] = master
		v["note"] = "kept"
		arn := cs.secret(t, "pg-alt-"+uniq(), v, "postgres-alternating-users")
		r := rotation.LenientCreate(rotation.NewPostgres(true, allow))

		cs.rotate(t, r, arn, newToken())
		cur, prev := cs.value(t, arn, "AWSCURRENT"), cs.value(t, arn, "AWSPREVIOUS")
		if cur["username"] != user+"_clone" || cur["masterarn"] != master || cur["note"] != "kept" {
			t.Fatalf("AWSCURRENT = %v", cur)
		}
		if err := cl.login(user+"_clone", cur["password"].(string), "rotated"); err != nil {
			t.Errorf("the clone does not log in, or lacks the original's grants: %v", err)
		}
		if err := cl.login(prev["username"].(string), prev["password"].(string), "rotated"); err != nil || prev["password"] != initialPassword {
			t.Errorf("the previous credentials do not log in: %v", err)
		}

		cs.rotate(t, r, arn, newToken())
		cur2, prev2 := cs.value(t, arn, "AWSCURRENT"), cs.value(t, arn, "AWSPREVIOUS")
		if cur2["username"] != user || prev2["username"] != user+"_clone" {
			t.Fatalf("second rotation: AWSCURRENT %v, AWSPREVIOUS %v", cur2["username"], prev2["username"])
		}
		if err := cl.login(user, cur2["password"].(string), "rotated"); err != nil {
			t.Errorf("second rotation: the new password does not log in: %v", err)
		}
		if err := cl.login(user+"_clone", prev2["password"].(string), "rotated"); err != nil {
			t.Errorf("second rotation: the previous credentials do not log in: %v", err)
		}
		if err := cl.login(user, initialPassword, ""); err == nil {
			t.Error("second rotation: the original password still logs in")
		}
	})

	t.Run("alternating refuses a clone that rotation did not make", func(t *testing.T) {
		admin, user := "admin_"+uniq(), "victim_"+uniq()
		adminPassword, otherPassword := "adm-"+uniq()+uniq(), "other-"+uniq()+uniq()
		cl.superExec(t, "CREATE ROLE "+ident(admin)+" LOGIN CREATEROLE PASSWORD "+lit(adminPassword),
			"CREATE ROLE "+ident(user)+" LOGIN PASSWORD "+lit(initialPassword),
			"CREATE ROLE "+ident(user+"_clone")+" LOGIN PASSWORD "+lit(otherPassword))
		master := cs.secret(t, "pg-master-"+admin, cl.secretValue(admin, adminPassword), "")
		v := cl.secretValue(user, initialPassword)
		v["masterarn"] = master
		arn := cs.secret(t, "pg-alt-"+uniq(), v, "postgres-alternating-users")
		r := rotation.LenientCreate(rotation.NewPostgres(true, allow))
		token := newToken()
		cs.rotate(t, r, arn, token, rotation.StepCreate)
		err := cs.step(r, arn, token, rotation.StepSet)
		if err == nil || !strings.Contains(err.Error(), "not a member") {
			t.Fatalf("setSecret: %v, want a refusal", err)
		}
		noPassword(t, err, initialPassword, adminPassword, otherPassword, cs.value(t, arn, "AWSPENDING")["password"].(string))
		if err := cl.login(user+"_clone", otherPassword, ""); err != nil {
			t.Errorf("the unrelated role's password changed: %v", err)
		}
	})

	t.Run("errors hold no password", func(t *testing.T) {
		// An administrator without CREATEROLE: CREATE ROLE … PASSWORD fails on the server.
		admin, user := "weak_"+uniq(), "errs_"+uniq()
		adminPassword := "adm-" + uniq() + uniq()
		cl.superExec(t, "CREATE ROLE "+ident(admin)+" LOGIN PASSWORD "+lit(adminPassword),
			"CREATE ROLE "+ident(user)+" LOGIN PASSWORD "+lit(initialPassword))
		master := cs.secret(t, "pg-master-"+admin, cl.secretValue(admin, adminPassword), "")
		v := cl.secretValue(user, initialPassword)
		v["masterarn"] = master
		arn := cs.secret(t, "pg-errs-"+uniq(), v, "postgres-alternating-users")
		r := rotation.LenientCreate(rotation.NewPostgres(true, allow))
		token := newToken()
		cs.rotate(t, r, arn, token, rotation.StepCreate)
		pending := cs.value(t, arn, "AWSPENDING")["password"].(string)
		err := cs.step(r, arn, token, rotation.StepSet)
		if err == nil || !strings.Contains(err.Error(), "42501") {
			t.Fatalf("setSecret with an administrator that cannot create roles: %v, want SQLSTATE 42501", err)
		}
		noPassword(t, err, initialPassword, adminPassword, pending)
		err = cs.step(r, arn, token, rotation.StepTest)
		if err == nil {
			t.Fatal("testSecret passed before setSecret did")
		}
		noPassword(t, err, initialPassword, adminPassword, pending)

		// Single user whose every known password is wrong.
		user2 := "wrong_" + uniq()
		cl.superExec(t, "CREATE ROLE "+ident(user2)+" LOGIN PASSWORD "+lit(initialPassword))
		arn2 := cs.secret(t, "pg-wrong-"+user2, cl.secretValue(user2, "wrong'\\password"), "postgres-single-user")
		r2 := rotation.LenientCreate(rotation.NewPostgres(false, allow))
		token2 := newToken()
		cs.rotate(t, r2, arn2, token2, rotation.StepCreate)
		err = cs.step(r2, arn2, token2, rotation.StepSet)
		if err == nil {
			t.Fatal("setSecret passed with wrong passwords")
		}
		noPassword(t, err, "wrong'\\password", initialPassword, cs.value(t, arn2, "AWSPENDING")["password"].(string))
		t.Logf("setSecret's error: %v", err)
	})

	t.Run("host not allowed", func(t *testing.T) {
		db := newCountingListener(t)
		v := cl.secretValue("nobody", initialPassword)
		v["port"] = db.port()
		arn := cs.secret(t, "pg-denied-"+uniq(), v, "postgres-single-user")
		for _, o := range []rotation.DBOptions{{}, allow, {AllowedHosts: []string{"localhost"}}, {AllowedHosts: []string{"127.0.0.1:1"}}} {
			r := rotation.LenientCreate(rotation.NewPostgres(false, o))
			token := newToken()
			if err := cs.step(r, arn, token, rotation.StepCreate); !errors.Is(err, rotation.ErrNotAllowed) {
				t.Errorf("createSecret with AllowedHosts %q: %v, want ErrNotAllowed", o.AllowedHosts, err)
			}
			cs.putPending(t, arn, token, v)
			for _, s := range []string{rotation.StepSet, rotation.StepTest} {
				if err := cs.step(r, arn, token, s); !errors.Is(err, rotation.ErrNotAllowed) {
					t.Errorf("%s with AllowedHosts %q: %v, want ErrNotAllowed", s, o.AllowedHosts, err)
				}
			}
		}
		if n := db.n.Load(); n != 0 {
			t.Errorf("the database not allowed got %d connections", n)
		}
		// The same host allowed with any port, or with its port: the rotator connects.
		for _, hosts := range [][]string{{"127.0.0.1"}, {"db.example", "127.0.0.1:" + strconv.Itoa(db.port())}} {
			r := rotation.NewPostgres(false, rotation.DBOptions{AllowedHosts: hosts, ConnectTimeout: time.Second})
			token := newToken()
			cs.putPending(t, arn, token, v)
			if err := cs.step(r, arn, token, rotation.StepTest); err == nil || errors.Is(err, rotation.ErrNotAllowed) {
				t.Errorf("testSecret with AllowedHosts %q: %v, want a failed connection", hosts, err)
			}
		}
		if db.n.Load() == 0 {
			t.Error("the allowed database got no connection")
		}
	})

	t.Run("TLS", func(t *testing.T) {
		user := "tls_" + uniq()
		cl.superExec(t, "CREATE ROLE "+ident(user)+" LOGIN PASSWORD "+lit(initialPassword))
		v, _ := jsonString(cl.secretValue(user, initialPassword))
		ctx := context.Background()
		// Offered, so used, unverified.
		ssl, err := rotation.PostgresTLS(ctx, allow, v)
		if err != nil || !ssl {
			t.Errorf("without RequireTLS: TLS %v, %v; want TLS", ssl, err)
		}
		// Required and verified against the cluster's CA.
		verified := allow
		verified.RequireTLS, verified.RootCAs = true, cl.rootCAs
		if ssl, err := rotation.PostgresTLS(ctx, verified, v); err != nil || !ssl {
			t.Errorf("with RequireTLS and the CA: TLS %v, %v; want TLS", ssl, err)
		}
		// Required, and the certificate is not trusted: refused, no fallback to plaintext.
		untrusted := allow
		untrusted.RequireTLS = true
		_, err = rotation.PostgresTLS(ctx, untrusted, v)
		if !rotation.IsPolicy(err) || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("with RequireTLS and an untrusted certificate: %v, want a refusal", err)
		}
		noPassword(t, err, initialPassword)
		// "ssl": true in the secret asks for the same.
		withSSL := cl.secretValue(user, initialPassword)
		withSSL["ssl"] = true
		v2, _ := jsonString(withSSL)
		if _, err := rotation.PostgresTLS(ctx, allow, v2); !rotation.IsPolicy(err) {
			t.Errorf(`with "ssl": true and an untrusted certificate: %v, want a refusal`, err)
		}

		// A whole rotation over verified TLS.
		arn := cs.secret(t, "pg-tls-"+user, cl.secretValue(user, initialPassword), "postgres-single-user")
		cs.rotate(t, rotation.LenientCreate(rotation.NewPostgres(false, verified)), arn, newToken())
		if err := cl.login(user, cs.value(t, arn, "AWSCURRENT")["password"].(string), ""); err != nil {
			t.Errorf("the new password does not log in: %v", err)
		}
	})

	t.Run("cleartext password refused", func(t *testing.T) {
		password := "clear-" + uniq() + uniq()
		cl.superExec(t, "CREATE ROLE "+pgCleartextUser+" LOGIN PASSWORD "+lit(password))
		// The server does ask for the cleartext password, and takes it from a client that sends it.
		if err := cl.login(pgCleartextUser, password, ""); err != nil {
			t.Fatalf("a plain client: %v", err)
		}
		v, _ := jsonString(cl.secretValue(pgCleartextUser, password))
		for _, o := range []rotation.DBOptions{allow, {AllowedHosts: allow.AllowedHosts, RequireTLS: true, RootCAs: cl.rootCAs}} {
			_, err := rotation.PostgresTLS(context.Background(), o, v)
			if err == nil || !strings.Contains(err.Error(), "server requested password authentication") {
				t.Errorf("RequireTLS %v: %v, want a refusal of cleartext authentication", o.RequireTLS, err)
			}
			noPassword(t, err, password)
		}
	})
}
