package server

import (
	"encoding/json"
	"math/rand/v2"
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

// TestSecretOutJSON: the hand-written encodings of DescribeSecret's response and of a
// ListSecrets page are encoding/json's, byte for byte, whichever members are set: the
// cases below, then random entries.
func TestSecretOutJSON(t *testing.T) {
	yes, no := true, false
	empty, some := []tagOut{}, []tagOut{{Key: "k<1>", Value: "v&\u2028"}, {Key: "", Value: ""}}
	at := awsapi.TimePtr(time.UnixMilli(1569534789046))
	cases := []*secretOut{
		{ARN: "a", Name: "n"},
		{ARN: "arn:aws:secretsmanager:us-east-1:111122223333:secret:a/b-AbCdEf", Name: "a/b", Description: "d\"\x01\xff", KmsKeyId: "k", Type: "t",
			RotationEnabled: &yes, RotationLambdaARN: "l", RotationRules: &rotationRulesOut{AutomaticallyAfterDays: 30, Duration: "2h", ScheduleExpression: "rate(4 hours)"},
			LastRotatedDate: at, LastChangedDate: at, LastAccessedDate: at, DeletedDate: at, NextRotationDate: at, Tags: &some,
			VersionIdsToStages: map[string][]string{"b": {"AWSCURRENT", "x"}, "a": {}, "c": nil}, OwningService: "o", CreatedDate: at, PrimaryRegion: "us-east-1"},
		{ARN: "a", Name: "n", RotationEnabled: &no, RotationRules: &rotationRulesOut{}, Tags: &empty, SecretVersionsToStages: map[string][]string{"v": {"AWSPREVIOUS"}}},
		{ARN: "a", Name: "n", RotationRules: &rotationRulesOut{Duration: "3h"}, Tags: new([]tagOut), VersionIdsToStages: map[string][]string{}},
		{ARN: "a", Name: "n", RotationRules: &rotationRulesOut{ScheduleExpression: "cron(0 * * * ? *)"}},
	}
	r := rand.New(rand.NewPCG(1, 2))
	str := func() string {
		const chars = "aZ9/_+=.@-<>&\"\\\x00\x7f\u00e9\u2028\xff "
		var sb strings.Builder
		for range r.IntN(4) {
			sb.WriteString(string([]rune(chars)[r.IntN(len([]rune(chars)))]))
		}
		return sb.String()
	}
	maybeTime := func() *awsapi.Timestamp {
		if r.IntN(2) == 0 {
			return nil
		}
		return awsapi.TimePtr(time.UnixMilli(r.Int64N(2e12)))
	}
	for range 500 {
		o := &secretOut{ARN: str(), Name: str(), Description: str(), KmsKeyId: str(), Type: str(), RotationLambdaARN: str(),
			LastRotatedDate: maybeTime(), LastChangedDate: maybeTime(), LastAccessedDate: maybeTime(), DeletedDate: maybeTime(),
			NextRotationDate: maybeTime(), OwningService: str(), CreatedDate: maybeTime(), PrimaryRegion: str()}
		if r.IntN(2) == 0 {
			b := r.IntN(2) == 0
			o.RotationEnabled = &b
		}
		if r.IntN(2) == 0 {
			o.RotationRules = &rotationRulesOut{AutomaticallyAfterDays: r.Int64N(3), Duration: str(), ScheduleExpression: str()}
		}
		if r.IntN(2) == 0 {
			tags := make([]tagOut, r.IntN(3))
			for i := range tags {
				tags[i] = tagOut{Key: str(), Value: str()}
			}
			o.Tags = &tags
		}
		if n := r.IntN(4); n > 0 {
			m := map[string][]string{}
			for range n {
				var stages []string
				for range r.IntN(3) {
					stages = append(stages, str())
				}
				m[str()] = stages
			}
			if r.IntN(2) == 0 {
				o.VersionIdsToStages = m
			} else {
				o.SecretVersionsToStages = m
			}
		}
		cases = append(cases, o)
	}
	for _, o := range cases {
		want, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if got := o.AppendJSON(nil); string(got) != string(want) {
			t.Fatalf("AppendJSON:\n%s\nencoding/json:\n%s", got, want)
		}
	}
	for _, page := range []*listSecretsOut{{}, {SecretList: []*secretOut{}}, {SecretList: cases[:3], NextToken: "t<"}, {SecretList: []*secretOut{nil, cases[0]}}} {
		want, err := json.Marshal(page)
		if err != nil {
			t.Fatal(err)
		}
		if got := page.AppendJSON(nil); string(got) != string(want) {
			t.Fatalf("AppendJSON:\n%s\nencoding/json:\n%s", got, want)
		}
	}
}

// BenchmarkEncodeListSecrets is the encoding of a page of 100 entries as the server writes
// it; BenchmarkEncodeListSecretsBaseline is encoding/json's.
func BenchmarkEncodeListSecrets(b *testing.B) {
	page := benchListPage()
	buf := make([]byte, 0, 64<<10)
	b.ReportAllocs()
	for b.Loop() {
		buf = page.AppendJSON(buf[:0])
	}
}

func BenchmarkEncodeListSecretsBaseline(b *testing.B) {
	page := benchListPage()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(page); err != nil {
			b.Fatal(err)
		}
	}
}

func benchListPage() *listSecretsOut {
	at := awsapi.TimePtr(time.UnixMilli(1569534789046))
	page := &listSecretsOut{SecretList: []*secretOut{}, NextToken: "token"}
	for i := range 100 {
		name := "bench/pop/" + strings.Repeat("0", 6) + string(rune('0'+i%10))
		tags := []tagOut{{Key: "team", Value: "platform"}}
		page.SecretList = append(page.SecretList, &secretOut{ARN: "arn:aws:secretsmanager:us-east-1:111122223333:secret:" + name + "-AbCdEf", Name: name,
			KmsKeyId: "alias/aws/secretsmanager", LastChangedDate: at, LastAccessedDate: at, CreatedDate: at, Tags: &tags,
			SecretVersionsToStages: map[string][]string{"6b2a1c0e-3f4d-4e5f-8a9b-0c1d2e3f4a5b": {"AWSCURRENT"}}})
	}
	return page
}
