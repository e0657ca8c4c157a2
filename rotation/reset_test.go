package rotation_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/coffer-project/coffer/rotation"
)

// gatedRotator is the random-value rotator whose setSecret can be made to fail and whose
// testSecret can be held until the test lets it go.
type gatedRotator struct {
	rotation.Rotator
	failSet atomic.Bool
	hold    atomic.Pointer[chan struct{}] // testSecret waits on it when set
	entered chan struct{}
}

func (g *gatedRotator) Step(ctx context.Context, sm *secretsmanager.Client, ev rotation.Event) error {
	switch ev.Step {
	case rotation.StepSet:
		if g.failSet.Load() {
			return errors.New("test: setSecret failed")
		}
	case rotation.StepTest:
		if h := g.hold.Load(); h != nil {
			g.entered <- struct{}{}
			<-*h
		}
	}
	return g.Rotator.Step(ctx, sm, ev)
}

// TestResetHoldsTheSecret: while `coffer rotation reset` works on a secret's pending version,
// neither the scheduler's reattempt of the failed rotation nor RotateSecret starts another
// rotation of it.
func TestResetHoldsTheSecret(t *testing.T) {
	g := &gatedRotator{Rotator: rotation.Defaults()["random-value"].Rotator, entered: make(chan struct{}, 1)}
	cs := startCofferWith(t, cofferOptions{rotators: map[string]rotation.Config{"gated": {Rotator: g, Role: rotation.DefaultRole}}})
	ctx := context.Background()
	arn := cs.secret(t, "gated-"+uniq(), map[string]any{"password": "initial"}, "")
	token := newToken()
	g.failSet.Store(true)
	cs.rotateSecret(t, arn, token, "gated", nil, true)
	if err := cs.engine.Wait(arn); err == nil || !strings.Contains(err.Error(), "setSecret failed") {
		t.Fatalf("the first rotation ended with %v, want the setSecret failure", err)
	}
	st := cs.status(t, arn)
	if len(st) != 1 || st[0].Outcome != "failed" || st[0].NextTry.IsZero() {
		t.Fatalf("status after the failure: %+v", st)
	}
	g.failSet.Store(false)

	// The reset runs testSecret, held back here.
	hold := make(chan struct{})
	g.hold.Store(&hold)
	type result struct {
		msg string
		err error
	}
	done := make(chan result, 1)
	go func() {
		msg, err := cs.engine.Reset(ctx, testNS, arn)
		done <- result{msg, err}
	}()
	select {
	case <-g.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the reset did not reach testSecret")
	}
	g.hold.Store(nil)

	// The reattempt is due, but the reset holds the secret.
	cs.clock.Set(st[0].NextTry.Add(time.Second))
	if n := runDue(t, cs.engine); n != 0 {
		t.Errorf("RunDue started %d rotations during the reset", n)
	}
	_, err := cs.sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: &arn, ClientRequestToken: awssdk.String(newToken())})
	if err == nil || !strings.Contains(err.Error(), "A previous rotation isn't complete") {
		t.Errorf("RotateSecret during the reset: %v, want AWS's refusal", err)
	}

	close(hold)
	select {
	case r := <-done:
		if r.err != nil || !strings.HasPrefix(r.msg, "finished") {
			t.Fatalf("Reset: %q, %v", r.msg, r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the reset did not end")
	}
	if got := cs.stages(t, arn); got["AWSCURRENT"] != token {
		t.Errorf("after the reset, AWSCURRENT is %s, want %s", got["AWSCURRENT"], token)
	}
	// Once the reset is over, a rotation may start again.
	if n := runDue(t, cs.engine); n != 0 {
		t.Errorf("RunDue after a successful reset started %d rotations (nothing is due)", n)
	}
	cs.rotateSecret(t, arn, newToken(), "gated", nil, true)
	if err := cs.engine.Wait(arn); err != nil {
		t.Errorf("a rotation after the reset: %v", err)
	}
}
