// Package rotation runs Secrets Manager's four-step rotation without Lambda: the rotators
// that a RotationLambdaARN names (arn:aws:lambda:<region>:<account>:function:<name>) are
// configured on the server, built in (random-value, postgres-single-user,
// postgres-alternating-users, mysql-single-user, mysql-alternating-users) or custom (an HTTPS
// webhook or a local executable), and the engine drives them through createSecret,
// setSecret, testSecret and finishSecret as AWS drives a rotation function.
//
// A rotator acts as a principal of its own: it works through the Secrets Manager API (an
// aws-sdk-go-v2 client) with the credentials of a role configured for it, as a Lambda
// function works with its execution role, so every secret it reads or writes (the
// administrator secret of masterarn included) is authorized and audited like any other call.
package rotation

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// The four steps, named as AWS names them in the event a rotation function receives.
const (
	StepCreate = "createSecret"
	StepSet    = "setSecret"
	StepTest   = "testSecret"
	StepFinish = "finishSecret"
)

// Steps are the four steps in the order they run.
var Steps = []string{StepCreate, StepSet, StepTest, StepFinish}

// Event is what a rotation function receives for one step, member for member.
type Event struct {
	Step               string `json:"Step"`
	SecretId           string `json:"SecretId"` //nolint:revive // AWS's name
	ClientRequestToken string `json:"ClientRequestToken"`
	RotationToken      string `json:"RotationToken,omitempty"`
}

// Rotator performs one step of a rotation. It works through sm, a Secrets Manager client
// signed with the rotator's own credentials, exactly as an AWS rotation function works
// through boto3: createSecret puts the new value as AWSPENDING under ClientRequestToken
// (passing RotationToken), setSecret makes the target (a database) accept it, testSecret
// checks that it works, and finishSecret moves AWSCURRENT to it. Each step must be
// idempotent: a step that fails or is interrupted is run again.
type Rotator interface {
	Step(ctx context.Context, sm *secretsmanager.Client, ev Event) error
}

// ErrUnknownRotator is returned for a RotationLambdaARN that names no configured rotator.
var ErrUnknownRotator = errors.New("rotation: no such rotator")
