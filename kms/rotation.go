package kms

import (
	"context"
	"strconv"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsapi"
)

// EnableKeyRotationInput is the EnableKeyRotation request.
type EnableKeyRotationInput struct {
	KeyId                *string //nolint:revive // AWS's name
	RotationPeriodInDays *int64
}

// EnableKeyRotation turns on automatic rotation of a customer-managed key, every
// RotationPeriodInDays (90–2560, 365 by default).
func (s *Service) EnableKeyRotation(ctx context.Context, ns coffer.Namespace, in *EnableKeyRotationInput) (*Empty, error) {
	var v awsapi.Validator
	v.RangeInt("rotationPeriodInDays", in.RotationPeriodInDays, 90, 2560)
	if err := v.Err(); err != nil {
		return nil, err
	}
	days := defaultRotation
	if in.RotationPeriodInDays != nil {
		days = int(*in.RotationPeriodInDays)
	}
	_, err := s.changeKey(ctx, ns, in.KeyId, "its rotation is managed by AWS", func(_ coffer.Tx, k *coffer.Key) error {
		if err := usable(k); err != nil {
			return err
		}
		if !k.RotationEnabled || k.RotationPeriodDays != days {
			k.NextRotationDate = s.clock().AddDate(0, 0, days)
		}
		k.RotationEnabled, k.RotationPeriodDays = true, days
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Empty{}, nil
}

// DisableKeyRotation turns off automatic rotation; existing materials stay.
func (s *Service) DisableKeyRotation(ctx context.Context, ns coffer.Namespace, in *KeyIDInput) (*Empty, error) {
	_, err := s.changeKey(ctx, ns, in.KeyId, "its rotation is managed by AWS", func(_ coffer.Tx, k *coffer.Key) error {
		if err := usable(k); err != nil {
			return err
		}
		k.RotationEnabled, k.NextRotationDate = false, time.Time{}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Empty{}, nil
}

// KeyRotationStatusOut is the GetKeyRotationStatus answer.
type KeyRotationStatusOut struct {
	KeyRotationEnabled        bool              `json:"KeyRotationEnabled"`
	KeyId                     string            `json:"KeyId"` //nolint:revive // AWS's name
	RotationPeriodInDays      int               `json:"RotationPeriodInDays,omitempty"`
	NextRotationDate          *awsapi.Timestamp `json:"NextRotationDate,omitempty"`
	OnDemandRotationStartDate *awsapi.Timestamp `json:"OnDemandRotationStartDate,omitempty"`
}

// GetKeyRotationStatus reports whether a key rotates automatically, and when next.
func (s *Service) GetKeyRotationStatus(ctx context.Context, ns coffer.Namespace, in *KeyIDInput) (*KeyRotationStatusOut, error) {
	var v awsapi.Validator
	validKeyID(&v, in.KeyId)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var k *coffer.Key
	err := s.view(ctx, func(tx coffer.Tx) (err error) {
		k, err = s.resolve(tx, ns, *in.KeyId, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	if k.State == coffer.KeyStatePendingDeletion {
		return nil, errPendingDeletion(k)
	}
	out := &KeyRotationStatusOut{KeyRotationEnabled: k.RotationEnabled, KeyId: k.ARN()}
	if k.RotationEnabled {
		out.RotationPeriodInDays = k.RotationPeriodDays
		out.NextRotationDate = awsapi.TimePtr(k.NextRotationDate)
	}
	return out, nil
}

// rotate adds the next material to k (in tx) and makes it current.
func (s *Service) rotate(tx coffer.Tx, k *coffer.Key, kind string) error {
	next := k.CurrentMaterial + 1
	wrapped, err := s.keys.NewMaterial(k.ID, next)
	if err != nil {
		return err
	}
	if err := tx.InsertKeyMaterial(&coffer.KeyMaterial{KeyID: k.ID, Version: next, Wrapped: wrapped, CreatedDate: s.clock(), RotationType: kind}); err != nil {
		return err
	}
	k.CurrentMaterial = next
	return nil
}

// RotateKeyOnDemand rotates a customer-managed key's material now; older material keeps
// decrypting what it encrypted.
func (s *Service) RotateKeyOnDemand(ctx context.Context, ns coffer.Namespace, in *KeyIDInput) (*KeyARNOut, error) {
	k, err := s.changeKey(ctx, ns, in.KeyId, "its rotation is managed by AWS", func(tx coffer.Tx, k *coffer.Key) error {
		if err := usable(k); err != nil {
			return err
		}
		ms, err := tx.KeyMaterials(k.ID)
		if err != nil {
			return err
		}
		onDemand := 0
		for _, m := range ms {
			if m.RotationType == coffer.RotationOnDemand {
				onDemand++
			}
		}
		if onDemand >= maxOnDemand {
			return coffer.Errorf(coffer.ErrLimitExceeded, "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: %s", k.ARN())
		}
		return s.rotate(tx, k, coffer.RotationOnDemand)
	})
	if err != nil {
		return nil, err
	}
	return &KeyARNOut{KeyId: k.ID}, nil
}

// ListKeyRotationsInput is the ListKeyRotations request.
type ListKeyRotationsInput struct {
	KeyId              *string //nolint:revive // AWS's name
	IncludeKeyMaterial *string
	Limit              *int64
	Marker             *string
}

// RotationsListEntry is one rotation of ListKeyRotations.
type RotationsListEntry struct {
	KeyId            string            `json:"KeyId"`         //nolint:revive // AWS's name
	KeyMaterialId    string            `json:"KeyMaterialId"` //nolint:revive // AWS's name
	KeyMaterialState string            `json:"KeyMaterialState"`
	RotationDate     *awsapi.Timestamp `json:"RotationDate,omitempty"`
	RotationType     string            `json:"RotationType,omitempty"`
}

// ListKeyRotationsOut is the ListKeyRotations answer.
type ListKeyRotationsOut struct {
	Rotations  []RotationsListEntry `json:"Rotations"`
	NextMarker string               `json:"NextMarker,omitempty"`
	Truncated  bool                 `json:"Truncated"`
}

// ListKeyRotations lists a key's completed rotations, oldest first (with
// IncludeKeyMaterial ALL_KEY_MATERIAL, its first material too).
func (s *Service) ListKeyRotations(ctx context.Context, ns coffer.Namespace, in *ListKeyRotationsInput) (*ListKeyRotationsOut, error) {
	var v awsapi.Validator
	validKeyID(&v, in.KeyId)
	v.Enum("includeKeyMaterial", in.IncludeKeyMaterial, "ALL_KEY_MATERIAL", "ROTATIONS_ONLY")
	v.RangeInt("limit", in.Limit, 1, 1000)
	v.Length("marker", in.Marker, 1, 1024, false)
	if err := v.Err(); err != nil {
		return nil, err
	}
	after := 0
	if in.Marker != nil {
		m, err := decodeMarker(in.Marker)
		if err != nil {
			return nil, err
		}
		if after, err = strconv.Atoi(m); err != nil || after < 1 {
			return nil, coffer.Errorf(coffer.ErrKMSInvalidMarker, "Invalid marker")
		}
	}
	all := in.IncludeKeyMaterial != nil && *in.IncludeKeyMaterial == "ALL_KEY_MATERIAL"
	var (
		k  *coffer.Key
		ms []*coffer.KeyMaterial
	)
	err := s.view(ctx, func(tx coffer.Tx) (err error) {
		if k, err = s.resolve(tx, ns, *in.KeyId, false); err != nil {
			return err
		}
		ms, err = tx.KeyMaterials(k.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	limit := limitOf(in.Limit, 100)
	out := &ListKeyRotationsOut{Rotations: []RotationsListEntry{}}
	for _, m := range ms {
		if m.Version <= after || m.Version == 1 && !all {
			continue
		}
		if len(out.Rotations) == limit {
			out.Truncated, out.NextMarker = true, encodeMarker(strconv.Itoa(m.Version-1))
			break
		}
		state := "NON_CURRENT"
		if m.Version == k.CurrentMaterial {
			state = "CURRENT"
		}
		e := RotationsListEntry{KeyId: k.ID, KeyMaterialId: MaterialID(k.ID, m.Version), KeyMaterialState: state, RotationType: m.RotationType}
		if m.Version > 1 {
			e.RotationDate = awsapi.TimePtr(m.CreatedDate)
		}
		out.Rotations = append(out.Rotations, e)
	}
	return out, nil
}

// RunScheduler carries out, once a minute until ctx is done, the key deletions whose window
// has ended and the automatic rotations that are due. Both schedules live in the store, so
// work missed while the server was down is done at the next start.
func (s *Service) RunScheduler(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		s.RunDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunDue deletes the keys whose deletion is due and rotates the keys whose rotation is due.
func (s *Service) RunDue(ctx context.Context) {
	for {
		var due []*coffer.Key
		err := s.update(ctx, func(tx coffer.Tx) error {
			var err error
			due, err = tx.DueKeyDeletions(s.clock(), 50)
			if err != nil {
				return err
			}
			for _, k := range due {
				if err := tx.DeleteKey(k.ID); err != nil && !coffer.IsNotFound(err) {
					return err
				}
			}
			return nil
		})
		if err != nil {
			s.log.Error("deleting keys whose deletion window ended", "err", err)
			break
		}
		for _, k := range due {
			s.forget(k.ID)
			s.log.Info("deleted a key whose deletion window ended", "key", k.ARN())
			s.serviceEvent(ctx, "DeleteKey", k, map[string]any{"reason": "the key's waiting period ended"})
		}
		if len(due) < 50 {
			break
		}
	}
	for {
		var due []*coffer.Key
		err := s.update(ctx, func(tx coffer.Tx) error {
			var err error
			due, err = tx.DueKeyRotations(s.clock(), 50)
			if err != nil {
				return err
			}
			for _, k := range due {
				if k.State != coffer.KeyStateEnabled {
					// As in AWS, a disabled key does not rotate; look again in a day, so that
					// it rotates soon after it is enabled again.
					k.NextRotationDate = s.clock().AddDate(0, 0, 1)
					if err := tx.UpdateKey(k); err != nil {
						return err
					}
					continue
				}
				if err := s.rotate(tx, k, coffer.RotationAutomatic); err != nil {
					return err
				}
				k.NextRotationDate = s.clock().AddDate(0, 0, max(k.RotationPeriodDays, 1))
				if err := tx.UpdateKey(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			s.log.Error("rotating keys", "err", err)
			return
		}
		for _, k := range due {
			if k.State == coffer.KeyStateEnabled {
				s.log.Info("rotated a key's material", "key", k.ARN(), "material", k.CurrentMaterial)
				s.serviceEvent(ctx, "RotateKey", k, map[string]any{"rotationType": "AUTOMATIC", "keyMaterialVersion": k.CurrentMaterial})
			}
		}
		if len(due) < 50 {
			return
		}
	}
}
