package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestCanaryScanner checks the scanner itself on planted secrets: a marker, a binary value and
// a random key, in the forms a file, a log line, a JSON record or a PostgreSQL row gives them.
func TestCanaryScanner(t *testing.T) {
	c := newCanaries()
	m := c.marker("text")
	bin := c.binary("binary")
	key := make([]byte, 32)
	rand.Read(key)
	c.add("key", key)
	enc, _ := json.Marshal(map[string]any{"v": bin, "k": key})
	tests := []struct {
		name string
		data []byte
		want []string // findings' starts, in order of needles
	}{
		{"nothing", []byte(strings.Repeat("CANARY", 10) + "canary-" + base64.StdEncoding.EncodeToString(key[:20])), nil},
		{"raw in a log line", []byte(`level=DEBUG msg=x value=` + m), []string{"marker #0 (any marker; marker prefix) found in f at offset 24", "marker #1 (text; raw) found in f at offset 24"}},
		{"base64 after one byte", []byte(base64.StdEncoding.EncodeToString(append([]byte{9}, m...))), []string{"marker #1 (text; base64 std +1) found in f at offset 4"}},
		{"base64 after two bytes", []byte(base64.StdEncoding.EncodeToString(append([]byte{9, 9}, m...))), []string{"marker #1 (text; base64 std +2) found in f at offset 4"}},
		{"base64 url", []byte(base64.URLEncoding.EncodeToString(bin)), []string{
			"marker #2 (binary; base64 std +1) found in f at offset 8",
			"marker #3 (binary, the whole binary value; base64 url +0) found in f at offset 0"}},
		{"hex in a bytea", []byte(`(1,"\\x` + hex.EncodeToString(key) + `")`), []string{"marker #4 (key; hex) found in f at offset 7"}},
		{"upper-case hex", []byte(strings.ToUpper(hex.EncodeToString([]byte(m[3:] + m)))), []string{"marker #1 (text; HEX) found in f at offset"}},
		{"JSON bytes", enc, []string{
			"marker #2 (binary; base64 std +1) found in f at offset",
			"marker #3 (binary, the whole binary value; base64 std +0) found in f at offset",
			"marker #4 (key; base64 std +0) found in f at offset"}},
	}
	for _, tt := range tests {
		got := c.scan("f", tt.data)
		slices.Sort(got)
		if len(got) != len(tt.want) {
			t.Errorf("%s: %d findings %q, want %d", tt.name, len(got), got, len(tt.want))
			continue
		}
		for i := range got {
			if !strings.HasPrefix(got[i], tt.want[i]) {
				t.Errorf("%s: finding %q, want %q…", tt.name, got[i], tt.want[i])
			}
		}
	}
}

// needle is one form of one secret: the raw bytes, or an encoding of them.
type needle struct {
	id   int    // the secret's number, from 1; 0 for the prefix every marker shares
	form string // what the bytes are: "raw", "hex", "base64 std +1", …
	b    []byte
}

// canaries are the secrets of a run and the forms they are searched in.
type canaries struct {
	n       int
	labels  []string // the secrets' labels, by number - 1: the operation each was made for
	needles []needle
	index   map[string][]int // the first indexLen bytes of a needle → its places in needles
}

const (
	markerPrefix = "CANARY-"
	indexLen     = len(markerPrefix)
)

func newCanaries() *canaries {
	c := &canaries{index: map[string][]int{}}
	// Any marker, or the start of one, whatever follows it.
	c.put(needle{0, "marker prefix", []byte(markerPrefix)})
	return c
}

func (c *canaries) put(n needle) {
	if len(n.b) < indexLen {
		return
	}
	for _, i := range c.index[string(n.b[:indexLen])] {
		if c.needles[i].id == n.id && bytes.Equal(c.needles[i].b, n.b) {
			return // the same bytes as another form (base64 url without - or _)
		}
	}
	c.needles = append(c.needles, n)
	k := string(n.b[:indexLen])
	c.index[k] = append(c.index[k], len(c.needles)-1)
}

// add registers s, a secret no byte written by the server may hold, in every form a writer
// might give it: raw, hex in either case, and standard or URL base64 at each of the three
// alignments it can have inside a longer encoded blob (the groups its ends share with the
// neighbouring bytes left out). It returns the secret's number.
func (c *canaries) add(label string, s []byte) int {
	c.n++
	c.labels = append(c.labels, label)
	id := c.n
	c.put(needle{id, "raw", bytes.Clone(s)})
	h := hex.EncodeToString(s)
	c.put(needle{id, "hex", []byte(h)})
	c.put(needle{id, "HEX", []byte(strings.ToUpper(h))})
	for _, enc := range []struct {
		name string
		e    *base64.Encoding
	}{{"base64 std", base64.StdEncoding}, {"base64 url", base64.URLEncoding}} {
		for k := range 3 {
			e := enc.e.EncodeToString(append(make([]byte, k), s...))
			lo, hi := 0, len(e)-4
			if k > 0 {
				lo = 4
			}
			if hi-lo >= 12 {
				c.put(needle{id, fmt.Sprintf("%s +%d", enc.name, k), []byte(e[lo:hi])})
			}
		}
	}
	return id
}

// marker returns a new marker, "CANARY-" and 24 random hex digits, and registers it under
// label.
func (c *canaries) marker(label string) string {
	m := markerPrefix + canaryHex(12)
	c.add(label, []byte(m))
	return m
}

// binary returns a new binary value, a marker between bytes that are not text, and registers
// both the value and its marker.
func (c *canaries) binary(label string) []byte {
	v := append([]byte{0x00, 0xff, 0x80, 0x7f}, c.marker(label)...)
	v = append(v, 0xfe, 0x01, 0x00)
	c.add(label+", the whole binary value", v)
	return v
}

// scan returns a finding for each needle in data, at its first offset, named by where. A
// finding names the secret's number, the form and the offset, never the bytes.
func (c *canaries) scan(where string, data []byte) []string {
	var out []string
	seen := map[int]bool{}
	for i := 0; i+indexLen <= len(data); i++ {
		for _, ni := range c.index[string(data[i:i+indexLen])] {
			n := c.needles[ni]
			if seen[ni] || !bytes.HasPrefix(data[i:], n.b) {
				continue
			}
			seen[ni] = true
			label := "any marker"
			if n.id > 0 {
				label = c.labels[n.id-1]
			}
			out = append(out, fmt.Sprintf("marker #%d (%s; %s) found in %s at offset %d", n.id, label, n.form, where, i))
		}
	}
	return out
}

func canaryHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
