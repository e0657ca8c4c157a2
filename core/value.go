package core

import (
	"crypto/subtle"
	"encoding/json"

	"github.com/coffer-project/coffer/internal/jsonw"
)

// Text is a secret's plaintext string value. It prints as [redacted], so a value formatted
// into a log by mistake shows nothing. Wipe it when done.
type Text []byte

// String never reveals the value.
func (Text) String() string { return "[redacted]" }

// GoString never reveals the value.
func (Text) GoString() string { return "[redacted]" }

// MarshalJSON writes the value as a JSON string (never through a Go string, which could not
// be wiped).
func (t Text) MarshalJSON() ([]byte, error) { return jsonw.AppendString(nil, []byte(t)), nil }

// UnmarshalJSON reads a JSON string.
func (t *Text) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*t = Text(s)
	return nil
}

// Blob is a secret's plaintext binary value; JSON carries it as base64. It prints as [redacted].
type Blob []byte

// String never reveals the value.
func (Blob) String() string { return "[redacted]" }

// GoString never reveals the value.
func (Blob) GoString() string { return "[redacted]" }

// Value is a secret version's plaintext: exactly one of String or Binary is meaningful.
type Value struct {
	Binary bool
	Bytes  []byte
}

// String never reveals the value.
func (Value) String() string { return "[redacted]" }

// GoString never reveals the value.
func (Value) GoString() string { return "[redacted]" }

// Wipe zeroes the plaintext.
func (v *Value) Wipe() { clear(v.Bytes) }

// equal compares two values in constant time with respect to their contents.
func (v *Value) equal(o *Value) bool {
	same := subtle.ConstantTimeCompare(v.Bytes, o.Bytes) == 1
	return same && v.Binary == o.Binary
}

// encoded is the plaintext sealed for a version: a kind byte ('s' string, 'b' binary) and the
// bytes, so the kind is authenticated with the value.
func (v *Value) encoded() []byte {
	out := make([]byte, 1+len(v.Bytes))
	out[0] = 's'
	if v.Binary {
		out[0] = 'b'
	}
	copy(out[1:], v.Bytes)
	return out
}

func decodeValue(pt []byte) (*Value, bool) {
	if len(pt) < 1 || (pt[0] != 's' && pt[0] != 'b') {
		return nil, false
	}
	return &Value{Binary: pt[0] == 'b', Bytes: pt[1:]}, true
}
