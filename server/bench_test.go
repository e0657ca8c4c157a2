package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
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

// BenchmarkHandlerGetSecretValueManyVersions is BenchmarkHandlerGetSecretValue of a secret
// with 100 versions of 4 KiB each (its AWSCURRENT the 1 KiB one the benchmark reads): the
// cost of a read must not grow with the versions it does not read.
func BenchmarkHandlerGetSecretValueManyVersions(b *testing.B) {
	s, h := benchServer(b)
	c := s.client("us-east-1")
	old := strings.Repeat("o", 4096)
	for range 99 {
		if _, err := c.PutSecretValue(context.Background(), &sm.PutSecretValueInput{SecretId: aws.String("bench/secret"), SecretString: aws.String(old), VersionStages: []string{"OLD"}}); err != nil {
			b.Fatal(err)
		}
	}
	req, body := benchRequest(b, s)
	for b.Loop() {
		req.Body = io.NopCloser(bytes.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 || !bytes.Contains(w.Body.Bytes(), []byte(`"vvvv`)) {
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

// BenchmarkHandlerPutSecretValueParallel is PutSecretValue of a 400-byte value from 8
// goroutines per CPU, each writing its own secret (keeping 10 deprecated versions, as
// coffer bench's put does), so that writes share the store's and the audit trail's group
// commits as a loaded server's do.
func BenchmarkHandlerPutSecretValueParallel(b *testing.B) {
	s, h := benchServer(b)
	var n atomic.Int64
	value := strings.Repeat("w", 400)
	call := func(target string, body []byte) error {
		req := httptest.NewRequest(http.MethodPost, s.URL+"/", bytes.NewReader(body))
		req.Header.Set("Content-Type", jsonCT)
		req.Header.Set("X-Amz-Target", target)
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(context.Background(), s.Creds, req, hex.EncodeToString(sum[:]), "secretsmanager", "us-east-1", time.Now()); err != nil {
			return err
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			return fmt.Errorf("%s: status %d: %s", target, w.Code, w.Body)
		}
		return nil
	}
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		name := fmt.Sprintf("bench/put/%d", n.Add(1))
		err := call("secretsmanager.CreateSecret", fmt.Appendf(nil, `{"Name":%q,"SecretString":%q,"ClientRequestToken":%q}`, name, value, uuid()))
		if err == nil {
			err = call("coffer.UpdateSecretVersionRetention", fmt.Appendf(nil, `{"SecretId":%q,"DeprecatedVersionsToKeep":10}`, name))
		}
		for err == nil && pb.Next() {
			err = call("secretsmanager.PutSecretValue", fmt.Appendf(nil, `{"SecretId":%q,"SecretString":%q,"ClientRequestToken":%q}`, name, value, uuid()))
		}
		if err != nil {
			b.Error(err)
		}
	})
}

func uuid() string {
	var b [16]byte
	rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
