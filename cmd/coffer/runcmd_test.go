package main

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/coffer-project/coffer/internal/testserver"
)

// These tests run the real binary's `coffer run` against an in-process server, with sh and
// sleep as the programs it starts.

// runcmdValue returns a distinctive value, never expected on coffer run's stderr.
func runcmdValue(what string) string {
	return "canary-run-" + what + "-" + rand.Text()
}

// runTestEnv is the environment coffer run gets: the server, its credentials, PATH.
func runTestEnv(t *testing.T, s *testserver.Server, endpoint string, extra ...string) []string {
	if endpoint == "" {
		endpoint = s.URL
	}
	return append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"AWS_ACCESS_KEY_ID=" + s.Creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + s.Creds.SecretAccessKey,
		"AWS_REGION=us-east-1",
		"COFFER_ENDPOINT=" + endpoint,
	}, extra...)
}

func runCreate(t *testing.T, s *testserver.Server, name, value string, binary []byte) {
	t.Helper()
	in := &secretsmanager.CreateSecretInput{Name: aws.String(name)}
	if binary != nil {
		in.SecretBinary = binary
	} else {
		in.SecretString = aws.String(value)
	}
	if _, err := s.Client().CreateSecret(context.Background(), in); err != nil {
		t.Fatalf("CreateSecret %s: %v", name, err)
	}
}

func runPut(t *testing.T, s *testserver.Server, name, value string) {
	t.Helper()
	if _, err := s.Client().PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(value)}); err != nil {
		t.Fatalf("PutSecretValue %s: %v", name, err)
	}
}

// runProc is a running `coffer run`.
type runProc struct {
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	stdout, stderr *syncBuffer
	done           chan struct{}
	code           int
}

// startRun starts `coffer run args…` with env.
func startRun(t *testing.T, env []string, args ...string) *runProc {
	t.Helper()
	cmd := exec.Command(cofferBinary(t), append([]string{"run"}, args...)...)
	cmd.Env = env
	p := &runProc{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	cmd.WaitDelay = 5 * time.Second // a grandchild left holding a pipe does not hold the test
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdin = stdin
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) && !errors.Is(err, exec.ErrWaitDelay) {
			p.code = -2
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for coffer run to exit and returns its exit code.
func (p *runProc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(60 * time.Second):
		t.Fatalf("coffer run did not exit\nstdout:\n%s\nstderr:\n%s", hideValues(p.stdout.String()), hideValues(p.stderr.String()))
		return 0
	}
}

// waitOutput waits until stdout holds want.
func (p *runProc) waitOutput(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.stdout.String(), want) {
		select {
		case <-p.done:
			if strings.Contains(p.stdout.String(), want) {
				return
			}
			t.Fatalf("coffer run exited (%d) before printing %q\nstdout:\n%s\nstderr:\n%s", p.code, want, hideValues(p.stdout.String()), hideValues(p.stderr.String()))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q within 30s\nstdout:\n%s\nstderr:\n%s", want, hideValues(p.stdout.String()), hideValues(p.stderr.String()))
		}
	}
}

// runOnce runs `coffer run args…` to its end and returns stdout, stderr and the exit code.
func runOnce(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	p := startRun(t, env, args...)
	p.stdin.Close()
	code := p.wait(t)
	return p.stdout.String(), p.stderr.String(), code
}

// noCanary fails when coffer run's stderr holds a value.
func noCanary(t *testing.T, stderr string) {
	t.Helper()
	if strings.Contains(stderr, "canary-run") {
		t.Errorf("a value is on coffer run's stderr:\n%s", stderr)
	}
}

