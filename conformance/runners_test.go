package conformance_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
)

// result is one step's answer as every runner reports it: the output with blobs as
// {"$base64": "…"}, timestamps as strings or numbers and no response metadata, or the error's
// code and message.
type result struct {
	OK     bool           `json:"ok"`
	Output map[string]any `json:"output,omitempty"`
	Error  *apiError      `json:"error,omitempty"`
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// A runner calls Secrets Manager operations through one client. An error from Call means the
// runner itself broke (not that the service answered with an error).
type runner interface {
	Call(op string, input map[string]any) (result, error)
	Close()
}

// client is one of the clients every scenario runs through.
type client struct {
	name  string
	slow  bool // runs only the scenarios marked "cli"
	start func(t *testing.T, e *env) runner
}

// env is what a runner needs to reach the server.
type env struct {
	endpoint, region string
	creds            aws.Credentials
	dataPath         string // AWS_DATA_PATH with current models, for botocore-based clients; "" if missing
	dataPathErr      error
}

// vars returns the environment of a client process: the server's credentials and nothing of
// the caller's AWS configuration (HOME is empty), retries off.
func (e *env) vars(t *testing.T) []string {
	v := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"AWS_ACCESS_KEY_ID=" + e.creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + e.creds.SecretAccessKey,
		"AWS_REGION=" + e.region, "AWS_DEFAULT_REGION=" + e.region,
		"AWS_MAX_ATTEMPTS=1", "AWS_RETRY_MODE=standard", "AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=",
	}
	for _, k := range []string{"PYENV_VERSION", "PYENV_ROOT"} {
		if s, ok := os.LookupEnv(k); ok {
			v = append(v, k+"="+s)
		}
	}
	if e.dataPath != "" {
		v = append(v, "AWS_DATA_PATH="+e.dataPath)
	}
	return v
}

// need skips when a client is missing on a developer's machine, and fails under CI (the same
// rule as cmd/coffer's end-to-end tests).
func need(t *testing.T, ok bool, format string, args ...any) {
	t.Helper()
	if ok {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("required under CI=true: %s", msg)
	}
	t.Skipf("skipping: %s", msg)
}

func lookPath(t *testing.T, bin string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	need(t, err == nil, "%s not found (%v); .ci/run installs it", bin, err)
	return p
}

func clients() []client {
	return []client{
		{name: "go", start: startGo},
		{name: "boto3-pip", start: startBoto3("python3")},
		{name: "boto3-debian", start: startBoto3("/usr/bin/python3")},
		{name: "js", start: startJS},
		{name: "aws-cli-v1-pip", slow: true, start: startCLI("aws")},
		{name: "aws-cli-v2-debian", slow: true, start: startCLI("/usr/bin/aws")},
	}
}

// ---- aws-sdk-go-v2, in process ----

type goRunner struct {
	client *secretsmanager.Client
	rec    *recorder // the wire exchanges, for the golden files
}

func startGo(t *testing.T, e *env) runner {
	// go.mod's requirement is the version compiled in (the build info of a test binary does
	// not list its dependencies).
	version := "unknown"
	if b, err := os.ReadFile(filepath.Join("..", "go.mod")); err == nil {
		if m := regexp.MustCompile(`(?m)^\s*github.com/aws/aws-sdk-go-v2/service/secretsmanager (\S+)`).FindSubmatch(b); m != nil {
			version = string(m[1])
		}
	}
	t.Logf("client: aws-sdk-go-v2 service/secretsmanager %s (in process)", version)
	rec := &recorder{}
	cfg := aws.Config{
		Region:           e.region,
		Credentials:      credentials.NewStaticCredentialsProvider(e.creds.AccessKeyID, e.creds.SecretAccessKey, ""),
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{Transport: rec, Timeout: 30 * time.Second},
	}
	return &goRunner{secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(e.endpoint) }), rec}
}

