package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"

	"github.com/coffer-project/coffer"
)

const jsonCT = "application/x-amz-json-1.1"

// TestAuthenticationFailuresTouchNothing sends PutSecretValue requests that fail
// authentication and checks AWS's error code for each and that the value did not change.
func testAuthenticationFailuresTouchNothing(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	c := s.client("us-east-1")
	ctx := context.Background()
	must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("guarded"), SecretString: aws.String("original")})).get(t)
	body := []byte(`{"SecretId":"guarded","SecretString":"changed","ClientRequestToken":"dddddddd-dddd-4ddd-8ddd-dddddddddddd"}`)
	wrongSecret := aws.Credentials{AccessKeyID: s.Creds.AccessKeyID, SecretAccessKey: "wrong" + s.Creds.SecretAccessKey[5:]}
	unknownKey := aws.Credentials{AccessKeyID: "AKIAUNKNOWNUNKNOWN00", SecretAccessKey: s.Creds.SecretAccessKey}
	tests := []struct {
		name   string
		creds  aws.Credentials
		at     time.Time
		mutate func(*http.Request)
		code   string
	}{
		{"wrong secret key", wrongSecret, time.Now(), nil, "InvalidSignatureException"},
		{"unknown key id", unknownKey, time.Now(), nil, "UnrecognizedClientException"},
		{"body changed after signing", s.Creds, time.Now(), func(r *http.Request) {
			b := bytes.Replace(body, []byte("changed"), []byte("CHANGED"), 1)
			r.Body = io.NopCloser(bytes.NewReader(b))
		}, "InvalidSignatureException"},
		{"20 minutes old", s.Creds, time.Now().Add(-20 * time.Minute), nil, "InvalidSignatureException"},
		{"20 minutes ahead", s.Creds, time.Now().Add(20 * time.Minute), nil, "InvalidSignatureException"},
		{"no signature", s.Creds, time.Now(), func(r *http.Request) { r.Header.Del("Authorization") }, "MissingAuthenticationTokenException"},
		{"malformed signature", s.Creds, time.Now(), func(r *http.Request) { r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x") }, "IncompleteSignatureException"},
		{"target changed after signing", s.Creds, time.Now(), func(r *http.Request) { r.Header.Set("X-Amz-Target", "secretsmanager.DeleteSecret") }, "InvalidSignatureException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, m := s.rawCall(t, "secretsmanager.PutSecretValue", jsonCT, body, tt.at, tt.creds, tt.mutate)
			if status != http.StatusBadRequest || m["__type"] != tt.code {
				t.Fatalf("got %d %v, want 400 %s", status, m, tt.code)
			}
			if _, ok := m["message"].(string); !ok {
				t.Fatalf("auth error without a lower-case message: %v", m)
			}
		})
	}
	v := must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("guarded")})).get(t)
	if *v.SecretString != "original" {
		t.Fatalf("a refused request changed the value")
	}
	d := must(c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("guarded")})).get(t)
	if len(d.VersionIdsToStages) != 1 {
		t.Fatalf("a refused request added a version: %v", d.VersionIdsToStages)
	}
}

func testProtocolErrors(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	tests := []struct {
		name, target, ct string
		body             []byte
		status           int
		code             string
	}{
		{"unknown operation", "secretsmanager.Frobnicate", jsonCT, []byte(`{}`), 400, "UnknownOperationException"},
		{"no target", "", jsonCT, []byte(`{}`), 400, "UnknownOperationException"},
		{"other service", "sts.GetCallerIdentity", jsonCT, []byte(`{}`), 400, "UnknownOperationException"},
		{"KMS target signed for secretsmanager", "TrentService.ListKeys", jsonCT, []byte(`{}`), 400, "InvalidSignatureException"},
		{"not yet served", "secretsmanager.ReplicateSecretToRegions", jsonCT, []byte(`{"SecretId":"x"}`), 400, "InvalidRequestException"},
		{"malformed JSON", "secretsmanager.GetSecretValue", jsonCT, []byte(`{"SecretId":`), 400, "SerializationException"},
		{"wrong member type", "secretsmanager.GetSecretValue", jsonCT, []byte(`{"SecretId":7}`), 400, "SerializationException"},
		{"wrong content type", "secretsmanager.GetSecretValue", "text/plain", []byte(`{"SecretId":"x"}`), 400, "SerializationException"},
		{"missing required member", "secretsmanager.GetSecretValue", jsonCT, []byte(`{}`), 400, "ValidationException"},
		{"body over 1 MiB", "secretsmanager.CreateSecret", jsonCT, bytes.Repeat([]byte(" "), 1<<20+1), 413, "RequestEntityTooLargeException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, m := s.rawCall(t, tt.target, tt.ct, tt.body, time.Now(), s.Creds, nil)
			if status != tt.status || m["__type"] != tt.code {
				t.Fatalf("got %d %v, want %d %s", status, m, tt.status, tt.code)
			}
		})
	}
}

func testHealthWithoutAuthentication(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(s.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok\n" {
			t.Fatalf("%s: %d %q", p, resp.StatusCode, b)
		}
	}
}

