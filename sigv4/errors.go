package sigv4

import (
	"strconv"
	"strings"
	"time"

	"github.com/coffer-project/coffer"
)

// The exact texts AWS answers; the package doc lists where each was found.
const (
	msgMissingToken      = "Missing Authentication Token"
	msgMismatch          = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgReqCredential     = "Authorization header requires 'Credential' parameter."
	msgReqSignature      = "Authorization header requires 'Signature' parameter."
	msgReqSignedHeaders  = "Authorization header requires 'SignedHeaders' parameter."
	msgReqDate           = "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
	msgQueryCredential   = "AWS query-string parameters must include 'X-Amz-Credential'."
	msgQuerySignature    = "AWS query-string parameters must include 'X-Amz-Signature'."
	msgQuerySigned       = "AWS query-string parameters must include 'X-Amz-SignedHeaders'."
	msgQueryDate         = "AWS query-string parameters must include 'X-Amz-Date'."
	msgQueryReexamine    = "Re-examine the query-string parameters."
	msgHostNotSigned     = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
	msgExpiresNotNumber  = "X-Amz-Expires should be a number"
	msgExpiresNegative   = "X-Amz-Expires must be non-negative"
	msgExpiresTooLong    = "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds"
	msgRequestExpired    = "Request has expired"
	msgFiveParts         = "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '"
	msgUnsupportedAlgo   = "Unsupported AWS 'algorithm': '"
	msgDateFormatPrefix  = "Date must be in ISO-8601 'basic format'. Got '"
	msgDateFormatSuffix  = "'. See http://en.wikipedia.org/wiki/ISO_8601"
	msgBadPairSuffix     = "' not a valid key=value pair (missing equal-sign) in Authorization header: '"
	msgScopeRegion       = "Credential should be scoped to a valid region, not '"
	msgScopeService      = "Credential should be scoped to correct service: '"
	msgScopeTerminator   = "Credential should be scoped with a valid terminator: 'aws4_request', not '"
	msgScopeDate         = "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '"
	redacted             = "<redacted>"
	signatureParameterEq = "Signature="
)

// newError returns an *coffer.Error with a message that is used verbatim (never as a format:
// it may hold text the client sent).
func newError(code, msg string) *coffer.Error {
	return &coffer.Error{Code: code, Message: msg}
}

func errMissingToken() error { return newError(coffer.ErrMissingAuthToken, msgMissingToken) }

func errMismatch() error { return newError(coffer.ErrInvalidSignature, msgMismatch) }

func errIncomplete(msg string) error { return newError(coffer.ErrIncompleteSignature, msg) }

func errInvalid(msg string) error { return newError(coffer.ErrInvalidSignature, msg) }

// errExpired is AWS's answer for a request time more than the allowed skew before now.
func errExpired(req, now time.Time, skew time.Duration) error {
	return errInvalid("Signature expired: " + formatTime(req) + " is now earlier than " +
		formatTime(now.Add(-skew)) + " (" + formatTime(now) + " - " + formatSkew(skew) + ".)")
}

// errNotYetCurrent is AWS's answer for a request time more than the allowed skew after now.
func errNotYetCurrent(req, now time.Time, skew time.Duration) error {
	return errInvalid("Signature not yet current: " + formatTime(req) + " is still later than " +
		formatTime(now.Add(skew)) + " (" + formatTime(now) + " + " + formatSkew(skew) + ".)")
}

// formatSkew renders a skew as AWS does: "5 min", or seconds when not a whole minute.
func formatSkew(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + " min"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + " sec"
}

// redact replaces the value of every "Signature=" parameter in s, so that an Authorization
// header (or a part of it) can be echoed in a message without the signature.
func redact(s string) string {
	if !strings.Contains(s, signatureParameterEq) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, signatureParameterEq)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		i += len(signatureParameterEq)
		b.WriteString(s[:i])
		s = s[i:]
		end := strings.IndexAny(s, ", \t")
		if end < 0 {
			end = len(s)
		}
		if end > 0 {
			b.WriteString(redacted)
		}
		s = s[end:]
	}
}

// ScopeError returns AWS's InvalidSignatureException for a credential scoped to a service
// other than wantService or, when regionOK is false, to a region the endpoint does not serve;
// it returns nil when the scope is right. Both complaints share one message, region first, as
// AWS concatenates them.
func ScopeError(id *Identity, wantService string, regionOK bool) error {
	var msg string
	if !regionOK {
		msg += msgScopeRegion + id.Region + "'. "
	}
	if id.Service != wantService {
		msg += msgScopeService + wantService + "'. "
	}
	if msg == "" {
		return nil
	}
	return errInvalid(msg)
}
