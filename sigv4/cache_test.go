package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/coffer-project/coffer"
)

func TestSigningKeyCache(t *testing.T) {
	src := newSource()
	v := NewVerifier(src, fixedClock(testNow))
	verify := func(body string, at time.Time) {
		t.Helper()
		r := newAPIRequest("https://"+testHost+"/", []byte(body))
		signRequest(t, r, []byte(body), signed{at: at})
		if _, err := v.Verify(context.Background(), r, []byte(body)); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	}
	verify(`{"SecretId":"a"}`, testNow)
	verify(`{"SecretId":"b"}`, testNow.Add(-time.Minute))
	if got, want := src.callCount(), 1; got != want {
		t.Errorf("after two requests in one scope: %d secret lookups, want %d", got, want)
	}
	v.Forget(testKeyID)
	verify(`{"SecretId":"c"}`, testNow)
	if got, want := src.callCount(), 2; got != want {
		t.Errorf("after Forget: %d secret lookups, want %d", got, want)
	}
	for i, b := range src.given {
		if !bytes.Equal(b, make([]byte, len(b))) {
			t.Errorf("secret copy %d was not wiped", i)
		}
	}
}

func TestForgetThenUnknown(t *testing.T) {
	src := newSource()
	v := NewVerifier(src, fixedClock(testNow))
	body := []byte(testBody)
	r := newAPIRequest("https://"+testHost+"/", body)
	signRequest(t, r, body, signed{})
	if _, err := v.Verify(context.Background(), r, body); err != nil {
		t.Fatal(err)
	}
	delete(src.secrets, testKeyID) // the key is deactivated
	if _, err := v.Verify(context.Background(), r, body); err != nil {
		t.Fatalf("cached key refused before Forget: %v", err)
	}
	v.Forget(testKeyID)
	_, err := v.Verify(context.Background(), r, body)
	if got, want := coffer.ErrorCode(err), coffer.ErrUnrecognizedClient; got != want {
		t.Errorf("after Forget: got %s, want %s", got, want)
	}
}

func TestCacheIsBounded(t *testing.T) {
	v := NewVerifier(newSource(), fixedClock(testNow))
	for i := range maxCachedKeys {
		date := "20261121"
		if i%2 == 0 {
			date = "20261120"
		}
		v.keys[scopeKey{accessKeyID: "AKID" + strconv.Itoa(i), date: date, region: "us-east-1", service: "secretsmanager"}] = [sha256.Size]byte{}
	}
	if _, err := v.signingKey(context.Background(), scope{testKeyID, "20261122", "us-east-1", "secretsmanager", terminator}, ""); err != nil {
		t.Fatal(err)
	}
	if got := len(v.keys); got >= maxCachedKeys {
		t.Errorf("cache holds %d keys, want fewer than %d", got, maxCachedKeys)
	}
	for k := range v.keys {
		if k.date == "20261120" {
			t.Fatalf("a key of the oldest date survived eviction: %+v", k)
		}
	}
	// One date filling the cache still makes room.
	clear(v.keys)
	for i := range maxCachedKeys {
		v.keys[scopeKey{accessKeyID: "AKID" + strconv.Itoa(i), date: "20261122"}] = [sha256.Size]byte{}
	}
	if _, err := v.signingKey(context.Background(), scope{testKeyID, "20261122", "us-east-1", "secretsmanager", terminator}, ""); err != nil {
		t.Fatal(err)
	}
	if got := len(v.keys); got > maxCachedKeys*3/4+1 {
		t.Errorf("cache holds %d keys after evicting within one date, want at most %d", got, maxCachedKeys*3/4+1)
	}
}

func TestDeriveKeyMatchesAWSExample(t *testing.T) {
	// The worked example of AWS's "Examples of how to derive a signing key for Signature
	// Version 4" (secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20120215, us-east-1, iam).
	got := deriveKey([]byte("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), "20120215", "us-east-1", "iam")
	const want = "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
	if h := hexOf(got[:]); h != want {
		t.Errorf("got %s, want %s", h, want)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// TestConstantTimeCompare guards the one comparison of signatures: it must stay hmac.Equal.
func TestConstantTimeCompare(t *testing.T) {
	src, err := os.ReadFile("verifier.go")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	if !strings.Contains(s, "hmac.Equal(want[:], []byte(p.signature))") {
		t.Error("verifier.go no longer compares signatures with hmac.Equal")
	}
	for _, bad := range []string{"== p.signature", "p.signature ==", "!= p.signature", "p.signature !="} {
		if strings.Contains(s, bad) {
			t.Errorf("verifier.go compares the signature with %q, which is not constant time", bad)
		}
	}
}

// TestHTTPRoundTrip runs the real path: an aws-sdk-go-v2-signed request through net/http to a
// server whose handler verifies it.
func TestHTTPRoundTrip(t *testing.T) {
	v := NewVerifier(newSource(), time.Now)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id, err := v.Verify(r.Context(), r, body)
		if err != nil {
			e := coffer.AsError(err)
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, e.Code+": "+e.Message)
			return
		}
		io.WriteString(w, id.AccessKeyID+" "+id.Region+" "+id.Service)
	}))
	defer srv.Close()

	tests := []struct {
		name, path, secret string
		wantStatus         int
		wantBody           string
	}{
		{"signed", "/", testSecret, http.StatusOK, testKeyID + " us-east-1 secretsmanager"},
		{"path needing encoding", "/a%20b/%C3%BC+x/c%2Fd", testSecret, http.StatusOK, testKeyID + " us-east-1 secretsmanager"},
		{"wrong secret", "/", "wrong", http.StatusForbidden, "InvalidSignatureException: " + msgMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(testBody)
			req, err := http.NewRequest(http.MethodPost, srv.URL+tt.path, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			req.Header.Set("X-Amz-Target", "secretsmanager.GetSecretValue")
			creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: tt.secret}
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hashHex(body), "secretsmanager", "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus || string(got) != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, got, tt.wantStatus, tt.wantBody)
			}
		})
	}
}
