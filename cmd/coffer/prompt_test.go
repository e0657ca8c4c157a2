package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecretInputLines(t *testing.T) {
	in := newSecretInput(strings.NewReader("first\r\nsecond\n\nlast"), &bytes.Buffer{})
	if in.terminal() {
		t.Fatal("a reader taken for a terminal")
	}
	for _, want := range []string{"first", "second"} {
		got, err := in.read("prompt: ")
		if err != nil || string(got) != want {
			t.Fatalf("read = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := in.read("prompt: "); err == nil {
		t.Fatal("an empty line read as a secret")
	}
	if got, err := in.read("prompt: "); err != nil || string(got) != "last" {
		t.Fatalf("last line without a newline: %q, %v", got, err)
	}
	if _, err := in.read("prompt: "); err == nil {
		t.Fatal("read past the end")
	}
	long := newSecretInput(strings.NewReader(strings.Repeat("x", 10000)+"\n"), &bytes.Buffer{})
	if _, err := long.read("prompt: "); err == nil {
		t.Fatal("an overlong line accepted")
	}
}

func TestNewPassphrase(t *testing.T) {
	var prompts bytes.Buffer
	in := newSecretInput(strings.NewReader("too short\na passphrase long enough\n"), &prompts)
	if _, err := in.newPassphrase("", "New: "); err == nil || !strings.Contains(err.Error(), "shorter than") {
		t.Fatalf("short passphrase: %v", err)
	}
	p, err := in.newPassphrase("", "New: ")
	if err != nil || string(p) != "a passphrase long enough" {
		t.Fatalf("newPassphrase = %q, %v", p, err)
	}
	if prompts.Len() != 0 {
		t.Fatalf("prompts written for input that is not a terminal: %q", prompts.String())
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "p")
	os.WriteFile(file, []byte("from a file, long enough\nignored second line\n"), 0o600)
	if p, err := in.newPassphrase(file, "New: "); err != nil || string(p) != "from a file, long enough" {
		t.Fatalf("from a file: %q, %v", p, err)
	}
	os.Chmod(file, 0o640)
	if _, err := readSecretFile(file); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a group-readable passphrase file: %v", err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	if _, err := readSecretFile(empty); err == nil {
		t.Fatal("an empty passphrase file accepted")
	}
}

func TestShareOutputRefusesPipes(t *testing.T) {
	if err := (shareOutput{stdout: &bytes.Buffer{}}).check(); err == nil || !strings.Contains(err.Error(), "--share-dir") {
		t.Fatalf("shares to a buffer: %v", err)
	}
	dir := t.TempDir()
	out := shareOutput{dir: dir, stdout: &bytes.Buffer{}}
	if err := out.check(); err != nil {
		t.Fatal(err)
	}
	if err := out.show([]string{"coffer-share-v1:aa", "coffer-share-v1:bb", "coffer-share-v1:cc"}, 2); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.stdout.(*bytes.Buffer).String(), "coffer-share-v1:aa") {
		t.Fatal("a share written to stdout with --share-dir")
	}
	if err := out.check(); err == nil {
		t.Fatal("a share directory that holds shares accepted")
	}
	if err := out.show([]string{"t1", "t2"}, 2); err == nil {
		t.Fatal("a share file overwritten")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "share-1")); string(b) != "coffer-share-v1:aa\n" {
		t.Fatalf("share-1 holds %q", b)
	}
}
