package core

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/coffer-project/coffer"
)

// GetSecretValueInput is the GetSecretValue request.
type GetSecretValueInput struct {
	SecretId     *string //nolint:revive // AWS's member name
	VersionId    *string //nolint:revive // AWS's member name
	VersionStage *string
}

// SecretValue is what GetSecretValue returns. The caller wipes Value when done.
type SecretValue struct {
	ARN     string
	Name    string
	Version *coffer.Version
	Value   *Value
}

// GetSecretValue decrypts one version of a secret: by VersionId, by VersionStage, or
// AWSCURRENT.
func (s *Service) GetSecretValue(ctx context.Context, ns coffer.Namespace, in *GetSecretValueInput) (*SecretValue, error) {
	var v validator
	validSecretID(&v, in.SecretId)
	v.Length("versionId", in.VersionId, 32, 64, false)
	v.Length("versionStage", in.VersionStage, 1, 256, false)
	if err := v.Err(); err != nil {
		return nil, err
	}
	// What the View found (one variable, one allocation).
	var r struct {
		sec *coffer.Secret
		ver *coffer.Version
		val *Value
	}
	// This View may run more than once (coffer.EndWithLookup): it only reads, and keeps what
	// it found last.
	err := s.store.View(ctx, func(tx coffer.Tx) error {
		var again bool // the store may run fn again: the value is opened after the View
		if in.VersionId == nil && (in.VersionStage == nil || *in.VersionStage == coffer.StageCurrent) {
			coffer.ReadCurrent(tx) // the store may read that version with the secret's headers
			coffer.EndWithLookup(tx)
			_, again = tx.(coffer.LookupEnder)
		}
		sec, err := s.findLive(ctx, tx, ns, *in.SecretId)
		if err != nil {
			return err
		}
		var ver *coffer.Version
		switch {
		case in.VersionId != nil:
			ver, err = tx.Version(sec.ARN, *in.VersionId)
			if coffer.IsNotFound(err) {
				return coffer.Errorf(coffer.ErrResourceNotFound, "Secrets Manager can't find the specified secret value for VersionId: %s", *in.VersionId)
			}
			if err != nil {
				return err
			}
			if in.VersionStage != nil && !ver.HasStage(*in.VersionStage) {
				return coffer.Errorf(coffer.ErrInvalidRequest, "You provided a VersionStage that is not associated to the provided VersionId.")
			}
		default:
			stage := coffer.StageCurrent
			if in.VersionStage != nil {
				stage = *in.VersionStage
			}
			ver, err = s.versionWithStage(tx, sec.ARN, stage)
			if coffer.IsNotFound(err) {
				return coffer.Errorf(coffer.ErrResourceNotFound, "Secrets Manager can't find the specified secret value for staging label: %s", stage)
			}
			if err != nil {
				return err
			}
		}
		if ver.Destroyed() {
			return errDestroyed(ver.VersionID)
		}
		if ver.Empty() {
			if in.VersionId != nil {
				return coffer.Errorf(coffer.ErrResourceNotFound, "Secrets Manager can't find the specified secret value for VersionId: %s", ver.VersionID)
			}
			return coffer.Errorf(coffer.ErrResourceNotFound, "Secrets Manager can't find the specified secret value for staging label: %s", str(in.VersionStage))
		}
		r.sec, r.ver = sec, ver
		if again {
			return nil
		}
		r.val, err = s.open(ctx, tx, ver)
		return err
	})
	if err != nil {
		return nil, err
	}
	if r.val == nil {
		// A store that may run the View again: the value is opened apart from it, as AWS's
		// Secrets Manager asks KMS to decrypt it, so that the key's use is recorded once; a key
		// the key cache lacks is read in a transaction of its own.
		err = s.store.View(ctx, func(tx coffer.Tx) error {
			var err error
			r.val, err = s.open(ctx, tx, r.ver)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	sec, ver := r.sec, r.ver
	if today := s.clock(); !sameDay(sec.LastAccessedDate, today) || !sameDay(ver.LastAccessedDate, today) {
		s.access.mark(sec.ARN, ver.VersionID, today)
	}
	return &SecretValue{ARN: sec.ARN, Name: sec.Name, Version: ver, Value: r.val}, nil
}

func sameDay(a, b time.Time) bool {
	return a.UTC().Truncate(24 * time.Hour).Equal(b.UTC().Truncate(24 * time.Hour))
}

// PutSecretValueInput is the PutSecretValue request.
type PutSecretValueInput struct {
	SecretId           *string //nolint:revive // AWS's member name
	ClientRequestToken *string
	SecretBinary       Blob
	SecretString       *Text
	VersionStages      []string
	RotationToken      *string
}

// PutSecretValue stores a new version of a secret's value. A retry with the same
// ClientRequestToken and the same value succeeds without a new version.
func (s *Service) PutSecretValue(ctx context.Context, ns coffer.Namespace, in *PutSecretValueInput) (*SecretRef, error) {
	var v validator
	validSecretID(&v, in.SecretId)
	v.Length("clientRequestToken", in.ClientRequestToken, 32, 64, false)
	validValue(&v, in.SecretString, in.SecretBinary)
	validStages(&v, in.VersionStages)
	v.Length("rotationToken", in.RotationToken, 36, 256, true)
	if err := v.Err(); err != nil {
		return nil, err
	}
	val, err := value(in.SecretString, in.SecretBinary)
	if err != nil {
		return nil, err
	}
	if val == nil {
		return nil, coffer.Errorf(coffer.ErrInvalidRequest, "You must provide either SecretString or SecretBinary.")
	}
	defer val.Wipe()
	if in.ClientRequestToken == nil {
		return nil, errNoToken()
	}
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
		ver, err := s.newVersion(ctx, tx, sec, *in.ClientRequestToken, val, stages)
		if err != nil {
			return err
		}
		ref = &SecretRef{ARN: sec.ARN, Name: sec.Name, VersionID: ver.VersionID, VersionStages: ver.Stages}
		return nil
	})
	return ref, err
}

// newVersion adds a version to sec, or recognises a retry of the request that added it.
func (s *Service) newVersion(ctx context.Context, tx coffer.Tx, sec *coffer.Secret, token string, val *Value, stages []string) (*coffer.Version, error) {
	// One read of the versions' ids, dates and stages serves every step below; only a
	// retry of an earlier request (the token names a version) reads that version whole.
	versions, err := tx.VersionHeaders(sec.ARN)
	if err != nil {
		return nil, err
	}
	var existing *coffer.Version
	if i := slices.IndexFunc(versions, func(v *coffer.Version) bool { return v.VersionID == token }); i >= 0 {
		existing, err = tx.Version(sec.ARN, token)
	} else {
		err = coffer.NotFound
	}
	switch {
	case err == nil && existing.Destroyed():
		return nil, coffer.Errorf(coffer.ErrResourceExists, "You can't modify an existing version, you can only create new versions.")
	case err == nil && existing.Empty():
		// A rotation's placeholder: the value arrives now, and the version keeps its labels.
		for _, st := range existing.Stages {
			if !slices.Contains(stages, st) {
				stages = append(slices.Clone(stages), st)
			}
		}
		if err := tx.DeleteVersion(sec.ARN, token); err != nil {
			return nil, err
		}
		versions = slices.DeleteFunc(versions, func(v *coffer.Version) bool { return v.VersionID == token })
	case err == nil:
		old, err := s.open(ctx, tx, existing)
		if err != nil {
			return nil, err
		}
		defer old.Wipe()
		if !old.equal(val) {
			return nil, coffer.Errorf(coffer.ErrResourceExists, "You can't modify an existing version, you can only create new versions.")
		}
		return existing, nil
	case !coffer.IsNotFound(err):
		return nil, err
	}
	now := s.clock()
	ver, err := s.addVersion(ctx, tx, sec, token, val, stages, now, &versions)
	if err != nil {
		return nil, err
	}
	sec.LastChangedDate = now
	if slices.Contains(stages, coffer.StageCurrent) {
		s.countsAsRotation(sec, now)
	}
	if err := tx.UpdateSecret(sec); err != nil {
		return nil, err
	}
	return ver, nil
}

func validStages(v *validator, stages []string) {
	if stages == nil {
		return
	}
	if len(stages) < 1 || len(stages) > 20 {
		v.Add("versionStages", "", true, "Member must have length between 1 and 20")
		return
	}
	for i := range stages {
		v.Length(fmt.Sprintf("versionStages.%d.member", i+1), &stages[i], 1, 256, false)
	}
}

// UpdateSecretInput is the UpdateSecret request.
type UpdateSecretInput struct {
	SecretId           *string //nolint:revive // AWS's member name
	ClientRequestToken *string
	Description        *string
	KmsKeyId           *string //nolint:revive // AWS's member name
	SecretBinary       Blob
	SecretString       *Text
	Type               *string
}

// UpdateSecret changes a secret's description or key and, when a value is given, adds a new
// AWSCURRENT version.
func (s *Service) UpdateSecret(ctx context.Context, ns coffer.Namespace, in *UpdateSecretInput) (*SecretRef, error) {
	var v validator
	validSecretID(&v, in.SecretId)
	v.Length("clientRequestToken", in.ClientRequestToken, 32, 64, false)
	v.Length("description", in.Description, 0, 2048, false)
	v.Length("kmsKeyId", in.KmsKeyId, 0, 2048, false)
	v.Length("type", in.Type, 0, 256, false)
	validValue(&v, in.SecretString, in.SecretBinary)
	if err := v.Err(); err != nil {
		return nil, err
	}
	val, err := value(in.SecretString, in.SecretBinary)
	if err != nil {
		return nil, err
	}
	if val != nil {
		defer val.Wipe()
		if in.ClientRequestToken == nil {
			return nil, errNoToken()
		}
	}
	var ref *SecretRef
	err = s.updateSecret(ctx, secretKey(ns, *in.SecretId), func(tx coffer.Tx) error {
		sec, err := s.findLive(ctx, tx, ns, *in.SecretId)
		if err != nil {
			return err
		}
		changed := false
		if in.Description != nil && *in.Description != sec.Description {
			sec.Description, changed = *in.Description, true
		}
		if in.KmsKeyId != nil {
			k, err := s.secretKey(tx, ns, *in.KmsKeyId)
			if err != nil {
				return err
			}
			if *in.KmsKeyId != sec.KMSKeyID {
				sec.KMSKeyID, changed = *in.KmsKeyId, true
			}
			if err := s.reencrypt(ctx, tx, sec, k.ID); err != nil {
				return err
			}
		}
		if in.Type != nil && *in.Type != sec.Type {
			sec.Type, changed = *in.Type, true
		}
		ref = &SecretRef{ARN: sec.ARN, Name: sec.Name}
		if val != nil {
			ver, err := s.newVersion(ctx, tx, sec, *in.ClientRequestToken, val, []string{coffer.StageCurrent})
			if err != nil {
				return err
			}
			ref.VersionID = ver.VersionID
		}
		if changed {
			sec.LastChangedDate = s.clock()
			return tx.UpdateSecret(sec)
		}
		return nil
	})
	return ref, err
}

// DescribeSecretInput is the DescribeSecret request.
type DescribeSecretInput struct {
	SecretId *string //nolint:revive // AWS's member name
}

// SecretDetails is a secret's metadata with its labelled versions.
type SecretDetails struct {
	Secret   *coffer.Secret
	Versions []*coffer.Version // only versions that carry at least one label
}

// DescribeSecret returns a secret's metadata. It works on secrets scheduled for deletion.
func (s *Service) DescribeSecret(ctx context.Context, ns coffer.Namespace, in *DescribeSecretInput) (*SecretDetails, error) {
	s.flushAccess(ctx)
	var v validator
	validSecretID(&v, in.SecretId)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *SecretDetails
	// This View may run more than once (coffer.EndWithLookup): it only reads, and keeps what
	// it found last.
	err := s.store.View(ctx, func(tx coffer.Tx) error {
		coffer.EndWithLookup(tx) // the secret and its headers are all it reads
		sec, err := s.find(ctx, tx, ns, *in.SecretId)
		if err != nil {
			return err
		}
		versions, err := labelled(tx, sec.ARN)
		if err != nil {
			return err
		}
		out = &SecretDetails{Secret: sec, Versions: versions}
		return nil
	})
	return out, err
}

func labelled(tx coffer.Tx, arn string) ([]*coffer.Version, error) {
	all, err := tx.VersionHeaders(arn)
	if err != nil {
		return nil, err
	}
	var out []*coffer.Version
	for _, v := range all {
		if len(v.Stages) > 0 {
			out = append(out, v)
		}
	}
	return out, nil
}
