package iam

import (
	"time"

	"github.com/coffer-project/coffer"
)

// coffer's ready-made managed policies, in the account "aws" under the path /coffer/, as AWS
// ships its managed policies: attach them instead of writing the common cases by hand. Their
// documents only name actions; what a principal may then do is decided by evaluation, with
// the resource policies and key policies that apply.
var Managed = []struct {
	Name, Description, Document string
}{
	{"CofferSecretsMetadataReadOnly", "Describe and list secrets and their versions, never read a value",
		`{"Version":"2012-10-17","Statement":[{"Sid":"SecretMetadata","Effect":"Allow","Action":["secretsmanager:DescribeSecret","secretsmanager:ListSecrets","secretsmanager:ListSecretVersionIds","secretsmanager:GetResourcePolicy"],"Resource":"*"},{"Sid":"KeyMetadata","Effect":"Allow","Action":["kms:DescribeKey","kms:ListKeys","kms:ListAliases"],"Resource":"*"}]}`},
	{"CofferSecretsReadValues", "Read secret values (and their metadata); decrypt under the secrets' keys through Secrets Manager only",
		`{"Version":"2012-10-17","Statement":[{"Sid":"ReadSecrets","Effect":"Allow","Action":["secretsmanager:GetSecretValue","secretsmanager:BatchGetSecretValue","secretsmanager:DescribeSecret","secretsmanager:ListSecrets","secretsmanager:ListSecretVersionIds"],"Resource":"*"},{"Sid":"DecryptViaSecretsManager","Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"StringLike":{"kms:ViaService":"secretsmanager.*.amazonaws.com"}}}]}`},
	{"CofferSecretsAdministrator", "Every Secrets Manager operation and coffer's secret extensions; use of keys through Secrets Manager",
		`{"Version":"2012-10-17","Statement":[{"Sid":"Secrets","Effect":"Allow","Action":["secretsmanager:*","coffer:DestroySecretVersion","coffer:UpdateSecretVersionRetention","coffer:GenerateSecretValue","coffer:GetRotationStatus","coffer:ResetRotation"],"Resource":"*"},{"Sid":"RotationFunctions","Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:*:*:function:*"},{"Sid":"KeysViaSecretsManager","Effect":"Allow","Action":["kms:Decrypt","kms:GenerateDataKey*","kms:ReEncrypt*","kms:DescribeKey","kms:ListAliases"],"Resource":"*","Condition":{"StringLike":{"kms:ViaService":"secretsmanager.*.amazonaws.com"}}}]}`},
	{"CofferKeyAdministrator", "Manage KMS keys (create, describe, enable, disable, rotate, schedule deletion, aliases, tags, key policies) without using them to encrypt or decrypt",
		`{"Version":"2012-10-17","Statement":[{"Sid":"KeyAdministration","Effect":"Allow","Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion","kms:RotateKeyOnDemand","coffer:ListKeyBindings","coffer:ListUnusableKeyBindings"],"Resource":"*"}]}`},
	{"CofferAuditor", "Query the audit trail and read metadata; no secret value, no key use, no change",
		`{"Version":"2012-10-17","Statement":[{"Sid":"Audit","Effect":"Allow","Action":["coffer:LookupEvents","coffer:GetAuditDigest"],"Resource":"*"},{"Sid":"Metadata","Effect":"Allow","Action":["secretsmanager:DescribeSecret","secretsmanager:ListSecrets","secretsmanager:ListSecretVersionIds","kms:DescribeKey","kms:ListKeys","kms:ListAliases","iam:Get*","iam:List*"],"Resource":"*"}]}`},
}

// ManagedPath is the path of coffer's managed policies.
const ManagedPath = "/coffer/"

// SeedManaged stores coffer's managed policies in tx when they are missing, and brings a
// stored one up to date (as a new default version) when its document changed in a release.
func SeedManaged(tx coffer.Tx, now time.Time) error {
	for i, m := range Managed {
		p := &coffer.ManagedPolicy{Account: "aws", Name: m.Name, Path: ManagedPath, ID: managedID(i),
			Description: m.Description, DefaultVersion: "v1", CreatedDate: now, UpdateDate: now}
		have, err := tx.ManagedPolicy(p.ARN())
		if coffer.IsNotFound(err) {
			if err := tx.InsertManagedPolicy(p); err != nil {
				return err
			}
			if err := tx.InsertPolicyVersion(&coffer.PolicyVersion{PolicyARN: p.ARN(), VersionID: "v1", Document: m.Document, CreatedDate: now}); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		vs, err := tx.PolicyVersions(have.ARN())
		if err != nil {
			return err
		}
		current := ""
		for _, v := range vs {
			if v.VersionID == have.DefaultVersion {
				current = v.Document
			}
		}
		if current == m.Document {
			continue
		}
		next := "v" + itoa(atoiVersion(vs[len(vs)-1].VersionID)+1)
		if err := tx.InsertPolicyVersion(&coffer.PolicyVersion{PolicyARN: have.ARN(), VersionID: next, Document: m.Document, CreatedDate: now}); err != nil {
			return err
		}
		if len(vs) >= maxPolicyVersions {
			if err := tx.DeletePolicyVersion(have.ARN(), vs[0].VersionID); err != nil {
				return err
			}
		}
		have.DefaultVersion, have.UpdateDate, have.Description = next, now, m.Description
		if err := tx.UpdateManagedPolicy(have); err != nil {
			return err
		}
	}
	return nil
}

// managedID is the fixed unique id of coffer's i-th managed policy.
func managedID(i int) string {
	const pad = "ANPACOFFERMANAGED"
	return pad + string(idAlphabet[i/len(idAlphabet)%len(idAlphabet)]) + string(idAlphabet[i%len(idAlphabet)]) + "AA"
}
