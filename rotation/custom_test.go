package rotation_test

// The custom rotators end to end: a webhook receiver and a command that do their work
// through the Secrets Manager API with credentials of their own, as a Lambda function does,
// and the engine that checks the end state.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/coffer-project/coffer/rotation"
)

// hookPolicy is what the webhook's own IAM user may do: the rotation's calls, nothing else.
const hookPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["secretsmanager:DescribeSecret","secretsmanager:GetSecretValue","secretsmanager:PutSecretValue","secretsmanager:UpdateSecretVersionStage","secretsmanager:GetRandomPassword"],"Resource":"*"}]}`

// iamUser creates an IAM user with an inline policy and returns its access key.
func (c *cofferServer) iamUser(t *testing.T, name, policy string) aws.Credentials {
	t.Helper()
	ctx := context.Background()
	ic := c.iam()
	if _, err := ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String("rotate"), PolicyDocument: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	k, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.Credentials{AccessKeyID: aws.ToString(k.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(k.AccessKey.SecretAccessKey)}
}

// verifySignature checks X-Coffer-Signature as a receiver must (docs/rotation.md): the HMAC
// of "<t>.<body>", compared in constant time, with t at most five minutes from now.
func verifySignature(key []byte, header string, body []byte, now time.Time) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("no timestamp")
	}
	if d := now.Sub(time.Unix(t, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("timestamp too far from now")
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return errors.New("no signature")
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ts + "."))
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return errors.New("bad signature")
	}
	return nil
}

// hookReceiver is a webhook rotator's receiving end: it checks the signature, then performs
// a random-value rotation's step through the API as its own IAM user.
type hookReceiver struct {
	key []byte
	sm  *secretsmanager.Client

	mu       sync.Mutex
	events   []rotation.Event
	refused  int
	failStep string // answered with HTTP 500
	errs     []error
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := verifySignature(h.key, r.Header.Get("X-Coffer-Signature"), body, time.Now()); err != nil {
		h.refused++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev rotation.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, "", http.StatusBadRequest)
		return
	}
	h.events = append(h.events, ev)
	if ev.Step == h.failStep {
		http.Error(w, "refusing "+ev.Step, http.StatusInternalServerError)
		return
	}
	if err := h.step(r.Context(), ev); err != nil {
		h.errs = append(h.errs, fmt.Errorf("%s: %w", ev.Step, err))
		http.Error(w, "", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// step is random-value's step written as a rotation function would write it.
func (h *hookReceiver) step(ctx context.Context, ev rotation.Event) error {
	switch ev.Step {
	case rotation.StepCreate:
		if _, err := h.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &ev.SecretId, VersionId: &ev.ClientRequestToken,
			VersionStage: aws.String("AWSPENDING")}); err == nil {
			return nil
		}
		cur, err := h.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &ev.SecretId})
		if err != nil {
			return err
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(aws.ToString(cur.SecretString)), &v); err != nil {
			return err
		}
		pw, err := h.sm.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(24)})
		if err != nil {
			return err
		}
		v["password"] = aws.ToString(pw.RandomPassword)
		b, _ := json.Marshal(v)
		_, err = h.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &ev.SecretId, ClientRequestToken: &ev.ClientRequestToken,
			SecretString: aws.String(string(b)), VersionStages: []string{"AWSPENDING"}, RotationToken: &ev.RotationToken})
		return err
	case rotation.StepSet:
		return nil
	case rotation.StepTest:
		_, err := h.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &ev.SecretId, VersionId: &ev.ClientRequestToken,
			VersionStage: aws.String("AWSPENDING")})
		return err
	case rotation.StepFinish:
		d, err := h.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &ev.SecretId})
		if err != nil {
			return err
		}
		current := ""
		for id, stages := range d.VersionIdsToStages {
			for _, s := range stages {
				if s == "AWSCURRENT" {
					current = id
				}
			}
		}
		if current == ev.ClientRequestToken {
			return nil
		}
		_, err = h.sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: &ev.SecretId, VersionStage: aws.String("AWSCURRENT"),
			MoveToVersionId: &ev.ClientRequestToken, RemoveFromVersionId: &current})
		return err
	}
	return fmt.Errorf("unknown step %q", ev.Step)
}

func (h *hookReceiver) seen() (events []rotation.Event, refused int, errs []error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]rotation.Event(nil), h.events...), h.refused, append([]error(nil), h.errs...)
}

func (h *hookReceiver) reset(failStep string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events, h.refused, h.errs, h.failStep = nil, 0, nil, failStep
}

// TestWebhookRotator: coffer signs each step's event; the receiver refuses what is not
// signed with the shared key, rotates through the API as its own IAM user, and coffer checks
// the end state. A step answered with HTTP 500 fails the attempt and leaves AWSCURRENT.
func TestWebhookRotator(t *testing.T) {
	key := bytes.Repeat([]byte("k3y-"), 10)
	h := &hookReceiver{key: key}
	hook := httptest.NewServer(h)
	t.Cleanup(hook.Close)
	wh, err := rotation.NewWebhook(hook.URL, key)
	if err != nil {
		t.Fatal(err)
	}
	cs := startCofferWith(t, cofferOptions{rotators: map[string]rotation.Config{"billing-hook": {Rotator: wh, Role: rotation.DefaultRole}}})
	h.sm = cs.client(cs.iamUser(t, "billing-hook", hookPolicy))

	// Sanity: the receiver refuses a wrong key, a stale timestamp, no signature.
	body := []byte(`{"Step":"finishSecret","SecretId":"x","ClientRequestToken":"y"}`)
	for name, sig := range map[string]string{
		"wrong key":    rotation.Sign(bytes.Repeat([]byte("x"), 40), body, time.Now()),
		"stale":        rotation.Sign(key, body, time.Now().Add(-6*time.Minute)),
		"another body": rotation.Sign(key, []byte(`{"Step":"createSecret","SecretId":"x","ClientRequestToken":"y"}`), time.Now()),
		"none":         "",
	} {
		req, _ := http.NewRequest(http.MethodPost, hook.URL, bytes.NewReader(body))
		req.Header.Set("X-Coffer-Signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: the receiver answered %d", name, resp.StatusCode)
		}
	}
	if events, refused, _ := h.seen(); len(events) != 0 || refused != 4 {
		t.Fatalf("the receiver took %d events and refused %d, want 0 and 4", len(events), refused)
	}
	h.reset("")

	arn := cs.secret(t, "billing/db", map[string]any{"username": "billing", "password": "first"}, "")
	first := cs.stages(t, arn)["AWSCURRENT"]
	token := newToken()
	cs.rotateSecret(t, arn, token, "billing-hook", &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(30)}, true)
	if err := cs.engine.Wait(arn); err != nil {
		t.Fatalf("the webhook rotation: %v", err)
	}
	events, refused, errs := h.seen()
	if refused != 0 || len(errs) != 0 || len(events) != 4 {
		t.Fatalf("the receiver saw %d events, refused %d, failed %v", len(events), refused, errs)
	}
	for i, ev := range events {
		if ev.Step != rotation.Steps[i] || ev.SecretId != arn || ev.ClientRequestToken != token || ev.RotationToken == "" || ev.RotationToken != events[0].RotationToken {
			t.Errorf("event %d: %+v", i, ev)
		}
	}
	labels := cs.stages(t, arn)
	if labels["AWSCURRENT"] != token || labels["AWSPREVIOUS"] != first || labels["AWSPENDING"] != "" {
		t.Fatalf("labels after the rotation: %v", labels)
	}
	cur := cs.value(t, arn, "AWSCURRENT")
	if cur["username"] != "billing" || cur["password"] == "first" || len(cur["password"].(string)) != 24 {
		t.Errorf("the rotated value: username %v, password of %d characters", cur["username"], len(cur["password"].(string)))
	}
	if st := cs.status(t, arn); len(st) != 1 || st[0].Outcome != "succeeded" || st[0].Rotator != "billing-hook" || len(st[0].Steps) != 4 {
		t.Errorf("status: %+v", st)
	}

	// A step answered with HTTP 500: the attempt fails there and AWSCURRENT stays.
	h.reset(rotation.StepSet)
	second := newToken()
	cs.rotateSecret(t, arn, second, "billing-hook", nil, true)
	err = cs.engine.Wait(arn)
	if err == nil || !strings.Contains(err.Error(), "HTTP 500") {
		t.Fatalf("a step answered with 500: %v", err)
	}
	st := cs.status(t, arn)
	if a := st[0]; a.Token != second || a.Outcome != "failed" || len(a.Steps) != 2 || a.Steps[0].Error != "" ||
		a.Steps[1].Step != rotation.StepSet || a.Steps[1].Error != "webhook rotator: setSecret: answered HTTP 500" || a.NextTry.IsZero() {
		t.Fatalf("status after the 500: %+v", a)
	}
	if labels := cs.stages(t, arn); labels["AWSCURRENT"] != token || labels["AWSPENDING"] != second {
		t.Fatalf("labels after the 500: %v", labels)
	}
	if got := cs.value(t, arn, "AWSCURRENT"); got["password"] != cur["password"] {
		t.Error("AWSCURRENT's value changed")
	}
	if events, _, _ := h.seen(); len(events) != 2 {
		t.Errorf("the receiver saw %d events after the 500, want 2", len(events))
	}

	// The receiver mends: RotateSecret with the same token resumes the rotation.
	h.reset("")
	cs.rotateSecret(t, arn, second, "billing-hook", nil, true)
	if err := cs.engine.Wait(arn); err != nil {
		t.Fatalf("the resumed webhook rotation: %v", err)
	}
	if labels := cs.stages(t, arn); labels["AWSCURRENT"] != second || labels["AWSPREVIOUS"] != token || labels["AWSPENDING"] != "" {
		t.Fatalf("labels after the resumed rotation: %v", labels)
	}
}

// commandScript records each event it gets on standard input in $LOG, one a line, and what
// it sees of the server's environment in $LOG.env, and exits 3 on the step $FAIL.
const commandScript = `#!/bin/sh
IFS= read -r ev
printf '%s\n' "$ev" >> "$LOG"
printf '%s %s\n' "${COFFER_TEST_SENTINEL:-unset}" "${HOME:-unset}" > "$LOG.env"
case "$ev" in *"\"Step\":\"$FAIL\""*) exit 3;; esac
exit 0
`

// TestCommandRotator: the command gets each step's event on standard input, with only the
// environment configured; a non-zero exit fails the attempt at that step, and a command that
// exits 0 without moving AWSCURRENT fails the end-state check.
func TestCommandRotator(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "rotate.sh")
	if err := os.WriteFile(script, []byte(commandScript), 0o700); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "events")
	t.Setenv("COFFER_TEST_SENTINEL", "inherited")
	fails := &rotation.Command{Path: script, Env: []string{"LOG=" + log, "FAIL=" + rotation.StepSet}}
	lazy := &rotation.Command{Path: script, Env: []string{"LOG=" + log, "FAIL=none"}}
	cs := startCofferWith(t, cofferOptions{rotators: map[string]rotation.Config{
		"ldap":      {Rotator: fails, Role: rotation.DefaultRole},
		"ldap-lazy": {Rotator: lazy, Role: rotation.DefaultRole},
	}})
	read := func() []rotation.Event {
		t.Helper()
		b, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(log)
		var out []rotation.Event
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var ev rotation.Event
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("the command got %q: %v", line, err)
			}
			out = append(out, ev)
		}
		return out
	}

	arn := cs.secret(t, "ldap/bind", map[string]any{"password": "p0"}, "")
	first := cs.stages(t, arn)["AWSCURRENT"]
	token := newToken()
	cs.rotateSecret(t, arn, token, "ldap", nil, true)
	if err := cs.engine.Wait(arn); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("a command that exits 3: %v", err)
	}
	a := cs.status(t, arn)[0]
	if a.Outcome != "failed" || len(a.Steps) != 2 || a.Steps[0].Error != "" || a.Steps[1].Step != rotation.StepSet ||
		a.Steps[1].Error != "command rotator: setSecret: exit status 3" {
		t.Fatalf("status: %+v", a)
	}
	if b, err := os.ReadFile(log + ".env"); err != nil || string(b) != "unset unset\n" {
		t.Errorf("the command's environment: %q, %v; want nothing but Env", b, err)
	}
	evs := read()
	if len(evs) != 2 || evs[0].Step != rotation.StepCreate || evs[1].Step != rotation.StepSet {
		t.Fatalf("the command got %+v", evs)
	}
	for _, ev := range evs {
		if ev.SecretId != arn || ev.ClientRequestToken != token || ev.RotationToken == "" {
			t.Errorf("event %+v", ev)
		}
	}
	if labels := cs.stages(t, arn); labels["AWSCURRENT"] != first || labels["AWSPENDING"] != token {
		t.Fatalf("labels after the failure: %v", labels)
	}

	// Exit status 0 for every step, but AWSCURRENT never moved: the end state is refused.
	arn2 := cs.secret(t, "ldap/lazy", map[string]any{"password": "p0"}, "")
	first2 := cs.stages(t, arn2)["AWSCURRENT"]
	token2 := newToken()
	cs.rotateSecret(t, arn2, token2, "ldap-lazy", nil, true)
	if err := cs.engine.Wait(arn2); err == nil || !strings.Contains(err.Error(), "did not move the label") {
		t.Fatalf("a command that moves no label: %v", err)
	}
	if evs := read(); len(evs) != 4 {
		t.Errorf("the command ran %d steps, want 4", len(evs))
	}
	a = cs.status(t, arn2)[0]
	if a.Outcome != "failed" || len(a.Steps) != 4 || a.Steps[3].Error != "" {
		t.Errorf("status: %+v", a)
	}
	if labels := cs.stages(t, arn2); labels["AWSCURRENT"] != first2 {
		t.Fatalf("labels: %v", labels)
	}
}
