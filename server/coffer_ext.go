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
	case "CreateAccount":
		var in struct{ AccountId *string } //nolint:revive // AWS's naming
		if err := awsapi.Decode(body, &in); err != nil {
			return nil, err
		}
		c := callFrom(ctx)
		def, err := svc.DefaultAccount(ctx)
		if err != nil {
			return nil, err
		}
		if c == nil || !c.pols.root || c.key.Account != def {
			arn := ""
			if c != nil {
				arn = c.principal.ARN
			}
			return nil, coffer.Errorf(coffer.ErrAccessDenied, "User: %s is not authorized to perform: coffer:CreateAccount because only the root of the deployment's default account may create accounts", arn)
		}
		id := ""
		if in.AccountId != nil {
			id = *in.AccountId
		}
		gen, err := svc.CreateAccount(ctx, id)
		if err != nil {
			return nil, err
		}
		h.log.Info("account created", "account", gen.AccountID, "access_key_id", gen.AccessKeyID)
		return &accountOut{AccountId: gen.AccountID, AccessKeyId: gen.AccessKeyID, SecretAccessKey: gen.SecretAccessKey}, nil
	case "ListKeyBindings":
		var in struct{ KeyId *string } //nolint:revive // AWS's naming
		if err := awsapi.Decode(body, &in); err != nil {
			return nil, err
		}
		if in.KeyId == nil || *in.KeyId == "" {
			return nil, coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null")
		}
		k, bs, err := svc.KMS().Bindings(ctx, ns, *in.KeyId)
		if err != nil {
			return nil, err
		}
		out := &keyBindingsOut{KeyId: k.ARN(), KeyState: k.State, Bindings: []bindingOut{}}
		for _, b := range bs {
			out.Bindings = append(out.Bindings, bindingOf(b))
		}
		return out, nil
	case "GetRotationStatus", "ResetRotation":
		return h.rotationOp(ctx, ns, op, body)
	case "LookupEvents":
		return h.lookupEvents(ns, body)
	case "ReportCachedReads":
		return h.reportCachedReads(ctx, ns, body)
	case WatchOperation:
		return h.watchSecrets(ctx, ns, body)
	case "GetAuditDigest":
		if h.cfg.Audit == nil {
			return nil, errAuditUnavailable()
		}
		return &auditDigestOut{Digest: h.cfg.Audit.LastDigest()}, nil
	case "ListUnusableKeyBindings":
		entries, err := svc.KMS().Report(ctx, ns)
		if err != nil {
			return nil, err
		}
		out := &unusableOut{Bindings: []bindingOut{}}
		for _, e := range entries {
			b := bindingOf(e.Binding)
			b.KeyId, b.KeyState = e.Key.ARN(), e.Key.State
			out.Bindings = append(out.Bindings, b)
		}
		return out, nil
	}
	return nil, coffer.Errorf(coffer.ErrUnknownOperation, "Unknown operation: %s.%s", ExtensionPrefix, op)
}

type accountOut struct {
	AccountId       string //nolint:revive // AWS's naming
	AccessKeyId     string //nolint:revive // AWS's naming
	SecretAccessKey string
}

type bindingOut struct {
	KeyId         string   `json:"KeyId,omitempty"` //nolint:revive // AWS's naming
	KeyState      string   `json:"KeyState,omitempty"`
	SecretARN     string   `json:"SecretARN"`
	SecretName    string   `json:"SecretName"`
	VersionId     string   `json:"VersionId"` //nolint:revive // AWS's naming
	VersionStages []string `json:"VersionStages"`
	SecretDeleted bool     `json:"SecretDeleted"`
}

type keyBindingsOut struct {
	KeyId    string       `json:"KeyId"` //nolint:revive // AWS's naming
	KeyState string       `json:"KeyState"`
	Bindings []bindingOut `json:"Bindings"`
}

type unusableOut struct {
	Bindings []bindingOut `json:"Bindings"`
}

func bindingOf(b *coffer.KeyBinding) bindingOut {
	stages := b.Stages
	if stages == nil {
		stages = []string{}
	}
	return bindingOut{SecretARN: b.SecretARN, SecretName: b.SecretName, VersionId: b.VersionID, VersionStages: stages, SecretDeleted: b.SecretDeleted}
}
