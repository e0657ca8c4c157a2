package core

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/coffer-project/coffer"
)

// validator collects violations of the model's constraints and reports them as AWS's front end
// does: "N validation error(s) detected: Value 'v' at 'member' failed to satisfy constraint: …",
// joined by "; ". Sensitive members are reported without their value.
type validator struct {
	msgs []string
}

func (v *validator) add(member, value string, sensitive bool, constraint string) {
	if sensitive {
		v.msgs = append(v.msgs, fmt.Sprintf("Value at '%s' failed to satisfy constraint: %s", member, constraint))
		return
	}
	if len(value) > 128 {
		value = value[:128] + "..."
	}
	v.msgs = append(v.msgs, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: %s", value, member, constraint))
}

// length checks min <= len(s) <= max, counting characters as AWS does.
func (v *validator) length(member string, s *string, min, max int, sensitive bool) {
	if s == nil {
		return
	}
	n := utf8.RuneCountInString(*s)
	switch {
	case n < min:
		v.add(member, *s, sensitive, fmt.Sprintf("Member must have length greater than or equal to %d", min))
	case n > max:
		v.add(member, *s, sensitive, fmt.Sprintf("Member must have length less than or equal to %d", max))
	}
}

func (v *validator) bytesLen(member string, b []byte, min, max int) {
	if b == nil {
		return
	}
	switch {
	case len(b) < min:
		v.add(member, "", true, fmt.Sprintf("Member must have length greater than or equal to %d", min))
	case len(b) > max:
		v.add(member, "", true, fmt.Sprintf("Member must have length less than or equal to %d", max))
	}
}

func (v *validator) required(member string, present bool) {
	if !present {
		v.msgs = append(v.msgs, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", member))
	}
}

func (v *validator) rangeInt(member string, n *int64, min, max int64) {
	if n == nil {
		return
	}
	switch {
	case *n < min:
		v.add(member, fmt.Sprint(*n), false, fmt.Sprintf("Member must have value greater than or equal to %d", min))
	case *n > max:
		v.add(member, fmt.Sprint(*n), false, fmt.Sprintf("Member must have value less than or equal to %d", max))
	}
}

func (v *validator) enum(member string, s *string, allowed ...string) {
	if s == nil {
		return
	}
	for _, a := range allowed {
		if *s == a {
			return
		}
	}
	v.add(member, *s, false, fmt.Sprintf("Member must satisfy enum value set: [%s]", strings.Join(allowed, ", ")))
}

func (v *validator) err() error {
	switch len(v.msgs) {
	case 0:
		return nil
	case 1:
		return coffer.Errorf(coffer.ErrValidation, "1 validation error detected: %s", v.msgs[0])
	default:
		return coffer.Errorf(coffer.ErrValidation, "%d validation errors detected: %s", len(v.msgs), strings.Join(v.msgs, "; "))
	}
}

var namePattern = regexp.MustCompile(`^[a-zA-Z0-9/_+=.@-]+$`)

// errInvalidName is AWS's answer to a secret name with a character outside its set (recorded).
var errInvalidName = coffer.Errorf(coffer.ErrValidation, "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")

// validName checks a secret name as AWS does: 1–512 characters from [a-zA-Z0-9/_+=.@-].
func validName(name string) error {
	var v validator
	v.length("name", &name, 1, 512, false)
	if err := v.err(); err != nil {
		return err
	}
	if !namePattern.MatchString(name) {
		return errInvalidName
	}
	return nil
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
