package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// benchRequest is a GetSecretValue request signed once; the server's clock skew window lets it
// be replayed for the length of a benchmark.
func benchRequest(b *testing.B, s *testServer) (*http.Request, []byte) {
	body := []byte(`{"SecretId":"bench/secret"}`)
	req := httptest.NewRequest(http.MethodPost, s.URL+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", jsonCT)
	req.Header.Set("X-Amz-Target", "secretsmanager.GetSecretValue")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), s.Creds, req, hex.EncodeToString(sum[:]), "secretsmanager", "us-east-1", time.Now()); err != nil {
		b.Fatal(err)
	}
	return req, body
}

// BenchmarkHandlerGetSecretValue is one GetSecretValue of a 1 KiB secret through the whole
// handler (SigV4 with a cached signing key, SQLite read, envelope decryption, JSON encoding),
// without the network. Compare with BenchmarkHandlerBaseline.
func BenchmarkHandlerGetSecretValue(b *testing.B) {
	s, h := benchServer(b)
	req, body := benchRequest(b, s)
	for b.Loop() {
		req.Body = io.NopCloser(bytes.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkHandlerBaseline is a bare handler that reads the same request body and writes the
// same response bytes: the floor under BenchmarkHandlerGetSecretValue.
func BenchmarkHandlerBaseline(b *testing.B) {
	s, h := benchServer(b)
	req, body := benchRequest(b, s)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	resp := w.Body.Bytes()
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		w.Header().Set("Content-Type", jsonCT)
		w.Header().Set("x-amzn-RequestId", "00000000-0000-4000-8000-000000000000")
		w.Write(resp)
	})
	for b.Loop() {
		req.Body = io.NopCloser(bytes.NewReader(body))
		w := httptest.NewRecorder()
		bare.ServeHTTP(w, req)
	}
}

func benchServer(b *testing.B) (*testServer, http.Handler) {
	s := startServerTB(b, serverOpts{})
	c := s.client("us-east-1")
	if _, err := c.CreateSecret(context.Background(), &sm.CreateSecretInput{Name: aws.String("bench/secret"), SecretString: aws.String(string(bytes.Repeat([]byte("v"), 1024)))}); err != nil {
		b.Fatal(err)
	}
	return s, s.handler
}

// BenchmarkHandlerGetSecretValueParallel is BenchmarkHandlerGetSecretValue from 8 goroutines
// per CPU at once, so that calls share the audit trail's group commits as a loaded server's do.
func BenchmarkHandlerGetSecretValueParallel(b *testing.B) {
	s, h := benchServer(b)
	req, body := benchRequest(b, s)
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := req.Clone(req.Context())
			r.Body = io.NopCloser(bytes.NewReader(body))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Errorf("status %d", w.Code)
				return
			}
		}
	})
}
