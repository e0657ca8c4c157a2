package keyring

import (
	"encoding/json"
	"sort"
	"testing"
)

// TestContextBytes: the AAD of an encryption context is, byte for byte, what encoding/json
// made of its sorted pairs when every blob so far was sealed.
func TestContextBytes(t *testing.T) {
	for _, c := range []Context{
		nil, {}, {"SecretARN": "arn:aws:secretsmanager:us-east-1:111122223333:secret:a-AbCdEf", "SecretVersionId": "v1"},
		{"<&>": "\u2028\x00\"\\", "é": "\xff", "b": "", "a": "1"},
	} {
		names := make([]string, 0, len(c))
		for n := range c {
			names = append(names, n)
		}
		sort.Strings(names)
		pairs := make([][2]string, len(names))
		for i, n := range names {
			pairs[i] = [2]string{n, c[n]}
		}
		want, _ := json.Marshal(pairs)
		if got := c.bytes(); string(got) != string(want) {
			t.Errorf("Context%v.bytes() = %s, want %s", c, got, want)
		}
	}
}
