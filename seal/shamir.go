package seal

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/coffer-project/coffer/keyring"
)

// MaxShares is the most shares Split makes: each needs its own non-zero x-coordinate in GF(2^8).
const MaxShares = 255

// ErrDuplicateShare is returned when two shares carry the same x-coordinate (share number).
var ErrDuplicateShare = errors.New("seal: this share number was already given")

// Split divides secret into shares, any threshold of which reconstruct it with Combine, while
// fewer reveal nothing about it. Each share is its x-coordinate (1…shares, one byte) followed by
// one byte per secret byte. It requires 2 ≤ threshold ≤ shares ≤ 255 and a non-empty secret.
// The caller wipes the shares (keyring.Wipe) once they are handed out.
func Split(secret []byte, shares, threshold int) ([][]byte, error) {
	return split(rand.Reader, secret, shares, threshold)
}

func split(random io.Reader, secret []byte, shares, threshold int) ([][]byte, error) {
	if err := checkSplitParams(shares, threshold); err != nil {
		return nil, err
	}
	if len(secret) == 0 {
		return nil, errors.New("seal: cannot split an empty secret")
	}
	// Byte i of the secret is the constant term of its own polynomial of degree threshold-1;
	// coef[i*(threshold-1)+j] is the coefficient of x^(j+1). Uniformly random coefficients make
	// any threshold-1 points independent of the constant term.
	deg := threshold - 1
	coef := make([]byte, len(secret)*deg)
	defer keyring.Wipe(coef)
	if _, err := io.ReadFull(random, coef); err != nil {
		return nil, fmt.Errorf("seal: random coefficients: %w", err)
	}
	out := make([][]byte, shares)
	for s := range out {
		x := byte(s + 1)
		share := make([]byte, 1+len(secret))
		share[0] = x
		for i, c0 := range secret {
			cs := coef[i*deg : (i+1)*deg]
			// Horner: (((c_deg·x + c_deg-1)·x + …)·x + c0.
			var y byte
			for j := deg - 1; j >= 0; j-- {
				y = gfMul(y, x) ^ cs[j]
			}
			share[1+i] = gfMul(y, x) ^ c0
		}
		out[s] = share
	}
	return out, nil
}

func checkSplitParams(shares, threshold int) error {
	switch {
	case threshold < 2:
		return fmt.Errorf("seal: threshold %d is below 2 (one share alone would be the secret)", threshold)
	case shares < threshold:
		return fmt.Errorf("seal: threshold %d exceeds the share count %d", threshold, shares)
	case shares > MaxShares:
		return fmt.Errorf("seal: share count %d exceeds %d", shares, MaxShares)
	}
	return nil
}

// Combine reconstructs the secret from shares made by Split: Lagrange interpolation at x = 0.
// It rejects fewer than two shares, shares of different lengths, a zero x-coordinate and a
// repeated one (ErrDuplicateShare). Shamir's scheme cannot tell a right combination from a
// wrong one (too few shares, or shares of different splits): both give some secret, which
// the caller must check (the seal configuration's verifier does). The caller wipes the result.
func Combine(shares [][]byte) ([]byte, error) {
	if len(shares) < 2 {
		return nil, fmt.Errorf("seal: need at least 2 shares, got %d", len(shares))
	}
	n := len(shares[0])
	if n < 2 {
		return nil, errors.New("seal: share too short")
	}
	var seen [256]bool
	for _, s := range shares {
		if len(s) != n {
			return nil, errors.New("seal: shares differ in length")
		}
		if s[0] == 0 {
			return nil, errors.New("seal: share has x-coordinate 0")
		}
		if seen[s[0]] {
			return nil, ErrDuplicateShare
		}
		seen[s[0]] = true
	}
	secret := make([]byte, n-1)
	for j, sj := range shares {
		// The Lagrange basis polynomial of share j at 0: ∏_{m≠j} x_m / (x_m − x_j). The
		// x-coordinates are public; the field operations are constant time anyway.
		num, den := byte(1), byte(1)
		for m, sm := range shares {
			if m == j {
				continue
			}
			num = gfMul(num, sm[0])
			den = gfMul(den, sm[0]^sj[0])
		}
		basis := gfMul(num, gfInv(den))
		for i, y := range sj[1:] {
			secret[i] ^= gfMul(y, basis)
		}
	}
	return secret, nil
}
