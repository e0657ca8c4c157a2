package server

import (
	"regexp"
	"testing"
)

// TestRequestID: a request id is a random (version 4) UUID, as AWS's x-amzn-RequestId.
func TestRequestID(t *testing.T) {
	uuid4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := requestID()
		if !uuid4.MatchString(id) || seen[id] {
			t.Fatalf("requestID() = %q: not a fresh version 4 UUID", id)
		}
		seen[id] = true
	}
}
