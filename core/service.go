// Package core holds coffer's business rules for secrets: names and ARNs, staging labels,
// idempotent versions, deletion windows and the purge of expired secrets. It is the only
// package that combines the keyring with storage: values enter it as plaintext, leave it for
// the store only as sealed envelopes, and come back out of it only to the caller who asked.
package core

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/keyring"
)

// Service performs Secrets Manager operations in one namespace at a time. It is safe for
// concurrent use.
type Service struct {
	store coffer.Store
	keys  *keyring.Keyring
	now   func() time.Time
	rand  io.Reader
	log   *slog.Logger

	deletedWindow time.Duration
	access        *accessLog

	mu          sync.RWMutex
	wrappedKEKs map[string][]byte // key id → KEK wrapped under the root key
	defaultKeys map[coffer.Namespace]string
}

// Options are a Service's optional dependencies.
type Options struct {
	Now    func() time.Time // the clock; time.Now when nil
	Rand   io.Reader        // randomness for ARN suffixes and key ids; crypto/rand when nil
	Logger *slog.Logger     // slog.Default when nil
	// DeletedNameWindow is how long a name deleted for good answers "it was deleted";
	// DefaultDeletedNameWindow when 0, no window when negative.
	DeletedNameWindow time.Duration
}

// New returns a Service over store and keys.
func New(store coffer.Store, keys *keyring.Keyring, opts Options) *Service {
	s := &Service{
		store: store, keys: keys, now: opts.Now, rand: opts.Rand, log: opts.Logger,
		deletedWindow: opts.DeletedNameWindow,
		access:        newAccessLog(),
		wrappedKEKs:   make(map[string][]byte),
		defaultKeys:   make(map[coffer.Namespace]string),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.deletedWindow == 0 {
		s.deletedWindow = DefaultDeletedNameWindow
	}
	return s
}

// clock returns the current time in UTC truncated to milliseconds, the precision AWS reports.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

const suffixAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// suffix returns the 6 random characters AWS appends to a secret's ARN.
func (s *Service) suffix() (string, error) {
	b := make([]byte, 6)
	for i := range b {
		n, err := rand.Int(s.rand, big.NewInt(int64(len(suffixAlphabet))))
		if err != nil {
			return "", err
		}
		b[i] = suffixAlphabet[n.Int64()]
	}
	return string(b), nil
}

// newUUID returns a random RFC 4122 version 4 UUID.
func (s *Service) newUUID() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// Meta keys of the default key-encryption key of a namespace and of each KEK.
func defaultKeyMeta(ns coffer.Namespace) string { return "kek/default/" + ns.Account + "/" + ns.Region }
func kekMeta(id string) string                  { return "kek/" + id }

// DefaultKeyAlias is the alias of the key that protects secrets created without KmsKeyId.
const DefaultKeyAlias = "alias/aws/secretsmanager"

// defaultKey returns the id and wrapped material of ns's default KEK, creating both inside tx
// on first use.
func (s *Service) defaultKey(tx coffer.Tx, ns coffer.Namespace) (string, []byte, error) {
	s.mu.RLock()
	id, ok := s.defaultKeys[ns]
	s.mu.RUnlock()
	if ok {
		w, err := s.wrappedKEK(tx, id)
		return id, w, err
	}
	raw, err := tx.Meta(defaultKeyMeta(ns))
	if err == nil {
		id = string(raw)
		w, err := s.wrappedKEK(tx, id)
		if err != nil {
			return "", nil, err
		}
		s.mu.Lock()
		s.defaultKeys[ns] = id
		s.mu.Unlock()
		return id, w, nil
	}
	if !coffer.IsNotFound(err) {
		return "", nil, err
	}
	if id, err = s.newUUID(); err != nil {
		return "", nil, err
	}
	wrapped, err := s.keys.NewKEK(id)
	if err != nil {
		return "", nil, err
	}
	if err := tx.PutMeta(kekMeta(id), wrapped); err != nil {
		return "", nil, err
	}
	if err := tx.PutMeta(defaultKeyMeta(ns), []byte(id)); err != nil {
		return "", nil, err
	}
	// Not cached until the transaction is known to have committed: see rememberDefaultKey.
	return id, wrapped, nil
}

// wrappedKEK returns the root-wrapped material of KEK id.
func (s *Service) wrappedKEK(tx coffer.Tx, id string) ([]byte, error) {
	s.mu.RLock()
	w, ok := s.wrappedKEKs[id]
	s.mu.RUnlock()
	if ok {
		return w, nil
	}
	w, err := tx.Meta(kekMeta(id))
	if err != nil {
		if coffer.IsNotFound(err) {
			return nil, &coffer.Error{Code: coffer.ErrDecryptionFailure, Message: msgDecryptionFailure, Err: fmt.Errorf("KEK %s is missing", id)}
		}
		return nil, err
	}
	s.mu.Lock()
	s.wrappedKEKs[id] = w
	s.mu.Unlock()
	return w, nil
}

// checkKey accepts the KmsKeyId values that name the namespace's default key. Other keys come
// with the KMS key service.
func (s *Service) checkKey(tx coffer.Tx, ns coffer.Namespace, kmsKeyID *string) error {
	if kmsKeyID == nil || *kmsKeyID == "" || *kmsKeyID == DefaultKeyAlias ||
		*kmsKeyID == fmt.Sprintf("arn:aws:kms:%s:%s:%s", ns.Region, ns.Account, DefaultKeyAlias) {
		return nil
	}
	id, _, err := s.defaultKey(tx, ns)
	if err != nil {
		return err
	}
	if *kmsKeyID == id || *kmsKeyID == fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", ns.Region, ns.Account, id) {
		return nil
	}
	return coffer.Errorf(coffer.ErrEncryptionFailure, "Secrets Manager can't encrypt the protected secret text using the provided KMS key. Check that the KMS key is available, enabled, and not in an invalid state.")
}

// Messages that clients and tools match on, exactly as AWS writes them.
const (
	msgNotFound          = "Secrets Manager can't find the specified secret."
	msgMarkedForDeletion = "You can't perform this operation on the secret because it was marked for deletion."
	msgDecryptionFailure = "Secrets Manager can't decrypt the protected secret text using the provided KMS key."
	msgEncryptionFailure = "Secrets Manager can't encrypt the protected secret text using the provided KMS key."
)

func errNotFound() error { return coffer.Errorf(coffer.ErrResourceNotFound, msgNotFound) }

func errMarkedForDeletion() error {
	return coffer.Errorf(coffer.ErrInvalidRequest, msgMarkedForDeletion)
}

// update runs fn in a write transaction and wraps store failures that are not coffer errors as
// internal errors.
func (s *Service) update(ctx context.Context, fn func(coffer.Tx) error) error {
	return s.store.Update(ctx, fn)
}
