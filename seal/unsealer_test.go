package seal

import (
	"errors"
	"testing"

	"github.com/coffer-project/coffer/keyring"
)

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// mistype changes one hex digit in the middle of a printed share.
func mistype(s string) string {
	i := len(s) / 2
	d := byte('0')
	if s[i] == '0' {
		d = '1'
	}
	return s[:i] + string(d) + s[i+1:]
}

func add(t *testing.T, u *Unsealer, share string, wantProgress int, wantErr error) *keyring.RootKey {
	t.Helper()
	progress, root, err := u.Add(share)
	if !errors.Is(err, wantErr) {
		t.Fatalf("Add: err = %v, want %v", err, wantErr)
	}
	if progress != wantProgress {
		t.Fatalf("Add: progress = %d, want %d", progress, wantProgress)
	}
	if err != nil && root != nil {
		t.Fatal("Add returned a root key with an error")
	}
	if u.Progress() != wantProgress%u.Threshold() {
		t.Fatalf("Progress() = %d after Add returned %d", u.Progress(), progress)
	}
	return root
}

func newUnsealer(t *testing.T, shares, threshold int) (*keyring.RootKey, *Unsealer, []string) {
	t.Helper()
	root, _ := newRoot(t)
	cfg, printed, err := InitShamir(root, shares, threshold)
	if err != nil {
		t.Fatal(err)
	}
	if len(printed) != shares {
		t.Fatalf("got %d shares, want %d", len(printed), shares)
	}
	u, err := NewUnsealer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if u.Threshold() != threshold || u.Progress() != 0 {
		t.Fatalf("new unsealer at %d of %d", u.Progress(), u.Threshold())
	}
	return root, u, printed
}

func TestUnsealerProgress(t *testing.T) {
	root, u, shares := newUnsealer(t, 5, 3)
	if add(t, u, shares[0], 1, nil) != nil {
		t.Fatal("root key after one share")
	}
	add(t, u, shares[0], 1, ErrDuplicateShare)
	add(t, u, mistype(shares[1]), 1, ErrShareChecksum)
	add(t, u, "not a share", 1, ErrShareFormat)
	// A valid share, but not of a 32-byte key.
	if progress, _, err := u.Add(EncodeShare([]byte{9, 1, 2, 3})); err == nil || progress != 1 {
		t.Fatalf("short share: progress %d, err %v; want 1 and an error", progress, err)
	}
	add(t, u, shares[3], 2, nil)
	held := [][]byte{u.shares[0], u.shares[1]}
	got := add(t, u, shares[4], 3, nil)
	if got == nil || !got.Equal(root) {
		t.Fatal("threshold of shares did not yield the root key")
	}
	for i, s := range held {
		if !allZero(s) {
			t.Errorf("held share %d not wiped after unsealing", i)
		}
	}
	// It starts over: the same shares unseal again.
	add(t, u, shares[2], 1, nil)
	add(t, u, shares[1], 2, nil)
	if got := add(t, u, shares[0], 3, nil); got == nil || !got.Equal(root) {
		t.Fatal("second unseal did not yield the root key")
	}
}

func TestUnsealerEverySubset(t *testing.T) {
	root, u, shares := newUnsealer(t, 5, 3)
	for a := range 5 {
		for b := a + 1; b < 5; b++ {
			for c := b + 1; c < 5; c++ {
				add(t, u, shares[c], 1, nil)
				add(t, u, shares[a], 2, nil)
				if got := add(t, u, shares[b], 3, nil); !got.Equal(root) {
					t.Fatalf("shares %d,%d,%d: wrong root key", a, b, c)
				}
			}
		}
	}
}

func TestUnsealerWrongShares(t *testing.T) {
	root, u, shares := newUnsealer(t, 5, 3)
	_, _, other := newUnsealer(t, 5, 3) // another deployment's split

	add(t, u, other[0], 1, nil)
	add(t, u, other[1], 2, nil)
	held := [][]byte{u.shares[0], u.shares[1]}
	add(t, u, other[2], 0, ErrWrongShares)
	for i, s := range held {
		if !allZero(s) {
			t.Errorf("held share %d not wiped after wrong shares", i)
		}
	}

	// Two right shares and one of another split.
	add(t, u, shares[0], 1, nil)
	add(t, u, shares[1], 2, nil)
	add(t, u, other[4], 0, ErrWrongShares)

	// A share of another split with a number already given is a duplicate.
	add(t, u, shares[0], 1, nil)
	add(t, u, other[0], 1, ErrDuplicateShare)

	// The right ones still succeed.
	add(t, u, shares[2], 2, nil)
	if got := add(t, u, shares[4], 3, nil); got == nil || !got.Equal(root) {
		t.Fatal("right shares after wrong ones did not yield the root key")
	}
}

func TestUnsealerReset(t *testing.T) {
	_, u, shares := newUnsealer(t, 3, 3)
	add(t, u, shares[0], 1, nil)
	add(t, u, shares[1], 2, nil)
	held := [][]byte{u.shares[0], u.shares[1]}
	u.Reset()
	if u.Progress() != 0 {
		t.Fatalf("progress %d after Reset", u.Progress())
	}
	for i, s := range held {
		if !allZero(s) {
			t.Errorf("held share %d not wiped by Reset", i)
		}
	}
	add(t, u, shares[0], 1, nil) // no longer a duplicate
}

func TestNewUnsealerRefuses(t *testing.T) {
	root, _ := newRoot(t)
	pp, err := InitPassphrase(root, []byte("p"), testArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewUnsealer(pp); err == nil {
		t.Error("unsealer made for a passphrase seal")
	}
	if _, err := NewUnsealer(KeyFileConfig()); err == nil {
		t.Error("unsealer made for a keyfile seal")
	}
	if _, err := NewUnsealer(nil); err == nil {
		t.Error("unsealer made for no configuration")
	}
	sh, _, err := InitShamir(root, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	sh.Shamir.Verifier = sh.Shamir.Verifier[:4]
	if _, err := NewUnsealer(sh); err == nil {
		t.Error("unsealer made for a malformed configuration")
	}
}

func TestInitShamirErrors(t *testing.T) {
	root, _ := newRoot(t)
	for _, c := range [][2]int{{3, 1}, {2, 3}, {256, 2}, {0, 0}} {
		if _, _, err := InitShamir(root, c[0], c[1]); err == nil {
			t.Errorf("InitShamir(%d, %d) succeeded", c[0], c[1])
		}
	}
	if _, _, err := InitShamir(nil, 3, 2); err == nil {
		t.Error("nil root key accepted")
	}
}

func TestRootKeyBytes(t *testing.T) {
	root, raw := newRoot(t)
	got, err := rootKeyBytes(root)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(raw) {
		t.Fatal("rootKeyBytes does not return the key's bytes")
	}
	if _, err := rootKeyBytes(nil); err == nil {
		t.Error("nil root key accepted")
	}
}
