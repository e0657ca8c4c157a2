package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-project/coffer/internal/pgcluster"
)

// TestRotationPostgresWithAWSCLI is the rotation issue's "done when", with the AWS CLI v1
// from pip ("aws") and PostgreSQL's own client ("psql"): `aws secretsmanager rotate-secret`
// with the postgres-alternating-users rotator rotates a real login of a throwaway cluster
// that checks passwords (internal/pgcluster: scram-sha-256 and TLS; the machine's shared
// PostgreSQL and MariaDB are not touched); psql connects with the new AWSCURRENT credentials
// and with AWSPREVIOUS's, and not with a wrong password; `coffer rotation status`,
// describe-secret and the audit trail show the rotation, the rotator's calls as its role
// session, and no password. A second rotation switches back to the first user.
func TestRotationPostgresWithAWSCLI(t *testing.T) {
	bin := need(t, "aws")
	psql := need(t, "psql")
	cl := pgcluster.Start(t)
	dir := t.TempDir()

	// Every password the test knows, by a name to print in its place.
	hidden := map[string]string{
		"the administrator's password": "adm-" + rand.Text(),
		"app's first password":         "app-" + rand.Text(),
	}
	redact := func(s string) string {
		for name, pw := range hidden {
			s = strings.ReplaceAll(s, pw, "<"+name+">")
		}
		return s
	}
	adminPassword, appPassword := hidden["the administrator's password"], hidden["app's first password"]
	cl.Exec(t, "CREATE ROLE rotation_admin LOGIN CREATEROLE", "CREATE ROLE app LOGIN",
		"CREATE TABLE app_data (x int)", "INSERT INTO app_data VALUES (1), (2), (3)", "ALTER TABLE app_data OWNER TO app")
	setPasswords(t, cl, map[string]string{"rotation_admin": adminPassword, "app": appPassword})

	// The server, with the rotator allowed to connect to the cluster only.
	config := filepath.Join(dir, "rotation.json")
	rotators := fmt.Sprintf(`{"rotators":[{"name":"postgres-alternating-users","type":"postgres-alternating-users","allowedHosts":["127.0.0.1:%d"]}]}`, cl.Port)
	if err := os.WriteFile(config, []byte(rotators), 0o600); err != nil {
		t.Fatal(err)
	}
	data, addr := filepath.Join(dir, "coffer-data"), freePort(t)
	p := startCoffer(t, nil, "--data", data, "--key-file", filepath.Join(dir, "coffer-root.key"), "--listen", addr, "--rotation-config", config)
	admin := append(printedEnv(t, data), "AWS_MAX_ATTEMPTS=1")
	ep := "http://" + addr
	run := func(args ...string) map[string]any {
		t.Helper()
		out, err := cli(t, admin, bin, append([]string{"--endpoint-url", ep, "--output", "json"}, args...)...)
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args[:2], " "), err, redact(out))
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil && strings.TrimSpace(out) != "" {
			t.Fatalf("aws %s printed no JSON: %v\n%s", strings.Join(args[:2], " "), err, redact(out))
		}
		return m
	}

	// The rotators' role, as docs/rotation.md creates it.
	run("iam", "create-role", "--role-name", "coffer-rotation", "--assume-role-policy-document",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"secretsmanager.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)
	run("iam", "put-role-policy", "--role-name", "coffer-rotation", "--policy-name", "rotate", "--policy-document",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["secretsmanager:DescribeSecret","secretsmanager:GetSecretValue","secretsmanager:PutSecretValue","secretsmanager:UpdateSecretVersionStage","secretsmanager:GetRandomPassword"],"Resource":"*"}]}`)

	secretJSON := func(user, password string, extra map[string]any) string {
		v := map[string]any{"engine": "postgres", "host": "127.0.0.1", "port": cl.Port, "username": user, "password": password, "dbname": "postgres"}
		for k, x := range extra {
			v[k] = x
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	masterARN, _ := run("secretsmanager", "create-secret", "--name", "app/db-master", "--secret-string", secretJSON("rotation_admin", adminPassword, nil))["ARN"].(string)
	arnParts := strings.Split(masterARN, ":")
	if len(arnParts) < 7 || arnParts[3] != "us-east-1" {
		t.Fatalf("create-secret app/db-master: ARN %q, want one of us-east-1", masterARN)
	}
	account := arnParts[4]
	appARN, _ := run("secretsmanager", "create-secret", "--name", "app/db", "--secret-string", secretJSON("app", appPassword, map[string]any{"masterarn": masterARN}))["ARN"].(string)
	lambdaARN := "arn:aws:lambda:us-east-1:" + account + ":function:postgres-alternating-users"
	sessionARN := "arn:aws:sts::" + account + ":assumed-role/coffer-rotation/postgres-alternating-users"

	// value reads a stage of app/db and hides its password from everything printed after.
	value := func(stage, name string) map[string]any {
		t.Helper()
		s, _ := run("secretsmanager", "get-secret-value", "--secret-id", "app/db", "--version-stage", stage)["SecretString"].(string)
		var v map[string]any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatalf("%s of app/db is not JSON: %v", stage, err)
		}
		pw, _ := v["password"].(string)
		if pw == "" {
			t.Fatalf("%s of app/db has no password", stage)
		}
		known := false
		for _, h := range hidden {
			known = known || h == pw
		}
		if !known {
			hidden[name] = pw
		}
		return v
	}
	// login runs psql as user with password, over TLS, reading the app's table.
	login := func(user, password string) (string, error) {
		t.Helper()
		conn := fmt.Sprintf("host=127.0.0.1 port=%d dbname=postgres user=%s sslmode=require connect_timeout=10", cl.Port, user)
		out, err := cli(t, []string{"PGPASSWORD=" + password}, psql, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", conn, "-c", "SELECT count(*) FROM app_data")
		return redact(strings.TrimSpace(out)), err
	}
	mustLogin := func(what string, v map[string]any) {
		t.Helper()
		user, _ := v["username"].(string)
		if out, err := login(user, v["password"].(string)); err != nil || out != "3" {
			t.Errorf("psql as %s with %s: %v\n%s\nwant the table's 3 rows", user, what, err, out)
		}
	}
	mustNotLogin := func(what, user, password string) {
		t.Helper()
		if out, err := login(user, password); err == nil || !strings.Contains(out, "password authentication failed") {
			t.Errorf("psql as %s with %s: %v\n%s\nwant a refused password", user, what, err, out)
		}
	}

	// rotate runs the command and waits until its version is AWSCURRENT.
	rotate := func() string {
		t.Helper()
		token, _ := run("secretsmanager", "rotate-secret", "--secret-id", "app/db", "--rotation-lambda-arn", lambdaARN,
			"--rotation-rules", "AutomaticallyAfterDays=30")["VersionId"].(string)
		if token == "" {
			t.Fatal("rotate-secret answered no VersionId")
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			d := run("secretsmanager", "describe-secret", "--secret-id", "app/db")
			stages, _ := d["VersionIdsToStages"].(map[string]any)[token].([]any)
			if slices.Contains(stages, any("AWSCURRENT")) && !slices.Contains(stages, any("AWSPENDING")) {
				return token
			}
			if status := cofferCLI(t, admin, ep, "rotation", "status", "app/db"); strings.Contains(status, "failed by") || time.Now().After(deadline) {
				t.Fatalf("the rotation under %s did not succeed: version stages %v\n%s", token, stages, redact(status))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	began := time.Now()
	first := rotate()
	t.Logf("first rotation: %v", time.Since(began).Round(time.Millisecond))
	cur, prev := value("AWSCURRENT", "the first rotation's password"), value("AWSPREVIOUS", "AWSPREVIOUS after the first rotation")
	if cur["username"] != "app_clone" || cur["password"] == appPassword || cur["masterarn"] != masterARN || cur["port"] != float64(cl.Port) {
		t.Fatalf("AWSCURRENT after the first rotation: username %v, masterarn %v, port %v, password changed %v; want app_clone with the rest kept",
			cur["username"], cur["masterarn"], cur["port"], cur["password"] != appPassword)
	}
	if prev["username"] != "app" || prev["password"] != appPassword {
		t.Fatalf("AWSPREVIOUS after the first rotation: username %v, the first password %v; want app's first credentials", prev["username"], prev["password"] == appPassword)
	}
	mustLogin("the new AWSCURRENT", cur)
	mustNotLogin("a wrong password", "app_clone", "wrong-"+rand.Text())
	mustLogin("AWSPREVIOUS (alternating keeps it working)", prev)

	t.Run("Status", func(t *testing.T) {
		status := cofferCLI(t, admin, ep, "rotation", "status", "app/db")
		lines := strings.Split(strings.TrimSpace(status), "\n")
		if len(lines) != 5 {
			t.Fatalf("coffer rotation status printed %d lines; want one attempt and its four steps:\n%s", len(lines), redact(status))
		}
		if !strings.Contains(lines[0], "succeeded by postgres-alternating-users (RotateSecret), version "+first) {
			t.Errorf("coffer rotation status: %q; want the attempt under %s succeeded", lines[0], first)
		}
		for i, step := range []string{"createSecret", "setSecret", "testSecret", "finishSecret"} {
			if f := strings.Fields(lines[i+1]); len(f) != 3 || f[0] != step || f[2] != "ok" {
				t.Errorf("coffer rotation status, step %d: %q; want %s, its duration, ok", i+1, lines[i+1], step)
			}
		}
	})

	t.Run("DescribeSecret", func(t *testing.T) {
		d := run("secretsmanager", "describe-secret", "--secret-id", "app/db")
		rules, _ := d["RotationRules"].(map[string]any)
		if d["RotationEnabled"] != true || d["RotationLambdaARN"] != lambdaARN || rules["AutomaticallyAfterDays"] != 30.0 {
			t.Errorf("describe-secret: RotationEnabled %v, RotationLambdaARN %v, RotationRules %v", d["RotationEnabled"], d["RotationLambdaARN"], rules)
		}
		last, next := cliTime(d["LastRotatedDate"]), cliTime(d["NextRotationDate"])
		if last.Before(began.Add(-time.Second)) || last.After(time.Now()) {
			t.Errorf("LastRotatedDate %v (%v); want the rotation's time", last, d["LastRotatedDate"])
		}
		// The last second of the UTC day 30 days after the rotation.
		want := time.Date(last.UTC().Year(), last.UTC().Month(), last.UTC().Day()+31, 0, 0, 0, 0, time.UTC).Add(-time.Second)
		if !next.Equal(want) {
			t.Errorf("NextRotationDate %v (%v); want %v", next.UTC(), d["NextRotationDate"], want)
		}
	})

	t.Run("AuditTrail", func(t *testing.T) {
		byRole, _, _ := auditQuery(t, data, "--principal", "coffer-rotation")
		bySession, _, _ := auditQuery(t, data, "--principal", sessionARN)
		if len(bySession) == 0 || !slices.Equal(eventIDs(byRole), eventIDs(bySession)) {
			t.Errorf("--principal coffer-rotation found %d events, --principal %s %d; want the same, not none", len(byRole), sessionARN, len(bySession))
		}
		var readMaster bool
		calls := map[string]bool{}
		for _, e := range bySession {
			if e.UserIdentity.Type != "AssumedRole" || e.UserIdentity.ARN != sessionARN || e.RecipientAccountID != account {
				t.Errorf("%v: userIdentity %+v", e, e.UserIdentity)
			}
			if e.ErrorCode != "" || len(e.Resources) == 0 {
				continue
			}
			calls[e.EventName+" "+e.Resources[0].ARN] = true
			if e.EventName == "GetSecretValue" && e.Resources[0].ARN == masterARN && e.EventSource == "secretsmanager.amazonaws.com" {
				readMaster = true
			}
		}
		if !readMaster {
			t.Errorf("no GetSecretValue of app/db-master by %s: %v", sessionARN, bySession)
		}
		for _, c := range []string{"GetSecretValue ", "PutSecretValue ", "UpdateSecretVersionStage "} {
			if !calls[c+appARN] {
				t.Errorf("no %sof app/db by the rotator's session; its calls: %v", c, bySession)
			}
		}
		var service []string
		all, _, _ := auditQuery(t, data, "--secret", appARN)
		for _, e := range all {
			if e.EventType == "AwsServiceEvent" {
				service = append(service, e.EventName)
				if e.UserIdentity.Type != "AWSService" || e.EventSource != "secretsmanager.amazonaws.com" || len(e.Resources) != 1 || e.Resources[0].ARN != appARN {
					t.Errorf("service event %v: resources %v", e, e.Resources)
				}
			}
		}
		if want := []string{"RotationStarted", "RotationStep", "RotationStep", "RotationStep", "RotationStep", "RotationSucceeded"}; !slices.Equal(service, want) {
			t.Errorf("service events of app/db: %v; want %v", service, want)
		}
	})

	// A second rotation switches back to app; app_clone keeps working as AWSPREVIOUS.
	second := rotate()
	cur2, prev2 := value("AWSCURRENT", "the second rotation's password"), value("AWSPREVIOUS", "AWSPREVIOUS after the second rotation")
	if second == first || cur2["username"] != "app" || prev2["username"] != "app_clone" || prev2["password"] != cur["password"] || cur2["password"] == appPassword {
		t.Fatalf("after the second rotation: AWSCURRENT %v, AWSPREVIOUS %v; want app with a new password, then app_clone", cur2["username"], prev2["username"])
	}
	mustLogin("the second AWSCURRENT", cur2)
	mustLogin("AWSPREVIOUS, the first rotation's", prev2)
	mustNotLogin("its first password", "app", appPassword)
	if status := cofferCLI(t, admin, ep, "rotation", "status", "app/db"); strings.Count(status, "succeeded by postgres-alternating-users (RotateSecret)") != 2 {
		t.Errorf("coffer rotation status after two rotations:\n%s", redact(status))
	}

	// No password in the server's log or the audit files, read after a clean stop.
	p.stop()
	files, err := filepath.Glob(filepath.Join(data, "audit", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no audit file: %v", err)
	}
	texts := map[string]string{"the server's log": p.out.String()}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		texts["audit file "+filepath.Base(f)] = string(b)
	}
	for where, text := range texts {
		for what, pw := range hidden {
			if strings.Contains(text, pw) {
				t.Errorf("%s holds %s", where, what)
			}
		}
	}
}

// setPasswords gives roles their passwords as the cluster's superuser. Unlike Cluster.Exec,
// a failure does not print the statement, which holds the password.
func setPasswords(t *testing.T, cl *pgcluster.Cluster, passwords map[string]string) {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=127.0.0.1 port=%d dbname=postgres user=postgres sslmode=disable", cl.Port))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Password = cl.Super
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for role, pw := range passwords {
		// rand.Text's alphabet needs no quoting; the check keeps the literal sound anyway.
		if strings.ContainsAny(pw, `'\`) {
			t.Fatalf("the password of %s needs quoting", role)
		}
		if _, err := conn.Exec(ctx, "ALTER ROLE "+pgx.Identifier{role}.Sanitize()+" PASSWORD '"+pw+"'"); err != nil {
			t.Fatalf("setting the password of %s failed", role)
		}
	}
}

// cliTime reads a timestamp the AWS CLI printed: v1 prints the wire's epoch seconds, v2 an
// ISO 8601 string.
func cliTime(v any) time.Time {
	switch x := v.(type) {
	case float64:
		sec := int64(x)
		return time.Unix(sec, int64((x-float64(sec))*1e9))
	case string:
		t, _ := time.Parse(time.RFC3339Nano, x)
		return t
	}
	return time.Time{}
}
