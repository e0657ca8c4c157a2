package rotation_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/coffer-project/coffer/rotation"
)

// gated is random-value whose createSecret, while hold is set, waits for release: a
// rotation that stays under way while the test looks at the other scheduler.
type gated struct {
	rotation.RandomValue
	mu      sync.Mutex
	release chan struct{} // nil: no hold
}

func (g *gated) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.release = make(chan struct{})
}

func (g *gated) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.release)
	g.release = nil
}

func (g *gated) Step(ctx context.Context, sm *secretsmanager.Client, ev rotation.Event) error {
	g.mu.Lock()
	release := g.release
	g.mu.Unlock()
	if release != nil && ev.Step == rotation.StepCreate {
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return g.RandomValue.Step(ctx, sm, ev)
}

// TestSchedulingLease: two servers' engines over one PostgreSQL store. Only the one holding
// the lease starts rotations, even of a due secret that the other one is not running; when
// the holder stops renewing, the other takes over three minutes after the last renewal; two
// engines racing for a free lease never both get it.
func TestSchedulingLease(t *testing.T) {
	g := &gated{}
	cs := startCofferWith(t, cofferOptions{postgres: true, server: "coffer-a", rotators: map[string]rotation.Config{"gated": {Rotator: g, Role: rotation.DefaultRole}}})
	a := cs.engine
	optsB := cs.engineOpts
	optsB.Server = "coffer-b"
	b := rotation.New(optsB)
	ctx := context.Background()
	day := midnight(cs.clock.Now()).AddDate(0, 0, 1)

	// x is due all day `day`, and again the day after it rotated; y all day `day+1`.
	cs.clock.Set(day.Add(-2 * time.Hour))
	x := cs.secret(t, "x", map[string]any{"password": "p"}, "")
	cs.rotateSecret(t, x, newToken(), "gated", &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(1)}, false)
	y := cs.secret(t, "y", map[string]any{"password": "p"}, "")
	cs.rotateSecret(t, y, newToken(), "gated", &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(2)}, false)

	cs.clock.Set(day.Add(-time.Minute))
	if n := runDue(t, a); n != 0 {
		t.Fatalf("a: RunDue before any window started %d", n)
	}
	// x is due; a holds the lease (taken a minute ago, renewed now) and starts it; b does not.
	g.hold()
	cs.clock.Set(day.Add(time.Minute))
	if n := runDue(t, b); n != 0 {
		t.Fatalf("b started %d rotations while a holds the lease", n)
	}
	if n := runDue(t, a); n != 1 {
		t.Fatalf("a: RunDue in x's window started %d, want 1", n)
	}
	// a renewed at 00:01, so its lease lasts until 00:04; x is due and running in a only.
	cs.clock.Set(day.Add(3*time.Minute + 30*time.Second))
	if n := runDue(t, b); n != 0 {
		t.Fatalf("b started %d rotations within a's renewed lease", n)
	}
	g.open()
	if err := a.Wait(x); err != nil {
		t.Fatal(err)
	}

	// a stops renewing. On day+1, b takes over and starts x and y; a, back, starts nothing
	// though both are due and not running in a.
	g.hold()
	cs.clock.Set(day.AddDate(0, 0, 1).Add(30 * time.Minute))
	if n := runDue(t, b); n != 2 {
		t.Fatalf("b: RunDue after a's lease ran out started %d, want 2", n)
	}
	if n := runDue(t, a); n != 0 {
		t.Fatalf("a started %d rotations after b took the lease over", n)
	}
	g.open()
	for arn, attempts := range map[string]int{x: 2, y: 1} {
		if err := b.Wait(arn); err != nil {
			t.Fatal(err)
		}
		if st := cs.status(t, arn); len(st) != attempts || st[0].Trigger != "schedule" || st[0].Outcome != "succeeded" {
			t.Errorf("status of %s: %+v", arn, st)
		}
	}

	// The lease to the second: b renews at t1; a gets it only once three minutes have passed.
	hold := func(e *rotation.Engine) bool {
		t.Helper()
		held, err := e.HoldLease(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return held
	}
	t1 := day.AddDate(0, 0, 1).Add(2 * time.Hour)
	cs.clock.Set(t1)
	if !hold(b) {
		t.Fatal("b does not hold its own lease")
	}
	cs.clock.Set(t1.Add(3*time.Minute - time.Second))
	if hold(a) {
		t.Fatal("a took the lease before it ran out")
	}
	cs.clock.Set(t1.Add(3*time.Minute + time.Second))
	if !hold(a) || hold(b) {
		t.Fatal("a did not take over the lease that ran out, or b kept it")
	}

	// Racing for a lease that ran out: one winner each time.
	for i := range 5 {
		cs.clock.Set(cs.clock.Now().Add(4 * time.Minute))
		var wg sync.WaitGroup
		var got [2]bool
		for j, e := range []*rotation.Engine{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				held, err := e.HoldLease(ctx)
				if err != nil {
					t.Errorf("round %d: %v", i, err)
				}
				got[j] = held
			}()
		}
		wg.Wait()
		if got[0] == got[1] {
			t.Fatalf("round %d: a holds %v, b holds %v", i, got[0], got[1])
		}
	}
}
