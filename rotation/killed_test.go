package rotation_test

// A rotation killed between any two steps resumes or cleans up without locking anyone out:
// for each database rotator and each gap between two steps, a rotation started by RotateSecret
// dies there, the database is checked as clients would use it, and the rotation is then
// resumed (by the scheduler after the backoff, or by RotateSecret with the same token) or
// resolved by `coffer rotation reset`.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/internal/pgcluster"
	"github.com/coffer-project/coffer/rotation"
)

// errKilled is the failure of a step that a killed server never ran.
var errKilled = errors.New("test: the server was killed before this step")

// killer is a real rotator whose attempts die before the step Steps[before] (before 1 to 3;
// 0 never): that step fails without running, as if the server had been killed after the
// step before it.
type killer struct {
	rotation.Rotator
	before atomic.Int32
}

func (k *killer) Step(ctx context.Context, sm *secretsmanager.Client, ev rotation.Event) error {
	if i := k.before.Load(); i > 0 && rotation.Steps[i] == ev.Step {
		return errKilled
	}
	return k.Rotator.Step(ctx, sm, ev)
}

// How a killed rotation is taken up again.
const (
	resumeScheduled = "resumed by the scheduler"
	resumeRetry     = "resumed by RotateSecret with its token"
	reset           = "reset"
)

// killTarget is one database rotator under test.
type killTarget struct {
	function    string // the rotator's function name
	alternating bool
	killer      *killer
	// user creates the database user(s) of a new secret and returns its value.
	user func(t *testing.T) map[string]any
	// login logs in with a secret's value.
	login func(v map[string]any) error
}

var testNS = coffer.Namespace{Account: "111122223333", Region: "us-east-1"}

// TestKilledBetweenStepsPostgres: PostgreSQL single user and alternating users on a
// throwaway scram-sha-256 cluster.
func TestKilledBetweenStepsPostgres(t *testing.T) {
	cl := pgcluster.Start(t)
	allow := rotation.DBOptions{AllowedHosts: []string{"127.0.0.1:" + strconv.Itoa(cl.Port)}}
	single := &killer{Rotator: rotation.NewPostgres(false, allow)}
	alt := &killer{Rotator: rotation.NewPostgres(true, allow)}
	cs := startCofferWith(t, cofferOptions{rotators: map[string]rotation.Config{
		"pg-single": {Rotator: single, Role: rotation.DefaultRole},
		"pg-alt":    {Rotator: alt, Role: rotation.DefaultRole},
	}})
	login := func(v map[string]any) error { return cl.Login(v["username"].(string), v["password"].(string), "") }
	killTests(t, cs, killTarget{function: "pg-single", killer: single, login: login, user: func(t *testing.T) map[string]any {
		user := "ks_" + uniq()
		cl.Exec(t, "CREATE ROLE "+ident(user)+" LOGIN PASSWORD "+lit(initialPassword))
		return pgSecret(cl, user, initialPassword)
	}})
	killTests(t, cs, killTarget{function: "pg-alt", alternating: true, killer: alt, login: login, user: func(t *testing.T) map[string]any {
		admin, user := "ka_"+uniq(), "ku_"+uniq()
		adminPassword := "adm-" + uniq() + uniq()
		cl.Exec(t, "CREATE ROLE "+ident(admin)+" LOGIN CREATEROLE PASSWORD "+lit(adminPassword),
			"CREATE ROLE "+ident(user)+" LOGIN PASSWORD "+lit(initialPassword))
		v := pgSecret(cl, user, initialPassword)
		v["masterarn"] = cs.secret(t, "pg-master-"+admin, pgSecret(cl, admin, adminPassword), "")
		return v
	}})
}

