package kms

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsapi"
	"github.com/coffer-project/coffer/policy"
)

// CreateKeyInput is the CreateKey request.
type CreateKeyInput struct {
	Policy                         *string
	Description                    *string
	KeyUsage                       *string
	CustomerMasterKeySpec          *string
	KeySpec                        *string
	Origin                         *string
	CustomKeyStoreId               *string //nolint:revive // AWS's name
	BypassPolicyLockoutSafetyCheck *bool
	Tags                           []Tag
	MultiRegion                    *bool
	XksKeyId                       *string //nolint:revive // AWS's name
}

// KeyMetadataOut is the answer of CreateKey and DescribeKey.
type KeyMetadataOut struct {
	KeyMetadata *KeyMetadata `json:"KeyMetadata"`
}

var keyUsages = []string{"SIGN_VERIFY", "ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT"}
var keySpecs = []string{"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1",
	"SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512", "SM2", "ML_DSA_44", "ML_DSA_65", "ML_DSA_87", "ECC_NIST_EDWARDS25519"}

func validPolicy(v *awsapi.Validator, p *string) {
	v.Length("policy", p, 1, 131072, false)
}

// checkPolicy parses a key policy document: a document that does not parse is
// MalformedPolicyDocumentException. Policies are evaluated by the access-control layer.
func checkPolicy(doc string) error {
	if _, err := policy.Parse(doc); err != nil {
		return coffer.Errorf(coffer.ErrMalformedPolicyDocument, "The new key policy will not allow you to update the key policy in the future.")
	}
	return nil
}

// validTags checks KMS tags: 1–128 character keys, 0–256 character values, no "aws:" prefix.
func validTags(tags []Tag) error {
	var v awsapi.Validator
	for i, t := range tags {
		m := fmt.Sprintf("tags.%d.member.", i+1)
		v.Required(m+"tagKey", t.TagKey != nil)
		v.Required(m+"tagValue", t.TagValue != nil)
		v.Length(m+"tagKey", t.TagKey, 1, 128, false)
		v.Length(m+"tagValue", t.TagValue, 0, 256, false)
	}
	if err := v.Err(); err != nil {
		return err
	}
	for _, t := range tags {
		if strings.HasPrefix(strings.ToLower(*t.TagKey), "aws:") {
			return coffer.Errorf(coffer.ErrKMSTag, "Tags beginning with aws: are reserved")
		}
	}
	return nil
}

// mergeTags applies tags to existing ones: a key already present gets the new value.
func mergeTags(have []coffer.Tag, add []Tag) ([]coffer.Tag, error) {
	out := append([]coffer.Tag(nil), have...)
	for _, t := range add {
		found := false
		for i := range out {
			if out[i].Key == *t.TagKey {
				out[i].Value, found = *t.TagValue, true
			}
		}
		if !found {
			out = append(out, coffer.Tag{Key: *t.TagKey, Value: *t.TagValue})
		}
	}
	if len(out) > 50 {
		return nil, coffer.Errorf(coffer.ErrKMSTag, "Too many tags: a key can have at most 50 tags.")
	}
	return out, nil
}

