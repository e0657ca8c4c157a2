package conformance_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite conformance/golden/*.json from this run")

// The golden files hold, for each step of each scenario as aws-sdk-go-v2 runs it, the JSON
// request and response bodies on the wire, normalised: the scenario's name is ${name}, ARN
// suffixes are XXXXXX, generated UUIDs are numbered, timestamps, page tokens and generated
// passwords are placeholders. A change of the wire format then shows as a diff; run with
// -update to accept it.

// exchange is one request and its response.
type exchange struct {
	Op       string `json:"op"`
	Request  any    `json:"request"`
	Status   int    `json:"status,omitempty"`
	Response any    `json:"response"`
}

// recorder is an http.RoundTripper that keeps the bodies of every exchange.
type recorder struct {
	mu  sync.Mutex
	log []exchange
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	op := req.Header.Get("X-Amz-Target")
	r.mu.Lock()
	r.log = append(r.log, exchange{Op: op[strings.LastIndex(op, ".")+1:], Request: string(reqBody), Status: resp.StatusCode, Response: string(respBody)})
	r.mu.Unlock()
	return resp, nil
}

// note records a step that acts on the server instead of calling it ($advanceClock, $purge), so
// that the golden file shows where it happened.
func (r *recorder) note(op string, input any, output map[string]any) {
	in, _ := json.Marshal(input)
	out, _ := json.Marshal(output)
	r.mu.Lock()
	r.log = append(r.log, exchange{Op: op, Request: string(in), Response: string(out)})
	r.mu.Unlock()
}

// take returns the exchanges recorded since the last call.
func (r *recorder) take() []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.log
	r.log = nil
	return out
}

var (
	uuidPattern   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	arnSuffix     = regexp.MustCompile(`^(arn:aws:secretsmanager:[^:]+:)\d{12}(:secret:.*-)[A-Za-z0-9]{6}$`)
	volatileField = map[string]string{"NextToken": "<token>", "RandomPassword": "<password>"}
)

// normalise parses a body and replaces what differs from run to run; fixed is the scenario's
// own text, whose UUIDs (fixed ClientRequestTokens) stay as they are.
func normalise(body, name, fixed string, uuids map[string]string) any {
	if body == "" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(strings.ReplaceAll(body, name, "${name}")))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return body
	}
	var walk func(key string, v any) any
	walk = func(key string, v any) any {
		if p, ok := volatileField[key]; ok {
			return p
		}
		switch v := v.(type) {
		case json.Number:
			if strings.HasSuffix(key, "Date") {
				return "<timestamp>"
			}
		case string:
			if m := arnSuffix.FindStringSubmatch(v); m != nil {
				return m[1] + "<account>" + m[2] + "XXXXXX"
			}
			return uuid(v, fixed, uuids)
		case map[string]any:
			out := map[string]any{}
			for _, k := range sortedKeys(v) {
				out[uuid(k, fixed, uuids)] = walk(k, v[k])
			}
			return out
		case []any:
			for i, e := range v {
				v[i] = walk(key, e)
			}
		}
		return v
	}
	return walk("", v)
}

func uuid(s, fixed string, seen map[string]string) string {
	if !uuidPattern.MatchString(s) || strings.Contains(fixed, s) {
		return s
	}
	if _, ok := seen[s]; !ok {
		seen[s] = "<uuid-" + itoa(len(seen)+1) + ">"
	}
	return seen[s]
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// checkGolden compares the exchanges of a scenario with golden/<scenario>.json, or writes
// them there with -update.
func checkGolden(t *testing.T, sc *scenario, name string, ex []exchange) {
	t.Helper()
	fixed, _ := json.Marshal(sc.Steps)
	uuids := map[string]string{}
	for i := range ex {
		ex[i].Request = normalise(ex[i].Request.(string), name, string(fixed), uuids)
		ex[i].Response = normalise(ex[i].Response.(string), name, string(fixed), uuids)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(ex); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	file := filepath.Join("golden", sc.name+".json")
	if *update {
		if err := os.MkdirAll("golden", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("no golden file (run go test ./conformance -run TestConformance/clients/go -update): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the wire exchanges differ from %s (if the change is intended, rerun with -update and review the diff):\n%s", file, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the first differing lines of two texts.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + itoa(i+1) + ":\n  want " + wl + "\n  got  " + gl
		}
	}
	return ""
}
