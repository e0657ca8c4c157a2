package sigv4

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	algorithm      = "AWS4-HMAC-SHA256"
	terminator     = "aws4_request"
	unsignedBody   = "UNSIGNED-PAYLOAD"
	timeFormat     = "20060102T150405Z"
	maxExpires     = 604800 // seconds: a week
	defaultExpires = 15 * time.Minute

	queryAlgorithm     = "X-Amz-Algorithm"
	queryCredential    = "X-Amz-Credential"
	queryDate          = "X-Amz-Date"
	queryExpires       = "X-Amz-Expires"
	querySignedHeaders = "X-Amz-SignedHeaders"
	querySignature     = "X-Amz-Signature"
	querySecurityToken = "X-Amz-Security-Token"
	queryContentSHA256 = "X-Amz-Content-Sha256"
)

// authParams is what a request says about its signature, before any of it is checked.
type authParams struct {
	presigned     bool
	credential    string
	signedHeaders string // the names, lower case as sent, sorted and joined by ";"
	signature     string
	date          string        // X-Amz-Date, or else Date
	expires       time.Duration // presigned only
	securityToken string
	contentSHA256 string // presigned only: the X-Amz-Content-Sha256 query parameter
}

// parseAuthorization reads an Authorization header the way AWS does: the first
// whitespace-separated word is the algorithm, the following words are key=value pairs (each
// may end in a comma; the last value of a key wins). amzDate and date are the X-Amz-Date and
// Date headers, either may be empty; AWS reports a missing date together with the missing
// parameters.
func parseAuthorization(header, amzDate, date string) (*authParams, error) {
	var algo string
	p := &authParams{}
	var haveCredential, haveSignature, haveSigned, started bool
	for w := range strings.FieldsSeq(header) {
		if !started {
			algo, started = w, true
			continue
		}
		w = strings.TrimSuffix(w, ",")
		if w == "" {
			continue
		}
		key, value, ok := strings.Cut(w, "=")
		if !ok {
			return nil, errIncomplete("'" + redact(w) + msgBadPairSuffix + redact(header) + "'.")
		}
		switch key {
		case "Credential":
			p.credential, haveCredential = value, true
		case "Signature":
			p.signature, haveSignature = value, true
		case "SignedHeaders":
			p.signedHeaders, haveSigned = sortSignedHeaders(value), true
		}
	}
	p.date = amzDate
	if p.date == "" {
		p.date = date
	}
	var missing []string
	if !haveCredential {
		missing = append(missing, msgReqCredential)
	}
	if !haveSignature {
		missing = append(missing, msgReqSignature)
	}
	if !haveSigned {
		missing = append(missing, msgReqSignedHeaders)
	}
	if p.date == "" {
		missing = append(missing, msgReqDate)
	}
	if len(missing) > 0 {
		return nil, errIncomplete(strings.Join(missing, " ") + " Authorization=" + redact(header))
	}
	if algo != algorithm {
		return nil, errIncomplete(msgUnsupportedAlgo + redact(algo) + "'.")
	}
	return p, nil
}

// parsePresigned reads the X-Amz-* query parameters of a presigned request; of a repeated
// parameter the first value counts. A missing or other X-Amz-Algorithm means the request is
// not signed at all, as AWS answers.
func parsePresigned(q url.Values) (*authParams, error) {
	if first(q, queryAlgorithm) != algorithm {
		return nil, errMissingToken()
	}
	p := &authParams{presigned: true}
	var missing []string
	if _, ok := q[queryCredential]; ok {
		p.credential = first(q, queryCredential)
	} else {
		missing = append(missing, msgQueryCredential)
	}
	if _, ok := q[querySignature]; ok {
		p.signature = first(q, querySignature)
	} else {
		missing = append(missing, msgQuerySignature)
	}
	if _, ok := q[querySignedHeaders]; ok {
		p.signedHeaders = sortSignedHeaders(first(q, querySignedHeaders))
	} else {
		missing = append(missing, msgQuerySigned)
	}
	if _, ok := q[queryDate]; ok {
		p.date = first(q, queryDate)
	} else {
		missing = append(missing, msgQueryDate)
	}
	if len(missing) > 0 {
		return nil, errIncomplete(strings.Join(missing, " ") + " " + msgQueryReexamine)
	}
	p.expires = defaultExpires
	if _, ok := q[queryExpires]; ok {
		d, err := parseExpires(first(q, queryExpires))
		if err != nil {
			return nil, err
		}
		p.expires = d
	}
	p.securityToken = first(q, querySecurityToken)
	p.contentSHA256 = first(q, queryContentSHA256)
	return p, nil
}

