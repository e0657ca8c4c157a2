package rotation_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/coffer-project/coffer/rotation"
)

// MySQLEnv names the environment variable with the DSN (go-sql-driver's form) of the MySQL or
// MariaDB server the tests use, as an administrator; root with no password on 127.0.0.1:3306
// when unset.
const MySQLEnv = "COFFER_TEST_MYSQL"

// mysqlServer is the test server, reached as its administrator.
type mysqlServer struct {
	admin *sql.DB
	host  string
	port  int
	drops []string // users and databases to drop at the end
}

// startMySQL connects to the test server, or skips the test (fails it when CI=true).
func startMySQL(t *testing.T) *mysqlServer {
	t.Helper()
	dsn := os.Getenv(MySQLEnv)
	if dsn == "" {
		dsn = "root@tcp(127.0.0.1:3306)/"
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("%s: %v", MySQLEnv, err)
	}
	cfg.InterpolateParams = true
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		skipOrFail(t, "MySQL at %s is unreachable (set %s to use another server): %v", cfg.Addr, MySQLEnv, err)
	}
	host, port, _ := net.SplitHostPort(cfg.Addr)
	s := &mysqlServer{admin: db, host: host}
	s.port, _ = strconv.Atoi(port)
	t.Cleanup(func() {
		for _, d := range s.drops {
			if _, err := db.Exec(d); err != nil {
				t.Errorf("%s: %v", d, err)
			}
		}
		db.Close()
	})
	return s
}

