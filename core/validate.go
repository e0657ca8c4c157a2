package core

import (
	"regexp"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsapi"
)

// validator reports violations of the model's constraints as AWS's front end does.
type validator = awsapi.Validator

var namePattern = regexp.MustCompile(`^[a-zA-Z0-9/_+=.@-]+$`)

// errInvalidName is AWS's answer to a secret name with a character outside its set (recorded).
var errInvalidName = coffer.Errorf(coffer.ErrValidation, "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")

// validName checks a secret name as AWS does: 1–512 characters from [a-zA-Z0-9/_+=.@-].
func validName(name string) error {
	var v validator
	v.Length("name", &name, 1, 512, false)
	if err := v.Err(); err != nil {
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
