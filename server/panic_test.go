package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRecoverPanic(t *testing.T) {
	var logs bytes.Buffer
	h := &Handler{log: slog.New(slog.NewTextHandler(&logs, nil))}
	w := httptest.NewRecorder()
	func() {
		defer func() {
			if p := recover(); p != nil {
				h.writeError(w, h.panicked("req-1", p), false, false, "", "req-1")
			}
		}()
		panic("value-that-must-not-be-logged")
	}()
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", w.Code)
	}
	var body map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["__type"] != "InternalServiceError" {
		t.Fatalf("body %s", w.Body)
	}
	if strings.Contains(logs.String(), "value-that-must-not-be-logged") || strings.Contains(w.Body.String(), "value-that") {
		t.Fatal("the panic value reached the log or the client")
	}
	if !strings.Contains(logs.String(), "req-1") || !strings.Contains(logs.String(), "panic_type=string") {
		t.Fatalf("log lacks the request id or panic type: %s", logs.String())
	}
}
