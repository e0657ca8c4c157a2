package main

import (
	"bufio"
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/term"

	"github.com/coffer-project/coffer/keyring"
)

// secretInput reads what unseals: shares and passphrases. On a terminal it prompts (on
// stderr) and reads without echo; otherwise it reads standard input one line at a time. Never
// from an argument or the environment, which other local users and logs can see.
type secretInput struct {
	fd     int // the terminal's descriptor, or -1
	lines  *bufio.Reader
	prompt io.Writer
}

func newSecretInput(stdin io.Reader, prompt io.Writer) *secretInput {
	in := &secretInput{fd: terminalFD(stdin), prompt: prompt}
	if in.fd < 0 && stdin != nil {
		in.lines = bufio.NewReader(stdin)
	}
	return in
}

// terminalFD returns r's descriptor when r is a terminal, or -1.
func terminalFD(r io.Reader) int {
	if f, ok := r.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return int(f.Fd())
	}
	return -1
}

// errTypedDiffer is readTwice's error when the two entries differ.
var errTypedDiffer = errors.New("the two entries differ")

// readTwice reads a new secret typed twice on the terminal, with prompt and then again; the
// two are compared in constant time. The caller wipes the result.
func (in *secretInput) readTwice(prompt, again string) ([]byte, error) {
	p, err := in.read(prompt)
	if err != nil {
		return nil, err
	}
	q, err := in.read(again)
	if err != nil {
		keyring.Wipe(p)
		return nil, err
	}
	same := subtle.ConstantTimeCompare(p, q) == 1
	keyring.Wipe(q)
	if !same {
		keyring.Wipe(p)
		return nil, errTypedDiffer
	}
	return p, nil
}

// terminal reports whether input comes from a terminal.
func (in *secretInput) terminal() bool { return in.fd >= 0 }

// read returns one non-empty secret, without its line end. The caller wipes it.
func (in *secretInput) read(prompt string) ([]byte, error) {
	if in.terminal() {
		fmt.Fprint(in.prompt, prompt)
		b, err := term.ReadPassword(in.fd)
		fmt.Fprintln(in.prompt)
		if err != nil {
			return nil, fmt.Errorf("read from the terminal: %w", err)
		}
		if len(b) == 0 {
			return nil, errors.New("nothing was entered")
		}
		return b, nil
	}
	if in.lines == nil {
		return nil, errors.New("no standard input to read from")
	}
	// ReadSlice returns the bytes inside the reader's buffer, so wiping them wipes the buffer.
	line, err := in.lines.ReadSlice('\n')
	defer keyring.Wipe(line)
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, errors.New("a line of standard input is too long")
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read standard input: %w", err)
	}
	b := append([]byte(nil), trimLineEnd(line)...)
	if len(b) == 0 {
		return nil, errors.New("standard input holds no more lines to read (one share or passphrase a line)")
	}
	return b, nil
}

// newPassphrase reads a passphrase to seal with: from file when it is set, else typed twice
// on a terminal, else one line of standard input.
func (in *secretInput) newPassphrase(file, prompt string) ([]byte, error) {
	var p []byte
	var err error
	switch {
	case file != "":
		p, err = readSecretFile(file)
	case in.terminal():
		if p, err = in.readTwice(prompt, "Repeat it: "); errors.Is(err, errTypedDiffer) {
			return nil, errors.New("the passphrases differ")
		}
	default:
		p, err = in.read(prompt)
	}
	if err != nil {
		return nil, err
	}
	if len(p) < minPassphrase {
		keyring.Wipe(p)
		return nil, fmt.Errorf("the passphrase is shorter than %d characters: Argon2id slows each guess, it does not make a short passphrase strong", minPassphrase)
	}
	return p, nil
}

// minPassphrase is the shortest passphrase coffer seals with.
const minPassphrase = 12

// passphrase reads the current passphrase: from file when it is set, else from in.
func (in *secretInput) passphrase(file, prompt string) ([]byte, error) {
	if file != "" {
		return readSecretFile(file)
	}
	return in.read(prompt)
}

// readSecretFile reads a passphrase file: its first line, without the line end. Like the key
// file, it must not be accessible to group or others.
func readSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("passphrase file %s has mode %v; it must not be accessible to group or others (chmod 600)", path, st.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	defer keyring.Wipe(b)
	if err != nil {
		return nil, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	p := append([]byte(nil), trimLineEnd(line)...)
	if len(p) == 0 {
		return nil, fmt.Errorf("passphrase file %s is empty", path)
	}
	return p, nil
}

func trimLineEnd(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// shareOutput is where new unseal shares go: each into its own file in dir, or, when dir is
// "", onto stdout, which must then be a terminal.
type shareOutput struct {
	dir    string
	stdout io.Writer
}

// check refuses, before anything is generated, an output the shares must not go to.
func (o shareOutput) check() error {
	if o.dir != "" {
		if _, err := os.Lstat(filepath.Join(o.dir, "share-1")); err == nil {
			return fmt.Errorf("%s already holds shares: give an empty or new --share-dir", o.dir)
		}
		return nil
	}
	if !isTerminal(o.stdout) {
		return errors.New("refusing to print unseal shares: standard output is not a terminal, so they would end up in a file or a log; give --share-dir DIR to write each share into its own file (mode 0600)")
	}
	return nil
}

// show hands out the shares once. Go strings cannot be wiped; the caller drops them after.
func (o shareOutput) show(shares []string, threshold int) error {
	if o.dir == "" {
		fmt.Fprintf(o.stdout, "\nUnseal shares, shown only this once. Give each to a different holder; any %d of these %d unseal coffer:\n\n", threshold, len(shares))
		for i, s := range shares {
			fmt.Fprintf(o.stdout, "  share %d: %s\n", i+1, s)
		}
		fmt.Fprintln(o.stdout, "\nClear the terminal and its scroll-back once they are copied.")
		return nil
	}
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return err
	}
	for i, s := range shares {
		path := filepath.Join(o.dir, fmt.Sprintf("share-%d", i+1))
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("write share %d: %w", i+1, err)
		}
		_, err = io.WriteString(f, s+"\n")
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write share %d: %w", i+1, err)
		}
	}
	if err := keyring.SyncDir(o.dir); err != nil {
		return err
	}
	fmt.Fprintf(o.stdout, "Wrote %d unseal shares, one a file (mode 0600): %s/share-1 … share-%d. Any %d of them unseal coffer.\nHand each file to a different holder, then delete it here.\n",
		len(shares), o.dir, len(shares), threshold)
	return nil
}
