package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/coffer-project/coffer/keyring"
	"github.com/coffer-project/coffer/storetest"
)

// TestMain runs the test binary as coffer when coffer bench, under test, starts it as its
// child (os.Executable is the test binary then).
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "bench" && os.Args[2] == "--serve" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startBenchServer serves, in this process, a coffer server wired as the bench's child
// server, on a fresh temporary data directory: for the tests of the verbs that call one.
func startBenchServer(ctx context.Context, region string) (string, aws.Credentials, func(), error) {
	dir, err := os.MkdirTemp("", "coffer-test-")
	if err != nil {
		return "", aws.Credentials{}, nil, err
	}
	fail := func(err error) (string, aws.Credentials, func(), error) {
		os.RemoveAll(dir)
		return "", aws.Credentials{}, nil, err
	}
	root, err := keyring.NewRootKey()
	if err != nil {
		return fail(err)
	}
	keyFile, data := filepath.Join(dir, "root.key"), filepath.Join(dir, "data")
	if err := keyring.WriteRootKey(keyFile, root); err != nil {
		return fail(err)
	}
	if err := os.Mkdir(data, 0o700); err != nil {
		return fail(err)
	}
	srv, err := openBenchServer(ctx, data, keyFile, region, "sqlite")
	if err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.close()
		return fail(err)
	}
	hs := &http.Server{Handler: srv.handler, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	stop := func() {
		hs.Close()
		srv.close()
		os.RemoveAll(dir)
	}
	return ln.Addr().String(), aws.Credentials{AccessKeyID: srv.accessKeyID, SecretAccessKey: srv.secretAccessKey}, stop, nil
}

