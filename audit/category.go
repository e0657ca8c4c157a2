package audit

import (
	"strings"
	"unicode"
)

// categories gives the category of the operations whose default (see
// Category) would group them badly, keyed by service prefix then operation.
var categories = map[string]map[string]string{
	"secrets": {
		"BatchGetSecretValue":          "secrets.get_value",
		"CancelRotateSecret":           "secrets.rotate",
		"CreateSecret":                 "secrets.create",
		"DeleteResourcePolicy":         "secrets.policy",
		"DeleteSecret":                 "secrets.delete",
		"DescribeSecret":               "secrets.read",
		"GetRandomPassword":            "secrets.random_password",
		"GetResourcePolicy":            "secrets.read",
		"GetSecretValue":               "secrets.get_value",
		"ListSecretVersionIds":         "secrets.read",
		"ListSecrets":                  "secrets.read",
		"PutResourcePolicy":            "secrets.policy",
		"PutSecretValue":               "secrets.put_value",
		"RemoveRegionsFromReplication": "secrets.replicate",
		"ReplicateSecretToRegions":     "secrets.replicate",
		"RestoreSecret":                "secrets.restore",
		"RotateSecret":                 "secrets.rotate",
		"StopReplicationToReplica":     "secrets.replicate",
		"TagResource":                  "secrets.tag",
		"UntagResource":                "secrets.tag",
		"UpdateSecret":                 "secrets.update",
		"UpdateSecretVersionStage":     "secrets.update",
		"ValidateResourcePolicy":       "secrets.read",
	},
	"kms": {
		"CancelKeyDeletion":                   "kms.key_deletion",
		"ConnectCustomKeyStore":               "kms.custom_key_store",
		"CreateAlias":                         "kms.alias",
		"CreateCustomKeyStore":                "kms.custom_key_store",
		"CreateGrant":                         "kms.grant",
		"CreateKey":                           "kms.create_key",
		"Decrypt":                             "kms.decrypt",
		"DeleteAlias":                         "kms.alias",
		"DeleteCustomKeyStore":                "kms.custom_key_store",
		"DeleteImportedKeyMaterial":           "kms.key_material",
		"DeriveSharedSecret":                  "kms.derive_shared_secret",
		"DescribeCustomKeyStores":             "kms.read",
		"DescribeKey":                         "kms.read",
		"DisableKey":                          "kms.key_state",
		"DisableKeyRotation":                  "kms.key_rotation",
		"DisconnectCustomKeyStore":            "kms.custom_key_store",
		"EnableKey":                           "kms.key_state",
		"EnableKeyRotation":                   "kms.key_rotation",
		"Encrypt":                             "kms.encrypt",
		"GenerateDataKey":                     "kms.generate_data_key",
		"GenerateDataKeyPair":                 "kms.generate_data_key",
		"GenerateDataKeyPairWithoutPlaintext": "kms.generate_data_key",
		"GenerateDataKeyWithoutPlaintext":     "kms.generate_data_key",
		"GenerateMac":                         "kms.mac",
		"GenerateRandom":                      "kms.generate_random",
		"GetKeyLastUsage":                     "kms.read",
		"GetKeyPolicy":                        "kms.read",
		"GetKeyRotationStatus":                "kms.read",
		"GetParametersForImport":              "kms.key_material",
		"GetPublicKey":                        "kms.read",
		"ImportKeyMaterial":                   "kms.key_material",
		"ListAliases":                         "kms.read",
		"ListGrants":                          "kms.read",
		"ListKeyPolicies":                     "kms.read",
		"ListKeyRotations":                    "kms.read",
		"ListKeys":                            "kms.read",
		"ListResourceTags":                    "kms.read",
		"ListRetirableGrants":                 "kms.read",
		"PutKeyPolicy":                        "kms.policy",
		"ReEncrypt":                           "kms.re_encrypt",
		"ReplicateKey":                        "kms.replicate",
		"RetireGrant":                         "kms.grant",
		"RevokeGrant":                         "kms.grant",
		"RotateKeyOnDemand":                   "kms.key_rotation",
		"ScheduleKeyDeletion":                 "kms.key_deletion",
		"Sign":                                "kms.sign",
		"TagResource":                         "kms.tag",
		"UntagResource":                       "kms.tag",
		"UpdateAlias":                         "kms.alias",
		"UpdateCustomKeyStore":                "kms.custom_key_store",
		"UpdateKeyDescription":                "kms.update",
		"UpdatePrimaryRegion":                 "kms.replicate",
		"Verify":                              "kms.verify",
		"VerifyMac":                           "kms.mac",
	},
	"sts": {
		"AssumeRole":                 "sts.assume_role",
		"AssumeRoleWithSAML":         "sts.assume_role",
		"AssumeRoleWithWebIdentity":  "sts.assume_role",
		"AssumeRoot":                 "sts.assume_role",
		"DecodeAuthorizationMessage": "sts.decode_authorization_message",
		"GetAccessKeyInfo":           "sts.read",
		"GetCallerIdentity":          "sts.read",
		"GetDelegatedAccessToken":    "sts.session_token",
		"GetFederationToken":         "sts.session_token",
		"GetSessionToken":            "sts.session_token",
		"GetWebIdentityToken":        "sts.session_token",
	},
}

