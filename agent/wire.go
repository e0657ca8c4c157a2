package agent

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/coffer-project/coffer/cache"
)

// query is a get request's parameters.
type query struct {
	secretID, versionID, versionStage string
	refreshNow                        bool
}

// httpError is an answer other than a value: a status and a body, plain text or JSON.
type httpError struct {
	status int
	body   string
	json   bool
}

func (e *httpError) write(w http.ResponseWriter) {
	if !e.json {
		writeText(w, e.status, e.body)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	w.Write([]byte(e.body))
}

// writeText answers status with body as plain text, as the AWS agent answers its own
// errors and pings.
func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(body))
}

func badRequest(msg string) *httpError { return &httpError{http.StatusBadRequest, msg, false} }

// parseQuery reads /secretsmanager/get's query: secretId (required), versionId,
// versionStage and refreshNow; any other parameter is an error.
func parseQuery(raw string) (query, *httpError) {
	q, err := parseParams(raw, true)
	if err == nil && q.secretID == "" {
		err = badRequest("missing parameter secretId")
	}
	return q, err
}

// parsePathQuery reads a path-style request: id is the path after the prefix, and the
// query may hold versionId, versionStage and refreshNow.
func parsePathQuery(id, raw string) (query, *httpError) {
	if id == "" {
		return query{}, badRequest("missing secret ID")
	}
	q, err := parseParams(raw, false)
	q.secretID = id
	return q, err
}

// parseParams decodes raw as application/x-www-form-urlencoded, in order, as the AWS
// agent does: a later parameter of the same name wins, and the first unknown one is the
// error.
func parseParams(raw string, withSecretID bool) (query, *httpError) {
	var q query
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, kerr := url.QueryUnescape(k)
		v, verr := url.QueryUnescape(v)
		if kerr != nil || verr != nil {
			return query{}, badRequest("invalid query string")
		}
		switch {
		case k == "secretId" && withSecretID:
			q.secretID = v
		case k == "versionId":
			q.versionID = v
		case k == "versionStage":
			q.versionStage = v
		case k == "refreshNow":
			switch strings.ToLower(v) {
			case "true", "1":
				q.refreshNow = true
			case "false", "0":
				q.refreshNow = false
			default:
				return query{}, badRequest("invalid refreshNow value")
			}
		default:
			return query{}, badRequest("unknown parameter: " + k)
		}
	}
	return q, nil
}

// appendValue appends v as the AWS agent writes a GetSecretValue answer: the members in
// this order, ARN, Name and VersionId null when unknown, SecretString or SecretBinary
// (base64), VersionStages when known, CreatedDate as a string of seconds.
func appendValue(dst []byte, v cache.Value) []byte {
	dst = append(dst, `{"ARN":`...)
	dst = appendNullable(dst, v.ARN)
	dst = append(dst, `,"Name":`...)
	dst = appendNullable(dst, v.Name)
	dst = append(dst, `,"VersionId":`...)
	dst = appendNullable(dst, v.VersionID)
	if v.IsBinary() {
		dst = append(dst, `,"SecretBinary":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, v.Bytes())
		dst = append(dst, '"')
	} else {
		dst = append(dst, `,"SecretString":`...)
		dst = appendString(dst, v.Bytes())
	}
	if v.VersionStages != nil {
		dst = append(dst, `,"VersionStages":[`...)
		for i, s := range v.VersionStages {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, []byte(s))
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"CreatedDate":`...)
	if v.CreatedDate.IsZero() {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '"')
		dst = appendSeconds(dst, v.CreatedDate.Unix(), v.CreatedDate.Nanosecond())
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// appendSeconds appends sec seconds and nsec nanoseconds as the AWS agent's serializer
// writes a time: the float64 of the seconds in its shortest exact form, so
// "1569534789.046", and "1569534789" for a whole second.
func appendSeconds(dst []byte, sec int64, nsec int) []byte {
	f := float64(sec) + float64(nsec)/1e9
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}

func appendNullable(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, "null"...)
	}
	return appendString(dst, []byte(s))
}

// appendString appends s as a JSON string escaped as serde_json (the AWS agent's encoder)
// escapes it: quotes, backslashes and control characters only. Invalid UTF-8, which a
// string from the SDK never holds, becomes U+FFFD so that the JSON stays valid.
func appendString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		b := s[i]
		if b >= utf8.RuneSelf {
			r, n := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && n == 1 {
				dst = append(dst, "\uFFFD"...)
			} else {
				dst = append(dst, s[i:i+n]...)
			}
			i += n
			continue
		}
		switch {
		case b == '"' || b == '\\':
			dst = append(dst, '\\', b)
		case b == '\b':
			dst = append(dst, '\\', 'b')
		case b == '\f':
			dst = append(dst, '\\', 'f')
		case b == '\n':
			dst = append(dst, '\\', 'n')
		case b == '\r':
			dst = append(dst, '\\', 'r')
		case b == '\t':
			dst = append(dst, '\\', 't')
		case b < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
		default:
			dst = append(dst, b)
		}
		i++
	}
	return append(dst, '"')
}

// serviceError is the answer to a read that failed, as the AWS agent makes it: the
// service's error code and message with its HTTP status; TimeoutError (504) when the
// service did not answer in time, ConnectionError (502) when it could not be reached, and
// InternalFailure (500) otherwise.
func serviceError(err error) *httpError {
	var api smithy.APIError
	if errors.As(err, &api) {
		var re *awshttp.ResponseError
		if !errors.As(err, &re) || re.HTTPStatusCode() == 0 {
			return internalFailure(http.StatusInternalServerError)
		}
		return awsError(re.HTTPStatusCode(), api.ErrorCode(), api.ErrorMessage())
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return awsError(http.StatusGatewayTimeout, "TimeoutError", "Timeout")
	}
	var oe *smithy.OperationError
	if errors.As(err, &oe) && !errors.Is(err, context.Canceled) {
		return awsError(http.StatusBadGateway, "ConnectionError", "Read Error")
	}
	return internalFailure(http.StatusInternalServerError)
}

// awsError is the AWS agent's error body: {"__type":code, "message":msg}, or
// InternalFailure alone when there is no message or code.
func awsError(status int, code, msg string) *httpError {
	if code == "" || msg == "" || code == "InternalFailure" {
		return internalFailure(status)
	}
	b := append([]byte(`{"__type":`), appendString(nil, []byte(code))...)
	b = append(b, `, "message":`...)
	b = appendString(b, []byte(msg))
	b = append(b, '}')
	return &httpError{status, string(b), true}
}

func internalFailure(status int) *httpError {
	return &httpError{status, `{"__type":"InternalFailure"}`, true}
}
