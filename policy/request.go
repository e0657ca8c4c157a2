package policy

import (
	"strings"
)

// Principal types, as the aws:PrincipalType condition key names them.
const (
	PrincipalAccount     = "Account"     // an account's root user
	PrincipalUser        = "User"        // an IAM user
	PrincipalAssumedRole = "AssumedRole" // a role session
	PrincipalService     = "Service"     // an AWS service principal
)

// PrincipalInfo describes who makes a request.
type PrincipalInfo struct {
	// ARN is the principal's ARN: arn:aws:iam::ID:root, arn:aws:iam::ID:user/NAME or
	// arn:aws:sts::ID:assumed-role/ROLE/SESSION. For a service principal it is the service's
	// name, e.g. lambda.amazonaws.com.
	ARN      string
	Account  string // 12 digits; "" for a service principal
	Type     string // PrincipalAccount, PrincipalUser, PrincipalAssumedRole or PrincipalService
	UserID   string // aws:userid: the user's unique id, or "ROLEID:SESSION" for a role session
	Username string // aws:username; IAM users only
	Tags     map[string]string
}

// Request is what a policy is evaluated against.
type Request struct {
	Action    string // "secretsmanager:GetSecretValue", "kms:Decrypt", ...
	Resource  string // the resource's ARN, or "*" for an action that has none
	Principal PrincipalInfo
	// Keys holds the request's condition keys. Names compare without regard to case, as IAM
	// compares them. A multi-valued key (aws:TagKeys) holds several values; a key with no
	// value is missing. The caller supplies the environment: aws:CurrentTime, aws:EpochTime,
	// aws:SourceIp, aws:SecureTransport and the service keys. Keys derived from Principal
	// (see Values) need not be repeated here; a value given here wins.
	Keys map[string][]string
}

// Values returns the values of a condition key, nil when the request does not carry it.
// Besides Keys it answers, from Principal: aws:username (users), aws:userid,
// aws:PrincipalArn (for a role session the role's ARN, without its path: set the key in
// Keys when the role has a path), aws:PrincipalAccount, aws:PrincipalType,
// aws:PrincipalTag/KEY, aws:PrincipalIsAWSService and aws:PrincipalServiceName.
func (r *Request) Values(key string) []string {
	if v, ok := r.Keys[key]; ok {
		return v
	}
	for k, v := range r.Keys {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	p := &r.Principal
	one := func(s string) []string {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	lower := strings.ToLower(key)
	if tag, ok := strings.CutPrefix(lower, "aws:principaltag/"); ok {
		for k, v := range p.Tags {
			if strings.EqualFold(k, tag) {
				return []string{v}
			}
		}
		return nil
	}
	switch lower {
	case "aws:username":
		if p.Type == PrincipalUser {
			return one(p.Username)
		}
	case "aws:userid":
		return one(p.UserID)
	case "aws:principalarn":
		if p.Type == PrincipalAssumedRole {
			if role, ok := roleOfSession(p.ARN); ok {
				return []string{role}
			}
		}
		if p.Type != PrincipalService {
			return one(p.ARN)
		}
	case "aws:principalaccount":
		return one(p.Account)
	case "aws:principaltype":
		if p.Type != PrincipalService {
			return one(p.Type)
		}
	case "aws:principalisawsservice":
		if p.Type == "" {
			return nil
		}
		if p.Type == PrincipalService {
			return []string{"true"}
		}
		return []string{"false"}
	case "aws:principalservicename":
		if p.Type == PrincipalService {
			return one(p.ARN)
		}
	}
	return nil
}

// roleOfSession turns arn:aws:sts::ID:assumed-role/ROLE/SESSION into arn:aws:iam::ID:role/ROLE.
func roleOfSession(arn string) (string, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sts" {
		return "", false
	}
	rest, ok := strings.CutPrefix(parts[5], "assumed-role/")
	if !ok {
		return "", false
	}
	role, _, ok := strings.Cut(rest, "/")
	if !ok || role == "" {
		return "", false
	}
	return "arn:" + parts[1] + ":iam::" + parts[4] + ":role/" + role, true
}

// pchar is one character of a pattern after variable substitution; lit marks a character
// that stands for itself even when it is * or ? (an escape such as ${*}, or a character of a
// substituted value).
type pchar struct {
	r   rune
	lit bool
}

// expand substitutes the policy variables of v (when subst is set) and returns the result as a
// pattern. ok is false when a variable has no value and no default: AWS then treats the value
// as one that matches nothing.
func expand(v string, r *Request, subst bool) (out []pchar, ok bool) {
	out = make([]pchar, 0, len(v))
	for {
		i := strings.Index(v, "${")
		if !subst || i < 0 {
			for _, c := range v {
				out = append(out, pchar{r: c})
			}
			return out, true
		}
		j := strings.IndexByte(v[i:], '}')
		if j < 0 {
			subst = false
			continue
		}
		for _, c := range v[:i] {
			out = append(out, pchar{r: c})
		}
		val, ok := resolve(v[i+2:i+j], r)
		if !ok {
			return nil, false
		}
		for _, c := range val {
			out = append(out, pchar{r: c, lit: true})
		}
		v = v[i+j+1:]
	}
}

// resolve returns the value of the variable inside ${...}: an escape (*, ?, $), or a
// single-valued key, with an optional default written as "key, 'default'".
func resolve(inner string, r *Request) (string, bool) {
	switch inner {
	case "*", "?", "$":
		return inner, true
	}
	key, def, hasDef := strings.Cut(inner, ",")
	key = strings.TrimSpace(key)
	if hasDef {
		def = strings.TrimSpace(def)
		if len(def) < 2 || def[0] != '\'' || def[len(def)-1] != '\'' {
			return "", false
		}
		def = def[1 : len(def)-1]
	}
	// A multi-valued key is no variable: AWS substitutes single values only.
	if vals := r.Values(key); len(vals) == 1 {
		return vals[0], true
	}
	return def, hasDef
}

// text returns a pattern's characters as a string.
func text(p []pchar) string {
	var b strings.Builder
	for _, c := range p {
		b.WriteRune(c.r)
	}
	return b.String()
}

// glob reports whether s matches pattern p, where an unescaped * matches any run of
// characters and an unescaped ? any one character. It is case-sensitive.
func glob(p []pchar, s string) bool {
	str := []rune(s)
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(str) {
		switch {
		case pi < len(p) && !p[pi].lit && p[pi].r == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && (!p[pi].lit && p[pi].r == '?' || p[pi].r == str[si]):
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
	for pi < len(p) && !p[pi].lit && p[pi].r == '*' {
		pi++
	}
	return pi == len(p)
}
