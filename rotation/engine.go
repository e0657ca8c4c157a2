package rotation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/coffer-project/coffer"
)

// Config names one configured rotator.
type Config struct {
	Rotator Rotator
	// Role is the name of the IAM role, in the secret's account, whose permissions the
	// rotator has; its trust policy must allow secretsmanager.amazonaws.com.
	Role string
}

// Secrets is what the engine needs of the core: the token (and placeholder version) of a
// scheduled rotation, and recording a rotation's end.
type Secrets interface {
	PrepareRotation(ctx context.Context, secretARN string) (string, error)
	RotationFinished(ctx context.Context, secretARN string) error
}

// Options configure an Engine.
type Options struct {
	Rotators map[string]Config // by function name, the last part of the RotationLambdaARN
	Store    coffer.Store      // the schedule (DueRotations), rotation status, the lease
	Secrets  Secrets
	// Credentials issues a session of role in ns's account for the named rotator.
	Credentials func(ctx context.Context, ns coffer.Namespace, role, rotator string) (aws.Credentials, error)
	// Client returns a Secrets Manager client signed with creds for region.
	Client func(creds aws.Credentials, region string) *secretsmanager.Client
	// Event records a rotation's start, steps and outcome in the audit trail.
	Event       func(ctx context.Context, ev coffer.ServiceEvent)
	Now         func() time.Time
	Logger      *slog.Logger
	Concurrency int           // rotations at once; 4 when 0
	StepTimeout time.Duration // one step at most; 2 minutes when 0
	Wait        time.Duration // how long Start waits for a rotation to end before answering; 10 s when 0
	// Backoff is the first delay after a failed attempt; it doubles with each failure up to
	// an hour, with full jitter. 1 minute when 0.
	Backoff time.Duration
	// Server names this server for the scheduling lease when several share a store.
	Server string
}

// Engine runs rotations: one at a time per secret, a bounded number at once.
type Engine struct {
	opts Options
	sem  chan struct{}

	mu      sync.Mutex
	running map[string]*run  // by secret ARN
	last    map[string]error // the error of each secret's last rotation in this process
}

type run struct {
	token  string
	done   chan struct{}
	cancel context.CancelCauseFunc
	err    error
}

// errStopped is the cause of a rotation stopped by the server's shutdown (stopAll), which is
// reattempted at the next start; a rotation stopped by Cancel (CancelRotateSecret) is not.
var errStopped = errors.New("rotation: interrupted by the server's shutdown")

