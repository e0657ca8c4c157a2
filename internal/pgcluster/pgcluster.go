// Package pgcluster starts throwaway PostgreSQL clusters for tests: the machine's shared
// server trusts every login, so a test of passwords needs a cluster that checks them
// (scram-sha-256), with TLS. Nothing here runs outside tests.
package pgcluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a throwaway PostgreSQL cluster with scram-sha-256 authentication (the machine's
// shared server trusts every login, so it cannot tell a good password from a bad one), TLS
// with a certificate of its own CA, and one user, CleartextUser, that pg_hba makes log in
// with a cleartext password.
type Cluster struct {
	Port    int
	Super   string // the postgres superuser's password
	RootCAs *x509.CertPool
}

const CleartextUser = "coffer_cleartext"

// Start runs initdb and pg_ctl (as the postgres OS user when the test runs as root,
// since initdb refuses root) in a temporary directory, and stops and removes the cluster when
// the test ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	bin := BinDir()
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
	c := &Cluster{Super: "super-" + randomHex()}
	write("pwfile", c.Super+"\n")
	data := filepath.Join(dir, "data")
	if out, err := run("initdb", "-D", data, "-A", "scram-sha-256", "-U", "postgres", "--pwfile", filepath.Join(dir, "pwfile"), "-E", "UTF8", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}

	certPEM, keyPEM, pool := SelfSignedCert(t)
	c.RootCAs = pool
	write("data/server.crt", certPEM)
	write("data/server.key", keyPEM)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.Port = ln.Addr().(*net.TCPAddr).Port
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
`, c.Port, dir))
	write("data/pg_hba.conf", "local all all scram-sha-256\n"+
		"host all "+CleartextUser+" 127.0.0.1/32 password\n"+
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

// BinDir finds the directory of initdb and pg_ctl.
func BinDir() string {
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

// SelfSignedCert returns a certificate and key for 127.0.0.1 and localhost, in PEM, and a pool
// that trusts it.
func SelfSignedCert(t testing.TB) (certPEM, keyPEM string, pool *x509.CertPool) {
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

// Exec runs statements as the cluster's superuser.
func (c *Cluster) Exec(t testing.TB, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/postgres?sslmode=disable", c.Super, c.Port))
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
func (c *Cluster) Login(user, password, table string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=127.0.0.1 port=%d dbname=postgres sslmode=disable", c.Port))
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

// skipOrFail skips the test with a reason, or fails it when CI=true (CI must run it).
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("pgcluster: "+format+" (and CI=true)", args...)
	}
	t.Skipf("pgcluster: skipping: "+format, args...)
}

func randomHex() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
