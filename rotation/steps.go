package rotation

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// The helpers every rotator's steps share, as AWS's rotation templates write them.

// Staging labels.
const (
	StageCurrent  = "AWSCURRENT"
	StagePending  = "AWSPENDING"
	StagePrevious = "AWSPREVIOUS"
)

// CheckEvent verifies, as the templates do before any step, that the secret has rotation
// enabled and that ClientRequestToken names a version of it staged AWSPENDING (or already
// AWSCURRENT, when a finished rotation is run again); it returns the version's stages.
func CheckEvent(ctx context.Context, sm *secretsmanager.Client, ev Event) (*secretsmanager.DescribeSecretOutput, error) {
	d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(ev.SecretId)})
	if err != nil {
		return nil, err
	}
	if !aws.ToBool(d.RotationEnabled) {
		return nil, fmt.Errorf("rotation: secret %s is not enabled for rotation", aws.ToString(d.ARN))
	}
	stages, ok := d.VersionIdsToStages[ev.ClientRequestToken]
	if !ok {
		return nil, fmt.Errorf("rotation: secret version %s has no stage for rotation of secret %s", ev.ClientRequestToken, aws.ToString(d.ARN))
	}
	if !has(stages, StageCurrent) && !has(stages, StagePending) {
		return nil, fmt.Errorf("rotation: secret version %s not set as AWSPENDING for rotation of secret %s", ev.ClientRequestToken, aws.ToString(d.ARN))
	}
	return d, nil
}

// IsCurrent says whether the event's version is already AWSCURRENT: then the rotation is
// over and every step is done.
func IsCurrent(d *secretsmanager.DescribeSecretOutput, ev Event) bool {
	return has(d.VersionIdsToStages[ev.ClientRequestToken], StageCurrent)
}

// Value returns the SecretString of a version, by id or stage; found is false when there is
// none (ResourceNotFoundException).
func Value(ctx context.Context, sm *secretsmanager.Client, secretID, versionID, stage string) (value string, found bool, err error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID)}
	if versionID != "" {
		in.VersionId = aws.String(versionID)
	}
	if stage != "" {
		in.VersionStage = aws.String(stage)
	}
	out, err := sm.GetSecretValue(ctx, in)
	var nf *smtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return aws.ToString(out.SecretString), true, nil
}

// PutPending stores value as the AWSPENDING version ev.ClientRequestToken, with the
// rotation token; storing the same value again is idempotent (AWS's rule for a token).
func PutPending(ctx context.Context, sm *secretsmanager.Client, ev Event, value string) error {
	in := &secretsmanager.PutSecretValueInput{SecretId: aws.String(ev.SecretId), ClientRequestToken: aws.String(ev.ClientRequestToken),
		SecretString: aws.String(value), VersionStages: []string{StagePending}}
	if ev.RotationToken != "" {
		in.RotationToken = aws.String(ev.RotationToken)
	}
	_, err := sm.PutSecretValue(ctx, in)
	return err
}

// Finish moves AWSCURRENT to the event's version (AWSPREVIOUS follows, as Secrets Manager
// moves it), unless it is there already.
func Finish(ctx context.Context, sm *secretsmanager.Client, ev Event) error {
	d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(ev.SecretId)})
	if err != nil {
		return err
	}
	current := ""
	for id, stages := range d.VersionIdsToStages {
		if has(stages, StageCurrent) {
			current = id
		}
	}
	if current == ev.ClientRequestToken {
		return nil
	}
	_, err = sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(ev.SecretId),
		VersionStage: aws.String(StageCurrent), MoveToVersionId: aws.String(ev.ClientRequestToken), RemoveFromVersionId: aws.String(current)})
	return err
}

func has(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
