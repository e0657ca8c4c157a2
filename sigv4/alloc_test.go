package sigv4

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestMacMatchesHMAC checks the allocation-free HMAC against crypto/hmac for messages of
// every length around the block size and beyond.
func TestMacMatchesHMAC(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 300; n++ {
		var key [sha256.Size]byte
		for i := range key {
			key[i] = byte(rng.Uint32())
		}
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(rng.Uint32())
		}
		m := hmac.New(sha256.New, key[:])
		m.Write(msg)
		want := m.Sum(nil)
		got := mac(&key, append(make([]byte, sha256.BlockSize), msg...))
		if !bytes.Equal(got[:], want) {
			t.Fatalf("message of %d bytes: mac %x, crypto/hmac %x", n, got, want)
		}
	}
}

// TestVerifySortsSignedHeaders: a SignedHeaders list in another order than the SDKs' sorted
// one names the same canonical request (AWS sorts it), and a signed header outside the
// common ones is found under its canonical key.
func TestVerifySortsSignedHeaders(t *testing.T) {
	body := []byte(`{"SecretId":"app/db"}`)
	r := newAPIRequest("https://secretsmanager.us-east-1.amazonaws.com/", body)
	r.Header.Set("X-Amz-Meta-Custom", "  two  spaces ")
	signRequest(t, r, body, signed{})
	auth := r.Header.Get("Authorization")
	list := regexp.MustCompile(`SignedHeaders=([^,]+)`).FindStringSubmatch(auth)[1]
	if !strings.Contains(list, "x-amz-meta-custom") {
		t.Fatalf("the SDK did not sign the custom header: %s", list)
	}
	names := strings.Split(list, ";")
	for i, j := 0, len(names)-1; i < j; i, j = i+1, j-1 {
		names[i], names[j] = names[j], names[i]
	}
	r.Header.Set("Authorization", strings.Replace(auth, list, strings.Join(names, ";"), 1))
	v := NewVerifier(newSource(), fixedClock(testNow))
	if _, err := v.Verify(context.Background(), r, body); err != nil {
		t.Fatalf("reversed SignedHeaders: %v", err)
	}
	r.Header.Set("X-Amz-Meta-Custom", "changed")
	if _, err := v.Verify(context.Background(), r, body); err == nil {
		t.Fatal("a changed signed header verified")
	}
	if got := sortSignedHeaders("host;a;x-amz-date"); got != "a;host;x-amz-date" {
		t.Errorf("sortSignedHeaders = %q", got)
	}
}

// TestVerifyAllocations keeps the signature check of a signed header request to the result
// it returns and the parameters it parses: two allocations, where crypto/hmac, hex strings
// and split headers made 27.
func TestVerifyAllocations(t *testing.T) {
	body := []byte(`{"SecretId":"app/db"}`)
	r := newAPIRequest("https://secretsmanager.us-east-1.amazonaws.com/", body)
	signRequest(t, r, body, signed{})
	v := NewVerifier(newSource(), fixedClock(testNow))
	ctx := context.Background()
	if _, err := v.Verify(ctx, r, body); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := v.Verify(ctx, r, body); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 3 {
		t.Errorf("Verify makes %.0f allocations a call, want at most 3", allocs)
	}
}

// TestVerifyRandomRequests: requests of random paths, queries, headers (repeated, padded,
// long enough to leave the stack buffer) and bodies, signed by aws-sdk-go-v2, verify; the
// same request with one header value, the body or the signature changed does not.
func TestVerifyRandomRequests(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	word := func(n int) string {
		const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~ /%+=&;:,"
		b := make([]byte, n)
		for i := range b {
			b[i] = chars[rng.IntN(len(chars))]
		}
		return string(b)
	}
	v := NewVerifier(newSource(), fixedClock(testNow))
	ctx := context.Background()
	for i := range 300 {
		body := []byte(word(rng.IntN(200)))
		path := "/" + strings.ReplaceAll(url.PathEscape(word(rng.IntN(20))), "%2F", "/")
		q := url.Values{}
		for range rng.IntN(4) {
			q.Add(word(1+rng.IntN(6)), word(rng.IntN(8)))
		}
		r := httptest.NewRequest(http.MethodPost, "https://"+testHost+path+"?"+q.Encode(), bytes.NewReader(body))
		r.Header.Set("X-Amz-Target", "secretsmanager.GetSecretValue")
		names := []string{"X-Amz-Meta-A", "X-Custom-Header", "Content-Type", "X-Amz-Meta-Long"}
		for range rng.IntN(5) {
			name := names[rng.IntN(len(names))]
			value := " " + strings.TrimSpace(word(1+rng.IntN(40))) + "  x "
			if name == "X-Amz-Meta-Long" {
				value = strings.Repeat("v", 600+rng.IntN(600))
			}
			r.Header.Add(name, value)
		}
		signRequest(t, r, body, signed{})
		if _, err := v.Verify(ctx, r, body); err != nil {
			t.Fatalf("request %d (%s %s, headers %v): %v", i, r.Method, r.URL, r.Header, err)
		}
		switch i % 3 {
		case 0:
			r.Header.Set("X-Amz-Target", "secretsmanager.PutSecretValue")
		case 1:
			body = append(body, 'x')
		default:
			auth := r.Header.Get("Authorization")
			last := auth[len(auth)-1]
			r.Header.Set("Authorization", auth[:len(auth)-1]+string("01"[(last-'0'+1)%2&1]))
		}
		if _, err := v.Verify(ctx, r, body); err == nil {
			t.Fatalf("request %d verified after change %d", i, i%3)
		}
	}
}
