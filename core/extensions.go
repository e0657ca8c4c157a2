package core

import (
	"context"
	"crypto/rand"
	"time"

	"github.com/coffer-project/coffer"
)

// Operations beyond AWS's API, from the practices coffer is built on. The server exposes them
// as X-Amz-Target "coffer.<Operation>" on the same endpoint; docs/extensions.md describes them.

func errDestroyed(versionID string) error {
	return coffer.Errorf(coffer.ErrInvalidRequest, "The version %s of this secret was destroyed; its value can't be read or labelled.", versionID)
}

// DestroySecretVersionInput is coffer's DestroySecretVersion request.
type DestroySecretVersionInput struct {
	SecretId  *string //nolint:revive // named as AWS names members
	VersionId *string //nolint:revive // named as AWS names members
}

// DestroyedVersion is DestroySecretVersion's result.
type DestroyedVersion struct {
	ARN, Name, VersionID string
	DestroyedDate        time.Time
}

// DestroySecretVersion erases a version's value and data key for good. The version stays in
// the history as destroyed. A version that carries a staging label cannot be destroyed: move
// its labels first, so that no application loses the value it reads. Backups taken before
// still hold the version.
func (s *Service) DestroySecretVersion(ctx context.Context, ns coffer.Namespace, in *DestroySecretVersionInput) (*DestroyedVersion, error) {
	var v validator
	validSecretID(&v, in.SecretId)
	v.Required("versionId", in.VersionId != nil)
	v.Length("versionId", in.VersionId, 32, 64, false)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *DestroyedVersion
	err := s.updateSecret(ctx, secretKey(ns, *in.SecretId), func(tx coffer.Tx) error {
		sec, err := s.findLive(ctx, tx, ns, *in.SecretId)
		if err != nil {
			return err
		}
		ver, err := tx.Version(sec.ARN, *in.VersionId)
		if coffer.IsNotFound(err) {
			return coffer.Errorf(coffer.ErrResourceNotFound, "Secrets Manager can't find the specified secret value for VersionId: %s", *in.VersionId)
		}
		if err != nil {
			return err
		}
		if len(ver.Stages) > 0 {
			return coffer.Errorf(coffer.ErrInvalidRequest, "You can't destroy a version that has staging labels (%v); move them to another version with UpdateSecretVersionStage first.", ver.Stages)
		}
		out = &DestroyedVersion{ARN: sec.ARN, Name: sec.Name, VersionID: ver.VersionID, DestroyedDate: ver.DestroyedDate}
		if ver.Destroyed() {
			return nil
		}
		now := s.clock()
		if err := tx.DestroyVersion(sec.ARN, ver.VersionID, now); err != nil {
			return err
		}
		out.DestroyedDate = now
		return s.changed(tx, sec)
	})
	return out, err
}

// UpdateSecretVersionRetentionInput is coffer's UpdateSecretVersionRetention request.
type UpdateSecretVersionRetentionInput struct {
	SecretId *string //nolint:revive // named as AWS names members
	// DeprecatedVersionsToKeep is how many unlabeled versions to keep, 1–100; 0 restores
	// AWS's behaviour.
	DeprecatedVersionsToKeep *int64
}

// UpdateSecretVersionRetention sets how many deprecated versions a secret keeps, so that a
// frequent writer does not reach AWS's quota of 100 versions within 24 hours. It applies at
// once: older deprecated versions beyond the setting are removed.
func (s *Service) UpdateSecretVersionRetention(ctx context.Context, ns coffer.Namespace, in *UpdateSecretVersionRetentionInput) (*SecretRef, error) {
	var v validator
	validSecretID(&v, in.SecretId)
	v.Required("deprecatedVersionsToKeep", in.DeprecatedVersionsToKeep != nil)
	v.RangeInt("deprecatedVersionsToKeep", in.DeprecatedVersionsToKeep, 0, MaxVersions)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var ref *SecretRef
	err := s.updateSecret(ctx, secretKey(ns, *in.SecretId), func(tx coffer.Tx) error {
		sec, err := s.findLive(ctx, tx, ns, *in.SecretId)
		if err != nil {
			return err
		}
		ref = &SecretRef{ARN: sec.ARN, Name: sec.Name}
		sec.VersionRetention = int(*in.DeprecatedVersionsToKeep)
		if err := s.changed(tx, sec); err != nil {
			return err
		}
		if sec.VersionRetention > 0 {
			return s.pruneVersions(tx, sec, s.clock())
		}
		return nil
	})
	return ref, err
}

// GenerateSecretValueInput is coffer's GenerateSecretValue request: PutSecretValue's members,
// with GenerateSecretString in place of a value.
type GenerateSecretValueInput struct {
	SecretId             *string //nolint:revive // named as AWS names members
	ClientRequestToken   *string
	VersionStages        []string
	GenerateSecretString *GenerateSecretString
}

// GenerateSecretValue stores a new version whose value the server generates (a password, or a
// JSON template with the password at GenerateStringKey, as CloudFormation's
// GenerateSecretString), so that the value never passes through a client, a shell or its
// history. The value is not returned: read it with GetSecretValue. A retry with the same
// ClientRequestToken returns the version made the first time, without generating again.
func (s *Service) GenerateSecretValue(ctx context.Context, ns coffer.Namespace, in *GenerateSecretValueInput) (*SecretRef, error) {
	var v validator
	validSecretID(&v, in.SecretId)
	v.Length("clientRequestToken", in.ClientRequestToken, 32, 64, false)
	validStages(&v, in.VersionStages)
	v.Required("generateSecretString", in.GenerateSecretString != nil)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if in.ClientRequestToken == nil {
		return nil, errNoToken()
	}
	generated, err := Generate(rand.Reader, in.GenerateSecretString)
	if err != nil {
		return nil, err
	}
	val := &Value{Bytes: generated}
	defer val.Wipe()
	stages := in.VersionStages
	if stages == nil {
		stages = []string{coffer.StageCurrent}
	}
	var ref *SecretRef
	err = s.updateSecret(ctx, secretKey(ns, *in.SecretId), func(tx coffer.Tx) error {
		sec, err := s.findLive(ctx, tx, ns, *in.SecretId)
		if err != nil {
			return err
		}
		existing, err := tx.Version(sec.ARN, *in.ClientRequestToken)
		switch {
		case err == nil && existing.Destroyed():
			return coffer.Errorf(coffer.ErrResourceExists, "You can't modify an existing version, you can only create new versions.")
		case err == nil:
			ref = &SecretRef{ARN: sec.ARN, Name: sec.Name, VersionID: existing.VersionID, VersionStages: existing.Stages}
			return nil
		case !coffer.IsNotFound(err):
			return err
		}
		ver, err := s.newVersion(ctx, tx, sec, *in.ClientRequestToken, val, stages)
		if err != nil {
			return err
		}
		ref = &SecretRef{ARN: sec.ARN, Name: sec.Name, VersionID: ver.VersionID, VersionStages: ver.Stages}
		return nil
	})
	return ref, err
}
