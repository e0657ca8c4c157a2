package sigv4

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// checkRedacted fails if msg shows a Signature= value that is not redacted.
func checkRedacted(t *testing.T, msg string) {
	t.Helper()
	for rest := msg; ; {
		i := strings.Index(rest, signatureParameterEq)
		if i < 0 {
			return
		}
		rest = rest[i+len(signatureParameterEq):]
		if rest == "" || strings.HasPrefix(rest, redacted) || strings.ContainsRune(", \t'", rune(rest[0])) {
			continue
		}
		t.Fatalf("message shows a signature value: %q", msg)
	}
}

func FuzzParseAuthorization(f *testing.F) {
	const scope = "AKIAIOSFODNN7EXAMPLE/20261122/us-east-1/secretsmanager/aws4_request"
	seeds := []struct{ header, amzDate, date string }{
		{"AWS4-HMAC-SHA256 Credential=" + scope + ", SignedHeaders=host;x-amz-date, Signature=abcd", "20261122T074500Z", ""},
		{"AWS4-HMAC-SHA256 Credential=" + scope + ",SignedHeaders=host,Signature=abcd", "", "20261122T074500Z"},
		{"AWS4-HMAC-SHA256 Credential= " + scope + ", SignedHeaders=host, Signature=abcd", "20261122T074500Z", ""},
		{"AWS4-HMAC-SHA256", "", ""},
		{"", "", ""},
		{"Bearer token", "", ""},
		{"AWS4-HMAC-SHA512 Credential=a, SignedHeaders=b, Signature=c", "x", ""},
		{"AWS4-HMAC-SHA256 Signature=Signature=x, Signature=, Credential=a/b/c/d/e/f", "2026-11-22", ""},
		{"AWS4-HMAC-SHA256 \t Credential=,,, SignedHeaders=;;, Signature=\x00", "\xff", "Sun, 22 Nov 2026 07:45:00 GMT"},
	}
	for _, s := range seeds {
		f.Add(s.header, s.amzDate, s.date)
	}
	f.Fuzz(func(t *testing.T, header, amzDate, date string) {
		p, err := parseAuthorization(header, amzDate, date)
		if err != nil {
			checkRedacted(t, err.Error())
			return
		}
		if p.date == "" || p.presigned {
			t.Fatalf("accepted without a date or as presigned: %+v", p)
		}
		if tm, err := parseTime(p.date); err == nil {
			if got := formatTime(tm); got != p.date {
				t.Fatalf("time %q formats back as %q", p.date, got)
			}
		}
		if sc, err := parseCredential(p.credential); err == nil {
			_ = sc.check(testNow)
		} else {
			checkRedacted(t, err.Error())
		}
	})
}

func FuzzParsePresigned(f *testing.F) {
	seeds := []string{
		"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261122%2Fus-east-1%2Fsecretsmanager%2Faws4_request&X-Amz-Date=20261122T074500Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=abcd",
		"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00",
		"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a&X-Amz-Date=b&X-Amz-SignedHeaders=&X-Amz-Signature=&X-Amz-Expires=-0",
		"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a&X-Amz-Date=b&X-Amz-SignedHeaders=&X-Amz-Signature=&X-Amz-Expires=99999999999999999999999",
		"X-Amz-Algorithm=x",
		"a=%zz&b=1;c=2",
		"",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw)
		if p, err := parsePresigned(q); err == nil {
			if !p.presigned || p.expires < 0 || p.expires > maxExpires*1e9 {
				t.Fatalf("bad params: %+v", p)
			}
		}
		_, _ = canonicalQuery(raw, true)
		// The whole verifier on a request carrying this query must not panic either.
		r := httptest.NewRequest("GET", "https://example.com/", nil)
		r.URL.RawQuery = raw
		_, _ = NewVerifier(newSource(), fixedClock(testNow)).Verify(context.Background(), r, nil)
	})
}
