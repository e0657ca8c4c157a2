package awsapi

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/coffer-project/coffer"
)

// Validator collects violations of the model's constraints and reports them as AWS's front end
// does: "N validation error(s) detected: Value 'v' at 'member' failed to satisfy constraint: …",
// joined by "; ". Sensitive members are reported without their value.
type Validator struct {
	msgs []string
}

// Add records one violation; a sensitive member is reported without its value.
func (v *Validator) Add(member, value string, sensitive bool, constraint string) {
	if sensitive {
		v.msgs = append(v.msgs, fmt.Sprintf("Value at '%s' failed to satisfy constraint: %s", member, constraint))
		return
	}
	if len(value) > 128 {
		value = value[:128] + "..."
	}
	v.msgs = append(v.msgs, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: %s", value, member, constraint))
}

// Length checks min <= len(s) <= max, counting characters as AWS does.
func (v *Validator) Length(member string, s *string, min, max int, sensitive bool) {
	if s == nil {
		return
	}
	n := utf8.RuneCountInString(*s)
	switch {
	case n < min:
		v.Add(member, *s, sensitive, fmt.Sprintf("Member must have length greater than or equal to %d", min))
	case n > max:
		v.Add(member, *s, sensitive, fmt.Sprintf("Member must have length less than or equal to %d", max))
	}
}

// BytesLen checks min <= len(b) <= max for a blob, never showing its bytes.
func (v *Validator) BytesLen(member string, b []byte, min, max int) {
	if b == nil {
		return
	}
	switch {
	case len(b) < min:
		v.Add(member, "", true, fmt.Sprintf("Member must have length greater than or equal to %d", min))
	case len(b) > max:
		v.Add(member, "", true, fmt.Sprintf("Member must have length less than or equal to %d", max))
	}
}

// Required records a missing required member.
func (v *Validator) Required(member string, present bool) {
	if !present {
		v.msgs = append(v.msgs, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", member))
	}
}

// RangeInt checks min <= n <= max.
func (v *Validator) RangeInt(member string, n *int64, min, max int64) {
	if n == nil {
		return
	}
	switch {
	case *n < min:
		v.Add(member, fmt.Sprint(*n), false, fmt.Sprintf("Member must have value greater than or equal to %d", min))
	case *n > max:
		v.Add(member, fmt.Sprint(*n), false, fmt.Sprintf("Member must have value less than or equal to %d", max))
	}
}

// Enum checks that s is one of allowed.
func (v *Validator) Enum(member string, s *string, allowed ...string) {
	if s == nil {
		return
	}
	for _, a := range allowed {
		if *s == a {
			return
		}
	}
	v.Add(member, *s, false, fmt.Sprintf("Member must satisfy enum value set: [%s]", strings.Join(allowed, ", ")))
}

// Err returns the ValidationException for what was collected, or nil.
func (v *Validator) Err() error {
	switch len(v.msgs) {
	case 0:
		return nil
	case 1:
		return coffer.Errorf(coffer.ErrValidation, "1 validation error detected: %s", v.msgs[0])
	default:
		return coffer.Errorf(coffer.ErrValidation, "%d validation errors detected: %s", len(v.msgs), strings.Join(v.msgs, "; "))
	}
}
