package kms

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsapi"
	"github.com/coffer-project/coffer/keyring"
)

// Bytes is a plaintext or ciphertext blob; JSON carries it as base64. It prints as
// [redacted], so a plaintext formatted into a log by mistake shows nothing.
type Bytes []byte

// String never reveals the bytes.
func (Bytes) String() string { return "[redacted]" }

// GoString never reveals the bytes.
func (Bytes) GoString() string { return "[redacted]" }

// EncryptInput is the Encrypt request.
type EncryptInput struct {
	KeyId               *string //nolint:revive // AWS's name
	Plaintext           Bytes
	EncryptionContext   map[string]string
	GrantTokens         []string
	EncryptionAlgorithm *string
	DryRun              *bool
}

// CipherOut is the answer of Encrypt, Decrypt, ReEncrypt and the GenerateDataKey operations.
type CipherOut struct {
	CiphertextBlob                 Bytes  `json:"CiphertextBlob,omitempty"`
	Plaintext                      Bytes  `json:"Plaintext,omitempty"`
	SourceKeyId                    string `json:"SourceKeyId,omitempty"` //nolint:revive // AWS's name
	KeyId                          string `json:"KeyId,omitempty"`       //nolint:revive // AWS's name
	EncryptionAlgorithm            string `json:"EncryptionAlgorithm,omitempty"`
	SourceEncryptionAlgorithm      string `json:"SourceEncryptionAlgorithm,omitempty"`
	DestinationEncryptionAlgorithm string `json:"DestinationEncryptionAlgorithm,omitempty"`
	KeyMaterialId                  string `json:"KeyMaterialId,omitempty"`            //nolint:revive // AWS's name
	SourceKeyMaterialId            string `json:"SourceKeyMaterialId,omitempty"`      //nolint:revive // AWS's name
	DestinationKeyMaterialId       string `json:"DestinationKeyMaterialId,omitempty"` //nolint:revive // AWS's name
}

// Wipe zeroes the plaintext of an answer once it is written.
func (c *CipherOut) Wipe() { clear(c.Plaintext) }

func validAlgorithm(v *awsapi.Validator, member string, a *string) {
	v.Enum(member, a, "SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE")
}

func checkAlgorithm(a *string) error {
	if a != nil && *a != symmetricDefault {
		return coffer.Errorf(coffer.ErrKMSInvalidKeyUsage, "The encryption algorithm %s is not compatible with the type of key.", *a)
	}
	return nil
}

func errDryRun() error {
	return coffer.Errorf(coffer.ErrKMSDryRunOperation, "The request would have succeeded, but the DryRun flag is set.")
}

// encryptWith seals plaintext under k's current material.
func (s *Service) encryptWith(tx coffer.Tx, k *coffer.Key, ctx map[string]string, plaintext []byte) ([]byte, error) {
	if err := usable(k); err != nil {
		return nil, err
	}
	w, err := s.wrappedMaterial(tx, k.ID, k.CurrentMaterial)
	if err != nil {
		return nil, err
	}
	return s.keys.Encrypt(k.ID, k.CurrentMaterial, w, keyring.Context(ctx), plaintext)
}

// decryptBlob opens a ciphertext blob with the key it names, which must belong to ns and
// be enabled. It returns the key and the material version used.
func (s *Service) decryptBlob(tx coffer.Tx, ns coffer.Namespace, blob []byte, ctx map[string]string) (*coffer.Key, int, []byte, error) {
	keyID, version, err := keyring.ParseBlob(blob)
	if err != nil {
		return nil, 0, nil, coffer.Errorf(coffer.ErrKMSInvalidCiphertext, "")
	}
	k, err := s.CachedKey(tx, keyID)
	if err == nil && version > k.CurrentMaterial {
		k, err = tx.Key(keyID) // rotated since it was cached, maybe by another server
	}
	if coffer.IsNotFound(err) || err == nil && k.Namespace != ns {
		return nil, 0, nil, coffer.Errorf(coffer.ErrKMSInvalidCiphertext, "")
	}
	if err != nil {
		return nil, 0, nil, err
	}
	if err := usable(k); err != nil {
		return k, 0, nil, err
	}
	if version > k.CurrentMaterial {
		return k, 0, nil, coffer.Errorf(coffer.ErrKMSInvalidCiphertext, "")
	}
	w, err := s.wrappedMaterial(tx, k.ID, version)
	if err != nil {
		return k, 0, nil, err
	}
	pt, err := s.keys.Decrypt(blob, w, keyring.Context(ctx))
	if errors.Is(err, keyring.ErrOpen) {
		return k, 0, nil, coffer.Errorf(coffer.ErrKMSInvalidCiphertext, "")
	}
	if err != nil {
		return k, 0, nil, coffer.Internal(err)
	}
	return k, version, pt, nil
}

