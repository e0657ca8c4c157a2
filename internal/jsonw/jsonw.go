// Package jsonw appends JSON by hand on the paths where encoding/json's reflection and
// compaction showed in profiles (a secret value's response, an audit record), byte for byte
// as encoding/json writes the same values, so that the wire does not change.
package jsonw

import "unicode/utf8"

const hex = "0123456789abcdef"

// AppendString appends s as a JSON string escaped exactly as encoding/json escapes it:
// quotes, backslashes and control characters, the HTML-sensitive <, > and &, U+2028 and
// U+2029, and invalid UTF-8 as U+FFFD.
func AppendString[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Eight bytes at a time while they are all written as they are: a secret's value is
		// mostly such bytes.
		for i+8 <= len(s) {
			w := s[i : i+8]
			if !safe8(uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
				uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56) {
				break
			}
			i += 8
		}
		if i == len(s) {
			break
		}
		if b := s[i]; b < utf8.RuneSelf {
			if safe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		var r rune
		var size int
		switch v := any(s).(type) {
		case string:
			r, size = utf8.DecodeRuneInString(v[i:])
		case []byte:
			r, size = utf8.DecodeRune(v[i:])
		}
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const (
	ones = 0x0101010101010101 // 0x01 in every byte
	high = 0x8080808080808080 // the high bit of every byte
)

// safe8 reports whether every byte of w is in safe: ASCII, not below 0x20, and none of the
// five bytes encoding/json escapes. (The tests for a zero byte and a byte below 0x20 are the
// usual word-at-a-time ones; the second is exact once every byte is below 0x80.)
func safe8(w uint64) bool {
	if w&high != 0 || (w-0x20*ones)&^w&high != 0 {
		return false
	}
	return !hasZero(w^('"'*ones)) && !hasZero(w^('\\'*ones)) && !hasZero(w^('<'*ones)) &&
		!hasZero(w^('>'*ones)) && !hasZero(w^('&'*ones))
}

// hasZero reports whether a byte of w is zero.
func hasZero(w uint64) bool { return (w-ones)&^w&high != 0 }

// safe holds the ASCII bytes encoding/json writes as they are (its htmlSafeSet).
var safe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()
