package core

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/iam"
	"github.com/coffer-project/coffer/keyring"
)

// Meta keys written at first start.
const (
	metaRootCheck      = "root-key-check"
	metaDefaultAccount = "default-account"
)

// AdminCredentials is the default account's administrator access key pair.
type AdminCredentials struct {
	AccountID       string
	AccessKeyID     string
	SecretAccessKey string
}

// String never reveals the secret access key.
func (c AdminCredentials) String() string {
	return fmt.Sprintf("account %s, access key %s", c.AccountID, c.AccessKeyID)
}

// BootstrapConfig says what a start should ensure exists.
type BootstrapConfig struct {
	// AccountID of the default account; random when "" at first start. At later starts, a
	// non-empty AccountID must match the stored one.
	AccountID string
	// AccessKeyID and SecretAccessKey, when both set, are the administrator key pair to use
	// (from the environment or a file, for test rigs and CI). A pair not yet stored is added.
	AccessKeyID     string
	SecretAccessKey string
	Now             func() time.Time
}

// BootstrapResult says what a start found or made.
type BootstrapResult struct {
	FirstStart bool
	AccountID  string
	// Generated is the key pair made at this start, to show the operator once; nil when the
	// pair came from the configuration or already existed.
	Generated *AdminCredentials
}

// ErrWrongRootKey means the root key does not open this data directory.
var ErrWrongRootKey = errors.New("the root key does not match this store: was the key file replaced, or is this another deployment's data?")

// Bootstrap prepares a store at every start: on a new store it records a check that only
// this root key opens, creates the default account and its administrator access key; on an
// existing store it verifies the root key and adds a configured key pair if it is new.
func Bootstrap(ctx context.Context, store coffer.Store, keys *keyring.Keyring, cfg BootstrapConfig) (*BootstrapResult, error) {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	if (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == "") {
		return nil, errors.New("an administrator access key id and secret access key must be given together")
	}
	if cfg.AccessKeyID != "" {
		if err := validKeyPair(cfg.AccessKeyID, cfg.SecretAccessKey); err != nil {
			return nil, err
		}
	}
	if cfg.AccountID != "" && !coffer.ValidAccountID(cfg.AccountID) {
		return nil, fmt.Errorf("account id %q is not 12 digits", cfg.AccountID)
	}
	res := &BootstrapResult{}
	err := store.Update(ctx, func(tx coffer.Tx) error {
		*res = BootstrapResult{}
		t := now().UTC().Truncate(time.Millisecond)
		check, err := tx.Meta(metaRootCheck)
		switch {
		case err == nil:
			if !keys.VerifyCheck(check) {
				return ErrWrongRootKey
			}
		case coffer.IsNotFound(err):
			res.FirstStart = true
			if check, err = keys.NewCheck(); err != nil {
				return err
			}
			if err := tx.PutMeta(metaRootCheck, check); err != nil {
				return err
			}
		default:
			return err
		}

		// coffer's ready-made managed policies, kept up to date with the release.
		if err := iam.SeedManaged(tx, t.Truncate(time.Second)); err != nil {
			return err
		}

		acct, err := tx.Meta(metaDefaultAccount)
		switch {
		case err == nil:
			res.AccountID = string(acct)
			if cfg.AccountID != "" && cfg.AccountID != res.AccountID {
				return fmt.Errorf("configured account id %s differs from this store's default account %s", cfg.AccountID, res.AccountID)
			}
		case coffer.IsNotFound(err):
			id := cfg.AccountID
			if id == "" {
				if id, err = randomAccountID(); err != nil {
					return err
				}
			}
			if err := tx.InsertAccount(&coffer.Account{ID: id, CreatedDate: t}); err != nil {
				return err
			}
			if err := tx.PutMeta(metaDefaultAccount, []byte(id)); err != nil {
				return err
			}
			res.AccountID = id
			if cfg.AccessKeyID == "" {
				gen, err := NewAccessKeyPair()
				if err != nil {
					return err
				}
				gen.AccountID = id
				res.Generated = gen
				return storeKey(tx, keys, id, gen.AccessKeyID, gen.SecretAccessKey, t)
			}
		default:
			return err
		}
		if cfg.AccessKeyID == "" {
			return nil
		}
		k, err := tx.AccessKey(cfg.AccessKeyID)
		switch {
		case err == nil:
			secret, err := keys.OpenSecret(k.ID, k.SealedSecret)
			if err != nil {
				return err
			}
			defer keyring.Wipe(secret)
			if k.Account != res.AccountID || subtle.ConstantTimeCompare(secret, []byte(cfg.SecretAccessKey)) != 1 {
				return fmt.Errorf("access key %s is already stored with another secret or account", k.ID)
			}
			return nil
		case coffer.IsNotFound(err):
			return storeKey(tx, keys, res.AccountID, cfg.AccessKeyID, cfg.SecretAccessKey, t)
		default:
			return err
		}
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func storeKey(tx coffer.Tx, keys *keyring.Keyring, account, id, secret string, now time.Time) error {
	sealed, err := keys.SealSecret(id, []byte(secret))
	if err != nil {
		return err
	}
	return tx.InsertAccessKey(&coffer.AccessKey{
		ID: id, Account: account, PrincipalARN: "arn:aws:iam::" + account + ":root",
		Status: coffer.KeyActive, SealedSecret: sealed, CreatedDate: now,
	})
}

func validKeyPair(id, secret string) error {
	if len(id) < 16 || len(id) > 128 {
		return fmt.Errorf("access key id must be 16 to 128 characters")
	}
	for _, r := range id {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return fmt.Errorf("access key id may hold only upper-case letters and digits")
		}
	}
	if len(secret) < 16 {
		return fmt.Errorf("secret access key must be at least 16 characters")
	}
	return nil
}

func randomAccountID() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(9e11))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%012d", n.Int64()+1e11), nil
}

// NewAccessKeyPair generates an AWS-shaped key pair: an "AKIA" id of 20 characters from the
// base32 alphabet and a 40-character secret.
func NewAccessKeyPair() (*AdminCredentials, error) {
	id, err := randomString(rand.Reader, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
	if err != nil {
		return nil, err
	}
	secret, err := randomString(rand.Reader, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 40)
	if err != nil {
		return nil, err
	}
	return &AdminCredentials{AccessKeyID: "AKIA" + id, SecretAccessKey: secret}, nil
}

func randomString(r io.Reader, alphabet string, n int) (string, error) {
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(r, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", err
		}
		b[i] = alphabet[k.Int64()]
	}
	return string(b), nil
}
