package core

import (
	"context"
	"encoding/base64"
	"encoding/json"

	"github.com/coffer-project/coffer"
)

// ListSecretVersionIdsInput is the ListSecretVersionIds request.
type ListSecretVersionIdsInput struct {
	SecretId          *string //nolint:revive // AWS's member name
	MaxResults        *int64
	NextToken         *string
	IncludeDeprecated *bool
}

// VersionPage is one page of a secret's versions.
type VersionPage struct {
	ARN       string
	Name      string
	Versions  []*coffer.Version
	NextToken string
	// KeyNames names, by key id, the keys protecting the versions, as AWS reports them:
	// "DefaultEncryptionKey" for the AWS-managed key, the key's ARN for another.
	KeyNames map[string]string
}

// ListSecretVersionIds lists a secret's versions, oldest first: those with a staging label, and
// with IncludeDeprecated also those without. It works on a secret scheduled for deletion.
func (s *Service) ListSecretVersionIds(ctx context.Context, ns coffer.Namespace, in *ListSecretVersionIdsInput) (*VersionPage, error) {
	s.flushAccess(ctx)
	var v validator
	validSecretID(&v, in.SecretId)
	v.RangeInt("maxResults", in.MaxResults, 1, 100)
	v.Length("nextToken", in.NextToken, 1, 4096, false)
	if err := v.Err(); err != nil {
		return nil, err
	}
	limit := 100
	if in.MaxResults != nil {
		limit = int(*in.MaxResults)
	}
	var after string
	if in.NextToken != nil {
		b, err := base64.RawURLEncoding.DecodeString(*in.NextToken)
		if err != nil || json.Unmarshal(b, &after) != nil || after == "" {
			return nil, coffer.Errorf(coffer.ErrInvalidNextToken, "The NextToken value is invalid.")
		}
	}
	var page *VersionPage
	// This View may run more than once (coffer.EndWithLookup): it only reads, and keeps what
	// it found last.
	err := s.store.View(ctx, func(tx coffer.Tx) error {
		coffer.EndWithLookup(tx) // the secret and its headers (the keys' names from the cache)
		sec, err := s.find(ctx, tx, ns, *in.SecretId)
		if err != nil {
			return err
		}
		all, err := tx.VersionHeaders(sec.ARN)
		if err != nil {
			return err
		}
		page = &VersionPage{ARN: sec.ARN, Name: sec.Name, KeyNames: map[string]string{}}
		started := after == ""
		for _, ver := range all {
			if !started {
				started = ver.VersionID == after
				continue
			}
			if len(ver.Stages) == 0 && (in.IncludeDeprecated == nil || !*in.IncludeDeprecated) {
				continue
			}
			if len(page.Versions) == limit {
				last := page.Versions[len(page.Versions)-1].VersionID
				b, _ := json.Marshal(last)
				page.NextToken = base64.RawURLEncoding.EncodeToString(b)
				break
			}
			page.Versions = append(page.Versions, ver)
			if _, ok := page.KeyNames[ver.KMSKeyID]; !ok && ver.KMSKeyID != "" {
				if page.KeyNames[ver.KMSKeyID], err = s.keyName(tx, ver.KMSKeyID); err != nil {
					return err
				}
			}
		}
		if !started {
			return coffer.Errorf(coffer.ErrInvalidNextToken, "The NextToken value is invalid.")
		}
		return nil
	})
	return page, err
}

// UpdateSecretVersionStageInput is the UpdateSecretVersionStage request.
type UpdateSecretVersionStageInput struct {
	SecretId            *string //nolint:revive // AWS's member name
	VersionStage        *string
	RemoveFromVersionId *string //nolint:revive // AWS's member name
	MoveToVersionId     *string //nolint:revive // AWS's member name
}

// MaxStagesPerVersion is how many staging labels one version may carry.
const MaxStagesPerVersion = 20

