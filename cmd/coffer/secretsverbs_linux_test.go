package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"golang.org/x/sys/unix"

	"github.com/coffer-project/coffer/internal/testserver"
)

// hangingEndpoint accepts requests, reports each body on the channel, and never answers,
// so that a client stays alive holding what it sent.
func hangingEndpoint(t *testing.T) (string, <-chan []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bodies := make(chan []byte, 4)
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				req, err := http.ReadRequest(bufio.NewReader(conn))
				if err != nil {
					return
				}
				b, _ := io.ReadAll(req.Body)
				bodies <- b
				<-done
			}()
		}
	}()
	return "http://" + ln.Addr().String(), bodies
}

// procFile reads /proc/pid/name.
func procFile(t *testing.T, pid int, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestValueNeverInArguments runs the coffer binary storing a value from standard input and
// from a file against an endpoint that never answers: while the process runs, holding the
// value it sent, its argument list and environment in /proc do not hold the value.
func TestValueNeverInArguments(t *testing.T) {
	endpoint, bodies := hangingEndpoint(t)
	const canary = "canary-proc-5b1d9e"
	file := filepath.Join(t.TempDir(), "value")
	if err := os.WriteFile(file, []byte(canary), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
	}{
		{"put from stdin", []string{"secrets", "put", "app/db"}, canary + "\n"},
		{"create from a file", []string{"secrets", "create", "app/db", "--value-file", file}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(cofferBinary(t), tc.args...)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_ACCESS_KEY_ID=AKIAEXAMPLE",
				"AWS_SECRET_ACCESS_KEY=example", "AWS_REGION=us-east-1", "COFFER_ENDPOINT=" + endpoint}
			cmd.Stdin = strings.NewReader(tc.stdin)
			var out syncBuffer // written by exec's copying goroutine while the test reads it
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			defer cmd.Process.Kill()
			select {
			case b := <-bodies:
				if !bytes.Contains(b, []byte(canary)) {
					t.Fatalf("the request did not carry the value: %s", b)
				}
			case <-time.After(60 * time.Second):
				t.Fatalf("no request arrived; output:\n%s", out.String())
			}
			// The process is alive, waiting for the answer to the request that held the value.
			cmdline := procFile(t, cmd.Process.Pid, "cmdline")
			if !bytes.Contains(cmdline, []byte("secrets")) {
				t.Fatalf("read the wrong process: %q", cmdline)
			}
			if bytes.Contains(cmdline, []byte(canary)) || bytes.Contains(procFile(t, cmd.Process.Pid, "environ"), []byte(canary)) {
				t.Fatal("the value is in the process's arguments or environment")
			}
			if strings.Contains(out.String(), canary) {
				t.Fatal("the value was printed")
			}
		})
	}
}

// openPTY returns a pseudo-terminal's controlling side and its terminal.
func openPTY(t *testing.T) (ptm, pts *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(ptm.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptm.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptm.Close(); pts.Close() })
	return ptm, pts
}

// TestPromptWithoutEcho types a value twice at the prompt on a real pseudo-terminal: nothing
// typed is echoed, the value is stored; two different values store nothing.
func TestPromptWithoutEcho(t *testing.T) {
	s := testserver.Start(t)
	for _, tc := range []struct {
		name          string
		first, second string
		stored        bool
	}{
		{"same twice", "canary-pty-one", "canary-pty-one", true},
		{"different", "canary-pty-one", "canary-pty-two", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ptm, pts := openPTY(t)
			id := "pty/" + strings.ReplaceAll(tc.name, " ", "-")
			cmd := exec.Command(cofferBinary(t), "secrets", "create", id)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_ACCESS_KEY_ID=" + s.Creds.AccessKeyID,
				"AWS_SECRET_ACCESS_KEY=" + s.Creds.SecretAccessKey, "AWS_REGION=us-east-1", "COFFER_ENDPOINT=" + s.URL}
			var stdout bytes.Buffer
			cmd.Stdin, cmd.Stderr, cmd.Stdout = pts, pts, &stdout
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			var screen syncBuffer
			go io.Copy(&screen, ptm)
			typeAt := func(prompt, value string) {
				t.Helper()
				deadline := time.Now().Add(60 * time.Second)
				for {
					tio, err := unix.IoctlGetTermios(int(pts.Fd()), unix.TCGETS)
					if err != nil {
						t.Fatal(err)
					}
					// Type only once the prompt is shown and echo is off.
					if strings.Contains(screen.String(), prompt) && tio.Lflag&unix.ECHO == 0 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("no prompt %q; screen:\n%s", prompt, screen.String())
					}
					time.Sleep(10 * time.Millisecond)
				}
				ptm.WriteString(value + "\n")
			}
			typeAt("Value of "+id+" (not shown): ", tc.first)
			typeAt("Again: ", tc.second)
			var err error
			select {
			case err = <-done:
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("coffer did not exit; screen:\n%s", screen.String())
			}
			time.Sleep(50 * time.Millisecond) // the last of the screen
			if strings.Contains(screen.String(), "canary") || strings.Contains(stdout.String(), "canary") {
				t.Fatalf("the typed value was echoed or printed:\n%s", screen.String())
			}
			v, getErr := s.Client().GetSecretValue(context.Background(), &sm.GetSecretValueInput{SecretId: aws.String(id)})
			if tc.stored {
				if err != nil || getErr != nil || *v.SecretString != tc.first {
					t.Fatalf("exit %v, read %v: the typed value was not stored", err, getErr)
				}
				return
			}
			if err == nil || getErr == nil {
				t.Fatalf("exit %v, read %v: different values were accepted", err, getErr)
			}
			if !strings.Contains(screen.String(), "the two values typed differ") {
				t.Errorf("no explanation on the screen:\n%s", screen.String())
			}
		})
	}
}
