package core

import (
	"strings"

	"github.com/coffer-project/coffer"
)

// resolve finds the secret that a SecretId names in ns: a name, a full ARN, or a partial ARN
// (the ARN without its 6-character suffix). A secret of another namespace is not found.
func resolve(tx coffer.Tx, ns coffer.Namespace, id string) (*coffer.Secret, error) {
	if !strings.HasPrefix(id, "arn:") {
		return byName(tx, ns, id)
	}
	prefix := "arn:aws:secretsmanager:" + ns.Region + ":" + ns.Account + ":secret:"
	if !strings.HasPrefix(id, prefix) {
		return nil, errNotFound()
	}
	sec, err := tx.SecretByARN(id)
	if err == nil {
		return sec, nil
	}
	if !coffer.IsNotFound(err) {
		return nil, err
	}
	// A partial ARN: what follows "secret:" is the name itself.
	return byName(tx, ns, strings.TrimPrefix(id, prefix))
}

func byName(tx coffer.Tx, ns coffer.Namespace, name string) (*coffer.Secret, error) {
	sec, err := tx.SecretByName(ns, name)
	if coffer.IsNotFound(err) {
		return nil, errNotFound()
	}
	return sec, err
}

// validSecretID checks the SecretId member.
func validSecretID(v *validator, id *string) {
	v.Required("secretId", id != nil)
	v.Length("secretId", id, 1, 2048, false)
}
