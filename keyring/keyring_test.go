package keyring

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func newKeyring(t testing.TB) *Keyring {
	t.Helper()
	root, err := NewRootKey()
	if err != nil {
		t.Fatal(err)
	}
	k, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ctxFor(arn, version string) Context {
	return Context{"SecretARN": arn, "SecretVersionId": version}
}

func TestSealOpenRoundTrip(t *testing.T) {
	k := newKeyring(t)
	wrapped, err := k.NewKEK("key-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{0, 1, 100, 65536} {
		plain := bytes.Repeat([]byte{0xA5}, size)
		env, err := k.Seal("key-1", wrapped, ctxFor("arn:a", "v1"), plain)
		if err != nil {
			t.Fatal(err)
		}
		if size > 8 && bytes.Contains(env.Ciphertext, plain[:8]) {
			t.Fatalf("ciphertext contains plaintext")
		}
		got, err := k.Open(env, wrapped, ctxFor("arn:a", "v1"))
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("size %d: round trip changed the value", size)
		}
	}
}

func TestOpenRejectsMismatch(t *testing.T) {
	k := newKeyring(t)
	w1, _ := k.NewKEK("key-1")
	w2, _ := k.NewKEK("key-2")
	env, err := k.Seal("key-1", w1, ctxFor("arn:a", "v1"), []byte("marker"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 1; return c }
	tests := []struct {
		name string
		env  *Envelope
		kek  []byte
		ctx  Context
	}{
		{"other secret", env, w1, ctxFor("arn:b", "v1")},
		{"other version", env, w1, ctxFor("arn:a", "v2")},
		{"extra context", env, w1, Context{"SecretARN": "arn:a", "SecretVersionId": "v1", "x": "y"}},
		{"other key id", &Envelope{KeyID: "key-2", WrappedKey: env.WrappedKey, Ciphertext: env.Ciphertext}, w2, ctxFor("arn:a", "v1")},
		{"ciphertext flipped", &Envelope{KeyID: "key-1", WrappedKey: env.WrappedKey, Ciphertext: flip(env.Ciphertext, 20)}, w1, ctxFor("arn:a", "v1")},
		{"wrapped key flipped", &Envelope{KeyID: "key-1", WrappedKey: flip(env.WrappedKey, 20), Ciphertext: env.Ciphertext}, w1, ctxFor("arn:a", "v1")},
		{"truncated", &Envelope{KeyID: "key-1", WrappedKey: env.WrappedKey, Ciphertext: env.Ciphertext[:5]}, w1, ctxFor("arn:a", "v1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := k.Open(tt.env, tt.kek, tt.ctx); !errors.Is(err, ErrOpen) {
				t.Fatalf("got %v, want ErrOpen", err)
			}
		})
	}
}

func TestKEKBoundToIDAndRoot(t *testing.T) {
	k := newKeyring(t)
	wrapped, _ := k.NewKEK("key-1")
	env, _ := k.Seal("key-1", wrapped, ctxFor("a", "b"), []byte("v"))

	// A fresh keyring with the same root unwraps the stored KEK; one with another root does not.
	other := newKeyring(t)
	if _, err := other.Open(env, wrapped, ctxFor("a", "b")); !errors.Is(err, ErrOpen) {
		t.Fatalf("other root: got %v, want ErrOpen", err)
	}
	// A wrapped KEK presented under another id is refused.
	if _, err := k.Seal("key-x", wrapped, ctxFor("a", "b"), []byte("v")); !errors.Is(err, ErrOpen) {
		t.Fatalf("KEK under other id: got %v, want ErrOpen", err)
	}
}

func TestSameRootReopens(t *testing.T) {
	root, _ := NewRootKey()
	k1, _ := New(root)
	wrapped, _ := k1.NewKEK("key-1")
	env, _ := k1.Seal("key-1", wrapped, ctxFor("a", "b"), []byte("value"))
	check, _ := k1.NewCheck()
	sealed, _ := k1.SealSecret("AKIA1", []byte("secret-key"))

	k2, _ := New(root)
	got, err := k2.Open(env, wrapped, ctxFor("a", "b"))
	if err != nil || string(got) != "value" {
		t.Fatalf("reopen: %q, %v", got, err)
	}
	if !k2.VerifyCheck(check) {
		t.Fatal("check made by the same root does not verify")
	}
	if newKeyring(t).VerifyCheck(check) {
		t.Fatal("check verifies under another root")
	}
	s, err := k2.OpenSecret("AKIA1", sealed)
	if err != nil || string(s) != "secret-key" {
		t.Fatalf("OpenSecret: %q, %v", s, err)
	}
	if _, err := k2.OpenSecret("AKIA2", sealed); !errors.Is(err, ErrOpen) {
		t.Fatalf("secret under another label: got %v", err)
	}
}

func TestRootKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "root.key")
	k1, created, err := LoadOrCreateRootKey(path)
	if err != nil || !created {
		t.Fatalf("create: %v, created=%v", err, created)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o600 {
		t.Fatalf("mode %v, want 0600", got)
	}
	k2, created, err := LoadOrCreateRootKey(path)
	if err != nil || created {
		t.Fatalf("load: %v, created=%v", err, created)
	}
	if !k1.Equal(k2) {
		t.Fatal("reloaded key differs")
	}
	if s := fmt.Sprintf("%v %#v %s", k1, k1, k1); strings.Contains(s, "b:") || !strings.Contains(s, "redacted") {
		t.Fatalf("formatting reveals key: %s", s)
	}

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateRootKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key: got %v", err)
	}
	bad := filepath.Join(dir, "bad.key")
	os.WriteFile(bad, []byte("coffer-root-key-v1:AAAA\n"), 0o600)
	if _, _, err := LoadOrCreateRootKey(bad); err == nil {
		t.Fatal("malformed key accepted")
	}
}

func TestWipe(t *testing.T) {
	b := []byte("secret")
	Wipe(b)
	if !bytes.Equal(b, make([]byte, 6)) {
		t.Fatalf("not wiped: %v", b)
	}
}