// TestKilledBetweenStepsMySQL: MySQL (MariaDB) single user and alternating users.
func TestKilledBetweenStepsMySQL(t *testing.T) {
	ms := startMySQL(t)
	allow := rotation.DBOptions{AllowedHosts: []string{net.JoinHostPort(ms.host, strconv.Itoa(ms.port))}}
	single := &killer{Rotator: rotation.NewMySQL(false, allow)}
	alt := &killer{Rotator: rotation.NewMySQL(true, allow)}
	cs := startCofferWith(t, cofferOptions{rotators: map[string]rotation.Config{
		"my-single": {Rotator: single, Role: rotation.DefaultRole},
		"my-alt":    {Rotator: alt, Role: rotation.DefaultRole},
	}})
	login := func(v map[string]any) error { return ms.login(v["username"].(string), v["password"].(string), "") }
	killTests(t, cs, killTarget{function: "my-single", killer: single, login: login, user: func(t *testing.T) map[string]any {
		user := "ks_" + uniq()
		ms.user(t, user, initialPassword)
		return ms.secretValue(user, initialPassword)
	}})
	killTests(t, cs, killTarget{function: "my-alt", alternating: true, killer: alt, login: login, user: func(t *testing.T) map[string]any {
		admin, user := "ka_"+uniq(), "ku_"+uniq()
		adminPassword := "adm-" + uniq() + uniq()
		ms.user(t, admin, adminPassword, "ALL PRIVILEGES ON *.* WITH GRANT OPTION")
		ms.user(t, user, initialPassword)
		v := ms.secretValue(user, initialPassword)
		v["masterarn"] = cs.secret(t, "my-master-"+admin, ms.secretValue(admin, adminPassword), "")
		return v
	}})
}

// killTests kills a rotation of target after each of the first three steps and takes it up
// in each of the three ways.
func killTests(t *testing.T, cs *cofferServer, target killTarget) {
	for k := 1; k <= 3; k++ {
		for _, how := range []string{resumeScheduled, resumeRetry, reset} {
			t.Run(fmt.Sprintf("%s killed after %s, %s", target.function, rotation.Steps[k-1], how), func(t *testing.T) {
				killAndTakeUp(t, cs, target, k, how)
			})
		}
	}
}

