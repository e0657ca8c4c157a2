package server

import (
	"encoding/json"
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
