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
	// Another account's secret is named by its full or partial ARN, in the same region; whether
	// the caller may use it is the authorizer's to decide (its resource policy must allow).
	owner, ok := arnNamespace(id)
	if !ok || owner.Region != ns.Region {
		return nil, errNotFound()
	}
	ns = owner
	prefix := "arn:aws:secretsmanager:" + ns.Region + ":" + ns.Account + ":secret:"
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

// arnNamespace returns the namespace of a secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:…).
func arnNamespace(arn string) (coffer.Namespace, bool) {
	parts := strings.SplitN(arn, ":", 7)
	if len(parts) < 7 || parts[0] != "arn" || parts[1] != "aws" || parts[2] != "secretsmanager" || parts[5] != "secret" || !coffer.ValidAccountID(parts[4]) {
		return coffer.Namespace{}, false
	}
	return coffer.Namespace{Region: parts[3], Account: parts[4]}, true
}