// runBenchCmd runs `coffer bench ARGS…` and returns its output.
func runBenchCmd(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), append([]string{"bench"}, args...), &out, &out); err != nil {
		t.Fatalf("coffer bench %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// Rows of the plain tables: conns, run, then the target's req/s, three latencies, its errors
// and its CPU per call (the server's, the load generator's), then (with a baseline) the same
// for the baseline and the three ratios.
var (
	targetCells   = `\s+(\d[\d,]*)\s+\d+\.\d{3}ms\s+\d+\.\d{3}ms\s+\d+\.\d{3}ms\s+(\d+)\s+(\d+µs|-)\s+(\d+µs|-)`
	benchRow      = regexp.MustCompile(`(?m)^\s*(\d+)\s+(\d+|median)` + targetCells + targetCells + `\s+\d+\.\d\d\s+\d+\.\d\d×\s+\d+\.\d\d×$`)
	cpuCell       = regexp.MustCompile(`^[1-9]\d*µs$`)
	benchChildren = regexp.MustCompile(`(?m)^child processes stopped: (.+)$`)
	childPID      = regexp.MustCompile(`(\d+) \(([^)]+)\)`)
	nextSection   = regexp.MustCompile(`\n\n(get|get random|list|put|coffer child|child processes)[: ]`)
)

// checkSeries checks that out holds, for the series titled series, a run row and a median
// row for each connection count, with calls answered and no error, on both sides.
func checkSeries(t *testing.T, out, series string, conns ...int) {
	t.Helper()
	start := strings.Index(out, "\n"+series+": ")
	if start < 0 {
		t.Fatalf("no %s series:\n%s", series, out)
	}
	section := out[start+1:]
	if end := nextSection.FindStringIndex(section); end != nil {
		section = section[:end[0]]
	}
	rows := benchRow.FindAllStringSubmatch(section, -1)
	if len(rows) != 2*len(conns) {
		t.Fatalf("%s: %d rows, want %d:\n%s", series, len(rows), 2*len(conns), out)
	}
	for i, row := range rows {
		wantRun := "1"
		if i%2 == 1 {
			wantRun = "median"
		}
		if row[1] != strconv.Itoa(conns[i/2]) || row[2] != wantRun {
			t.Errorf("%s: row %d is %q, want %d connections, run %s", series, i, row[0], conns[i/2], wantRun)
		}
		if row[3] == "0" || row[7] == "0" || row[4] != "0" || row[8] != "0" {
			t.Errorf("%s: row %q: no call answered, or errors", series, row[0])
		}
		// The CPU time of both servers and of the load generator, per call, measured where
		// /proc is.
		if runtime.GOOS == "linux" {
			for _, c := range []string{row[5], row[6], row[9], row[10]} {
				if !cpuCell.MatchString(c) {
					t.Errorf("%s: row %q: a CPU time per call is %q, want a number of µs", series, row[0], c)
				}
			}
		}
	}
}

// checkChildrenGone checks that out names the children it started, want of them at least,
// and that none is alive.
func checkChildrenGone(t *testing.T, out string, want ...string) {
	t.Helper()
	m := benchChildren.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no child processes line:\n%s", out)
	}
	seen := map[string]bool{}
	for _, c := range childPID.FindAllStringSubmatch(m[1], -1) {
		pid, _ := strconv.Atoi(c[1])
		seen[c[2]] = true
		if p, err := os.FindProcess(pid); err == nil && p.Signal(syscall.Signal(0)) == nil {
			t.Errorf("child %s (pid %d) is still alive", c[2], pid)
		}
	}
	for _, name := range want {
		if !seen[name] {
			t.Errorf("no %s child in %q", name, m[1])
		}
	}
}

// TestBenchGet runs a short get bench against its child server and bare baseline, and checks
// the rows, the start-to-ready and memory lines, and that the children are gone. It asserts
// on shape, never on speed.
func TestBenchGet(t *testing.T) {
	out := runBenchCmd(t, "--baseline", "--duration", "300ms", "--warmup", "0", "--connections", "2,1", "--size", "512")
	checkSeries(t, out, "get", 2, 1)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`coffer: server in a child process \(pid \d+, .*start to ready: ready line \d+\.\d{3}ms after exec, /readyz 200 after \d+\.\d{3}ms`),
		regexp.MustCompile(`a 512-byte value when missing\); a \d+-byte response`),
		regexp.MustCompile(`coffer child: peak resident memory (\(VmHWM\) \d+\.\d MiB|unknown)`),
	} {
		if !want.MatchString(out) {
			t.Errorf("no match for %s in:\n%s", want, out)
		}
	}
	checkChildrenGone(t, out, "coffer", "baseline get")
}

// TestBenchDescribe runs a short describe bench against its child server and bare baseline.
func TestBenchDescribe(t *testing.T) {
	out := runBenchCmd(t, "--op", "describe", "--baseline", "--duration", "300ms", "--warmup", "0", "--connections", "2")
	checkSeries(t, out, "describe", 2)
	if want := regexp.MustCompile(`DescribeSecret of "bench/secret" \(created with a 1024-byte value when missing\); a \d+-byte response`); !want.MatchString(out) {
		t.Errorf("no match for %s in:\n%s", want, out)
	}
	checkChildrenGone(t, out, "coffer", "baseline describe")
}

// TestBenchPut runs a short put bench against its SQLite baseline.
func TestBenchPut(t *testing.T) {
	checkWriteBench(t, "put", "PutSecretValue of a 400-byte value")
}

// TestBenchCreate runs a short create bench (a new secret per call) against the same
// baseline.
func TestBenchCreate(t *testing.T) {
	checkWriteBench(t, "create", "CreateSecret of a new secret (bench/create/")
}

// TestBenchPutOneSecret runs a short put bench with every connection writing one secret.
func TestBenchPutOneSecret(t *testing.T) {
	checkWriteBench(t, "put", "PutSecretValue of a 400-byte value, every connection to one secret (bench/hot, keeping", "--secret-id", "bench/hot")
}

