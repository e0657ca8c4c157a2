package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/coffer-project/coffer/keyring"
)

// benchUsage heads `coffer bench -h`; the flags follow it.
const benchUsage = `Usage: coffer bench [flags]

SigV4-signed Secrets Manager calls over keep-alive HTTP/1.1 connections, one per connection
of --connections, against a coffer server in a child process (a fresh SQLite data directory,
durable audit, loopback) or the running server --endpoint names. Each connection count is its
own run: the server, then the baseline, the same load generator signing the same requests.

  --op get    GetSecretValue; baseline: a bare net/http handler in a child process serving
              the same response bytes (the ceiling of HTTP on this machine for them)
  --op describe
              DescribeSecret (which AWS's caching clients poll for new versions); baseline as
              for get
  --op list   ListSecrets with a name filter, first page only; baseline as for get
  --op put    PutSecretValue, each connection to its own secret, a fresh ClientRequestToken per
              call; baseline: durable single-row SQLite inserts from as many writers, group
              committed by at most 64 rows per transaction, in a child process

With --populate N (get), the runs also read a random one of the N secrets per request and
list them. With --endpoint, the credentials come from AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY.

Flags:
`

// Defaults of --size: a GetSecretValue reads a 1 KiB value, a PutSecretValue writes 400 bytes.
const (
	defaultGetSize = 1024
	defaultPutSize = 400
)

// randomSecretID is the --secret-id that reads a random populated secret per request;
// "random:K", a random one of the first K.
const randomSecretID = "random"

// randomAmong returns K of a --secret-id "random:K" (ok), 0 for "random" (ok), or !ok for
// any other secret id; K is checked by benchFlags.check.
func randomAmong(id string) (k int, ok bool) {
	if id == randomSecretID {
		return 0, true
	}
	rest, found := strings.CutPrefix(id, randomSecretID+":")
	if !found {
		return 0, false
	}
	k, err := strconv.Atoi(rest)
	if err != nil || k < 1 {
		return -1, true
	}
	return k, true
}

// benchFlags are the settings of `coffer bench`.
type benchFlags struct {
	op               string
	endpoint         string
	baselineEndpoint string
	secretID         string
	secretIDSet      bool // --secret-id was given: no second, random get series
	connections      intList
	runs             int
	duration         time.Duration
	warmup           time.Duration
	size             int
	baseline         bool
	populate         int
	data             string
	listFilter       string
	listSort         string
	markdown         bool
	region           string
	cpuProfile       string
	store            string
	pageCache        string
}

// runBench runs `coffer bench`, or, given --serve first, one of its child processes.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "--serve" || args[0] == "-serve") {
		return serveBench(ctx, args, stdout)
	}
	f, err := parseBenchFlags(args, stderr)
	if err != nil {
		return err
	}
	b := &bench{f: f, out: stdout}
	defer b.close()
	if err := b.start(ctx); err != nil {
		return err
	}
	for _, w := range b.plan() {
		if err := b.series(ctx, w); err != nil {
			return err
		}
	}
	return b.finish()
}

