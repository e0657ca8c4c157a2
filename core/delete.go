package core

import (
	"context"
	"time"

	"github.com/coffer-project/coffer"
)

// DeleteSecretInput is the DeleteSecret request.
type DeleteSecretInput struct {
	SecretId                   *string //nolint:revive // AWS's member name
	RecoveryWindowInDays       *int64
	ForceDeleteWithoutRecovery *bool
}

// DeleteSecret schedules a secret for deletion after a recovery window of 7–30 days (30 by
// default), or deletes it at once with ForceDeleteWithoutRecovery.
func (s *Service) DeleteSecret(ctx context.Context, ns coffer.Namespace, in *DeleteSecretInput) (*SecretRef, error) {
	var v validator
	validSecretID(&v, in.SecretId)
	if err := v.Err(); err != nil {
		return nil, err
	}
	force := in.ForceDeleteWithoutRecovery != nil && *in.ForceDeleteWithoutRecovery
	if force && in.RecoveryWindowInDays != nil {
		return nil, coffer.Errorf(coffer.ErrInvalidParameter, "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	}
	days := int64(30)
	if in.RecoveryWindowInDays != nil {
		days = *in.RecoveryWindowInDays
		if days < 7 || days > 30 {
			return nil, coffer.Errorf(coffer.ErrInvalidParameter, "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
		}
	}
	var ref *SecretRef
	err := s.updateSecret(ctx, secretKey(ns, *in.SecretId), func(tx coffer.Tx) error {
		sec, err := s.find(ctx, tx, ns, *in.SecretId)
		if err != nil {
			return err
		}
		now := s.clock()
		ref = &SecretRef{ARN: sec.ARN, Name: sec.Name}
		if force {
			ref.DeletionDate = now
			if err := tx.DeleteSecret(sec.ARN); err != nil {
				return err
			}
			return s.bury(tx, sec, now)
		}
		if sec.Deleted() {
			return errMarkedForDeletion()
		}
		sec.DeletedDate = now
		sec.PurgeDate = now.Add(time.Duration(days) * 24 * time.Hour)
		ref.DeletionDate = sec.PurgeDate
		return tx.UpdateSecret(sec)
	})
	return ref, err
}

// RestoreSecretInput is the RestoreSecret request.
type RestoreSecretInput struct {
	SecretId *string //nolint:revive // AWS's member name
}

// RestoreSecret cancels a scheduled deletion. Restoring a secret that is not scheduled for
// deletion succeeds and changes nothing, as in AWS.
func (s *Service) RestoreSecret(ctx context.Context, ns coffer.Namespace, in *RestoreSecretInput) (*SecretRef, error) {
	var v validator
	validSecretID(&v, in.SecretId)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var ref *SecretRef
	err := s.updateSecret(ctx, secretKey(ns, *in.SecretId), func(tx coffer.Tx) error {
		sec, err := s.find(ctx, tx, ns, *in.SecretId)
		if err != nil {
			return err
		}
		ref = &SecretRef{ARN: sec.ARN, Name: sec.Name}
		if !sec.Deleted() {
			return nil
		}
		sec.DeletedDate, sec.PurgeDate = time.Time{}, time.Time{}
		sec.LastChangedDate = s.clock()
		return tx.UpdateSecret(sec)
	})
	return ref, err
}

// PurgeDue deletes for good, each in its own transaction, the secrets whose recovery window
// has ended, and returns how many it deleted. A secret restored in the meantime is spared.
func (s *Service) PurgeDue(ctx context.Context) (int, error) {
	n := 0
	for {
		var due []*coffer.Secret
		now := s.clock()
		if err := s.store.View(ctx, func(tx coffer.Tx) error {
			var err error
			due, err = tx.DueForPurge(now, 100)
			return err
		}); err != nil {
			return n, err
		}
		if len(due) == 0 {
			return n, nil
		}
		for _, d := range due {
			purged := false
			err := s.updateSecret(ctx, secretKey(coffer.Namespace{}, d.ARN), func(tx coffer.Tx) error {
				purged = false
				sec, err := tx.SecretByARN(d.ARN)
				if err != nil {
					return err
				}
				if sec.PurgeDate.IsZero() || sec.PurgeDate.After(now) {
					return nil
				}
				purged = true
				if err := tx.DeleteSecret(sec.ARN); err != nil {
					return err
				}
				return s.bury(tx, sec, now)
			})
			if err != nil && !coffer.IsNotFound(err) {
				return n, err
			}
			if err == nil && purged {
				s.log.Info("purged secret at the end of its recovery window", "secret", d.ARN)
				if s.onEvent != nil {
					s.onEvent(ctx, coffer.ServiceEvent{Service: "secretsmanager", Name: "EndSecretDeletion", ARN: d.ARN, Namespace: d.Namespace,
						Details: map[string]any{"reason": "the secret's recovery window ended"}})
				}
				n++
			}
		}
		if len(due) < 100 {
			return n, nil
		}
	}
}

// RunPurger calls PurgeDue every interval until ctx is done. A purge interrupted by a crash is
// taken up again at the next start, since the schedule lives in the store.
func (s *Service) RunPurger(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.PurgeDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("purging deleted secrets", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
