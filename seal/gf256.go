package seal

// Arithmetic in GF(2^8), the field Shamir's scheme works in here: bytes are polynomials over
// GF(2) reduced modulo x^8 + x^4 + x^3 + x + 1 (0x11B, the AES polynomial). Addition and
// subtraction are both XOR.
//
// Secret bytes are multiplied, so the code takes the same path and touches the same memory
// whatever the operands: no log/exp tables (their indexes would leak through the cache) and
// no branch on an operand's bits.

// gfMul returns a·b in GF(2^8), in constant time.
func gfMul(a, b byte) byte {
	var p byte
	for range 8 {
		p ^= a & -(b & 1)     // add a when b's low bit is set; -(1) is 0xFF, -(0) is 0x00
		carry := -(a >> 7)    // 0xFF when a·x overflows degree 7
		a = a<<1 ^ 0x1B&carry // multiply a by x, reducing by the low byte of 0x11B
		b >>= 1
	}
	return p
}

// gfInv returns the multiplicative inverse of a (and 0 for 0), as a^254: the non-zero
// elements form a group of order 255, so a^254·a = 1. The exponent is a constant, so
// square-and-multiply branches on nothing secret.
func gfInv(a byte) byte {
	r, p := byte(1), a
	for e := 254; e > 0; e >>= 1 {
		if e&1 == 1 {
			r = gfMul(r, p)
		}
		p = gfMul(p, p)
	}
	return r
}
