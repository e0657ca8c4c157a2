package server

import (
	"context"
	"sync"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/keyring"
)

// Credentials looks up access keys in the store and opens their sealed secret halves for the
// SigV4 verifier. It caches the key records for at most credentialsTTL (never the secrets;
// the verifier caches derived signing keys only); Forget drops one at once, as IAM does when a
// key is deactivated or deleted through this server.
type Credentials struct {
	store coffer.Store
	keys  *keyring.Keyring

	mu    sync.RWMutex
	cache map[string]cachedAccessKey
	// gen counts Forget and ForgetAll calls: a lookup stores what it read only when none
	// came while it read, lest a record read before a deactivation outlive it.
	gen uint64
}

// credentialsTTL bounds how long a key deactivated or deleted through another server sharing
// the store keeps working here.
const credentialsTTL = time.Second

type cachedAccessKey struct {
	key *coffer.AccessKey
	at  time.Time
}

// Forget drops a cached access key.
func (c *Credentials) Forget(id string) {
	c.mu.Lock()
	delete(c.cache, id)
	c.gen++
	c.mu.Unlock()
}

// NewCredentials returns a Credentials over store and keys.
func NewCredentials(store coffer.Store, keys *keyring.Keyring) *Credentials {
	return &Credentials{store: store, keys: keys, cache: make(map[string]cachedAccessKey)}
}

func errUnknownKey() error {
	return coffer.Errorf(coffer.ErrUnrecognizedClient, "The security token included in the request is invalid.")
}

// Key returns the active access key with this id, or UnrecognizedClientException.
func (c *Credentials) Key(ctx context.Context, id string) (*coffer.AccessKey, error) {
	now := time.Now()
	c.mu.RLock()
	e, ok := c.cache[id]
	gen := c.gen
	c.mu.RUnlock()
	if ok && now.Sub(e.at) < credentialsTTL {
		return e.key, nil
	}
	var k *coffer.AccessKey
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
	if len(c.cache) > 100_000 {
		clear(c.cache)
	}
	if c.gen == gen { // nothing was forgotten while this read ran
		c.cache[id] = cachedAccessKey{key: k, at: now}
	}
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

// ForgetAll drops every cached access key.
func (c *Credentials) ForgetAll() {
	c.mu.Lock()
	clear(c.cache)
	c.gen++
	c.mu.Unlock()
}
