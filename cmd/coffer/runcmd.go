package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/coffer-project/coffer/client"
)

const runUsage = `Usage: coffer run --secret ID [--secret NAME=ID ...] [flags] -- COMMAND [ARG...]

Start COMMAND with secrets in its environment (or, with --files, in files), so that no value
is ever put on a command line or in a shell variable. ID is a secret's name or ARN; the
variable is NAME, or the secret's name upper-cased with every other character turned into
"_" (app/db gives APP_DB). coffer run exits with COMMAND's exit code (128+N when a signal N
killed it), 125 when coffer run itself fails, 126 when COMMAND cannot run, 127 when it is not
found. The server, credentials and region are found as for ` + "`coffer secrets`" + `.

Flags:
  --secret ID | NAME=ID   a secret to give COMMAND (repeatable)
  --version-stage STAGE   the staging label to read (default AWSCURRENT)
  --expand-json           a JSON object gives one variable per top-level member (APP_DB_USERNAME)
  --files DIR             write each value to DIR/NAME (0600) and give COMMAND only NAME_FILE=path;
                          --files= makes a fresh private directory. The files are removed at exit
  --quiet                 do not print the warning about values in the environment
  --watch                 restart COMMAND when one of its secrets gets a new version
  --interval D            --watch against a server without coffer.WatchSecrets: how often to
                          ask DescribeSecret (default 30s)
  --grace D               --watch: how long COMMAND has to exit after SIGTERM before SIGKILL (default 10s)
  --endpoint-url URL      the server
  --region REGION         the region
`

// runEnvWarning is printed once in environment mode, unless --quiet.
const runEnvWarning = "coffer run: warning: the secret values are in the program's environment: every " +
	"process it starts inherits them, and processes of the same user can read them in /proc/PID/environ. " +
	"--files keeps them out of the environment (--quiet hides this warning)."

// Exit codes of coffer run's own failures, as env(1) and docker run use them.
const (
	runExitFailure     = 125 // coffer run failed: a secret could not be read, a file not written
	runExitCannotRun   = 126 // the command was found but could not be started
	runExitNotFound    = 127 // the command was not found
	runWatchWaitSecs   = 20  // seconds WatchSecrets is asked to wait
	runWatchBackoffMax = 30 * time.Second
)

// runSignals are forwarded to the program.
var runSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// runNameRE is an explicit variable name, NAME in --secret NAME=ID.
var runNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// runSpec is one --secret: the secret's name or ARN and the variable name chosen, if any.
type runSpec struct {
	id, name string
}

// parseRunSpec reads ID or NAME=ID. A secret name may hold "=": the part before the first
// "=" is a variable name only when it is a valid one; to read a secret such as "a=b" by its
// derived name, give its ARN, or name the variable (X=a=b).
func parseRunSpec(s string) (runSpec, error) {
	if name, id, ok := strings.Cut(s, "="); ok && runNameRE.MatchString(name) {
		if id == "" {
			return runSpec{}, fmt.Errorf("--secret %s: no secret after %q", s, name+"=")
		}
		return runSpec{id: id, name: name}, nil
	}
	if s == "" {
		return runSpec{}, errors.New("--secret needs a secret name or ARN")
	}
	return runSpec{id: s}, nil
}

// runVarName derives a variable name from a secret's name: upper-cased, every character
// outside [A-Z0-9_] turned into "_", and "_" before a leading digit.
func runVarName(s string) string {
	n := runVarPart(s)
	if n == "" || n[0] >= '0' && n[0] <= '9' {
		n = "_" + n
	}
	return n
}

