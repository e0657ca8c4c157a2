package coffer

import "time"

// Account is an AWS-style account: the owner of secrets, keys and identities.
type Account struct {
	ID          string // 12 digits
	CreatedDate time.Time
}

// RootARN is the ARN of the account's root principal.
func (a *Account) RootARN() string { return "arn:aws:iam::" + a.ID + ":root" }

// Access key states.
const (
	KeyActive   = "Active"
	KeyInactive = "Inactive"
)

// AccessKey is a long-term access key pair. The secret half is needed to verify SigV4 HMACs, so
// it is kept sealed under the root key (SealedSecret), never in plaintext.
type AccessKey struct {
	ID           string // AKIA… , 20 characters
	Account      string
	PrincipalARN string // who signs with it, e.g. arn:aws:iam::123456789012:root
	Status       string // Active or Inactive
	SealedSecret []byte
	CreatedDate  time.Time
}

// Kinds of IAM entity.
const (
	EntityUser  = "user"
	EntityGroup = "group"
	EntityRole  = "role"
)

// Entity is an IAM user, group or role of one account. Identities are global to an account,
// whichever region a request is signed for.
type Entity struct {
	Account string
	Kind    string // EntityUser, EntityGroup or EntityRole
	// Name is unique among the account's entities of its kind, compared case-insensitively
	// as IAM compares names; it is kept as written.
	Name        string
	Path        string // "/" or "/a/b/"
	ID          string // AIDA… (user), AGPA… (group), AROA… (role): 21 characters
	CreatedDate time.Time
	// Tags (users and roles) are in the order given; nil when none.
	Tags []Tag
	// PermissionsBoundary is the ARN of the managed policy bounding a user or role; "" when none.
	PermissionsBoundary string
	// Roles only.
	AssumeRolePolicy   string // the trust policy document
	Description        string
	MaxSessionDuration int // seconds, 3600–43200
}

// ARN is the entity's ARN, e.g. arn:aws:iam::123456789012:user/division/bob.
func (e *Entity) ARN() string { return "arn:aws:iam::" + e.Account + ":" + e.Kind + e.Path + e.Name }

// ManagedPolicy is a customer-managed policy of an account (Account "aws" for the policies
// coffer ships). Its documents are its PolicyVersions.
type ManagedPolicy struct {
	Account        string
	Name           string // unique per account, case-insensitively
	Path           string
	ID             string // ANPA…
	Description    string
	DefaultVersion string // "v1", "v2", …
	CreatedDate    time.Time
	UpdateDate     time.Time
	Tags           []Tag
}

// ARN is the policy's ARN, e.g. arn:aws:iam::123456789012:policy/app/read.
func (p *ManagedPolicy) ARN() string {
	return "arn:aws:iam::" + p.Account + ":policy" + p.Path + p.Name
}

// PolicyVersion is one version of a managed policy's document.
type PolicyVersion struct {
	PolicyARN   string
	VersionID   string // "v1", "v2", …
	Document    string
	CreatedDate time.Time
}

// EntityRef names an entity of an account.
type EntityRef struct {
	Account string
	Kind    string
	Name    string
}
