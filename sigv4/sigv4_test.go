package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/coffer-project/coffer"
)

const (
	testKeyID  = "AKIAIOSFODNN7EXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testHost   = "secretsmanager.us-east-1.amazonaws.com"
	testBody   = `{"SecretId":"prod/db"}`
)

var testNow = time.Date(2026, 11, 22, 7, 45, 0, 0, time.UTC)

// fakeSource is a SecretSource over a map that counts its calls and keeps every copy it handed
// out, so that tests can see the copies were wiped.
type fakeSource struct {
	mu      sync.Mutex
	secrets map[string]string
	calls   int
	given   [][]byte
}

func newSource() *fakeSource {
	return &fakeSource{secrets: map[string]string{testKeyID: testSecret}}
}

func (s *fakeSource) SecretAccessKey(_ context.Context, id string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	secret, ok := s.secrets[id]
	if !ok {
		return nil, coffer.Errorf(coffer.ErrUnrecognizedClient, "The security token included in the request is invalid.")
	}
	b := []byte(secret)
	s.given = append(s.given, b)
	return b, nil
}

func (s *fakeSource) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// signed is how a request was signed in a test.
type signed struct {
	keyID, secret   string
	at              time.Time
	region, service string
	payloadHash     string // default: hash of the body
}

func (s signed) withDefaults(body []byte) signed {
	if s.keyID == "" {
		s.keyID = testKeyID
	}
	if s.secret == "" {
		s.secret = testSecret
	}
	if s.at.IsZero() {
		s.at = testNow
	}
	if s.region == "" {
		s.region = "us-east-1"
	}
	if s.service == "" {
		s.service = "secretsmanager"
	}
	if s.payloadHash == "" {
		s.payloadHash = hashHex(body)
	}
	return s
}

// newAPIRequest builds a Secrets Manager style POST as a server receives it.
func newAPIRequest(target string, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "secretsmanager.GetSecretValue")
	return r
}

// signRequest signs r with aws-sdk-go-v2's signer.
func signRequest(t testing.TB, r *http.Request, body []byte, s signed) {
	t.Helper()
	s = s.withDefaults(body)
	creds := aws.Credentials{AccessKeyID: s.keyID, SecretAccessKey: s.secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, s.payloadHash, s.service, s.region, s.at); err != nil {
		t.Fatal(err)
	}
}

// presignRequest presigns a GET of target (whose query may hold X-Amz-Expires) with
// aws-sdk-go-v2's signer and returns the request a server would receive for the URL.
func presignRequest(t testing.TB, target string, header http.Header, s signed) *http.Request {
	t.Helper()
	s = s.withDefaults(nil)
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	creds := aws.Credentials{AccessKeyID: s.keyID, SecretAccessKey: s.secret}
	uri, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), creds, r, s.payloadHash, s.service, s.region, s.at)
	if err != nil {
		t.Fatal(err)
	}
	out := httptest.NewRequest(http.MethodGet, uri, nil)
	for k, v := range hdr {
		if !strings.EqualFold(k, "host") {
			out.Header[k] = v
		}
	}
	return out
}

func codeAndMessage(err error) (string, string) {
	var e *coffer.Error
	if !errors.As(err, &e) {
		return "not a coffer.Error", err.Error()
	}
	return e.Code, e.Message
}

func TestVerifyAcceptsSDKSignedRequest(t *testing.T) {
	body := []byte(testBody)
	r := newAPIRequest("https://"+testHost+"/", body)
	signRequest(t, r, body, signed{at: testNow.Add(-4 * time.Minute)})
	v := NewVerifier(newSource(), fixedClock(testNow))
	got, err := v.Verify(context.Background(), r, body)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := Identity{AccessKeyID: testKeyID, Region: "us-east-1", Service: "secretsmanager", Date: "20261122",
		SignedAt: testNow.Add(-4 * time.Minute)}
	if *got != want {
		t.Errorf("got %+v, want %+v", *got, want)
	}
}

