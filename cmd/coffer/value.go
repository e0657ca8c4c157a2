package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/coffer-project/coffer/keyring"
)

// maxValue is AWS's limit on a SecretString and on a SecretBinary: 65,536 bytes.
const maxValue = 65536

// valueInput says where a verb reads a secret's value: a file, standard input when it is not
// a terminal, or a prompt that does not echo, typed twice. Never an argument.
type valueInput struct {
	file   string // --value-file; "-" is standard input
	binary bool   // --binary: the bytes as they are, stored as SecretBinary
	stdin  io.Reader
	prompt io.Writer // where prompts go: standard error
}

// read returns the value for secret name. A text value loses one trailing line end (echo and
// editors add one), must be UTF-8 and must not be empty; a binary value is taken as it is.
// The caller wipes the result.
func (in *valueInput) read(name string) ([]byte, error) {
	var b []byte
	var err error
	switch {
	case in.file != "" && in.file != "-":
		b, err = readLimited(in.file, nil)
	case in.file == "-" || terminalFD(in.stdin) < 0:
		if in.stdin == nil {
			return nil, errors.New("no standard input to read the value from")
		}
		b, err = readLimited("standard input", in.stdin)
	default:
		b, err = in.promptTwice(name)
	}
	if err != nil {
		return nil, err
	}
	if !in.binary {
		b = trimLineEnd(b)
		if !utf8.Valid(b) {
			keyring.Wipe(b)
			return nil, errors.New("the value is not UTF-8 text; store bytes with --binary")
		}
	}
	if len(b) == 0 {
		return nil, errors.New("the value is empty")
	}
	return b, nil
}

// readLimited reads a file (r nil) or r, refusing more than maxValue bytes.
func readLimited(what string, r io.Reader) ([]byte, error) {
	if r == nil {
		f, err := os.Open(what)
		if err != nil {
			return nil, fmt.Errorf("--value-file: %w", err)
		}
		defer f.Close()
		r = f
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, maxValue+2))
	if err != nil {
		keyring.Wipe(buf.Bytes())
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	b := buf.Bytes()
	// One line end beyond the limit is allowed, since a text value loses it.
	if n > maxValue+1 || n == maxValue+1 && b[n-1] != '\n' {
		keyring.Wipe(b)
		return nil, fmt.Errorf("%s holds more than %d bytes, AWS's limit for a secret value", what, maxValue)
	}
	return b, nil
}

// promptTwice reads the value from the terminal without echo, twice.
func (in *valueInput) promptTwice(name string) ([]byte, error) {
	b, err := newSecretInput(in.stdin, in.prompt).readTwice(fmt.Sprintf("Value of %s (not shown): ", name), "Again: ")
	if errors.Is(err, errTypedDiffer) {
		return nil, errors.New("the two values typed differ; nothing was stored")
	}
	return b, err
}
