package core

import (
	"context"
	"strings"

	"github.com/coffer-project/coffer"
)

// Authorizer decides whether the API call carried by ctx may act on a secret. The core asks
// it as soon as a SecretId is resolved, inside the operation's transaction and before
// anything is decrypted or written; the server implements it with IAM policy evaluation.
type Authorizer interface {
	// AuthorizeSecret is asked with the secret found (its resource policy and tags take part),
	// or with sec nil and the ARN the id would have when no secret has it. It returns an
	// AccessDeniedException, or nil when the call may go on.
	AuthorizeSecret(ctx context.Context, sec *coffer.Secret, arn string) error
}

func (s *Service) authorize(ctx context.Context, sec *coffer.Secret, arn string) error {
	if s.authz == nil {
		return nil
	}
	return s.authz.AuthorizeSecret(ctx, sec, arn)
}

// guessARN is the resource a SecretId names when no secret has it: the ARN as given, or the
// ARN of that name without its random suffix.
func guessARN(ns coffer.Namespace, id string) string {
	if strings.HasPrefix(id, "arn:") {
		return id
	}
	return "arn:aws:secretsmanager:" + ns.Region + ":" + ns.Account + ":secret:" + id
}
