package server

import (
	"context"
	"sync"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/keyring"
)

// Credentials looks up access keys in the store and opens their sealed secret halves for the
// SigV4 verifier. It caches the key records (never the secrets; the verifier caches derived
// signing keys only).
type Credentials struct {
	store coffer.Store
	keys  *keyring.Keyring

	mu    sync.RWMutex
	cache map[string]*coffer.AccessKey
}

// NewCredentials returns a Credentials over store and keys.
func NewCredentials(store coffer.Store, keys *keyring.Keyring) *Credentials {
	return &Credentials{store: store, keys: keys, cache: make(map[string]*coffer.AccessKey)}
}

func errUnknownKey() error {
	return coffer.Errorf(coffer.ErrUnrecognizedClient, "The security token included in the request is invalid.")
}

// Key returns the active access key with this id, or UnrecognizedClientException.
func (c *Credentials) Key(ctx context.Context, id string) (*coffer.AccessKey, error) {
	c.mu.RLock()
	k, ok := c.cache[id]
	c.mu.RUnlock()
	if ok {
		return k, nil
	}
	err := c.store.View(ctx, func(tx coffer.Tx) error {
		var err error
		k, err = tx.AccessKey(id)
		return err
	})
	if coffer.IsNotFound(err) {
		return nil, errUnknownKey()
	}
	if err != nil {
		return nil, err
	}
	if k.Status != coffer.KeyActive {
		return nil, errUnknownKey()
	}
	c.mu.Lock()
	c.cache[id] = k
	c.mu.Unlock()
	return k, nil
}

// SecretAccessKey returns a fresh copy of the secret half of access key id; the verifier wipes
// it after deriving a signing key.
func (c *Credentials) SecretAccessKey(ctx context.Context, id string) ([]byte, error) {
	k, err := c.Key(ctx, id)
	if err != nil {
		return nil, err
	}
	secret, err := c.keys.OpenSecret(k.ID, k.SealedSecret)
	if err != nil {
		return nil, coffer.Internal(err)
	}
	return secret, nil
}
