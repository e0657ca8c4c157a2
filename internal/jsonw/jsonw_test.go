package jsonw

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// TestAppendStringMatchesEncodingJSON: every byte value, in every position, and random
// strings, escape as encoding/json escapes them.
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	cases := []string{"", "plain", `q"b\s`, "<a&b>", "\u2028\u2029", "é漢字🙂", "\xff\xfe", "a\xc3", "\x00\x1f\x7f", "\b\f\n\r\t"}
	for b := range 256 {
		cases = append(cases, string([]byte{byte(b)}), "x"+string([]byte{byte(b)})+"y")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		n := rng.IntN(40)
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		cases = append(cases, string(b))
	}
	// Mostly bytes written as they are, with one byte of every value (or a rune past ASCII)
	// at every position of runs longer than a word: the eight-bytes-at-a-time path and its
	// ends.
	specials := []string{"\u2028", "é", "漢", "\xff", "\xc3"}
	for b := range 256 {
		specials = append(specials, string([]byte{byte(b)}))
	}
	for _, sp := range specials {
		for n := range 20 {
			base := []byte("abcdefghijklmnopqrstuvwxyz0123456789")[:n+8]
			for at := 0; at <= len(base); at++ {
				cases = append(cases, string(base[:at])+sp+string(base[at:]))
			}
		}
	}
	for range 2000 {
		n := rng.IntN(100)
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(0x20 + rng.IntN(0x5f))
			if rng.IntN(20) == 0 {
				b[i] = byte(rng.IntN(256))
			}
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
		if got := AppendString(nil, []byte(s)); string(got) != string(want) {
			t.Fatalf("AppendString([]byte %q) = %s, want %s", s, got, want)
		}
	}
}

func BenchmarkAppendString(b *testing.B) {
	s := make([]byte, 1024)
	for i := range s {
		s[i] = 'a' + byte(i%26)
	}
	buf := make([]byte, 0, 2048)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		buf = AppendString(buf[:0], s)
	}
}

// TestAppendCompoundMatchesEncodingJSON: AppendStrings and AppendObject write what
// encoding/json writes for a []string and a map[string][]string, nil and empty included.
func TestAppendCompoundMatchesEncodingJSON(t *testing.T) {
	for _, ss := range [][]string{nil, {}, {"a"}, {"<x>", "", "\u2028\xff"}} {
		want, _ := json.Marshal(ss)
		if got := AppendStrings(nil, ss); string(got) != string(want) {
			t.Errorf("AppendStrings(%q) = %s, want %s", ss, got, want)
		}
	}
	for _, m := range []map[string][]string{nil, {}, {"b": {"1"}, "a": nil, "<": {}, "\xff": {"x", "y"}},
		{"k0": nil, "k1": nil, "k2": nil, "k3": nil, "k4": nil, "k5": nil, "k6": nil, "k7": nil, "k8": {"9"}, "K": nil}} {
		want, _ := json.Marshal(m)
		if got := AppendObject(nil, m, AppendStrings); string(got) != string(want) {
			t.Errorf("AppendObject(%q) = %s, want %s", m, got, want)
		}
	}
}
