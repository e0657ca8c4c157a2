package rotation

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
)

func TestAllowedHosts(t *testing.T) {
	o := DBOptions{AllowedHosts: []string{"db.example", "pg.example:5432", "[::1]:3306", "fe80::1", "10.0.0.1:6432"}}
	for _, c := range []struct {
		host string
		port int
		want bool
	}{
		{"db.example", 5432, true},
		{"DB.Example", 1, true},
		{"pg.example", 5432, true},
		{"pg.example", 5433, false},
		{"::1", 3306, true},
		{"[::1]", 3306, true},
		{"::1", 5432, false},
		{"fe80::1", 5432, true},
		{"10.0.0.1", 6432, true},
		{"10.0.0.1", 5432, false},
		{"10.0.0.2", 6432, false},
		{"db.example.", 5432, false}, // as written: no resolution, no normalization
		{"other.example", 5432, false},
		{"", 5432, false},
	} {
		if got := o.allowed(c.host, c.port); got != c.want {
			t.Errorf("allowed(%q, %d) = %v, want %v", c.host, c.port, got, c.want)
		}
	}
	if (DBOptions{}).allowed("127.0.0.1", 5432) {
		t.Error("an empty AllowedHosts allows a host")
	}
}

func TestParseDBSecret(t *testing.T) {
	pg := []string{"postgres", "aurora-postgresql"}
	s, err := parseDBSecret(`{"engine":"postgres","host":"db.example","port":"6432","username":"app","password":"p","dbname":"d","masterarn":"arn:m","ssl":"TRUE","x":[1]}`, pg, 5432)
	if err != nil {
		t.Fatal(err)
	}
	if s.Host != "db.example" || s.Port != 6432 || s.Username != "app" || s.Password != "p" || s.DBName != "d" || s.MasterARN != "arn:m" || !s.SSL {
		t.Errorf("parsed %+v", s)
	}
	v, err := s.with("app_clone", "new")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal([]byte(v), &m)
	if m["username"] != "app_clone" || m["password"] != "new" || m["port"] != "6432" || m["x"] == nil || m["masterarn"] != "arn:m" {
		t.Errorf("with: %s", v)
	}
	if s, err := parseDBSecret(`{"engine":"postgres","host":"h","username":"u","password":"p"}`, pg, 5432); err != nil || s.Port != 5432 {
		t.Errorf("default port: %+v, %v", s, err)
	}
	for _, bad := range []string{
		`[]`, `null`, `"x"`, `{`,
		`{"host":"h","username":"u","password":"p"}`,
		`{"engine":"mysql","host":"h","username":"u","password":"p"}`,
		`{"engine":"postgres","username":"u","password":"p"}`,
		`{"engine":"postgres","host":"h","password":"p"}`,
		`{"engine":"postgres","host":"h","username":"u"}`,
		`{"engine":"postgres","host":"h","username":"","password":"p"}`,
		`{"engine":"postgres","host":"h","username":"u","password":"p","port":0}`,
		`{"engine":"postgres","host":"h","username":"u","password":"p","port":"5432x"}`,
		`{"engine":"postgres","host":"h","username":"u","password":"p","port":70000}`,
		`{"engine":"postgres","host":"/var/run/postgresql","username":"u","password":"p"}`,
		`{"engine":"postgres","host":"a,b","username":"u","password":"p"}`,
		`{"engine":"postgres","host":"h sslmode=disable","username":"u","password":"p"}`,
		`{"engine":"postgres","host":"h","username":1,"password":"p"}`,
	} {
		if _, err := parseDBSecret(bad, pg, 5432); err == nil {
			t.Errorf("parseDBSecret(%s): no error", bad)
		}
	}
}

// FuzzParseDBSecret checks that no input panics the parser, that what it accepts is sound,
// and that its errors do not depend on the password (so cannot quote it).
func FuzzParseDBSecret(f *testing.F) {
	f.Add(`{"engine":"postgres","host":"h","port":5432,"username":"u","password":"pw-secret"}`)
	f.Add(`{"engine":"mysql","host":"::1","port":"3306","username":"u","password":"pw-secret","ssl":true}`)
	f.Add(`{"engine":"postgres","host":"pw-secret","username":"u","password":"pw-secret"}`)
	engines := []string{"postgres", "mysql"}
	f.Fuzz(func(t *testing.T, v string) {
		s, err := parseDBSecret(v, engines, 5432)
		if err == nil && (!validHost(s.Host) || s.Port < 1 || s.Port > 65535 || s.Username == "") {
			t.Errorf("accepted %+v", s)
		}
		var m map[string]any
		if json.Unmarshal([]byte(v), &m) != nil || m == nil {
			return
		}
		if _, ok := m["password"].(string); !ok {
			return
		}
		errText := func(password string) string {
			m["password"] = password
			b, _ := json.Marshal(m)
			_, err := parseDBSecret(string(b), engines, 5432)
			if err == nil {
				return ""
			}
			return err.Error()
		}
		if a, b := errText("first-password"), errText("second-password"); a != b {
			t.Errorf("the error depends on the password: %q and %q", a, b)
		}
	})
}

