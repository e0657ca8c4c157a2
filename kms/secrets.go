package kms

import (
	"context"
	"errors"
	"io"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/keyring"
)

// The data keys of secret versions. Secrets Manager asks KMS for a data key per version
// (GenerateDataKey, bound to {"SecretARN", "SecretVersionId"}), seals the value with it and
// keeps the encrypted data key beside the ciphertext; coffer does the same, in process.

// SecretKey returns the key that protects a secret's new versions: ref as the secret holds
// it (id, ARN, alias or alias ARN), or the namespace's AWS-managed key — created in tx, a
// write transaction, on first use — when ref is "" or names that key's alias. A key that
// does not exist is an error whose message says which.
func (s *Service) SecretKey(tx coffer.Tx, ns coffer.Namespace, ref string) (*coffer.Key, error) {
	if ref == "" || ref == ManagedAlias || ref == coffer.AliasARN(ns, ManagedAlias) {
		return s.managedKey(tx, ns)
	}
	return s.resolve(tx, ns, ref, true)
}

// SealValue seals plaintext for a secret version under key k: a fresh 256-bit data key
// encrypted under k's current material with ctx, and the value sealed under the data key.
// A key that is not enabled gives its KMS error (DisabledException, KMSInvalidStateException).
func (s *Service) SealValue(cx context.Context, tx coffer.Tx, k *coffer.Key, ctx keyring.Context, plaintext []byte) (wrappedKey, ciphertext []byte, err error) {
	defer func() { s.reportUse(cx, "GenerateDataKey", k, k.CurrentMaterial, ctx, err) }()
	if err := s.authorizeUse(cx, "kms:GenerateDataKey", k); err != nil {
		return nil, nil, err
	}
	dk := make([]byte, keyring.KeySize)
	defer keyring.Wipe(dk)
	if _, err := io.ReadFull(s.rand, dk); err != nil {
		return nil, nil, coffer.Internal(err)
	}
	if wrappedKey, err = s.encryptWith(tx, k, ctx, dk); err != nil {
		return nil, nil, err
	}
	if ciphertext, err = s.keys.SealData(dk, ctx, plaintext); err != nil {
		return nil, nil, coffer.Internal(err)
	}
	return wrappedKey, ciphertext, nil
}

// ErrTampered is the cause when a version's ciphertext or data key fails authentication.
var ErrTampered = errors.New("kms: ciphertext failed authentication")

// OpenValue decrypts a secret version sealed by SealValue, or by the foundation's
// keyring.Seal (whose data key names no material: it is the first material of keyID). The
// key must be enabled; otherwise the error is its KMS error, and the key is returned so that
// the caller can say which key, in which state.
func (s *Service) OpenValue(cx context.Context, tx coffer.Tx, ns coffer.Namespace, keyID string, wrappedKey, ciphertext []byte, ctx keyring.Context) (pt []byte, k *coffer.Key, err error) {
	version := 1
	if id, v, perr := keyring.ParseBlob(wrappedKey); perr == nil {
		keyID, version = id, v
	}
	defer func() {
		if k == nil {
			k = &coffer.Key{ID: keyID, Namespace: ns}
		}
		s.reportUse(cx, "Decrypt", k, version, ctx, err)
	}()
	if kk, kerr := s.CachedKey(tx, keyID); kerr == nil {
		if err := s.authorizeUse(cx, "kms:Decrypt", kk); err != nil {
			return nil, kk, err
		}
	}
	return s.openValue(tx, ns, keyID, wrappedKey, ciphertext, ctx)
}

func (s *Service) openValue(tx coffer.Tx, ns coffer.Namespace, keyID string, wrappedKey, ciphertext []byte, ctx keyring.Context) ([]byte, *coffer.Key, error) {
	if keyring.IsBlob(wrappedKey) {
		k, _, dk, err := s.decryptBlob(tx, ns, wrappedKey, ctx)
		if coffer.ErrorCode(err) == coffer.ErrKMSInvalidCiphertext {
			return nil, k, &coffer.Error{Code: coffer.ErrKMSInvalidCiphertext, Err: ErrTampered}
		}
		if err != nil {
			return nil, k, err
		}
		defer keyring.Wipe(dk)
		pt, err := s.keys.OpenData(dk, ctx, ciphertext)
		if err != nil {
			return nil, k, &coffer.Error{Code: coffer.ErrKMSInvalidCiphertext, Err: ErrTampered}
		}
		return pt, k, nil
	}
	// A version written before keys existed: its data key is wrapped under the first
	// material of keyID, the namespace's default key (or its stand-in, before the first
	// write made it the managed key).
	k, err := tx.Key(keyID)
	var w []byte
	switch {
	case coffer.IsNotFound(err):
		k, w, err = s.legacyKey(tx, keyID)
		if err != nil {
			return nil, nil, coffer.Internal(err)
		}
	case err != nil:
		return nil, nil, err
	default:
		if err := usable(k); err != nil {
			return nil, k, err
		}
		if w, err = s.wrappedMaterial(tx, k.ID, 1); err != nil {
			return nil, k, err
		}
	}
	env := &keyring.Envelope{KeyID: keyID, WrappedKey: wrappedKey, Ciphertext: ciphertext}
	pt, err := s.keys.Open(env, w, ctx)
	if err != nil {
		return nil, k, &coffer.Error{Code: coffer.ErrKMSInvalidCiphertext, Err: ErrTampered}
	}
	return pt, k, nil
}

// KeyUse is one use of a KMS key made on behalf of a secret operation: the data key of a new
// version (GenerateDataKey) or the opening of a version's data key (Decrypt). The audit trail
// records each, linked to the API call by RequestID. It holds no key or value bytes.
type KeyUse struct {
	RequestID         string // coffer.RequestID of the call that caused it; "" for background work
	Operation         string // "GenerateDataKey" or "Decrypt", as KMS names them
	KeyID             string
	KeyARN            string // "" when the key is unknown
	KeyState          string // the key's state when used; "" when unknown
	MaterialVersion   int
	EncryptionContext map[string]string // {"SecretARN", "SecretVersionId"}
	ErrorCode         string            // "" when the use succeeded
}

func (s *Service) reportUse(cx context.Context, op string, k *coffer.Key, version int, ctx keyring.Context, err error) {
	if s.onUse == nil {
		return
	}
	u := KeyUse{RequestID: coffer.RequestID(cx), Operation: op, KeyID: k.ID, KeyState: k.State, MaterialVersion: version,
		EncryptionContext: map[string]string(ctx)}
	if k.Namespace.Account != "" {
		u.KeyARN = k.ARN()
	}
	if err != nil {
		u.ErrorCode = coffer.ErrorCode(err)
	}
	s.onUse(cx, u)
}
