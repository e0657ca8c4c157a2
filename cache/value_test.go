package cache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/coffer-project/coffer/cache"
)

func TestJSONKey(t *testing.T) {
	e := newEnv(t, cache.Options{})
	ctx := context.Background()
	e.create(t, "app/db", `{"username":"app","password":"p\u00e4ss \"quoted\"","port":5432,"tls":true,"none":null,"opts":{"a":[1,2]}}`)
	const notJSON = "hunter2 is not JSON"
	e.create(t, "app/plain", notJSON)
	e.create(t, "app/list", `["hunter2"]`)

	for key, want := range map[string]string{
		"username": "app",
		"password": `päss "quoted"`,
		"port":     "5432",
		"tls":      "true",
		"none":     "null",
		"opts":     `{"a":[1,2]}`,
	} {
		got, err := e.cache.GetJSONKey(ctx, "app/db", key)
		if err != nil || got != want {
			t.Errorf("GetJSONKey(%s) = %q, %v; want %q", key, got, err, want)
		}
	}
	e.wantCalls(t, 1, 0)

	_, err := e.cache.GetJSONKey(ctx, "app/db", "user")
	if !errors.Is(err, cache.ErrNoKey) || !strings.Contains(err.Error(), `"user"`) || !strings.Contains(err.Error(), "app/db") {
		t.Fatalf("missing key: %v", err)
	}
	for _, name := range []string{"app/plain", "app/list"} {
		_, err = e.cache.GetJSONKey(ctx, name, "password")
		if !errors.Is(err, cache.ErrNotJSON) || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "'h'") {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

func TestBinary(t *testing.T) {
	e := newEnv(t, cache.Options{})
	ctx := context.Background()
	want := []byte{0, 1, 2, 0xfe, 0xff}
	if _, err := e.admin.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("app/cert"), SecretBinary: want}); err != nil {
		t.Fatal(err)
	}
	e.create(t, "app/text", "text")

	got, err := e.cache.GetBinary(ctx, "app/cert")
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("GetBinary = %x, %v; want %x", got, err, want)
	}
	clear(got) // the caller's own copy
	got, err = e.cache.GetBinary(ctx, "app/cert")
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("GetBinary after the caller wiped its copy = %x, %v", got, err)
	}
	e.wantCalls(t, 1, 0)

	if _, err := e.cache.GetString(ctx, "app/cert"); !errors.Is(err, cache.ErrBinary) {
		t.Fatalf("GetString of binary: %v", err)
	}
	if _, err := e.cache.GetJSONKey(ctx, "app/cert", "k"); !errors.Is(err, cache.ErrBinary) {
		t.Fatalf("GetJSONKey of binary: %v", err)
	}
	if _, err := e.cache.GetBinary(ctx, "app/text"); !errors.Is(err, cache.ErrString) {
		t.Fatalf("GetBinary of a string: %v", err)
	}
	v, err := e.cache.Get(ctx, "app/cert", cache.Version{})
	if err != nil || !v.IsBinary() || !bytes.Equal(v.Bytes(), want) {
		t.Fatalf("Get = %v, %v", v, err)
	}
	v.Wipe()
	if !bytes.Equal(v.Bytes(), make([]byte, len(want))) {
		t.Fatalf("Wipe left %x", v.Bytes())
	}
}

// TestNeverPrinted checks that no way of printing or logging a value, or the cache, shows
// the secret.
func TestNeverPrinted(t *testing.T) {
	e := newEnv(t, cache.Options{})
	ctx := context.Background()
	const secret = "hunter2-SECRET"
	e.create(t, "app/pw", secret)
	v, err := e.cache.Get(ctx, "app/pw", cache.Version{})
	if err != nil {
		t.Fatal(err)
	}
	holder := struct {
		name string
		v    cache.Value // unexported: fmt skips Value's methods here
	}{"x", v}

	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%o", "%b", "%c"} {
		out = append(out, fmt.Sprintf(verb, v), fmt.Sprintf(verb, &v), fmt.Sprintf(verb, holder), fmt.Sprintf(verb, e.cache))
	}
	out = append(out, fmt.Sprint(v), fmt.Sprintln(v), v.String(), v.GoString())
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("read", "secret", v, "cache", e.cache)
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("read", "secret", v)
	out = append(out, logged.String())

	leaks := []string{secret, fmt.Sprintf("%x", secret), fmt.Sprintf("%X", secret), fmt.Sprint([]byte(secret)[:4])}
	for _, s := range out {
		for _, leak := range leaks {
			if strings.Contains(s, leak) {
				t.Errorf("printed %q", s)
			}
		}
	}
	if !strings.Contains(v.String(), "app/pw") || !strings.Contains(logged.String(), v.VersionID) {
		t.Errorf("the metadata is missing: %s %s", v, logged.String())
	}
}