// parseBenchFlags parses and checks the flags of `coffer bench`.
func parseBenchFlags(args []string, stderr io.Writer) (*benchFlags, error) {
	f := &benchFlags{connections: intList{16, 1}}
	fs := flag.NewFlagSet("coffer bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.op, "op", "get", "operation to load: get (GetSecretValue), describe (DescribeSecret), put (PutSecretValue), create (CreateSecret) or list (ListSecrets)")
	fs.Var(&f.connections, "connections", "connection counts, comma-separated; each is its own run, each connection a keep-alive HTTP/1.1 connection")
	fs.Func("workers", "deprecated: --connections with a single value", func(s string) error {
		return f.connections.setOne(s)
	})
	fs.IntVar(&f.runs, "runs", 1, "repetitions of each (server, baseline) pair, alternating; a median line follows each connection count")
	fs.DurationVar(&f.duration, "duration", 5*time.Second, "measured duration of each run")
	fs.DurationVar(&f.warmup, "warmup", time.Second, "unmeasured warm-up before each run, on the same connections")
	fs.IntVar(&f.size, "size", 0, "size in bytes of the secret value: read by get (default 1024), written by put and create and the SQLite baseline's rows (default 400)")
	fs.BoolVar(&f.baseline, "baseline", true, "also load the op's baseline after each run and report server ÷ baseline (--baseline=false: the server alone)")
	fs.StringVar(&f.secretID, "secret-id", "bench/secret", `secret that get (or describe) reads, created with a random value when missing; "random": a random one of the --populate secrets per request (get), "random:K" a random one of the first K of them (a working set of K); with put, the one secret every connection writes (default: one secret each)`)
	fs.IntVar(&f.populate, "populate", 0, "before starting the server, fill its data directory with this many secrets named bench/pop/%09d (64-byte values); get then also reads random ones and lists them")
	fs.StringVar(&f.data, "data", "", "data directory of the child server, kept afterwards and reused (populated only up to what it lacks); its root key is the file DIR.root-key beside it; empty: a temporary directory, removed at the end")
	fs.StringVar(&f.listFilter, "list-filter", "bench/pop/0000001", "name prefix of the list op's ListSecrets filter (the default matches 100 secrets of any --populate of 200 or more)")
	fs.StringVar(&f.listSort, "list-sort", "", "SortBy of the list op's ListSecrets: created-date, last-accessed-date, last-changed-date or name (default: none sent, which lists by created date)")
	fs.StringVar(&f.endpoint, "endpoint", "", "load this running server (http://host:port) instead of a child server")
	fs.StringVar(&f.baselineEndpoint, "baseline-endpoint", "", "compare against this running AWS-compatible endpoint (same op, same credentials) instead of the op's baseline; implies --baseline")
	fs.BoolVar(&f.markdown, "markdown", false, "print the result tables as markdown")
	fs.StringVar(&f.store, "store", "sqlite", "the child server's store: sqlite (in its data directory) or a postgres:// URL of a server where a throwaway database is created, and dropped at the end; when that server runs on this machine, its CPU time per call is reported too (db cpu/req)")
	fs.StringVar(&f.pageCache, "page-cache", pageCacheWarm, `with --data: "warm" reads the data directory's database into the operating system's page cache before each run of the server, as a server running for a while finds it; "as-is" leaves the page cache as it is. Either way, how much of the database it held at each run's start and end is reported`)
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write the child server's CPU profile over every run to this file (go tool pprof)")
	fs.StringVar(&f.region, "region", envOr("AWS_REGION", "us-east-1"), "region to sign requests for")
	fs.Usage = func() {
		fmt.Fprint(stderr, benchUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	sizeSet := false
	fs.Visit(func(fl *flag.Flag) {
		f.secretIDSet = f.secretIDSet || fl.Name == "secret-id"
		sizeSet = sizeSet || fl.Name == "size"
	})
	if f.baselineEndpoint != "" {
		f.baseline = true
	}
	if !sizeSet {
		f.size = defaultGetSize
		if f.op == "put" || f.op == "create" {
			f.size = defaultPutSize
		}
	}
	return f, f.check()
}

// check refuses settings that cannot make a measurement.
func (f *benchFlags) check() error {
	switch {
	case f.op != "get" && f.op != "describe" && f.op != "put" && f.op != "create" && f.op != "list":
		return fmt.Errorf("bench: --op must be get, describe, put, create or list, not %q", f.op)
	case len(f.connections) == 0:
		return errors.New("bench: --connections names no connection count")
	case f.runs < 1 || f.duration <= 0 || f.warmup < 0:
		return errors.New("bench: --runs ≥ 1, --duration > 0 and --warmup ≥ 0")
	case f.size < 1 || f.size > 65536:
		return errors.New("bench: 1 ≤ --size ≤ 65536")
	case f.populate < 0:
		return errors.New("bench: --populate must not be negative")
	case f.endpoint != "" && (f.populate > 0 || f.data != ""):
		return errors.New("bench: --populate and --data prepare the child server; they do not apply to --endpoint")
	case f.store != "sqlite" && (f.populate > 0 || f.data != ""):
		return errors.New("bench: --populate and --data need --store sqlite")
	case f.op == "create" && (f.endpoint != "" || f.baselineEndpoint != "" || f.data != ""):
		// Thousands of secrets a second, never deleted: on AWS each one is billed.
		return errors.New("bench: --op create leaves every secret it creates: it runs only against a child server on a throwaway store, not with --endpoint, --baseline-endpoint or --data")
	case f.secretIDSet && (f.op == "create" || f.op == "list"):
		return fmt.Errorf("bench: --op %s names no secret: --secret-id does not apply", f.op)
	case f.listSort != "" && !slices.Contains([]string{"created-date", "last-accessed-date", "last-changed-date", "name"}, f.listSort):
		return fmt.Errorf("bench: --list-sort must be created-date, last-accessed-date, last-changed-date or name, not %q", f.listSort)
	case f.listSort != "" && f.op != "list" && f.populate == 0:
		return errors.New("bench: --list-sort sorts the list op's ListSecrets: it needs --op list or --populate N")
	case f.pageCache != pageCacheWarm && f.pageCache != pageCacheAsIs:
		return fmt.Errorf("bench: --page-cache must be %s or %s, not %q", pageCacheWarm, pageCacheAsIs, f.pageCache)
	}
	if k, random := randomAmong(f.secretID); random {
		switch {
		case f.populate == 0 || f.op != "get":
			return errors.New("bench: --secret-id random reads the --populate secrets: it needs --populate N and --op get")
		case k < 0 || k > f.populate:
			return fmt.Errorf("bench: --secret-id random:K reads a random one of the first K of the --populate secrets: 1 ≤ K ≤ %d, not %q", f.populate, f.secretID)
		}
	}
	return nil
}

// intList is a flag holding a comma-separated list of positive integers.
type intList []int

// String returns the list as the flag takes it.
func (l *intList) String() string {
	s := make([]string, len(*l))
	for i, n := range *l {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// Set parses a comma-separated list.
func (l *intList) Set(v string) error {
	var out intList
	for _, s := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 4096 {
			return fmt.Errorf("%q is not a count from 1 to 4096", s)
		}
		out = append(out, n)
	}
	*l = out
	return nil
}

// setOne sets a single count (the deprecated --workers).
func (l *intList) setOne(v string) error {
	if strings.Contains(v, ",") {
		return errors.New("takes one count; use --connections for a list")
	}
	return l.Set(v)
}

// largest returns the largest count.
func (l intList) largest() int {
	m := 0
	for _, n := range l {
		m = max(m, n)
	}
	return m
}

// bench is one `coffer bench` command: the child processes it started, the endpoints it
// loads, and where it writes.
type bench struct {
	f        *benchFlags
	out      io.Writer
	scratch  string // temporary directory of this command, removed at the end
	data     string // the child server's data directory
	keyPath  string // the child server's root key file
	server   *benchChild
	target   target
	baseline *target        // a running --baseline-endpoint; nil when the baseline is started here
	children []*benchChild  // every child started, in order, stopped by close
	dropDB   func()         // drops the throwaway database of a PostgreSQL --store
	dbFile   string         // the child server's database file in a kept --data directory; "" otherwise
	cached   []pageCacheRun // what the page cache held of dbFile over the current series' runs
	writes   []writerRun    // what the target's store's writer did over the current series' runs
}

// start makes the scratch directory, populates and starts the child server (or takes
// --endpoint), and prints what the runs measure.
func (b *bench) start(ctx context.Context) error {
	var err error
	if b.scratch, err = os.MkdirTemp("", "coffer-bench-"); err != nil {
		return err
	}
	fmt.Fprintf(b.out, "coffer bench: %d CPUs, %s/%s, %s; %s per run after %s warm-up; connections %s; %d run(s), alternating server and baseline\n",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), b.f.duration, b.f.warmup, b.f.connections.String(), b.f.runs)
	if b.f.endpoint != "" {
		creds := benchEnvCredentials()
		if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
			return errors.New("bench: --endpoint needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
		}
		b.target = target{name: "target", url: strings.TrimRight(b.f.endpoint, "/"), metrics: true, loadGen: newLoadGen(creds, b.f.region)}
		fmt.Fprintf(b.out, "target: %s, a running server (credentials from AWS_ACCESS_KEY_ID)\n", b.target.url)
	} else if err := b.startServer(ctx); err != nil {
		return err
	}
	if b.f.baselineEndpoint != "" {
		creds := benchEnvCredentials()
		if creds.AccessKeyID == "" {
			creds = b.target.creds
		}
		b.baseline = &target{name: "baseline", url: strings.TrimRight(b.f.baselineEndpoint, "/"), loadGen: newLoadGen(creds, b.f.region)}
	}
	return nil
}

// startServer prepares the data directory and root key, populates it, and starts the
// child server on it.
func (b *bench) startServer(ctx context.Context) error {
	b.data, b.keyPath = filepath.Join(b.scratch, "data"), filepath.Join(b.scratch, "root.key")
	if b.f.data != "" {
		abs, err := filepath.Abs(b.f.data)
		if err != nil {
			return err
		}
		b.data, b.keyPath = abs, abs+".root-key"
	}
	if err := os.MkdirAll(b.data, 0o700); err != nil {
		return err
	}
	root, _, err := keyring.LoadOrCreateRootKey(b.keyPath)
	if err != nil {
		return err
	}
	root.Wipe()
	if b.f.data != "" {
		fmt.Fprintf(b.out, "data: %s, kept; its root key is %s (mode 0600)\n", b.data, b.keyPath)
	}
	if b.f.populate > 0 {
		if err := populate(ctx, b.out, b.data, b.keyPath, b.f.region, b.f.populate); err != nil {
			return err
		}
	}
	db, err := benchDatabase(ctx, b.f.store)
	if err != nil {
		return err
	}
	b.dropDB = db.drop
	if b.f.data != "" {
		b.dbFile = filepath.Join(b.data, "coffer.db")
	}
	args := []string{"--serve", "coffer", "--data", b.data, "--key-file", b.keyPath, "--region", b.f.region, "--store", db.url}
	if b.f.cpuProfile != "" {
		abs, err := filepath.Abs(b.f.cpuProfile)
		if err != nil {
			return err
		}
		args = append(args, "--cpuprofile", abs)
	}
	c, err := startBenchChild(ctx, "coffer", time.Duration(b.f.populate/100+120)*time.Second, args...)
	if err != nil {
		return err
	}
	b.children = append(b.children, c)
	b.server = c
	readyz, err := c.waitReadyz(ctx)
	if err != nil {
		return err
	}
	creds := aws.Credentials{AccessKeyID: c.ready.AccessKeyID, SecretAccessKey: c.ready.SecretAccessKey}
	b.target = target{name: "coffer", url: "http://" + c.ready.Addr, pid: c.ready.PID, dbPID: db.server, metrics: true, loadGen: newLoadGen(creds, b.f.region)}
	fmt.Fprintf(b.out, "coffer: server in a child process (pid %d, %s, durable audit) on %s; start to ready: ready line %s after exec, /readyz 200 after %s\n",
		c.ready.PID, storeName(b.f.store), c.ready.Addr, ms(c.readyAfter), ms(readyz))
	switch {
	case db.server != 0:
		fmt.Fprintf(b.out, "database: PostgreSQL's server process is pid %d on this machine; db cpu/req is its CPU time and its children's\n", db.server)
	case b.f.store != "sqlite":
		fmt.Fprintf(b.out, "database: PostgreSQL's CPU time is not measured: %s\n", db.serverNote)
	}
	return nil
}

// plan returns the series the flags ask for, in order.
func (b *bench) plan() []*workload {
	f := b.f
	switch f.op {
	case "put":
		one := ""
		if f.secretIDSet {
			one = f.secretID
		}
		return []*workload{putWorkload(f.connections.largest(), f.size, one)}
	case "create":
		return []*workload{createWorkload(f.connections.largest(), f.size)}
	case "list":
		return []*workload{listWorkload(f.listFilter, f.listSort)}
	case "describe":
		return []*workload{describeWorkload(f.secretID, f.size)}
	}
	var ws []*workload
	among, random := randomAmong(f.secretID)
	if !random {
		ws = append(ws, getWorkload(f.secretID, f.size))
	}
	if f.populate > 0 && (random || !f.secretIDSet) {
		ws = append(ws, randomGetWorkload(f.populate, among))
	}
	if f.populate > 0 {
		ws = append(ws, listWorkload(f.listFilter, f.listSort))
	}
	return ws
}

// series prepares the targets for w, starts its baseline, and runs every connection count
// f.runs times, printing a row per run and a median line per connection count.
func (b *bench) series(ctx context.Context, w *workload) error {
	sample, err := w.prepare(ctx, b.target)
	if err != nil {
		return err
	}
	base, err := b.startBaseline(ctx, w, sample)
	if err != nil {
		return err
	}
	fmt.Fprintf(b.out, "\n%s: %s", w.name, w.describe)
	if sample != nil {
		fmt.Fprintf(b.out, "; %s", sampleNote(w.op, sample))
	}
	fmt.Fprintln(b.out)
	for _, n := range w.notes {
		fmt.Fprintln(b.out, "note:", n)
	}
	if base != nil {
		fmt.Fprintf(b.out, "%s: %s\n", base.name, base.describe)
	}
	t := newResultTable(b.out, b.f.markdown, b.target.name, base, b.target.dbPID != 0)
	t.header()
	b.cached, b.writes = nil, nil
	for _, conns := range b.f.connections {
		var rows []runRow
		for i := range b.f.runs {
			row, err := b.runPair(ctx, w, base, conns, i+1)
			if err != nil {
				return err
			}
			row.run = strconv.Itoa(i + 1)
			t.row(row)
			rows = append(rows, row)
		}
		t.row(medianRow(rows))
	}
	t.errors()
	if b.dbFile != "" {
		var size int64
		if st, err := os.Stat(b.dbFile); err == nil {
			size = st.Size()
		}
		fmt.Fprintln(b.out, pageCacheNote(b.dbFile, size, b.f.pageCache, b.cached))
	}
	if len(b.writes) > 0 {
		fmt.Fprintln(b.out, writerNote(b.writes))
	}
	if base != nil && base.child != nil {
		return base.child.stop()
	}
	return nil
}

// runPair measures the target and then the baseline with conns connections: the run-th
// time. With a kept data directory, it first reads the database into the page cache
// (--page-cache warm) and notes how much of it the page cache holds at the run's start and
// end.
func (b *bench) runPair(ctx context.Context, w *workload, base *baselineRunner, conns, run int) (runRow, error) {
	var cached pageCacheRun
	if b.dbFile != "" {
		if b.f.pageCache == pageCacheWarm {
			if err := warmPageCache(b.dbFile, b.dbFile+"-wal"); err != nil {
				return runRow{}, err
			}
		}
		cached = pageCacheRun{conns: conns, run: run, start: residentOrNone(b.dbFile)}
	}
	r, err := b.target.run(ctx, w, conns, b.f.warmup, b.f.duration)
	if err != nil {
		return runRow{}, err
	}
	if b.dbFile != "" {
		cached.end = residentOrNone(b.dbFile)
		b.cached = append(b.cached, cached)
	}
	if r.writer != nil {
		b.writes = append(b.writes, writerRun{conns: conns, run: run, elapsed: r.Elapsed, writerCounters: *r.writer})
	}
	var br *benchResult
	if base != nil {
		if br, err = base.run(ctx, b, w, conns); err != nil {
			return runRow{}, err
		}
	}
	return newRunRow(conns, r, br), nil
}

// finish reports the child server's peak memory, stops every child, and names them.
func (b *bench) finish() error {
	fmt.Fprintln(b.out)
	if b.server != nil {
		if kib, err := peakRSS(b.server.ready.PID); err == nil {
			fmt.Fprintf(b.out, "coffer child: peak resident memory (VmHWM) %.1f MiB after the runs\n", float64(kib)/1024)
		} else {
			fmt.Fprintf(b.out, "coffer child: peak resident memory unknown (%v)\n", err)
		}
	}
	err := b.stopChildren()
	if len(b.children) > 0 {
		var names []string
		for _, c := range b.children {
			names = append(names, fmt.Sprintf("%d (%s)", c.ready.PID, c.name))
		}
		fmt.Fprintf(b.out, "child processes stopped: %s\n", strings.Join(names, ", "))
	}
	return err
}

// stopChildren stops every child still running, the last started first.
func (b *bench) stopChildren() error {
	var first error
	for i := len(b.children) - 1; i >= 0; i-- {
		if err := b.children[i].stop(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// close stops the children and removes the scratch directory; it runs on every return.
func (b *bench) close() {
	b.stopChildren()
	if b.dropDB != nil {
		b.dropDB()
	}
	if b.scratch != "" {
		os.RemoveAll(b.scratch)
	}
}

// benchEnvCredentials returns the credentials of the environment, which --endpoint and
// --baseline-endpoint sign with.
func benchEnvCredentials() aws.Credentials {
	return aws.Credentials{AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"), SessionToken: os.Getenv("AWS_SESSION_TOKEN")}
}

// storeName names the child server's store for the report.
func storeName(spec string) string {
	if spec == "sqlite" {
		return "SQLite"
	}
	return "PostgreSQL"
}
