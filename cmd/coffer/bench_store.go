package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
)

// benchDatabase makes a throwaway database on the PostgreSQL server that spec (a postgres://
// URL) names, so that a run starts empty under its own root key, and returns its URL and a
// function that drops it. A spec of "sqlite" needs none: it returns spec and a no-op.
func benchDatabase(ctx context.Context, spec string) (string, func(), error) {
	if spec == "sqlite" {
		return spec, func() {}, nil
	}
	if !strings.HasPrefix(spec, "postgres://") && !strings.HasPrefix(spec, "postgresql://") {
		return "", nil, fmt.Errorf("bench: --store must be sqlite or a postgres:// URL")
	}
	u, err := url.Parse(spec)
	if err != nil {
		return "", nil, fmt.Errorf("bench: --store: %w", err)
	}
	admin := adminURL(u)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("bench: --store: %w", err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	name := "coffer_bench_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("bench: create database %s: %w", name, err)
	}
	u.Path = "/" + name
	drop := func() {
		ctx := context.Background()
		if c, err := pgx.Connect(ctx, admin); err == nil {
			c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(ctx)
		}
	}
	return u.String(), drop, nil
}

// adminURL is u without the parameters of pgx's connection pool (pool_max_conns, …), which
// the server coffer starts reads, and which a single connection, as the one that creates and
// drops the database, refuses.
func adminURL(u *url.URL) string {
	a := *u
	q := a.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") {
			q.Del(k)
		}
	}
	a.RawQuery = q.Encode()
	return a.String()
}
