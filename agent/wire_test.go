package agent

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/coffer-project/coffer/cache"
)

// TestAppendSeconds: CreatedDate as the AWS agent writes it, the shortest decimal of the
// float64 of the seconds.
func TestAppendSeconds(t *testing.T) {
	cases := []struct {
		sec  int64
		nsec int
		want string
	}{
		{1569534789, 46_000_000, "1569534789.046"},
		{1569534789, 0, "1569534789"},
		{1569534789, 500_000_000, "1569534789.5"},
		{1700000000, 123_000_000, "1700000000.123"},
		{0, 0, "0"},
	}
	for _, c := range cases {
		if got := string(appendSeconds(nil, c.sec, c.nsec)); got != c.want {
			t.Errorf("appendSeconds(%d, %d) = %s, want %s", c.sec, c.nsec, got, c.want)
		}
	}
}

// TestAppendStringDecodes: every string escapes to JSON that decodes back to it (invalid
// UTF-8 to U+FFFD, as encoding/json decodes it), and only what serde_json escapes is.
func TestAppendStringDecodes(t *testing.T) {
	cases := []string{"", "plain", `q"b\s`, "<a&b>", "\u2028", "é漢字🙂", "\xff", "\x00\x1f\x7f", "\b\f\n\r\t"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		enc := appendString(nil, []byte(s))
		var got string
		if err := json.Unmarshal(enc, &got); err != nil {
			t.Fatalf("%q encodes to invalid JSON %s: %v", s, enc, err)
		}
		want, _ := json.Marshal(s) // encoding/json's replacement of invalid UTF-8
		var wantS string
		json.Unmarshal(want, &wantS)
		if got != wantS {
			t.Errorf("%q round-trips to %q", s, got)
		}
	}
	if got := string(appendString(nil, []byte("<&>\u2028\x01"))); got != "\"<&>\u2028\\u0001\"" {
		t.Errorf("serde_json leaves <, &, > and U+2028 alone: got %s", got)
	}
}

// TestAppendValueGolden: the whole body, byte for byte, for a value with every member and
// one with none of the optional ones.
func TestAppendValueGolden(t *testing.T) {
	v := cache.Value{
		Name: "MyTest", ARN: "arn:aws:secretsmanager:us-west-2:123456789012:secret:MyTest-NhBWsc",
		VersionID: "5767290c-d089-49ed-b97c-17086f8c9d79", VersionStages: []string{"AWSCURRENT"},
		CreatedDate: time.Unix(1569534789, 46_000_000),
	}
	// A Value's bytes are unexported; test through a Value with none, then the empty string.
	got := string(appendValue(nil, v))
	want := `{"ARN":"arn:aws:secretsmanager:us-west-2:123456789012:secret:MyTest-NhBWsc","Name":"MyTest",` +
		`"VersionId":"5767290c-d089-49ed-b97c-17086f8c9d79","SecretString":"","VersionStages":["AWSCURRENT"],` +
		`"CreatedDate":"1569534789.046"}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	got = string(appendValue(nil, cache.Value{}))
	if want := `{"ARN":null,"Name":null,"VersionId":null,"SecretString":"","CreatedDate":null}`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestParseParams: the AWS agent's query parameters, in order, the last of a name winning.
func TestParseParams(t *testing.T) {
	q, err := parseQuery("secretId=a%2Fb&versionStage=S&versionId=V&refreshNow=1&secretId=c+d")
	if err != nil || q != (query{secretID: "c d", versionID: "V", versionStage: "S", refreshNow: true}) {
		t.Errorf("got %+v, %v", q, err)
	}
	for raw, want := range map[string]string{
		"x=1&y=2":                  "unknown parameter: x",
		"secretId=a&refreshNow=":   "invalid refreshNow value",
		"secretId=%zz":             "invalid query string",
		"&&versionId=v":            "missing parameter secretId",
		"secretId=a&&refreshNow=2": "invalid refreshNow value",
	} {
		if _, err := parseQuery(raw); err == nil || err.body != want {
			t.Errorf("%q: %v, want %q", raw, err, want)
		}
	}
}

// TestParseFile: the AWS agent's configuration keys; unknown keys and wrong kinds refused.
func TestParseFile(t *testing.T) {
	f, err := ParseFile([]byte(`
# comment
log_level = "DEBUG"   # trailing comment
http_port = "2774"
ttl_seconds = 60
cache_size = 10
max_conn = '5'
path_prefix = "/v2/"
region = "eu-west-1"
ssrf_headers = ["X-A", 'X-B#1']
ssrf_env_variables = []
ignore_transient_errors = false
log_to_file = true
validate_credentials = false
http_address = "127.0.0.1"
`))
	if err != nil {
		t.Fatal(err)
	}
	if *f.LogLevel != "DEBUG" || *f.HTTPPort != 2774 || *f.TTLSeconds != 60 || *f.CacheSize != 10 || *f.MaxConn != 5 ||
		*f.PathPrefix != "/v2/" || *f.Region != "eu-west-1" || *f.IgnoreTransientErrors ||
		!slices.Equal(f.TokenHeaders, []string{"X-A", "X-B#1"}) || f.TokenEnv == nil || len(f.TokenEnv) != 0 {
		t.Errorf("parsed %+v", f)
	}
	for _, bad := range []string{
		"ttl = 5", "ttl_seconds = five", "ttl_seconds", "[server]", `ssrf_headers = "X"`, `ssrf_headers = ["X" "Y"]`,
		`region = eu`, `ignore_transient_errors = yes`, "ttl_seconds = 1\nttl_seconds = 2", `log_level = "x`,
	} {
		if _, err := ParseFile([]byte(bad)); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func FuzzParseFile(f *testing.F) {
	f.Add([]byte("ttl_seconds = 60\nssrf_headers = [\"a\", 'b']\nregion = \"x\" # c"))
	f.Add([]byte(`ssrf_env_variables = ["A\"#", "B"]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ParseFile(data) // must not panic
	})
}

func FuzzParseQuery(f *testing.F) {
	f.Add("secretId=a%2Fb&versionStage=S&refreshNow=true")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseQuery(raw)
		if err == nil && q.secretID == "" {
			t.Fatal("a query without secretId was accepted")
		}
	})
}
