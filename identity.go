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
