package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// benchReady is the one line a child of coffer bench prints on its standard output, as JSON:
// once it serves (the server and the bare baseline), or once it is done, with its result (the
// SQLite baseline). The parent reads it from a pipe; it is never printed.
type benchReady struct {
	PID             int          `json:"pid"`
	Addr            string       `json:"addr,omitempty"`
	AccessKeyID     string       `json:"access_key_id,omitempty"`
	SecretAccessKey string       `json:"secret_access_key,omitempty"`
	Result          *benchResult `json:"result,omitempty"`
}

// benchChild is a child process of coffer bench: its own binary, run in the hidden --serve
// mode. On Linux the kernel kills it when the parent dies (Pdeathsig); everywhere it stops
// when its standard input, a pipe the parent holds, closes.
type benchChild struct {
	name       string
	cmd        *exec.Cmd
	stdin      io.Closer
	stdout     *os.File // the read end of the child's standard output
	stderr     *tailWriter
	started    time.Time     // just before exec
	ready      benchReady    // the child's line
	readyAfter time.Duration // from exec to the line
	exited     chan struct{} // closed once Wait returns
	waitErr    error         // Wait's error, once exited is closed
	stopped    bool
}

// startBenchChild starts `coffer bench ARGS…` and waits at most timeout for its line. On an
// error the child is stopped already.
func startBenchChild(ctx context.Context, name string, timeout time.Duration, args ...string) (*benchChild, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: find this program to run its %s child: %w", name, err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	c := &benchChild{name: name, stdout: r, stderr: &tailWriter{max: 4 << 10}, exited: make(chan struct{})}
	c.cmd = exec.Command(exe, append([]string{"bench"}, args...)...)
	c.cmd.SysProcAttr = benchSysProcAttr()
	c.cmd.Stdout, c.cmd.Stderr = w, c.stderr
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	c.started = time.Now()
	err = c.cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("bench: start the %s child: %w", name, err)
	}
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.exited)
	}()
	if err := c.readLine(ctx, timeout); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// readLine waits for the child's line and decodes it.
func (c *benchChild) readLine(ctx context.Context, timeout time.Duration) error {
	type line struct {
		b   []byte
		err error
	}
	lines := make(chan line, 1)
	go func() {
		b, err := bufio.NewReader(c.stdout).ReadBytes('\n')
		lines <- line{b, err}
	}()
	var l line
	select {
	case l = <-lines:
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(timeout):
		return fmt.Errorf("bench: the %s child was not ready after %s", c.name, timeout)
	}
	c.readyAfter = time.Since(c.started)
	if l.err != nil {
		select {
		case <-c.exited:
		case <-time.After(5 * time.Second):
		}
		return fmt.Errorf("bench: the %s child ended before it was ready (%v): %s", c.name, c.waitErr, c.stderr.String())
	}
	// The line holds the server's secret access key: an error never quotes it.
	if err := json.Unmarshal(l.b, &c.ready); err != nil || c.ready.PID != c.cmd.Process.Pid {
		return fmt.Errorf("bench: the %s child's line is not the expected JSON", c.name)
	}
	return nil
}

// waitReadyz polls the child's /readyz until it answers 200 and returns the time from exec.
func (c *benchChild) waitReadyz(ctx context.Context) (time.Duration, error) {
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.ready.Addr+"/readyz", nil)
		if err != nil {
			return 0, err
		}
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(c.started), nil
			}
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("bench: the %s child's /readyz did not answer 200 within 30s", c.name)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// stop closes the child's standard input, which ends it, and kills it if it has not exited
// within ten seconds. It returns the child's failure, if it failed on its own.
func (c *benchChild) stop() error {
	if c.stopped {
		return nil
	}
	c.stopped = true
	c.stdin.Close()
	killed := false
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		killed = true
		<-c.exited
	}
	c.stdout.Close()
	if c.waitErr != nil && !killed {
		return fmt.Errorf("bench: the %s child (pid %d): %v: %s", c.name, c.cmd.Process.Pid, c.waitErr, c.stderr.String())
	}
	return nil
}

// tailWriter keeps the last max bytes written to it: a child's standard error, for the error
// that reports its failure.
type tailWriter struct {
	mu  sync.Mutex
	max int
	b   []byte
}

// Write implements io.Writer.
func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

// String returns the kept bytes, trimmed.
func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.b))
	if s == "" {
		return "(nothing on standard error)"
	}
	return s
}