// TestRunEnvironment: the values reach the program as APP_DB (derived) and API_KEY
// (NAME=ID), the program's exit code is coffer run's, the warning is printed unless --quiet,
// and a variable already set is replaced with a note naming it only.
func TestRunEnvironment(t *testing.T) {
	s := testserver.Start(t)
	db, api := runcmdValue("db"), runcmdValue("api")
	runCreate(t, s, "app/db", db, nil)
	runCreate(t, s, "app/api", api, nil)
	env := runTestEnv(t, s, "")
	script := `printf 'db=%s\napi=%s\n' "$APP_DB" "$API_KEY"; exit 7`

	// Flags after the first --secret's value, as a person types them.
	stdout, stderr, code := runOnce(t, env, "--secret", "app/db", "--secret", "API_KEY=app/api", "--", "sh", "-c", script)
	if code != 7 {
		t.Errorf("exit code %d, want the program's 7\nstderr:\n%s", code, stderr)
	}
	if want := "db=" + db + "\napi=" + api + "\n"; stdout != want {
		t.Errorf("the program printed %q, want %q", hideValues(stdout), hideValues(want))
	}
	if !strings.Contains(stderr, "warning:") || !strings.Contains(stderr, "/proc/PID/environ") || !strings.Contains(stderr, "--files") {
		t.Errorf("no warning about the environment on stderr:\n%s", stderr)
	}
	if n := strings.Count(stderr, "warning:"); n != 1 {
		t.Errorf("the warning is printed %d times, want once:\n%s", n, stderr)
	}
	noCanary(t, stderr)

	// --quiet drops the warning, and only it: the note about a variable replaced stays.
	old := "canary-run-old-value"
	stdout, stderr, code = runOnce(t, append(env, "APP_DB="+old), "--quiet", "--secret", "app/db", "--", "sh", "-c", `printf '%s' "$APP_DB"`)
	if code != 0 || stdout != db {
		t.Errorf("with --quiet: exit %d, the program printed %q, want 0 and the value\nstderr:\n%s", code, hideValues(stdout), hideValues(stderr))
	}
	if strings.Contains(stderr, "warning") || strings.Contains(stderr, "/proc") {
		t.Errorf("--quiet printed the warning:\n%s", stderr)
	}
	if !strings.Contains(stderr, "APP_DB was already set") {
		t.Errorf("no note about APP_DB replaced:\n%s", stderr)
	}
	noCanary(t, stderr)

	// A secret named by its ARN: the variable comes from the secret's name.
	d, err := s.Client().DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String("app/db")})
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = runOnce(t, env, "--quiet", "--secret", *d.ARN, "--", "sh", "-c", `printf '%s' "$APP_DB"`)
	if code != 0 || stdout != db {
		t.Errorf("by ARN: exit %d, printed %q, want 0 and the value in APP_DB\nstderr:\n%s", code, hideValues(stdout), hideValues(stderr))
	}
}

// TestRunExpandJSON: a JSON object gives one variable per member, strings as they are and
// the others as JSON text; a secret that is not an object is refused by name.
func TestRunExpandJSON(t *testing.T) {
	s := testserver.Start(t)
	pw := runcmdValue("pw")
	runCreate(t, s, "app/db", `{"username":"admin","password":"`+pw+`","port":5432,"opts":{"ssl": true},"max-conns":"10"}`, nil)
	plain := runcmdValue("plain")
	runCreate(t, s, "app/plain", plain, nil)
	env := runTestEnv(t, s, "")
	stdout, stderr, code := runOnce(t, env, "--expand-json", "--quiet", "--secret", "app/db", "--",
		"sh", "-c", `printf '%s|%s|%s|%s|%s|%s' "$APP_DB_USERNAME" "$APP_DB_PASSWORD" "$APP_DB_PORT" "$APP_DB_OPTS" "$APP_DB_MAX_CONNS" "${APP_DB-unset}"`)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
	}
	if want := "admin|" + pw + `|5432|{"ssl":true}|10|unset`; stdout != want {
		t.Errorf("the program printed %q, want %q", hideValues(stdout), hideValues(want))
	}
	noCanary(t, stderr)

	marker := filepath.Join(t.TempDir(), "started")
	stdout, stderr, code = runOnce(t, env, "--expand-json", "--secret", "app/plain", "--", "sh", "-c", `touch "$0"`, marker)
	if code == 0 || !strings.Contains(stderr, "app/plain is not a JSON object") {
		t.Errorf("a plain secret with --expand-json: exit %d, stderr %q; want a refusal naming app/plain", code, stderr)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the program was started despite the refusal")
	}
	noCanary(t, stderr+stdout)
}

