package rotation

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/coffer-project/coffer"
)

// The scheduler: the schedule lives in the store (each secret's NextRotationDate), so a
// window missed while the server was down is rotated once at the next start. When several
// servers share a PostgreSQL store, the one holding the lease (a Meta row renewed every
// round, in a serializable transaction) schedules; the others only serve.

// leaseMeta names the scheduling lease.
const leaseMeta = "rotation/lease"

type lease struct {
	Server string    `json:"server"`
	Until  time.Time `json:"until"`
}

// leaseFor is how long a lease lasts without renewal.
const leaseFor = 3 * time.Minute

// holdLease takes or renews the scheduling lease; it reports whether this server holds it.
func (e *Engine) holdLease(ctx context.Context) (bool, error) {
	held := false
	err := e.opts.Store.Update(ctx, func(tx coffer.Tx) error {
		held = false
		now := e.opts.Now().UTC()
		var l lease
		if b, err := tx.Meta(leaseMeta); err == nil {
			if err := json.Unmarshal(b, &l); err != nil {
				l = lease{}
			}
		} else if !coffer.IsNotFound(err) {
			return err
		}
		if l.Server != "" && l.Server != e.opts.Server && now.Before(l.Until) {
			return nil
		}
		b, err := json.Marshal(lease{Server: e.opts.Server, Until: now.Add(leaseFor)})
		if err != nil {
			return err
		}
		held = true
		return tx.PutMeta(leaseMeta, b)
	})
	return held, err
}