func killAndTakeUp(t *testing.T, cs *cofferServer, target killTarget, k int, how string) {
	ctx := context.Background()
	arn := cs.secret(t, target.function+"-"+uniq(), target.user(t), "")
	original := cs.stages(t, arn)["AWSCURRENT"]
	token := newToken()
	target.killer.before.Store(int32(k))
	defer target.killer.before.Store(0)
	cs.rotateSecret(t, arn, token, target.function, nil, true)
	if err := cs.engine.Wait(arn); !errors.Is(err, errKilled) {
		t.Fatalf("the killed rotation ended with %v", err)
	}

	// The attempt shows where it died, and when it will be reattempted.
	st := cs.status(t, arn)
	if len(st) != 1 || st[0].Outcome != "failed" || st[0].Token != token || len(st[0].Steps) != k+1 || st[0].NextTry.IsZero() {
		t.Fatalf("status after the kill: %+v", st)
	}
	for i, s := range st[0].Steps {
		if s.Step != rotation.Steps[i] || (i < k) != (s.Error == "") {
			t.Errorf("status step %d: %+v", i, s)
		}
	}
	if !strings.Contains(st[0].Steps[k].Error, errKilled.Error()) {
		t.Errorf("the failed step's error: %q", st[0].Steps[k].Error)
	}
	if got := cs.stages(t, arn); got["AWSCURRENT"] != original || got["AWSPENDING"] != token {
		t.Fatalf("labels after the kill: %v", got)
	}

	// Nobody is locked out: AWSCURRENT logs in. Single user after setSecret is the documented
	// exception (docs/rotation.md): the database has AWSPENDING's password until finishSecret,
	// so AWSCURRENT fails and AWSPENDING holds the working credentials.
	current, pending := cs.value(t, arn, "AWSCURRENT"), cs.value(t, arn, "AWSPENDING")
	if !target.alternating && k >= 2 {
		if err := target.login(current); err == nil {
			t.Error("single user after setSecret: AWSCURRENT still logs in, so setSecret did not change the password")
		}
		if err := target.login(pending); err != nil {
			t.Fatalf("single user after setSecret: AWSPENDING does not log in either: %v", err)
		}
	} else if err := target.login(current); err != nil {
		t.Fatalf("after the kill, AWSCURRENT does not log in: %v", err)
	}
	if target.alternating && k >= 2 {
		// setSecret made the clone with the pending password; the original is untouched.
		if err := target.login(pending); err != nil {
			t.Errorf("alternating after setSecret: AWSPENDING does not log in: %v", err)
		}
	}

	target.killer.before.Store(0)
	finished := true
	switch how {
	case resumeScheduled:
		if cs.clock.Now().Add(200 * time.Millisecond).Before(st[0].NextTry) {
			if n := runDue(t, cs.engine); n != 0 {
				t.Errorf("RunDue before the backoff started %d rotations", n)
			}
		}
		cs.clock.Set(st[0].NextTry.Add(time.Second))
		if n := runDue(t, cs.engine); n != 1 {
			t.Fatalf("RunDue after the backoff started %d rotations, want 1", n)
		}
	case resumeRetry:
		cs.rotateSecret(t, arn, token, target.function, nil, true)
	case reset:
		got, err := cs.engine.Reset(ctx, testNS, arn)
		if err != nil {
			t.Fatalf("Reset: %v", err)
		}
		// Before setSecret the database does not know the pending password: reset discards
		// it. After, the database has it: reset finishes the rotation.
		finished = k >= 2
		outcome, steps := "discarded", 1
		if finished {
			outcome, steps = "succeeded", 2
		}
		if want := map[bool]string{true: "finished", false: "discarded"}[finished]; !strings.HasPrefix(got, want) {
			t.Fatalf("Reset: %q, want %s", got, want)
		}
		// The reset is the last attempt: what it ran, and why it discarded.
		a := cs.status(t, arn)[0]
		if a.Trigger != "reset" || a.Token != token || a.Outcome != outcome || len(a.Steps) != steps || a.Steps[0].Step != rotation.StepTest ||
			finished != (a.Steps[0].Error == "") || !a.NextTry.IsZero() {
			t.Errorf("the reset's attempt: %+v", a)
		}
	}
	if how != reset {
		if err := cs.engine.Wait(arn); err != nil {
			t.Fatalf("%s: %v", how, err)
		}
	}

	labels := cs.stages(t, arn)
	if _, ok := labels["AWSPENDING"]; ok {
		t.Errorf("AWSPENDING left on %s", labels["AWSPENDING"])
	}
	if finished {
		if labels["AWSCURRENT"] != token || labels["AWSPREVIOUS"] != original {
			t.Fatalf("%s: labels %v, want AWSCURRENT %s, AWSPREVIOUS %s", how, labels, token, original)
		}
		cur := cs.value(t, arn, "AWSCURRENT")
		if cur["password"] != pending["password"] || cur["username"] != pending["username"] {
			t.Errorf("%s: AWSCURRENT is not the value createSecret made", how)
		}
		if target.alternating {
			if err := target.login(cs.value(t, arn, "AWSPREVIOUS")); err != nil {
				t.Errorf("%s: alternating, AWSPREVIOUS does not log in: %v", how, err)
			}
		}
		if d := cs.describe(t, arn); d.LastRotatedDate == nil {
			t.Errorf("%s: no LastRotatedDate", how)
		}
	} else if labels["AWSCURRENT"] != original {
		t.Fatalf("%s: labels %v, want AWSCURRENT still %s", how, labels, original)
	}
	if err := target.login(cs.value(t, arn, "AWSCURRENT")); err != nil {
		t.Errorf("%s: AWSCURRENT does not log in: %v", how, err)
	}

	// The rotation is over: nothing reattempts it, after any backoff.
	if st := cs.status(t, arn); st[0].Outcome == "failed" {
		t.Errorf("%s: the last attempt is still %+v", how, st[0])
	}
	cs.clock.Set(cs.clock.Now().Add(2 * time.Hour))
	if n := runDue(t, cs.engine); n != 0 {
		cs.engine.Wait(arn)
		t.Errorf("%s: the scheduler started %d rotations after the rotation was over (labels now %v)", how, n, cs.stages(t, arn))
	}
}

// blocker is random-value whose setSecret, while block is set, waits until its rotation is
// stopped.
type blocker struct {
	rotation.RandomValue
	block   atomic.Bool
	entered chan struct{}
}

func (b *blocker) Step(ctx context.Context, sm *secretsmanager.Client, ev rotation.Event) error {
	if ev.Step == rotation.StepSet && b.block.Load() {
		b.entered <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}
	return b.RandomValue.Step(ctx, sm, ev)
}