// TestRunFiles: in file mode each value is in a 0600 file of a 0700 directory, the program
// gets only NAME_FILE, the value is not in its environment (/proc/PID/environ), binary
// values are written raw, and files and the directory coffer run made are removed at exit.
func TestRunFiles(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	s := testserver.Start(t)
	db := runcmdValue("file")
	bin := append([]byte("canary-run-bin-\x00\xff\n"), rand.Text()...)
	runCreate(t, s, "app/db", db, nil)
	runCreate(t, s, "app/bin", "", bin)
	env := runTestEnv(t, s, "")
	// The program prints its pid and paths, then waits on stdin while the test looks.
	script := `echo "pid=$$"; echo "db=$APP_DB_FILE"; echo "bin=$APP_BIN_FILE"; echo "plain=${APP_DB-unset}"; echo ready; read line; exit 3`

	for _, tc := range []struct {
		name string
		flag []string
	}{
		{"named directory", []string{"--files", filepath.Join(t.TempDir(), "missing", "dir")}},
		{"fresh directory", []string{"--files="}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"--secret", "app/db"}, tc.flag...), "--secret", "app/bin", "--", "sh", "-c", script)
			p := startRun(t, env, args...)
			p.waitOutput(t, "ready\n")
			lines := map[string]string{}
			for _, l := range strings.Split(p.stdout.String(), "\n") {
				if k, v, ok := strings.Cut(l, "="); ok {
					lines[k] = v
				}
			}
			if lines["plain"] != "unset" {
				t.Errorf("APP_DB is set in file mode: %q", hideValues(lines["plain"]))
			}
			for name, want := range map[string][]byte{"db": []byte(db), "bin": bin} {
				path := lines[name]
				if !filepath.IsAbs(path) {
					t.Fatalf("%s: _FILE is %q, want an absolute path", name, path)
				}
				got, err := os.ReadFile(path)
				if err != nil || string(got) != string(want) {
					t.Errorf("%s: file %s holds %q (%v), want the value", name, path, hideValues(string(got)), err)
				}
				st, err := os.Stat(path)
				if err != nil || st.Mode().Perm() != 0o600 {
					t.Errorf("%s: mode %v (%v), want 0600", name, st.Mode().Perm(), err)
				}
			}
			dir := filepath.Dir(lines["db"])
			if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
				t.Errorf("directory %s: mode %v (%v), want 0700", dir, st.Mode().Perm(), err)
			}
			environ, err := os.ReadFile("/proc/" + lines["pid"] + "/environ")
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(environ), "canary-run") {
				t.Error("the value is in the program's environment in file mode")
			}
			if !strings.Contains(string(environ), "\x00APP_DB_FILE="+lines["db"]+"\x00") {
				t.Errorf("APP_DB_FILE is not in the program's environment")
			}

			p.stdin.Close() // the program reads its line and exits 3
			if code := p.wait(t); code != 3 {
				t.Errorf("exit code %d, want 3\nstderr:\n%s", code, p.stderr)
			}
			for _, path := range []string{lines["db"], lines["bin"], dir} {
				if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s is still there after exit (%v)", path, err)
				}
			}
			if strings.Contains(p.stderr.String(), "warning") {
				t.Errorf("file mode printed the environment warning:\n%s", p.stderr)
			}
			noCanary(t, p.stderr.String())
		})
	}
}