// UpdateSecretVersionStage moves a staging label to a version, or removes it. Moving AWSCURRENT
// puts AWSPREVIOUS on the version it left. A label attached elsewhere moves only when
// RemoveFromVersionId names the version that has it, so that two rotations cannot silently
// overwrite each other.
func (s *Service) UpdateSecretVersionStage(ctx context.Context, ns coffer.Namespace, in *UpdateSecretVersionStageInput) (*SecretRef, error) {
	var v validator
	validSecretID(&v, in.SecretId)
	v.Required("versionStage", in.VersionStage != nil)
	v.Length("versionStage", in.VersionStage, 1, 256, false)
	v.Length("removeFromVersionId", in.RemoveFromVersionId, 32, 64, false)
	v.Length("moveToVersionId", in.MoveToVersionId, 32, 64, false)
	if err := v.Err(); err != nil {
		return nil, err
	}
	stage := *in.VersionStage
	if in.MoveToVersionId == nil && in.RemoveFromVersionId == nil {
		return nil, coffer.Errorf(coffer.ErrInvalidParameter, "You must specify either MoveToVersionId or RemoveFromVersionId.")
	}
	var ref *SecretRef
	err := s.updateSecret(ctx, secretKey(ns, *in.SecretId), func(tx coffer.Tx) error {
		sec, err := s.findLive(ctx, tx, ns, *in.SecretId)
		if err != nil {
			return err
		}
		ref = &SecretRef{ARN: sec.ARN, Name: sec.Name}
		holder, err := s.versionWithStage(tx, sec.ARN, stage)
		if err != nil && !coffer.IsNotFound(err) {
			return err
		}
		version := func(id string) (*coffer.Version, error) {
			ver, err := tx.Version(sec.ARN, id)
			if coffer.IsNotFound(err) {
				return nil, coffer.Errorf(coffer.ErrResourceNotFound, "Secrets Manager can't find the specified secret value for VersionId: %s", id)
			}
			return ver, err
		}
		if in.RemoveFromVersionId != nil {
			from, err := version(*in.RemoveFromVersionId)
			if err != nil {
				return err
			}
			if !from.HasStage(stage) {
				return coffer.Errorf(coffer.ErrInvalidParameter, "The staging label %s is not attached to version %s, so it can't be removed from it.", stage, from.VersionID)
			}
		}
		if in.MoveToVersionId == nil {
			if stage == coffer.StageCurrent {
				return coffer.Errorf(coffer.ErrInvalidParameter, "You can't remove the staging label AWSCURRENT from a version without moving it to another version with MoveToVersionId.")
			}
			if err := tx.RemoveStage(sec.ARN, stage); err != nil {
				return err
			}
			return s.changed(tx, sec)
		}
		to, err := version(*in.MoveToVersionId)
		if err != nil {
			return err
		}
		if to.Destroyed() {
			return errDestroyed(to.VersionID)
		}
		if to.Empty() && stage == coffer.StageCurrent {
			return coffer.Errorf(coffer.ErrInvalidRequest, "You can't move the staging label AWSCURRENT to version %s, which has no value yet.", to.VersionID)
		}
		if holder != nil && holder.VersionID != to.VersionID {
			if in.RemoveFromVersionId == nil {
				return coffer.Errorf(coffer.ErrInvalidParameter, "The parameter RemoveFromVersionId can't be empty. Staging label %s is currently attached to version %s, so you must explicitly reference that version in RemoveFromVersionId.", stage, holder.VersionID)
			}
			if *in.RemoveFromVersionId != holder.VersionID {
				return coffer.Errorf(coffer.ErrInvalidParameter, "The staging label %s is currently attached to version %s, not to the version given in RemoveFromVersionId.", stage, holder.VersionID)
			}
		}
		if !to.HasStage(stage) && len(to.Stages) >= MaxStagesPerVersion {
			return coffer.Errorf(coffer.ErrLimitExceeded, "A version can't have more than %d staging labels.", MaxStagesPerVersion)
		}
		if err := s.attachStages(tx, sec.ARN, to.VersionID, []string{stage}); err != nil {
			return err
		}
		return s.changed(tx, sec)
	})
	return ref, err
}

// changed records that a secret's metadata changed now.
func (s *Service) changed(tx coffer.Tx, sec *coffer.Secret) error {
	sec.LastChangedDate = s.clock()
	return tx.UpdateSecret(sec)
}

// keyName is how ListSecretVersionIds names the key of a version: AWS says
// "DefaultEncryptionKey" for the account's AWS-managed key.
func (s *Service) keyName(tx coffer.Tx, keyID string) (string, error) {
	k, err := s.kms.CachedKey(tx, keyID) // a key's ARN and manager never change
	if coffer.IsNotFound(err) {
		return "DefaultEncryptionKey", nil // the foundation's default key, not yet adopted
	}
	if err != nil {
		return "", err
	}
	if k.Manager == coffer.KeyManagerAWS {
		return "DefaultEncryptionKey", nil
	}
	return k.ARN(), nil
}
