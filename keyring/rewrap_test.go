package keyring

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestRewrapMaterial(t *testing.T) {
	old, next := newKeyring(t), newKeyring(t)
	ctx := ctxFor("arn:a", "v1")
	w1, err := old.NewMaterial("key-1", 1)
	if err != nil {
		t.Fatal(err)
	}
	w2, err := old.NewMaterial("key-1", 2)
	if err != nil {
		t.Fatal(err)
	}
	blob1, err := old.Encrypt("key-1", 1, w1, ctx, []byte("one"))
	if err != nil {
		t.Fatal(err)
	}
	blob2, err := old.Encrypt("key-1", 2, w2, ctx, []byte("two"))
	if err != nil {
		t.Fatal(err)
	}
	// The foundation's envelopes, under a KEK that is the key's first material.
	env, err := old.Seal("key-1", w1, ctx, []byte("legacy"))
	if err != nil {
		t.Fatal(err)
	}

	r1, err := old.RewrapMaterial(next, "key-1", 1, w1)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := old.RewrapMaterial(next, "key-1", 2, w2)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(r1, w1) || bytes.Equal(r2, w2) {
		t.Fatal("rewrapped material equals the old wrapping")
	}
	for _, c := range []struct {
		blob, wrapped []byte
		want          string
	}{{blob1, r1, "one"}, {blob2, r2, "two"}} {
		got, err := next.Decrypt(c.blob, c.wrapped, ctx)
		if err != nil || string(got) != c.want {
			t.Fatalf("Decrypt under the new root: %q, %v; want %q", got, err, c.want)
		}
	}
	if got, err := next.Open(env, r1, ctx); err != nil || string(got) != "legacy" {
		t.Fatalf("Open of a foundation envelope under the new root: %q, %v", got, err)
	}
	// The old root no longer opens the new wrapping, nor the new root the old one.
	fresh := newKeyring(t)
	if _, err := fresh.Decrypt(blob1, r1, ctx); err == nil {
		t.Fatal("a third root opened the rewrapped material")
	}
	next.Forget() // the cache is by key id and version; unwrap again
	if _, err := next.Decrypt(blob1, w1, ctx); !errors.Is(err, ErrOpen) {
		t.Fatalf("new root with the old wrapping: %v, want ErrOpen", err)
	}
	// Bound to key id and version.
	if _, err := old.RewrapMaterial(next, "key-2", 1, w1); !errors.Is(err, ErrOpen) {
		t.Fatalf("rewrap under another key id: %v, want ErrOpen", err)
	}
	if _, err := old.RewrapMaterial(next, "key-1", 2, w1); !errors.Is(err, ErrOpen) {
		t.Fatalf("rewrap as another version: %v, want ErrOpen", err)
	}
	if _, err := next.RewrapMaterial(old, "key-1", 1, w1); !errors.Is(err, ErrOpen) {
		t.Fatalf("rewrap from the wrong root: %v, want ErrOpen", err)
	}
	if _, err := old.RewrapMaterial(next, "key-1", 0, w1); err == nil {
		t.Fatal("version 0 accepted")
	}
}

func TestRewrapSecret(t *testing.T) {
	old, next := newKeyring(t), newKeyring(t)
	sealed, err := old.SealSecret("AKIA1", []byte("secret-half"))
	if err != nil {
		t.Fatal(err)
	}
	re, err := old.RewrapSecret(next, "AKIA1", sealed)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := next.OpenSecret("AKIA1", re); err != nil || string(got) != "secret-half" {
		t.Fatalf("OpenSecret under the new root: %q, %v", got, err)
	}
	if _, err := old.OpenSecret("AKIA1", re); !errors.Is(err, ErrOpen) {
		t.Fatalf("old root opened the rewrapped secret: %v", err)
	}
	if _, err := old.RewrapSecret(next, "AKIA2", sealed); !errors.Is(err, ErrOpen) {
		t.Fatalf("rewrap under another label: %v, want ErrOpen", err)
	}
	// The check token is not rewrapped but made anew.
	check, err := next.NewCheck()
	if err != nil {
		t.Fatal(err)
	}
	if !next.VerifyCheck(check) || old.VerifyCheck(check) {
		t.Fatal("check token does not tell the roots apart")
	}
}

func TestClose(t *testing.T) {
	k := newKeyring(t)
	other := newKeyring(t)
	ctx := ctxFor("arn:a", "v1")
	w, err := k.NewMaterial("key-1", 1)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := k.Encrypt("key-1", 1, w, ctx, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := k.SealSecret("AKIA1", []byte("s"))
	if err != nil {
		t.Fatal(err)
	}
	check, err := k.NewCheck()
	if err != nil {
		t.Fatal(err)
	}
	if len(k.keks) == 0 {
		t.Fatal("no material cached before Close")
	}
	k.Close()
	k.Close() // idempotent
	if len(k.keks) != 0 {
		t.Fatalf("%d materials cached after Close", len(k.keks))
	}
	for name, err := range map[string]error{
		"Decrypt":        second(k.Decrypt(blob, w, ctx)),
		"Encrypt":        second(k.Encrypt("key-1", 1, w, ctx, []byte("x"))),
		"NewMaterial":    second(k.NewMaterial("key-2", 1)),
		"NewKEK":         second(k.NewKEK("key-3")),
		"Seal":           second(k.Seal("key-1", w, ctx, []byte("x"))),
		"SealSecret":     second(k.SealSecret("AKIA1", []byte("s"))),
		"OpenSecret":     second(k.OpenSecret("AKIA1", sealed)),
		"NewCheck":       second(k.NewCheck()),
		"RewrapMaterial": second(k.RewrapMaterial(other, "key-1", 1, w)),
		"RewrapSecret":   second(k.RewrapSecret(other, "AKIA1", sealed)),
		"RewrapInto":     second(other.RewrapSecret(k, "AKIA1", sealed)),
	} {
		if !errors.Is(err, ErrClosed) && name != "RewrapInto" {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
		if name == "RewrapInto" && err == nil {
			t.Errorf("%s after Close succeeded", name)
		}
	}
	if k.VerifyCheck(check) {
		t.Error("VerifyCheck after Close reports a match")
	}
	if len(k.keks) != 0 {
		t.Errorf("%d materials cached by calls after Close", len(k.keks))
	}
}

func second[T any](_ T, err error) error { return err }

func TestRootKeyWipe(t *testing.T) {
	root, err := NewRootKey()
	if err != nil {
		t.Fatal(err)
	}
	k, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	check, _ := k.NewCheck()
	root.Wipe()
	if !bytes.Equal(root.b[:], make([]byte, KeySize)) {
		t.Fatal("root key not wiped")
	}
	// The keyring derived before the wipe keeps working.
	if !k.VerifyCheck(check) {
		t.Fatal("keyring depends on the wiped root key")
	}
}

func TestReadWriteRootKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "root.key")
	if _, err := ReadRootKey(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("ReadRootKey created the file")
	}
	key, _ := NewRootKey()
	if err := WriteRootKey(path, key); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRootKey(path)
	if err != nil || !got.Equal(key) {
		t.Fatalf("read back: %v", err)
	}
	other, _ := NewRootKey()
	if err := WriteRootKey(path, other); err == nil {
		t.Fatal("WriteRootKey replaced an existing file")
	}
	if got, _ := ReadRootKey(path); !got.Equal(key) {
		t.Fatal("refused write changed the file")
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadRootKey(path); err == nil {
		t.Fatal("group-readable key file accepted")
	}
	if _, err := ReadRootKey(dir); err == nil {
		t.Fatal("a directory read as a key file")
	}
}