// Call calls the client method named op with the input decoded into its typed *<op>Input.
func (g *goRunner) Call(op string, input map[string]any) (result, error) {
	m := reflect.ValueOf(g.client).MethodByName(op)
	if !m.IsValid() {
		return result{}, fmt.Errorf("aws-sdk-go-v2 has no operation %s", op)
	}
	in := reflect.New(m.Type().In(1).Elem())
	b, err := json.Marshal(unwrapBlobs(input))
	if err != nil {
		return result{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(in.Interface()); err != nil {
		return result{}, fmt.Errorf("input does not fit %s: %w", in.Type().Elem().Name(), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := m.Call([]reflect.Value{reflect.ValueOf(ctx), in})
	if err, _ := out[1].Interface().(error); err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return result{Error: &apiError{Code: ae.ErrorCode(), Message: ae.ErrorMessage()}}, nil
		}
		return result{}, err
	}
	tree, _ := goValue(out[0])
	// A round trip through JSON gives the same types (float64, map[string]any) as the others.
	b, err = json.Marshal(tree)
	if err != nil {
		return result{}, err
	}
	res := result{OK: true}
	return res, json.Unmarshal(b, &res.Output)
}

func (g *goRunner) Close() {}

// unwrapBlobs turns {"$base64": s} into s, which encoding/json decodes into a []byte.
func unwrapBlobs(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if s, ok := v["$base64"]; ok && len(v) == 1 {
			return s
		}
		out := map[string]any{}
		for k, e := range v {
			out[k] = unwrapBlobs(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = unwrapBlobs(e)
		}
		return out
	}
	return v
}

var timeType = reflect.TypeFor[time.Time]()

// goValue converts an SDK output value to the runners' common form; ok is false for a value
// the SDK leaves unset (nil pointers, slices and maps, empty enums).
func goValue(v reflect.Value) (any, bool) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil, false
		}
		return goValue(v.Elem())
	case reflect.Struct:
		if v.Type() == timeType {
			return v.Interface().(time.Time).UTC().Format(time.RFC3339Nano), true
		}
		out := map[string]any{}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() || f.Name == "ResultMetadata" {
				continue
			}
			if e, ok := goValue(v.Field(i)); ok {
				out[f.Name] = e
			}
		}
		return out, true
	case reflect.Slice:
		if v.IsNil() {
			return nil, false
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return map[string]any{"$base64": base64.StdEncoding.EncodeToString(v.Bytes())}, true
		}
		out := []any{}
		for i := range v.Len() {
			e, _ := goValue(v.Index(i))
			out = append(out, e)
		}
		return out, true
	case reflect.Map:
		if v.IsNil() {
			return nil, false
		}
		out := map[string]any{}
		for _, k := range v.MapKeys() {
			e, _ := goValue(v.MapIndex(k))
			out[k.String()] = e
		}
		return out, true
	case reflect.String:
		if v.Type() != reflect.TypeFor[string]() && v.String() == "" {
			return nil, false // an unset enum
		}
		return v.String(), true
	}
	return v.Interface(), true
}

// ---- boto3 and JavaScript: a process that answers one JSON line per JSON line ----

// procRunner talks to a runner process: it writes {"op","input"} lines and reads result lines.
// The process first prints {"client": "<name and version>"}.
type procRunner struct {
	cmd    *exec.Cmd
	stdin  interface{ Write([]byte) (int, error) }
	out    *bufio.Reader
	stderr *bytes.Buffer
	client string
}

func startProc(t *testing.T, cmd *exec.Cmd) *procRunner {
	t.Helper()
	p := &procRunner{cmd: cmd, stderr: &bytes.Buffer{}}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = p.stderr
	p.stdin, p.out = stdin, bufio.NewReader(stdout)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	line, err := p.readLine()
	var hello struct{ Client string }
	if err == nil {
		err = json.Unmarshal(line, &hello)
	}
	if err != nil || hello.Client == "" {
		t.Fatalf("%s did not start: %v %s\n%s", cmd.Path, err, line, p.stderr)
	}
	p.client = hello.Client
	return p
}

func (p *procRunner) readLine() ([]byte, error) {
	type read struct {
		b   []byte
		err error
	}
	ch := make(chan read, 1)
	go func() {
		b, err := p.out.ReadBytes('\n')
		ch <- read{b, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("runner stopped: %w\n%s", r.err, p.stderr)
		}
		return r.b, nil
	case <-time.After(60 * time.Second):
		p.cmd.Process.Kill()
		return nil, errors.New("runner did not answer within 60s")
	}
}

