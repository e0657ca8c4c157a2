package server

import (
	"context"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsapi"
	"github.com/coffer-project/coffer/core"
)

// ExtensionPrefix is the X-Amz-Target prefix of coffer's operations beyond AWS's API. They
// are signed like Secrets Manager calls (service "secretsmanager") and served on the same
// endpoint; docs/extensions.md lists them with their IAM action names.
const ExtensionPrefix = "coffer"

type destroyedOut struct {
	ARN           string            `json:"ARN"`
	Name          string            `json:"Name"`
	VersionId     string            `json:"VersionId"` //nolint:revive // AWS's naming
	DestroyedDate *awsapi.Timestamp `json:"DestroyedDate,omitempty"`
}

// extension decodes and runs one of coffer's own operations.
func (h *Handler) extension(ctx context.Context, ns coffer.Namespace, op string, body []byte) (any, error) {
	svc := h.cfg.Secrets
	switch op {
	case "DestroySecretVersion":
		var in core.DestroySecretVersionInput
		if err := awsapi.Decode(body, &in); err != nil {
			return nil, err
		}
		d, err := svc.DestroySecretVersion(ctx, ns, &in)
		if err != nil {
			return nil, err
		}
		return &destroyedOut{ARN: d.ARN, Name: d.Name, VersionId: d.VersionID, DestroyedDate: awsapi.TimePtr(d.DestroyedDate)}, nil
	case "UpdateSecretVersionRetention":
		var in core.UpdateSecretVersionRetentionInput
		if err := awsapi.Decode(body, &in); err != nil {
			return nil, err
		}
		r, err := svc.UpdateSecretVersionRetention(ctx, ns, &in)
		if err != nil {
			return nil, err
		}
		return &secretRefOut{ARN: r.ARN, Name: r.Name}, nil
	case "GenerateSecretValue":
		var in core.GenerateSecretValueInput
		if err := awsapi.Decode(body, &in); err != nil {
			return nil, err
		}
		r, err := svc.GenerateSecretValue(ctx, ns, &in)
		if err != nil {
			return nil, err
		}
		return refOut(r), nil
	}
	return nil, coffer.Errorf(coffer.ErrUnknownOperation, "Unknown operation: %s.%s", ExtensionPrefix, op)
}