// runVarPart upper-cases s and turns every character outside [A-Z0-9_] into "_".
func runVarPart(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// runExitError carries the exit code of a failure of coffer run.
type runExitError struct {
	code int
	err  error
}

func (e *runExitError) Error() string { return e.err.Error() }
func (e *runExitError) Unwrap() error { return e.err }

func runRun(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("coffer run", flag.ContinueOnError)
	fset.SetOutput(stderr)
	fset.Usage = func() { fmt.Fprint(stderr, runUsage) }
	api := registerAPI(fset)
	var secrets multiFlag
	fset.Var(&secrets, "secret", "a secret to give the program: ID or NAME=ID (repeatable)")
	stage := fset.String("version-stage", "AWSCURRENT", "the staging label to read")
	expand := fset.Bool("expand-json", false, "one variable per top-level member of a JSON object")
	files := fset.String("files", "", "write the values to files in this directory (empty: a fresh private one)")
	quiet := fset.Bool("quiet", false, "no warning about values in the environment")
	watch := fset.Bool("watch", false, "restart the program when a secret changes")
	interval := fset.Duration("interval", 30*time.Second, "--watch without WatchSecrets: DescribeSecret period")
	grace := fset.Duration("grace", 10*time.Second, "--watch: time between SIGTERM and SIGKILL")

	// The command is what follows the first "--"; the flags come before it, in any order.
	i := slices.Index(args, "--")
	var command []string
	flagArgs := args
	if i >= 0 {
		flagArgs, command = args[:i], args[i+1:]
	}
	pos, err := parseInterleaved(fset, flagArgs)
	if err != nil {
		if i < 0 && !errors.Is(err, flag.ErrHelp) {
			return fmt.Errorf("usage: %w; the command goes after --, as in coffer run --secret app/db -- ./server", err)
		}
		return err
	}
	filesMode := false
	fset.Visit(func(f *flag.Flag) { filesMode = filesMode || f.Name == "files" })
	switch {
	case len(pos) > 0:
		fmt.Fprint(stderr, runUsage)
		return fmt.Errorf("usage: unexpected argument %q: name secrets with --secret, and put the command after --", pos[0])
	case len(command) == 0:
		fmt.Fprint(stderr, runUsage)
		return errors.New("usage: no command: give it after --, as in coffer run --secret app/db -- ./server")
	case len(secrets) == 0:
		return errors.New("usage: at least one --secret is required")
	case *stage == "":
		return errors.New("usage: --version-stage must not be empty")
	case filesMode && strings.HasPrefix(*files, "-"):
		return fmt.Errorf("usage: --files takes a directory (--files= for a fresh private one), not %q", *files)
	case *watch && *interval <= 0:
		return errors.New("usage: --interval must be positive")
	case *watch && *grace < 0:
		return errors.New("usage: --grace must not be negative")
	}
	var specs []runSpec
	for _, s := range secrets {
		sp, err := parseRunSpec(s)
		if err != nil {
			return fmt.Errorf("usage: %w", err)
		}
		specs = append(specs, sp)
	}
	sm, err := api.secretsManager("")
	if err != nil {
		return err
	}
	r := &runner{
		sm: sm, specs: specs, stage: *stage, expand: *expand, quiet: *quiet,
		command: command, stdin: stdin, stdout: stdout, stderr: stderr,
		grace: *grace,
	}
	if filesMode {
		r.files = &runFiles{dir: *files, written: map[string]bool{}}
	}
	if *watch {
		c, err := api.client("")
		if err != nil {
			return err
		}
		r.watcher = &runWatcher{c: c, sm: sm, stage: *stage, interval: *interval, note: r.errNote,
			known: map[string]map[string][]string{}, skip: map[string]bool{}}
		for _, sp := range specs {
			if !slices.Contains(r.watcher.ids, sp.id) {
				r.watcher.ids = append(r.watcher.ids, sp.id)
			}
		}
	}

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, runSignals...)
	code, err := r.run(ctx, sigs)
	signal.Stop(sigs)
	if err != nil {
		fmt.Fprintln(stderr, "coffer:", err)
		var ee *runExitError
		code = runExitFailure
		if errors.As(err, &ee) {
			code = ee.code
		}
	}
	os.Exit(code)
	return nil
}

// runner starts the program and, with --watch, restarts it.
type runner struct {
	sm      *secretsmanager.Client
	specs   []runSpec
	stage   string
	expand  bool
	quiet   bool
	files   *runFiles   // nil: environment mode
	watcher *runWatcher // nil: no --watch
	grace   time.Duration

	command        []string
	stdin          io.Reader
	stdout, stderr io.Writer

	mu      sync.Mutex // guards the notes
	lastErr string
}

