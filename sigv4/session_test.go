package sigv4

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/coffer-project/coffer"
)

// sessionSource serves one session key whose token must be "good".
type sessionSource struct {
	*fakeSource
	sessionCalls int
}

func (s *sessionSource) SessionSecretAccessKey(ctx context.Context, id, token string) ([]byte, error) {
	s.sessionCalls++
	if id != "ASIAEXAMPLEEXAMPLE00" || token != "good" {
		return nil, coffer.Errorf(coffer.ErrUnrecognizedClient, "The security token included in the request is invalid.")
	}
	return []byte("session-secret"), nil
}

// TestSessionSource: a request with a security token is verified through the SessionSource
// every time (its signing key is never cached); one without goes to the SecretSource.
func TestSessionSource(t *testing.T) {
	src := &sessionSource{fakeSource: newSource()}
	v := NewVerifier(src, fixedClock(testNow))
	body := []byte(testBody)
	send := func(token string) (*Identity, error) {
		r := newAPIRequest("https://"+testHost+"/", body)
		creds := aws.Credentials{AccessKeyID: "ASIAEXAMPLEEXAMPLE00", SecretAccessKey: "session-secret", SessionToken: token}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hashHex(body), "secretsmanager", "us-east-1", testNow); err != nil {
			t.Fatal(err)
		}
		return v.Verify(context.Background(), r, body)
	}
	for range 2 {
		id, err := send("good")
		if err != nil || id.SecurityToken != "good" {
			t.Fatalf("good token: %v %+v", err, id)
		}
	}
	if got, want := src.sessionCalls, 2; got != want {
		t.Errorf("session lookups %d, want %d", got, want)
	}
	if _, err := send("bad"); coffer.ErrorCode(err) != coffer.ErrUnrecognizedClient {
		t.Errorf("bad token: %v", err)
	}
	if _, err := send(""); coffer.ErrorCode(err) != coffer.ErrUnrecognizedClient {
		t.Errorf("no token: %v", err)
	}
}
