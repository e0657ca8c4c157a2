package seal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestShareRoundTrip(t *testing.T) {
	shares, err := Split(randomBytes(t, 32), 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range shares {
		enc := EncodeShare(s)
		if !strings.HasPrefix(enc, SharePrefix) {
			t.Fatalf("encoding %q lacks the prefix", enc)
		}
		if got, want := len(enc), len(SharePrefix)+2*(33+checksumSize); got != want {
			t.Errorf("encoding has %d characters, want %d", got, want)
		}
		if want := SharePrefix + hex.EncodeToString(s); !strings.HasPrefix(enc, want) {
			t.Errorf("encoding %q does not start with the lowercase hex of the share", enc)
		}
		for _, in := range []string{enc, "  " + enc + "\n", SharePrefix + strings.ToUpper(enc[len(SharePrefix):])} {
			got, err := ParseShare(in)
			if err != nil {
				t.Fatalf("ParseShare(%q): %v", in, err)
			}
			if !bytes.Equal(got, s) {
				t.Fatalf("ParseShare(%q) = %x, want %x", in, got, s)
			}
		}
	}
}

func TestParseShareDetectsTypos(t *testing.T) {
	shares, err := Split(randomBytes(t, 32), 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	enc := EncodeShare(shares[1])
	const digits = "0123456789abcdef"
	// Every single-digit substitution, including in the checksum itself.
	for i := len(SharePrefix); i < len(enc); i++ {
		for _, d := range []byte(digits) {
			if d == enc[i] {
				continue
			}
			typo := enc[:i] + string(d) + enc[i+1:]
			if _, err := ParseShare(typo); !errors.Is(err, ErrShareChecksum) {
				t.Fatalf("substitution at %d: err = %v, want ErrShareChecksum", i, err)
			}
		}
	}
	// Every transposition of two neighbouring different digits.
	for i := len(SharePrefix); i+1 < len(enc); i++ {
		if enc[i] == enc[i+1] {
			continue
		}
		typo := enc[:i] + string(enc[i+1]) + string(enc[i]) + enc[i+2:]
		if _, err := ParseShare(typo); !errors.Is(err, ErrShareChecksum) {
			t.Fatalf("transposition at %d: err = %v, want ErrShareChecksum", i, err)
		}
	}
	// A byte left out, or one too many.
	if _, err := ParseShare(enc[:len(enc)-2]); !errors.Is(err, ErrShareChecksum) {
		t.Errorf("truncated share: err = %v, want ErrShareChecksum", err)
	}
	if _, err := ParseShare(enc + "00"); !errors.Is(err, ErrShareChecksum) {
		t.Errorf("extended share: err = %v, want ErrShareChecksum", err)
	}
}

func TestParseShareFormat(t *testing.T) {
	valid := EncodeShare([]byte{1, 2, 3})
	for _, c := range []struct{ name, in string }{
		{"empty", ""},
		{"prefix only", SharePrefix},
		{"no prefix", valid[len(SharePrefix):]},
		{"other version", strings.Replace(valid, "v1", "v2", 1)},
		{"prefix case", strings.ToUpper(valid)},
		{"odd length", valid[:len(valid)-1]},
		{"not hex", valid[:len(valid)-1] + "g"},
		{"inner space", valid[:20] + " " + valid[20:]},
		{"too short", SharePrefix + "01020304"},
		{"x is zero", EncodeShare([]byte{0, 2, 3})},
	} {
		if _, err := ParseShare(c.in); !errors.Is(err, ErrShareFormat) {
			t.Errorf("%s: err = %v, want ErrShareFormat", c.name, err)
		}
	}
}

func TestHexDigitsExhaustive(t *testing.T) {
	for n := range 16 {
		if got, want := hexDigit(byte(n)), strconv.FormatInt(int64(n), 16)[0]; got != want {
			t.Errorf("hexDigit(%d) = %q, want %q", n, got, want)
		}
	}
	for c := range 256 {
		v, ok := hexValue(byte(c))
		want, err := strconv.ParseUint(string(rune(c)), 16, 8)
		if wantOK := err == nil && c < 0x80; (ok == 0xFF) != wantOK || (ok != 0 && ok != 0xFF) {
			t.Errorf("hexValue(%q) ok = %#02x, want valid = %v", rune(c), ok, wantOK)
			continue
		}
		if ok == 0xFF && uint64(v) != want {
			t.Errorf("hexValue(%q) = %d, want %d", rune(c), v, want)
		}
	}
}

func FuzzParseShare(f *testing.F) {
	f.Add(EncodeShare([]byte{1, 0xAB, 0xCD}))
	f.Add(EncodeShare(append([]byte{7}, bytes.Repeat([]byte{0x5A}, 32)...)))
	f.Add(SharePrefix + "0102030405060708")
	f.Add(" " + SharePrefix + "ZZ")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		share, err := ParseShare(s)
		if err != nil {
			// Exactly a sentinel, so the message cannot quote the input.
			if err != ErrShareFormat && err != ErrShareChecksum {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		// Accepted: check the checksum independently of the code under test.
		trimmed := strings.TrimSpace(s)
		payload, err := hex.DecodeString(strings.TrimPrefix(trimmed, SharePrefix))
		if err != nil || !strings.HasPrefix(trimmed, SharePrefix) {
			t.Fatalf("accepted %q, which is not prefix and hex (%v)", s, err)
		}
		n := len(payload) - 4
		sum := sha256.Sum256(append([]byte(SharePrefix), payload[:n]...))
		if n < 2 || !bytes.Equal(sum[:4], payload[n:]) {
			t.Fatalf("accepted %q with a checksum that does not match", s)
		}
		if !bytes.Equal(share, payload[:n]) || share[0] == 0 {
			t.Fatalf("ParseShare(%q) = %x, want %x with non-zero x", s, share, payload[:n])
		}
		if got := EncodeShare(share); got != strings.ToLower(trimmed) {
			t.Fatalf("re-encoding %q gave %q", trimmed, got)
		}
	})
}