// New returns an Engine.
func New(opts Options) *Engine {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.StepTimeout <= 0 {
		opts.StepTimeout = 2 * time.Minute
	}
	if opts.Wait <= 0 {
		opts.Wait = 10 * time.Second
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Engine{opts: opts, sem: make(chan struct{}, opts.Concurrency), running: map[string]*run{}, last: map[string]error{}}
}

// FunctionName returns the rotator name a RotationLambdaARN names in ns
// (arn:aws:lambda:<region>:<account>:function:<name>), or "" when the ARN is not of ns.
func FunctionName(ns coffer.Namespace, lambdaARN string) string {
	parts := strings.Split(lambdaARN, ":")
	if len(parts) < 7 || len(parts) > 8 || parts[0] != "arn" || parts[1] != "aws" || parts[2] != "lambda" || parts[5] != "function" {
		return ""
	}
	if parts[3] != ns.Region || parts[4] != ns.Account {
		return ""
	}
	return parts[6]
}

// Known implements core.Rotations.
func (e *Engine) Known(ns coffer.Namespace, lambdaARN string) bool {
	_, ok := e.opts.Rotators[FunctionName(ns, lambdaARN)]
	return ok
}

// CheckRules implements core.Rotations.
func (e *Engine) CheckRules(r coffer.RotationRules) error {
	if _, err := ParseRules(rulesOf(r)); err != nil {
		return coffer.Errorf(coffer.ErrInvalidParameter, "%s", err.Error())
	}
	return nil
}

// NextRotation implements core.Rotations.
func (e *Engine) NextRotation(r coffer.RotationRules, last, now time.Time) time.Time {
	s, err := ParseRules(rulesOf(r))
	if err != nil {
		return time.Time{}
	}
	return s.NextRotationDate(last, now)
}

func rulesOf(r coffer.RotationRules) Rules {
	return Rules{AutomaticallyAfterDays: r.AutomaticallyAfterDays, Duration: r.Duration, ScheduleExpression: r.ScheduleExpression}
}

// Cancel implements core.Rotations.
func (e *Engine) Cancel(secretARN string) {
	e.mu.Lock()
	r := e.running[secretARN]
	e.mu.Unlock()
	if r != nil {
		r.cancel(context.Canceled)
	}
}

// Start implements core.Rotations: it starts (or joins) the rotation and waits for it for up
// to Options.Wait; a rotation still running then goes on in the background.
func (e *Engine) Start(ctx context.Context, ns coffer.Namespace, secretARN, token string) error {
	r, err := e.launch(ns, secretARN, token, "RotateSecret")
	if err != nil {
		return err
	}
	select {
	case <-r.done:
	case <-time.After(e.opts.Wait):
	case <-ctx.Done():
	}
	return nil
}

// launch starts a rotation in the background, or returns the one under way with the same
// token.
func (e *Engine) launch(ns coffer.Namespace, secretARN, token, trigger string) (*run, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r, ok := e.running[secretARN]; ok {
		if r.token == token {
			return r, nil
		}
		return nil, coffer.Errorf(coffer.ErrInvalidRequest, "A previous rotation isn't complete. That rotation will be reattempted.")
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	r := &run{token: token, done: make(chan struct{}), cancel: cancel}
	e.running[secretARN] = r
	go func() {
		defer close(r.done)
		defer cancel(nil)
		e.sem <- struct{}{}
		r.err = e.rotate(ctx, ns, secretARN, token, trigger)
		<-e.sem
		e.mu.Lock()
		delete(e.running, secretARN)
		e.last[secretARN] = r.err
		e.mu.Unlock()
	}()
	return r, nil
}

// Attempt is one rotation attempt as `coffer rotation status` shows it.
type Attempt struct {
	Token    string        `json:"token"`
	Trigger  string        `json:"trigger"` // RotateSecret, schedule, reset
	Rotator  string        `json:"rotator"`
	Started  time.Time     `json:"started"`
	Ended    time.Time     `json:"ended,omitzero"`
	Outcome  string        `json:"outcome"` // running, succeeded, failed, cancelled, discarded (by a reset)
	Steps    []StepOutcome `json:"steps"`
	Failures int           `json:"failures,omitempty"` // consecutive failed attempts, for the backoff
	NextTry  time.Time     `json:"nextTry,omitzero"`
}

// StepOutcome is one step of an attempt.
type StepOutcome struct {
	Step     string    `json:"step"`
	Started  time.Time `json:"started"`
	Duration string    `json:"duration"`
	Error    string    `json:"error,omitempty"`
}

// statusMeta names the Meta value holding a secret's last attempts.
func statusMeta(secretARN string) string { return "rotation/status/" + secretARN }

// retryMeta prefixes the Meta values naming the secrets whose last attempt failed (the value
// is the time of the next attempt, RFC 3339): the scheduler's list of rotations to reattempt.
const retryMeta = "rotation/retry/"

// maxAttempts is how many attempts a status keeps.
const maxAttempts = 10

// Status returns a secret's last rotation attempts, newest first.
func (e *Engine) Status(ctx context.Context, secretARN string) ([]Attempt, error) {
	return readStatus(ctx, e.opts.Store, secretARN)
}

func readStatus(ctx context.Context, store coffer.Store, secretARN string) ([]Attempt, error) {
	var out []Attempt
	err := store.View(ctx, func(tx coffer.Tx) error {
		b, err := tx.Meta(statusMeta(secretARN))
		if coffer.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &out)
	})
	return out, err
}

// saveAttempt stores a (the newest) in the secret's status.
func (e *Engine) saveAttempt(ctx context.Context, secretARN string, a *Attempt) {
	err := e.opts.Store.Update(ctx, func(tx coffer.Tx) error {
		var list []Attempt
		if b, err := tx.Meta(statusMeta(secretARN)); err == nil {
			json.Unmarshal(b, &list)
		} else if !coffer.IsNotFound(err) {
			return err
		}
		if len(list) > 0 && list[0].Token == a.Token && list[0].Started.Equal(a.Started) {
			list[0] = *a
		} else {
			list = append([]Attempt{*a}, list...)
		}
		if len(list) > maxAttempts {
			list = list[:maxAttempts]
		}
		switch a.Outcome {
		case "failed":
			if err := tx.PutMeta(retryMeta+secretARN, []byte(a.NextTry.Format(time.RFC3339Nano))); err != nil {
				return err
			}
		case "running":
			// Should the server die in the middle, the scheduler finds the rotation here and
			// resumes it once the attempt is plainly dead (see due).
			if err := tx.PutMeta(retryMeta+secretARN, []byte(a.Started.Add(e.staleAfter()).Format(time.RFC3339Nano))); err != nil {
				return err
			}
		case "succeeded", "cancelled", "discarded":
			if err := tx.DeleteMeta(retryMeta + secretARN); err != nil {
				return err
			}
		}
		b, err := json.Marshal(list)
		if err != nil {
			return err
		}
		return tx.PutMeta(statusMeta(secretARN), b)
	})
	if err != nil {
		e.opts.Logger.Error("rotation: recording an attempt", "secret", secretARN, "err", err)
	}
}

// rotatorOf returns the name and configuration of the rotator the secret's RotationLambdaARN
// names.
func (e *Engine) rotatorOf(ctx context.Context, ns coffer.Namespace, secretARN string) (string, Config, error) {
	var lambdaARN string
	err := e.opts.Store.View(ctx, func(tx coffer.Tx) error {
		sec, err := tx.SecretByARN(secretARN)
		if err == nil {
			lambdaARN = sec.RotationLambdaARN
		}
		return err
	})
	if err != nil {
		return "", Config{}, err
	}
	name := FunctionName(ns, lambdaARN)
	cfg, ok := e.opts.Rotators[name]
	if !ok {
		return "", Config{}, ErrUnknownRotator
	}
	return name, cfg, nil
}

// client returns a Secrets Manager client signed as the rotator's role session.
func (e *Engine) client(ctx context.Context, ns coffer.Namespace, name string, cfg Config) (*secretsmanager.Client, error) {
	creds, err := e.opts.Credentials(ctx, ns, cfg.Role, name)
	if err != nil {
		return nil, err
	}
	return e.opts.Client(creds, ns.Region), nil
}

// rotate runs the four steps of one attempt.
func (e *Engine) rotate(ctx context.Context, ns coffer.Namespace, secretARN, token, trigger string) error {
	name, cfg, err := e.rotatorOf(ctx, ns, secretARN)
	if err != nil {
		return err
	}
	prev, _ := readStatus(ctx, e.opts.Store, secretARN)
	a := &Attempt{Token: token, Trigger: trigger, Rotator: name, Started: e.opts.Now().UTC(), Outcome: "running"}
	if len(prev) > 0 && prev[0].Outcome == "failed" {
		a.Failures = prev[0].Failures
	}
	e.saveAttempt(ctx, secretARN, a)
	e.event(ctx, "RotationStarted", ns, secretARN, map[string]any{"rotator": name, "clientRequestToken": token, "trigger": trigger})

	fail := func(step string, err error) error {
		a.Ended = e.opts.Now().UTC()
		a.Outcome = "failed"
		if errors.Is(context.Cause(ctx), errStopped) {
			err = fmt.Errorf("%w (%s)", errStopped, safeError(err))
		} else if errors.Is(ctx.Err(), context.Canceled) {
			a.Outcome = "cancelled"
		}
		a.Failures++
		details := map[string]any{"rotator": name, "clientRequestToken": token, "step": step, "error": safeError(err)}
		if a.Outcome == "failed" {
			a.NextTry = a.Ended.Add(e.backoff(a.Failures))
			if step == StepTest || step == StepFinish {
				// setSecret has run: with a single user, the target already has the new
				// credential and AWSCURRENT does not work until finishSecret. Retry soon.
				a.NextTry = a.Ended.Add(min(e.backoff(a.Failures), 30*time.Second))
			}
			details["nextAttempt"] = a.NextTry.Format(time.RFC3339)
			e.event(ctx, "RotationFailed", ns, secretARN, details)
		} else {
			e.event(ctx, "RotationAbandoned", ns, secretARN, details)
		}
		e.saveAttempt(context.WithoutCancel(ctx), secretARN, a)
		e.opts.Logger.Warn("rotation failed", "secret", secretARN, "step", step, "err", safeError(err))
		return err
	}

	client, err := e.client(ctx, ns, name, cfg)
	if err != nil {
		return fail("", err)
	}
	rotationToken, err := randomToken()
	if err != nil {
		return fail("", err)
	}
	ev := Event{SecretId: secretARN, ClientRequestToken: token, RotationToken: rotationToken}
	for _, step := range Steps {
		if err := ctx.Err(); err != nil {
			return fail(step, err)
		}
		ev.Step = step
		so := StepOutcome{Step: step, Started: e.opts.Now().UTC()}
		sctx, cancel := context.WithTimeout(ctx, e.opts.StepTimeout)
		err := cfg.Rotator.Step(sctx, client, ev)
		cancel()
		so.Duration = e.opts.Now().Sub(so.Started).Round(time.Millisecond).String()
		if err != nil {
			so.Error = safeError(err)
		}
		a.Steps = append(a.Steps, so)
		e.saveAttempt(ctx, secretARN, a)
		e.event(ctx, "RotationStep", ns, secretARN, map[string]any{"rotator": name, "clientRequestToken": token, "step": step,
			"outcome": outcome(err), "error": so.Error})
		if err != nil {
			return fail(step, err)
		}
	}
	// The end state: the new version is AWSCURRENT; AWSPENDING leaves it, as AWS removes it.
	if err := e.settle(ctx, client, secretARN, token); err != nil {
		return fail(StepFinish, err)
	}
	if err := e.opts.Secrets.RotationFinished(context.WithoutCancel(ctx), secretARN); err != nil {
		return fail(StepFinish, err)
	}
	a.Ended, a.Outcome, a.Failures, a.NextTry = e.opts.Now().UTC(), "succeeded", 0, time.Time{}
	e.saveAttempt(context.WithoutCancel(ctx), secretARN, a)
	e.event(ctx, "RotationSucceeded", ns, secretARN, map[string]any{"rotator": name, "clientRequestToken": token})
	return nil
}

// settle checks that the rotation's version is AWSCURRENT and takes AWSPENDING off it.
func (e *Engine) settle(ctx context.Context, client *secretsmanager.Client, secretARN, token string) error {
	d, err := client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(secretARN)})
	if err != nil {
		return err
	}
	stages := d.VersionIdsToStages[token]
	if !has(stages, StageCurrent) {
		return fmt.Errorf("rotation: after finishSecret, version %s is not AWSCURRENT (the rotator did not move the label)", token)
	}
	if has(stages, StagePending) {
		_, err := client.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(secretARN),
			VersionStage: aws.String(StagePending), RemoveFromVersionId: aws.String(token)})
		return err
	}
	return nil
}

