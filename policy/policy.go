// Package policy parses, checks and evaluates IAM-style policy documents: a secret's resource
// policy as AWS Secrets Manager accepts it, key policies, identity and session policies and
// permissions boundaries. It is pure: no I/O, no clock (the time of a request comes in as its
// aws:CurrentTime key), no global state; every function is safe for concurrent use.
//
// Parse turns a document into a Policy that keeps what the author wrote — original strings,
// element by element, with every "string or list of strings" normalised to a []string and
// absent elements left nil — so that an evaluator can later decide a request against it.
// Parse refuses what AWS's policy grammar refuses: JSON that does not parse (including an
// object with a key twice), elements of the wrong JSON type, unknown elements, a Version other
// than 2012-10-17 or 2008-10-17, an Effect other than Allow or Deny, a statement without
// Action/NotAction or with both (likewise Principal/NotPrincipal, Resource/NotResource),
// actions not of the form "service:Action" or "*", principal keys other than AWS, Service,
// Federated and CanonicalUser, malformed AWS or service principals, unknown condition
// operators and condition keys not of the form "prefix:key".
//
// Validate adds the checks that concern a secret's resource policy: every statement names a
// principal; secretsmanager: actions exist (the operations of the service model, with * and ?
// wildcards); a statement that grants broad access (IsPublic); a Deny that locks everyone out
// of managing the secret. It reports findings after IAM Access Analyzer's policy checks
// (issue codes and, where AWS documents them, its wording).
//
// Evaluate decides a Request against one policy: Deny when an applicable Deny statement
// exists, else Allow when an applicable Allow does, else NotApplicable. A statement applies
// when Action/NotAction matches (IAM wildcards, case-insensitive), Resource/NotResource
// matches the resource ARN (wildcards, case-sensitive), for a ResourcePolicy
// Principal/NotPrincipal names the caller (everyone, its account by ID or root ARN, its user
// ARN, its session or the session's role, a service), and every condition holds. Conditions
// cover every operator AWS defines (String*, Numeric*, Date* with ISO 8601 or epoch seconds,
// Bool, BinaryEquals, IpAddress/NotIpAddress for IPv4 and IPv6, Arn* part by part, Null), the
// IfExists suffix and the ForAnyValue/ForAllValues set operators, with AWS's rules for a
// missing key. In 2012-10-17 documents, policy variables (${aws:username}, ${aws:userid},
// ${aws:PrincipalTag/KEY}, any single-valued request key, the escapes ${*}, ${?}, ${$} and
// defaults as ${key, 'default'}) are substituted in Resource and in String and Arn condition
// values; a variable without a value makes that value match nothing.
//
// Decide combines the policies of a request as AWS's evaluation logic does: an explicit
// Deny anywhere wins; identity policies are intersected with session policies and the
// permissions boundary; in the resource's account a resource policy may grant on its own,
// across accounts both sides must allow; and with KeyPolicyGate (KMS) the key policy must
// allow. Result.Message words a denial as AWS does.
//
// The request context is the caller's to fill: Request.Keys carries the global keys
// (aws:CurrentTime, aws:EpochTime, aws:SourceIp, aws:SecureTransport, aws:ResourceTag/KEY,
// aws:RequestTag/KEY, aws:TagKeys, ...) and the service keys (secretsmanager:ResourceTag/KEY,
// kms:ViaService, kms:CallerAccount, ...); keys about the principal (aws:username,
// aws:userid, aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalType, aws:PrincipalTag/KEY,
// aws:PrincipalIsAWSService, aws:PrincipalServiceName) are derived from Request.Principal.
//
// Not covered: the ARN, Region and account checks Access Analyzer makes on Resource elements
// and condition values; whether principals exist (AWS resolves them and answers "unsupported
// principal"); the action catalogue of services other than secretsmanager; condition keys'
// data types; Organizations SCPs and RCPs, grants and VPC endpoint policies; and the
// automated reasoning (Zelkova) AWS uses to call a policy public — IsPublic is a syntactic
// approximation described on the function.
package policy