func TestAltUsername(t *testing.T) {
	for _, c := range []struct{ in, want string }{{"app", "app_clone"}, {"app_clone", "app"}, {"a_clone_clone", "a_clone"}} {
		if got, err := altUsername(c.in, 63); err != nil || got != c.want {
			t.Errorf("altUsername(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if _, err := altUsername(strings.Repeat("u", 27), 32); err == nil {
		t.Error("a clone name past the limit: no error")
	}
	if got, err := altUsername(strings.Repeat("u", 26), 32); err != nil || len(got) != 32 {
		t.Errorf("a clone name at the limit: %q, %v", got, err)
	}
}

func TestRegrant(t *testing.T) {
	for _, c := range []struct{ line, from, to, want string }{
		{"GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*0123'", "app", "app_clone", "GRANT USAGE ON *.* TO `app_clone`@`%`"},
		{"GRANT SELECT, INSERT ON `db`.* TO `app`@`%`", "app", "app_clone", "GRANT SELECT, INSERT ON `db`.* TO `app_clone`@`%`"},
		{"GRANT SELECT ON `db`.`t` TO `app_clone`@`%` WITH GRANT OPTION", "app_clone", "app", "GRANT SELECT ON `db`.`t` TO `app`@`%` WITH GRANT OPTION"},
		{"GRANT `r1` TO `app`@`%` WITH ADMIN OPTION", "app", "app_clone", "GRANT `r1` TO `app_clone`@`%` WITH ADMIN OPTION"},
		{"SET DEFAULT ROLE `r1` FOR `app`@`%`", "app", "app_clone", "SET DEFAULT ROLE `r1` FOR `app_clone`@`%`"},
		{"GRANT USAGE ON *.* TO 'app'@'%'", "app", "app_clone", "GRANT USAGE ON *.* TO `app_clone`@`%`"},
		// A database whose name holds " TO " and the grantee: the grantee is the last part
		// the server wrote, found where it is followed by nothing or a space.
		{"GRANT SELECT ON ` TO x`.* TO `a``b'c`@`%` REQUIRE SSL", "a`b'c", "a`b'c_clone", "GRANT SELECT ON ` TO x`.* TO `a``b'c_clone`@`%`"},
		{"GRANT SELECT ON `d`.* TO 'o''neil'@'%'", "o'neil", "o'neil_clone", "GRANT SELECT ON `d`.* TO `o'neil_clone`@`%`"},
	} {
		got, err := regrant(c.line, c.from, c.to)
		if err != nil || got != c.want {
			t.Errorf("regrant(%q)\n got %q, %v\nwant %q", c.line, got, err, c.want)
		}
	}
	for _, bad := range []string{"REVOKE ALL ON *.* FROM `app`@`%`", "GRANT USAGE ON *.* TO `other`@`%`", "GRANT USAGE ON *.* TO `app`@`localhost`"} {
		if got, err := regrant(bad, "app", "app_clone"); err == nil {
			t.Errorf("regrant(%q) = %q, want an error", bad, got)
		}
	}
}

func TestErrorsHoldNoPassword(t *testing.T) {
	const pw = `s3cr'et\pw`
	// A MySQL syntax error quotes the statement, password included, escaped.
	syntax := &mysql.MySQLError{Number: 1064, SQLState: [5]byte{'4', '2', '0', '0', '0'},
		Message: `You have an error in your SQL syntax; near 's3cr\'et\\pw')' at line 1`}
	other := &mysql.MySQLError{Number: 1105, Message: `odd: s3cr'et\pw and 's3cr\'et\\pw' and 's3cr''et\pw'`}
	for _, err := range []error{mysqlSecretStatementError(syntax, pw), mysqlSecretStatementError(other, pw), mysqlSecretStatementError(errors.New("x "+pw), pw)} {
		for _, form := range []string{pw, `s3cr\'et\\pw`, `s3cr''et\pw`, "s3cr"} {
			if strings.Contains(err.Error(), form) {
				t.Errorf("%q holds %q", err, form)
			}
		}
	}
	red := redactor{"short", "a-longer-short-password", ""}
	err := red.wrap("rotation: log in", errors.New("failed for a-longer-short-password and short"))
	if got, want := err.Error(), "rotation: log in: failed for [REDACTED] and [REDACTED]"; got != want {
		t.Errorf("wrap: %q, want %q", got, want)
	}
}

// TestSCRAMVerifier checks the verifier against RFC 7677's SCRAM-SHA-256 exchange (user
// "user", password "pencil"): the server's signature and the client's proof must agree with
// the stored keys.
func TestSCRAMVerifier(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	v, err := scramVerifierSalt("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	head, keys, ok := strings.Cut(strings.TrimPrefix(v, "SCRAM-SHA-256$"), "$")
	if !ok || head != "4096:W22ZaJ0SNY7soEsUEjb6gQ==" {
		t.Fatalf("verifier %q", v)
	}
	storedB64, serverB64, _ := strings.Cut(keys, ":")
	stored, _ := base64.StdEncoding.DecodeString(storedB64)
	serverKey, _ := base64.StdEncoding.DecodeString(serverB64)
	authMessage := "n=user,r=rOprNGfwEbeRWgbNEkqO," +
		"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096," +
		"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	mac := func(key []byte) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(authMessage))
		return h.Sum(nil)
	}
	if got := base64.StdEncoding.EncodeToString(mac(serverKey)); got != "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=" {
		t.Errorf("server signature %s", got)
	}
	proof, _ := base64.StdEncoding.DecodeString("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
	clientKey := mac(stored)
	for i := range clientKey {
		clientKey[i] ^= proof[i]
	}
	if sum := sha256.Sum256(clientKey); !hmac.Equal(sum[:], stored) {
		t.Error("the client proof does not match the stored key")
	}
	if !printableASCII("pencil") || printableASCII("pénc") || printableASCII("a\tb") || printableASCII("") {
		t.Error("printableASCII")
	}
}