// extensions are coffer's own operations, with no AWS model; they keep their
// category whichever event source the server files them under.
var extensions = map[string]string{
	"DestroySecretVersion":         "secrets.destroy_version",
	"UpdateSecretVersionRetention": "secrets.update",
	"GenerateSecretValue":          "secrets.put_value",
	"ListKeyBindings":              "kms.read",
	"ListUnusableKeyBindings":      "kms.read",
	"CreateAccount":                "iam.create_account",
	"Seal":                         "server.seal",
	"LookupEvents":                 "audit.read",
	"GetRotationStatus":            "secrets.read",
	"ResetRotation":                "secrets.rotate",
	"GetAuditDigest":               "audit.read",
	"ReportCachedReads":            "secrets.get_value",
	"WatchSecrets":                 "secrets.read",
}

// serviceEvents gives the category of the service events (background work) coffer records.
var serviceEvents = map[string]string{
	"EndSecretDeletion": "secrets.destroy",
	"RotationStarted":   "secrets.rotate",
	"RotationStep":      "secrets.rotate",
	"RotationSucceeded": "secrets.rotate",
	"RotationFailed":    "secrets.rotate",
	"RotationAbandoned": "secrets.rotate",
	"RotationTested":    "secrets.rotate",
	"DeleteKey":         "kms.key_deletion",
	"RotateKey":         "kms.key_rotation",
}

// Category returns coffer's category for an operation, such as
// "secrets.get_value" or "kms.decrypt": a coarse name that audit queries and
// alerts filter on. Operations without an entry (most of IAM) get
// "<service>.<snake_case(operation)>", where service is "secrets", "kms",
// "iam", "sts", "server" for SourceCoffer, or the event source up to its
// first dot.
func Category(eventSource, eventName string) string {
	prefix := servicePrefix(eventSource)
	if c, ok := categories[prefix][eventName]; ok {
		return c
	}
	if c, ok := serviceEvents[eventName]; ok {
		return c
	}
	if c, ok := extensions[eventName]; ok {
		return c
	}
	return prefix + "." + snakeCase(eventName)
}

// ReadOnly reports whether an operation only reads: its name starts with
// Get, List, Describe, BatchGet, Validate, Simulate, Lookup or Watch. CloudTrail's
// readOnly flag has the same meaning; every other call changes state.
func ReadOnly(eventSource, eventName string) bool {
	// KMS's cryptographic operations change nothing, and CloudTrail marks them read-only.
	if servicePrefix(eventSource) == "kms" {
		switch eventName {
		case "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
			"GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "GenerateRandom",
			"Sign", "Verify", "GenerateMac", "VerifyMac", "DeriveSharedSecret":
			return true
		}
	}
	for _, p := range []string{"Get", "List", "Describe", "BatchGet", "Validate", "Simulate", "Lookup", "Watch"} {
		if rest, ok := strings.CutPrefix(eventName, p); ok && (rest == "" || unicode.IsUpper(rune(rest[0]))) {
			return true
		}
	}
	return false
}

func servicePrefix(eventSource string) string {
	switch eventSource {
	case SourceSecretsManager, "secretsmanager":
		return "secrets"
	case SourceKMS, "kms":
		return "kms"
	case SourceIAM, "iam":
		return "iam"
	case SourceSTS, "sts":
		return "sts"
	case SourceCoffer, "":
		return "server"
	}
	service, _, _ := strings.Cut(eventSource, ".")
	return service
}

// snakeCase turns an operation name into snake case, keeping acronyms
// together: "ListMFADevices" → "list_mfa_devices", "ReEncrypt" → "re_encrypt".
func snakeCase(s string) string {
	r := []rune(s)
	var b strings.Builder
	for i, c := range r {
		if unicode.IsUpper(c) {
			if i > 0 && (unicode.IsLower(r[i-1]) || unicode.IsDigit(r[i-1]) ||
				(unicode.IsUpper(r[i-1]) && i+1 < len(r) && unicode.IsLower(r[i+1]))) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(c))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}
