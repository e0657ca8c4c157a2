package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// A target is an endpoint the bench drives, with the load generator that signs its calls.
type target struct {
	name string // its columns' name: coffer, target or baseline
	url  string
	pid  int // the serving child's process, whose CPU time is measured; 0 for an endpoint
	// dbPID is the process of the database server it stores in (PostgreSQL's postmaster) when
	// that runs on this machine: its CPU time and its children's are measured too.
	dbPID int
	// metrics says that the target is coffer, whose /metrics may count its store's writer.
	metrics bool
	*loadGen
}

// loadGen signs and sends Secrets Manager calls for one key pair, with aws-sdk-go-v2's SigV4
// signer: the same signing for every target, so that its cost is the same on both sides of
// a ratio.
type loadGen struct {
	client *http.Client // for call; the measured calls each hold their own connection
	creds  aws.Credentials
	region string
	signer *v4.Signer
	once   sync.Once
}

// newLoadGen returns a load generator signing with creds for region.
func newLoadGen(creds aws.Credentials, region string) *loadGen {
	return &loadGen{client: &http.Client{Timeout: 30 * time.Second}, creds: creds, region: region}
}

// newConnClient returns a client that holds exactly one keep-alive HTTP/1.1 connection.
func newConnClient() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxConnsPerHost:     1,
			MaxIdleConns:        1,
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}
}

// call sends one signed call with input encoded as its body, and returns the status and body
// of the response.
func (lg *loadGen) call(ctx context.Context, endpoint, op string, input any) (int, []byte, error) {
	body, err := json.Marshal(input)
	if err != nil {
		return 0, nil, err
	}
	return lg.send(ctx, lg.client, endpoint, op, body)
}