// note prints a line to stderr.
func (r *runner) note(format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.stderr, "coffer run: "+format+"\n", a...)
}

// errNote prints a line to stderr unless it repeats the last one errNote printed.
func (r *runner) errNote(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	r.mu.Lock()
	defer r.mu.Unlock()
	if msg == r.lastErr {
		return
	}
	r.lastErr = msg
	fmt.Fprintln(r.stderr, "coffer run: "+msg)
}

// runValue is a secret as read.
type runValue struct {
	spec    runSpec
	name    string // the secret's name, as the service says it
	version string
	str     *string
	bin     []byte
}

// load reads every secret at the stage asked, each once however many times it is named.
func (r *runner) load(ctx context.Context) ([]runValue, error) {
	byID := map[string]*secretsmanager.GetSecretValueOutput{}
	var vals []runValue
	for _, sp := range r.specs {
		out := byID[sp.id]
		if out == nil {
			var err error
			out, err = r.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(sp.id), VersionStage: aws.String(r.stage)})
			if err != nil {
				return nil, fmt.Errorf("reading secret %s: %s", sp.id, awsErrText(err))
			}
			byID[sp.id] = out
		}
		vals = append(vals, runValue{spec: sp, name: aws.ToString(out.Name), version: aws.ToString(out.VersionId), str: out.SecretString, bin: out.SecretBinary})
	}
	return vals, nil
}

// runVersions returns each secret's version id, by id as given.
func runVersions(vals []runValue) map[string]string {
	m := map[string]string{}
	for _, v := range vals {
		m[v.spec.id] = v.version
	}
	return m
}

// runVar is one variable (or file) to give the program.
type runVar struct {
	name   string
	secret string // the id as given, for messages
	value  []byte
	binary bool
}

// variables turns the values into variables, and refuses what the mode cannot carry. No
// error names or quotes a value.
func (r *runner) variables(vals []runValue) ([]runVar, error) {
	var vars []runVar
	from := map[string]string{}
	add := func(v runVar) error {
		if other, ok := from[v.name]; ok {
			return fmt.Errorf("secrets %s and %s both give the variable %s: name one with --secret NAME=ID", other, v.secret, v.name)
		}
		from[v.name] = v.secret
		vars = append(vars, v)
		return nil
	}
	for _, v := range vals {
		base := v.spec.name
		if base == "" {
			base = runVarName(v.name)
		}
		if r.expand {
			if v.bin != nil {
				return nil, fmt.Errorf("secret %s is binary (SecretBinary), not a JSON object: --expand-json needs an object", v.spec.id)
			}
			var members map[string]json.RawMessage
			dec := json.NewDecoder(strings.NewReader(aws.ToString(v.str)))
			// The decoder's error is not shown: it may quote a piece of the value.
			if err := dec.Decode(&members); err != nil || members == nil || dec.More() {
				return nil, fmt.Errorf("secret %s is not a JSON object: --expand-json needs one", v.spec.id)
			}
			for _, k := range slices.Sorted(maps.Keys(members)) {
				raw := bytes.TrimSpace(members[k])
				if len(raw) > 0 && raw[0] == '"' {
					var s string
					if err := json.Unmarshal(raw, &s); err != nil {
						return nil, fmt.Errorf("secret %s: a member is not valid JSON", v.spec.id)
					}
					raw = []byte(s)
				} else {
					var b bytes.Buffer
					if err := json.Compact(&b, raw); err == nil {
						raw = b.Bytes()
					}
				}
				if err := add(runVar{name: base + "_" + runVarPart(k), secret: v.spec.id, value: raw}); err != nil {
					return nil, err
				}
			}
			continue
		}
		rv := runVar{name: base, secret: v.spec.id, value: []byte(aws.ToString(v.str))}
		if v.bin != nil {
			rv.value, rv.binary = v.bin, true
		}
		if err := add(rv); err != nil {
			return nil, err
		}
	}
	if r.files == nil {
		for _, v := range vars {
			switch {
			case v.binary:
				return nil, fmt.Errorf("secret %s is binary (SecretBinary): an environment variable cannot hold "+
					"arbitrary bytes; use --files DIR (or --files=) to give it to the program as a file", v.secret)
			case bytes.IndexByte(v.value, 0) >= 0:
				return nil, fmt.Errorf("secret %s holds a NUL character, which an environment variable cannot hold; "+
					"use --files DIR (or --files=) to give it to the program as a file", v.secret)
			}
		}
	}
	return vars, nil
}

