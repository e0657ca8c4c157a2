package policy

import (
	"bytes"
	"encoding/base64"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// negated maps each negated operator to the positive one it negates.
var negated = map[string]string{
	"StringNotEquals":           "StringEquals",
	"StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
	"StringNotLike":             "StringLike",
	"NumericNotEquals":          "NumericEquals",
	"DateNotEquals":             "DateEquals",
	"NotIpAddress":              "IpAddress",
	"ArnNotEquals":              "ArnEquals",
	"ArnNotLike":                "ArnLike",
}

// conditions reports whether every condition of a Condition element holds: operators and
// keys AND together, a key's values OR.
func (e *evaluator) conditions(c Condition) bool {
	for op, keys := range c {
		o, ok := parseOperator(op)
		if !ok {
			return false // Parse refuses it; a hand-built Policy fails closed
		}
		for key, vals := range keys {
			if !e.condition(o, key, vals) {
				return false
			}
		}
	}
	return true
}

// condition evaluates one operator on one key. With no set operator the condition holds when
// some request value matches some policy value (negated: when none does); ForAnyValue holds
// when some request value satisfies the operator, ForAllValues when every one does. A
// missing key makes a positive operator false, a negated one true, ForAnyValue false and
// ForAllValues true; IfExists makes any of them true.
func (e *evaluator) condition(o Operator, key string, vals []string) bool {
	got := e.req.Values(key)
	if o.Base == "Null" {
		missing := len(got) == 0
		for _, v := range vals {
			if strings.EqualFold(v, "true") && missing || strings.EqualFold(v, "false") && !missing {
				return true
			}
		}
		return false
	}
	base, neg := negated[o.Base]
	if !neg {
		base = o.Base
	}
	if len(got) == 0 {
		switch {
		case o.IfExists, o.Set == "ForAllValues":
			return true
		case o.Set == "ForAnyValue":
			return false
		}
		return neg
	}
	match := e.matcher(base, vals)
	satisfies := func(v string) bool { return match(v) != neg }
	switch o.Set {
	case "ForAnyValue":
		for _, v := range got {
			if satisfies(v) {
				return true
			}
		}
		return false
	case "ForAllValues":
		for _, v := range got {
			if !satisfies(v) {
				return false
			}
		}
		return true
	}
	for _, v := range got {
		if match(v) {
			return !neg
		}
	}
	return neg
}

// matcher returns a test of one request value against the policy values of a positive
// operator: true when the value matches at least one of them. Policy values that do not
// parse for the operator's type, or hold a variable with no value, match nothing.
func (e *evaluator) matcher(base string, vals []string) func(string) bool {
	switch {
	case strings.HasPrefix(base, "String"), strings.HasPrefix(base, "Arn"):
		pats := make([][]pchar, 0, len(vals))
		for _, v := range vals {
			if p, ok := expand(v, e.req, e.subst); ok {
				pats = append(pats, p)
			}
		}
		return func(got string) bool {
			for _, p := range pats {
				if stringMatch(base, p, got) {
					return true
				}
			}
			return false
		}
	case strings.HasPrefix(base, "Numeric"):
		return ordered(vals, parseNumber, base[len("Numeric"):], func(a, b float64) int {
			switch {
			case a < b:
				return -1
			case a > b:
				return 1
			}
			return 0
		})
	case strings.HasPrefix(base, "Date"):
		return ordered(vals, parseDate, base[len("Date"):], func(a, b time.Time) int { return a.Compare(b) })
	case base == "Bool":
		return func(got string) bool {
			for _, v := range vals {
				if (strings.EqualFold(v, "true") || strings.EqualFold(v, "false")) && strings.EqualFold(v, got) {
					return true
				}
			}
			return false
		}
	case base == "BinaryEquals":
		return func(got string) bool {
			g, err := base64.StdEncoding.DecodeString(got)
			if err != nil {
				return false
			}
			for _, v := range vals {
				if b, err := base64.StdEncoding.DecodeString(v); err == nil && bytes.Equal(b, g) {
					return true
				}
			}
			return false
		}
	case base == "IpAddress":
		return func(got string) bool {
			addr, err := netip.ParseAddr(got)
			if err != nil {
				return false
			}
			addr = addr.Unmap()
			for _, v := range vals {
				if pfx, ok := parseRange(v); ok && pfx.Contains(addr) {
					return true
				}
			}
			return false
		}
	}
	return func(string) bool { return false }
}

// stringMatch applies a String or Arn operator to one policy pattern and one request value.
func stringMatch(base string, p []pchar, got string) bool {
	switch base {
	case "StringEquals":
		return text(p) == got
	case "StringEqualsIgnoreCase":
		return strings.EqualFold(text(p), got)
	case "StringLike":
		return glob(p, got)
	case "ArnEquals", "ArnLike":
		// Each of the six colon-separated parts is matched on its own, so a wildcard never
		// spans a colon except within the last part (which may hold colons itself).
		parts := strings.SplitN(got, ":", 6)
		if len(parts) != 6 {
			return false
		}
		for i := 0; i < 6; i++ {
			var part []pchar
			if i < 5 {
				j := 0
				for j < len(p) && p[j].r != ':' {
					j++
				}
				if j == len(p) {
					return false
				}
				part, p = p[:j], p[j+1:]
			} else {
				part = p
			}
			if !glob(part, parts[i]) {
				return false
			}
		}
		return true
	}
	return false
}

// ordered builds the matcher of a Numeric or Date operator whose name, without its type,
// is cmp ("Equals", "LessThan", ...). The request value is on the left: NumericLessThan holds
// when the request's value is less than the policy's.
func ordered[T any](vals []string, parse func(string) (T, bool), cmp string, compare func(a, b T) int) func(string) bool {
	want := make([]T, 0, len(vals))
	for _, v := range vals {
		if x, ok := parse(v); ok {
			want = append(want, x)
		}
	}
	return func(got string) bool {
		g, ok := parse(got)
		if !ok {
			return false
		}
		for _, w := range want {
			c := compare(g, w)
			var hit bool
			switch cmp {
			case "Equals":
				hit = c == 0
			case "LessThan":
				hit = c < 0
			case "LessThanEquals":
				hit = c <= 0
			case "GreaterThan":
				hit = c > 0
			case "GreaterThanEquals":
				hit = c >= 0
			}
			if hit {
				return true
			}
		}
		return false
	}
}

func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// dateLayouts are the ISO 8601 forms a date condition value may take. RFC 3339 parsing also
// accepts fractional seconds.
var dateLayouts = []string{
	time.RFC3339,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02",
	"20060102T150405Z",
}

// parseDate reads an ISO 8601 date or a count of seconds since the Unix epoch. A date
// without a zone is UTC.
func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), true
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseRange reads a CIDR range or a single address.
func parseRange(s string) (netip.Prefix, bool) {
	if pfx, err := netip.ParsePrefix(s); err == nil {
		if pfx.Addr().Is4In6() {
			pfx = netip.PrefixFrom(pfx.Addr().Unmap(), max(pfx.Bits()-96, 0))
		}
		return pfx.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}
