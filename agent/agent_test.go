package agent_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/coffer-project/coffer/agent"
	"github.com/coffer-project/coffer/cache"
	"github.com/coffer-project/coffer/internal/testserver"
)

const token = "agent-test-token"

// fixture is a coffer server, an agent in front of it on a loopback port, and the clock of
// the agent's cache.
type fixture struct {
	ts    *testserver.Server
	sm    *secretsmanager.Client
	agent *agent.Agent
	url   string
	clock *testserver.Clock
}

// start starts a coffer server and an agent with cfg (its Client, Token and Now filled in).
func start(t *testing.T, cfg agent.Config) *fixture {
	t.Helper()
	ts := testserver.Start(t)
	return startWith(t, ts, ts.Client(), cfg)
}

func startWith(t *testing.T, ts *testserver.Server, client cache.Client, cfg agent.Config) *fixture {
	t.Helper()
	clk := testserver.NewClock(time.Now())
	cfg.Client = client
	if cfg.Token == "" {
		cfg.Token = token
	}
	cfg.Now = clk.Now
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Serve did not return after its context ended")
		}
	})
	f := &fixture{ts: ts, agent: a, url: "http://" + ln.Addr().String(), clock: clk}
	if ts != nil {
		f.sm = ts.Client()
	}
	return f
}

// client makes one connection per request, so that no idle connection counts against
// max_conn between requests.
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}