// CreateKey creates a customer-managed symmetric encryption key.
func (s *Service) CreateKey(ctx context.Context, ns coffer.Namespace, in *CreateKeyInput) (*KeyMetadataOut, error) {
	var v awsapi.Validator
	validPolicy(&v, in.Policy)
	v.Length("description", in.Description, 0, 8192, false)
	v.Enum("keyUsage", in.KeyUsage, keyUsages...)
	v.Enum("customerMasterKeySpec", in.CustomerMasterKeySpec, keySpecs[:12]...)
	v.Enum("keySpec", in.KeySpec, keySpecs...)
	v.Enum("origin", in.Origin, "AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE")
	v.Length("customKeyStoreId", in.CustomKeyStoreId, 1, 64, false)
	v.Length("xksKeyId", in.XksKeyId, 1, 128, false)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if in.KeySpec != nil && in.CustomerMasterKeySpec != nil {
		return nil, coffer.Errorf(coffer.ErrValidation, "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.")
	}
	spec := str(in.KeySpec)
	if spec == "" {
		spec = str(in.CustomerMasterKeySpec)
	}
	switch {
	case in.KeyUsage != nil && *in.KeyUsage != encryptDecrypt, spec != "" && spec != symmetricDefault:
		return nil, coffer.Errorf(coffer.ErrKMSUnsupported, "coffer supports symmetric encryption keys only (KeySpec SYMMETRIC_DEFAULT, KeyUsage ENCRYPT_DECRYPT).")
	case in.Origin != nil && *in.Origin != "AWS_KMS":
		return nil, coffer.Errorf(coffer.ErrKMSUnsupported, "coffer supports key material it generates only (Origin AWS_KMS).")
	case in.CustomKeyStoreId != nil || in.XksKeyId != nil:
		return nil, coffer.Errorf(coffer.ErrKMSUnsupported, "coffer has no custom key stores.")
	case in.MultiRegion != nil && *in.MultiRegion:
		return nil, coffer.Errorf(coffer.ErrKMSUnsupported, "coffer does not create multi-Region keys.")
	}
	if err := validTags(in.Tags); err != nil {
		return nil, err
	}
	pol := defaultPolicy(ns)
	if in.Policy != nil {
		if err := checkPolicy(*in.Policy); err != nil {
			return nil, err
		}
		pol = *in.Policy
	}
	id, err := s.newUUID()
	if err != nil {
		return nil, err
	}
	wrapped, err := s.keys.NewMaterial(id, 1)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	k := &coffer.Key{ID: id, Namespace: ns, Description: str(in.Description), Manager: coffer.KeyManagerCustomer,
		State: coffer.KeyStateEnabled, Policy: pol, CreatedDate: now, CurrentMaterial: 1}
	if len(in.Tags) > 0 {
		if k.Tags, err = mergeTags(nil, in.Tags); err != nil {
			return nil, err
		}
	}
	err = s.update(ctx, func(tx coffer.Tx) error {
		if err := tx.InsertKey(k); err != nil {
			return err
		}
		return tx.InsertKeyMaterial(&coffer.KeyMaterial{KeyID: id, Version: 1, Wrapped: wrapped, CreatedDate: now})
	})
	if err != nil {
		return nil, err
	}
	return &KeyMetadataOut{KeyMetadata: metadata(k)}, nil
}

// KeyIDInput is the request of the operations that take only a KeyId (and grant tokens).
type KeyIDInput struct {
	KeyId       *string //nolint:revive // AWS's name
	GrantTokens []string
}

func validKeyID(v *awsapi.Validator, id *string) {
	v.Required("keyId", id != nil)
	v.Length("keyId", id, 1, 2048, false)
}

func validGrantTokens(v *awsapi.Validator, t []string) {
	if len(t) > 10 {
		v.Add("grantTokens", "", true, "Member must have length less than or equal to 10")
	}
}

