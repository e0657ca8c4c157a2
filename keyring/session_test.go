package keyring

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealSession(t *testing.T) {
	k := newKeyring(t)
	sealed, err := k.SealSession([]byte("token"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k.OpenSession(sealed); err != nil || !bytes.Equal(got, []byte("token")) {
		t.Fatalf("OpenSession: %q, %v", got, err)
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	if _, err := k.OpenSession(tampered); !errors.Is(err, ErrOpen) {
		t.Errorf("tampered: %v", err)
	}
	if _, err := newKeyring(t).OpenSession(sealed); !errors.Is(err, ErrOpen) {
		t.Errorf("other root: %v", err)
	}
	// Another purpose key does not open it either.
	if _, err := k.OpenSecret("x", sealed); !errors.Is(err, ErrOpen) {
		t.Errorf("as a server secret: %v", err)
	}
	k.Close()
	if _, err := k.OpenSession(sealed); !errors.Is(err, ErrClosed) {
		t.Errorf("closed: %v", err)
	}
}
