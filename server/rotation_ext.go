package server

import (
	"context"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsapi"
	"github.com/coffer-project/coffer/core"
	"github.com/coffer-project/coffer/rotation"
)

// coffer.GetRotationStatus and coffer.ResetRotation: what AWS does not show of a rotation
// (each attempt's steps and errors), and the way out of a rotation left AWSPENDING.

type rotationStatusOut struct {
	ARN      string             `json:"ARN"`
	Name     string             `json:"Name"`
	Attempts []rotation.Attempt `json:"Attempts"`
}

type rotationResetOut struct {
	ARN    string `json:"ARN"`
	Name   string `json:"Name"`
	Result string `json:"Result"`
}

func (h *Handler) rotationOp(ctx context.Context, ns coffer.Namespace, op string, body []byte) (any, error) {
	var in struct{ SecretId *string } //nolint:revive // AWS's naming
	if err := awsapi.Decode(body, &in); err != nil {
		return nil, err
	}
	if in.SecretId == nil {
		return nil, coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null")
	}
	if h.rotations == nil {
		return nil, coffer.Errorf(coffer.ErrInvalidRequest, "This server runs no rotations.")
	}
	// DescribeSecret resolves the secret and authorizes this call's action on it.
	d, err := h.cfg.Secrets.DescribeSecret(ctx, ns, &core.DescribeSecretInput{SecretId: in.SecretId})
	if err != nil {
		return nil, err
	}
	sec := d.Secret
	if op == "GetRotationStatus" {
		attempts, err := h.rotations.Status(ctx, sec.ARN)
		if err != nil {
			return nil, err
		}
		if attempts == nil {
			attempts = []rotation.Attempt{}
		}
		return &rotationStatusOut{ARN: sec.ARN, Name: sec.Name, Attempts: attempts}, nil
	}
	result, err := h.rotations.Reset(ctx, sec.Namespace, sec.ARN)
	if err != nil {
		return nil, coffer.Errorf(coffer.ErrInvalidRequest, "The rotation could not be reset: %s", err.Error())
	}
	return &rotationResetOut{ARN: sec.ARN, Name: sec.Name, Result: result}, nil
}