// environ returns the program's environment: coffer's own, with the variables (environment
// mode) or NAME_FILE=path for each file written (file mode). With notes, a variable that
// replaces one already set is named on stderr.
func (r *runner) environ(vars []runVar, notes bool) ([]string, error) {
	add := map[string]string{}
	var order []string
	if r.files != nil {
		paths, err := r.files.write(vars)
		if err != nil {
			return nil, err
		}
		for _, v := range vars {
			add[v.name+"_FILE"] = paths[v.name]
			order = append(order, v.name+"_FILE")
		}
	} else {
		for _, v := range vars {
			add[v.name] = string(v.value)
			order = append(order, v.name)
		}
	}
	var env []string
	noted := map[string]bool{}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := add[k]; ok {
			if notes && !noted[k] {
				r.note("note: %s was already set in the environment; the secret's replaces it", k)
			}
			noted[k] = true
			continue
		}
		env = append(env, kv)
	}
	for _, k := range order {
		env = append(env, k+"="+add[k])
	}
	return env, nil
}

// runChild is a started program.
type runChild struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited and cmd.ProcessState is set
}

func (r *runner) start(env []string) (*runChild, error) {
	cmd := exec.Command(r.command[0], r.command[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r.stdin, r.stdout, r.stderr
	if err := cmd.Start(); err != nil {
		code := runExitCannotRun
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			code = runExitNotFound
		}
		return nil, &runExitError{code: code, err: err}
	}
	c := &runChild{cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// runExitCode is the program's exit code, 128+N when signal N killed it.
func runExitCode(st *os.ProcessState) int {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return st.ExitCode()
}

// runSignalCode is the exit code of coffer run when a signal ends it before the program starts.
func runSignalCode(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 1
}

// run reads the secrets, starts the program, forwards signals to it, restarts it with
// --watch, and returns its exit code. Files written are removed before it returns.
func (r *runner) run(ctx context.Context, sigs <-chan os.Signal) (int, error) {
	if r.files != nil {
		if err := r.files.open(); err != nil {
			return 0, err
		}
		defer r.files.cleanup()
	}
	pending := func() (os.Signal, bool) {
		select {
		case s := <-sigs:
			return s, true
		default:
			return nil, false
		}
	}
	vals, err := r.load(ctx)
	if s, ok := pending(); ok {
		return runSignalCode(s), nil
	}
	if err != nil {
		return 0, err
	}
	vars, err := r.variables(vals)
	if err != nil {
		return 0, err
	}
	env, err := r.environ(vars, true)
	if err != nil {
		return 0, err
	}
	if r.files == nil && !r.quiet {
		r.mu.Lock()
		fmt.Fprintln(r.stderr, runEnvWarning)
		r.mu.Unlock()
	}
	if s, ok := pending(); ok {
		return runSignalCode(s), nil
	}
	child, err := r.start(env)
	if err != nil {
		return 0, err
	}

	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	current := runVersions(vals)
	var (
		changes  chan []string // the watch under way; nil when none is
		retry    <-chan time.Time
		stopping bool // a signal asked the program to end: no more restarts
	)
	startWatch := func() {
		if r.watcher == nil || stopping {
			return
		}
		ch := make(chan []string, 1)
		cur := maps.Clone(current)
		go func() { ch <- r.watcher.wait(wctx, cur) }()
		changes = ch
	}
	onSignal := func(c *runChild, s os.Signal) {
		if err := c.cmd.Process.Signal(s); err != nil && !errors.Is(err, os.ErrProcessDone) {
			r.errNote("forwarding %v: %v", s, err)
		}
		if s != syscall.SIGHUP { // SIGHUP often asks a program to reload: it may go on
			stopping = true
			stopWatch()
			changes, retry = nil, nil
		}
	}
	startWatch()
	for {
		select {
		case s := <-sigs:
			onSignal(child, s)
		case <-child.done:
			return runExitCode(child.cmd.ProcessState), nil
		case <-retry:
			retry = nil
			startWatch()
		case ids := <-changes:
			changes = nil
			if ids == nil { // the watch ended
				continue
			}
			next, err := r.load(wctx)
			if err != nil {
				if wctx.Err() == nil {
					r.errNote("%s changed, but %s; the program keeps the values it has", strings.Join(ids, ", "), err)
					retry = time.After(r.watcher.interval)
				}
				continue
			}
			var changed []string
			for _, v := range next {
				if v.version != current[v.spec.id] && !slices.Contains(changed, v.spec.id) {
					changed = append(changed, v.spec.id)
				}
			}
			if len(changed) == 0 {
				startWatch()
				continue
			}
			current = runVersions(next)
			nextVars, err := r.variables(next)
			if err != nil {
				r.errNote("%s changed, but %s; the program keeps the values it has", strings.Join(changed, ", "), err)
				startWatch()
				continue
			}
			select {
			case <-child.done: // it exited on its own meanwhile
				return runExitCode(child.cmd.ProcessState), nil
			default:
			}
			r.note("secret %s changed; restarting the program", strings.Join(changed, ", "))
			r.stop(child, sigs, onSignal)
			if stopping {
				return runExitCode(child.cmd.ProcessState), nil
			}
			env, err := r.environ(nextVars, false)
			if err != nil {
				return 0, err
			}
			if child, err = r.start(env); err != nil {
				return 0, err
			}
			startWatch()
		}
	}
}

// stop sends SIGTERM to the program, SIGKILL after the grace period, and returns when it has
// exited. Signals that arrive meanwhile are forwarded.
func (r *runner) stop(c *runChild, sigs <-chan os.Signal, onSignal func(*runChild, os.Signal)) {
	c.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(r.grace)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			c.cmd.Process.Kill()
		case s := <-sigs:
			onSignal(c, s)
		}
	}
}

// runFiles are the files of file mode.
type runFiles struct {
	dir     string // "" until open, for a fresh private directory
	private bool   // dir is a fresh private directory: it is removed with all it holds
	created bool   // coffer run made dir, as named: it is removed if empty
	written map[string]bool
}

// open makes the directory: a fresh private one when none was named (under
// XDG_RUNTIME_DIR, a tmpfs only the user reaches, when there is one), or the one named,
// created with mode 0700 when missing.
func (f *runFiles) open() error {
	if f.dir == "" {
		base := os.Getenv("XDG_RUNTIME_DIR")
		if st, err := os.Stat(base); base == "" || err != nil || !st.IsDir() {
			base = ""
		}
		dir, err := os.MkdirTemp(base, "coffer-run-")
		if err != nil {
			return err
		}
		f.dir, f.private = dir, true
		return nil
	}
	dir, err := filepath.Abs(f.dir)
	if err != nil {
		return err
	}
	f.dir = dir
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		f.created = true
	case err != nil:
		return err
	case !st.IsDir():
		return fmt.Errorf("--files %s is not a directory", dir)
	}
	return nil
}

