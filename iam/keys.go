package iam

import (
	"context"
	"crypto/rand"
	"math/big"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsquery"
)

// The access keys of IAM users: two at most per user, Active or Inactive. The secret half is
// returned once, by CreateAccessKey, and stored sealed under the root key.

func (s *Service) randomString(alphabet string, n int) (string, error) {
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(s.rand, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", err
		}
		b[i] = alphabet[k.Int64()]
	}
	return string(b), nil
}

// keyUser resolves the user an access-key action is about: UserName, or the calling user.
func keyUser(tx coffer.Tx, c Caller, q *awsquery.Request) (*coffer.Entity, error) {
	name, err := nameOf(q, coffer.EntityUser, false)
	if err != nil {
		return nil, err
	}
	if name == "" {
		if c.isRoot() {
			return nil, coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null (coffer does not create access keys for the account root through IAM)")
		}
		// arn:aws:iam::ACCOUNT:user/path/name
		arn := c.PrincipalARN
		name = arn[lastSlash(arn)+1:]
	}
	return entity(tx, c.Account, coffer.EntityUser, name)
}

func lastSlash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return i
		}
	}
	return -1
}

type createAccessKeyResult struct {
	AccessKey accessKeyXML
}

func (s *Service) createAccessKey(ctx context.Context, c Caller, q *awsquery.Request) (any, error) {
	id, err := s.randomString("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
	if err != nil {
		return nil, err
	}
	secret, err := s.randomString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 40)
	if err != nil {
		return nil, err
	}
	k := &coffer.AccessKey{ID: "AKIA" + id, Account: c.Account, Status: coffer.KeyActive, CreatedDate: s.clock()}
	if k.SealedSecret, err = s.keys.SealSecret(k.ID, []byte(secret)); err != nil {
		return nil, coffer.Internal(err)
	}
	var user *coffer.Entity
	err = s.update(ctx, func(tx coffer.Tx) error {
		var err error
		if user, err = keyUser(tx, c, q); err != nil {
			return err
		}
		have, err := tx.AccessKeysOf(user.ARN())
		if err != nil {
			return err
		}
		if len(have) >= MaxAccessKeysPerUser {
			return coffer.Errorf(ErrLimitExceeded, "Cannot exceed quota for AccessKeysPerUser: %d", MaxAccessKeysPerUser)
		}
		k.PrincipalARN = user.ARN()
		return tx.InsertAccessKey(k)
	})
	if err != nil {
		return nil, err
	}
	return &createAccessKeyResult{AccessKey: accessKeyXML{UserName: user.Name, AccessKeyId: k.ID, Status: k.Status,
		SecretAccessKey: secret, CreateDate: isoTime(k.CreatedDate)}}, nil
}

type listAccessKeysResult struct {
	AccessKeyMetadata []accessKeyXML `xml:"AccessKeyMetadata>member"`
	IsTruncated       bool
}

func (s *Service) listAccessKeys(ctx context.Context, c Caller, q *awsquery.Request) (any, error) {
	out := &listAccessKeysResult{}
	err := s.view(ctx, func(tx coffer.Tx) error {
		user, err := keyUser(tx, c, q)
		if err != nil {
			return err
		}
		ks, err := tx.AccessKeysOf(user.ARN())
		if err != nil {
			return err
		}
		out.AccessKeyMetadata = out.AccessKeyMetadata[:0]
		for _, k := range ks {
			out.AccessKeyMetadata = append(out.AccessKeyMetadata, accessKeyXML{UserName: user.Name, AccessKeyId: k.ID, Status: k.Status, CreateDate: isoTime(k.CreatedDate)})
		}
		return nil
	})
	return out, err
}

// userKey finds the access key AccessKeyId of the user the request is about.
func userKey(tx coffer.Tx, c Caller, q *awsquery.Request) (*coffer.AccessKey, error) {
	p := &params{q: q}
	id := p.str("AccessKeyId", "accessKeyId", true, 16, 128, accessKeyIDPatten)
	if err := p.v.err(); err != nil {
		return nil, err
	}
	user, err := keyUser(tx, c, q)
	if err != nil {
		return nil, err
	}
	k, err := tx.AccessKey(id)
	if coffer.IsNotFound(err) || err == nil && k.PrincipalARN != user.ARN() {
		return nil, coffer.Errorf(ErrNoSuchEntity, "The Access Key with id %s cannot be found.", id)
	}
	return k, err
}

func (s *Service) updateAccessKey(ctx context.Context, c Caller, q *awsquery.Request) error {
	p := &params{q: q}
	status := p.str("Status", "status", true, 1, 16, nil)
	if err := p.v.err(); err != nil {
		return err
	}
	if status != coffer.KeyActive && status != coffer.KeyInactive {
		return coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]", status)
	}
	var id string
	err := s.update(ctx, func(tx coffer.Tx) error {
		k, err := userKey(tx, c, q)
		if err != nil {
			return err
		}
		id = k.ID
		return tx.UpdateAccessKeyStatus(k.ID, status)
	})
	if err == nil && s.onKeyChange != nil {
		s.onKeyChange(id)
	}
	return err
}

func (s *Service) deleteAccessKey(ctx context.Context, c Caller, q *awsquery.Request) error {
	var id string
	err := s.update(ctx, func(tx coffer.Tx) error {
		k, err := userKey(tx, c, q)
		if err != nil {
			return err
		}
		id = k.ID
		if err := tx.DeleteMeta(lastUsedMeta(k.ID)); err != nil {
			return err
		}
		return tx.DeleteAccessKey(k.ID)
	})
	if err == nil && s.onKeyChange != nil {
		s.onKeyChange(id)
	}
	return err
}