// checkWriteBench runs op, a write, with 2 then 1 connections against the SQLite loop, and
// checks that both sides wrote, without errors, and that the series says describe.
func checkWriteBench(t *testing.T, op, describe string, args ...string) {
	t.Helper()
	out := runBenchCmd(t, append([]string{"--op", op, "--duration", "300ms", "--warmup", "0", "--connections", "2,1", "--markdown"}, args...)...)
	for _, want := range []string{
		describe,
		"| conns | run | coffer req/s | p50 | p99 | p99.9 | errors | cpu/req | gen cpu/req | sqlite inserts/s | p50 | p99 | p99.9 | errors | cpu/req | gen cpu/req | ratio | p50 × | p99 × |",
		"ratio = coffer ÷ sqlite throughput",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	row := regexp.MustCompile(`(?m)^\| (\d+) \| (\d+|median) \| ([\d,]+) \|.* \| (\d+) \| (\d+µs|-) \| (\d+µs|-) \| ([\d,]+) \|.* \| (\d+) \| (\d+µs|-) \| (-) \| \d+\.\d\d \| .*× \|$`)
	rows := row.FindAllStringSubmatch(out, -1)
	if len(rows) != 4 {
		t.Fatalf("%d markdown rows, want 4:\n%s", len(rows), out)
	}
	for _, r := range rows {
		if r[3] == "0" || r[7] == "0" || r[4] != "0" || r[8] != "0" {
			t.Errorf("row %q: nothing written, or errors", r[0])
		}
		// The server's and the load generator's CPU per call, the SQLite loop's per insert
		// (the loop has no load generator of its own).
		if runtime.GOOS == "linux" {
			for _, c := range []string{r[5], r[6], r[9]} {
				if !cpuCell.MatchString(c) {
					t.Errorf("row %q: a CPU time per call is %q, want a number of µs", r[0], c)
				}
			}
		}
	}
	// The server's writer over each run, from its /metrics.
	if !writerNoteLine.MatchString(out) {
		t.Errorf("no writer line like %s in:\n%s", writerNoteLine, out)
	}
	checkChildrenGone(t, out, "coffer", "sqlite")
}

// writerNoteLine is the line after a write series on a SQLite server, for 2 then 1
// connections.
var writerNoteLine = regexp.MustCompile(`(?m)^writer: the store's single writer \(.*\), over each run's measured time: held for 2 conns run 1 \d+ %, \d+\.\d write transactions a commit, \d+\.\d{3} ms a commit \(its fsync included\), a transaction waited \d+\.\d{3} ms for its turn and \d+\.\d{3} ms for its commit; 1 conn run 1 \d+ %, \d+\.\d write transactions a commit, \d+\.\d{3} ms a commit \(its fsync included\), a transaction waited \d+\.\d{3} ms for its turn and \d+\.\d{3} ms for its commit$`)

// TestBenchWriterCounters: the four counters are read from /metrics text only when all four
// are there, and the note divides them as it says.
func TestBenchWriterCounters(t *testing.T) {
	m := "# HELP x\ncoffer_audit_healthy 1\ncoffer_store_writer_updates_total 80\ncoffer_store_writer_commits_total 10\n" +
		"coffer_store_writer_busy_seconds_total 1.5\ncoffer_store_writer_commit_seconds_total 0.25\n" +
		"coffer_store_writer_turn_wait_seconds_total 0.4\ncoffer_store_writer_commit_wait_seconds_total 0.8\n"
	c, ok := parseWriterCounters(m)
	if !ok || c != (writerCounters{80, 10, 1.5, 0.25, 0.4, 0.8}) {
		t.Fatalf("parsed %+v, %v", c, ok)
	}
	if _, ok := parseWriterCounters(strings.Replace(m, "coffer_store_writer_commits_total 10\n", "", 1)); ok {
		t.Error("three counters of four accepted")
	}
	if _, ok := parseWriterCounters(strings.Replace(m, " 80", " x", 1)); ok {
		t.Error("a counter that is not a number accepted")
	}
	d := c.sub(writerCounters{40, 5, 0.5, 0.05, 0.2, 0.4})
	got := writerNote([]writerRun{{conns: 16, run: 1, elapsed: 2 * time.Second, writerCounters: d}, {conns: 1, run: 2, elapsed: time.Second}})
	want := "writer: the store's single writer (the calls' writes, and the background's: access marks, audit intents), over each run's measured time: held for 16 conns run 1 50 %, 8.0 write transactions a commit, 40.000 ms a commit (its fsync included), a transaction waited 5.000 ms for its turn and 10.000 ms for its commit; 1 conn run 2 0 %, no commit"
	if got != want {
		t.Errorf("note:\n%s\nwant\n%s", got, want)
	}
}

// TestBenchPopulate populates a kept data directory, runs get (one secret, then random
// ones) and list on it, and then the list op again on the same directory, which it does not
// populate again.
func TestBenchPopulate(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	args := []string{"--duration", "300ms", "--warmup", "0", "--connections", "2,1", "--data", data, "--populate", "200", "--list-filter", "bench/pop/0000001"}
	out := runBenchCmd(t, args...)
	for _, want := range []string{"populate: 200/200 (100 %)", "populate: 200 secrets created in "} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	checkSeries(t, out, "get", 2, 1)
	checkSeries(t, out, "get random", 2, 1)
	checkSeries(t, out, "list", 2, 1)
	checkPageCacheNotes(t, out, "read into it before each run", 3)
	if !strings.Contains(out, "100 secrets on the page") {
		t.Errorf("the list's first page does not hold 100 secrets:\n%s", out)
	}
	checkChildrenGone(t, out, "coffer", "baseline get", "baseline get random", "baseline list")
	if st, err := os.Stat(data + ".root-key"); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("root key file beside the data: %v, %v", st, err)
	}

	// A working set: a random one of the first 20 only, and no other get series.
	out = runBenchCmd(t, append(args, "--secret-id", "random:20", "--connections", "2")...)
	if !strings.Contains(out, "GetSecretValue of a random one of the first 20 of the 200 bench/pop/ secrets per call") {
		t.Errorf("no working set of 20 in:\n%s", out)
	}
	checkSeries(t, out, "get random", 2)
	if strings.Contains(out, "\nget: ") {
		t.Errorf("a get series of one secret beside the random one:\n%s", out)
	}
	seen := map[string]bool{}
	for w := randomGetWorkload(200, 20); len(seen) < 20; {
		var in struct{ SecretId string }
		if err := json.Unmarshal(w.body(0), &in); err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(strings.TrimPrefix(in.SecretId, "bench/pop/"))
		if err != nil || n >= 20 {
			t.Fatalf("random:20 read %q", in.SecretId)
		}
		seen[in.SecretId] = true
	}
	if f, err := parseBenchFlags([]string{"--populate", "200", "--secret-id", "random:20"}, &bytes.Buffer{}); err != nil {
		t.Errorf("random:20: %v", err)
	} else if ws := (&bench{f: f}).plan(); len(ws) != 2 || ws[0].name != "get random" || ws[1].name != "list" {
		t.Errorf("random:20 plans %d series, want get random and list", len(ws))
	}

	out = runBenchCmd(t, append(args, "--op", "list", "--list-sort", "last-changed-date", "--page-cache", "as-is")...)
	checkPageCacheNotes(t, out, "left as it was (--page-cache as-is)", 1)
	if !strings.Contains(out, "holds 200 bench/pop/ secrets already") || strings.Contains(out, "created in") {
		t.Errorf("populated again:\n%s", out)
	}
	for _, want := range []string{`name filter "bench/pop/0000001", sorted by last-changed-date`, "100 secrets on the page"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	checkSeries(t, out, "list", 2, 1)
	checkChildrenGone(t, out, "coffer", "baseline list")
}

// TestBenchFlags checks that settings that cannot measure are refused before anything starts.
func TestBenchFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--size", "0"},
		{"--connections", "0"},
		{"--connections", "2,x"},
		{"--workers", "2,1"},
		{"--runs", "0"},
		{"--op", "delete"},
		{"--secret-id", "random"},
		{"--secret-id", "random:10"},
		{"--populate", "10", "--secret-id", "random:0"},
		{"--populate", "10", "--secret-id", "random:11"},
		{"--populate", "10", "--secret-id", "random:x"},
		{"--populate", "10", "--op", "describe", "--secret-id", "random:5"},
		{"--endpoint", "http://127.0.0.1:1", "--populate", "10"},
		{"--op", "create", "--endpoint", "http://127.0.0.1:1"},
		{"--op", "create", "--baseline-endpoint", "http://127.0.0.1:1"},
		{"--op", "create", "--data", "/tmp/kept"},
		{"--op", "create", "--secret-id", "x"},
		{"--op", "list", "--secret-id", "x"},
		{"--op", "list", "--list-sort", "size"},
		{"--op", "get", "--list-sort", "name"},
		{"--page-cache", "cold"},
	} {
		var out bytes.Buffer
		if err := run(context.Background(), append([]string{"bench"}, args...), &out, &out); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	f, err := parseBenchFlags([]string{"--workers", "3", "--op", "put"}, &bytes.Buffer{})
	if err != nil || f.connections.String() != "3" || f.size != defaultPutSize || !f.baseline {
		t.Errorf("--workers 3 --op put: %+v, %v", f, err)
	}
	if f, err := parseBenchFlags([]string{"--op", "create"}, &bytes.Buffer{}); err != nil || f.size != defaultPutSize {
		t.Errorf("--op create: %+v, %v", f, err)
	}
}