// send sends one signed call over c and returns the status and body of the response. op is
// a Secrets Manager operation, or a whole X-Amz-Target such as coffer's
// "coffer.UpdateSecretVersionRetention".
func (lg *loadGen) send(ctx context.Context, c *http.Client, endpoint, op string, body []byte) (int, []byte, error) {
	lg.once.Do(func() { lg.signer = v4.NewSigner() })
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if !strings.Contains(op, ".") {
		op = "secretsmanager." + op
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", op)
	sum := sha256.Sum256(body)
	if err := lg.signer.SignHTTP(ctx, lg.creds, req, hex.EncodeToString(sum[:]), "secretsmanager", lg.region, time.Now()); err != nil {
		return 0, nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// errorType extracts the error code from an AWS error body, never the rest of it.
func errorType(body []byte) string {
	var e struct {
		Type string `json:"__type"`
	}
	json.Unmarshal(body, &e)
	return e.Type
}

// failure names a failed call by its error code, or its status or transport error when it
// has none; never by its body.
func failure(code int, body []byte, err error) string {
	switch {
	case err != nil:
		return "transport: " + err.Error()
	case errorType(body) != "":
		return errorType(body)
	}
	return fmt.Sprintf("HTTP %d", code)
}

// benchResult is one target's measurement in one run. The SQLite baseline's child sends it
// to the parent as JSON.
type benchResult struct {
	Requests   int           `json:"requests"` // successful calls (or committed inserts)
	Errors     int           `json:"errors"`
	FirstError string        `json:"first_error,omitempty"` // the first error's code
	Elapsed    time.Duration `json:"elapsed_ns"`
	P50        time.Duration `json:"p50_ns"`
	P99        time.Duration `json:"p99_ns"`
	P999       time.Duration `json:"p999_ns"`
	// CPU is the CPU time the serving process used over the measured duration (the SQLite
	// loop's: its writers' too); GenCPU the load generator's, when it is another process.
	// Zero when not measured (outside Linux, or a running endpoint).
	CPU    time.Duration `json:"cpu_ns,omitempty"`
	GenCPU time.Duration `json:"gen_cpu_ns,omitempty"`
	// DBCPU is the database server's CPU time over the measured duration (a PostgreSQL
	// server's on this machine, its backends and background workers included); zero when
	// not measured.
	DBCPU time.Duration `json:"db_cpu_ns,omitempty"`
	// writer is what the target's store's writer did over the measured duration; nil when
	// the target does not report it.
	writer *writerCounters
}

// perRequest returns d divided among the successful calls, or 0.
func (r *benchResult) perRequest(d time.Duration) time.Duration {
	if r.Requests == 0 {
		return 0
	}
	return d / time.Duration(r.Requests)
}

// rps returns the successful calls per second.
func (r *benchResult) rps() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// tally is what the connections of one phase saw.
type tally struct {
	mu       sync.Mutex
	ok, errs int
	firstErr string
	lat      []time.Duration
}

// add merges one connection's counts and latencies.
func (t *tally) add(ok, errs int, lat []time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ok += ok
	t.errs += errs
	t.lat = append(t.lat, lat...)
}

// fail records the code of the phase's first failure.
func (t *tally) fail(code string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.firstErr == "" {
		t.firstErr = code
	}
}

// result returns the phase's result, with the percentiles of its latencies.
func (t *tally) result(elapsed time.Duration) *benchResult {
	slices.Sort(t.lat)
	pct := func(p float64) time.Duration {
		if len(t.lat) == 0 {
			return 0
		}
		return t.lat[int(p*float64(len(t.lat)-1))]
	}
	return &benchResult{Requests: t.ok, Errors: t.errs, FirstError: t.firstErr, Elapsed: elapsed,
		P50: pct(0.50), P99: pct(0.99), P999: pct(0.999)}
}

// run loads t with w on conns connections for the warm-up and then the measured duration,
// the same connections throughout. A run without one successful call is an error.
func (t target) run(ctx context.Context, w *workload, conns int, warmup, duration time.Duration) (*benchResult, error) {
	clients := make([]*http.Client, conns)
	for i := range clients {
		clients[i] = newConnClient()
		defer clients[i].CloseIdleConnections()
	}
	if warmup > 0 {
		t.phase(ctx, w, clients, warmup, false)
	}
	var w0 writerCounters
	counted := false
	if t.metrics {
		w0, counted = readWriterCounters(ctx, t.client, t.url)
	}
	cpu := t.cpuMeter()
	res := t.phase(ctx, w, clients, duration, true)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.CPU, res.GenCPU, res.DBCPU = cpu()
	if counted {
		if w1, ok := readWriterCounters(ctx, t.client, t.url); ok {
			d := w1.sub(w0)
			res.writer = &d
		}
	}
	if res.Requests == 0 {
		return nil, fmt.Errorf("bench: %s, %s, %d connections: no call succeeded (%d errors, the first %s)", t.name, w.name, conns, res.Errors, res.FirstError)
	}
	return res, nil
}

// cpuMeter starts measuring the CPU time of t's serving process, of this one (the load
// generator) and of t's database server; the function it returns gives what each used since,
// zero when unknown (a running endpoint has no pid: /proc/0 does not exist; nor has a store
// that is not a PostgreSQL server on this machine).
func (t target) cpuMeter() func() (server, gen, db time.Duration) {
	s0, serr := procCPU(t.pid)
	g0, gerr := selfCPU()
	var d0 time.Duration
	derr := errors.New("no database server measured")
	if t.dbPID != 0 {
		d0, derr = treeCPU(t.dbPID)
	}
	return func() (server, gen, db time.Duration) {
		if s1, err := procCPU(t.pid); serr == nil && err == nil {
			server = s1 - s0
		}
		if g1, err := selfCPU(); gerr == nil && err == nil {
			gen = g1 - g0
		}
		if derr == nil {
			if d1, err := treeCPU(t.dbPID); err == nil && d1 > d0 {
				db = d1 - d0
			}
		}
		return server, gen, db
	}
}

// phase loads t for d, each client in its own goroutine, and records latencies if record.
func (t target) phase(ctx context.Context, w *workload, clients []*http.Client, d time.Duration, record bool) *benchResult {
	return timeCalls(ctx, len(clients), d, record, func(i int) string {
		code, resp, err := t.send(ctx, clients[i], t.url, w.op, w.body(i))
		if err != nil || code != http.StatusOK {
			if ctx.Err() != nil {
				return "cancelled"
			}
			return failure(code, resp, err)
		}
		return ""
	})
}

// timeCalls runs call in n goroutines (call's argument is the goroutine's number), each call
// after the previous, for d; call returns "" for a success or what failed. It records the
// latencies of the successes if record.
func timeCalls(ctx context.Context, n int, d time.Duration, record bool, call func(i int) string) *benchResult {
	var tl tally
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for i := range n {
		wg.Go(func() {
			var lat []time.Duration
			ok, errs := 0, 0
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				if failed := call(i); failed != "" {
					errs++
					if ctx.Err() == nil {
						tl.fail(failed)
					}
					continue
				}
				ok++
				if record {
					lat = append(lat, time.Since(t0))
				}
			}
			tl.add(ok, errs, lat)
		})
	}
	wg.Wait()
	return tl.result(time.Since(start))
}
