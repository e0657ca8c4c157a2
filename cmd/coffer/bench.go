package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/coffer-project/coffer/core"
	"github.com/coffer-project/coffer/keyring"
	"github.com/coffer-project/coffer/server"
	"github.com/coffer-project/coffer/sqlite"
)

type benchFlags struct {
	endpoint string
	secretID string
	workers  int
	duration time.Duration
	warmup   time.Duration
	size     int
	baseline bool
	region   string
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f benchFlags
	fs := flag.NewFlagSet("coffer bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.endpoint, "endpoint", "", "server to load (http://host:port); empty starts a fresh in-process server on loopback")
	fs.StringVar(&f.secretID, "secret-id", "bench/secret", "secret to read; created with a random value when missing")
	fs.IntVar(&f.workers, "workers", 8, "concurrent workers, each on its own keep-alive connection")
	fs.DurationVar(&f.duration, "duration", 5*time.Second, "measured duration of each run")
	fs.DurationVar(&f.warmup, "warmup", time.Second, "unmeasured warm-up before each run")
	fs.IntVar(&f.size, "size", 1024, "size in bytes of the secret value")
	fs.BoolVar(&f.baseline, "baseline", false, "also load a bare net/http handler serving a fixed response of the same size, and report coffer ÷ baseline")
	fs.StringVar(&f.region, "region", envOr("AWS_REGION", "us-east-1"), "region to sign requests for")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: coffer bench [flags]\n\nSigV4-signed GetSecretValue over keep-alive connections. With --endpoint, the credentials come\nfrom AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if f.workers < 1 || f.duration <= 0 || f.size < 1 || f.size > 65536 {
		return errors.New("bench: --workers ≥ 1, --duration > 0 and 1 ≤ --size ≤ 65536")
	}
	creds := aws.Credentials{AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY")}
	endpoint := f.endpoint
	if endpoint == "" {
		addr, c, stop, err := startBenchServer(ctx, f.region)
		if err != nil {
			return err
		}
		defer stop()
		endpoint, creds = "http://"+addr, c
	} else if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return errors.New("bench: --endpoint needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	lg := &loadGen{client: newBenchClient(f.workers), creds: creds, region: f.region}
	sample, err := lg.prepare(ctx, endpoint, f.secretID, f.size)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "coffer bench: GetSecretValue of a %d-byte secret, %d workers, %s per run (after %s warm-up), %d CPUs\n", f.size, f.workers, f.duration, f.warmup, runtime.NumCPU())
	results := []*benchResult{}
	r, err := lg.run(ctx, "coffer", endpoint, f)
	if err != nil {
		return err
	}
	results = append(results, r)
	if f.baseline {
		baseURL, stop, err := startBaseline(sample)
		if err != nil {
			return err
		}
		defer stop()
		b, err := lg.run(ctx, "baseline", baseURL, f)
		if err != nil {
			return err
		}
		results = append(results, b)
	}
	printResults(stdout, results)
	return nil
}

// startBenchServer starts a coffer server on a fresh temporary data directory and loopback port.
func startBenchServer(ctx context.Context, region string) (string, aws.Credentials, func(), error) {
	dir, err := os.MkdirTemp("", "coffer-bench-")
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
	keys, err := keyring.New(root)
	if err != nil {
		return fail(err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(dir, "coffer.db"))
	if err != nil {
		return fail(err)
	}
	gen, err := core.NewAccessKeyPair()
	if err != nil {
		store.Close()
		return fail(err)
	}
	if _, err := core.Bootstrap(ctx, store, keys, core.BootstrapConfig{AccessKeyID: gen.AccessKeyID, SecretAccessKey: gen.SecretAccessKey}); err != nil {
		store.Close()
		return fail(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := core.New(store, keys, core.Options{Logger: log})
	// Every safeguard on: the calls are audited, durably, as a server audits them.
	trail, _, err := openAudit(ctx, &auditFlags{table: "auto", digestEvery: 1000, digestInterval: time.Minute, maxFileMiB: 64, maxFileAge: 24 * time.Hour}, dir, store, keys, io.Discard, log)
	if err != nil {
		store.Close()
		return fail(err)
	}
	h := server.New(server.Config{Regions: []string{region}, Secrets: svc, Creds: server.NewCredentials(store, keys), Logger: log, Audit: trail})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		store.Close()
		return fail(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	recCtx, stopRecorder := context.WithCancel(context.Background())
	go svc.RunAccessRecorder(recCtx)
	stop := func() {
		srv.Close()
		stopRecorder()
		trail.Close()
		store.Close()
		os.RemoveAll(dir)
	}
	return ln.Addr().String(), aws.Credentials{AccessKeyID: gen.AccessKeyID, SecretAccessKey: gen.SecretAccessKey}, stop, nil
}

// startBaseline serves body, fixed, from a bare net/http handler: the ceiling of HTTP on this
// machine for a response of that size.
func startBaseline(body []byte) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("x-amzn-RequestId", "00000000-0000-4000-8000-000000000000")
		w.Write(body)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

func newBenchClient(workers int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        workers * 2,
			MaxIdleConnsPerHost: workers * 2,
			MaxConnsPerHost:     workers,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}
}

type loadGen struct {
	client *http.Client
	creds  aws.Credentials
	region string
	signer *v4.Signer
	once   sync.Once
}

// call sends one signed Secrets Manager request and returns the status and body.
func (lg *loadGen) call(ctx context.Context, endpoint, op string, input any) (int, []byte, error) {
	lg.once.Do(func() { lg.signer = v4.NewSigner() })
	body, err := json.Marshal(input)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "secretsmanager."+op)
	sum := sha256.Sum256(body)
	if err := lg.signer.SignHTTP(ctx, lg.creds, req, hex.EncodeToString(sum[:]), "secretsmanager", lg.region, time.Now()); err != nil {
		return 0, nil, err
	}
	resp, err := lg.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// prepare makes sure the secret exists with a value of the given size and returns one
// GetSecretValue response body, which the baseline serves.
func (lg *loadGen) prepare(ctx context.Context, endpoint, id string, size int) ([]byte, error) {
	code, body, err := lg.call(ctx, endpoint, "GetSecretValue", map[string]string{"SecretId": id})
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		val := make([]byte, size)
		rand.Read(val)
		const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
		for i := range val {
			val[i] = alphabet[int(val[i])%len(alphabet)]
		}
		token := make([]byte, 16)
		rand.Read(token)
		code, body, err = lg.call(ctx, endpoint, "CreateSecret", map[string]string{"Name": id, "SecretString": string(val), "ClientRequestToken": hex.EncodeToString(token)})
		if err != nil {
			return nil, err
		}
		if code != http.StatusOK {
			return nil, fmt.Errorf("bench: create %s: HTTP %d: %s", id, code, errorType(body))
		}
		if code, body, err = lg.call(ctx, endpoint, "GetSecretValue", map[string]string{"SecretId": id}); err != nil {
			return nil, err
		}
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("bench: read %s: HTTP %d: %s", id, code, errorType(body))
	}
	return body, nil
}

// errorType extracts the error code from an AWS error body, never the rest of it.
func errorType(body []byte) string {
	var e struct {
		Type string `json:"__type"`
	}
	json.Unmarshal(body, &e)
	return e.Type
}

type benchResult struct {
	name      string
	requests  int
	errors    int
	elapsed   time.Duration
	latencies []time.Duration
}

func (r *benchResult) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func (r *benchResult) pct(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(p * float64(len(r.latencies)-1))
	return r.latencies[i]
}

// run loads endpoint with workers for the warm-up and then the measured duration.
func (lg *loadGen) run(ctx context.Context, name, endpoint string, f benchFlags) (*benchResult, error) {
	input := map[string]string{"SecretId": f.secretID}
	phase := func(d time.Duration, record bool) *benchResult {
		res := &benchResult{name: name}
		var mu sync.Mutex
		var wg sync.WaitGroup
		deadline := time.Now().Add(d)
		start := time.Now()
		for range f.workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var lat []time.Duration
				n, errs := 0, 0
				for time.Now().Before(deadline) && ctx.Err() == nil {
					t0 := time.Now()
					code, _, err := lg.call(ctx, endpoint, "GetSecretValue", input)
					if err != nil || code != http.StatusOK {
						errs++
						continue
					}
					n++
					if record {
						lat = append(lat, time.Since(t0))
					}
				}
				mu.Lock()
				res.requests += n
				res.errors += errs
				res.latencies = append(res.latencies, lat...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		res.elapsed = time.Since(start)
		return res
	}
	if f.warmup > 0 {
		phase(f.warmup, false)
	}
	res := phase(f.duration, true)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	sort.Slice(res.latencies, func(i, j int) bool { return res.latencies[i] < res.latencies[j] })
	if res.requests == 0 {
		return nil, fmt.Errorf("bench: %s answered no request successfully (%d errors)", name, res.errors)
	}
	return res, nil
}

func printResults(w io.Writer, rs []*benchResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\trequests\terrors\treq/s\tp50\tp99\tp99.9\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%s\t%s\t%s\t\n", r.name, r.requests, r.errors, r.rps(), ms(r.pct(0.50)), ms(r.pct(0.99)), ms(r.pct(0.999)))
	}
	tw.Flush()
	if len(rs) == 2 {
		c, b := rs[0], rs[1]
		fmt.Fprintf(w, "coffer ÷ baseline: throughput %.2f, p50 latency %.2f×, p99 latency %.2f×\n",
			c.rps()/b.rps(), ratio(c.pct(0.50), b.pct(0.50)), ratio(c.pct(0.99), b.pct(0.99)))
	}
}

func ms(d time.Duration) string {
	return strings.TrimRight(fmt.Sprintf("%.3f", float64(d.Microseconds())/1000), "0") + "ms"
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