// TestShutdownResumes: a server that stops (RunScheduler's context ends) in the middle of a
// rotation started by RotateSecret leaves it to be reattempted at the next start, under the
// same token; CancelRotateSecret, by contrast, abandons the rotation.
func TestShutdownResumes(t *testing.T) {
	b := &blocker{entered: make(chan struct{}, 1)}
	// RotateSecret answers at once, the rotation going on in the background.
	cs := startCofferWith(t, cofferOptions{wait: time.Millisecond, rotators: map[string]rotation.Config{"blocking": {Rotator: b, Role: rotation.DefaultRole}}})
	arn := cs.secret(t, "shutdown", map[string]any{"password": "p0"}, "")
	original := cs.stages(t, arn)["AWSCURRENT"]
	ctx, stop := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		cs.engine.RunScheduler(ctx, time.Hour)
	}()
	b.block.Store(true)
	token := newToken()
	cs.rotateSecret(t, arn, token, "blocking", nil, true)
	select {
	case <-b.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("setSecret did not start")
	}
	stop()
	<-stopped
	st := cs.status(t, arn)
	if len(st) != 1 || st[0].Outcome != "failed" || st[0].NextTry.IsZero() || len(st[0].Steps) != 2 {
		t.Fatalf("status after the shutdown: %+v", st)
	}
	if err := cs.engine.Wait(arn); err == nil || !strings.Contains(err.Error(), "shutdown") {
		t.Errorf("the interrupted rotation's error: %v", err)
	}
	if got := cs.stages(t, arn); got["AWSCURRENT"] != original || got["AWSPENDING"] != token {
		t.Fatalf("labels after the shutdown: %v", got)
	}

	// The next start: a new engine over the same store reattempts it after the backoff.
	b.block.Store(false)
	restarted := rotation.New(cs.engineOpts)
	cs.clock.Set(st[0].NextTry.Add(time.Second))
	if n := runDue(t, restarted); n != 1 {
		t.Fatalf("RunDue after the restart started %d rotations, want 1", n)
	}
	if err := restarted.Wait(arn); err != nil {
		t.Fatal(err)
	}
	if got := cs.stages(t, arn); got["AWSCURRENT"] != token || got["AWSPENDING"] != "" {
		t.Fatalf("labels after the resumed rotation: %v", got)
	}

	// CancelRotateSecret stops a rotation for good: cancelled, not reattempted.
	b.block.Store(true)
	second := newToken()
	cs.rotateSecret(t, arn, second, "blocking", nil, true)
	<-b.entered
	if _, err := cs.sm.CancelRotateSecret(context.Background(), &secretsmanager.CancelRotateSecretInput{SecretId: &arn}); err != nil {
		t.Fatal(err)
	}
	cs.engine.Wait(arn)
	if st := cs.status(t, arn); st[0].Token != second || st[0].Outcome != "cancelled" {
		t.Fatalf("status after CancelRotateSecret: %+v", st[0])
	}
	cs.clock.Set(cs.clock.Now().Add(2 * time.Hour))
	if n := runDue(t, restarted); n != 0 {
		t.Errorf("RunDue after CancelRotateSecret started %d rotations", n)
	}
}

// TestCrashResumes: a server that dies outright in the middle of a rotation leaves the attempt
// marked running; another engine over the same store takes it for dead once it is older than
// four step timeouts, and resumes it under the same token.
func TestCrashResumes(t *testing.T) {
	b := &blocker{entered: make(chan struct{}, 1)}
	cs := startCofferWith(t, cofferOptions{wait: time.Millisecond, rotators: map[string]rotation.Config{"blocking": {Rotator: b, Role: rotation.DefaultRole}}})
	arn := cs.secret(t, "crash", map[string]any{"password": "p0"}, "")
	b.block.Store(true)
	token := newToken()
	cs.rotateSecret(t, arn, token, "blocking", nil, true)
	<-b.entered
	// The "crashed" engine never records an end: its goroutine stays blocked until the test
	// ends; a new engine takes over the store.
	t.Cleanup(func() { cs.engine.Cancel(arn) })
	if st := cs.status(t, arn); len(st) != 1 || st[0].Outcome != "running" {
		t.Fatalf("status while running: %+v", st)
	}
	b.block.Store(false)
	restarted := rotation.New(cs.engineOpts)
	cs.clock.Set(cs.clock.Now().Add(time.Minute))
	if n := runDue(t, restarted); n != 0 {
		t.Fatalf("RunDue took a live attempt for dead: started %d", n)
	}
	cs.clock.Set(cs.clock.Now().Add(10 * time.Minute)) // past 4 step timeouts of 2 minutes, and a minute
	if n := runDue(t, restarted); n != 1 {
		t.Fatalf("RunDue after the crash started %d rotations, want 1", n)
	}
	if err := restarted.Wait(arn); err != nil {
		t.Fatal(err)
	}
	if got := cs.stages(t, arn); got["AWSCURRENT"] != token || got["AWSPENDING"] != "" {
		t.Fatalf("labels after the resumed rotation: %v", got)
	}
}
