package conformance_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/coffer-project/coffer/audit"
	"github.com/coffer-project/coffer/core"
	"github.com/coffer-project/coffer/keyring"
	"github.com/coffer-project/coffer/server"
	"github.com/coffer-project/coffer/sqlite"
)

// scenario is one scenarios/*.json file: steps run in order through one client.
type scenario struct {
	name        string
	Description string `json:"description"`
	// CLI marks the scenarios that also run through the AWS CLI (half a second a call).
	CLI bool `json:"cli"`
	// Skip names the clients that cannot run the scenario, each with the reason (a client that
	// refuses the input itself, say); they skip it and say why.
	Skip  map[string]string `json:"skip"`
	Steps []step            `json:"steps"`
	// clock is set when a step changes the server's clock or purges (a "$" step): the
	// scenario then runs on the client's private server (see TestConformance).
	clock bool
}

type step struct {
	Op      string            `json:"op"`
	Comment string            `json:"comment"`
	Input   map[string]any    `json:"input"`
	Expect  expectation       `json:"expect"`
	Save    map[string]string `json:"save"` // variable name → dotted path in the output
}

// expectation is either an output (a subset match, see match) or an error, whose message is
// compared only when given. An empty expectation means the call must succeed.
type expectation struct {
	Output map[string]any `json:"output"`
	Error  *struct {
		Code    string  `json:"code"`
		Message *string `json:"message"`
	} `json:"error"`
}

func loadScenarios(t *testing.T) []*scenario {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("scenarios", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	var out []*scenario
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := &scenario{name: strings.TrimSuffix(filepath.Base(f), ".json")}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(sc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(sc.Steps) == 0 {
			t.Fatalf("%s: no steps", f)
		}
		for c, why := range sc.Skip {
			if !knownClient(c) || why == "" {
				t.Fatalf("%s: skip: want a known client and a reason, got %q: %q", f, c, why)
			}
		}
		for i, s := range sc.Steps {
			if s.Op == "" || (s.Expect.Output != nil && s.Expect.Error != nil) {
				t.Fatalf("%s step %d: want an op and at most one of expect.output and expect.error", f, i+1)
			}
			if s.Input == nil {
				sc.Steps[i].Input = map[string]any{}
			}
			if strings.HasPrefix(s.Op, "$") {
				if _, ok := serverSteps[s.Op]; !ok {
					t.Fatalf("%s step %d: unknown server step %s (known: %s)", f, i+1, s.Op, strings.Join(sortedKeys(serverSteps), ", "))
				}
				sc.clock = true
			}
		}
		out = append(out, sc)
	}
	return out
}

// TestConformance runs every scenario through every client against one server, each client
// with its own ${name} prefix, and compares each step's answer with the scenario's.
//
// Scenarios with "$" steps ($advanceClock, $purge) change the whole server: a clock moved
// forward would end other clients' deletion windows mid-scenario, and a purge deletes every
// secret whose window has ended. So each client that has such scenarios gets a second,
// private server with its own clock (and a second runner bound to it), and runs them there, in
// file order, while the other scenarios share the main server in parallel.
func TestConformance(t *testing.T) {
	scenarios := loadScenarios(t)
	shared := startServer(t)
	shared.env.dataPath, shared.env.dataPathErr = awsDataPath(t)
	run := randomHex(3)
	shapes := &shapeLog{m: map[string]map[string][]string{}}
	t.Run("clients", func(t *testing.T) {
		for _, c := range clients() {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				start := time.Now()
				var mine []*scenario
				clock := false
				for _, sc := range scenarios {
					if c.slow && !sc.CLI {
						continue
					}
					mine = append(mine, sc)
					clock = clock || sc.clock
				}
				r := c.start(t, shared.env)
				defer r.Close()
				var private *testServer
				var pr runner
				if clock {
					private = startServer(t)
					private.env.dataPath, private.env.dataPathErr = shared.env.dataPath, shared.env.dataPathErr
					pr = c.start(t, private.env)
					defer pr.Close()
				}
				for _, sc := range mine {
					t.Run(sc.name, func(t *testing.T) {
						if why, ok := sc.Skip[c.name]; ok {
							t.Skipf("skipped for %s: %s", c.name, why)
						}
						name := fmt.Sprintf("conformance-%s/%s/%s", run, c.name, sc.name)
						r, srv := r, shared
						if sc.clock {
							r, srv = pr, private
						}
						gr, golden := r.(*goRunner)
						if golden {
							gr.rec.take()
						}
						shapes.add(sc.name, c.name, runScenario(t, r, srv, sc, name))
						if golden {
							checkGolden(t, sc, name, gr.rec.take())
						}
					})
				}
				t.Logf("%d scenarios in %s", len(mine), time.Since(start).Round(time.Millisecond))
			})
		}
	})
	shapes.compare(t)
}