// write writes each variable's value to dir/NAME, mode 0600, replacing the file whole (a
// new file renamed over the old one, never following a link), removes the files of an
// earlier write that are no longer wanted, and returns the paths by name.
func (f *runFiles) write(vars []runVar) (map[string]string, error) {
	paths := map[string]string{}
	for _, v := range vars {
		p := filepath.Join(f.dir, v.name)
		tmp, err := os.CreateTemp(f.dir, "."+v.name+".tmp-")
		if err != nil {
			return nil, err
		}
		_, err = tmp.Write(v.value)
		if err == nil {
			err = tmp.Chmod(0o600)
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), p)
		}
		if err != nil {
			os.Remove(tmp.Name())
			return nil, fmt.Errorf("writing %s: %w", p, err)
		}
		f.written[p] = true
		paths[v.name] = p
	}
	for p := range f.written {
		if paths[filepath.Base(p)] != p {
			os.Remove(p)
			delete(f.written, p)
		}
	}
	return paths, nil
}

// cleanup removes the files written, and the directory if coffer run made it.
func (f *runFiles) cleanup() {
	for p := range f.written {
		os.Remove(p)
	}
	switch {
	case f.private:
		os.RemoveAll(f.dir)
	case f.created:
		os.Remove(f.dir)
	}
}

