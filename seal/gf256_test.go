package seal

import "testing"

// slowMul multiplies the schoolbook way: carry-less product of degree ≤ 14, then reduction
// modulo x^8 + x^4 + x^3 + x + 1 one high bit at a time.
func slowMul(a, b byte) byte {
	var p uint16
	for i := range 8 {
		if b>>i&1 == 1 {
			p ^= uint16(a) << i
		}
	}
	for i := 14; i >= 8; i-- {
		if p>>i&1 == 1 {
			p ^= 0x11B << (i - 8)
		}
	}
	return byte(p)
}

func TestGFMulAllPairs(t *testing.T) {
	for a := range 256 {
		for b := range 256 {
			if got, want := gfMul(byte(a), byte(b)), slowMul(byte(a), byte(b)); got != want {
				t.Fatalf("gfMul(%#02x, %#02x) = %#02x, want %#02x", a, b, got, want)
			}
		}
	}
}

func TestGFKnownValues(t *testing.T) {
	// FIPS-197 §4.2 and §5.1.1 examples, in the same field.
	for _, c := range []struct{ a, b, want byte }{
		{0x57, 0x83, 0xC1},
		{0x57, 0x13, 0xFE},
		{0x53, 0xCA, 0x01},
	} {
		if got := gfMul(c.a, c.b); got != c.want {
			t.Errorf("gfMul(%#02x, %#02x) = %#02x, want %#02x", c.a, c.b, got, c.want)
		}
	}
	if got := gfInv(0x53); got != 0xCA {
		t.Errorf("gfInv(0x53) = %#02x, want 0xca", got)
	}
}

func TestGFInverse(t *testing.T) {
	if got := gfInv(0); got != 0 {
		t.Errorf("gfInv(0) = %#02x, want 0", got)
	}
	seen := make(map[byte]bool)
	for a := 1; a < 256; a++ {
		inv := gfInv(byte(a))
		if got := slowMul(byte(a), inv); got != 1 {
			t.Fatalf("%#02x · gfInv(%#02x) = %#02x, want 1", a, a, got)
		}
		if seen[inv] {
			t.Fatalf("gfInv(%#02x) = %#02x repeats", a, inv)
		}
		seen[inv] = true
	}
}