// do sends method path with headers (name, value pairs) and returns the status and body.
func (f *fixture) do(t *testing.T, method, path string, headers ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// get reads path with the token.
func (f *fixture) get(t *testing.T, path string) (int, []byte) {
	t.Helper()
	return f.do(t, http.MethodGet, path, "X-Aws-Parameters-Secrets-Token", token)
}

// value reads path with the token and decodes the answer.
func (f *fixture) value(t *testing.T, path string) answer {
	t.Helper()
	status, body := f.get(t, path)
	return decode(t, status, body)
}

func (f *fixture) create(t *testing.T, name, value string) *secretsmanager.CreateSecretOutput {
	t.Helper()
	out, err := f.sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (f *fixture) put(t *testing.T, name, value string) *secretsmanager.PutSecretValueOutput {
	t.Helper()
	out, err := f.sm.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(value)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// reads is how many reads of secrets have reached the server.
func (f *fixture) reads() int {
	return f.ts.Faults.Count("GetSecretValue") + f.ts.Faults.Count("DescribeSecret")
}

// answer is the AWS agent's JSON answer to a get, decoded.
type answer struct {
	ARN, Name, VersionId      string
	SecretString              *string
	SecretBinary              []byte
	VersionStages             []string
	CreatedDate               any
	members                   []string // in order
	createdDateIsStringOfSecs bool
}

var secondsRE = regexp.MustCompile(`^[0-9]+(\.[0-9]{1,3})?$`)

// decode reads a get's body, noting the order of its members, and fails t when it is not
// one. It never prints the value.
func decode(t *testing.T, status int, body []byte) answer {
	t.Helper()
	if status != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", status, body)
	}
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("the body is not the JSON of a value: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.Token() // {
	for dec.More() {
		tok, _ := dec.Token()
		a.members = append(a.members, tok.(string))
		var skip json.RawMessage
		dec.Decode(&skip)
	}
	s, ok := a.CreatedDate.(string)
	a.createdDateIsStringOfSecs = ok && secondsRE.MatchString(s)
	return a
}

// TestAgentPing: /ping answers "healthy" without a token, and even with X-Forwarded-For.
func TestAgentPing(t *testing.T) {
	f := start(t, agent.Config{TTL: agent.DefaultTTL})
	for _, h := range [][]string{nil, {"X-Forwarded-For", "10.0.0.1"}} {
		status, body := f.do(t, http.MethodGet, "/ping", h...)
		if status != http.StatusOK || string(body) != "healthy" {
			t.Errorf("ping with %q: %d %q, want 200 \"healthy\"", h, status, body)
		}
	}
}

// TestAgentTokenAndForwardedChecks: the AWS agent's answers to a missing or wrong token,
// X-Forwarded-For and another method than GET, in its order of checks; the right token in
// either header is accepted.
func TestAgentTokenAndForwardedChecks(t *testing.T) {
	f := start(t, agent.Config{TTL: agent.DefaultTTL})
	f.create(t, "app/token-check", "value-1")
	const path = "/secretsmanager/get?secretId=app/token-check"
	cases := []struct {
		name    string
		method  string
		path    string
		headers []string
		status  int
		body    string
	}{
		{"no token", "GET", path, nil, 403, "Bad Token"},
		{"wrong token", "GET", path, []string{"X-Aws-Parameters-Secrets-Token", token + "x"}, 403, "Bad Token"},
		{"token prefix", "GET", path, []string{"X-Aws-Parameters-Secrets-Token", token[:5]}, 403, "Bad Token"},
		{"token in another header", "GET", path, []string{"Authorization", token}, 403, "Bad Token"},
		{"wrong token on /v1/", "GET", "/v1/app/token-check", []string{"X-Vault-Token", "nope"}, 403, "Bad Token"},
		{"wrong token on an unknown path", "GET", "/nope", nil, 403, "Bad Token"},
		{"forwarded", "GET", path, []string{"X-Aws-Parameters-Secrets-Token", token, "X-Forwarded-For", "203.0.113.7"}, 400, "Forwarded"},
		{"forwarded, empty", "GET", path, []string{"X-Aws-Parameters-Secrets-Token", token, "X-Forwarded-For", ""}, 400, "Forwarded"},
		{"forwarded before the token", "GET", path, []string{"X-Forwarded-For", "203.0.113.7"}, 400, "Forwarded"},
		{"POST without token", "POST", path, nil, 403, "Bad Token"},
		{"POST", "POST", path, []string{"X-Aws-Parameters-Secrets-Token", token}, 405, "Not allowed"},
		{"PUT", "PUT", path, []string{"X-Vault-Token", token}, 405, "Not allowed"},
		{"POST /ping", "POST", "/ping", nil, 405, "Not allowed"},
		{"unknown path", "GET", "/nope", []string{"X-Vault-Token", token}, 404, "Not found"},
	}
	for _, c := range cases {
		status, body := f.do(t, c.method, c.path, c.headers...)
		if status != c.status || string(body) != c.body {
			t.Errorf("%s: %d %q, want %d %q", c.name, status, body, c.status, c.body)
		}
	}
	for _, h := range agent.DefaultTokenHeaders {
		status, body := f.do(t, "GET", path, h, token)
		a := decode(t, status, body)
		if a.SecretString == nil || *a.SecretString != "value-1" {
			t.Errorf("token in %s: the SecretString is not the secret's", h)
		}
	}
}

// TestAgentGetFormat: a get answers the AWS agent's JSON: its members in its order,
// CreatedDate a string of seconds equal to the version's creation time, a SecretBinary in
// base64; /v1/<id> answers the same as /secretsmanager/get.
func TestAgentGetFormat(t *testing.T) {
	f := start(t, agent.Config{TTL: agent.DefaultTTL})
	created := f.create(t, "app/db", `{"user":"u","password":"p\"<&>\n"}`)
	gsv, err := f.sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/db")})
	if err != nil {
		t.Fatal(err)
	}

	status, body := f.get(t, "/secretsmanager/get?secretId=app%2Fdb")
	a := decode(t, status, body)
	if want := []string{"ARN", "Name", "VersionId", "SecretString", "VersionStages", "CreatedDate"}; !slices.Equal(a.members, want) {
		t.Errorf("members %q, want %q", a.members, want)
	}
	if a.ARN != *created.ARN || a.Name != "app/db" || a.VersionId != *created.VersionId {
		t.Errorf("ARN, Name, VersionId = %q, %q, %q; want %q, %q, %q", a.ARN, a.Name, a.VersionId, *created.ARN, "app/db", *created.VersionId)
	}
	if a.SecretString == nil || *a.SecretString != *gsv.SecretString {
		t.Error("the SecretString is not the secret's")
	}
	if !slices.Equal(a.VersionStages, []string{"AWSCURRENT"}) {
		t.Errorf("VersionStages %q, want [AWSCURRENT]", a.VersionStages)
	}
	if !a.createdDateIsStringOfSecs {
		t.Fatalf("CreatedDate %#v, want a string of seconds such as \"1569534789.046\"", a.CreatedDate)
	}
	secs, _ := strconv.ParseFloat(a.CreatedDate.(string), 64)
	if got := time.UnixMilli(int64(secs*1000 + 0.5)); !got.Equal(gsv.CreatedDate.Truncate(time.Millisecond)) {
		t.Errorf("CreatedDate %v, want %v", got, *gsv.CreatedDate)
	}

	// The path style, with the name unescaped and escaped.
	for _, p := range []string{"/v1/app/db", "/v1/app%2Fdb"} {
		status, body2 := f.get(t, p)
		if status != 200 || !bytes.Equal(body2, body) {
			t.Errorf("%s: status %d, and the body differs from /secretsmanager/get's", p, status)
		}
	}

	// A binary secret.
	bin := []byte{0, 1, 2, 0xff, 'x'}
	if _, err := f.sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String("app/bin"), SecretBinary: bin}); err != nil {
		t.Fatal(err)
	}
	status, body = f.get(t, "/v1/app/bin")
	a = decode(t, status, body)
	if want := []string{"ARN", "Name", "VersionId", "SecretBinary", "VersionStages", "CreatedDate"}; !slices.Equal(a.members, want) {
		t.Errorf("binary: members %q, want %q", a.members, want)
	}
	if !bytes.Equal(a.SecretBinary, bin) {
		t.Error("binary: the SecretBinary is not the secret's")
	}
	var raw map[string]any
	json.Unmarshal(body, &raw)
	if raw["SecretBinary"] != base64.StdEncoding.EncodeToString(bin) {
		t.Error("binary: the SecretBinary is not standard base64")
	}
}

// TestAgentVersions: versionStage and versionId read the versions they name, by either path.
func TestAgentVersions(t *testing.T) {
	f := start(t, agent.Config{TTL: agent.DefaultTTL})
	first := f.create(t, "app/rotating", "first")
	second := f.put(t, "app/rotating", "second")
	cases := []struct {
		path, want, version string
		stages              []string
	}{
		{"/secretsmanager/get?secretId=app/rotating", "second", *second.VersionId, []string{"AWSCURRENT"}},
		{"/secretsmanager/get?secretId=app/rotating&versionStage=AWSPREVIOUS", "first", *first.VersionId, []string{"AWSPREVIOUS"}},
		{"/v1/app/rotating?versionStage=AWSPREVIOUS", "first", *first.VersionId, []string{"AWSPREVIOUS"}},
		{"/secretsmanager/get?secretId=app/rotating&versionId=" + *first.VersionId, "first", *first.VersionId, []string{"AWSPREVIOUS"}},
		{"/v1/app/rotating?versionId=" + *second.VersionId + "&versionStage=AWSCURRENT", "second", *second.VersionId, []string{"AWSCURRENT"}},
	}
	for _, c := range cases {
		status, body := f.get(t, c.path)
		a := decode(t, status, body)
		if a.SecretString == nil || *a.SecretString != c.want {
			t.Errorf("%s: the SecretString is not version %q's", c.path, c.want)
		}
		if a.VersionId != c.version || !slices.Equal(a.VersionStages, c.stages) {
			t.Errorf("%s: VersionId %q, VersionStages %q; want %q, %q", c.path, a.VersionId, a.VersionStages, c.version, c.stages)
		}
	}
}

// TestAgentRequestErrors: the AWS agent's answers to requests it cannot parse, and the
// service's errors passed through as its JSON with its status.
func TestAgentRequestErrors(t *testing.T) {
	f := start(t, agent.Config{TTL: agent.DefaultTTL})
	f.create(t, "app/x", "x")
	cases := []struct {
		path   string
		status int
		body   string
	}{
		{"/secretsmanager/get", 400, "missing parameter secretId"},
		{"/secretsmanager/get?secretId=", 400, "missing parameter secretId"},
		{"/secretsmanager/get?versionStage=AWSCURRENT", 400, "missing parameter secretId"},
		{"/v1/", 400, "missing secret ID"},
		{"/secretsmanager/get?secretId=app/x&abc=123", 400, "unknown parameter: abc"},
		{"/v1/app/x?secretId=app/x", 400, "unknown parameter: secretId"},
		{"/secretsmanager/get?secretId=app/x&refreshNow=maybe", 400, "invalid refreshNow value"},
		{"/secretsmanager/get?secretId=app/missing", 400,
			`{"__type":"ResourceNotFoundException", "message":"Secrets Manager can't find the specified secret."}`},
		{"/v1/app/x?versionStage=NOPE", 400,
			`{"__type":"ResourceNotFoundException", "message":"Secrets Manager can't find the specified secret value for staging label: NOPE"}`},
	}
	for _, c := range cases {
		status, body := f.get(t, c.path)
		if status != c.status || string(body) != c.body {
			t.Errorf("%s: %d %s, want %d %s", c.path, status, body, c.status, c.body)
		}
	}
	for _, p := range []string{"/secretsmanager/get?secretId=app/x&refreshNow=TRUE", "/v1/app/x?refreshNow=0", "/v1/app/x?refreshNow=1&refreshNow=false"} {
		if status, body := f.get(t, p); status != 200 {
			t.Errorf("%s: %d %s, want 200", p, status, body)
		}
	}
}

// TestAgentCache: within the TTL a get reaches no server; refreshNow=true reads the service
// at once, and returns a value put since.
func TestAgentCache(t *testing.T) {
	f := start(t, agent.Config{TTL: agent.DefaultTTL})
	f.create(t, "app/cached", "v1")
	const path = "/secretsmanager/get?secretId=app/cached"
	f.value(t, path)
	n := f.reads()
	for range 3 {
		f.value(t, path)
		f.value(t, "/v1/app/cached") // the same key: the id as spelled, and the version
	}
	if got := f.reads(); got != n {
		t.Errorf("gets within the TTL made %d reads of the server, want 0", got-n)
	}

	gsv := f.ts.Faults.Count("GetSecretValue")
	f.value(t, path+"&refreshNow=true")
	if f.ts.Faults.Count("GetSecretValue") != gsv+1 {
		t.Errorf("refreshNow=true made %d GetSecretValue, want 1", f.ts.Faults.Count("GetSecretValue")-gsv)
	}

	f.put(t, "app/cached", "v2")
	a := f.value(t, path)
	if a.SecretString == nil || *a.SecretString != "v1" {
		t.Error("within the TTL, the cached value should still be served")
	}
	a = f.value(t, path+"&refreshNow=true")
	if a.SecretString == nil || *a.SecretString != "v2" {
		t.Error("refreshNow=true did not return the value put since")
	}
	a = f.value(t, path)
	if a.SecretString == nil || *a.SecretString != "v2" {
		t.Error("after refreshNow=true, the cache does not hold the new value")
	}

	// Past the TTL the value is refreshed.
	f.put(t, "app/cached", "v3")
	f.clock.Advance(agent.DefaultTTL + time.Second)
	a = f.value(t, path)
	if a.SecretString == nil || *a.SecretString != "v3" {
		t.Error("past the TTL, the value put since was not read")
	}
}

// TestAgentTTLZero: with a TTL of 0 every get reads the service.
func TestAgentTTLZero(t *testing.T) {
	f := start(t, agent.Config{TTL: 0})
	f.create(t, "app/uncached", "v1")
	for i := range 3 {
		before := f.ts.Faults.Count("GetSecretValue")
		f.value(t, "/secretsmanager/get?secretId=app/uncached")
		if got := f.ts.Faults.Count("GetSecretValue") - before; got != 1 {
			t.Errorf("get %d made %d GetSecretValue, want 1", i, got)
		}
	}
	f.put(t, "app/uncached", "v2")
	a := f.value(t, "/v1/app/uncached")
	if a.SecretString == nil || *a.SecretString != "v2" {
		t.Error("with TTL 0, the value put since was not read")
	}
	before := f.ts.Faults.Count("GetSecretValue")
	f.value(t, "/v1/app/uncached?refreshNow=true")
	if f.ts.Faults.Count("GetSecretValue") == before {
		t.Error("refreshNow=true with TTL 0 made no GetSecretValue")
	}
}

// TestAgentServesLastValueThroughTransientErrors: past the TTL, while the service answers
// 503, the last value is served; with refreshNow=true, the error is the answer, and the
// value held is still served to the reads that follow, as in the AWS agent.
func TestAgentServesLastValueThroughTransientErrors(t *testing.T) {
	f := start(t, agent.Config{TTL: agent.DefaultTTL})
	f.create(t, "app/steady", "v1")
	const path = "/secretsmanager/get?secretId=app/steady"
	f.value(t, path)

	f.ts.Faults.SetDown(true)
	f.clock.Advance(agent.DefaultTTL + time.Second)
	before := f.reads()
	a := f.value(t, path)
	if a.SecretString == nil || *a.SecretString != "v1" {
		t.Error("the last value was not served while the service was down")
	}
	if f.reads() == before {
		t.Error("past the TTL, the agent did not ask the service")
	}
	if s := f.agent.Stats(); s.StaleServes == 0 {
		t.Errorf("Stats.StaleServes = 0 after serving the last value")
	}
	status, body := f.get(t, path+"&refreshNow=true")
	if status != http.StatusServiceUnavailable || !bytes.HasPrefix(body, []byte(`{"__type":"ServiceUnavailableException", "message":`)) {
		t.Errorf("refreshNow=true while down: %d %s, want 503 ServiceUnavailableException", status, body)
	}
	// The failed refreshNow kept the value: the next reads, within the probe interval
	// and past it (asking the service again), still get it.
	for _, wait := range []time.Duration{0, cache.DefaultProbeInterval} {
		f.clock.Advance(wait)
		before := f.reads()
		a = f.value(t, path)
		if a.SecretString == nil || *a.SecretString != "v1" {
			t.Errorf("%v after a failed refreshNow=true, the value held was not served", wait)
		}
		if asked := f.reads() != before; asked != (wait > 0) {
			t.Errorf("%v after a failed refreshNow=true: asked the service %v, want %v", wait, asked, wait > 0)
		}
	}

	f.ts.Faults.SetDown(false)
	f.value(t, path)
}

// TestAgentServesLastValueWhenServerGone: with the server process gone (connections
// refused), a read past the TTL gets the value held; refreshNow=true gets the AWS agent's
// 502 ConnectionError and leaves that value to the reads that follow.
func TestAgentServesLastValueWhenServerGone(t *testing.T) {
	f := start(t, agent.Config{TTL: agent.DefaultTTL})
	f.create(t, "app/steady", "v1")
	const path = "/v1/app/steady"
	f.value(t, path)

	f.ts.Close()
	f.clock.Advance(agent.DefaultTTL + time.Second)
	status, body := f.get(t, path)
	a := decode(t, status, body)
	if a.SecretString == nil || *a.SecretString != "v1" {
		t.Error("with the server gone, past the TTL, the value held was not served")
	}
	if s := f.agent.Stats(); s.StaleServes != 1 || s.Retries == 0 {
		t.Errorf("stats %+v: want one stale serve, after retries", s)
	}

	status, body = f.get(t, path+"?refreshNow=true")
	if want := `{"__type":"ConnectionError", "message":"Read Error"}`; status != http.StatusBadGateway || string(body) != want {
		t.Errorf("refreshNow=true with the server gone: %d %s, want 502 %s", status, body, want)
	}
	f.clock.Advance(cache.DefaultProbeInterval)
	a = f.value(t, path)
	if a.SecretString == nil || *a.SecretString != "v1" {
		t.Error("after a failed refreshNow=true with the server gone, the value held was not served")
	}
}

// TestAgentUnreachableService: a service that cannot be reached answers 502
// ConnectionError, as the AWS agent answers.
func TestAgentUnreachableService(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	sm := secretsmanager.NewFromConfig(aws.Config{Region: "us-east-1", RetryMaxAttempts: 1,
		Credentials: aws.AnonymousCredentials{}},
		func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String("http://" + addr) })
	f := startWith(t, nil, sm, agent.Config{TTL: agent.DefaultTTL})
	status, body := f.get(t, "/secretsmanager/get?secretId=app/x")
	if want := `{"__type":"ConnectionError", "message":"Read Error"}`; status != http.StatusBadGateway || string(body) != want {
		t.Errorf("%d %s, want 502 %s", status, body, want)
	}
}

