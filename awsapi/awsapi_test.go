package awsapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/coffer-project/coffer"
)

func TestTimestamp(t *testing.T) {
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Unix(1700000000, 0), "1700000000"},
		{time.UnixMilli(1700000000123), "1700000000.123"},
		{time.UnixMilli(1700000000500), "1700000000.5"},
	}
	for _, tt := range tests {
		b, err := json.Marshal(Timestamp(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		if got := string(b); got != tt.want {
			t.Errorf("Marshal(%v) = %s, want %s", tt.in, got, tt.want)
		}
		var back Timestamp
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !time.Time(back).Equal(tt.in) {
			t.Errorf("round trip %v -> %v", tt.in, time.Time(back))
		}
	}
	if TimePtr(time.Time{}) != nil {
		t.Error("TimePtr(zero) != nil")
	}
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		err        error
		wantStatus int
		wantBody   string
	}{
		{coffer.Errorf(coffer.ErrResourceNotFound, "Secrets Manager can't find the specified secret."), 400,
			`{"Message":"Secrets Manager can't find the specified secret.","__type":"ResourceNotFoundException"}`},
		{coffer.Errorf(coffer.ErrUnrecognizedClient, "The security token included in the request is invalid."), 400,
			`{"__type":"UnrecognizedClientException","message":"The security token included in the request is invalid."}`},
		{coffer.Errorf(coffer.ErrAccessDenied, "no"), 400, `{"Message":"no","__type":"AccessDeniedException"}`},
		{&coffer.Error{Code: coffer.ErrInternalServiceError, Message: "An error occurred on the server side.", Err: errSecret}, 500,
			`{"Message":"An error occurred on the server side.","__type":"InternalServiceError"}`},
		{errSecret, 500, `{"Message":"An error occurred on the server side.","__type":"InternalServiceError"}`},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		WriteError(w, tt.err)
		if w.Code != tt.wantStatus {
			t.Errorf("%v: status %d, want %d", tt.err, w.Code, tt.wantStatus)
		}
		if got := w.Body.String(); got != tt.wantBody {
			t.Errorf("body %s, want %s", got, tt.wantBody)
		}
		if ct := w.Header().Get("Content-Type"); ct != ContentType {
			t.Errorf("content type %q", ct)
		}
		if strings.Contains(w.Body.String(), "cause-with-detail") {
			t.Error("internal cause reached the wire")
		}
	}
}

type secretErr struct{}

func (secretErr) Error() string { return "cause-with-detail" }

var errSecret = secretErr{}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		method, target, ct string
		wantCode           string
	}{
		{"POST", "secretsmanager.GetSecretValue", "application/x-amz-json-1.1", ""},
		{"POST", "secretsmanager.GetSecretValue", "application/x-amz-json-1.1; charset=utf-8", ""},
		{"POST", "", "application/x-amz-json-1.1", coffer.ErrUnknownOperation},
		{"POST", "GetSecretValue", "application/x-amz-json-1.1", coffer.ErrUnknownOperation},
		{"POST", "secretsmanager.GetSecretValue", "text/plain", coffer.ErrSerialization},
		{"POST", "secretsmanager.GetSecretValue", "", coffer.ErrSerialization},
		{"GET", "secretsmanager.GetSecretValue", "application/x-amz-json-1.1", coffer.ErrUnknownOperation},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, "/", nil)
		r.Header.Set("X-Amz-Target", tt.target)
		r.Header.Set("Content-Type", tt.ct)
		tg, err := ParseTarget(r)
		if got := coffer.ErrorCode(err); got != tt.wantCode {
			t.Errorf("%s %q %q: code %q, want %q", tt.method, tt.target, tt.ct, got, tt.wantCode)
		}
		if err == nil && (tg.Prefix != "secretsmanager" || tg.Operation != "GetSecretValue") {
			t.Errorf("target %+v", tg)
		}
	}
}

func TestReadBodyLimit(t *testing.T) {
	r := httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("x", MaxBodySize+1)))
	_, err := ReadBody(r)
	w := httptest.NewRecorder()
	WriteError(w, err)
	if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "RequestEntityTooLargeException") {
		t.Fatalf("oversized body: %d %s", w.Code, w.Body.String())
	}
	r = httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("x", MaxBodySize)))
	r.ContentLength = -1
	if b, err := ReadBody(r); err != nil || len(b) != MaxBodySize {
		t.Fatalf("body of exactly the limit: %d, %v", len(b), err)
	}
}

// TestReadBodyLength: a body of announced length is read whole, in one buffer; one that
// ends early is a read error, not a shorter request.
func TestReadBodyLength(t *testing.T) {
	body := `{"SecretId":"app/db"}`
	r := httptest.NewRequest("POST", "/", strings.NewReader(body))
	if b, err := ReadBody(r); err != nil || string(b) != body || cap(b) != len(body) {
		t.Fatalf("ReadBody = %q (cap %d), %v", b, cap(b), err)
	}
	r = httptest.NewRequest("POST", "/", strings.NewReader(body))
	r.ContentLength = int64(len(body) + 5)
	if _, err := ReadBody(r); coffer.ErrorCode(err) != coffer.ErrSerialization {
		t.Fatalf("a body shorter than its Content-Length: %v", err)
	}
}

// TestReadBodyClaimedLength: a Content-Length of a megabyte whose bytes never come does not
// make the server allocate a megabyte (an unauthenticated client could claim it on many
// connections at once).
func TestReadBodyClaimedLength(t *testing.T) {
	r := httptest.NewRequest("POST", "/", iotest.ErrReader(io.ErrUnexpectedEOF))
	r.ContentLength = MaxBodySize
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ReadBody(r)
	runtime.ReadMemStats(&after)
	if coffer.ErrorCode(err) != coffer.ErrSerialization {
		t.Fatalf("a body that ends at once: %v", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Fatalf("ReadBody allocated %d bytes for a claimed length whose bytes never came", n)
	}
}

type input struct {
	SecretId     *string //nolint:revive
	MaxResults   *int64
	VersionStage []string
}

func TestDecode(t *testing.T) {
	tests := []struct {
		body     string
		wantCode string
	}{
		{`{"SecretId":"a"}`, ""},
		{``, ""},
		{`  `, ""},
		{`{"SecretId":"a","Unknown":1}`, ""},
		{`{"SecretId":`, coffer.ErrSerialization},
		{`{"SecretId":5}`, coffer.ErrSerialization},
		{`{"MaxResults":"x"}`, coffer.ErrSerialization},
		{`{"SecretId":"a"} {}`, coffer.ErrSerialization},
		{`{"SecretId":"a"} }`, coffer.ErrSerialization},
		{"{\"SecretId\":\"a\"}\r\n ", ""},
		{`[1,2]`, coffer.ErrSerialization},
		{`null`, ""},
	}
	for _, tt := range tests {
		var in input
		err := Decode([]byte(tt.body), &in)
		if got := coffer.ErrorCode(err); got != tt.wantCode {
			t.Errorf("Decode(%q): code %q, want %q (%v)", tt.body, got, tt.wantCode, err)
		}
	}
	var in input
	err := Decode([]byte(`{"SecretId":12345678}`), &in)
	if err == nil || strings.Contains(err.Error(), "12345678") {
		t.Errorf("type error echoes the value: %v", err)
	}
}
