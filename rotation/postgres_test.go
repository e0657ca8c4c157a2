package rotation_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-project/coffer/internal/pgcluster"
	"github.com/coffer-project/coffer/rotation"
)

// secretValue is the JSON of a PostgreSQL secret on the cluster.
func pgSecret(c *pgcluster.Cluster, user, password string) map[string]any {
	return map[string]any{"engine": "postgres", "host": "127.0.0.1", "port": c.Port, "username": user, "password": password, "dbname": "postgres"}
}

// lit quotes a literal for the tests' own SQL.
func lit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

// initialPassword has every character that quoting must get right.
const initialPassword = `in'it"ial\pa$$ -- ;'--`

// TestPostgres rotates users of a throwaway scram-sha-256 cluster through a real coffer
// server, single user and alternating users, and checks the security rules.
func TestPostgres(t *testing.T) {
	cl := pgcluster.Start(t)
	cs := startCoffer(t)
	allow := rotation.DBOptions{AllowedHosts: []string{"127.0.0.1:" + strconv.Itoa(cl.Port)}}
	cl.Exec(t, "CREATE TABLE rotated (n int)", "INSERT INTO rotated VALUES (1)")

	t.Run("single user", func(t *testing.T) {
		user := "single_" + uniq()
		cl.Exec(t, "CREATE ROLE "+ident(user)+" LOGIN PASSWORD "+lit(initialPassword), "GRANT SELECT ON rotated TO "+ident(user))
		arn := cs.secret(t, "pg-single-"+user, pgSecret(cl, user, initialPassword), "postgres-single-user")
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
		if err := cl.Login(user, cur["password"].(string), "rotated"); err != nil {
			t.Errorf("the new password does not log in: %v", err)
		}
		if err := cl.Login(user, initialPassword, ""); err == nil {
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
		if err := cl.Login(user, cs.value(t, arn, "AWSCURRENT")["password"].(string), "rotated"); err != nil {
			t.Errorf("after a second rotation, the new password does not log in: %v", err)
		}
		if err := cl.Login(user, cur["password"].(string), ""); err == nil {
			t.Error("after a second rotation, the first rotation's password still logs in")
		}
	})

	t.Run("single user falls back to AWSPREVIOUS", func(t *testing.T) {
		// The database has the previous password: a rotation whose setSecret had run but whose
		// finishSecret had not, then a value put by hand. setSecret logs in with AWSPREVIOUS.
		user := "prev_" + uniq()
		cl.Exec(t, "CREATE ROLE "+ident(user)+" LOGIN PASSWORD "+lit(initialPassword))
		arn := cs.secret(t, "pg-prev-"+user, pgSecret(cl, user, initialPassword), "postgres-single-user")
		_, err := cs.sm.PutSecretValue(context.Background(), secretString(arn, pgSecret(cl, user, "not-the-password")))
		if err != nil {
			t.Fatal(err)
		}
		r := rotation.LenientCreate(rotation.NewPostgres(false, allow))
		cs.rotate(t, r, arn, newToken())
		if err := cl.Login(user, cs.value(t, arn, "AWSCURRENT")["password"].(string), ""); err != nil {
			t.Errorf("the new password does not log in: %v", err)
		}
	})

	t.Run("resumed after createSecret", func(t *testing.T) {
		user := "resume_" + uniq()
		cl.Exec(t, "CREATE ROLE "+ident(user)+" LOGIN PASSWORD "+lit(initialPassword))
		arn := cs.secret(t, "pg-resume-"+user, pgSecret(cl, user, initialPassword), "postgres-single-user")
		token := newToken()
		cs.rotate(t, rotation.LenientCreate(rotation.NewPostgres(false, allow)), arn, token, rotation.StepCreate)
		pending := cs.value(t, arn, "AWSPENDING")
		// The rotation stops there; another rotator (a restarted server) takes it up.
		cs.rotate(t, rotation.NewPostgres(false, allow), arn, token, rotation.StepSet, rotation.StepTest, rotation.StepFinish)
		if cur := cs.value(t, arn, "AWSCURRENT"); cur["password"] != pending["password"] {
			t.Fatalf("AWSCURRENT has not the pending password")
		}
		if err := cl.Login(user, pending["password"].(string), ""); err != nil {
			t.Errorf("the new password does not log in: %v", err)
		}
	})

	t.Run("alternating users", func(t *testing.T) {
		admin, user := "admin_"+uniq(), `alt"q'`+uniq()
		adminPassword := "adm-" + uniq() + uniq()
		cl.Exec(t, "CREATE ROLE "+ident(admin)+" LOGIN CREATEROLE PASSWORD "+lit(adminPassword),
			"CREATE ROLE "+ident(user)+" LOGIN PASSWORD "+lit(initialPassword), "GRANT SELECT ON rotated TO "+ident(user))
		master := cs.secret(t, "pg-master-"+admin, pgSecret(cl, admin, adminPassword), "")
		v := pgSecret(cl, user, initialPassword)
		v["masterarn"] = master
		v["note"] = "kept"
		arn := cs.secret(t, "pg-alt-"+uniq(), v, "postgres-alternating-users")
		r := rotation.LenientCreate(rotation.NewPostgres(true, allow))

		cs.rotate(t, r, arn, newToken())
		cur, prev := cs.value(t, arn, "AWSCURRENT"), cs.value(t, arn, "AWSPREVIOUS")
		if cur["username"] != user+"_clone" || cur["masterarn"] != master || cur["note"] != "kept" {
			t.Fatalf("AWSCURRENT = %v", cur)
		}
		if err := cl.Login(user+"_clone", cur["password"].(string), "rotated"); err != nil {
			t.Errorf("the clone does not log in, or lacks the original's grants: %v", err)
		}
		if err := cl.Login(prev["username"].(string), prev["password"].(string), "rotated"); err != nil || prev["password"] != initialPassword {
			t.Errorf("the previous credentials do not log in: %v", err)
		}

		cs.rotate(t, r, arn, newToken())
		cur2, prev2 := cs.value(t, arn, "AWSCURRENT"), cs.value(t, arn, "AWSPREVIOUS")
		if cur2["username"] != user || prev2["username"] != user+"_clone" {
			t.Fatalf("second rotation: AWSCURRENT %v, AWSPREVIOUS %v", cur2["username"], prev2["username"])
		}
		if err := cl.Login(user, cur2["password"].(string), "rotated"); err != nil {
			t.Errorf("second rotation: the new password does not log in: %v", err)
		}
		if err := cl.Login(user+"_clone", prev2["password"].(string), "rotated"); err != nil {
			t.Errorf("second rotation: the previous credentials do not log in: %v", err)
		}
		if err := cl.Login(user, initialPassword, ""); err == nil {
			t.Error("second rotation: the original password still logs in")
		}
	})

	t.Run("alternating refuses a clone that rotation did not make", func(t *testing.T) {
		admin, user := "admin_"+uniq(), "victim_"+uniq()
		adminPassword, otherPassword := "adm-"+uniq()+uniq(), "other-"+uniq()+uniq()
		cl.Exec(t, "CREATE ROLE "+ident(admin)+" LOGIN CREATEROLE PASSWORD "+lit(adminPassword),
			"CREATE ROLE "+ident(user)+" LOGIN PASSWORD "+lit(initialPassword),
			"CREATE ROLE "+ident(user+"_clone")+" LOGIN PASSWORD "+lit(otherPassword))
		master := cs.secret(t, "pg-master-"+admin, pgSecret(cl, admin, adminPassword), "")
		v := pgSecret(cl, user, initialPassword)
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
		if err := cl.Login(user+"_clone", otherPassword, ""); err != nil {
			t.Errorf("the unrelated role's password changed: %v", err)
		}
	})

	t.Run("errors hold no password", func(t *testing.T) {
		// An administrator without CREATEROLE: CREATE ROLE … PASSWORD fails on the server.
		admin, user := "weak_"+uniq(), "errs_"+uniq()
		adminPassword := "adm-" + uniq() + uniq()
		cl.Exec(t, "CREATE ROLE "+ident(admin)+" LOGIN PASSWORD "+lit(adminPassword),
			"CREATE ROLE "+ident(user)+" LOGIN PASSWORD "+lit(initialPassword))
		master := cs.secret(t, "pg-master-"+admin, pgSecret(cl, admin, adminPassword), "")
		v := pgSecret(cl, user, initialPassword)
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
		cl.Exec(t, "CREATE ROLE "+ident(user2)+" LOGIN PASSWORD "+lit(initialPassword))
		arn2 := cs.secret(t, "pg-wrong-"+user2, pgSecret(cl, user2, "wrong'\\password"), "postgres-single-user")
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
		v := pgSecret(cl, "nobody", initialPassword)
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
		cl.Exec(t, "CREATE ROLE "+ident(user)+" LOGIN PASSWORD "+lit(initialPassword))
		v, _ := jsonString(pgSecret(cl, user, initialPassword))
		ctx := context.Background()
		// Offered, so used, unverified.
		ssl, err := rotation.PostgresTLS(ctx, allow, v)
		if err != nil || !ssl {
			t.Errorf("without RequireTLS: TLS %v, %v; want TLS", ssl, err)
		}
		// Required and verified against the cluster's CA.
		verified := allow
		verified.RequireTLS, verified.RootCAs = true, cl.RootCAs
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
		withSSL := pgSecret(cl, user, initialPassword)
		withSSL["ssl"] = true
		v2, _ := jsonString(withSSL)
		if _, err := rotation.PostgresTLS(ctx, allow, v2); !rotation.IsPolicy(err) {
			t.Errorf(`with "ssl": true and an untrusted certificate: %v, want a refusal`, err)
		}

		// A whole rotation over verified TLS.
		arn := cs.secret(t, "pg-tls-"+user, pgSecret(cl, user, initialPassword), "postgres-single-user")
		cs.rotate(t, rotation.LenientCreate(rotation.NewPostgres(false, verified)), arn, newToken())
		if err := cl.Login(user, cs.value(t, arn, "AWSCURRENT")["password"].(string), ""); err != nil {
			t.Errorf("the new password does not log in: %v", err)
		}
	})

	t.Run("cleartext password refused", func(t *testing.T) {
		password := "clear-" + uniq() + uniq()
		cl.Exec(t, "CREATE ROLE "+pgcluster.CleartextUser+" LOGIN PASSWORD "+lit(password))
		// The server does ask for the cleartext password, and takes it from a client that sends it.
		if err := cl.Login(pgcluster.CleartextUser, password, ""); err != nil {
			t.Fatalf("a plain client: %v", err)
		}
		v, _ := jsonString(pgSecret(cl, pgcluster.CleartextUser, password))
		for _, o := range []rotation.DBOptions{allow, {AllowedHosts: allow.AllowedHosts, RequireTLS: true, RootCAs: cl.RootCAs}} {
			_, err := rotation.PostgresTLS(context.Background(), o, v)
			if err == nil || !strings.Contains(err.Error(), "server requested password authentication") {
				t.Errorf("RequireTLS %v: %v, want a refusal of cleartext authentication", o.RequireTLS, err)
			}
			noPassword(t, err, password)
		}
	})
}