// TestRunCmdline: the value is neither in coffer run's command line nor in the program's,
// while they run; SIGTERM to coffer run reaches the program, and coffer run exits
// 128+SIGTERM as the program was killed by it.
func TestRunCmdline(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	s := testserver.Start(t)
	db := runcmdValue("cmdline")
	runCreate(t, s, "app/db", db, nil)
	p := startRun(t, runTestEnv(t, s, ""), "--secret", "app/db", "--", "sh", "-c", `echo "pid=$$"; exec sleep 30`)
	p.waitOutput(t, "\n")
	childPid := strings.TrimSpace(strings.TrimPrefix(p.stdout.String(), "pid="))
	// Wait until sh has become sleep.
	deadline := time.Now().Add(10 * time.Second)
	var childCmdline []byte
	for {
		b, err := os.ReadFile("/proc/" + childPid + "/cmdline")
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(string(b), "sleep") {
			childCmdline = b
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the program did not exec sleep: %q", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	own, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(own), "app/db") {
		t.Fatalf("read the wrong process: %q", own)
	}
	for who, b := range map[string][]byte{"coffer run": own, "the program": childCmdline} {
		if strings.Contains(string(b), db) || strings.Contains(string(b), "canary-run") {
			t.Errorf("the value is in the command line of %s: %q", who, hideValues(string(b)))
		}
	}
	// The check above can fail: in environment mode the program's environment does hold it.
	environ, err := os.ReadFile("/proc/" + childPid + "/environ")
	if err != nil || !strings.Contains(string(environ), "APP_DB="+db) {
		t.Fatalf("the program's environment lacks APP_DB (%v)", err)
	}

	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 128+int(syscall.SIGTERM) {
		t.Errorf("exit code %d, want %d (the program killed by the SIGTERM forwarded)\nstderr:\n%s", code, 128+int(syscall.SIGTERM), p.stderr)
	}
	noCanary(t, p.stderr.String())
}

// TestRunSignals: SIGINT, SIGTERM and SIGHUP sent to coffer run reach the program, and
// coffer run exits 128+N as the program was killed by signal N.
func TestRunSignals(t *testing.T) {
	s := testserver.Start(t)
	runCreate(t, s, "app/db", runcmdValue("sig"), nil)
	env := runTestEnv(t, s, "")
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		p := startRun(t, env, "--quiet", "--secret", "app/db", "--", "sh", "-c", `echo started; exec sleep 30`)
		p.waitOutput(t, "started\n")
		p.cmd.Process.Signal(sig)
		if code := p.wait(t); code != 128+int(sig) {
			t.Errorf("%v: exit code %d, want %d\nstderr:\n%s", sig, code, 128+int(sig), p.stderr)
		}
	}
}

// runWatchScript prints the value, and on SIGTERM writes a marker and exits 0.
const runWatchScript = `trap 'echo term >> "$MARK"; kill $! 2>/dev/null; exit 0' TERM; echo "value=$APP_W"; sleep 30 & wait`

// TestRunWatch: with --watch, a new version restarts the program with the new value, after
// a SIGTERM to the old one; a program that exits on its own ends coffer run with its code.
func TestRunWatch(t *testing.T) {
	s := testserver.Start(t)
	v1, v2 := runcmdValue("w1"), runcmdValue("w2")
	runCreate(t, s, "app/w", v1, nil)
	mark := filepath.Join(t.TempDir(), "term")
	p := startRun(t, runTestEnv(t, s, "", "MARK="+mark), "--watch", "--quiet", "--grace", "20s", "--secret", "app/w", "--", "sh", "-c", runWatchScript)
	p.waitOutput(t, "value="+v1+"\n")
	runPut(t, s, "app/w", v2)
	p.waitOutput(t, "value="+v2+"\n")
	if b, err := os.ReadFile(mark); err != nil || strings.TrimSpace(string(b)) != "term" {
		t.Errorf("the old program got no SIGTERM: marker %q (%v)", b, err)
	}
	if !strings.Contains(p.stderr.String(), "secret app/w changed; restarting") {
		t.Errorf("no note about the change on stderr:\n%s", p.stderr)
	}
	if s.Faults.Count("WatchSecrets") == 0 {
		t.Error("coffer run did not use WatchSecrets")
	}
	if s.Faults.Count("DescribeSecret") != 0 {
		t.Errorf("coffer run polled DescribeSecret %d times against a server with WatchSecrets", s.Faults.Count("DescribeSecret"))
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want the trap's 0\nstderr:\n%s", code, p.stderr)
	}
	if b, _ := os.ReadFile(mark); strings.Count(string(b), "term") != 2 {
		t.Errorf("the SIGTERM to coffer run did not reach the new program: marker %q", b)
	}
	noCanary(t, p.stderr.String())

	_, stderr, code := runOnce(t, runTestEnv(t, s, ""), "--watch", "--quiet", "--secret", "app/w", "--", "sh", "-c", "exit 5")
	if code != 5 {
		t.Errorf("a program exiting on its own under --watch: exit %d, want 5\nstderr:\n%s", code, stderr)
	}
}

