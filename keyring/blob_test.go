package keyring

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

const blobKeyID = "0b5a2c4e-1f2a-4b3c-8d4e-5f6a7b8c9d0e"

func TestBlobRoundTripAndBinding(t *testing.T) {
	k := newKeyring(t)
	m1, err := k.NewMaterial(blobKeyID, 1)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := k.NewMaterial(blobKeyID, 2)
	if err != nil {
		t.Fatal(err)
	}
	ctx := Context{"purpose": "test"}
	blob, err := k.Encrypt(blobKeyID, 2, m2, ctx, []byte("plain"))
	if err != nil {
		t.Fatal(err)
	}
	id, v, err := ParseBlob(blob)
	if err != nil || id != blobKeyID || v != 2 {
		t.Fatalf("ParseBlob = %q %d %v", id, v, err)
	}
	pt, err := k.Decrypt(blob, m2, ctx)
	if err != nil || string(pt) != "plain" {
		t.Fatalf("Decrypt = %q %v", pt, err)
	}
	// Another context, another material, or any changed byte: nothing opens.
	if _, err := k.Decrypt(blob, m2, Context{"purpose": "other"}); !errors.Is(err, ErrOpen) {
		t.Fatalf("another context: %v", err)
	}
	if _, err := k.Decrypt(blob, m2, nil); !errors.Is(err, ErrOpen) {
		t.Fatalf("no context: %v", err)
	}
	k.Forget()
	if _, err := k.Decrypt(blob, m1, ctx); err == nil {
		t.Fatal("material 1 opened a blob of material 2")
	}
	for i := range blob {
		bad := bytes.Clone(blob)
		bad[i] ^= 0x80
		if pt, err := k.Decrypt(bad, m2, ctx); err == nil {
			t.Fatalf("byte %d changed, still decrypted to %q", i, pt)
		}
	}
	// Material is bound to its key id and version.
	k.Forget()
	if _, err := k.Encrypt("other-key", 2, m2, ctx, []byte("x")); err == nil {
		t.Fatal("material wrapped for one key id unwrapped for another")
	}
	if _, err := k.Encrypt(blobKeyID, 3, m2, ctx, []byte("x")); err == nil {
		t.Fatal("material of version 2 unwrapped as version 3")
	}
	// Another root opens nothing.
	other := newKeyring(t)
	if _, err := other.Decrypt(blob, m2, ctx); err == nil {
		t.Fatal("another root key unwrapped the material")
	}
}

// TestFirstMaterialIsTheFoundationKEK: version 1 of a key unwraps exactly as the
// foundation's key-encryption key did, so existing data needs no migration.
func TestFirstMaterialIsTheFoundationKEK(t *testing.T) {
	k := newKeyring(t)
	wrapped, err := k.NewKEK(blobKeyID)
	if err != nil {
		t.Fatal(err)
	}
	env, err := k.Seal(blobKeyID, wrapped, ctxFor("arn:a", "v1"), []byte("old"))
	if err != nil {
		t.Fatal(err)
	}
	k.Forget()
	blob, err := k.Encrypt(blobKeyID, 1, wrapped, nil, []byte("new"))
	if err != nil {
		t.Fatalf("the foundation KEK is not usable as material 1: %v", err)
	}
	if pt, err := k.Decrypt(blob, wrapped, nil); err != nil || string(pt) != "new" {
		t.Fatal(err)
	}
	if pt, err := k.Open(env, wrapped, ctxFor("arn:a", "v1")); err != nil || string(pt) != "old" {
		t.Fatalf("legacy envelope: %q %v", pt, err)
	}
	if IsBlob(env.WrappedKey) || !IsBlob(blob) {
		t.Fatal("IsBlob cannot tell the two formats apart")
	}
}

func TestSealDataBoundToContext(t *testing.T) {
	k := newKeyring(t)
	dk := bytes.Repeat([]byte{7}, KeySize)
	ct, err := k.SealData(dk, ctxFor("arn:a", "v1"), []byte("value"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.OpenData(dk, ctxFor("arn:a", "v2"), ct); err == nil {
		t.Fatal("a value opened under another version's context")
	}
	if pt, err := k.OpenData(dk, ctxFor("arn:a", "v1"), ct); err != nil || string(pt) != "value" {
		t.Fatal(err)
	}
}

func TestRootKeyNeverFormatted(t *testing.T) {
	root, _ := NewRootKey()
	raw := root.Bytes()
	defer Wipe(raw)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
		out := fmt.Sprintf(verb, root)
		if out != "RootKey(redacted)" || bytes.Contains([]byte(out), raw) || bytes.Contains([]byte(out), []byte(fmt.Sprintf("%x", raw[:4]))) {
			t.Fatalf("%s printed %q", verb, out)
		}
	}
}

// FuzzParseBlob: the blob parser never panics; whatever it accepts is well formed, and no
// mutation of a real blob decrypts.
func FuzzParseBlob(f *testing.F) {
	k := newKeyring(f)
	w, err := k.NewMaterial(blobKeyID, 1)
	if err != nil {
		f.Fatal(err)
	}
	ctx := Context{"a": "b"}
	good, err := k.Encrypt(blobKeyID, 1, w, ctx, []byte("fuzz plaintext"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{2, 1, 'a', 0, 0, 0, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, v, err := ParseBlob(b)
		if err == nil && (len(id) < 1 || len(id) > maxKeyIDLen || v < 1 || len(b) < 2+len(id)+4+nonceSize+tagSize) {
			t.Fatalf("accepted a malformed blob: %q %d", id, v)
		}
		pt, err := k.Decrypt(b, w, ctx)
		if err == nil && (!bytes.Equal(b, good) || string(pt) != "fuzz plaintext") {
			t.Fatalf("decrypted a blob that is not the one made: %x", b)
		}
	})
}
