package sigv4

import (
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// appendCanonicalRequest appends the canonical request of r to b, as AWS defines it:
//
//	method \n URI \n query \n headers (each "name:value\n") \n signed headers \n payload hash
//
// It fails (with the signature-mismatch error) only for a query string that cannot be decoded.
func appendCanonicalRequest(b []byte, r *http.Request, p *authParams, payloadHash []byte) ([]byte, error) {
	query, err := canonicalQuery(r.URL.RawQuery, p.presigned)
	if err != nil {
		return nil, err
	}
	b = append(b, r.Method...)
	b = append(b, '\n')
	b = append(b, escapePath(requestPath(r.URL))...)
	b = append(b, '\n')
	b = append(b, query...)
	b = append(b, '\n')
	for name := range strings.SplitSeq(p.signedHeaders, ";") {
		b = appendHeader(b, r, name)
	}
	b = append(b, '\n')
	b = append(b, p.signedHeaders...)
	b = append(b, '\n')
	return append(b, payloadHash...), nil
}

// appendHeader appends the canonical line of one signed header, "name:value,value\n", its
// values in the order the request carried them, or nothing when the request lacks it. The
// host (or its HTTP/2 name :authority) comes from r.Host, where net/http puts it; a
// Content-Length that net/http consumed is rebuilt from r.ContentLength.
func appendHeader(b []byte, r *http.Request, name string) []byte {
	var values []string
	var one [1]string
	switch name {
	case "host", ":authority":
		one[0] = r.Host
		values = one[:]
	default:
		key, ok := canonicalKeys[name]
		if !ok {
			key = textproto.CanonicalMIMEHeaderKey(name)
		}
		values = r.Header[key]
	}
	if len(values) == 0 {
		if name != "content-length" || r.ContentLength < 0 {
			return b
		}
		b = append(b, name...)
		b = append(b, ':')
		b = strconv.AppendInt(b, r.ContentLength, 10)
		return append(b, '\n')
	}
	b = append(b, name...)
	b = append(b, ':')
	for i, v := range values {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, strings.TrimSpace(stripExcessSpaces(v))...)
	}
	return append(b, '\n')
}

// canonicalKeys maps the header names SDKs sign to the keys net/http files them under, which
// spares canonicalizing (an allocation) for each of them on every request.
var canonicalKeys = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{"Content-Type", "Content-Length", "Content-Md5", "X-Amz-Date",
		"X-Amz-Target", "X-Amz-Security-Token", "X-Amz-Content-Sha256", "X-Amz-User-Agent",
		"Amz-Sdk-Invocation-Id", "Amz-Sdk-Request", "User-Agent", "Accept", "Accept-Encoding",
		"X-Amz-Api-Version", "Date"} {
		m[strings.ToLower(k)] = k
	}
	return m
}()

// requestPath returns the path as it was sent, still escaped; "/" when empty.
func requestPath(u *url.URL) string {
	var p string
	if u.Opaque != "" {
		// "//host/path" form.
		p = strings.TrimPrefix(u.Opaque, "//")
		if i := strings.IndexByte(p, '/'); i >= 0 {
			p = p[i:]
		} else {
			p = ""
		}
	} else {
		p = u.EscapedPath()
	}
	if p == "" {
		return "/"
	}
	return p
}

// escapePath URI-encodes every byte of the (already escaped) path except the unreserved
// characters and "/", as the AWS SDKs do for every service but S3: so a path segment is
// encoded twice in all, once on the wire and once here.
func escapePath(p string) string {
	n := 0
	for i := 0; i < len(p); i++ {
		if !unreserved(p[i]) && p[i] != '/' {
			n++
		}
	}
	if n == 0 {
		return p
	}
	const hexDigits = "0123456789ABCDEF"
	b := make([]byte, 0, len(p)+2*n)
	for i := 0; i < len(p); i++ {
		c := p[i]
		if unreserved(c) || c == '/' {
			b = append(b, c)
		} else {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// canonicalQuery decodes a raw query string and encodes it again the SigV4 way: every name
// and value URI-encoded (space as %20), the pairs sorted by encoded name, then encoded value.
// A presigned request's own X-Amz-Signature is left out.
func canonicalQuery(raw string, presigned bool) (string, error) {
	if raw == "" {
		return "", nil
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "", errMismatch()
	}
	if presigned {
		delete(q, querySignature)
	}
	type pair struct{ k, v string }
	pairs := make([]pair, 0, len(q))
	for k, vs := range q {
		ek := encodeQueryComponent(k)
		for _, v := range vs {
			pairs = append(pairs, pair{ek, encodeQueryComponent(v)})
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String(), nil
}

func encodeQueryComponent(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// stripExcessSpaces trims spaces at both ends and collapses runs of spaces into one.
func stripExcessSpaces(s string) string {
	s = strings.Trim(s, " ")
	if !strings.Contains(s, "  ") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' && i > 0 && s[i-1] == ' ' {
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}