// TestBenchAdminURL: the connection that creates and drops bench's database goes without the
// pool's parameters, which a single connection refuses, and keeps the others.
func TestBenchAdminURL(t *testing.T) {
	u, err := url.Parse("postgres://bench@db.example:5432/test?sslmode=disable&pool_max_conns=16&pool_min_conns=2&search_path=coffer")
	if err != nil {
		t.Fatal(err)
	}
	got, err := url.Parse(adminURL(u))
	if err != nil {
		t.Fatal(err)
	}
	q := got.Query()
	if q.Has("pool_max_conns") || q.Has("pool_min_conns") {
		t.Errorf("adminURL kept the pool's parameters: %s", got)
	}
	if q.Get("sslmode") != "disable" || q.Get("search_path") != "coffer" || got.Host != "db.example:5432" || got.Path != "/test" {
		t.Errorf("adminURL lost something else: %s", got)
	}
	if !u.Query().Has("pool_max_conns") {
		t.Error("adminURL changed the URL it was given")
	}
}

// TestBenchPostgres runs short get and put benches on a throwaway database of the test
// PostgreSQL server (skipped, with the reason, when none is reachable, unless CI=true): the
// rows, no errors, and, the server being on this machine, its CPU time per call.
func TestBenchPostgres(t *testing.T) {
	dsn := storetest.PostgresDSN(t) // skips or fails as the other PostgreSQL tests do
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s must be a postgres:// URL under CI=true: coffer bench --store takes only URLs", storetest.PostgresEnv)
		}
		t.Skipf("skipping: %s is not a postgres:// URL, which coffer bench --store needs", storetest.PostgresEnv)
	}
	q := u.Query()
	q.Del("search_path") // the bench makes a database of its own
	u.RawQuery = q.Encode()
	local := onThisMachine(u.Hostname()) && runtime.GOOS == "linux"
	row := regexp.MustCompile(`(?m)^\| 2 \| (1|median) \| ([\d,]+) \| [^|]+ \| [^|]+ \| [^|]+ \| (\d+) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$`)
	for _, op := range []string{"get", "put"} {
		out := runBenchCmd(t, "--store", u.String(), "--op", op, "--baseline=false", "--duration", "300ms", "--warmup", "0", "--connections", "2", "--markdown")
		if !strings.Contains(out, "PostgreSQL, durable audit") {
			t.Errorf("%s: the server's store is not named PostgreSQL:\n%s", op, out)
		}
		if !local {
			if !strings.Contains(out, "database: PostgreSQL's CPU time is not measured: ") {
				t.Errorf("%s: no note that the database's CPU is not measured:\n%s", op, out)
			}
			continue
		}
		if !regexp.MustCompile(`database: PostgreSQL's server process is pid [1-9]\d* on this machine`).MatchString(out) ||
			!strings.Contains(out, "| gen cpu/req | db cpu/req |") {
			t.Fatalf("%s: no database server measured:\n%s", op, out)
		}
		rows := row.FindAllStringSubmatch(out, -1)
		if len(rows) != 2 {
			t.Fatalf("%s: %d rows, want 2:\n%s", op, len(rows), out)
		}
		for _, r := range rows {
			if r[2] == "0" || r[3] != "0" {
				t.Errorf("%s: row %q: no call answered, or errors", op, r[0])
			}
			for _, c := range r[4:7] {
				if !cpuCell.MatchString(c) {
					t.Errorf("%s: row %q: a CPU time per call is %q, want a number of µs", op, r[0], c)
				}
			}
		}
		checkChildrenGone(t, out, "coffer")
	}
}