import (
	"fmt"
	"strings"
)

// MaxResourcePolicyLength is the largest resource policy, in characters, Secrets Manager
// accepts (NonEmptyResourcePolicyType in the service model).
const MaxResourcePolicyLength = 20480

// Policy language versions AWS accepts. A document without Version is read as 2008-10-17.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Effect is a statement's Effect element, and the outcome of evaluating a policy.
type Effect string

// Effects. NotApplicable is never a statement's Effect: it is what Evaluate returns when no
// statement applies to a request.
const (
	NotApplicable Effect = "NotApplicable"
	Allow         Effect = "Allow"
	Deny          Effect = "Deny"
)

// Policy is a parsed policy document.
type Policy struct {
	Version    string // as written; "" when absent
	ID         string // the Id element; "" when absent
	Statements []Statement
}

// Statement is one statement of a policy. A nil slice or pointer means the element is
// absent; Parse guarantees exactly one of Action and NotAction, and at most one of Principal
// and NotPrincipal and of Resource and NotResource.
type Statement struct {
	Sid          string
	Effect       Effect // Allow or Deny
	Principal    *Principal
	NotPrincipal *Principal
	Action       []string
	NotAction    []string
	Resource     []string
	NotResource  []string
	Condition    Condition // nil when absent
}

// Principal is the value of a Principal or NotPrincipal element. "Principal": "*" sets
// Wildcard; {"AWS": "*"} is an AWS list holding "*". Values are kept as written.
type Principal struct {
	Wildcard      bool
	AWS           []string
	Service       []string
	Federated     []string
	CanonicalUser []string
}

// Condition is a Condition element: operator (as written, e.g. "ForAnyValue:StringLike" or
// "StringEqualsIfExists") → condition key (as written) → values. JSON numbers and booleans
// are kept as their literal text ("10", "true").
type Condition map[string]map[string][]string

// Everyone reports whether p names every principal: "*", or "*" among its values.
func (p *Principal) Everyone() bool {
	if p == nil {
		return false
	}
	if p.Wildcard {
		return true
	}
	for _, list := range [][]string{p.AWS, p.Service, p.Federated, p.CanonicalUser} {
		for _, v := range list {
			if v == "*" {
				return true
			}
		}
	}
	return false
}

// Error is the error Parse returns for a document AWS would refuse. Findings holds every
// problem found, each with Malformed set.
type Error struct {
	Findings []Finding
}

// Error implements error. It names the problems, never the document's content beyond what
// the findings quote.
func (e *Error) Error() string {
	msgs := make([]string, len(e.Findings))
	for i, f := range e.Findings {
		msgs[i] = f.Code + ": " + f.Message
	}
	return "malformed policy: " + strings.Join(msgs, "; ")
}

// Parse parses a policy document. It returns an *Error when the document breaks the policy
// grammar; see the package documentation for what that covers.
func Parse(doc string) (*Policy, error) {
	p, findings := parse(doc)
	if len(findings) > 0 {
		return nil, &Error{Findings: findings}
	}
	return p, nil
}

// parser collects the grammar findings of one document.
type parser struct {
	findings []Finding
	stmt     int // index of the statement being read; -1 outside statements
}

func (ps *parser) add(code, format string, args ...any) {
	ps.findings = append(ps.findings, Finding{Type: FindingError, Code: code, Message: fmt.Sprintf(format, args...), Statement: ps.stmt, Malformed: true})
}

func (ps *parser) mismatch() {
	ps.add(CodeDataTypeMismatch, "The text does not match the expected JSON data type.")
}

