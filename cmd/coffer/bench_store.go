package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
)

// benchDB is the throwaway database of a PostgreSQL --store.
type benchDB struct {
	url  string
	drop func()
	// server is the PostgreSQL server's process (the postmaster) when it runs on this
	// machine, whose CPU time, its backends' and background workers' included, the runs
	// measure; 0 when it does not, or cannot be found (why: serverNote).
	server     int
	serverNote string
}

// benchDatabase makes a throwaway database on the PostgreSQL server that spec (a postgres://
// URL) names, so that a run starts empty under its own root key, and returns its URL and a
// function that drops it. A spec of "sqlite" needs none: it returns spec and a no-op.
func benchDatabase(ctx context.Context, spec string) (*benchDB, error) {
	if spec == "sqlite" {
		return &benchDB{url: spec, drop: func() {}}, nil
	}
	if !strings.HasPrefix(spec, "postgres://") && !strings.HasPrefix(spec, "postgresql://") {
		return nil, fmt.Errorf("bench: --store must be sqlite or a postgres:// URL")
	}
	u, err := url.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("bench: --store: %w", err)
	}
	admin := adminURL(u)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, fmt.Errorf("bench: --store: %w", err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	name := "coffer_bench_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return nil, fmt.Errorf("bench: create database %s: %w", name, err)
	}
	db := &benchDB{}
	db.server, db.serverNote = postgresServer(ctx, conn)
	u.Path = "/" + name
	db.url = u.String()
	db.drop = func() {
		ctx := context.Background()
		if c, err := pgx.Connect(ctx, admin); err == nil {
			c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(ctx)
		}
	}
	return db, nil
}

// onThisMachine reports whether a connection to host stays on this machine: a Unix socket's
// directory, localhost or a loopback address.
func onThisMachine(host string) bool {
	ip := net.ParseIP(host)
	return strings.HasPrefix(host, "/") || host == "localhost" || ip != nil && ip.IsLoopback()
}

// postgresServer finds the process of the PostgreSQL server conn is connected to, when that
// server runs on this machine: conn must have come over loopback or a Unix socket, and its
// backend's process must be a child of a process named postgres. It returns 0 and why not
// otherwise.
func postgresServer(ctx context.Context, conn *pgx.Conn) (int, string) {
	if host := conn.Config().Host; !onThisMachine(host) {
		return 0, fmt.Sprintf("its server, on %s, is not on this machine", host)
	}
	var backend int
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		return 0, fmt.Sprintf("its backend's process is unknown: %v", err)
	}
	pm, err := postmasterOf(backend)
	if err != nil {
		return 0, err.Error()
	}
	return pm, ""
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