func (p *procRunner) Call(op string, input map[string]any) (result, error) {
	b, err := json.Marshal(map[string]any{"op": op, "input": input})
	if err != nil {
		return result{}, err
	}
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		return result{}, fmt.Errorf("runner stopped: %w\n%s", err, p.stderr)
	}
	line, err := p.readLine()
	if err != nil {
		return result{}, err
	}
	var r result
	if err := json.Unmarshal(line, &r); err != nil {
		return result{}, fmt.Errorf("runner answered %q: %w", line, err)
	}
	if !r.OK && r.Error == nil {
		return result{}, fmt.Errorf("runner answered neither output nor error: %s", line)
	}
	return r, nil
}

func (p *procRunner) Close() {
	if p.cmd.ProcessState == nil {
		if c, ok := p.stdin.(interface{ Close() error }); ok {
			c.Close()
		}
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-done
		}
	}
}

func startBoto3(python string) func(*testing.T, *env) runner {
	return func(t *testing.T, e *env) runner {
		bin := lookPath(t, python)
		need(t, e.dataPath != "", "current AWS models for AWS_DATA_PATH: %v", e.dataPathErr)
		probe := exec.Command(bin, "-c", "import boto3")
		probe.Env = e.vars(t)
		out, err := probe.CombinedOutput()
		need(t, err == nil, "%s has no boto3 (%v): %s", bin, err, out)
		cmd := exec.Command(bin, filepath.Join("runners", "boto3_runner.py"), e.endpoint)
		cmd.Env = e.vars(t)
		p := startProc(t, cmd)
		t.Logf("client: %s (%s)", p.client, bin)
		return p
	}
}

func startJS(t *testing.T, e *env) runner {
	bin := lookPath(t, "node")
	_, err := os.Stat(filepath.Join("js", "node_modules", "@aws-sdk", "client-secrets-manager", "package.json"))
	need(t, err == nil, "conformance/js has no node_modules (%v); run npm ci --prefix conformance/js", err)
	cmd := exec.Command(bin, filepath.Join("js", "runner.mjs"), e.endpoint)
	cmd.Env = e.vars(t)
	p := startProc(t, cmd)
	t.Logf("client: %s (%s)", p.client, bin)
	return p
}

// ---- the AWS CLI: one process per step ----

type cliRunner struct {
	bin, endpoint string
	env           []string
	model         *model
	tmp           string // blob files
	files         int
}

func startCLI(bin string) func(*testing.T, *env) runner {
	return func(t *testing.T, e *env) runner {
		path := lookPath(t, bin)
		need(t, e.dataPath != "", "current AWS models for AWS_DATA_PATH: %v", e.dataPathErr)
		m, err := loadModel(e.dataPath)
		if err != nil {
			t.Fatal(err)
		}
		r := &cliRunner{bin: path, endpoint: e.endpoint, env: e.vars(t), model: m, tmp: t.TempDir()}
		out, err := exec.Command(path, "--version").CombinedOutput()
		if err != nil {
			t.Fatalf("%s --version: %v %s", path, err, out)
		}
		t.Logf("client: %s (%s)", strings.TrimSpace(string(out)), path)
		return r
	}
}

// cliError is the CLI's one-line report of a service error.
var cliError = regexp.MustCompile(`(?s)An error occurred \(([A-Za-z0-9.]+)\) when calling the \w+ operation(?: \(reached max retries: \d+\))?: (.*)`)