// runWatcher learns of new versions: with coffer.WatchSecrets, or, against a server without
// it (AWS), with DescribeSecret every interval.
type runWatcher struct {
	c        *client.Client
	sm       *secretsmanager.Client
	ids      []string // the secrets, each once, as given
	stage    string
	interval time.Duration
	note     func(format string, a ...any)

	poll  bool                           // the server has no WatchSecrets
	known map[string]map[string][]string // the labels as the server last said, by id
	skip  map[string]bool                // secrets WatchSecrets says nothing about
}

// runStageVersion is the version that carries stage in m, or "".
func runStageVersion(m map[string][]string, stage string) string {
	for v, stages := range m {
		if slices.Contains(stages, stage) {
			return v
		}
	}
	return ""
}

// wait returns the ids of the secrets whose version at the stage is no longer the one in
// current, or nil when ctx ends. Only one wait runs at a time.
func (w *runWatcher) wait(ctx context.Context, current map[string]string) []string {
	var backoff time.Duration
	for ctx.Err() == nil {
		if w.poll {
			if !runSleep(ctx, w.interval) {
				return nil
			}
			if changed := w.pollOnce(ctx, current); len(changed) > 0 {
				return changed
			}
			continue
		}
		in := &client.WatchInput{WaitSeconds: runWatchWaitSecs}
		for _, id := range w.ids {
			if w.skip[id] {
				continue
			}
			m := w.known[id]
			if m == nil || runStageVersion(m, w.stage) != current[id] {
				m = map[string][]string{current[id]: {w.stage}}
			}
			in.Secrets = append(in.Secrets, client.Watched{SecretID: id, VersionIdsToStages: m})
		}
		if len(in.Secrets) == 0 {
			<-ctx.Done()
			return nil
		}
		began := time.Now()
		out, err := w.c.WatchSecrets(ctx, in)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			var ae *client.APIError
			if errors.As(err, &ae) && ae.Code == "UnknownOperationException" {
				w.poll = true
				w.note("the server has no coffer.WatchSecrets; checking for new versions with DescribeSecret every %s", w.interval)
				continue
			}
			backoff = min(max(2*backoff, time.Second), runWatchBackoffMax)
			w.note("watching for new versions failed (%s); trying again in %s", awsErrText(err), backoff)
			if !runSleep(ctx, backoff) {
				return nil
			}
			continue
		}
		backoff = 0
		var changed []string
		for _, ch := range out.Changed {
			w.known[ch.SecretID] = ch.VersionIdsToStages
			if runStageVersion(ch.VersionIdsToStages, w.stage) != current[ch.SecretID] && !slices.Contains(changed, ch.SecretID) {
				changed = append(changed, ch.SecretID)
			}
		}
		for _, u := range out.Unavailable {
			w.skip[u.SecretID] = true
			w.note("secret %s cannot be watched (it is gone, scheduled for deletion, or not to be described); "+
				"the program keeps its value", u.SecretID)
		}
		if len(changed) > 0 {
			return changed
		}
		if len(out.Changed) == 0 && len(out.Unavailable) == 0 && time.Since(began) < time.Second {
			runSleep(ctx, time.Second) // a server shutting down answers at once
		}
	}
	return nil
}

// pollOnce asks DescribeSecret for each secret and returns those whose version moved.
func (w *runWatcher) pollOnce(ctx context.Context, current map[string]string) []string {
	var changed []string
	for _, id := range w.ids {
		out, err := w.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
		if err != nil {
			if ctx.Err() == nil {
				w.note("checking secret %s for a new version: %s", id, awsErrText(err))
			}
			continue
		}
		if runStageVersion(out.VersionIdsToStages, w.stage) != current[id] {
			changed = append(changed, id)
		}
	}
	return changed
}

// runSleep waits d, and says false if ctx ended first.
func runSleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
