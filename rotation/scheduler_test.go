package rotation_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// midnight is the start of t's UTC day.
func midnight(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// TestScheduledRotations drives the scheduler with the clock: cron(0 6 * * ? *) with Duration
// 2h rotates once in each 06:00–08:00 window; windows missed while the server was down are
// rotated once at the next RunDue; a failed attempt is reattempted after its backoff only,
// under the same token.
func TestScheduledRotations(t *testing.T) {
	cs := startCofferWith(t, cofferOptions{backoff: 20 * time.Minute})
	ctx := context.Background()
	day := midnight(cs.clock.Now()).AddDate(0, 0, 1)
	var arn string
	at := func(days int, hm string) time.Time {
		d, err := time.ParseDuration(hm)
		if err != nil {
			t.Fatal(err)
		}
		return day.AddDate(0, 0, days).Add(d)
	}
	wantNext := func(when string, want time.Time) {
		t.Helper()
		d := cs.describe(t, arn)
		if d.NextRotationDate == nil || !d.NextRotationDate.Equal(want) {
			t.Errorf("%s: NextRotationDate %v, want %v", when, d.NextRotationDate, want)
		}
	}
	rotated := func(when string) {
		t.Helper()
		if n := runDue(t, cs.engine); n != 1 {
			t.Fatalf("%s: RunDue started %d rotations, want 1", when, n)
		}
		if err := cs.engine.Wait(arn); err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if a := cs.status(t, arn)[0]; a.Trigger != "schedule" || a.Outcome != "succeeded" {
			t.Fatalf("%s: attempt %+v", when, a)
		}
	}
	none := func(when string) {
		t.Helper()
		if n := runDue(t, cs.engine); n != 0 {
			t.Fatalf("%s: RunDue started %d rotations, want none", when, n)
		}
	}

	cs.clock.Set(at(0, "4h"))
	arn = cs.secret(t, "nightly", map[string]any{"username": "u", "password": "p0"}, "")
	cs.rotateSecret(t, arn, newToken(), "random-value", &smtypes.RotationRulesType{ScheduleExpression: aws.String("cron(0 6 * * ? *)"), Duration: aws.String("2h")}, false)
	wantNext("configured at 04:00", at(0, "7h59m59s"))

	cs.clock.Set(at(0, "5h"))
	none("05:00, before the window")
	cs.clock.Set(at(0, "6h30m"))
	rotated("06:30, in the window")
	if d := cs.describe(t, arn); d.LastRotatedDate == nil || d.LastRotatedDate.Before(at(0, "6h30m")) || !d.LastRotatedDate.Before(at(0, "6h31m")) {
		t.Errorf("LastRotatedDate %v, want 06:30", d.LastRotatedDate)
	}
	wantNext("rotated at 06:30", at(1, "7h59m59s"))
	cs.clock.Set(at(0, "7h"))
	none("07:00, rotated in this window already")
	cs.clock.Set(at(0, "7h59m"))
	none("07:59, rotated in this window already")

	// Down from day 0 07:59 to day 2 09:00: two windows missed, one rotation.
	cs.clock.Set(at(2, "9h"))
	rotated("the first RunDue after two missed windows")
	none("right after the catch-up rotation")
	wantNext("caught up on day 2 at 09:00", at(3, "7h59m59s"))
	cs.clock.Set(at(3, "5h"))
	none("day 3 05:00")
	if n := len(cs.status(t, arn)); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}

	// A value random-value cannot rotate: the attempt in day 3's window fails, and is not
	// reattempted, window open or not, before its backoff.
	if _, err := cs.sm.PutSecretValue(ctx, secretString(arn, nil)); err != nil {
		t.Fatal(err)
	}
	before := cs.stages(t, arn)["AWSCURRENT"]
	cs.clock.Set(at(3, "6h10m"))
	if n := runDue(t, cs.engine); n != 1 {
		t.Fatalf("day 3 06:10: RunDue started %d rotations, want 1", n)
	}
	if err := cs.engine.Wait(arn); err == nil {
		t.Fatal("the rotation of a value without a password succeeded")
	}
	failed := cs.status(t, arn)[0]
	if failed.Outcome != "failed" || failed.Failures != 1 || !failed.NextTry.After(failed.Ended) || failed.NextTry.After(failed.Ended.Add(20*time.Minute+time.Second)) {
		t.Fatalf("the failed attempt: %+v", failed)
	}
	if labels := cs.stages(t, arn); labels["AWSCURRENT"] != before || labels["AWSPENDING"] != failed.Token {
		t.Fatalf("labels after the failure: %v", labels)
	}
	if wait := failed.NextTry.Sub(failed.Ended); wait > 2*time.Second {
		cs.clock.Set(failed.NextTry.Add(-time.Second))
		none("in the window, before the backoff")
	}
	if _, err := cs.sm.PutSecretValue(ctx, secretString(arn, map[string]any{"username": "u", "password": "p1"})); err != nil {
		t.Fatal(err)
	}
	cs.clock.Set(failed.NextTry.Add(time.Second))
	rotated("after the backoff")
	if a := cs.status(t, arn)[0]; a.Token != failed.Token || a.Failures != 0 || !a.NextTry.IsZero() {
		t.Errorf("the reattempt: %+v, want the failed attempt's token %s", a, failed.Token)
	}
	if labels := cs.stages(t, arn); labels["AWSCURRENT"] != failed.Token || labels["AWSPENDING"] != "" {
		t.Errorf("labels after the reattempt: %v", labels)
	}
	if v := cs.value(t, arn, "AWSCURRENT"); v["username"] != "u" || v["password"] == "p1" {
		t.Errorf("the reattempt's value: %v", v["username"])
	}
	none("after the reattempt")
	wantNext("reattempted on day 3", at(4, "7h59m59s"))
}