func knownClient(name string) bool {
	for _, c := range clients() {
		if c.name == name {
			return true
		}
	}
	return false
}

// shapeLog keeps, for each scenario and client, the shape of each step's answer: the error,
// or the output's members (recursively) without their values. Clients must agree on it also
// where a scenario does not say what to expect, so that a member one client sees and another
// does not is found.
type shapeLog struct {
	mu sync.Mutex
	m  map[string]map[string][]string // scenario → client → step shapes
}

func (l *shapeLog) add(scenario, client string, steps []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m[scenario] == nil {
		l.m[scenario] = map[string][]string{}
	}
	l.m[scenario][client] = steps
}

func (l *shapeLog) compare(t *testing.T) {
	for _, sc := range sortedKeys(l.m) {
		byClient := l.m[sc]
		ref := "go"
		if _, ok := byClient[ref]; !ok {
			ref = sortedKeys(byClient)[0]
		}
		for _, c := range sortedKeys(byClient) {
			for i, s := range byClient[c] {
				if i < len(byClient[ref]) && s != byClient[ref][i] {
					t.Errorf("%s step %d: %s answered %s; %s answered %s", sc, i+1, c, s, ref, byClient[ref][i])
				}
			}
		}
	}
}

// shape describes an answer without its values: {A,B:{C},D:[{E}]} or error:Code. An object
// whose keys are not all AWS member names (PascalCase), such as VersionIdsToStages, is a map:
// only its size counts.
func shape(r result) string {
	if !r.OK {
		return "error:" + r.Error.Code
	}
	var walk func(v any) string
	walk = func(v any) string {
		switch v := v.(type) {
		case map[string]any:
			if _, ok := v["$base64"]; ok && len(v) == 1 {
				return "blob"
			}
			for k := range v {
				if k == "" || k[0] < 'A' || k[0] > 'Z' {
					return fmt.Sprintf("map(%d)", len(v))
				}
			}
			parts := []string{}
			for _, k := range sortedKeys(v) {
				if s := walk(v[k]); s != "" {
					parts = append(parts, k+":"+s)
				} else {
					parts = append(parts, k)
				}
			}
			return "{" + strings.Join(parts, ",") + "}"
		case []any:
			parts := []string{}
			for _, e := range v {
				parts = append(parts, walk(e))
			}
			return "[" + strings.Join(parts, ",") + "]"
		}
		return ""
	}
	return walk(r.Output)
}

// runScenario runs the steps of sc through r, and its "$" steps on srv, and returns the shape
// of each answer.
func runScenario(t *testing.T, r runner, srv *testServer, sc *scenario, name string) []string {
	vars := map[string]string{"name": name}
	var shapes []string
	for i, s := range sc.Steps {
		where := fmt.Sprintf("step %d (%s)", i+1, s.Op)
		in, err := substitute(s.Input, vars)
		if err != nil {
			t.Fatalf("%s: input: %v", where, err)
		}
		want, err := substitute(any(s.Expect.Output), vars)
		if err != nil {
			t.Fatalf("%s: expect: %v", where, err)
		}
		var got result
		if strings.HasPrefix(s.Op, "$") {
			got, err = srv.step(s.Op, in.(map[string]any))
			if gr, ok := r.(*goRunner); ok && err == nil {
				gr.rec.note(s.Op, in, got.Output)
			}
		} else {
			got, err = r.Call(s.Op, in.(map[string]any))
		}
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		shapes = append(shapes, shape(got))
		switch w := s.Expect.Error; {
		case w != nil && got.OK:
			t.Errorf("%s: succeeded, want %s", where, w.Code)
		case w != nil:
			if got.Error.Code != w.Code {
				t.Errorf("%s: error code %s, want %s", where, got.Error.Code, w.Code)
			}
			if w.Message != nil {
				msg, err := substitute(*w.Message, vars)
				if err != nil {
					t.Fatalf("%s: expect: %v", where, err)
				}
				if got.Error.Message != msg {
					t.Errorf("%s: error message %q, want %q", where, got.Error.Message, msg)
				}
			}
		case !got.OK:
			t.Errorf("%s: %s: %s", where, got.Error.Code, got.Error.Message)
		default:
			if w, ok := want.(map[string]any); ok {
				for _, d := range match("output", w, got.Output) {
					t.Errorf("%s: %s", where, d)
				}
			}
		}
		for _, k := range sortedKeys(s.Save) {
			v, ok := lookup(got.Output, s.Save[k])
			str, isStr := v.(string)
			if !ok || !isStr {
				t.Fatalf("%s: cannot save ${%s}: the output has no text at %s", where, k, s.Save[k])
			}
			vars[k] = str
		}
	}
	return shapes
}

// testServer is one coffer server in process, with the clock its core runs on.
type testServer struct {
	env   *env
	svc   *core.Service
	clock *testClock
}