// RunDue starts the rotations that are due and returns how many it started. A secret is due
// when its rotation window is open, or when a window closed without a rotation (the server
// was down): that one runs once now. A failed attempt is reattempted after its backoff. A rotation left with an AWSPENDING version resumes under that
// version's id, as AWS retries a rotation with its ClientRequestToken.
func (e *Engine) RunDue(ctx context.Context) (int, error) {
	held, err := e.holdLease(ctx)
	if err != nil || !held {
		return 0, err
	}
	now := e.opts.Now()
	var due []*coffer.Secret
	err = e.opts.Store.View(ctx, func(tx coffer.Tx) error {
		var err error
		// NextRotationDate is the end of a window of at most a day: a window open now ends
		// within the next day.
		due, err = tx.DueRotations(now.Add(24*time.Hour), 200)
		return err
	})
	if err != nil {
		return 0, err
	}
	// And the failed rotations to reattempt.
	err = e.opts.Store.View(ctx, func(tx coffer.Tx) error {
		names, err := tx.MetaKeys(retryMeta)
		if err != nil {
			return err
		}
		for _, name := range names {
			sec, err := tx.SecretByARN(name[len(retryMeta):])
			if coffer.IsNotFound(err) {
				continue
			}
			if err != nil {
				return err
			}
			if sec.RotationEnabled && !sec.Deleted() {
				due = append(due, sec)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	started := 0
	seen := map[string]bool{}
	for _, sec := range due {
		if seen[sec.ARN] {
			continue
		}
		seen[sec.ARN] = true
		e.mu.Lock()
		_, busy := e.running[sec.ARN]
		e.mu.Unlock()
		if busy || !e.due(ctx, sec, now) {
			continue
		}
		token, err := e.opts.Secrets.PrepareRotation(ctx, sec.ARN)
		if err != nil {
			e.opts.Logger.Error("rotation: preparing a scheduled rotation", "secret", sec.ARN, "err", err)
			continue
		}
		if _, err := e.launch(sec.Namespace, sec.ARN, token, "schedule"); err == nil {
			started++
		}
	}
	return started, nil
}

// due says whether sec's rotation should start now.
func (e *Engine) due(ctx context.Context, sec *coffer.Secret, now time.Time) bool {
	if attempts, err := readStatus(ctx, e.opts.Store, sec.ARN); err == nil && len(attempts) > 0 {
		switch a := attempts[0]; a.Outcome {
		case "failed":
			// A failed rotation is reattempted (its AWSPENDING version is resumed) once its
			// backoff has passed, window or not, as AWS reattempts it.
			return !now.Before(a.NextTry)
		case "running":
			// Not running here (the caller checked): a server stopped in the middle of it.
			return !now.Before(a.Started.Add(e.staleAfter()))
		}
	}
	if !sec.NextRotationDate.IsZero() && sec.NextRotationDate.Before(now) {
		return true // a window closed without a rotation
	}
	s, err := ParseRules(rulesOf(sec.RotationRules))
	if err != nil {
		return false
	}
	last := sec.LastRotatedDate
	if last.IsZero() {
		last = sec.CreatedDate
	}
	return s.Due(last, now)
}

// pendingToken returns the id of a version staged AWSPENDING but not AWSCURRENT: a rotation
// left unfinished, to resume.
func (e *Engine) pendingToken(ctx context.Context, secretARN string) (string, error) {
	token := ""
	err := e.opts.Store.View(ctx, func(tx coffer.Tx) error {
		vs, err := tx.Versions(secretARN)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if v.HasStage(coffer.StagePending) && !v.HasStage(coffer.StageCurrent) {
				token = v.VersionID
			}
		}
		return nil
	})
	return token, err
}

// RunScheduler calls RunDue every interval (a minute when 0) until ctx is done, then waits for
// the rotations it started.
func (e *Engine) RunScheduler(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := e.RunDue(ctx); err != nil && ctx.Err() == nil {
			e.opts.Logger.Error("rotation: scheduling", "err", err)
		}
		select {
		case <-ctx.Done():
			e.stopAll()
			return
		case <-t.C:
		}
	}
}

// stopAll cancels the rotations under way and waits for them: an interrupted rotation keeps
// its AWSPENDING version and counts as failed, so that the next start reattempts it after the
// backoff.
func (e *Engine) stopAll() {
	e.mu.Lock()
	runs := make([]*run, 0, len(e.running))
	for _, r := range e.running {
		r.cancel(errStopped)
		runs = append(runs, r)
	}
	e.mu.Unlock()
	for _, r := range runs {
		<-r.done
	}
}

// claim holds secretARN for the caller (a reset) once the rotation under way, if any, has
// ended: until release, no rotation of it starts in this process (RotateSecret is refused as
// AWS refuses one while another is under way, and the scheduler passes it by), so that a
// reset and a reattempt never work on the same pending version at once.
func (e *Engine) claim(ctx context.Context, secretARN string) (release func(), err error) {
	for {
		e.mu.Lock()
		r := e.running[secretARN]
		if r == nil {
			mine := &run{done: make(chan struct{}), cancel: func(error) {}}
			e.running[secretARN] = mine
			last := e.last[secretARN]
			e.mu.Unlock()
			if last != nil {
				e.opts.Logger.Info("rotation: the last rotation ended with an error before the reset", "secret", secretARN)
			}
			return func() {
				e.mu.Lock()
				delete(e.running, secretARN)
				e.mu.Unlock()
				close(mine.done)
			}, nil
		}
		e.mu.Unlock()
		select {
		case <-r.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Wait waits for the rotation of a secret under way, if any, and returns the error of the
// secret's last rotation in this process.
func (e *Engine) Wait(secretARN string) error {
	e.mu.Lock()
	r := e.running[secretARN]
	e.mu.Unlock()
	if r != nil {
		<-r.done
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last[secretARN]
}

// Test implements core.Rotations (RotateImmediately false): it stages a copy of AWSCURRENT
// as AWSPENDING under token, runs testSecret, and takes the label off again.
func (e *Engine) Test(ctx context.Context, ns coffer.Namespace, secretARN, token string) error {
	name, cfg, err := e.rotatorOf(ctx, ns, secretARN)
	if err != nil {
		return err
	}
	client, err := e.client(ctx, ns, name, cfg)
	if err != nil {
		return err
	}
	cur, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretARN)})
	if err != nil {
		return rotatorError("reading AWSCURRENT", err)
	}
	_, err = client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(secretARN), ClientRequestToken: aws.String(token),
		SecretString: cur.SecretString, SecretBinary: cur.SecretBinary, VersionStages: []string{StagePending}})
	if err != nil {
		return rotatorError("staging the test version", err)
	}
	stepErr := cfg.Rotator.Step(ctx, client, Event{Step: StepTest, SecretId: secretARN, ClientRequestToken: token})
	_, err = client.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(secretARN),
		VersionStage: aws.String(StagePending), RemoveFromVersionId: aws.String(token)})
	e.event(ctx, "RotationTested", ns, secretARN, map[string]any{"rotator": name, "clientRequestToken": token, "outcome": outcome(stepErr), "error": safeError(stepErr)})
	if stepErr != nil {
		return coffer.Errorf(coffer.ErrInvalidRequest, "The rotation configuration test failed: the rotator's testSecret step: %s", safeError(stepErr))
	}
	if err != nil {
		return rotatorError("removing the test version's AWSPENDING", err)
	}
	return nil
}

