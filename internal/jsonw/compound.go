package jsonw

import "slices"

// AppendStrings appends ss as encoding/json encodes a []string: null when ss is nil.
func AppendStrings(dst []byte, ss []string) []byte {
	return AppendArray(dst, ss, AppendString[string])
}

// AppendArray appends s as encoding/json encodes a slice: null when s is nil, each element
// appended by value.
func AppendArray[V any](dst []byte, s []V, value func([]byte, V) []byte) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i, v := range s {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = value(dst, v)
	}
	return append(dst, ']')
}

// AppendObject appends m as encoding/json encodes a map[string]V: its keys in byte order,
// each value appended by value; null when m is nil.
func AppendObject[V any](dst []byte, m map[string]V, value func([]byte, V) []byte) []byte {
	if m == nil {
		return append(dst, "null"...)
	}
	var room [8]string // most maps here are small: their keys sorted on the stack
	keys := room[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, k)
		dst = append(dst, ':')
		dst = value(dst, m[k])
	}
	return append(dst, '}')
}