// TestAgentMaxConn: a request on a connection beyond max_conn is answered 429; pings have
// two connections more; once a connection closes, requests are served again.
func TestAgentMaxConn(t *testing.T) {
	f := start(t, agent.Config{TTL: agent.DefaultTTL, MaxConn: 1})
	f.create(t, "app/busy", "v")
	held, err := net.Dial("tcp", f.url[len("http://"):])
	if err != nil {
		t.Fatal(err)
	}
	// The held connection is accepted first (one accept loop, in order), so this one is
	// the second open.
	status, body := f.get(t, "/v1/app/busy")
	if status != http.StatusTooManyRequests || string(body) != "Connection limit exceeded" {
		t.Errorf("beyond max_conn: %d %q, want 429 \"Connection limit exceeded\"", status, body)
	}
	if status, body := f.do(t, "GET", "/ping"); status != 200 || string(body) != "healthy" {
		t.Errorf("ping beyond max_conn: %d %q, want 200 healthy", status, body)
	}
	held.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, _ := f.get(t, "/v1/app/busy")
		if status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the held connection closed, status %d, want 200", status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAgentNew: New refuses what the AWS agent refuses to start with.
func TestAgentNew(t *testing.T) {
	sm := secretsmanager.New(secretsmanager.Options{Region: "us-east-1"})
	ok := agent.Config{Client: sm, Token: "t", TTL: agent.DefaultTTL}
	if _, err := agent.New(ok); err != nil {
		t.Fatalf("New: %v", err)
	}
	for name, mod := range map[string]func(*agent.Config){
		"no token":     func(c *agent.Config) { c.Token = "" },
		"no client":    func(c *agent.Config) { c.Client = nil },
		"ttl 3601s":    func(c *agent.Config) { c.TTL = 3601 * time.Second },
		"ttl negative": func(c *agent.Config) { c.TTL = -time.Second },
		"cache 1001":   func(c *agent.Config) { c.CacheSize = 1001 },
		"cache -1":     func(c *agent.Config) { c.CacheSize = -1 },
		"max conn":     func(c *agent.Config) { c.MaxConn = 1001 },
		"prefix":       func(c *agent.Config) { c.PathPrefix = "v1/" },
		"header":       func(c *agent.Config) { c.TokenHeaders = []string{""} },
	} {
		c := ok
		mod(&c)
		if _, err := agent.New(c); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

// TestTokenFromEnv: the first variable set and not empty wins; file:// reads a file,
// trimmed; none set is an error that names the variables and no value.
func TestTokenFromEnv(t *testing.T) {
	files := map[string]string{"/run/tok": "  from-file\n", "/run/empty": "\n"}
	readFile := func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, errors.New("no such file")
	}
	cases := []struct {
		env     map[string]string
		names   []string
		want    string
		wantErr bool
	}{
		{map[string]string{"AWS_TOKEN": "a", "AWS_SESSION_TOKEN": "b"}, nil, "a", false},
		{map[string]string{"AWS_SESSION_TOKEN": "b", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "c"}, nil, "b", false},
		{map[string]string{"AWS_TOKEN": "", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "c"}, nil, "c", false},
		{map[string]string{"AWS_TOKEN": "file:///run/tok"}, nil, "from-file", false},
		{map[string]string{"AWS_TOKEN": "file:///run/empty"}, nil, "", true},
		{map[string]string{"AWS_TOKEN": "file:///run/missing"}, nil, "", true},
		{map[string]string{"MINE": "m", "AWS_TOKEN": "a"}, []string{"MINE"}, "m", false},
		{map[string]string{"AWS_TOKEN": "a"}, []string{"MINE"}, "", true},
		{nil, nil, "", true},
	}
	for i, c := range cases {
		lookup := func(k string) (string, bool) { v, ok := c.env[k]; return v, ok }
		got, err := agent.TokenFromEnv(c.names, lookup, readFile)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("case %d: %q, %v; want %q, error %v", i, got, err, c.want, c.wantErr)
		}
	}
	_, err := agent.TokenFromEnv(nil, func(string) (string, bool) { return "", false }, nil)
	if err == nil || !regexp.MustCompile(`AWS_TOKEN, AWS_SESSION_TOKEN, AWS_CONTAINER_AUTHORIZATION_TOKEN`).MatchString(err.Error()) {
		t.Errorf("no token: %v, want an error naming the variables", err)
	}
}
