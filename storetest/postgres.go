package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresEnv names the environment variable that holds the DSN of the PostgreSQL server
// tests use. The DSN may use the postgres:// or postgresql:// scheme, or be in key=value form.
const PostgresEnv = "COFFER_TEST_POSTGRES"

// DefaultPostgresDSN is the server tests use when PostgresEnv is not set.
const DefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresDSN returns a DSN to a fresh, empty schema of the test PostgreSQL server, selected
// through search_path, and drops the schema with everything in it when the test ends. Each
// call gets its own schema, so tests of several packages can share one server and run in
// parallel.
//
// When the server cannot be reached the test is skipped, with the reason logged, unless the
// environment variable CI is "true": then it fails, so that a CI run never passes by skipping.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		base = DefaultPostgresDSN
	}
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		tb.Fatalf("storetest: %s: invalid DSN: %v", PostgresEnv, err)
	}
	where := fmt.Sprintf("%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("storetest: PostgreSQL at %s is unreachable and CI=true: %v", where, err)
		}
		tb.Skipf("storetest: skipping, PostgreSQL at %s is unreachable (set %s to use another server): %v", where, PostgresEnv, err)
	}
	defer conn.Close(ctx)

	schema := "coffer_test_" + randomHex(8)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		tb.Fatalf("storetest: create schema on %s: %v", where, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			tb.Errorf("storetest: drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("storetest: drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(base, schema)
}

// withSearchPath returns dsn with its search_path set to schema, in whichever form dsn uses.
func withSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	// The schema name is generated: lower-case letters, digits and underscores need no quoting.
	return dsn + " search_path=" + schema
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