// parseExpires checks X-Amz-Expires as S3 does: a number of seconds, 0 to a week.
func parseExpires(v string) (time.Duration, error) {
	digits := strings.TrimPrefix(v, "-")
	if !isDigits(digits) {
		return 0, errIncomplete(msgExpiresNotNumber)
	}
	if digits != v {
		return 0, errIncomplete(msgExpiresNegative)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > maxExpires {
		return 0, errIncomplete(msgExpiresTooLong)
	}
	return time.Duration(n) * time.Second, nil
}

func first(q url.Values, key string) string {
	if v := q[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// sortSignedHeaders returns the signed header names of s (";"-separated) sorted: s itself
// when it is sorted already, as every SDK sends it.
func sortSignedHeaders(s string) string {
	prev, sorted := "", true
	for name := range strings.SplitSeq(s, ";") {
		if name < prev {
			sorted = false
			break
		}
		prev = name
	}
	if sorted {
		return s
	}
	h := strings.Split(s, ";")
	slices.Sort(h)
	return strings.Join(h, ";")
}

// signs reports whether the signed header list of p names header.
func (p *authParams) signs(header string) bool {
	for name := range strings.SplitSeq(p.signedHeaders, ";") {
		if name == header {
			return true
		}
	}
	return false
}

// parseTime parses an ISO 8601 basic-format UTC time, 20261122T074500Z, and nothing else.
func parseTime(s string) (time.Time, error) {
	if len(s) != len(timeFormat) || s[8] != 'T' || s[15] != 'Z' || !isDigits(s[:8]) || !isDigits(s[9:15]) {
		return time.Time{}, errIncomplete(msgDateFormatPrefix + s + msgDateFormatSuffix)
	}
	t, err := time.Parse(timeFormat, s)
	if err != nil {
		return time.Time{}, errIncomplete(msgDateFormatPrefix + s + msgDateFormatSuffix)
	}
	return t, nil
}

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// appendTime appends formatTime(t) to b.
func appendTime(b []byte, t time.Time) []byte { return t.UTC().AppendFormat(b, timeFormat) }

// scope is the parsed credential: keyid/date/region/service/terminator.
type scope struct {
	accessKeyID, date, region, service, terminator string
}

// parseCredential splits a credential into its five parts.
func parseCredential(c string) (scope, error) {
	if strings.Count(c, "/") != 4 {
		return scope{}, errIncomplete(msgFiveParts + redact(c) + "'")
	}
	var sc scope
	sc.accessKeyID, c, _ = strings.Cut(c, "/")
	sc.date, c, _ = strings.Cut(c, "/")
	sc.region, c, _ = strings.Cut(c, "/")
	sc.service, sc.terminator, _ = strings.Cut(c, "/")
	return sc, nil
}

// check returns AWS's complaint about a scope whose terminator is wrong or whose date is not
// the request's day, or nil.
func (s scope) check(t time.Time) error {
	var msg string
	if s.terminator != terminator {
		msg += msgScopeTerminator + redact(s.terminator) + "'. "
	}
	var b [8]byte
	if day := t.UTC().AppendFormat(b[:0], "20060102"); s.date != string(day) {
		msg += msgScopeDate + s.date + "' != '" + string(day) + "', from '" + formatTime(t) + "'. "
	}
	if msg == "" {
		return nil
	}
	return errInvalid(msg)
}