func TestVerifyAcceptsSessionTokenAndContentSHA(t *testing.T) {
	body := []byte(testBody)
	r := newAPIRequest("https://"+testHost+"/", body)
	r.Header.Set("X-Amz-Content-Sha256", hashHex(body))
	s := signed{}.withDefaults(body)
	creds := aws.Credentials{AccessKeyID: s.keyID, SecretAccessKey: s.secret, SessionToken: "FQoGZXIvYXdzEXAMPLE"}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, s.payloadHash, s.service, s.region, s.at); err != nil {
		t.Fatal(err)
	}
	got, err := NewVerifier(newSource(), fixedClock(testNow)).Verify(context.Background(), r, body)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got, want := got.SecurityToken, "FQoGZXIvYXdzEXAMPLE"; got != want {
		t.Errorf("SecurityToken = %q, want %q", got, want)
	}
}

func TestVerifyEncodedPathAndQuery(t *testing.T) {
	for _, target := range []string{
		"https://" + testHost + "/a%20b/c%2Bd/%C3%BC~x",
		"https://" + testHost + "/v1/secrets/prod%2Fdb?b=2&a=1&a=0&sp=x%20y&plus=1%2B1&empty=",
		"https://" + testHost,
	} {
		t.Run(target, func(t *testing.T) {
			body := []byte(testBody)
			r := newAPIRequest(target, body)
			signRequest(t, r, body, signed{})
			if _, err := NewVerifier(newSource(), fixedClock(testNow)).Verify(context.Background(), r, body); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestVerifyErrors(t *testing.T) {
	body := []byte(testBody)
	const base = "https://" + testHost + "/"
	// manual builds a request whose Authorization header is set by hand.
	manual := func(authz, amzDate string) func(t *testing.T) (*http.Request, []byte) {
		return func(t *testing.T) (*http.Request, []byte) {
			r := newAPIRequest(base, body)
			if authz != "" {
				r.Header.Set("Authorization", authz)
			}
			if amzDate != "" {
				r.Header.Set("X-Amz-Date", amzDate)
			}
			return r, body
		}
	}
	// signedThen signs with s, then lets change alter the request; it returns the body to verify.
	signedThen := func(s signed, change func(r *http.Request) []byte) func(t *testing.T) (*http.Request, []byte) {
		return func(t *testing.T) (*http.Request, []byte) {
			r := newAPIRequest(base, body)
			signRequest(t, r, body, s)
			b := body
			if change != nil {
				if nb := change(r); nb != nil {
					b = nb
				}
			}
			return r, b
		}
	}
	const scope = "20261122/us-east-1/secretsmanager/aws4_request"
	const sig = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		name          string
		build         func(t *testing.T) (*http.Request, []byte)
		code, message string
	}{
		{"no authentication", manual("", ""), coffer.ErrMissingAuthToken, "Missing Authentication Token"},
		{"wrong secret", signedThen(signed{secret: "not-the-secret"}, nil), coffer.ErrInvalidSignature, msgMismatch},
		{"body changed after signing", signedThen(signed{}, func(*http.Request) []byte { return []byte(`{"SecretId":"prod/other"}`) }),
			coffer.ErrInvalidSignature, msgMismatch},
		{"body changed, content sha header kept", signedThen(signed{}, func(r *http.Request) []byte {
			r.Header.Set("X-Amz-Content-Sha256", hashHex(body))
			return []byte(`{}`)
		}), coffer.ErrInvalidSignature, msgMismatch},
		{"signed header changed", signedThen(signed{}, func(r *http.Request) []byte {
			r.Header.Set("X-Amz-Target", "secretsmanager.DeleteSecret")
			return nil
		}), coffer.ErrInvalidSignature, msgMismatch},
		{"query added after signing", signedThen(signed{}, func(r *http.Request) []byte {
			r.URL.RawQuery = "x=1"
			return nil
		}), coffer.ErrInvalidSignature, msgMismatch},
		{"unsigned payload in header auth", signedThen(signed{payloadHash: unsignedBody}, func(r *http.Request) []byte {
			r.Header.Set("X-Amz-Content-Sha256", unsignedBody)
			return nil
		}), coffer.ErrInvalidSignature, msgMismatch},
		{"20 minutes old", signedThen(signed{at: testNow.Add(-20 * time.Minute)}, nil), coffer.ErrInvalidSignature,
			"Signature expired: 20261122T072500Z is now earlier than 20261122T074000Z (20261122T074500Z - 5 min.)"},
		{"20 minutes in the future", signedThen(signed{at: testNow.Add(20 * time.Minute)}, nil), coffer.ErrInvalidSignature,
			"Signature not yet current: 20261122T080500Z is still later than 20261122T075000Z (20261122T074500Z + 5 min.)"},
		{"unknown key", signedThen(signed{keyID: "AKIAUNKNOWNKEY000000"}, nil), coffer.ErrUnrecognizedClient,
			"The security token included in the request is invalid."},
		{"unknown key and expired: time first", signedThen(signed{keyID: "AKIAUNKNOWNKEY000000", at: testNow.Add(-20 * time.Minute)}, nil),
			coffer.ErrInvalidSignature, "Signature expired: 20261122T072500Z is now earlier than 20261122T074000Z (20261122T074500Z - 5 min.)"},
		{"missing date", signedThen(signed{}, func(r *http.Request) []byte {
			r.Header.Del("X-Amz-Date")
			return nil
		}), coffer.ErrIncompleteSignature, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 Credential=" +
			testKeyID + "/" + scope + ", SignedHeaders=content-length;content-type;host;x-amz-date;x-amz-target, Signature=<redacted>"},
		{"missing Credential", manual("AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature="+sig, "20261122T074500Z"),
			coffer.ErrIncompleteSignature, "Authorization header requires 'Credential' parameter. Authorization=AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=<redacted>"},
		{"missing Signature", manual("AWS4-HMAC-SHA256 Credential="+testKeyID+"/"+scope+", SignedHeaders=host;x-amz-date", "20261122T074500Z"),
			coffer.ErrIncompleteSignature, "Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 Credential=" + testKeyID + "/" + scope + ", SignedHeaders=host;x-amz-date"},
		{"missing SignedHeaders", manual("AWS4-HMAC-SHA256 Credential="+testKeyID+"/"+scope+", Signature="+sig, "20261122T074500Z"),
			coffer.ErrIncompleteSignature, "Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 Credential=" + testKeyID + "/" + scope + ", Signature=<redacted>"},
		{"everything missing", manual("AWS4-HMAC-SHA256", ""), coffer.ErrIncompleteSignature,
			"Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256"},
		{"commas without spaces", manual("AWS4-HMAC-SHA256 Credential="+testKeyID+"/"+scope+",SignedHeaders=host,Signature="+sig, "20261122T074500Z"),
			coffer.ErrIncompleteSignature, "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 Credential=" + testKeyID + "/" + scope + ",SignedHeaders=host,Signature=<redacted>"},
		{"pair without equal sign", manual("AWS4-HMAC-SHA256 Credential= "+testKeyID+"/"+scope+", SignedHeaders=host, Signature="+sig, "20261122T074500Z"),
			coffer.ErrIncompleteSignature, "'" + testKeyID + "/" + scope + "' not a valid key=value pair (missing equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 Credential= " + testKeyID + "/" + scope + ", SignedHeaders=host, Signature=<redacted>'."},
		{"bad algorithm", manual("AWS4-HMAC-SHA512 Credential="+testKeyID+"/"+scope+", SignedHeaders=host, Signature="+sig, "20261122T074500Z"),
			coffer.ErrIncompleteSignature, "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'."},
		{"not SigV4 at all", manual("Bearer eyJhbGciOiJIUzI1NiJ9", ""), coffer.ErrIncompleteSignature,
			"'eyJhbGciOiJIUzI1NiJ9' not a valid key=value pair (missing equal-sign) in Authorization header: 'Bearer eyJhbGciOiJIUzI1NiJ9'."},
		{"bad date format", manual("AWS4-HMAC-SHA256 Credential="+testKeyID+"/"+scope+", SignedHeaders=host;x-amz-date, Signature="+sig, "2026-11-22T07:45:00Z"),
			coffer.ErrIncompleteSignature, "Date must be in ISO-8601 'basic format'. Got '2026-11-22T07:45:00Z'. See http://en.wikipedia.org/wiki/ISO_8601"},
		{"credential with four parts", manual("AWS4-HMAC-SHA256 Credential="+testKeyID+"/20261122/us-east-1/aws4_request, SignedHeaders=host;x-amz-date, Signature="+sig, "20261122T074500Z"),
			coffer.ErrIncompleteSignature, "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '" + testKeyID + "/20261122/us-east-1/aws4_request'"},
		{"key id with a slash", manual("AWS4-HMAC-SHA256 Credential=AKIA/X/"+scope+", SignedHeaders=host;x-amz-date, Signature="+sig, "20261122T074500Z"),
			coffer.ErrIncompleteSignature, "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKIA/X/" + scope + "'"},
		{"scope date is not the request's day", manual("AWS4-HMAC-SHA256 Credential="+testKeyID+"/20261121/us-east-1/secretsmanager/aws4_request, SignedHeaders=host;x-amz-date, Signature="+sig, "20261122T074500Z"),
			coffer.ErrInvalidSignature, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261121' != '20261122', from '20261122T074500Z'. "},
		{"bad terminator and date", manual("AWS4-HMAC-SHA256 Credential="+testKeyID+"/20261121/us-east-1/secretsmanager/aws5_request, SignedHeaders=host;x-amz-date, Signature="+sig, "20261122T074500Z"),
			coffer.ErrInvalidSignature, "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261121' != '20261122', from '20261122T074500Z'. "},
		{"host not signed", manual("AWS4-HMAC-SHA256 Credential="+testKeyID+"/"+scope+", SignedHeaders=x-amz-date, Signature="+sig, "20261122T074500Z"),
			coffer.ErrInvalidSignature, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."},
		{"header and query signature both", signedThen(signed{}, func(r *http.Request) []byte {
			r.URL.RawQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256"
			return nil
		}), coffer.ErrInvalidSignature, msgMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, b := tt.build(t)
			id, err := NewVerifier(newSource(), fixedClock(testNow)).Verify(context.Background(), r, b)
			if err == nil {
				t.Fatalf("Verify succeeded (%+v), want %s", id, tt.code)
			}
			code, msg := codeAndMessage(err)
			if code != tt.code || msg != tt.message {
				t.Errorf("got %s %q\nwant %s %q", code, msg, tt.code, tt.message)
			}
			if strings.Contains(msg, sig) || strings.Contains(err.Error(), testSecret) {
				t.Errorf("message leaks a signature or secret: %q", msg)
			}
		})
	}
}

func TestVerifyPresigned(t *testing.T) {
	const base = "https://" + testHost + "/"
	tests := []struct {
		name    string
		build   func(t *testing.T) *http.Request
		code    string // empty: accepted
		message string
	}{
		{"fresh", func(t *testing.T) *http.Request {
			return presignRequest(t, base+"?X-Amz-Expires=300", nil, signed{})
		}, "", ""},
		{"older than the skew but within X-Amz-Expires", func(t *testing.T) *http.Request {
			return presignRequest(t, base+"?X-Amz-Expires=900", nil, signed{at: testNow.Add(-10 * time.Minute)})
		}, "", ""},
		{"without X-Amz-Expires: 15 minutes", func(t *testing.T) *http.Request {
			return presignRequest(t, base+"?Action=GetCallerIdentity", nil, signed{at: testNow.Add(-14 * time.Minute)})
		}, "", ""},
		{"query parameters reordered", func(t *testing.T) *http.Request {
			r := presignRequest(t, base+"path%20x?b=2&X-Amz-Expires=300&a=1", nil, signed{})
			parts := strings.Split(r.URL.RawQuery, "&")
			for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
				parts[i], parts[j] = parts[j], parts[i]
			}
			r.URL.RawQuery = strings.Join(parts, "&")
			return r
		}, "", ""},
		{"unsigned payload", func(t *testing.T) *http.Request {
			h := http.Header{"X-Amz-Content-Sha256": {unsignedBody}}
			return presignRequest(t, base+"?X-Amz-Expires=60", h, signed{payloadHash: unsignedBody})
		}, "", ""},
		{"expired", func(t *testing.T) *http.Request {
			return presignRequest(t, base+"?X-Amz-Expires=300", nil, signed{at: testNow.Add(-10 * time.Minute)})
		}, coffer.ErrAccessDenied, "Request has expired"},
		{"not yet current", func(t *testing.T) *http.Request {
			return presignRequest(t, base+"?X-Amz-Expires=300", nil, signed{at: testNow.Add(20 * time.Minute)})
		}, coffer.ErrInvalidSignature, "Signature not yet current: 20261122T080500Z is still later than 20261122T075000Z (20261122T074500Z + 5 min.)"},
		{"wrong secret", func(t *testing.T) *http.Request {
			return presignRequest(t, base+"?X-Amz-Expires=300", nil, signed{secret: "nope"})
		}, coffer.ErrInvalidSignature, msgMismatch},
		{"parameter changed", func(t *testing.T) *http.Request {
			r := presignRequest(t, base+"?X-Amz-Expires=300&a=1", nil, signed{})
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "a=1", "a=2", 1)
			return r
		}, coffer.ErrInvalidSignature, msgMismatch},
		{"expires more than a week", func(t *testing.T) *http.Request {
			return presignRequest(t, base+"?X-Amz-Expires=604801", nil, signed{})
		}, coffer.ErrIncompleteSignature, "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds"},
		{"expires not a number", func(t *testing.T) *http.Request {
			return presignRequest(t, base+"?X-Amz-Expires=soon", nil, signed{})
		}, coffer.ErrIncompleteSignature, "X-Amz-Expires should be a number"},
		{"expires negative", func(t *testing.T) *http.Request {
			return presignRequest(t, base+"?X-Amz-Expires=-5", nil, signed{})
		}, coffer.ErrIncompleteSignature, "X-Amz-Expires must be non-negative"},
		{"missing parts", func(t *testing.T) *http.Request {
			return httptest.NewRequest(http.MethodGet, base+"?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00", nil)
		}, coffer.ErrIncompleteSignature, "AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. AWS query-string parameters must include 'X-Amz-Date'. Re-examine the query-string parameters."},
		{"signature without algorithm", func(t *testing.T) *http.Request {
			return httptest.NewRequest(http.MethodGet, base+"?X-Amz-Signature=00", nil)
		}, coffer.ErrMissingAuthToken, "Missing Authentication Token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.build(t)
			id, err := NewVerifier(newSource(), fixedClock(testNow)).Verify(context.Background(), r, nil)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if !id.Presigned {
					t.Errorf("Presigned = false, want true")
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify succeeded, want %s", tt.code)
			}
			if code, msg := codeAndMessage(err); code != tt.code || msg != tt.message {
				t.Errorf("got %s %q\nwant %s %q", code, msg, tt.code, tt.message)
			}
		})
	}
}

func TestScopeError(t *testing.T) {
	id := &Identity{AccessKeyID: testKeyID, Region: "eu-west-9", Service: "kms", Date: "20261122"}
	tests := []struct {
		name     string
		service  string
		regionOK bool
		want     string // empty: nil
	}{
		{"right scope", "kms", true, ""},
		{"wrong service", "secretsmanager", true, "Credential should be scoped to correct service: 'secretsmanager'. "},
		{"region not served", "kms", false, "Credential should be scoped to a valid region, not 'eu-west-9'. "},
		{"both", "secretsmanager", false, "Credential should be scoped to a valid region, not 'eu-west-9'. Credential should be scoped to correct service: 'secretsmanager'. "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ScopeError(id, tt.service, tt.regionOK)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if code, msg := codeAndMessage(err); code != coffer.ErrInvalidSignature || msg != tt.want {
				t.Errorf("got %s %q, want %s %q", code, msg, coffer.ErrInvalidSignature, tt.want)
			}
		})
	}
}

// BenchmarkVerify measures the hot path: a header-signed request whose signing key is cached.
func BenchmarkVerify(b *testing.B) {
	body := []byte(testBody)
	r := newAPIRequest("https://"+testHost+"/", body)
	signRequest(b, r, body, signed{})
	v := NewVerifier(newSource(), fixedClock(testNow))
	ctx := context.Background()
	if _, err := v.Verify(ctx, r, body); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, r, body); err != nil {
			b.Fatal(err)
		}
	}
}
