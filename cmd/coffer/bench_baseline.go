package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// baselineRunner loads the baseline of one series: a bare handler in a child process, a
// running --baseline-endpoint, or, for put, the SQLite group-commit loop in a child process
// per run.
type baselineRunner struct {
	name     string // its columns' name
	describe string
	target   *target     // where the calls go; nil for the SQLite loop
	child    *benchChild // the bare handler; nil otherwise
	sqlDir   string      // where the SQLite loop's fresh databases go
	runs     int         // SQLite runs so far, naming their files
}

// startBaseline returns the baseline of w, or nil without --baseline. sample is the response
// a bare handler serves.
func (b *bench) startBaseline(ctx context.Context, w *workload, sample []byte) (*baselineRunner, error) {
	switch {
	case !b.f.baseline:
		return nil, nil
	case b.baseline != nil:
		if _, err := w.prepare(ctx, *b.baseline); err != nil {
			return nil, err
		}
		return &baselineRunner{name: "baseline", target: b.baseline, describe: b.baseline.url + ", a running endpoint, the same calls"}, nil
	case w.op == "PutSecretValue" || w.op == "CreateSecret":
		dir := b.scratch
		if b.data != "" {
			dir = filepath.Dir(b.data)
		}
		return &baselineRunner{name: "sqlite", sqlDir: dir, describe: fmt.Sprintf(
			"SQLite group commit, in a child process per run: as many writers as connections, each inserting one %d-byte row at a time into a fresh database in %s (WAL, synchronous=FULL, one table), at most %d rows per transaction; inserts/s",
			b.f.size, dir, maxGroup)}, nil
	}
	bodyFile := filepath.Join(b.scratch, "baseline-body")
	if err := os.WriteFile(bodyFile, sample, 0o600); err != nil {
		return nil, err
	}
	c, err := startBenchChild(ctx, "baseline "+w.name, time.Minute, "--serve", "baseline", "--body-file", bodyFile)
	os.Remove(bodyFile)
	if err != nil {
		return nil, err
	}
	b.children = append(b.children, c)
	t := &target{name: "baseline", url: "http://" + c.ready.Addr, pid: c.ready.PID, loadGen: newLoadGen(b.target.creds, b.f.region)}
	return &baselineRunner{name: "baseline", target: t, child: c, describe: fmt.Sprintf(
		"bare net/http handler in a child process (pid %d) serving the same response bytes to the same signed calls", c.ready.PID)}, nil
}

// run measures the baseline with conns connections (or SQLite writers).
func (r *baselineRunner) run(ctx context.Context, b *bench, w *workload, conns int) (*benchResult, error) {
	if r.target != nil {
		return r.target.run(ctx, w, conns, b.f.warmup, b.f.duration)
	}
	r.runs++
	db := filepath.Join(r.sqlDir, fmt.Sprintf("coffer-bench-sqlite-%d-%d.db", os.Getpid(), r.runs))
	defer func() {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(db + suffix)
		}
	}()
	c, err := startBenchChild(ctx, "sqlite", b.f.warmup+b.f.duration+2*time.Minute, "--serve", "sqlite", "--db", db,
		"--writers", strconv.Itoa(conns), "--size", strconv.Itoa(b.f.size), "--warmup", b.f.warmup.String(), "--duration", b.f.duration.String())
	if err != nil {
		return nil, err
	}
	b.children = append(b.children, c)
	if err := c.stop(); err != nil {
		return nil, err
	}
	res := c.ready.Result
	if res == nil {
		return nil, fmt.Errorf("bench: the SQLite baseline sent no result")
	}
	if res.Requests == 0 {
		return nil, fmt.Errorf("bench: the SQLite baseline committed no row (%d errors, the first %s)", res.Errors, res.FirstError)
	}
	return res, nil
}