// TestNoValueAtRest writes secrets whose values are unique random markers and then checks that
// no byte of the data directory (database, WAL, server log) holds any of them, in plain form,
// hex or base64 of the string form.
func testNoValueAtRest(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	c := s.client("us-east-1")
	ctx := context.Background()
	var markers []string
	marker := func() string {
		b := make([]byte, 12)
		rand.Read(b)
		m := "MARKER" + hex.EncodeToString(b)
		markers = append(markers, m)
		return m
	}
	for i := range 20 {
		name := "marked/" + string(rune('a'+i))
		must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(marker())})).get(t)
		must(c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String(name), SecretBinary: []byte(marker())})).get(t)
		must(c.UpdateSecret(ctx, &sm.UpdateSecretInput{SecretId: aws.String(name), SecretString: aws.String(`{"password":"` + marker() + `"}`)})).get(t)
		must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(name), VersionStage: aws.String("AWSPREVIOUS")})).get(t)
		must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(name)})).get(t)
	}
	// A refused retry with a different value must not leave it anywhere either.
	_, err := c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("marked/a"), SecretString: aws.String(marker()), ClientRequestToken: aws.String(tokenA)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("marked/a"), SecretString: aws.String(marker()), ClientRequestToken: aws.String(tokenA)})
	wantErr(t, err, "ResourceExistsException", "")

	holds := func(b []byte) bool {
		for _, m := range markers {
			if bytes.Contains(b, []byte(m)) || bytes.Contains(b, []byte(hex.EncodeToString([]byte(m)))) || bytes.Contains(b, []byte(m[6:18])) {
				return true
			}
		}
		return false
	}
	files := 0
	err = filepath.WalkDir(s.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		if holds(b) {
			t.Errorf("%s holds a secret value", filepath.Base(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.DSN == "" && files < 2 {
		t.Fatalf("scanned only %d files", files)
	}
	if s.DSN != "" {
		// On PostgreSQL the rows are the data at rest: read every table of the schema as text
		// (bytea renders as hex, which holds() also looks for).
		dump := pgDump(t, s.DSN)
		if len(dump) < 1000 || !bytes.Contains(dump, []byte("marked/a")) {
			t.Fatalf("the PostgreSQL dump (%d bytes) does not hold the secrets' rows", len(dump))
		}
		if holds(dump) {
			t.Error("a PostgreSQL table holds a secret value")
		}
	}
	if st, err := os.Stat(filepath.Join(s.Dir, "server.log")); err != nil || st.Size() == 0 {
		t.Fatalf("the server log is empty, so the scan proves nothing about logs: %v", err)
	}
}

// pgDump returns every row of every table in the DSN's schema, as text.
func pgDump(t *testing.T, dsn string) []byte {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, tbl := range tables {
		var text *string
		q := "SELECT string_agg(t::text, E'\\n') FROM " + pgx.Identifier{tbl}.Sanitize() + " t"
		if err := conn.QueryRow(ctx, q).Scan(&text); err != nil {
			t.Fatal(err)
		}
		if text != nil {
			out.WriteString(*text + "\n")
		}
	}
	return out.Bytes()
}

// TestSwappedCiphertextFails copies one version's sealed value onto another secret's version
// and onto another version of the same secret: both fail to decrypt.
func testSwappedCiphertextFails(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	c := s.client("us-east-1")
	ctx := context.Background()
	a := must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("a"), SecretString: aws.String("value-a"), ClientRequestToken: aws.String(tokenA)})).get(t)
	b := must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("b"), SecretString: aws.String("value-b"), ClientRequestToken: aws.String(tokenB)})).get(t)
	must(c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("a"), SecretString: aws.String("value-a2"), ClientRequestToken: aws.String(tokenC)})).get(t)

	copySealed := func(fromARN, fromID, toARN, toID string) {
		err := s.Store.Update(ctx, func(tx coffer.Tx) error {
			from, err := tx.Version(fromARN, fromID)
			if err != nil {
				return err
			}
			to, err := tx.Version(toARN, toID)
			if err != nil {
				return err
			}
			to.WrappedKey, to.Ciphertext, to.KMSKeyID = from.WrappedKey, from.Ciphertext, from.KMSKeyID
			return tx.UpdateVersion(to)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	copySealed(*a.ARN, tokenA, *b.ARN, tokenB)
	_, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("b")})
	wantErr(t, err, "DecryptionFailure", "Secrets Manager can't decrypt the protected secret text using the provided KMS key.")
	copySealed(*a.ARN, tokenA, *a.ARN, tokenC)
	_, err = c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("a")})
	wantErr(t, err, "DecryptionFailure", "")
	// The untouched original still opens.
	v := must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("a"), VersionId: aws.String(tokenA)})).get(t)
	if *v.SecretString != "value-a" {
		t.Fatal("original changed")
	}
	if log, _ := os.ReadFile(filepath.Join(s.Dir, "server.log")); strings.Contains(string(log), "value-a") {
		t.Fatal("the log holds a value")
	}
}
