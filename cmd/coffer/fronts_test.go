package main

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
)

// withoutExtensions returns the URL of a front of next that answers coffer's own operations
// (X-Amz-Target coffer.*) as AWS answers an operation it does not know, and passes everything
// else to next: an AWS-like endpoint for the fallbacks. refused counts the operations it
// answered so.
func withoutExtensions(t *testing.T, next http.Handler) (url string, refused *atomic.Int32) {
	t.Helper()
	refused = new(atomic.Int32)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("X-Amz-Target"), "coffer.") {
			refused.Add(1)
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"__type":"UnknownOperationException"}`))
			return
		}
		next.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	return front.URL, refused
}

// cliTestValue matches the values the CLI tests store ("canary-…"), so that a failure message
// shows where a value was, not the value.
var cliTestValue = regexp.MustCompile(`canary-[A-Za-z0-9_-]*`)

// hideValues replaces the test values in s (a program's output, a golden file) with <value>.
func hideValues(s string) string { return cliTestValue.ReplaceAllString(s, "<value>") }