// testClock is the core's clock. It starts at the real time and moves only by a millisecond
// each time it is read (so that every change still gets a later timestamp) and by $advanceClock
// steps: a slow client cannot outlast a window (such as the 10 s during which a deleted name
// answers "it was deleted") by accident. The HTTP layer keeps the real clock, which SigV4
// checks requests against.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Millisecond)
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// serverSteps are the steps that act on the server itself rather than call it through a client:
//
//	{"op": "$advanceClock", "input": {"days": 7, "seconds": 11}}   moves the core's clock forward
//	{"op": "$purge"}   deletes for good the secrets whose recovery window has ended; output {"Purged": n}
var serverSteps = map[string]func(s *testServer, in map[string]any) (map[string]any, error){
	"$advanceClock": func(s *testServer, in map[string]any) (map[string]any, error) {
		var d time.Duration
		for k, v := range in {
			n, ok := v.(float64)
			unit, known := map[string]time.Duration{"days": 24 * time.Hour, "hours": time.Hour, "seconds": time.Second}[k]
			if !ok || !known || n < 0 {
				return nil, fmt.Errorf("$advanceClock takes days, hours and seconds, each a number ≥ 0; got %s=%v", k, v)
			}
			d += time.Duration(n * float64(unit))
		}
		s.clock.Advance(d)
		return map[string]any{}, nil
	},
	"$purge": func(s *testServer, in map[string]any) (map[string]any, error) {
		if len(in) != 0 {
			return nil, fmt.Errorf("$purge takes no input")
		}
		n, err := s.svc.PurgeDue(context.Background())
		return map[string]any{"Purged": float64(n)}, err
	},
}

// step runs a "$" step on s.
func (s *testServer) step(op string, in map[string]any) (result, error) {
	out, err := serverSteps[op](s, in)
	if err != nil {
		return result{}, fmt.Errorf("%s: %w", op, err)
	}
	return result{OK: true, Output: out}, nil
}

// startServer starts one coffer server in process (SQLite in a temporary directory, a fresh
// root key, a generated administrator key pair) on a loopback port.
func startServer(t *testing.T) *testServer {
	t.Helper()
	ctx := context.Background()
	root, err := keyring.NewRootKey()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := keyring.New(root)
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "coffer.db"), sqlite.WithCacheCheck())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	gen, err := core.NewAccessKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := core.Bootstrap(ctx, store, keys, core.BootstrapConfig{AccessKeyID: gen.AccessKeyID, SecretAccessKey: gen.SecretAccessKey}); err != nil {
		t.Fatal(err)
	}
	const region = "us-east-1"
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	clock := &testClock{now: time.Now()}
	svc := core.New(store, keys, core.Options{Now: clock.Now, Logger: log})
	_, auditKey, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	trail, err := audit.OpenDir(filepath.Join(t.TempDir(), "audit"), "conformance", auditKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { trail.Close() })
	h := server.New(server.Config{Regions: []string{region}, Secrets: svc, Creds: server.NewCredentials(store, keys), Logger: log, Audit: trail})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &testServer{
		env: &env{
			endpoint: "http://" + ln.Addr().String(),
			region:   region,
			creds:    aws.Credentials{AccessKeyID: gen.AccessKeyID, SecretAccessKey: gen.SecretAccessKey},
		},
		svc:   svc,
		clock: clock,
	}
}

// awsDataPath lays out the current botocore models from ../shared/aws-models (beside the
// repository) as AWS_DATA_PATH wants them, <dir>/<service>/<api-version>/<file>, so that old
// boto3 and AWS CLI builds know every operation. Nothing of shared/ is committed here.
func awsDataPath(t *testing.T) (string, error) {
	t.Helper()
	src := filepath.Join("..", "..", "shared", "aws-models")
	files, err := filepath.Glob(filepath.Join(src, "*.service-2.json"))
	if err != nil || len(files) == 0 {
		return "", fmt.Errorf("no models in %s (the repository's sibling shared/aws-models): %v", src, err)
	}
	dir := t.TempDir()
	for _, f := range files {
		service := strings.TrimSuffix(filepath.Base(f), ".service-2.json")
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		var m struct{ Metadata struct{ APIVersion string } }
		if err := json.Unmarshal(b, &m); err != nil || m.Metadata.APIVersion == "" {
			return "", fmt.Errorf("%s: no metadata.apiVersion: %v", f, err)
		}
		to := filepath.Join(dir, service, m.Metadata.APIVersion)
		if err := os.MkdirAll(to, 0o755); err != nil {
			return "", err
		}
		all, _ := filepath.Glob(filepath.Join(src, service+".*.json"))
		sort.Strings(all)
		for _, a := range all {
			b, err := os.ReadFile(a)
			if err != nil {
				return "", err
			}
			if err := os.WriteFile(filepath.Join(to, strings.TrimPrefix(filepath.Base(a), service+".")), b, 0o644); err != nil {
				return "", err
			}
		}
	}
	return dir, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
