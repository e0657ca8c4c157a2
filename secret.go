package coffer

import "time"

// Staging labels with a meaning of their own. Any other label is a custom label.
const (
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
	StagePending  = "AWSPENDING"
)

// Tag is a key/value pair attached to a secret.
type Tag struct {
	Key   string
	Value string
}

// RotationRules are a secret's rotation schedule, as AWS models them.
type RotationRules struct {
	AutomaticallyAfterDays int64  // 0 when ScheduleExpression is used or unset
	Duration               string // e.g. "3h"; "" when unset
	ScheduleExpression     string // rate(…) or cron(…); "" when unset
}

// Secret is a secret's metadata. Its values live in Versions. All times are UTC and truncated to
// milliseconds by the core before they are stored; a zero time means "never" or "not set".
type Secret struct {
	ARN         string // arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 chars>; immutable, unique
	Namespace   Namespace
	Name        string // unique among live secrets of a namespace
	Description string
	KMSKeyID    string // as the caller gave it; "" means the namespace's default key
	Type        string // AWS's Type member (the kind of an externally managed secret); "" when unset
	// Tags are in the order given. nil means tags were never set; an empty, non-nil slice
	// means they were set and all removed (AWS then shows "Tags": []). Stores keep the
	// difference.
	Tags []Tag
	// VersionRetention is coffer's per-secret setting: how many deprecated (unlabeled)
	// versions to keep; 0 means AWS's behaviour (deprecated versions go once there are more
	// than 100 versions).
	VersionRetention int

	ResourcePolicy    string // JSON policy document, "" when none
	RotationEnabled   bool
	RotationLambdaARN string
	RotationRules     RotationRules
	OwningService     string
	PrimaryRegion     string

	CreatedDate      time.Time
	LastChangedDate  time.Time
	LastAccessedDate time.Time // day granularity, as AWS
	LastRotatedDate  time.Time
	NextRotationDate time.Time
	DeletedDate      time.Time // when DeleteSecret was called; zero when not scheduled for deletion
	PurgeDate        time.Time // when a scheduled deletion becomes final; zero when not scheduled
}

// Deleted reports whether the secret is scheduled for deletion.
func (s *Secret) Deleted() bool { return !s.DeletedDate.IsZero() }

// Version is one version of a secret's value, sealed. The store holds only ciphertext and a
// wrapped data key; the keyring package alone can open them.
type Version struct {
	SecretARN        string
	VersionID        string   // a UUID-like client request token, 32–64 characters
	Stages           []string // filled by the store from its stage table; never written through Version
	CreatedDate      time.Time
	LastAccessedDate time.Time
	KMSKeyID         string // id of the key-encryption key that wrapped WrappedKey
	Binary           bool   // SecretBinary rather than SecretString
	WrappedKey       []byte // the version's data key, wrapped under KMSKeyID; empty once destroyed
	Ciphertext       []byte // nonce || AES-256-GCM(data key, value, AAD = encryption context); empty once destroyed
	// DestroyedDate is when the version's value was destroyed (coffer's DestroySecretVersion);
	// zero for a live version. A destroyed version stays in the history, without its value.
	DestroyedDate time.Time
}

// Destroyed reports whether the version's value was destroyed.
func (v *Version) Destroyed() bool { return !v.DestroyedDate.IsZero() }

// Empty reports whether v is a version without a value yet: the placeholder RotateSecret
// makes, staged AWSPENDING, that the rotation's createSecret step fills with PutSecretValue
// under the same ClientRequestToken (AWS's "empty secret version").
func (v *Version) Empty() bool { return !v.Destroyed() && len(v.Ciphertext) == 0 }

// HasStage reports whether v carries the staging label stage.
func (v *Version) HasStage(stage string) bool {
	for _, s := range v.Stages {
		if s == stage {
			return true
		}
	}
	return false
}