func rotatorError(what string, err error) error {
	return coffer.Errorf(coffer.ErrInvalidRequest, "The rotator could not test the rotation (%s): %s", what, safeError(err))
}

// Reset resolves a rotation left with an AWSPENDING version (`coffer rotation reset`): it
// runs the rotator's testSecret step on the pending version; when the target already accepts
// it, the rotation is finished (AWSCURRENT moves to it), and when it does not, the pending
// version loses its label (the target still has the current credential). It returns what it
// did, and records it in the status as an attempt (trigger reset, outcome succeeded or
// discarded), which ends the reattempts of a failed rotation.
func (e *Engine) Reset(ctx context.Context, ns coffer.Namespace, secretARN string) (string, error) {
	release, err := e.claim(ctx, secretARN)
	if err != nil {
		return "", err
	}
	defer release()
	token, err := e.pendingToken(ctx, secretARN)
	if err != nil {
		return "", err
	}
	if token == "" {
		return "nothing to reset: no version is AWSPENDING without being AWSCURRENT", nil
	}
	name, cfg, err := e.rotatorOf(ctx, ns, secretARN)
	if err != nil {
		return "", err
	}
	client, err := e.client(ctx, ns, name, cfg)
	if err != nil {
		return "", err
	}
	// The reset is an attempt of its own in the status: it takes the place of the failed one,
	// which the scheduler would otherwise reattempt after its backoff.
	a := &Attempt{Token: token, Trigger: "reset", Rotator: name, Started: e.opts.Now().UTC(), Outcome: "running"}
	step := func(s string) error {
		so := StepOutcome{Step: s, Started: e.opts.Now().UTC()}
		err := cfg.Rotator.Step(ctx, client, Event{Step: s, SecretId: secretARN, ClientRequestToken: token})
		so.Duration = e.opts.Now().Sub(so.Started).Round(time.Millisecond).String()
		so.Error = safeError(err)
		a.Steps = append(a.Steps, so)
		return err
	}
	end := func(outcome string) {
		a.Ended, a.Outcome = e.opts.Now().UTC(), outcome
		e.saveAttempt(context.WithoutCancel(ctx), secretARN, a)
	}
	if err := step(StepTest); err == nil {
		if err := step(StepFinish); err != nil {
			return "", fmt.Errorf("finishing the rotation: %s", safeError(err))
		}
		if err := e.settle(ctx, client, secretARN, token); err != nil {
			return "", err
		}
		if err := e.opts.Secrets.RotationFinished(ctx, secretARN); err != nil {
			return "", err
		}
		end("succeeded")
		e.event(ctx, "RotationSucceeded", ns, secretARN, map[string]any{"rotator": name, "clientRequestToken": token, "trigger": "reset"})
		return fmt.Sprintf("finished: the target accepts version %s, which is now AWSCURRENT", token), nil
	}
	_, err = client.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(secretARN),
		VersionStage: aws.String(StagePending), RemoveFromVersionId: aws.String(token)})
	if err != nil {
		return "", err
	}
	end("discarded")
	e.event(ctx, "RotationAbandoned", ns, secretARN, map[string]any{"rotator": name, "clientRequestToken": token, "trigger": "reset"})
	return fmt.Sprintf("discarded: the target does not accept version %s; AWSPENDING was removed from it, and AWSCURRENT is unchanged", token), nil
}
