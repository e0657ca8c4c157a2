package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/coffer-project/coffer/client"
)

// TestAPIError: an error answer becomes an *APIError with the status, the code without
// AWS's namespace, and the message whether its member is spelled Message or message.
func TestAPIError(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   client.APIError
	}{
		{"coffer's", 400, `{"__type":"ResourceNotFoundException","Message":"Secrets Manager can't find the specified secret."}`,
			client.APIError{Status: 400, Code: "ResourceNotFoundException", Message: "Secrets Manager can't find the specified secret."}},
		{"namespaced, lower-case message", 400, `{"__type":"com.amazonaws.secretsmanager#ResourceNotFoundException","message":"not here"}`,
			client.APIError{Status: 400, Code: "ResourceNotFoundException", Message: "not here"}},
		{"AWS's unknown operation", 400, `{"__type":"com.amazon.coral.service#UnknownOperationException"}`,
			client.APIError{Status: 400, Code: "UnknownOperationException"}},
		{"a code with a URL after it", 400, `{"__type":"AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/","message":"no"}`,
			client.APIError{Status: 400, Code: "AccessDeniedException", Message: "no"}},
		{"both spellings: Message first", 500, `{"__type":"InternalServiceError","message":"lower","Message":"upper"}`,
			client.APIError{Status: 500, Code: "InternalServiceError", Message: "upper"}},
		{"other members", 429, `{"__type":"ThrottlingException","message":"Rate exceeded","retryAfter":3}`,
			client.APIError{Status: 429, Code: "ThrottlingException", Message: "Rate exceeded"}},
		{"not JSON", 502, `<html>Bad Gateway</html>`, client.APIError{Status: 502}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if got := r.Header.Get("X-Amz-Target"); got != "coffer.ResetRotation" {
					t.Errorf("X-Amz-Target %q", got)
				}
				if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
					t.Error("the request is not signed")
				}
				w.Header().Set("Content-Type", "application/x-amz-json-1.1")
				w.WriteHeader(c.status)
				w.Write([]byte(c.body))
			}))
			defer srv.Close()
			cl := client.New(srv.URL, "us-east-1", credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "example", ""), srv.Client())
			_, err := cl.ResetRotation(context.Background(), "app/db")
			var ae *client.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("got %v, want an *APIError", err)
			}
			if *ae != c.want {
				t.Errorf("got %+v, want %+v", *ae, c.want)
			}
			// DecodeError, for callers that send their own requests, reads the same body
			// the same way, and says when it names no error.
			de := client.DecodeError(c.status, []byte(c.body))
			switch {
			case c.want.Code == "" && de != nil:
				t.Errorf("DecodeError: got %+v, want nil: the body names no error", *de)
			case c.want.Code != "" && (de == nil || *de != c.want):
				t.Errorf("DecodeError: got %v, want %+v", de, c.want)
			}
		})
	}
}
