package sigv4

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

type noKeys struct{ calls int }

func (n *noKeys) SecretAccessKey(context.Context, string) ([]byte, error) {
	n.calls++
	return nil, coffer.Errorf(coffer.ErrUnrecognizedClient, "The security token included in the request is invalid.")
}

// TestScopeCheckedBeforeKey: a request scoped to a region the caller does not serve gets the
// scope error even though its key is unknown, and no key is looked up.
func TestScopeCheckedBeforeKey(t *testing.T) {
	now := time.Date(2026, 11, 22, 7, 45, 0, 0, time.UTC)
	src := &noKeys{}
	v := NewVerifier(src, func() time.Time { return now }).CheckScope(func(region, service string) error {
		return ScopeError(&Identity{Region: region, Service: service}, "secretsmanager", region == "us-east-1")
	})
	r, _ := http.NewRequest("POST", "http://127.0.0.1/", nil)
	r.Header.Set("X-Amz-Date", "20261122T074500Z")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAUNKNOWN000000000/20261122/eu-west-9/secretsmanager/aws4_request, SignedHeaders=host;x-amz-date, Signature="+strings.Repeat("0", 64))
	_, err := v.Verify(context.Background(), r, nil)
	e := coffer.AsError(err)
	if e.Code != coffer.ErrInvalidSignature || e.Message != "Credential should be scoped to a valid region, not 'eu-west-9'. " {
		t.Fatalf("got %v", err)
	}
	if src.calls != 0 {
		t.Fatalf("looked up a key %d times before rejecting the scope", src.calls)
	}
}
