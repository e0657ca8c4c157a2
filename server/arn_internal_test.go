package server

import "testing"

// TestArnAccount: the fifth colon-separated field, and nothing for what has fewer than six.
func TestArnAccount(t *testing.T) {
	tests := map[string]string{
		"arn:aws:secretsmanager:us-east-1:111122223333:secret:app/db-AbCdEf": "111122223333",
		"arn:aws:kms:us-east-1:1:key/abc":                                    "1",
		"arn:aws:iam::123456789012:role/r":                                   "123456789012",
		"a:b:c:d:e:":                                                         "e",
		"a:b:c:d:e":                                                          "",
		"a:b:c:d":                                                            "",
		"":                                                                   "",
	}
	for arn, want := range tests {
		if got := arnAccount(arn); got != want {
			t.Errorf("arnAccount(%q) = %q, want %q", arn, got, want)
		}
	}
}