func parse(doc string) (*Policy, []Finding) {
	ps := &parser{stmt: -1}
	root, err := decodeTree([]byte(doc))
	if err != nil {
		msg := "Fix the JSON syntax error."
		if se, ok := err.(*syntaxError); ok {
			line, col := lineColumn([]byte(doc), se.offset)
			msg = fmt.Sprintf("Fix the JSON syntax error at index %d line %d column %d.", se.offset, line, col)
		}
		ps.add(CodeJSONSyntaxError, "%s", msg)
		return nil, ps.findings
	}
	if root.kind != kindObject {
		ps.mismatch()
		return nil, ps.findings
	}
	p := &Policy{}
	var stmts *node
	for i, key := range root.keys {
		v := root.elems[i]
		switch key {
		case "Version":
			if s, ok := ps.str(v); ok {
				p.Version = s
				if s != Version2012 && s != Version2008 {
					ps.add(CodeInvalidVersion, "The version %s is not valid. Use one of the following versions: %s, %s", quoteShort(s), Version2012, Version2008)
				}
			}
		case "Id":
			p.ID, _ = ps.str(v)
		case "Statement":
			stmts = v
		default:
			ps.add(CodeInvalidPolicyElement, "The policy element %s is not valid.", quoteShort(key))
		}
	}
	switch {
	case stmts == nil:
		ps.add(CodeMissingStatement, "Add a statement to the policy")
	case stmts.kind == kindObject:
		ps.stmt = 0
		p.Statements = append(p.Statements, ps.statement(stmts))
	case stmts.kind == kindArray:
		if len(stmts.elems) == 0 {
			ps.add(CodeMissingStatement, "Add a statement to the policy")
		}
		for i, s := range stmts.elems {
			ps.stmt = i
			if s.kind != kindObject {
				ps.mismatch()
				continue
			}
			p.Statements = append(p.Statements, ps.statement(s))
		}
	default:
		ps.mismatch()
	}
	return p, ps.findings
}

func (ps *parser) str(n *node) (string, bool) {
	if n.kind != kindString {
		ps.mismatch()
		return "", false
	}
	return n.text, true
}

// strings reads a string or a non-empty list of strings.
func (ps *parser) strings(n *node) []string {
	switch n.kind {
	case kindString:
		return []string{n.text}
	case kindArray:
		out := make([]string, 0, len(n.elems))
		for _, e := range n.elems {
			if e.kind != kindString {
				ps.mismatch()
				return out
			}
			out = append(out, e.text)
		}
		return out
	}
	ps.mismatch()
	return []string{}
}

func (ps *parser) statement(n *node) Statement {
	var s Statement
	effect := false
	for i, key := range n.keys {
		v := n.elems[i]
		switch key {
		case "Sid":
			s.Sid, _ = ps.str(v)
		case "Effect":
			effect = true
			if e, ok := ps.str(v); ok {
				s.Effect = Effect(e)
				if s.Effect != Allow && s.Effect != Deny {
					ps.add(CodeInvalidEffect, "The effect %s is not valid. Use Allow or Deny.", quoteShort(e))
				}
			}
		case "Principal":
			s.Principal = ps.principal(v)
		case "NotPrincipal":
			s.NotPrincipal = ps.principal(v)
		case "Action":
			s.Action = ps.actions(v)
		case "NotAction":
			s.NotAction = ps.actions(v)
		case "Resource":
			s.Resource = ps.strings(v)
		case "NotResource":
			s.NotResource = ps.strings(v)
		case "Condition":
			s.Condition = ps.condition(v)
		default:
			ps.add(CodeInvalidPolicyElement, "The policy element %s is not valid.", quoteShort(key))
		}
	}
	if !effect {
		ps.add(CodeMissingEffect, "Add an Effect element to the policy statement with a value of Allow or Deny.")
	}
	if s.Action == nil && s.NotAction == nil || len(s.Action)+len(s.NotAction) == 0 {
		ps.add(CodeMissingAction, "Add an Action or NotAction element to the policy statement.")
	}
	ps.exclusive("Action", s.Action != nil, "NotAction", s.NotAction != nil)
	ps.exclusive("Principal", s.Principal != nil, "NotPrincipal", s.NotPrincipal != nil)
	ps.exclusive("Resource", s.Resource != nil, "NotResource", s.NotResource != nil)
	if s.Resource != nil && len(s.Resource) == 0 || s.NotResource != nil && len(s.NotResource) == 0 {
		ps.add(CodeMissingResource, "Add a Resource or NotResource element to the policy statement.")
	}
	return s
}