// DescribeKey describes a key named by id, ARN, alias or alias ARN.
func (s *Service) DescribeKey(ctx context.Context, ns coffer.Namespace, in *KeyIDInput) (*KeyMetadataOut, error) {
	var v awsapi.Validator
	validKeyID(&v, in.KeyId)
	validGrantTokens(&v, in.GrantTokens)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var k *coffer.Key
	err := s.view(ctx, func(tx coffer.Tx) (err error) {
		k, err = s.resolve(tx, ns, *in.KeyId, true)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &KeyMetadataOut{KeyMetadata: metadata(k)}, nil
}

// PageInput is the Limit/Marker pair of KMS's list operations.
type PageInput struct {
	KeyId  *string //nolint:revive // AWS's name
	Limit  *int64
	Marker *string
}

// ListKeysOut is the ListKeys answer.
type ListKeysOut struct {
	Keys       []KeyListEntry `json:"Keys"`
	NextMarker string         `json:"NextMarker,omitempty"`
	Truncated  bool           `json:"Truncated"`
}

// KeyListEntry is one key of ListKeys.
type KeyListEntry struct {
	KeyId  string `json:"KeyId"` //nolint:revive // AWS's name
	KeyArn string `json:"KeyArn"`
}

func validPage(v *awsapi.Validator, in *PageInput, max int64) {
	v.RangeInt("limit", in.Limit, 1, max)
	v.Length("marker", in.Marker, 1, 1024, false)
}

func limitOf(l *int64, def int) int {
	if l == nil {
		return def
	}
	return int(*l)
}

// markers are opaque to clients: the position, base64url.
func encodeMarker(pos string) string { return base64.RawURLEncoding.EncodeToString([]byte(pos)) }

func decodeMarker(m *string) (string, error) {
	if m == nil {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(*m)
	if err != nil || len(b) == 0 || !utf8.Valid(b) || strings.ContainsRune(string(b), 0) {
		return "", coffer.Errorf(coffer.ErrKMSInvalidMarker, "Invalid marker")
	}
	return string(b), nil
}

// ListKeys lists the keys of ns, customer-managed and AWS-managed.
func (s *Service) ListKeys(ctx context.Context, ns coffer.Namespace, in *PageInput) (*ListKeysOut, error) {
	var v awsapi.Validator
	validPage(&v, in, 1000)
	if err := v.Err(); err != nil {
		return nil, err
	}
	after, err := decodeMarker(in.Marker)
	if err != nil {
		return nil, err
	}
	limit := limitOf(in.Limit, 100)
	out := &ListKeysOut{Keys: []KeyListEntry{}}
	err = s.view(ctx, func(tx coffer.Tx) error {
		keys, err := tx.ListKeys(ns, after, limit+1)
		if err != nil {
			return err
		}
		out.Keys = out.Keys[:0]
		for i, k := range keys {
			if i == limit {
				out.Truncated, out.NextMarker = true, encodeMarker(keys[i-1].ID)
				break
			}
			out.Keys = append(out.Keys, KeyListEntry{KeyId: k.ID, KeyArn: k.ARN()})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// customerKey resolves a key for a management operation (key id or ARN only) and refuses
// AWS-managed keys with what.
func (s *Service) customerKey(tx coffer.Tx, ns coffer.Namespace, ref, what string) (*coffer.Key, error) {
	k, err := s.resolve(tx, ns, ref, false)
	if err != nil {
		return nil, err
	}
	if k.Manager == coffer.KeyManagerAWS {
		return nil, errManaged(k, what)
	}
	return k, nil
}

// changeKey runs change on the key ref names, inside a write transaction, and stores it.
func (s *Service) changeKey(ctx context.Context, ns coffer.Namespace, ref *string, managedWhat string, change func(tx coffer.Tx, k *coffer.Key) error) (*coffer.Key, error) {
	var v awsapi.Validator
	validKeyID(&v, ref)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var k *coffer.Key
	err := s.update(ctx, func(tx coffer.Tx) (err error) {
		if managedWhat == "" {
			k, err = s.resolve(tx, ns, *ref, false)
		} else {
			k, err = s.customerKey(tx, ns, *ref, managedWhat)
		}
		if err != nil {
			return err
		}
		if err := change(tx, k); err != nil {
			return err
		}
		return tx.UpdateKey(k)
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// Empty is the answer of operations that return nothing.
type Empty struct{}

// EnableKey enables a disabled key.
func (s *Service) EnableKey(ctx context.Context, ns coffer.Namespace, in *KeyIDInput) (*Empty, error) {
	_, err := s.changeKey(ctx, ns, in.KeyId, "it cannot be enabled or disabled", func(_ coffer.Tx, k *coffer.Key) error {
		if k.State == coffer.KeyStatePendingDeletion {
			return errPendingDeletion(k)
		}
		k.State = coffer.KeyStateEnabled
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Empty{}, nil
}

// DisableKey disables a key, unless it still protects secrets that are not scheduled for
// deletion (see checkUnused).
func (s *Service) DisableKey(ctx context.Context, ns coffer.Namespace, in *KeyIDInput) (*Empty, error) {
	_, err := s.changeKey(ctx, ns, in.KeyId, "it cannot be enabled or disabled", func(tx coffer.Tx, k *coffer.Key) error {
		switch k.State {
		case coffer.KeyStatePendingDeletion:
			return errPendingDeletion(k)
		case coffer.KeyStateDisabled:
			return nil
		}
		if err := s.checkUnused(tx, k, "disable"); err != nil {
			return err
		}
		k.State = coffer.KeyStateDisabled
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Empty{}, nil
}

// ScheduleKeyDeletionInput is the ScheduleKeyDeletion request.
type ScheduleKeyDeletionInput struct {
	KeyId               *string //nolint:revive // AWS's name
	PendingWindowInDays *int64
}

// ScheduleKeyDeletionOut is the ScheduleKeyDeletion answer.
type ScheduleKeyDeletionOut struct {
	KeyId               string            `json:"KeyId"` //nolint:revive // AWS's name
	DeletionDate        *awsapi.Timestamp `json:"DeletionDate"`
	KeyState            string            `json:"KeyState"`
	PendingWindowInDays int               `json:"PendingWindowInDays"`
}

// ScheduleKeyDeletion puts a key in PendingDeletion for 7–30 days (30 by default); the
// scheduler deletes it, with its material, when the window ends.
func (s *Service) ScheduleKeyDeletion(ctx context.Context, ns coffer.Namespace, in *ScheduleKeyDeletionInput) (*ScheduleKeyDeletionOut, error) {
	var v awsapi.Validator
	v.RangeInt("pendingWindowInDays", in.PendingWindowInDays, 1, 365)
	if err := v.Err(); err != nil {
		return nil, err
	}
	days := 30
	if in.PendingWindowInDays != nil {
		days = int(*in.PendingWindowInDays)
		if days < 7 || days > 30 {
			return nil, coffer.Errorf(coffer.ErrValidation, "PendingWindowInDays value is not within the acceptable range of 7 to 30 days.")
		}
	}
	k, err := s.changeKey(ctx, ns, in.KeyId, "it cannot be deleted", func(tx coffer.Tx, k *coffer.Key) error {
		if k.State == coffer.KeyStatePendingDeletion {
			return errPendingDeletion(k)
		}
		if err := s.checkUnused(tx, k, "schedule the deletion of"); err != nil {
			return err
		}
		k.State = coffer.KeyStatePendingDeletion
		k.PendingWindowDays = days
		k.DeletionDate = s.clock().AddDate(0, 0, days)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ScheduleKeyDeletionOut{KeyId: k.ARN(), DeletionDate: awsapi.TimePtr(k.DeletionDate), KeyState: k.State, PendingWindowInDays: days}, nil
}

// KeyARNOut is the answer of operations that return only the key's ARN as KeyId.
type KeyARNOut struct {
	KeyId string `json:"KeyId"` //nolint:revive // AWS's name
}

// CancelKeyDeletion takes a key out of PendingDeletion; as in AWS, it is then Disabled.
func (s *Service) CancelKeyDeletion(ctx context.Context, ns coffer.Namespace, in *KeyIDInput) (*KeyARNOut, error) {
	k, err := s.changeKey(ctx, ns, in.KeyId, "it cannot be deleted", func(_ coffer.Tx, k *coffer.Key) error {
		if k.State != coffer.KeyStatePendingDeletion {
			return coffer.Errorf(coffer.ErrKMSInvalidState, "%s is not pending deletion.", k.ARN())
		}
		k.State = coffer.KeyStateDisabled
		k.DeletionDate, k.PendingWindowDays = time.Time{}, 0
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &KeyARNOut{KeyId: k.ARN()}, nil
}

// UpdateKeyDescriptionInput is the UpdateKeyDescription request.
type UpdateKeyDescriptionInput struct {
	KeyId       *string //nolint:revive // AWS's name
	Description *string
}

// UpdateKeyDescription replaces a key's description.
func (s *Service) UpdateKeyDescription(ctx context.Context, ns coffer.Namespace, in *UpdateKeyDescriptionInput) (*Empty, error) {
	var v awsapi.Validator
	v.Required("description", in.Description != nil)
	v.Length("description", in.Description, 0, 8192, false)
	if err := v.Err(); err != nil {
		return nil, err
	}
	_, err := s.changeKey(ctx, ns, in.KeyId, "its description cannot be changed", func(_ coffer.Tx, k *coffer.Key) error {
		if k.State == coffer.KeyStatePendingDeletion {
			return errPendingDeletion(k)
		}
		k.Description = *in.Description
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Empty{}, nil
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
