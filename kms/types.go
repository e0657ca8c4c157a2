package kms

import (
	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsapi"
)

// Wire shapes, member for member as kms.service-2.json names them. Inputs are decoded by
// awsapi.Decode; outputs are encoded as they are, empty members left out as AWS leaves them.

// Tag is a KMS tag.
type Tag struct {
	TagKey   *string `json:"TagKey,omitempty"`
	TagValue *string `json:"TagValue,omitempty"`
}

// KeyMetadata describes a key.
type KeyMetadata struct {
	AWSAccountId                string            `json:"AWSAccountId"` //nolint:revive // AWS's name
	KeyId                       string            `json:"KeyId"`        //nolint:revive // AWS's name
	Arn                         string            `json:"Arn"`
	CreationDate                *awsapi.Timestamp `json:"CreationDate,omitempty"`
	Enabled                     bool              `json:"Enabled"`
	Description                 string            `json:"Description"`
	KeyUsage                    string            `json:"KeyUsage"`
	KeyState                    string            `json:"KeyState"`
	DeletionDate                *awsapi.Timestamp `json:"DeletionDate,omitempty"`
	Origin                      string            `json:"Origin"`
	KeyManager                  string            `json:"KeyManager"`
	CustomerMasterKeySpec       string            `json:"CustomerMasterKeySpec"`
	KeySpec                     string            `json:"KeySpec"`
	EncryptionAlgorithms        []string          `json:"EncryptionAlgorithms"`
	MultiRegion                 bool              `json:"MultiRegion"`
	PendingDeletionWindowInDays int               `json:"PendingDeletionWindowInDays,omitempty"`
	CurrentKeyMaterialId        string            `json:"CurrentKeyMaterialId,omitempty"` //nolint:revive // AWS's name
}

const (
	symmetricDefault = "SYMMETRIC_DEFAULT"
	encryptDecrypt   = "ENCRYPT_DECRYPT"
)

func metadata(k *coffer.Key) *KeyMetadata {
	m := &KeyMetadata{
		AWSAccountId: k.Namespace.Account, KeyId: k.ID, Arn: k.ARN(),
		CreationDate: awsapi.TimePtr(k.CreatedDate), Enabled: k.State == coffer.KeyStateEnabled,
		Description: k.Description, KeyUsage: encryptDecrypt, KeyState: k.State,
		Origin: "AWS_KMS", KeyManager: k.Manager, CustomerMasterKeySpec: symmetricDefault,
		KeySpec: symmetricDefault, EncryptionAlgorithms: []string{symmetricDefault},
		CurrentKeyMaterialId: MaterialID(k.ID, k.CurrentMaterial),
	}
	if k.State == coffer.KeyStatePendingDeletion {
		m.DeletionDate = awsapi.TimePtr(k.DeletionDate)
		m.PendingDeletionWindowInDays = k.PendingWindowDays
	}
	return m
}

func tagsOut(tags []coffer.Tag) []Tag {
	out := make([]Tag, len(tags))
	for i := range tags {
		out[i] = Tag{TagKey: &tags[i].Key, TagValue: &tags[i].Value}
	}
	return out
}
