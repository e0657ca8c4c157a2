package coffer

import (
	"fmt"
	"time"
)

// KMS key states, as KMS names them.
const (
	KeyStateEnabled         = "Enabled"
	KeyStateDisabled        = "Disabled"
	KeyStatePendingDeletion = "PendingDeletion"
)

// Who manages a key, as KMS's KeyManager says.
const (
	KeyManagerAWS      = "AWS"      // alias/aws/secretsmanager: created by the service, never disabled or deleted
	KeyManagerCustomer = "CUSTOMER" // created by CreateKey
)

// Key is a KMS key's metadata. Its key material lives in KeyMaterial rows, wrapped under the
// root key. Keys belong to one namespace (account and region), as in AWS; their ids are
// UUIDs, unique across the deployment.
type Key struct {
	ID          string // UUID
	Namespace   Namespace
	Description string
	Manager     string // KeyManagerAWS or KeyManagerCustomer
	State       string // one of the KeyState constants
	Policy      string // the key policy document ("default" is its only name)
	// Tags are in the order given; nil when none.
	Tags []Tag

	CreatedDate time.Time
	// DeletionDate is when a key pending deletion is deleted for good; zero otherwise.
	DeletionDate time.Time
	// PendingWindowDays is the window asked for by ScheduleKeyDeletion; 0 otherwise.
	PendingWindowDays int

	RotationEnabled    bool
	RotationPeriodDays int       // automatic rotation period (90–2560); 0 when never set
	NextRotationDate   time.Time // when automatic rotation is next due; zero when disabled
	// CurrentMaterial is the Version of the material used for new encryptions; older
	// materials still decrypt.
	CurrentMaterial int
}

// KeyARN builds the ARN of a KMS key.
func KeyARN(ns Namespace, id string) string {
	return "arn:aws:kms:" + ns.Region + ":" + ns.Account + ":key/" + id
}

// AliasARN builds the ARN of a KMS alias (name includes the "alias/" prefix).
func AliasARN(ns Namespace, name string) string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:%s", ns.Region, ns.Account, name)
}

// ARN is the key's ARN.
func (k *Key) ARN() string { return KeyARN(k.Namespace, k.ID) }

// Material rotation types, as ListKeyRotations names them.
const (
	RotationAutomatic = "AUTOMATIC"
	RotationOnDemand  = "ON_DEMAND"
)

// KeyMaterial is one generation of a key's material, wrapped under the root key. Version 1
// is the material the key was created with; each rotation adds the next version.
type KeyMaterial struct {
	KeyID        string
	Version      int    // 1, 2, …
	Wrapped      []byte // the 256-bit material sealed under the root key
	CreatedDate  time.Time
	RotationType string // "" for version 1; RotationAutomatic or RotationOnDemand after
}

// Alias is a friendly name for a key in one namespace.
type Alias struct {
	Namespace       Namespace
	Name            string // "alias/…"
	KeyID           string
	CreatedDate     time.Time
	LastUpdatedDate time.Time
}

// KeyBinding is a secret version whose data key a KMS key protects.
type KeyBinding struct {
	SecretARN     string
	SecretName    string
	VersionID     string
	Stages        []string // sorted
	SecretDeleted bool     // the secret is scheduled for deletion
}