// staleAfter is how long after its start an attempt still marked running in the store is
// taken for dead (its server stopped without recording the end): four steps' timeouts.
func (e *Engine) staleAfter() time.Duration { return 4*e.opts.StepTimeout + time.Minute }

// backoff is the delay before attempt failures+1: exponential from Options.Backoff, at most
// an hour, with full jitter.
func (e *Engine) backoff(failures int) time.Duration {
	d := e.opts.Backoff
	for i := 1; i < failures && d < time.Hour; i++ {
		d *= 2
	}
	d = min(d, time.Hour)
	n, err := rand.Int(rand.Reader, big.NewInt(int64(d)))
	if err != nil {
		return d
	}
	return time.Duration(n.Int64()) + time.Second
}

func (e *Engine) event(ctx context.Context, name string, ns coffer.Namespace, arn string, details map[string]any) {
	if e.opts.Event != nil {
		e.opts.Event(context.WithoutCancel(ctx), coffer.ServiceEvent{Service: "secretsmanager", Name: name, ARN: arn, Namespace: ns, Details: details})
	}
}

func outcome(err error) string {
	if err != nil {
		return "failed"
	}
	return "succeeded"
}

// safeError is an error's text for status and audit: rotators' errors never hold values
// (they are written not to), and the text is bounded.
func safeError(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if len(s) > 512 {
		s = s[:512] + "…"
	}
	return s
}

func randomToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:4]) + "-" + hex.EncodeToString(b[4:6]) + "-" + hex.EncodeToString(b[6:8]) + "-" + hex.EncodeToString(b[8:10]) + "-" + hex.EncodeToString(b[10:]), nil
}
