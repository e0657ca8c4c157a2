package seal

import (
	"bytes"
	"crypto/rand"
	"errors"
	"math/bits"
	mrand "math/rand/v2"
	"testing"
	"time"
)

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func pick(shares [][]byte, mask uint) [][]byte {
	var out [][]byte
	for i, s := range shares {
		if mask&(1<<i) != 0 {
			out = append(out, s)
		}
	}
	return out
}

func TestSplitCombineEverySubset(t *testing.T) {
	const n, k = 5, 3
	for range 8 {
		secret := randomBytes(t, 32)
		shares, err := Split(secret, n, k)
		if err != nil {
			t.Fatal(err)
		}
		for mask := uint(1); mask < 1<<n; mask++ {
			subset := pick(shares, mask)
			size := bits.OnesCount(mask)
			if size < 2 {
				continue // Combine refuses a single share; see TestCombineErrors
			}
			got, err := Combine(subset)
			if err != nil {
				t.Fatalf("subset %05b: %v", mask, err)
			}
			if size >= k && !bytes.Equal(got, secret) {
				t.Errorf("subset %05b of size %d did not reconstruct the secret", mask, size)
			}
			if size < k && bytes.Equal(got, secret) {
				t.Errorf("subset %05b of size %d below the threshold reconstructed the secret", mask, size)
			}
			// The order of shares does not matter.
			rev := make([][]byte, len(subset))
			for i, s := range subset {
				rev[len(subset)-1-i] = s
			}
			again, err := Combine(rev)
			if err != nil || !bytes.Equal(again, got) {
				t.Errorf("subset %05b: reversed order gave another result (%v)", mask, err)
			}
		}
	}
}

func TestSplitShape(t *testing.T) {
	secret := randomBytes(t, 32)
	shares, err := Split(secret, 7, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(shares) != 7 {
		t.Fatalf("got %d shares, want 7", len(shares))
	}
	for i, s := range shares {
		if len(s) != 33 {
			t.Errorf("share %d has %d bytes, want 33", i, len(s))
		}
		if s[0] != byte(i+1) {
			t.Errorf("share %d has x = %d, want %d", i, s[0], i+1)
		}
		if bytes.Equal(s[1:], secret) {
			t.Errorf("share %d carries the secret in clear", i)
		}
	}
	again, err := Split(secret, 7, 4)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(again[0], shares[0]) {
		t.Error("two splits of one secret gave the same share: coefficients are not random")
	}
}

// fixedReader yields its bytes, then fails.
type fixedReader struct{ b []byte }

func (r *fixedReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, errors.New("fixedReader: exhausted")
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func TestSplitKnownPolynomial(t *testing.T) {
	// Secret bytes 0x42, 0x10; threshold 3, so coefficients (x, x^2) are (0x01, 0x02) and
	// (0x03, 0x00): y0(x) = 0x42 + x + 2x^2, y1(x) = 0x10 + 3x.
	shares, err := split(&fixedReader{[]byte{0x01, 0x02, 0x03, 0x00}}, []byte{0x42, 0x10}, 3, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range shares {
		x := byte(i + 1)
		want0 := 0x42 ^ x ^ slowMul(2, slowMul(x, x))
		want1 := 0x10 ^ slowMul(3, x)
		if !bytes.Equal(s, []byte{x, want0, want1}) {
			t.Errorf("share %d = %x, want %x", i, s, []byte{x, want0, want1})
		}
	}
	if _, err := split(&fixedReader{[]byte{1}}, []byte{0x42, 0x10}, 3, 3); err == nil {
		t.Error("split with a failing random source succeeded")
	}
}

func TestSplitParams(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	for _, c := range []struct {
		name              string
		secret            []byte
		shares, threshold int
		ok                bool
	}{
		{"2 of 2", secret, 2, 2, true},
		{"255 of 255", secret, 255, 255, true},
		{"2 of 255", secret, 255, 2, true},
		{"threshold 1", secret, 3, 1, false},
		{"threshold 0", secret, 3, 0, false},
		{"negative", secret, -1, -2, false},
		{"threshold above shares", secret, 3, 4, false},
		{"256 shares", secret, 256, 3, false},
		{"empty secret", nil, 3, 2, false},
	} {
		shares, err := Split(c.secret, c.shares, c.threshold)
		if c.ok != (err == nil) {
			t.Errorf("%s: err = %v, want ok = %v", c.name, err, c.ok)
			continue
		}
		if c.ok {
			got, err := Combine(shares[len(shares)-c.threshold:])
			if err != nil || !bytes.Equal(got, c.secret) {
				t.Errorf("%s: did not reconstruct (%v)", c.name, err)
			}
		}
	}
}

func TestCombineErrors(t *testing.T) {
	shares, err := Split(randomBytes(t, 16), 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	zeroX := append([]byte{0}, shares[1][1:]...)
	for _, c := range []struct {
		name   string
		shares [][]byte
		is     error
	}{
		{"none", nil, nil},
		{"one", shares[:1], nil},
		{"duplicate x", [][]byte{shares[0], shares[1], shares[0]}, ErrDuplicateShare},
		{"duplicate x, other y", [][]byte{shares[2], append([]byte{shares[2][0]}, shares[3][1:]...)}, ErrDuplicateShare},
		{"length mismatch", [][]byte{shares[0], shares[1][:10]}, nil},
		{"zero x", [][]byte{shares[0], zeroX}, nil},
		{"too short", [][]byte{{1}, {2}}, nil},
	} {
		got, err := Combine(c.shares)
		if err == nil {
			t.Errorf("%s: Combine succeeded with %x", c.name, got)
			continue
		}
		if c.is != nil && !errors.Is(err, c.is) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.is)
		}
	}
}

func TestSplitCombineProperty(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := mrand.New(mrand.NewPCG(seed, seed>>1))
	for iter := range 300 {
		size := 1 + r.IntN(64)
		n := 2 + r.IntN(19)
		if iter%50 == 0 {
			n = 2 + r.IntN(254)
		}
		k := 2 + r.IntN(n-1)
		secret := randomBytes(t, size)
		shares, err := Split(secret, n, k)
		if err != nil {
			t.Fatalf("Split(%d bytes, %d, %d): %v", size, n, k, err)
		}
		perm := r.Perm(n)
		m := k + r.IntN(n-k+1)
		subset := make([][]byte, m)
		for i := range subset {
			subset[i] = shares[perm[i]]
		}
		got, err := Combine(subset)
		if err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("%d of %d-of-%d shares (%d bytes) did not reconstruct (%v)", m, n, k, size, err)
		}
		// With 16 bytes or more a coincidence has probability 2^-128.
		if size >= 16 && k > 2 {
			below, err := Combine(subset[:k-1])
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(below, secret) {
				t.Fatalf("%d shares of a %d-of-%d split reconstructed the secret", k-1, n, k)
			}
		}
	}
}
