// Package awsquery is the AWS query protocol that IAM and STS speak: a form-encoded request
// (Action, Version and the operation's parameters, lists as Name.member.N) and an XML
// response, <ActionResponse><ActionResult>…</ActionResult><ResponseMetadata><RequestId>…
// </RequestId></ResponseMetadata></ActionResponse>, or an <ErrorResponse>. It knows nothing of
// the operations; the server routes a request by the service its signature is scoped to.
package awsquery

import (
	"bytes"
	"encoding/xml"
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"github.com/coffer-project/coffer"
)

// ContentType is the content type of a query-protocol request body.
const ContentType = "application/x-www-form-urlencoded"

// Namespaces of the services' XML documents.
const (
	NamespaceSTS = "https://sts.amazonaws.com/doc/2011-06-15/"
	NamespaceIAM = "https://iam.amazonaws.com/doc/2010-05-08/"
)

// IsQuery reports whether r is a query-protocol request: no X-Amz-Target, and a form body or
// a GET with an Action parameter.
func IsQuery(r *http.Request) bool {
	if r.Header.Get("X-Amz-Target") != "" {
		return false
	}
	if r.Method == http.MethodGet {
		return r.URL.Query().Get("Action") != ""
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == ContentType
}

// Request is a decoded query-protocol request.
type Request struct {
	Action  string
	Version string
	Params  url.Values
}

// Parse decodes the parameters of a query request from body (POST) or the URL (GET).
func Parse(r *http.Request, body []byte) (*Request, error) {
	var vals url.Values
	var err error
	switch r.Method {
	case http.MethodPost:
		vals, err = url.ParseQuery(string(body))
	case http.MethodGet:
		vals = r.URL.Query()
	default:
		return nil, coffer.Errorf(ErrInvalidAction, "The query protocol takes GET or POST requests.")
	}
	if err != nil {
		return nil, coffer.Errorf(ErrMalformedQueryString, "The request body is not a valid form-encoded query string.")
	}
	q := &Request{Action: vals.Get("Action"), Version: vals.Get("Version"), Params: vals}
	if q.Action == "" {
		return nil, coffer.Errorf(ErrMissingAction, "Missing Action")
	}
	return q, nil
}

// Get returns a scalar parameter and whether it was given.
func (q *Request) Get(name string) (string, bool) {
	v, ok := q.Params[name]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// List returns the members of a list parameter, Name.member.1, Name.member.2, …, in order.
func (q *Request) List(name string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := q.Get(name + ".member." + strconv.Itoa(i))
		if !ok {
			return out
		}
		out = append(out, v)
	}
}

// Query-protocol error codes that have no JSON counterpart.
const (
	ErrInvalidAction        = "InvalidAction"
	ErrMissingAction        = "MissingAction"
	ErrMalformedQueryString = "MalformedQueryString"
)

// codes maps coffer's (JSON-protocol) codes to the codes and HTTP statuses the query
// protocol uses for the same failure, as IAM and STS answer them.
var codes = map[string]struct {
	code   string
	status int
}{
	coffer.ErrMissingAuthToken:       {"MissingAuthenticationToken", http.StatusForbidden},
	coffer.ErrIncompleteSignature:    {"IncompleteSignature", http.StatusBadRequest},
	coffer.ErrUnrecognizedClient:     {"InvalidClientTokenId", http.StatusForbidden},
	coffer.ErrInvalidSignature:       {"SignatureDoesNotMatch", http.StatusForbidden},
	coffer.ErrAccessDenied:           {"AccessDenied", http.StatusForbidden},
	coffer.ErrValidation:             {"ValidationError", http.StatusBadRequest},
	coffer.ErrThrottling:             {"Throttling", http.StatusBadRequest},
	coffer.ErrServiceUnavailable:     {"ServiceUnavailable", http.StatusServiceUnavailable},
	coffer.ErrInternalServiceError:   {"InternalFailure", http.StatusInternalServerError},
	coffer.ErrUnknownOperation:       {ErrInvalidAction, http.StatusBadRequest},
	coffer.ErrSerialization:          {ErrMalformedQueryString, http.StatusBadRequest},
	"RequestEntityTooLargeException": {"RequestEntityTooLarge", http.StatusRequestEntityTooLarge},
	"ExpiredTokenException":          {"ExpiredToken", http.StatusForbidden},
}

// RegisterStatus records the HTTP status of a service's own error code (e.g. IAM's
// NoSuchEntity, 404). Call it from an init function.
func RegisterStatus(code string, status int) {
	codes[code] = struct {
		code   string
		status int
	}{code, status}
}

// Code returns the query-protocol code and HTTP status for a coffer error code.
func Code(code string) (string, int) {
	if c, ok := codes[code]; ok {
		return c.code, c.status
	}
	return code, http.StatusBadRequest
}

type errorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr,omitempty"`
	Error     errorBody
	RequestID string `xml:"RequestId"`
}

type errorBody struct {
	Type    string
	Code    string
	Message string
}

// WriteError writes err as an <ErrorResponse> in namespace xmlns ("" when the service is
// not known yet). Only the code and the user-safe message reach the wire.
func WriteError(w http.ResponseWriter, err error, xmlns, requestID string) {
	e := coffer.AsError(err)
	code, status := Code(e.Code)
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	writeXML(w, status, errorResponse{Xmlns: xmlns, Error: errorBody{Type: typ, Code: code, Message: e.Message}, RequestID: requestID})
}

// WriteResult writes the successful answer of action: result (a struct encoding/xml
// marshals; nil for an empty result) as <ActionResult> inside <ActionResponse>.
func WriteResult(w http.ResponseWriter, action, xmlns, requestID string, result any) {
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	resp := xml.StartElement{Name: xml.Name{Local: action + "Response"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: xmlns}}}
	err := enc.EncodeToken(resp)
	if err == nil && result != nil {
		err = enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}})
	}
	if err == nil {
		err = enc.EncodeElement(struct {
			RequestID string `xml:"RequestId"`
		}{requestID}, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}})
	}
	if err == nil {
		err = enc.EncodeToken(resp.End())
	}
	if err == nil {
		err = enc.Flush()
	}
	if err != nil {
		WriteError(w, coffer.Internal(err), xmlns, requestID)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}

func writeXML(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		b = []byte("<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code></Error></ErrorResponse>")
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
