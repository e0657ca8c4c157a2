// Package core holds coffer's business rules for secrets: names and ARNs, staging labels,
// idempotent versions, deletion windows and the purge of expired secrets. It is the only
// package that combines the keyring with storage: values enter it as plaintext, leave it for
// the store only as sealed envelopes, and come back out of it only to the caller who asked.
package core

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"math/big"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/keyring"
	"github.com/coffer-project/coffer/kms"
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

	kms     *kms.Service
	authz   Authorizer
	onEvent func(context.Context, coffer.ServiceEvent)
	// rotations runs rotations (package rotation); nil refuses every rotator.
	rotations Rotations
}

// Options are a Service's optional dependencies.
type Options struct {
	Now    func() time.Time // the clock; time.Now when nil
	Rand   io.Reader        // randomness for ARN suffixes and key ids; crypto/rand when nil
	Logger *slog.Logger     // slog.Default when nil
	// KMS is the key service; one over the same store and keyring when nil.
	KMS *kms.Service
	// Authorizer decides each call's access to the secrets it names; nil allows everything
	// (tests of the rules, and the server before it sets its own).
	Authorizer Authorizer
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
		kms:           opts.KMS,
		authz:         opts.Authorizer,
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
	if s.kms == nil {
		s.kms = kms.New(store, keys, kms.Options{Now: opts.Now, Rand: opts.Rand, Logger: opts.Logger})
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

// DefaultKeyAlias is the alias of the key that protects secrets created without KmsKeyId.
const DefaultKeyAlias = kms.ManagedAlias

// KMS returns the key service the secrets are encrypted with.
func (s *Service) KMS() *kms.Service { return s.kms }

// secretKey resolves the key that protects the new versions of a secret whose KmsKeyId is
// ref ("" for the namespace's AWS-managed key). A key that does not exist or cannot be named
// is InvalidParameterException, as AWS answers.
func (s *Service) secretKey(tx coffer.Tx, ns coffer.Namespace, ref string) (*coffer.Key, error) {
	k, err := s.kms.SecretKey(tx, ns, ref)
	if err != nil && coffer.ErrorCode(err) == coffer.ErrKMSNotFound {
		return nil, coffer.Errorf(coffer.ErrInvalidParameter, "The operation failed because of an invalid KMS key: %s", coffer.AsError(err).Message)
	}
	return k, err
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

// updateSecret is update for an fn that acts on one secret, looked up before anything else
// (coffer.OneSecretUpdate): CreateSecret, PutSecretValue, UpdateSecretVersionStage and the
// other calls that change one secret's versions, labels, metadata or resource policy, or
// delete, restore or purge it. Every other writer of a secret's versions and stages writes
// its row (UpdateSecret, DeleteSecret, MarkAccessed), which is what lets a store order them
// by a lock on that row. key is secretKey of the SecretId the call names.
func (s *Service) updateSecret(ctx context.Context, key string, fn func(coffer.Tx) error) error {
	return s.store.Update(coffer.OneSecretUpdate(ctx, key), fn)
}

// secretKey is the key of coffer.OneSecretUpdate for a SecretId (a name, or an ARN whose
// namespace ns need not match): the secret's ARN without its random suffix, so that a name
// and its secret's full ARN give one key. A partial ARN that ends in a hyphen and six
// characters loses them too; the key is only a hint (two keys of one secret are still
// ordered by the store), and such a collision only queues two secrets' Updates one after
// the other.
func secretKey(ns coffer.Namespace, id string) string {
	arn := guessARN(ns, id)
	if arn == id && len(arn) > 7 && arn[len(arn)-7] == '-' {
		return arn[:len(arn)-7]
	}
	return arn
}

// SetAuthorizer sets the Authorizer after construction (the server builds it over the
// Service's own KMS); it must be called before the Service serves calls.
func (s *Service) SetAuthorizer(a Authorizer) { s.authz = a }

// SetOnServiceEvent sets the function told of each secret the purger deletes at the end of
// its recovery window (for the audit trail); it must be set before RunPurger starts.
func (s *Service) SetOnServiceEvent(fn func(context.Context, coffer.ServiceEvent)) { s.onEvent = fn }