// Encrypt encrypts up to 4 KiB under a key.
func (s *Service) Encrypt(ctx context.Context, ns coffer.Namespace, in *EncryptInput) (*CipherOut, error) {
	var v awsapi.Validator
	validKeyID(&v, in.KeyId)
	v.Required("plaintext", in.Plaintext != nil)
	v.BytesLen("plaintext", in.Plaintext, 1, 4096)
	validGrantTokens(&v, in.GrantTokens)
	validAlgorithm(&v, "encryptionAlgorithm", in.EncryptionAlgorithm)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := checkAlgorithm(in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	out := &CipherOut{EncryptionAlgorithm: symmetricDefault}
	err := s.view(ctx, func(tx coffer.Tx) error {
		k, err := s.resolve(tx, ns, *in.KeyId, true)
		if err != nil {
			return err
		}
		if out.CiphertextBlob, err = s.encryptWith(tx, k, in.EncryptionContext, in.Plaintext); err != nil {
			return err
		}
		out.KeyId = k.ARN()
		return nil
	})
	clear(in.Plaintext)
	if err != nil {
		return nil, err
	}
	if in.DryRun != nil && *in.DryRun {
		return nil, errDryRun()
	}
	return out, nil
}

// DecryptInput is the Decrypt request.
type DecryptInput struct {
	CiphertextBlob      Bytes
	EncryptionContext   map[string]string
	GrantTokens         []string
	KeyId               *string //nolint:revive // AWS's name
	EncryptionAlgorithm *string
	Recipient           any
	DryRun              *bool
	DryRunModifiers     []string
}

// checkExpected refuses a blob whose key is not the one the request names.
func (s *Service) checkExpected(tx coffer.Tx, ns coffer.Namespace, ref *string, blob []byte) error {
	if ref == nil {
		return nil
	}
	want, err := s.resolve(tx, ns, *ref, true)
	if err != nil {
		return err
	}
	if id, _, err := keyring.ParseBlob(blob); err == nil && id != want.ID {
		return coffer.Errorf(coffer.ErrKMSIncorrectKey, "The key ID in the request does not identify a CMK that can perform this operation.")
	}
	return nil
}

// Decrypt decrypts a ciphertext blob; the blob names its key.
func (s *Service) Decrypt(ctx context.Context, ns coffer.Namespace, in *DecryptInput) (*CipherOut, error) {
	var v awsapi.Validator
	v.Required("ciphertextBlob", in.CiphertextBlob != nil)
	v.BytesLen("ciphertextBlob", in.CiphertextBlob, 1, keyring.MaxBlobSize)
	v.Length("keyId", in.KeyId, 1, 2048, false)
	validGrantTokens(&v, in.GrantTokens)
	validAlgorithm(&v, "encryptionAlgorithm", in.EncryptionAlgorithm)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := checkAlgorithm(in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	if in.Recipient != nil {
		return nil, coffer.Errorf(coffer.ErrKMSUnsupported, "coffer does not support Nitro Enclaves recipients.")
	}
	out := &CipherOut{EncryptionAlgorithm: symmetricDefault}
	err := s.view(ctx, func(tx coffer.Tx) error {
		if err := s.checkExpected(tx, ns, in.KeyId, in.CiphertextBlob); err != nil {
			return err
		}
		k, version, pt, err := s.decryptBlob(tx, ns, in.CiphertextBlob, in.EncryptionContext)
		if err != nil {
			return err
		}
		out.KeyId, out.Plaintext, out.KeyMaterialId = k.ARN(), pt, MaterialID(k.ID, version)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if in.DryRun != nil && *in.DryRun {
		out.Wipe()
		return nil, errDryRun()
	}
	return out, nil
}

// ReEncryptInput is the ReEncrypt request.
type ReEncryptInput struct {
	CiphertextBlob                 Bytes
	SourceEncryptionContext        map[string]string
	SourceKeyId                    *string //nolint:revive // AWS's name
	DestinationKeyId               *string //nolint:revive // AWS's name
	DestinationEncryptionContext   map[string]string
	SourceEncryptionAlgorithm      *string
	DestinationEncryptionAlgorithm *string
	GrantTokens                    []string
	DryRun                         *bool
	DryRunModifiers                []string
}

// ReEncrypt decrypts a blob and encrypts its plaintext under another key (or the same key's
// current material, or another context) without the plaintext leaving the service.
func (s *Service) ReEncrypt(ctx context.Context, ns coffer.Namespace, in *ReEncryptInput) (*CipherOut, error) {
	var v awsapi.Validator
	v.Required("ciphertextBlob", in.CiphertextBlob != nil)
	v.BytesLen("ciphertextBlob", in.CiphertextBlob, 1, keyring.MaxBlobSize)
	v.Length("sourceKeyId", in.SourceKeyId, 1, 2048, false)
	v.Required("destinationKeyId", in.DestinationKeyId != nil)
	v.Length("destinationKeyId", in.DestinationKeyId, 1, 2048, false)
	validAlgorithm(&v, "sourceEncryptionAlgorithm", in.SourceEncryptionAlgorithm)
	validAlgorithm(&v, "destinationEncryptionAlgorithm", in.DestinationEncryptionAlgorithm)
	validGrantTokens(&v, in.GrantTokens)
	if err := v.Err(); err != nil {
		return nil, err
	}
	for _, a := range []*string{in.SourceEncryptionAlgorithm, in.DestinationEncryptionAlgorithm} {
		if err := checkAlgorithm(a); err != nil {
			return nil, err
		}
	}
	out := &CipherOut{SourceEncryptionAlgorithm: symmetricDefault, DestinationEncryptionAlgorithm: symmetricDefault}
	err := s.view(ctx, func(tx coffer.Tx) error {
		if err := s.checkExpected(tx, ns, in.SourceKeyId, in.CiphertextBlob); err != nil {
			return err
		}
		src, version, pt, err := s.decryptBlob(tx, ns, in.CiphertextBlob, in.SourceEncryptionContext)
		if err != nil {
			return err
		}
		defer keyring.Wipe(pt)
		dst, err := s.resolve(tx, ns, *in.DestinationKeyId, true)
		if err != nil {
			return err
		}
		if out.CiphertextBlob, err = s.encryptWith(tx, dst, in.DestinationEncryptionContext, pt); err != nil {
			return err
		}
		out.SourceKeyId, out.KeyId = src.ARN(), dst.ARN()
		out.SourceKeyMaterialId, out.DestinationKeyMaterialId = MaterialID(src.ID, version), MaterialID(dst.ID, dst.CurrentMaterial)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if in.DryRun != nil && *in.DryRun {
		return nil, errDryRun()
	}
	return out, nil
}

// GenerateDataKeyInput is the GenerateDataKey and GenerateDataKeyWithoutPlaintext request.
type GenerateDataKeyInput struct {
	KeyId             *string //nolint:revive // AWS's name
	EncryptionContext map[string]string
	NumberOfBytes     *int64
	KeySpec           *string
	GrantTokens       []string
	Recipient         any
	DryRun            *bool
}

// GenerateDataKey returns a random data key, in plaintext (unless withoutPlaintext) and
// encrypted under a key.
func (s *Service) GenerateDataKey(ctx context.Context, ns coffer.Namespace, in *GenerateDataKeyInput, withoutPlaintext bool) (*CipherOut, error) {
	var v awsapi.Validator
	validKeyID(&v, in.KeyId)
	v.RangeInt("numberOfBytes", in.NumberOfBytes, 1, 1024)
	v.Enum("keySpec", in.KeySpec, "AES_256", "AES_128")
	validGrantTokens(&v, in.GrantTokens)
	if err := v.Err(); err != nil {
		return nil, err
	}
	n := 0
	switch {
	case in.NumberOfBytes != nil && in.KeySpec != nil:
		return nil, coffer.Errorf(coffer.ErrValidation, "Please specify either number of bytes or key spec.")
	case in.NumberOfBytes != nil:
		n = int(*in.NumberOfBytes)
	case in.KeySpec != nil && *in.KeySpec == "AES_128":
		n = 16
	case in.KeySpec != nil:
		n = 32
	default:
		return nil, coffer.Errorf(coffer.ErrValidation, "Please specify either number of bytes or key spec.")
	}
	if in.Recipient != nil {
		return nil, coffer.Errorf(coffer.ErrKMSUnsupported, "coffer does not support Nitro Enclaves recipients.")
	}
	out := &CipherOut{}
	err := s.view(ctx, func(tx coffer.Tx) error {
		k, err := s.resolve(tx, ns, *in.KeyId, true)
		if err != nil {
			return err
		}
		dk := make([]byte, n)
		if _, err := io.ReadFull(s.rand, dk); err != nil {
			return coffer.Internal(err)
		}
		if out.CiphertextBlob, err = s.encryptWith(tx, k, in.EncryptionContext, dk); err != nil {
			keyring.Wipe(dk)
			return err
		}
		if withoutPlaintext {
			keyring.Wipe(dk)
		} else {
			out.Plaintext = dk
		}
		out.KeyId, out.KeyMaterialId = k.ARN(), MaterialID(k.ID, k.CurrentMaterial)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if in.DryRun != nil && *in.DryRun {
		out.Wipe()
		return nil, errDryRun()
	}
	return out, nil
}

// GenerateRandomInput is the GenerateRandom request.
type GenerateRandomInput struct {
	NumberOfBytes    *int64
	CustomKeyStoreId *string //nolint:revive // AWS's name
	Recipient        any
}

// GenerateRandom returns 1–1024 random bytes from crypto/rand.
func (s *Service) GenerateRandom(_ context.Context, _ coffer.Namespace, in *GenerateRandomInput) (*CipherOut, error) {
	var v awsapi.Validator
	v.RangeInt("numberOfBytes", in.NumberOfBytes, 1, 1024)
	v.Length("customKeyStoreId", in.CustomKeyStoreId, 1, 64, false)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if in.CustomKeyStoreId != nil {
		return nil, coffer.Errorf(coffer.ErrKMSUnsupported, "coffer has no custom key stores.")
	}
	if in.Recipient != nil {
		return nil, coffer.Errorf(coffer.ErrKMSUnsupported, "coffer does not support Nitro Enclaves recipients.")
	}
	n := 32
	if in.NumberOfBytes != nil {
		n = int(*in.NumberOfBytes)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return nil, coffer.Internal(fmt.Errorf("kms: random: %w", err))
	}
	return &CipherOut{Plaintext: b}, nil
}
