package policy

import (
	"net/netip"
	"strings"
)

// IsPublic reports whether a policy grants broad access, the test behind PutResourcePolicy's
// BlockPublicPolicy. AWS decides it with automated reasoning (Zelkova) using the rule S3
// documents for bucket policies, to which Secrets Manager's guide refers: a policy is public
// unless every grant is limited to fixed principals or to fixed values of keys that identify
// an account, organization, network or source.
//
// Here a policy is public when some Allow statement
//   - names every principal ("Principal": "*", {"AWS": "*"}, "*" among any principal list)
//     or uses NotPrincipal (which grants everyone not listed), and
//   - has no condition that pins the caller to fixed values: one of the keys
//     aws:SourceAccount, aws:SourceOwner, aws:PrincipalAccount, aws:PrincipalOrgID,
//     aws:SourceVpc, aws:SourceVpce, aws:userid (with a string equality, or StringLike
//     without wildcards), aws:PrincipalArn or aws:SourceArn (also with ArnEquals/ArnLike;
//     wildcards only in the resource part, after the account), or aws:SourceIp with
//     IpAddress and ranges no wider than /8 (IPv4) or /32 (IPv6).
//
// A pinning condition must not be weakened: an ...IfExists operator, ForAllValues (true when
// the key is missing), a policy variable or an empty value does not pin. Since the keys of a
// condition block must all hold, one pinning key is enough.
//
// The approximation errs toward "public": a Deny that would narrow a broad Allow is not
// taken into account, and any action counts, not only secretsmanager: ones. The statement's
// Resource is not considered either: a secret's resource policy applies to that secret.
func IsPublic(p *Policy) bool {
	for _, s := range p.Statements {
		if s.Effect != Allow {
			continue
		}
		if !s.Principal.Everyone() && s.NotPrincipal == nil {
			continue
		}
		if !pinned(s.Condition) {
			return true
		}
	}
	return false
}

// pinKeys are the condition keys whose fixed values keep a wildcard principal from being
// public, and whether their values are ARNs.
var pinKeys = map[string]bool{
	"aws:sourceaccount":    false,
	"aws:sourceowner":      false,
	"aws:principalaccount": false,
	"aws:principalorgid":   false,
	"aws:sourcevpc":        false,
	"aws:sourcevpce":       false,
	"aws:userid":           false,
	"aws:principalarn":     true,
	"aws:sourcearn":        true,
}

func pinned(c Condition) bool {
	for op, keys := range c {
		o, ok := parseOperator(op)
		if !ok || o.IfExists || o.Set == "ForAllValues" {
			continue
		}
		for key, vals := range keys {
			if pinsKey(o.Base, strings.ToLower(key), vals) {
				return true
			}
		}
	}
	return false
}

func pinsKey(base, key string, vals []string) bool {
	if len(vals) == 0 {
		return false
	}
	if key == "aws:sourceip" {
		if base != "IpAddress" {
			return false
		}
		for _, v := range vals {
			if !narrowRange(v) {
				return false
			}
		}
		return true
	}
	arn, ok := pinKeys[key]
	if !ok {
		return false
	}
	switch base {
	case "StringEquals", "StringEqualsIgnoreCase", "StringLike":
	case "ArnEquals", "ArnLike":
		if !arn {
			return false
		}
	default:
		return false
	}
	for _, v := range vals {
		if v == "" || strings.Contains(v, "${") {
			return false
		}
		wild := v
		if arn {
			// Wildcards are allowed in the resource part only: the account stays fixed.
			parts := strings.SplitN(v, ":", 6)
			if len(parts) != 6 || parts[4] == "" {
				return false
			}
			wild = strings.Join(parts[:5], ":")
		}
		if strings.ContainsAny(wild, "*?") {
			return false
		}
	}
	return true
}

// narrowRange accepts an IP address or a CIDR no wider than /8 for IPv4 or /32 for IPv6.
func narrowRange(v string) bool {
	if a, err := netip.ParseAddr(v); err == nil {
		return a.IsValid()
	}
	pfx, err := netip.ParsePrefix(v)
	if err != nil {
		return false
	}
	if pfx.Addr().Is4() {
		return pfx.Bits() >= 8
	}
	return pfx.Bits() >= 32
}
