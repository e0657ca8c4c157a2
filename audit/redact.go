package audit

import (
	"encoding/json"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"
)

// alwaysRemoved are member names removed wherever they appear, in any case,
// whatever the service models say: secret material under a name the models
// forget to mark (STS marks SessionToken's shape as plain), and the
// credentials of a signed request. Keys are in lower case; a member matches
// when foldName says encoding/json would take one for the other.
var alwaysRemoved = map[string]bool{
	"sessiontoken":         true,
	"secretaccesskey":      true,
	"plaintext":            true,
	"secretstring":         true,
	"secretbinary":         true,
	"randompassword":       true,
	"rotationtoken":        true,
	"authorization":        true,
	"x-amz-security-token": true,
	"x-amz-signature":      true,
}

// cofferPaths lists, as sensitivePaths does for AWS's operations, the secret
// members of coffer's own operations (docs/extensions.md), which no botocore
// model describes: a SecretStringTemplate is part of the value it makes.
var cofferPaths = map[string]map[string][]string{
	"GenerateSecretValue": {
		"input": {"GenerateSecretString.SecretStringTemplate"},
	},
}

// foldName returns a member name as encoding/json compares it with a struct
// field's: ASCII letters in one case and every other rune as the least of its
// Unicode fold set, so that "ſecretString" (with U+017F, a long s), which the
// decoders of coffer's JSON services take for SecretString, is removed like it.
// The result is in lower case, as alwaysRemoved's keys are.
func foldName(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r >= utf8.RuneSelf {
			for {
				next := unicode.SimpleFold(r)
				if next <= r {
					r = next
					break
				}
				r = next
			}
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// maxDepth bounds the copy so that a cyclic or absurdly deep value cannot
// exhaust the stack; anything deeper is dropped, not recorded.
const maxDepth = 64

// Redact returns a deep copy of the request parameters (input true) or the
// response elements (input false) of an operation, without the members that
// service's model marks sensitive and without any key, at any depth, named
// SessionToken, SecretAccessKey, Plaintext, SecretString, SecretBinary,
// RandomPassword, RotationToken, Authorization, X-Amz-Security-Token or
// X-Amz-Signature. Names are compared as encoding/json matches members to
// fields: without regard to case, Unicode's case folding included.
//
// service is a model name ("secretsmanager", "kms", "iam", "sts"), an
// event source ("kms.amazonaws.com"), or "coffer" for coffer's own
// operations, whose secret members (GenerateSecretValue's
// SecretStringTemplate) are removed too. Redact never modifies params and never
// panics: a nil map gives nil; maps with string keys and slices of any type
// are copied as map[string]any and []any, structs and pointers as their
// JSON form; values nested deeper than 64 levels, and values JSON cannot
// encode, are dropped.
func Redact(service, operation string, params map[string]any, input bool) map[string]any {
	if params == nil {
		return nil
	}
	plain, ok := copyPlain(params, 0)
	if !ok {
		plain = copyValue(reflect.ValueOf(params), 0)
	}
	out, _ := plain.(map[string]any)
	if out == nil {
		return nil
	}
	dir := "output"
	if input {
		dir = "input"
	}
	service = strings.TrimSuffix(service, ".amazonaws.com")
	paths := sensitivePaths[service][operation][dir]
	if service == "coffer" {
		paths = cofferPaths[operation][dir]
	}
	for _, p := range paths {
		removePath(out, p)
	}
	return out
}

// copyPlain is copyValue for what JSON decoding makes (map[string]any, []any, strings,
// json.Number, float64, bools and nil), without reflection; ok is false when x holds
// anything else, for copyValue to copy.
func copyPlain(x any, depth int) (c any, ok bool) {
	if depth > maxDepth {
		return nil, true
	}
	switch x := x.(type) {
	case nil:
		return nil, true
	case string, json.Number, float64, bool:
		return x, true
	case map[string]any:
		if x == nil {
			return nil, true
		}
		m := make(map[string]any, len(x))
		for k, v := range x {
			if isAlwaysRemoved(k) {
				continue
			}
			if m[k], ok = copyPlain(v, depth+1); !ok {
				return nil, false
			}
		}
		return m, true
	case []any:
		if x == nil {
			return nil, true
		}
		s := make([]any, len(x))
		for i, v := range x {
			if s[i], ok = copyPlain(v, depth+1); !ok {
				return nil, false
			}
		}
		return s, true
	}
	return nil, false
}

// isAlwaysRemoved says whether alwaysRemoved holds name, folded; names in ASCII are folded
// without allocating.
func isAlwaysRemoved(name string) bool {
	var buf [24]byte
	if len(name) > len(buf) {
		return alwaysRemoved[foldName(name)]
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= utf8.RuneSelf {
			return alwaysRemoved[foldName(name)]
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return alwaysRemoved[string(buf[:len(name)])]
}

// copyValue deep-copies maps with string keys and slices into map[string]any
// and []any, dropping always-removed keys; byte slices are copied, scalars
// kept, and anything else replaced by its JSON form.
func copyValue(v reflect.Value, depth int) any {
	if !v.IsValid() {
		return nil
	}
	for v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if depth > maxDepth {
		return nil
	}
	switch v.Kind() {
	case reflect.Map:
		if v.IsNil() || v.Type().Key().Kind() != reflect.String {
			break
		}
		m := make(map[string]any, v.Len())
		iter := v.MapRange()
		for iter.Next() {
			k := iter.Key().String()
			if isAlwaysRemoved(k) {
				continue
			}
			m[k] = copyValue(iter.Value(), depth+1)
		}
		return m
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			break
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, v.Len())
			reflect.Copy(reflect.ValueOf(b), v)
			return b
		}
		s := make([]any, v.Len())
		for i := range s {
			s[i] = copyValue(v.Index(i), depth+1)
		}
		return s
	}
	if !v.CanInterface() {
		return nil
	}
	switch v.Kind() {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return v.Interface()
	}
	// Structs, pointers and maps without string keys are recorded as their
	// JSON form, so that their members are redacted like any other; what
	// cannot be encoded is dropped.
	raw, err := json.Marshal(v.Interface())
	if err != nil {
		return nil
	}
	var decoded any
	if json.Unmarshal(raw, &decoded) != nil {
		return nil
	}
	return copyValue(reflect.ValueOf(decoded), depth)
}

// removePath deletes the member at path (see gen_sensitive.go for the
// syntax) from v, a tree built by copyValue. Values of unexpected types are
// left alone.
func removePath(v any, path string) {
	seg, rest, last := path, "", true
	if i := strings.IndexByte(path, '.'); i >= 0 {
		seg, rest, last = path[:i], path[i+1:], false
	}
	name := seg
	var walks string
	if i := strings.IndexAny(seg, "[{"); i >= 0 {
		name, walks = seg[:i], seg[i:]
	}
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	// The decoders take a member whatever its case (see foldName), so every
	// spelling of name is removed, or walked.
	want := foldName(name)
	for k, child := range m {
		if foldName(k) != want {
			continue
		}
		if last && walks == "" {
			delete(m, k)
			continue
		}
		walk(child, walks, rest)
	}
}

// walk follows the "[]" and "{}" steps in walks, then removes rest from
// each value reached.
func walk(v any, walks, rest string) {
	switch {
	case walks == "":
		if rest != "" {
			removePath(v, rest)
		}
	case strings.HasPrefix(walks, "[]"):
		if s, ok := v.([]any); ok {
			for _, e := range s {
				walk(e, walks[2:], rest)
			}
		}
	case strings.HasPrefix(walks, "{}"):
		if m, ok := v.(map[string]any); ok {
			for _, e := range m {
				walk(e, walks[2:], rest)
			}
		}
	}
}
