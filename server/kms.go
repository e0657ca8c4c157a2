package server

import (
	"context"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsapi"
	"github.com/coffer-project/coffer/kms"
)

// KMSPrefix is the X-Amz-Target prefix of KMS operations, which are signed for service "kms".
const KMSPrefix = "TrentService"

// kmsOp decodes a request into In and runs fn with it.
func kmsOp[In any, Out any](fn func(context.Context, coffer.Namespace, *In) (Out, error)) func(context.Context, coffer.Namespace, []byte) (any, error) {
	return func(ctx context.Context, ns coffer.Namespace, body []byte) (any, error) {
		var in In
		if err := awsapi.Decode(body, &in); err != nil {
			return nil, err
		}
		out, err := fn(ctx, ns, &in)
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

// kmsOps maps each KMS operation coffer serves to its decoder and implementation.
func kmsOps(k *kms.Service) map[string]func(context.Context, coffer.Namespace, []byte) (any, error) {
	return map[string]func(context.Context, coffer.Namespace, []byte) (any, error){
		"CreateKey":            kmsOp(k.CreateKey),
		"DescribeKey":          kmsOp(k.DescribeKey),
		"ListKeys":             kmsOp(k.ListKeys),
		"EnableKey":            kmsOp(k.EnableKey),
		"DisableKey":           kmsOp(k.DisableKey),
		"ScheduleKeyDeletion":  kmsOp(k.ScheduleKeyDeletion),
		"CancelKeyDeletion":    kmsOp(k.CancelKeyDeletion),
		"UpdateKeyDescription": kmsOp(k.UpdateKeyDescription),
		"CreateAlias":          kmsOp(k.CreateAlias),
		"UpdateAlias":          kmsOp(k.UpdateAlias),
		"DeleteAlias":          kmsOp(k.DeleteAlias),
		"ListAliases":          kmsOp(k.ListAliases),
		"EnableKeyRotation":    kmsOp(k.EnableKeyRotation),
		"DisableKeyRotation":   kmsOp(k.DisableKeyRotation),
		"GetKeyRotationStatus": kmsOp(k.GetKeyRotationStatus),
		"RotateKeyOnDemand":    kmsOp(k.RotateKeyOnDemand),
		"ListKeyRotations":     kmsOp(k.ListKeyRotations),
		"Encrypt":              kmsOp(k.Encrypt),
		"Decrypt":              kmsOp(k.Decrypt),
		"ReEncrypt":            kmsOp(k.ReEncrypt),
		"GenerateDataKey": kmsOp(func(ctx context.Context, ns coffer.Namespace, in *kms.GenerateDataKeyInput) (*kms.CipherOut, error) {
			return k.GenerateDataKey(ctx, ns, in, false)
		}),
		"GenerateDataKeyWithoutPlaintext": kmsOp(func(ctx context.Context, ns coffer.Namespace, in *kms.GenerateDataKeyInput) (*kms.CipherOut, error) {
			return k.GenerateDataKey(ctx, ns, in, true)
		}),
		"GenerateRandom":   kmsOp(k.GenerateRandom),
		"TagResource":      kmsOp(k.TagResource),
		"UntagResource":    kmsOp(k.UntagResource),
		"ListResourceTags": kmsOp(k.ListResourceTags),
		"GetKeyPolicy":     kmsOp(k.GetKeyPolicy),
		"PutKeyPolicy":     kmsOp(k.PutKeyPolicy),
		"ListKeyPolicies":  kmsOp(k.ListKeyPolicies),
	}
}

// kmsCall runs one KMS operation.
func (h *Handler) kmsCall(ctx context.Context, ns coffer.Namespace, op string, body []byte) (any, error) {
	fn, ok := h.kms[op]
	if !ok {
		return nil, coffer.Errorf(coffer.ErrKMSUnsupported, "coffer does not implement the KMS operation %s.", op)
	}
	return fn(ctx, ns, body)
}

// KMSOperations lists the KMS operations the server routes, for the compatibility test.
func KMSOperations() []string {
	var ops []string
	for op := range kmsOps(nil) {
		ops = append(ops, op)
	}
	return ops
}