func (ps *parser) exclusive(a string, hasA bool, b string, hasB bool) {
	if hasA && hasB {
		ps.add(CodeUnsupportedElementCombination, "The policy elements %s and %s can not be used in the same statement. Remove one of these elements.", a, b)
	}
}

func (ps *parser) actions(n *node) []string {
	acts := ps.strings(n)
	for _, a := range acts {
		if !validActionFormat(a) {
			ps.add(CodeInvalidActionFormat, "The action %s is not valid. Use the format service:action or *.", quoteShort(a))
		}
	}
	return acts
}

// validActionFormat accepts "*" and "prefix:name" with a lower-case service prefix and a name
// of letters, digits and the wildcards * and ?.
func validActionFormat(a string) bool {
	if a == "*" {
		return true
	}
	svc, name, ok := strings.Cut(a, ":")
	if !ok || svc == "" || name == "" || strings.Contains(name, ":") {
		return false
	}
	for _, r := range svc {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '*' || r == '?' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func (ps *parser) principal(n *node) *Principal {
	p := &Principal{}
	switch n.kind {
	case kindString:
		if n.text != "*" {
			ps.add(CodeInvalidPrincipalFormat, "The principal must be \"*\" or an object with AWS, Service, Federated or CanonicalUser.")
		}
		p.Wildcard = true
		return p
	case kindObject:
	default:
		ps.mismatch()
		return p
	}
	if len(n.keys) == 0 {
		ps.add(CodeInvalidPrincipalFormat, "The principal must name at least one principal.")
	}
	for i, key := range n.keys {
		vals := ps.strings(n.elems[i])
		if len(vals) == 0 && n.elems[i].kind == kindArray {
			ps.add(CodeInvalidPrincipalFormat, "The principal %s must name at least one principal.", key)
		}
		switch key {
		case "AWS":
			p.AWS = vals
			for _, v := range vals {
				if !validAWSPrincipal(v) {
					ps.add(CodeInvalidPrincipalFormat, "The principal %s is not valid. Use \"*\", a 12-digit account ID or an IAM or STS ARN.", quoteShort(v))
				}
			}
		case "Service":
			p.Service = vals
			for _, v := range vals {
				if !validServicePrincipal(v) {
					ps.add(CodeInvalidServicePrincipalFormat, "The service principal %s does not match the expected format. Use the format service-name.amazonaws.com.", quoteShort(v))
				}
			}
		case "Federated":
			p.Federated = vals
		case "CanonicalUser":
			p.CanonicalUser = vals
		default:
			ps.add(CodeInvalidPrincipalKey, "The principal key %s is not valid. Use AWS, CanonicalUser, Federated or Service.", quoteShort(key))
		}
	}
	return p
}

// validAWSPrincipal accepts "*", a 12-digit account ID, and ARNs of the iam and sts services
// with a 12-digit account (or "aws" for AWS-owned principals).
func validAWSPrincipal(v string) bool {
	if v == "*" || isAccountID(v) {
		return true
	}
	parts := strings.SplitN(v, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[3] != "" || parts[5] == "" {
		return false
	}
	if parts[2] != "iam" && parts[2] != "sts" {
		return false
	}
	if !isAccountID(parts[4]) && parts[4] != "aws" {
		return false
	}
	return !strings.ContainsAny(v, "*?")
}

func validServicePrincipal(v string) bool {
	for _, suffix := range []string{".amazonaws.com", ".amazonaws.com.cn"} {
		if name, ok := strings.CutSuffix(v, suffix); ok && name != "" && !strings.ContainsAny(name, "*?:/ ") {
			return true
		}
	}
	return false
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func (ps *parser) condition(n *node) Condition {
	if n.kind != kindObject {
		ps.mismatch()
		return Condition{}
	}
	c := make(Condition, len(n.keys))
	for i, op := range n.keys {
		if _, ok := parseOperator(op); !ok {
			ps.add(CodeInvalidConditionOperator, "The condition operator %s is not valid. Use a valid condition operator.", quoteShort(op))
		}
		block := n.elems[i]
		if block.kind != kindObject {
			ps.mismatch()
			continue
		}
		keys := make(map[string][]string, len(block.keys))
		for j, key := range block.keys {
			if k, name, ok := strings.Cut(key, ":"); !ok || k == "" || name == "" {
				ps.add(CodeInvalidConditionKeyFormat, "The condition key format is not valid. Use the format service:keyname.")
			}
			keys[key] = ps.conditionValues(block.elems[j])
		}
		c[op] = keys
	}
	return c
}

// conditionValues reads a string, number or boolean, or a list of them, as their literal text.
func (ps *parser) conditionValues(n *node) []string {
	scalar := func(e *node) (string, bool) {
		switch e.kind {
		case kindString, kindNumber, kindBool:
			return e.text, true
		}
		ps.mismatch()
		return "", false
	}
	if n.kind != kindArray {
		s, ok := scalar(n)
		if !ok {
			return []string{}
		}
		return []string{s}
	}
	out := make([]string, 0, len(n.elems))
	for _, e := range n.elems {
		s, ok := scalar(e)
		if !ok {
			break
		}
		out = append(out, s)
	}
	return out
}

// Operator is a condition operator split into its parts: "ForAnyValue:StringLikeIfExists" is
// {Set: "ForAnyValue", Base: "StringLike", IfExists: true}.
type Operator struct {
	Set      string // "", "ForAnyValue" or "ForAllValues"
	Base     string // e.g. StringEquals, ArnLike, IpAddress, Null
	IfExists bool
}

var baseOperators = map[string]bool{
	"StringEquals": true, "StringNotEquals": true, "StringEqualsIgnoreCase": true,
	"StringNotEqualsIgnoreCase": true, "StringLike": true, "StringNotLike": true,
	"NumericEquals": true, "NumericNotEquals": true, "NumericLessThan": true,
	"NumericLessThanEquals": true, "NumericGreaterThan": true, "NumericGreaterThanEquals": true,
	"DateEquals": true, "DateNotEquals": true, "DateLessThan": true, "DateLessThanEquals": true,
	"DateGreaterThan": true, "DateGreaterThanEquals": true,
	"Bool": true, "BinaryEquals": true, "IpAddress": true, "NotIpAddress": true,
	"ArnEquals": true, "ArnLike": true, "ArnNotEquals": true, "ArnNotLike": true,
	"Null": true,
}

// ParseOperator splits a condition operator as IAM reads it; ok is false for an operator IAM
// does not know (including Null with IfExists, which IAM refuses).
func ParseOperator(op string) (Operator, bool) { return parseOperator(op) }

func parseOperator(op string) (Operator, bool) {
	var o Operator
	if set, rest, ok := strings.Cut(op, ":"); ok {
		if set != "ForAnyValue" && set != "ForAllValues" {
			return o, false
		}
		o.Set, op = set, rest
	}
	if base, ok := strings.CutSuffix(op, "IfExists"); ok {
		o.IfExists, op = true, base
	}
	o.Base = op
	if !baseOperators[op] || o.IfExists && op == "Null" {
		return o, false
	}
	return o, true
}

// quoteShort quotes a value from the document for a finding, cut to 64 characters so that a
// finding never carries more of the document than it needs to.
func quoteShort(s string) string {
	r := []rune(s)
	if len(r) > 64 {
		return fmt.Sprintf("%q...", string(r[:64]))
	}
	return fmt.Sprintf("%q", s)
}
