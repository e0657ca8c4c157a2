// Package awsapi speaks the AWS JSON 1.1 protocol: it reads a request's target and body, decodes
// inputs, encodes outputs with AWS's timestamp and blob conventions, and writes errors. It holds
// the single table that turns a coffer error code into an HTTP status and a wire body.
package awsapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coffer-project/coffer"
)

// MaxBodySize is the largest request body accepted, 1 MiB.
const MaxBodySize = 1 << 20

// ContentType is the media type of AWS JSON 1.1 requests and responses.
const ContentType = "application/x-amz-json-1.1"

// Target is the parsed X-Amz-Target header: "<prefix>.<Operation>".
type Target struct {
	Prefix    string // e.g. secretsmanager, TrentService
	Operation string // e.g. GetSecretValue
}

// ReadBody reads at most MaxBodySize bytes of the request body. A larger body is an error that
// WriteError answers with 413.
func ReadBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxBodySize {
		return nil, errTooLarge
	}
	var b []byte
	var err error
	if n := r.ContentLength; n > 0 && n <= preallocBody {
		// A known, usual length: one buffer of that size, where io.ReadAll would begin at
		// 512 bytes and grow. A body shorter than announced is a read error, as net/http
		// reports it; one longer is cut at the announced length by net/http itself. A
		// longer announced length grows its buffer as the bytes arrive: a client that only
		// claims a megabyte does not get one allocated.
		b = make([]byte, n)
		_, err = io.ReadFull(r.Body, b)
	} else {
		b, err = io.ReadAll(io.LimitReader(r.Body, MaxBodySize+1))
	}
	if err != nil {
		return nil, coffer.Errorf(coffer.ErrSerialization, "Unable to read the request body.")
	}
	if len(b) > MaxBodySize {
		return nil, errTooLarge
	}
	return b, nil
}

// preallocBody bounds the buffer ReadBody allocates from Content-Length before the bytes
// arrive.
const preallocBody = 16 << 10

// errTooLarge is the error for a body over MaxBodySize.
var errTooLarge = &coffer.Error{Code: codeTooLarge, Message: fmt.Sprintf("HTTP content length exceeded %d bytes.", MaxBodySize)}

const codeTooLarge = "RequestEntityTooLargeException"

// ParseTarget checks the method, content type and X-Amz-Target of a JSON 1.1 request.
func ParseTarget(r *http.Request) (Target, error) {
	if r.Method != http.MethodPost {
		return Target{}, coffer.Errorf(coffer.ErrUnknownOperation, "Unknown operation: only POST is supported.")
	}
	raw := r.Header.Get("X-Amz-Target")
	prefix, op, ok := strings.Cut(raw, ".")
	if raw == "" || !ok || prefix == "" || op == "" {
		return Target{}, coffer.Errorf(coffer.ErrUnknownOperation, "Unknown operation: the X-Amz-Target header is missing or malformed.")
	}
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != ContentType && mt != "application/x-amz-json-1.0") {
		return Target{}, coffer.Errorf(coffer.ErrSerialization, "Unsupported Content-Type %q: expected %s.", truncate(ct, 64), ContentType)
	}
	return Target{Prefix: prefix, Operation: op}, nil
}

// Decode unmarshals a JSON request body into v. An empty body is an empty object. Malformed
// JSON, a member of the wrong type or trailing data is a SerializationException that names the
// member but never echoes a value.
func Decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	// One JSON value and nothing after it but spaces (json.Unmarshal refuses anything else).
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return coffer.Errorf(coffer.ErrSerialization, "Unexpected value type for member %s: expected %s.", te.Field, jsonKind(te.Type.Kind().String()))
		}
		return coffer.Errorf(coffer.ErrSerialization, "The request body is not a valid JSON object.")
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "slice", "array":
		return "list"
	case "map", "struct", "ptr":
		return "structure"
	case "bool":
		return "boolean"
	default:
		return "number"
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// WriteJSON writes a 200 response with v encoded as JSON.
func WriteJSON(w http.ResponseWriter, v any) {
	var b []byte
	if a, ok := v.(AppenderJSON); ok {
		bp := bodyPool.Get().(*[]byte)
		b = a.AppendJSON((*bp)[:0])
		defer func() {
			clear(b)
			if cap(b) <= 64<<10 {
				*bp = b[:0]
				bodyPool.Put(bp)
			}
		}()
	} else {
		var err error
		if b, err = json.Marshal(v); err != nil {
			WriteError(w, coffer.Internal(err))
			return
		}
	}
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
	clear(b) // the body may hold a secret value
}

