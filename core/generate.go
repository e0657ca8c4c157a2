package core

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/coffer-project/coffer"
)

// GenerateSecretString asks for a secret value that coffer generates itself, so that the
// password never travels to or from the client. It is a coffer extension modelled on
// CloudFormation's AWS::SecretsManager::Secret GenerateSecretString property: the password
// members are GetRandomPassword's, and SecretStringTemplate with GenerateStringKey wraps the
// password in a JSON object.
type GenerateSecretString struct {
	// SecretStringTemplate is a JSON object holding everything in the value but the password.
	// It may hold other secrets, so no message ever repeats it.
	SecretStringTemplate *string
	// GenerateStringKey is the member of the template that receives the password.
	GenerateStringKey       *string
	PasswordLength          *int64
	ExcludeCharacters       *string
	ExcludeNumbers          *bool
	ExcludePunctuation      *bool
	ExcludeUppercase        *bool
	ExcludeLowercase        *bool
	IncludeSpace            *bool
	RequireEachIncludedType *bool
}

// maxSecretString is the most bytes a SecretString holds (CreateSecret's model).
const maxSecretString = 65536

// msgTemplateKeyPair is CloudFormation's answer to a template without a key, recorded (by a
// third-party provisioning tool that measured it) for the template-alone direction; the same
// message is used for a key alone, since it names both. The other messages of Generate are
// coffer's own: AWS documents no error for them.
const msgTemplateKeyPair = "SecretStringTemplate and GenerateStringKey must both be set or removed."

// password returns the GetRandomPassword request that g's password members make.
func (g *GenerateSecretString) password() *GetRandomPasswordInput {
	return &GetRandomPasswordInput{
		PasswordLength:          g.PasswordLength,
		ExcludeCharacters:       g.ExcludeCharacters,
		ExcludeNumbers:          g.ExcludeNumbers,
		ExcludePunctuation:      g.ExcludePunctuation,
		ExcludeUppercase:        g.ExcludeUppercase,
		ExcludeLowercase:        g.ExcludeLowercase,
		IncludeSpace:            g.IncludeSpace,
		RequireEachIncludedType: g.RequireEachIncludedType,
	}
}

// Generate returns the value g describes, drawing randomness from r (crypto/rand.Reader in
// production): without a template, a password exactly as GetRandomPassword makes it; with
// SecretStringTemplate and GenerateStringKey, the template, compacted, with the key added and
// the password as its value. Violations of the members' constraints are reported as members of
// "generateSecretString", the name the structure would carry in a request. The caller wipes
// the result when done.
func Generate(r io.Reader, g *GenerateSecretString) ([]byte, error) {
	const member = "generateSecretString."
	pin := g.password()
	var v validator
	pin.validate(&v, member)
	// No model bounds the key; it must at least be named and fit in the value.
	v.Length(member+"generateStringKey", g.GenerateStringKey, 1, maxSecretString, false)
	// The template is validated as the secret material it may be: without its value.
	v.Length(member+"secretStringTemplate", g.SecretStringTemplate, 0, maxSecretString, true)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if (g.SecretStringTemplate == nil) != (g.GenerateStringKey == nil) {
		return nil, coffer.Errorf(coffer.ErrInvalidParameter, msgTemplateKeyPair)
	}
	var tmpl []byte
	if g.SecretStringTemplate != nil {
		var err error
		if tmpl, err = compactObject([]byte(*g.SecretStringTemplate), *g.GenerateStringKey); err != nil {
			return nil, err
		}
		defer clear(tmpl)
	}
	pw, err := RandomPassword(r, pin.Options())
	if err != nil {
		return nil, err
	}
	if tmpl == nil {
		return pw, nil
	}
	defer clear(pw)
	key, err := jsonString(*g.GenerateStringKey)
	if err != nil {
		return nil, coffer.Internal(err)
	}
	// Sized exactly, so that no partial copy of the value is left behind by a growing slice.
	n := len(tmpl) - 1 + 1 + len(key) + 1 + quotedLen(pw) + 1
	if len(tmpl) == 2 {
		n-- // no comma after an empty object's brace
	}
	if n > maxSecretString {
		return nil, coffer.Errorf(coffer.ErrInvalidParameter, "The generated secret string is %d bytes long; a SecretString holds at most %d.", n, maxSecretString)
	}
	out := make([]byte, 0, n)
	out = append(out, tmpl[:len(tmpl)-1]...) // without the closing brace
	if len(tmpl) > 2 {
		out = append(out, ',')
	}
	out = append(out, key...)
	out = append(out, ':')
	out = appendQuoted(out, pw)
	out = append(out, '}')
	return out, nil
}

// compactObject checks that tmpl is one JSON object without the member key and returns it
// without insignificant whitespace, so that a member can be appended before its closing brace.
// CloudFormation documents the template as holding "all of the secret value information except
// the password", so a template that already has the key is refused rather than overwritten.
func compactObject(tmpl []byte, key string) ([]byte, error) {
	errNotObject := coffer.Errorf(coffer.ErrInvalidParameter, "SecretStringTemplate must be a JSON object.")
	if !json.Valid(tmpl) {
		return nil, errNotObject
	}
	dec := json.NewDecoder(bytes.NewReader(tmpl))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errNotObject
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errNotObject
		}
		// Token unescapes the name, so "pass\u0077ord" is found as "password".
		if name, _ := tok.(string); name == key {
			return nil, coffer.Errorf(coffer.ErrInvalidParameter, "SecretStringTemplate already has a member named %s, the GenerateStringKey.", key)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, errNotObject
		}
		clear(skip)
	}
	var buf bytes.Buffer
	buf.Grow(len(tmpl))
	if err := json.Compact(&buf, tmpl); err != nil {
		return nil, errNotObject
	}
	return buf.Bytes(), nil
}

// jsonString encodes s as a JSON string, leaving <, > and & as they are: the value is JSON
// data, not HTML.
func jsonString(s string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("core: encoding a JSON string: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// appendQuoted appends pw as a JSON string. A password holds printable ASCII only, so a
// quotation mark and a backslash are the only characters to escape; doing it here rather than
// through encoding/json leaves no copy of the password in an encoder's buffer.
func appendQuoted(dst, pw []byte) []byte {
	dst = append(dst, '"')
	for _, c := range pw {
		if c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}

// quotedLen is len(appendQuoted(nil, pw)).
func quotedLen(pw []byte) int {
	n := len(pw) + 2
	for _, c := range pw {
		if c == '"' || c == '\\' {
			n++
		}
	}
	return n
}
