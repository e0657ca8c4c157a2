package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxDepth bounds the nesting of a document. A valid policy nests at most five levels deep
// (document, Statement list, statement, Condition, operator, key, values); the bound keeps a
// hostile document from costing more than its size.
const maxDepth = 16

type kind int

const (
	kindString kind = iota
	kindNumber
	kindBool
	kindNull
	kindObject
	kindArray
)

func (k kind) String() string {
	return [...]string{"string", "number", "boolean", "null", "object", "array"}[k]
}

// node is one JSON value, kept in document order with its literal text, so that numbers are
// not rounded and duplicate keys can be noticed (encoding/json silently keeps the last one).
type node struct {
	kind  kind
	text  string   // a string's value, a number's literal, "true" or "false"
	keys  []string // an object's keys, in order
	elems []*node  // an object's values (parallel to keys) or an array's elements
}

// errDuplicateKey is returned for an object that names a key twice. AWS's own parser takes
// one of them silently; which one is not documented, so coffer refuses the document rather
// than guess which "Effect" the author meant.
var errDuplicateKey = errors.New("duplicate key")

// syntaxError is a JSON syntax problem at a byte offset of the document.
type syntaxError struct {
	offset int64
	msg    string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("offset %d: %s", e.offset, e.msg) }

// decodeTree parses one JSON value that must fill data entirely.
func decodeTree(data []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := readNode(dec, 0)
	if err != nil {
		return nil, toSyntaxError(dec, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &syntaxError{offset: dec.InputOffset(), msg: "unexpected data after the document"}
	}
	return n, nil
}

func toSyntaxError(dec *json.Decoder, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &syntaxError{offset: se.Offset, msg: se.Error()}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &syntaxError{offset: dec.InputOffset(), msg: "unexpected end of the document"}
	}
	return &syntaxError{offset: dec.InputOffset(), msg: err.Error()}
}

func readNode(dec *json.Decoder, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, errors.New("the document nests too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &node{kind: kindObject}
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, errors.New("object key is not a string")
				}
				if seen[key] {
					return nil, fmt.Errorf("%w %q", errDuplicateKey, key)
				}
				seen[key] = true
				v, err := readNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, key)
				n.elems = append(n.elems, v)
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return n, nil
		case '[':
			n := &node{kind: kindArray}
			for dec.More() {
				v, err := readNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return n, nil
		}
		return nil, fmt.Errorf("unexpected %q", t)
	case string:
		return &node{kind: kindString, text: t}, nil
	case json.Number:
		return &node{kind: kindNumber, text: t.String()}, nil
	case bool:
		return &node{kind: kindBool, text: fmt.Sprint(t)}, nil
	case nil:
		return &node{kind: kindNull}, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// lineColumn turns a byte offset into the 1-based line and column Access Analyzer reports.
func lineColumn(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	line, col = 1, 1
	for _, b := range data[:offset] {
		if b == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}
