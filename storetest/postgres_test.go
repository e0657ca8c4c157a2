package storetest

import "testing"

func TestWithSearchPath(t *testing.T) {
	tests := []struct {
		dsn, want string
	}{
		{"postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "postgres://postgres@127.0.0.1:5432/test?search_path=s1&sslmode=disable"},
		{"postgresql://u:p@db/test", "postgresql://u:p@db/test?search_path=s1"},
		{"postgres://db/test?search_path=other", "postgres://db/test?search_path=s1"},
		{"host=127.0.0.1 user=postgres dbname=test", "host=127.0.0.1 user=postgres dbname=test search_path=s1"},
	}
	for _, tc := range tests {
		if got := withSearchPath(tc.dsn, "s1"); got != tc.want {
			t.Errorf("withSearchPath(%q):\n got %q\nwant %q", tc.dsn, got, tc.want)
		}
	}
}