// TestRunWatchFallback: against a server that answers coffer.WatchSecrets as AWS answers an
// operation it does not know, --watch polls DescribeSecret every --interval.
func TestRunWatchFallback(t *testing.T) {
	s := testserver.Start(t)
	proxyURL, watches := withoutExtensions(t, s.Faults)
	v1, v2 := runcmdValue("f1"), runcmdValue("f2")
	runCreate(t, s, "app/w", v1, nil)
	mark := filepath.Join(t.TempDir(), "term")
	p := startRun(t, runTestEnv(t, s, proxyURL, "MARK="+mark), "--watch", "--interval", "200ms", "--quiet", "--secret", "app/w", "--", "sh", "-c", runWatchScript)
	p.waitOutput(t, "value="+v1+"\n")
	runPut(t, s, "app/w", v2)
	p.waitOutput(t, "value="+v2+"\n")
	if watches.Load() == 0 {
		t.Error("coffer run did not try WatchSecrets first")
	}
	if s.Faults.Count("DescribeSecret") == 0 {
		t.Error("coffer run did not poll DescribeSecret")
	}
	if !strings.Contains(p.stderr.String(), "no coffer.WatchSecrets") {
		t.Errorf("no note about the fallback:\n%s", p.stderr)
	}
	if b, err := os.ReadFile(mark); err != nil || strings.TrimSpace(string(b)) != "term" {
		t.Errorf("the old program got no SIGTERM: marker %q (%v)", b, err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want the trap's 0\nstderr:\n%s", code, p.stderr)
	}
	noCanary(t, p.stderr.String())
}

// TestRunErrors: a missing secret, a binary value in environment mode, no command, and a
// command that does not exist; the program is never started.
func TestRunErrors(t *testing.T) {
	s := testserver.Start(t)
	runCreate(t, s, "app/bin", "", append([]byte("canary-run-binary-"), rand.Text()...))
	runCreate(t, s, "app/db", runcmdValue("err"), nil)
	env := runTestEnv(t, s, "")
	marker := filepath.Join(t.TempDir(), "started")
	touch := []string{"--", "sh", "-c", `touch "$0"`, marker}

	_, stderr, code := runOnce(t, env, append([]string{"--secret", "app/db", "--secret", "app/missing"}, touch...)...)
	if code != 125 || !strings.Contains(stderr, "app/missing: ResourceNotFoundException: Secrets Manager can't find the specified secret") {
		t.Errorf("missing secret: exit %d, stderr %q; want 125 and AWS's code and message", code, stderr)
	}
	noCanary(t, stderr)

	_, stderr, code = runOnce(t, env, append([]string{"--secret", "app/bin"}, touch...)...)
	if code != 125 || !strings.Contains(stderr, "app/bin is binary") || !strings.Contains(stderr, "--files") {
		t.Errorf("binary secret in environment mode: exit %d, stderr %q; want 125 and a hint at --files", code, stderr)
	}
	noCanary(t, stderr)

	for _, args := range [][]string{
		{"--secret", "app/db"},
		{"--secret", "app/db", "--"},
		{"--secret", "app/db", "sh", "-c", "true"},
	} {
		_, stderr, code = runOnce(t, env, args...)
		if code != 2 || !strings.Contains(stderr, "usage:") {
			t.Errorf("%q: exit %d, stderr %q; want a usage error", args, code, stderr)
		}
	}
	_, stderr, code = runOnce(t, env, "--secret", "app/db", "--", "no-such-program-coffer-run")
	if code != 127 {
		t.Errorf("a command not found: exit %d, want 127\nstderr:\n%s", code, stderr)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the program was started despite an error")
	}
}