// TestBenchTreeCPU: a process's CPU time with its children's is at least its own, a process
// that is not PostgreSQL's has no postmaster, and only loopback hosts and Unix sockets are on
// this machine.
func TestBenchTreeCPU(t *testing.T) {
	for host, want := range map[string]bool{"127.0.0.1": true, "::1": true, "localhost": true, "/var/run/postgresql": true,
		"db.example": false, "10.0.0.5": false, "": false} {
		if got := onThisMachine(host); got != want {
			t.Errorf("onThisMachine(%q) = %v, want %v", host, got, want)
		}
	}
	if runtime.GOOS != "linux" {
		t.Skip("CPU times are read from /proc")
	}
	own, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	tree, err := treeCPU(os.Getpid())
	if err != nil || tree < own {
		t.Errorf("treeCPU = %v, %v; want at least the process's own %v", tree, err, own)
	}
	if pm, err := postmasterOf(os.Getpid()); err == nil {
		t.Errorf("postmasterOf(this test) = %d, want an error", pm)
	}
}

// pageCacheNoteLine is the line after a series on a kept data directory.
var pageCacheNoteLine = regexp.MustCompile(`(?m)^page cache: .*/coffer\.db \(\d+\.\d MiB\) (.+); resident at each run's start → end: 2 conns run 1 (\d+ %|unknown) → (\d+ %|unknown), 1 conn run 1 (\d+ %|unknown) → (\d+ %|unknown)$`)

// checkPageCacheNotes checks that out has a page cache line for each of its n series, saying
// how, and, on Linux, that a warmed database was resident at each run's start.
func checkPageCacheNotes(t *testing.T, out, how string, n int) {
	t.Helper()
	notes := pageCacheNoteLine.FindAllStringSubmatch(out, -1)
	if len(notes) != n {
		t.Fatalf("%d page cache lines, want %d:\n%s", len(notes), n, out)
	}
	for _, m := range notes {
		if m[1] != how {
			t.Errorf("page cache line says %q, want %q", m[1], how)
		}
		if runtime.GOOS != "linux" {
			continue
		}
		for _, p := range []string{m[2], m[3], m[4], m[5]} {
			if p == "unknown" {
				t.Errorf("page cache not measured: %q", m[0])
			}
		}
		if how == "read into it before each run" && (m[2] != "100 %" || m[4] != "100 %") {
			t.Errorf("a warmed database not whole in the page cache at a run's start: %q", m[0])
		}
	}
}
