package rotation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// RandomValue is the built-in rotator `random-value`: for any secret whose value is a JSON
// object with a "password" string, it gives the password a new random value (keeping every
// other member) and has no target to update. Its setSecret does nothing; its testSecret checks
// the pending value's shape.
type RandomValue struct {
	// Length of a new password; 32 when 0.
	Length int64
}

// passwordExclusions are the characters left out of generated passwords, as AWS's rotation
// templates leave them out: they break connection strings and shell quoting.
const passwordExclusions = `/@"'\`

// Step implements Rotator.
func (r RandomValue) Step(ctx context.Context, sm *secretsmanager.Client, ev Event) error {
	d, err := CheckEvent(ctx, sm, ev)
	if err != nil {
		return err
	}
	if IsCurrent(d, ev) {
		return nil // an earlier run of this rotation finished
	}
	switch ev.Step {
	case StepCreate:
		if _, found, err := Value(ctx, sm, ev.SecretId, ev.ClientRequestToken, StagePending); err != nil || found {
			return err
		}
		cur, found, err := Value(ctx, sm, ev.SecretId, "", StageCurrent)
		if err != nil {
			return err
		}
		if !found {
			return errors.New("random-value: the secret has no AWSCURRENT value")
		}
		m, err := passwordObject(cur)
		if err != nil {
			return err
		}
		n := r.Length
		if n == 0 {
			n = 32
		}
		pw, err := sm.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(n), ExcludeCharacters: aws.String(passwordExclusions)})
		if err != nil {
			return err
		}
		m["password"] = aws.ToString(pw.RandomPassword)
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		return PutPending(ctx, sm, ev, string(b))
	case StepSet:
		return nil
	case StepTest:
		pending, found, err := Value(ctx, sm, ev.SecretId, ev.ClientRequestToken, StagePending)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("random-value: version %s is not AWSPENDING", ev.ClientRequestToken)
		}
		_, err = passwordObject(pending)
		return err
	case StepFinish:
		return Finish(ctx, sm, ev)
	}
	return fmt.Errorf("random-value: unknown step %q", ev.Step)
}

// passwordObject parses a secret value as a JSON object with a "password" string; its errors
// never quote the value.
func passwordObject(v string) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(v), &m); err != nil || m == nil {
		return nil, errors.New("random-value: the secret's value is not a JSON object")
	}
	if _, ok := m["password"].(string); !ok {
		return nil, errors.New(`random-value: the secret's JSON has no "password" string`)
	}
	return m, nil
}
