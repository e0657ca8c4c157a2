package seal

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"strings"

	"github.com/coffer-project/coffer/keyring"
)

// SharePrefix starts every printed share.
const SharePrefix = "coffer-share-v1:"

const checksumSize = 4

var (
	// ErrShareFormat is returned for text that is not a coffer share at all.
	ErrShareFormat = errors.New("seal: not a coffer share (expected " + SharePrefix + " and hex digits)")
	// ErrShareChecksum is returned for a share whose checksum does not match: it was mistyped
	// or truncated. No share is accepted without a matching checksum.
	ErrShareChecksum = errors.New("seal: share is mistyped (its checksum does not match)")
)

// EncodeShare returns the printable form of a share from Split: SharePrefix, then lowercase hex
// of the share followed by a 4-byte checksum (the first bytes of SHA-256 over the prefix and
// the share). The hex is produced without table look-ups indexed by share bytes.
func EncodeShare(share []byte) string {
	payload := make([]byte, 0, len(share)+checksumSize)
	payload = append(payload, share...)
	payload = append(payload, shareChecksum(share)...)
	defer keyring.Wipe(payload)
	out := make([]byte, len(SharePrefix), len(SharePrefix)+2*len(payload))
	copy(out, SharePrefix)
	for _, b := range payload {
		out = append(out, hexDigit(b>>4), hexDigit(b&0x0F))
	}
	defer keyring.Wipe(out)
	return string(out)
}

// ParseShare decodes a share printed by EncodeShare. Surrounding white space is ignored and
// the hex digits may be in either case. It returns ErrShareFormat for text that is not a share
// and ErrShareChecksum for a share that was mistyped. Errors never quote the input. The caller
// wipes the result.
func ParseShare(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, SharePrefix) {
		return nil, ErrShareFormat
	}
	digits := s[len(SharePrefix):]
	// An x-coordinate, at least one byte of secret, and the checksum.
	if len(digits)%2 != 0 || len(digits) < 2*(2+checksumSize) {
		return nil, ErrShareFormat
	}
	payload := make([]byte, len(digits)/2)
	var bad byte
	for i := range payload {
		hi, okHi := hexValue(digits[2*i])
		lo, okLo := hexValue(digits[2*i+1])
		bad |= ^okHi | ^okLo
		payload[i] = hi<<4 | lo
	}
	if bad != 0 {
		keyring.Wipe(payload)
		return nil, ErrShareFormat
	}
	n := len(payload) - checksumSize
	sum := shareChecksum(payload[:n])
	if subtle.ConstantTimeCompare(sum, payload[n:]) != 1 {
		keyring.Wipe(payload)
		return nil, ErrShareChecksum
	}
	if payload[0] == 0 {
		keyring.Wipe(payload)
		return nil, ErrShareFormat
	}
	share := make([]byte, n)
	copy(share, payload)
	keyring.Wipe(payload)
	return share, nil
}

func shareChecksum(share []byte) []byte {
	h := sha256.New()
	h.Write([]byte(SharePrefix))
	h.Write(share)
	return h.Sum(nil)[:checksumSize]
}

// hexDigit returns the lowercase hex digit of the nibble n (0…15) without a table look-up:
// '0'+n, plus the distance from '9'+1 to 'a' when n > 9.
func hexDigit(n byte) byte {
	above9 := byte((9 - int(n)) >> 8) // 0xFF when n > 9
	return '0' + n + above9&('a'-'0'-10)
}

// hexValue returns the value of the hex digit c and 0xFF as ok, or 0 and 0x00 when c is not a
// hex digit, without branching on c.
func hexValue(c byte) (v, ok byte) {
	digit := inRange(c, '0', '9')
	lower := c | 0x20 // folds 'A'…'F' onto 'a'…'f'
	letter := inRange(lower, 'a', 'f')
	return digit&(c-'0') | letter&(lower-'a'+10), digit | letter
}

// inRange returns 0xFF when lo ≤ c ≤ hi and 0 otherwise, without branching.
func inRange(c, lo, hi byte) byte {
	below := int(c) - int(lo) // negative when c < lo
	above := int(hi) - int(c) // negative when c > hi
	return byte(^((below | above) >> 8))
}