// Call runs `aws secretsmanager <op> --cli-input-json <input>`. Top-level blob members go as
// fileb:// files, which every CLI version reads as raw bytes (inside --cli-input-json, CLI v1
// would send the text and v2 expects base64).
func (c *cliRunner) Call(op string, input map[string]any) (result, error) {
	args := []string{"secretsmanager", kebab(op), "--endpoint-url", c.endpoint, "--output", "json", "--no-paginate"}
	rest := map[string]any{}
	for k, v := range input {
		if m, ok := v.(map[string]any); ok {
			if s, ok := m["$base64"].(string); ok && len(m) == 1 {
				b, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					return result{}, err
				}
				c.files++
				file := filepath.Join(c.tmp, fmt.Sprintf("blob-%d", c.files))
				if err := os.WriteFile(file, b, 0o600); err != nil {
					return result{}, err
				}
				args = append(args, "--"+kebab(k), "fileb://"+file)
				continue
			}
		}
		if hasBlob(v) {
			return result{}, fmt.Errorf("the CLI runner passes only top-level blobs (%s)", k)
		}
		rest[k] = v
	}
	b, err := json.Marshal(rest)
	if err != nil {
		return result{}, err
	}
	args = append(args, "--cli-input-json", string(b))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = c.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if err != nil {
		if m := cliError.FindStringSubmatch(stderr.String()); m != nil {
			return result{Error: &apiError{Code: m[1], Message: strings.TrimSpace(m[2])}}, nil
		}
		if s, ok := strings.CutPrefix(strings.TrimSpace(stderr.String()), "Parameter validation failed:"); ok {
			return result{Error: &apiError{Code: "ParamValidationError", Message: strings.TrimSpace(s)}}, nil
		}
		return result{}, fmt.Errorf("%s %s: %v\n%s", c.bin, kebab(op), err, stderr.String())
	}
	res := result{OK: true, Output: map[string]any{}}
	if strings.TrimSpace(stdout.String()) != "" {
		if err := json.Unmarshal(stdout.Bytes(), &res.Output); err != nil {
			return result{}, fmt.Errorf("%s %s printed no JSON: %v", c.bin, kebab(op), err)
		}
	}
	// CLI 2.9 prints the response metadata of an operation that only the AWS_DATA_PATH models
	// know (BatchGetSecretValue); like the other runners, this one reports none.
	delete(res.Output, "ResponseMetadata")
	res.Output, _ = c.model.wrapBlobs(c.model.outputShape(op), res.Output).(map[string]any)
	return res, nil
}

func (c *cliRunner) Close() {}

func hasBlob(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		if _, ok := v["$base64"]; ok {
			return true
		}
		for _, e := range v {
			if hasBlob(e) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if hasBlob(e) {
				return true
			}
		}
	}
	return false
}

// kebab turns an AWS name into the CLI's: GetSecretValue → get-secret-value.
func kebab(s string) string {
	r := []rune(s)
	var b strings.Builder
	for i, c := range r {
		if i > 0 && unicode.IsUpper(c) && (unicode.IsLower(r[i-1]) || unicode.IsDigit(r[i-1]) ||
			(unicode.IsUpper(r[i-1]) && i+1 < len(r) && unicode.IsLower(r[i+1]))) {
			b.WriteByte('-')
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

// model is the part of secretsmanager's service-2.json that tells which output members are
// blobs, which the CLI prints as base64 text.
type model struct {
	Operations map[string]struct {
		Output *struct{ Shape string }
	}
	Shapes map[string]struct {
		Type    string
		Members map[string]struct{ Shape string }
		Member  *struct{ Shape string }
		Value   *struct{ Shape string }
	}
}

func loadModel(dataPath string) (*model, error) {
	b, err := os.ReadFile(filepath.Join(dataPath, "secretsmanager", "2017-10-17", "service-2.json"))
	if err != nil {
		return nil, err
	}
	var m model
	return &m, json.Unmarshal(b, &m)
}

func (m *model) outputShape(op string) string {
	if o := m.Operations[op].Output; o != nil {
		return o.Shape
	}
	return ""
}

// wrapBlobs marks the blob members of v (of the given shape) as {"$base64": …}.
func (m *model) wrapBlobs(shape string, v any) any {
	s, ok := m.Shapes[shape]
	if !ok {
		return v
	}
	switch s.Type {
	case "blob":
		if str, ok := v.(string); ok {
			return map[string]any{"$base64": str}
		}
	case "structure":
		if obj, ok := v.(map[string]any); ok {
			for k, e := range obj {
				obj[k] = m.wrapBlobs(s.Members[k].Shape, e)
			}
		}
	case "list":
		if l, ok := v.([]any); ok && s.Member != nil {
			for i, e := range l {
				l[i] = m.wrapBlobs(s.Member.Shape, e)
			}
		}
	case "map":
		if obj, ok := v.(map[string]any); ok && s.Value != nil {
			for k, e := range obj {
				obj[k] = m.wrapBlobs(s.Value.Shape, e)
			}
		}
	}
	return v
}
