package audit

import (
	"bytes"
	"encoding/json"
)

// DecodeParams decodes a JSON request body into the map a record's requestParameters are
// made from (to be given to Redact), as encoding/json decodes it with UseNumber: nil when the
// body is not a JSON object. A flat object, the body of nearly every call (members holding
// strings without escapes, numbers, booleans or null), is read here, without encoding/json's
// reflection; members that Redact always removes (SecretString, SecretBinary and the like)
// are skipped there unread and left out, so that a secret value is never copied out of the
// body. Any other body goes to encoding/json. (Flat: arrays of such strings are read here
// too.)
func DecodeParams(body []byte) map[string]any {
	if m, ok := decodeFlat(body); ok {
		return m
	}
	return decodeJSON(body)
}

// decodeJSON is what DecodeParams stands for: encoding/json with UseNumber.
func decodeJSON(body []byte) map[string]any {
	var params map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if dec.Decode(&params) != nil {
		return nil
	}
	return params
}

// decodeFlat reads b when it is a flat JSON object followed by nothing but white space; ok is
// false for anything else, and for anything it is not sure to read as encoding/json would.
func decodeFlat(b []byte) (m map[string]any, ok bool) {
	i := skipSpace(b, 0)
	if i == len(b) || b[i] != '{' {
		return nil, false
	}
	m = make(map[string]any, 4)
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return m, skipSpace(b, i+1) == len(b)
	}
	for {
		key, j, ok := plainString(b, i)
		if !ok {
			return nil, false
		}
		i = skipSpace(b, j)
		if i == len(b) || b[i] != ':' {
			return nil, false
		}
		i = skipSpace(b, i+1)
		if isAlwaysRemoved(string(key)) {
			// A string, escapes and all, skipped: never decoded, never copied.
			if i, ok = skipString(b, i); !ok {
				return nil, false
			}
			delete(m, string(key)) // as a later duplicate replaces an earlier one
		} else {
			var v any
			if v, i, ok = flatValue(b, i); !ok {
				return nil, false
			}
			m[string(key)] = v
		}
		i = skipSpace(b, i)
		if i == len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return m, skipSpace(b, i+1) == len(b)
		default:
			return nil, false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString reads a string at b[i] made of printable ASCII without escapes; j is just past
// its closing quote.
func plainString(b []byte, i int) (s []byte, j int, ok bool) {
	if i == len(b) || b[i] != '"' {
		return nil, 0, false
	}
	for j = i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i+1 : j], j + 1, true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// skipString steps over a valid JSON string at b[i], escapes included; j is just past it.
func skipString(b []byte, i int) (j int, ok bool) {
	if i == len(b) || b[i] != '"' {
		return 0, false
	}
	for j = i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, true
		case c < 0x20:
			return 0, false
		case c == '\\':
			j++
			if j == len(b) {
				return 0, false
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(b) {
					return 0, false
				}
				for _, h := range b[j+1 : j+5] {
					if !isHex(h) {
						return 0, false
					}
				}
				j += 4
			default:
				return 0, false
			}
		}
	}
	return 0, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// flatValue reads a plain string, a number, true, false, null, or an array of plain
// strings, at b[i].
func flatValue(b []byte, i int) (v any, j int, ok bool) {
	if i == len(b) {
		return nil, 0, false
	}
	switch c := b[i]; {
	case c == '[':
		return stringArray(b, i)
	case c == '"':
		s, j, ok := plainString(b, i)
		return string(s), j, ok
	case c == '-' || '0' <= c && c <= '9':
		j, ok := skipNumber(b, i)
		if !ok {
			return nil, 0, false
		}
		return json.Number(b[i:j]), j, true
	case bytes.HasPrefix(b[i:], []byte("true")):
		return true, i + 4, true
	case bytes.HasPrefix(b[i:], []byte("false")):
		return false, i + 5, true
	case bytes.HasPrefix(b[i:], []byte("null")):
		return nil, i + 4, true
	}
	return nil, 0, false
}

// stringArray reads an array of plain strings at b[i], as []any.
func stringArray(b []byte, i int) (v any, j int, ok bool) {
	out := []any{}
	j = skipSpace(b, i+1)
	if j < len(b) && b[j] == ']' {
		return out, j + 1, true
	}
	for {
		s, k, ok := plainString(b, j)
		if !ok {
			return nil, 0, false
		}
		out = append(out, string(s))
		j = skipSpace(b, k)
		if j == len(b) {
			return nil, 0, false
		}
		switch b[j] {
		case ',':
			j = skipSpace(b, j+1)
		case ']':
			return out, j + 1, true
		default:
			return nil, 0, false
		}
	}
}

// skipNumber steps over a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func skipNumber(b []byte, i int) (j int, ok bool) {
	digits := func(i int) int {
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i
	}
	j = i
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && '1' <= b[j] && b[j] <= '9':
		j = digits(j)
	default:
		return 0, false
	}
	if j < len(b) && b[j] == '.' {
		k := digits(j + 1)
		if k == j+1 {
			return 0, false
		}
		j = k
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		k := digits(j)
		if k == j {
			return 0, false
		}
		j = k
	}
	return j, true
}