// AppenderJSON is a response that encodes itself, as encoding/json would encode it, without
// reflection (the hot responses).
type AppenderJSON interface{ AppendJSON(dst []byte) []byte }

// bodyPool keeps response buffers of AppenderJSON responses, wiped before they return.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// lowerMessage lists the codes whose body member is "message" rather than Secrets Manager's
// "Message": the errors AWS's front end produces before a request reaches the service.
var lowerMessage = map[string]bool{
	coffer.ErrMissingAuthToken:    true,
	coffer.ErrIncompleteSignature: true,
	coffer.ErrUnrecognizedClient:  true,
	coffer.ErrInvalidSignature:    true,
	"ExpiredTokenException":       true,
	coffer.ErrUnknownOperation:    true,
	coffer.ErrSerialization:       true,
	coffer.ErrThrottling:          true,
	coffer.ErrServiceUnavailable:  true,
	codeTooLarge:                  true,
}

// Status returns the HTTP status AWS uses for an error code: 500 for the service's internal
// error, 503 when unavailable, 413 for an oversized body, and 400 for every client error.
func Status(code string) int {
	switch code {
	case coffer.ErrInternalServiceError:
		return http.StatusInternalServerError
	case coffer.ErrServiceUnavailable:
		return http.StatusServiceUnavailable
	case codeTooLarge:
		return http.StatusRequestEntityTooLarge
	default:
		return http.StatusBadRequest
	}
}

// WriteError writes err in the AWS JSON 1.1 error shape. Only the code and the user-safe
// message reach the wire; an internal cause never does.
func WriteError(w http.ResponseWriter, err error) { WriteErrorMember(w, err, false) }

// WriteErrorMember writes err as WriteError does; lower says that the service names the
// message member "message" (KMS) rather than "Message" (Secrets Manager).
func WriteErrorMember(w http.ResponseWriter, err error, lower bool) {
	e := coffer.AsError(err)
	member := "Message"
	if lower || lowerMessage[e.Code] {
		member = "message"
	}
	b, _ := json.Marshal(map[string]string{"__type": e.Code, member: e.Message})
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("X-Amzn-ErrorType", e.Code)
	w.WriteHeader(Status(e.Code))
	w.Write(b)
}

// Timestamp encodes as AWS JSON timestamps do: epoch seconds as a JSON number, with
// millisecond precision.
type Timestamp time.Time

// MarshalJSON implements json.Marshaler.
func (t Timestamp) MarshalJSON() ([]byte, error) { return t.AppendJSON(nil), nil }

// AppendJSON appends the timestamp as MarshalJSON writes it.
func (t Timestamp) AppendJSON(dst []byte) []byte {
	ms := time.Time(t).UnixMilli()
	dst = strconv.AppendInt(dst, ms/1000, 10)
	if frac := abs(ms % 1000); frac != 0 {
		dst = append(dst, '.', byte('0'+frac/100))
		if frac%100 != 0 {
			dst = append(dst, byte('0'+frac/10%10))
			if frac%10 != 0 {
				dst = append(dst, byte('0'+frac%10))
			}
		}
	}
	return dst
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("timestamp must be a number of seconds: %w", err)
	}
	*t = Timestamp(time.UnixMilli(int64(f*1000 + 0.5)).UTC())
	return nil
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// TimePtr returns nil for a zero time, so that `omitempty` leaves it out of a response.
func TimePtr(t time.Time) *Timestamp {
	if t.IsZero() {
		return nil
	}
	ts := Timestamp(t)
	return &ts
}
