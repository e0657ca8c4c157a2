package core

import (
	"context"
	"time"

	"github.com/coffer-project/coffer"
)

// Accounts beyond the default one: each an isolated owner of secrets, keys and identities,
// with its own root access key pair, as AWS accounts are.

// DefaultAccount returns the id of the deployment's default account, whose root
// administers the deployment (it alone may create accounts).
func (s *Service) DefaultAccount(ctx context.Context) (string, error) {
	var id string
	err := s.store.View(ctx, func(tx coffer.Tx) error {
		b, err := tx.Meta(metaDefaultAccount)
		id = string(b)
		return err
	})
	return id, err
}

// CreateAccount creates an account (a random 12-digit id when id is "") with a root access
// key pair, which is returned this once; its secret half is stored sealed.
func (s *Service) CreateAccount(ctx context.Context, id string) (*AdminCredentials, error) {
	if id != "" && !coffer.ValidAccountID(id) {
		return nil, coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value '%s' at 'accountId' failed to satisfy constraint: Member must be 12 digits", id)
	}
	gen, err := NewAccessKeyPair()
	if err != nil {
		return nil, err
	}
	err = s.update(ctx, func(tx coffer.Tx) error {
		acct := id
		if acct == "" {
			if acct, err = randomAccountID(); err != nil {
				return err
			}
		}
		now := s.now().UTC().Truncate(time.Millisecond)
		if err := tx.InsertAccount(&coffer.Account{ID: acct, CreatedDate: now}); err != nil {
			return err
		}
		gen.AccountID = acct
		return storeKey(tx, s.keys, acct, gen.AccessKeyID, gen.SecretAccessKey, now)
	})
	if err != nil {
		return nil, err
	}
	return gen, nil
}