// exec runs statements as the administrator; args are interpolated by the driver.
func (s *mysqlServer) exec(t *testing.T, stmt string, args ...any) {
	t.Helper()
	if _, err := s.admin.Exec(stmt, args...); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// user creates user@'%' with password and the grants, dropped (with its clone) at the end.
func (s *mysqlServer) user(t *testing.T, name, password string, grants ...string) {
	t.Helper()
	s.exec(t, "CREATE USER ?@'%' IDENTIFIED BY ?", name, password)
	for _, u := range []string{name, name + "_clone"} {
		s.drops = append(s.drops, "DROP USER IF EXISTS '"+strings.NewReplacer(`\`, `\\`, "'", "''").Replace(u)+"'@'%'")
	}
	for _, g := range grants {
		g, opt, _ := strings.Cut(g, " WITH ")
		if opt != "" {
			opt = " WITH " + opt
		}
		s.exec(t, "GRANT "+g+" TO ?@'%'"+opt, name)
	}
}

// database creates a database with a table t, dropped at the end.
func (s *mysqlServer) database(t *testing.T) string {
	t.Helper()
	name := "coffer_rot_" + uniq()
	s.exec(t, "CREATE DATABASE "+name)
	s.drops = append(s.drops, "DROP DATABASE IF EXISTS "+name)
	s.exec(t, "CREATE TABLE "+name+".t (n int)")
	return name
}

// login reports whether user logs in with password and, when table is set, can read it.
func (s *mysqlServer) login(user, password, table string) error {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = user, password, "tcp", net.JoinHostPort(s.host, strconv.Itoa(s.port))
	cfg.Timeout = 5 * time.Second
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if table == "" {
		return db.PingContext(ctx)
	}
	var n int
	return db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n)
}

func (s *mysqlServer) secretValue(user, password string) map[string]any {
	return map[string]any{"engine": "mysql", "host": s.host, "port": s.port, "username": user, "password": password}
}

// TestMySQL rotates users of the MySQL (MariaDB) test server through a real coffer server,
// single user and alternating users, and checks the security rules.
func TestMySQL(t *testing.T) {
	ms := startMySQL(t)
	cs := startCoffer(t)
	allow := rotation.DBOptions{AllowedHosts: []string{net.JoinHostPort(ms.host, strconv.Itoa(ms.port))}}
	db := ms.database(t)

	t.Run("single user", func(t *testing.T) {
		user := "cs_" + uniq()
		ms.user(t, user, initialPassword, "SELECT ON "+db+".*")
		v := ms.secretValue(user, initialPassword)
		v["dbname"] = db
		arn := cs.secret(t, "my-single-"+user, v, "mysql-single-user")
		r := rotation.LenientCreate(rotation.NewMySQL(false, allow))
		token := newToken()
		cs.rotate(t, r, arn, token)
		cur := cs.value(t, arn, "AWSCURRENT")
		if cur["username"] != user || cur["dbname"] != db || cur["password"] == initialPassword {
			t.Fatalf("AWSCURRENT = %v", cur)
		}
		if p := cur["password"].(string); len(p) != 32 || strings.ContainsAny(p, `/@"'\`) {
			t.Errorf("new password %q: want 32 characters without /@\"'\\", p)
		}
		if err := ms.login(user, cur["password"].(string), db+".t"); err != nil {
			t.Errorf("the new password does not log in: %v", err)
		}
		if err := ms.login(user, initialPassword, ""); err == nil {
			t.Error("the old password still logs in")
		}
		cs.rotate(t, r, arn, token) // again, after the end
		cs.rotate(t, r, arn, newToken())
		if err := ms.login(user, cs.value(t, arn, "AWSCURRENT")["password"].(string), ""); err != nil {
			t.Errorf("after a second rotation, the new password does not log in: %v", err)
		}
	})

	t.Run("resumed after createSecret", func(t *testing.T) {
		user := "cr_" + uniq()
		ms.user(t, user, initialPassword)
		arn := cs.secret(t, "my-resume-"+user, ms.secretValue(user, initialPassword), "mysql-single-user")
		token := newToken()
		cs.rotate(t, rotation.LenientCreate(rotation.NewMySQL(false, allow)), arn, token, rotation.StepCreate)
		pending := cs.value(t, arn, "AWSPENDING")
		cs.rotate(t, rotation.NewMySQL(false, allow), arn, token, rotation.StepSet, rotation.StepTest, rotation.StepFinish)
		if err := ms.login(user, pending["password"].(string), ""); err != nil || cs.stages(t, arn)["AWSCURRENT"] != token {
			t.Errorf("the resumed rotation did not finish: %v", err)
		}
	})

	t.Run("alternating users", func(t *testing.T) {
		admin, user := "cm_"+uniq(), `ca'q"`+uniq()
		adminPassword := "adm-" + uniq() + uniq()
		ms.user(t, admin, adminPassword, "ALL PRIVILEGES ON *.* WITH GRANT OPTION")
		ms.user(t, user, initialPassword, "SELECT ON "+db+".*", "INSERT ON "+db+".t")
		master := cs.secret(t, "my-master-"+admin, ms.secretValue(admin, adminPassword), "")
		v := ms.secretValue(user, initialPassword)
		v["masterarn"] = master
		arn := cs.secret(t, "my-alt-"+uniq(), v, "mysql-alternating-users")
		r := rotation.LenientCreate(rotation.NewMySQL(true, allow))

		cs.rotate(t, r, arn, newToken())
		cur, prev := cs.value(t, arn, "AWSCURRENT"), cs.value(t, arn, "AWSPREVIOUS")
		if cur["username"] != user+"_clone" || cur["masterarn"] != master {
			t.Fatalf("AWSCURRENT = %v", cur)
		}
		if err := ms.login(user+"_clone", cur["password"].(string), db+".t"); err != nil {
			t.Errorf("the clone does not log in, or lacks the original's grants: %v", err)
		}
		if err := ms.login(user, prev["password"].(string), db+".t"); err != nil || prev["password"] != initialPassword {
			t.Errorf("the previous credentials do not log in: %v", err)
		}
		var grants []string
		rows, err := ms.admin.Query("SHOW GRANTS FOR ?@'%'", user+"_clone")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var g string
			_ = rows.Scan(&g)
			grants = append(grants, g)
		}
		rows.Close()
		if all := strings.Join(grants, "\n"); !strings.Contains(all, "GRANT SELECT ON `"+db+"`.*") || !strings.Contains(all, "GRANT INSERT ON `"+db+"`.`t`") {
			t.Errorf("the clone's grants:\n%s", all)
		}

		cs.rotate(t, r, arn, newToken())
		cur2, prev2 := cs.value(t, arn, "AWSCURRENT"), cs.value(t, arn, "AWSPREVIOUS")
		if cur2["username"] != user || prev2["username"] != user+"_clone" {
			t.Fatalf("second rotation: AWSCURRENT %v, AWSPREVIOUS %v", cur2["username"], prev2["username"])
		}
		if err := ms.login(user, cur2["password"].(string), db+".t"); err != nil {
			t.Errorf("second rotation: the new password does not log in: %v", err)
		}
		if err := ms.login(user+"_clone", prev2["password"].(string), db+".t"); err != nil {
			t.Errorf("second rotation: the previous credentials do not log in: %v", err)
		}
		if err := ms.login(user, initialPassword, ""); err == nil {
			t.Error("second rotation: the original password still logs in")
		}
	})

	t.Run("errors hold no password", func(t *testing.T) {
		// An administrator without CREATE USER: the CREATE USER … IDENTIFIED BY fails.
		admin, user := "cw_"+uniq(), "ce_"+uniq()
		adminPassword := "adm-" + uniq() + uniq()
		ms.user(t, admin, adminPassword, "SELECT ON mysql.*")
		ms.user(t, user, initialPassword)
		master := cs.secret(t, "my-master-"+admin, ms.secretValue(admin, adminPassword), "")
		v := ms.secretValue(user, initialPassword)
		v["masterarn"] = master
		arn := cs.secret(t, "my-errs-"+uniq(), v, "mysql-alternating-users")
		r := rotation.LenientCreate(rotation.NewMySQL(true, allow))
		token := newToken()
		cs.rotate(t, r, arn, token, rotation.StepCreate)
		pending := cs.value(t, arn, "AWSPENDING")["password"].(string)
		err := cs.step(r, arn, token, rotation.StepSet)
		if err == nil || !strings.Contains(err.Error(), "1227") {
			t.Fatalf("setSecret with an administrator that cannot create users: %v, want error 1227", err)
		}
		noPassword(t, err, initialPassword, adminPassword, pending)
		t.Logf("setSecret's error: %v", err)

		user2 := "cx_" + uniq()
		ms.user(t, user2, initialPassword)
		arn2 := cs.secret(t, "my-wrong-"+user2, ms.secretValue(user2, "wrong'\\password"), "mysql-single-user")
		r2 := rotation.LenientCreate(rotation.NewMySQL(false, allow))
		token2 := newToken()
		cs.rotate(t, r2, arn2, token2, rotation.StepCreate)
		err = cs.step(r2, arn2, token2, rotation.StepSet)
		if err == nil {
			t.Fatal("setSecret passed with wrong passwords")
		}
		noPassword(t, err, "wrong'\\password", initialPassword, cs.value(t, arn2, "AWSPENDING")["password"].(string))
	})

	t.Run("host not allowed", func(t *testing.T) {
		l := newCountingListener(t)
		v := ms.secretValue("nobody", initialPassword)
		v["host"], v["port"] = "127.0.0.1", l.port()
		arn := cs.secret(t, "my-denied-"+uniq(), v, "mysql-single-user")
		for _, o := range []rotation.DBOptions{{}, allow, {AllowedHosts: []string{"localhost", "127.0.0.1:1"}}} {
			r := rotation.LenientCreate(rotation.NewMySQL(false, o))
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
		if n := l.n.Load(); n != 0 {
			t.Errorf("the database not allowed got %d connections", n)
		}
	})

	t.Run("TLS required", func(t *testing.T) {
		var haveSSL string
		if err := ms.admin.QueryRow("SELECT @@have_ssl").Scan(&haveSSL); err != nil || haveSSL == "YES" {
			t.Skipf("the test server speaks TLS (have_ssl %q, %v): this case needs one that does not", haveSSL, err)
		}
		user := "ct_" + uniq()
		ms.user(t, user, initialPassword)
		v, _ := jsonString(ms.secretValue(user, initialPassword))
		if err := rotation.MySQLLogin(context.Background(), allow, v); err != nil {
			t.Fatalf("without RequireTLS, on a server without TLS: %v", err)
		}
		o := allow
		o.RequireTLS = true
		err := rotation.MySQLLogin(context.Background(), o, v)
		if !rotation.IsPolicy(err) || !strings.Contains(err.Error(), "TLS") {
			t.Errorf("with RequireTLS, on a server without TLS: %v, want a refusal", err)
		}
		noPassword(t, err, initialPassword)
	})
}

// TestMySQLRefusesCleartext has a server ask for the password in the clear (the
// mysql_clear_password plugin, at once or by an AuthSwitchRequest after the usual
// handshake): the rotator must refuse, and send no password. MariaDB and MySQL load that
// plugin only with PAM or LDAP, which the shared test server must not be reconfigured for; so
// the server here is a stand-in that speaks only the handshake.
func TestMySQLRefusesCleartext(t *testing.T) {
	const password = "clear-text-secret-1234"
	for _, plugin := range []string{"mysql_native_password", "mysql_clear_password"} {
		t.Run(plugin, func(t *testing.T) {
			port, received := fakeMySQL(t, plugin)
			v, _ := jsonString(map[string]any{"engine": "mysql", "host": "127.0.0.1", "port": port, "username": "app", "password": password})
			err := rotation.MySQLLogin(context.Background(), rotation.DBOptions{AllowedHosts: []string{"127.0.0.1"}}, v)
			if err == nil || !strings.Contains(err.Error(), "clear text") {
				t.Errorf("login: %v, want a refusal of cleartext authentication", err)
			}
			noPassword(t, err, password)
			if got := <-received; strings.Contains(string(got), password) {
				t.Errorf("the client sent the password: %q", got)
			}
		})
	}
}

// fakeMySQL serves one connection: a protocol 10 handshake naming plugin, then, after the
// client's answer, an AuthSwitchRequest to mysql_clear_password. It sends on received all
// that the client sent.
func fakeMySQL(t *testing.T, plugin string) (int, <-chan []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	received := make(chan []byte, 1)
	go func() {
		var got []byte
		defer func() { received <- got }()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		write := func(seq byte, payload []byte) {
			h := []byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), seq}
			_, _ = c.Write(append(h, payload...))
		}
		salt := make([]byte, 20)
		_, _ = rand.Read(salt)
		for i := range salt {
			salt[i] = salt[i]%94 + 33 // printable, no NUL
		}
		const (
			clientLongPassword = 1 << 0
			clientProtocol41   = 1 << 9
			clientTransactions = 1 << 13
			clientSecureConn   = 1 << 15
			clientPluginAuth   = 1 << 19
		)
		caps := uint32(clientLongPassword | clientProtocol41 | clientTransactions | clientSecureConn | clientPluginAuth)
		p := []byte{10}
		p = append(p, "5.7.99-fake\x00"...)
		p = binary.LittleEndian.AppendUint32(p, 1)
		p = append(p, salt[:8]...)
		p = append(p, 0)
		p = binary.LittleEndian.AppendUint16(p, uint16(caps))
		p = append(p, 0x21)
		p = binary.LittleEndian.AppendUint16(p, 2)
		p = binary.LittleEndian.AppendUint16(p, uint16(caps>>16))
		p = append(p, 21)
		p = append(p, make([]byte, 10)...)
		p = append(p, salt[8:]...)
		p = append(p, 0)
		p = append(p, plugin+"\x00"...)
		write(0, p)

		buf := make([]byte, 4096)
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil || n == 0 {
			return
		}
		sw := append([]byte{0xfe}, "mysql_clear_password\x00"...)
		sw = append(sw, salt...)
		write(2, append(sw, 0))
		for {
			n, err := c.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Logf("fake MySQL: %v", err)
				}
				return
			}
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, received
}
