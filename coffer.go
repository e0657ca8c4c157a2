// Package coffer is the domain vocabulary of the coffer secrets manager: secrets, their
// versions and staging labels, accounts and access keys, the errors every layer speaks, and
// the storage interfaces that the core needs. It imports the standard library only; every
// adapter (sqlite, postgres, awsapi, keyring, …) depends on it and never on each other.
package coffer

import (
	"context"
	"fmt"
	"regexp"
	"sync/atomic"
)

// Namespace is the unit of isolation for secrets: one account in one region, as in AWS.
type Namespace struct {
	Account string // 12-digit account id
	Region  string // e.g. us-east-1
}

// String renders the namespace as account/region, for logs.
func (ns Namespace) String() string { return ns.Account + "/" + ns.Region }

var (
	accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)
	regionPattern    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
)

// ValidAccountID reports whether id is a 12-digit AWS account id.
func ValidAccountID(id string) bool { return accountIDPattern.MatchString(id) }

// ValidRegion reports whether name has the shape of an AWS region name (us-east-1,
// eu-central-2, us-gov-west-1, …).
func ValidRegion(name string) bool { return regionPattern.MatchString(name) }

// SecretARN builds the ARN of a secret from its namespace, name and 6-character suffix.
func SecretARN(ns Namespace, name, suffix string) string {
	return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", ns.Region, ns.Account, name, suffix)
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the id of the API call being served (x-amzn-RequestId),
// so that work done for the call (KMS key uses, audit records) can name it.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the id WithRequestID put in ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

type cacheUseKey struct{}

// CacheUse records, for the audit record of one API call, whether a store answered any of
// the call's reads from its cache. Safe for concurrent use.
type CacheUse struct{ hit atomic.Bool }

// Hit reports whether a read was answered from a cache.
func (c *CacheUse) Hit() bool { return c != nil && c.hit.Load() }

// WithCacheUse returns ctx carrying a new CacheUse, and that CacheUse.
func WithCacheUse(ctx context.Context) (context.Context, *CacheUse) {
	c := &CacheUse{}
	return context.WithValue(ctx, cacheUseKey{}, c), c
}

// NoteCacheHit tells the CacheUse in ctx, if any, that a read was answered from a cache.
func NoteCacheHit(ctx context.Context) {
	if c, ok := ctx.Value(cacheUseKey{}).(*CacheUse); ok {
		c.hit.Store(true)
	}
}

// ServiceEvent is background work a service did on its own, for the audit trail: a secret
// purged at the end of its recovery window, a KMS key deleted or rotated on schedule.
type ServiceEvent struct {
	Service   string // "secretsmanager" or "kms"
	Name      string // CloudTrail's event name: EndSecretDeletion, DeleteKey, RotateKey
	ARN       string // the resource
	Namespace Namespace
	Details   map[string]any // facts for serviceEventDetails; never a value or a key
}
