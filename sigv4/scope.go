package sigv4

import (
	"net/http"
	"strings"
)

// ScopeService returns the service named in a request's credential scope
// (…/date/region/SERVICE/aws4_request), from the Authorization header or the presigned
// X-Amz-Credential parameter, without checking anything: it picks the shape of an error
// answer before, or after, the signature is verified. It returns "" when there is none.
func ScopeService(r *http.Request) string {
	var cred string
	if r.URL.RawQuery != "" {
		cred = r.URL.Query().Get("X-Amz-Credential")
	}
	if h := r.Header.Get("Authorization"); h != "" {
		_, rest, ok := strings.Cut(h, "Credential=")
		if !ok {
			return ""
		}
		cred, _, _ = strings.Cut(rest, ",")
	}
	// …/date/region/SERVICE/aws4_request: the fourth of five parts.
	parts := strings.SplitN(strings.TrimSpace(cred), "/", 6)
	if len(parts) != 5 {
		return ""
	}
	return parts[3]
}
