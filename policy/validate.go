package policy

import (
	"strings"
)

// FindingType is how serious a finding is, as IAM Access Analyzer classifies it.
type FindingType string

// Finding types reported by Validate.
const (
	FindingError           FindingType = "ERROR"
	FindingSecurityWarning FindingType = "SECURITY_WARNING"
)

// Finding is one problem Validate found.
type Finding struct {
	Type FindingType
	// Code is IAM Access Analyzer's issue code for the check (BROAD_ACCESS and LOCKOUT,
	// which Access Analyzer's policy validation has no code for, are coffer's).
	Code string
	// Message explains the finding. It quotes at most a short piece of the document.
	Message string
	// Statement is the index of the statement at fault, or -1 for the document as a whole.
	Statement int
	// Malformed is set when the document breaks the policy grammar, so that AWS refuses to
	// store it (MalformedPolicyDocumentException).
	Malformed bool
}

// Issue codes. Most are IAM Access Analyzer's (access-analyzer-reference-policy-checks).
const (
	CodeJSONSyntaxError               = "JSON_SYNTAX_ERROR"
	CodeDataTypeMismatch              = "DATA_TYPE_MISMATCH"
	CodeInvalidPolicyElement          = "INVALID_POLICY_ELEMENT"
	CodeInvalidVersion                = "INVALID_VERSION"
	CodeMissingStatement              = "MISSING_STATEMENT"
	CodeMissingEffect                 = "MISSING_EFFECT"
	CodeInvalidEffect                 = "INVALID_EFFECT"
	CodeMissingAction                 = "MISSING_ACTION"
	CodeMissingResource               = "MISSING_RESOURCE"
	CodeMissingPrincipal              = "MISSING_PRINCIPAL"
	CodeUnsupportedElementCombination = "UNSUPPORTED_ELEMENT_COMBINATION"
	CodeInvalidActionFormat           = "INVALID_ACTION_FORMAT"
	CodeInvalidAction                 = "INVALID_ACTION"
	CodeInvalidPrincipalKey           = "INVALID_PRINCIPAL_KEY"
	CodeInvalidPrincipalFormat        = "INVALID_PRINCIPAL_FORMAT"
	CodeInvalidServicePrincipalFormat = "INVALID_SERVICE_PRINCIPAL_FORMAT"
	CodeInvalidConditionOperator      = "INVALID_CONDITION_OPERATOR"
	CodeInvalidConditionKeyFormat     = "INVALID_CONDITION_KEY_FORMAT"
	CodeBroadAccess                   = "BROAD_ACCESS"
	CodeLockout                       = "LOCKOUT"
)

// SecretsManagerActions are the actions of the secretsmanager service prefix: the operations
// of the Secrets Manager service model, which are also the actions AWS documents for it.
var SecretsManagerActions = []string{
	"BatchGetSecretValue", "CancelRotateSecret", "CreateSecret", "DeleteResourcePolicy",
	"DeleteSecret", "DescribeSecret", "GetRandomPassword", "GetResourcePolicy",
	"GetSecretValue", "ListSecretVersionIds", "ListSecrets", "PutResourcePolicy",
	"PutSecretValue", "RemoveRegionsFromReplication", "ReplicateSecretToRegions",
	"RestoreSecret", "RotateSecret", "StopReplicationToReplica", "TagResource",
	"UntagResource", "UpdateSecret", "UpdateSecretVersionStage", "ValidateResourcePolicy",
}

// Validate checks a secret's resource policy and returns what is wrong with it, nil when
// nothing is. Findings with Malformed set are the ones Parse refuses; the others (unknown
// secretsmanager actions, broad access, lockout) leave a policy AWS would still store.
func Validate(doc string) []Finding {
	p, findings := parse(doc)
	if p == nil {
		return findings
	}
	for i, s := range p.Statements {
		if s.Principal == nil && s.NotPrincipal == nil {
			findings = append(findings, Finding{Type: FindingError, Code: CodeMissingPrincipal,
				Message: "Add a Principal element to the policy statement.", Statement: i, Malformed: true})
		}
		for _, list := range [][]string{s.Action, s.NotAction} {
			for _, a := range list {
				if validActionFormat(a) && !knownAction(a) {
					findings = append(findings, Finding{Type: FindingError, Code: CodeInvalidAction,
						Message: "The action " + quoteShort(a) + " does not exist.", Statement: i})
				}
			}
		}
	}
	if len(findings) > 0 {
		return findings
	}
	if IsPublic(p) {
		findings = append(findings, Finding{Type: FindingSecurityWarning, Code: CodeBroadAccess,
			Message: "This resource policy grants broad access to your secret.", Statement: -1})
	}
	if locksOut(p) {
		findings = append(findings, Finding{Type: FindingSecurityWarning, Code: CodeLockout,
			Message: "Your requested changes will not allow you to manage this secret in the future.", Statement: -1})
	}
	return findings
}

// knownAction reports whether a well-formed action names at least one action that exists.
// Only secretsmanager: is checked; other services' catalogues are not known here.
func knownAction(a string) bool {
	svc, name, ok := strings.Cut(a, ":")
	if !ok || !strings.EqualFold(svc, "secretsmanager") {
		return true
	}
	for _, known := range SecretsManagerActions {
		if MatchAction(name, known) {
			return true
		}
	}
	return false
}

// MatchAction reports whether pattern, an action name that may hold the wildcards * (any run
// of characters) and ? (one character), matches name. IAM compares action names without
// regard to case.
func MatchAction(pattern, name string) bool {
	return Match(strings.ToLower(pattern), strings.ToLower(name))
}

// Match reports whether s matches pattern, where * matches any run of characters and ? any
// one character, as in IAM's Action, Resource and StringLike matching. It is case-sensitive.
func Match(pattern, s string) bool {
	p, str := []rune(pattern), []rune(s)
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(str) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && (p[pi] == '?' || p[pi] == str[si]):
			pi++
			si++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// locksOut reports whether an unconditional Deny keeps every principal from changing or
// removing the policy, so that no one could manage the secret's permissions again.
func locksOut(p *Policy) bool {
	for _, s := range p.Statements {
		if s.Effect != Deny || len(s.Condition) > 0 || !s.Principal.Everyone() {
			continue
		}
		if s.NotResource != nil {
			continue
		}
		if coversAction(s, "PutResourcePolicy") && coversAction(s, "DeleteResourcePolicy") {
			return true
		}
	}
	return false
}

// coversAction reports whether statement s applies to secretsmanager:name.
func coversAction(s Statement, name string) bool {
	full := "secretsmanager:" + name
	if s.NotAction != nil {
		for _, a := range s.NotAction {
			if a == "*" || MatchAction(a, full) {
				return false
			}
		}
		return true
	}
	for _, a := range s.Action {
		if a == "*" || MatchAction(a, full) {
			return true
		}
	}
	return false
}
