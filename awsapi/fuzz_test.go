package awsapi

import (
	"testing"

	"github.com/coffer-project/coffer"
)

// fuzzInput has every kind of member a Secrets Manager request carries.
type fuzzInput struct {
	Name         *string
	SecretBinary []byte
	MaxResults   *int64
	Force        *bool
	Stages       []string
	Tags         []struct{ Key, Value *string }
	Filters      []struct {
		Key    *string
		Values []string
	}
}

// FuzzDecode checks that no request body makes the decoder panic, and that every failure is a
// SerializationException.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"Name":"a","SecretBinary":"AAEC","MaxResults":5,"Force":true,"Stages":["AWSCURRENT"]}`,
		`{"Tags":[{"Key":"k","Value":"v"}],"Filters":[{"Key":"name","Values":["!x"]}]}`,
		`{"Name":null}`, `{}`, `[]`, `"x"`, `{"MaxResults":1e400}`, `{"SecretBinary":"!!"}`,
		"{\"Name\":\"\xff\"}", `{"Name":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in fuzzInput
		err := Decode(body, &in)
		if err != nil && coffer.ErrorCode(err) != coffer.ErrSerialization {
			t.Fatalf("Decode error with code %q: %v", coffer.ErrorCode(err), err)
		}
	})
}
