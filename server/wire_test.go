package server

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coffer-project/coffer/awsapi"
	"github.com/coffer-project/coffer/core"
)

// TestGetSecretValueOutJSON: the hand-written encoding of GetSecretValue's response is
// encoding/json's, byte for byte.
func TestGetSecretValueOutJSON(t *testing.T) {
	text := core.Text("p<a>s\"s\\w\u2028\x01\xff")
	empty := core.Text("")
	for _, o := range []*getSecretValueOut{
		{ARN: "arn:aws:secretsmanager:us-east-1:111122223333:secret:a/b-AbCdEf", Name: "a/b", VersionId: "v1", SecretString: &text, VersionStages: []string{"AWSCURRENT", "x<y"}, CreatedDate: awsapi.TimePtr(time.UnixMilli(1569534789046))},
		{ARN: "a", Name: "n", VersionId: "v", SecretBinary: core.Blob{0, 1, 2, 0xff}, VersionStages: []string{}, CreatedDate: awsapi.TimePtr(time.UnixMilli(1569534789000))},
		{ARN: "a", Name: "n", VersionId: "v", SecretString: &empty, CreatedDate: awsapi.TimePtr(time.UnixMilli(1569534789050))},
		{ARN: "a", Name: "n", VersionId: "v", SecretBinary: core.Blob{}, VersionStages: nil},
		{ARN: "a", Name: "n", VersionId: "v", CreatedDate: awsapi.TimePtr(time.UnixMilli(1569534789005))},
	} {
		want, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if got := o.AppendJSON(nil); string(got) != string(want) {
			t.Fatalf("AppendJSON:\n%s\nencoding/json:\n%s", got, want)
		}
	}
}

func benchValueOut() *getSecretValueOut {
	text := core.Text(strings.Repeat("v", 1024))
	return &getSecretValueOut{ARN: "arn:aws:secretsmanager:us-east-1:111122223333:secret:bench/secret-AbCdEf", Name: "bench/secret", VersionId: "6b2a1c0e-3f4d-4e5f-8a9b-0c1d2e3f4a5b",
		SecretString: &text, VersionStages: []string{"AWSCURRENT"}, CreatedDate: awsapi.TimePtr(time.UnixMilli(1569534789046))}
}

// BenchmarkEncodeGetSecretValue is the encoding of a 1 KiB value's response, as the server
// writes it; BenchmarkEncodeGetSecretValueBaseline is encoding/json's.
func BenchmarkEncodeGetSecretValue(b *testing.B) {
	o := benchValueOut()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = o.AppendJSON(buf[:0])
	}
}

func BenchmarkEncodeGetSecretValueBaseline(b *testing.B) {
	o := benchValueOut()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(o); err != nil {
			b.Fatal(err)
		}
	}
}
