// Package kms is coffer's key service: the slice of AWS KMS that secrets need, on the same
// endpoint (X-Amz-Target TrentService.*). It owns KMS keys, their materials and aliases, the
// key states that govern their use, key rotation and deletion, and the data keys that protect
// secret versions. Key bytes never leave package keyring; this package holds only wrapped
// material and decides which material may be used, when.
package kms

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/keyring"
)

// ManagedAlias is the alias of the AWS-managed key that protects secrets created without
// KmsKeyId.
const ManagedAlias = "alias/aws/secretsmanager"

// AllowDisableInUseTag, set to "true" on a key, lifts the refusal to disable or schedule the
// deletion of a key that still protects live secrets.
const AllowDisableInUseTag = "coffer:allow-disable-in-use"

const (
	managedDescription = "Default key that protects my Secrets Manager data when no other key is defined"
	managedRotation    = 365 // days: AWS-managed keys rotate yearly
	defaultRotation    = 365
	maxOnDemand        = 25 // on-demand rotations per key, as AWS limits them
)

// Service performs KMS operations and protects secret data keys. It is safe for concurrent use.
type Service struct {
	store coffer.Store
	keys  *keyring.Keyring
	now   func() time.Time
	rand  io.Reader
	log   *slog.Logger
	// allowDisableInUse lifts the key-hygiene refusal server-wide.
	allowDisableInUse bool
	onUse             func(context.Context, KeyUse)
	onEvent           func(context.Context, coffer.ServiceEvent)
	authorize         func(ctx context.Context, action string, k *coffer.Key) error

	mu        sync.RWMutex
	materials map[string][]byte // cacheKey(id, version) → wrapped material; immutable once stored

	keyCache keyCache
	// managedIDs maps a namespace to the id of its aws/secretsmanager key, once read: that
	// alias is AWS's and never moves to another key.
	managedIDs sync.Map
}

// keyCacheTTL bounds how long a read may trust a key's cached state. Writes made through this
// Service invalidate the cache at once; a change made by another server sharing a PostgreSQL
// store is seen within this time (KMS key state is eventually consistent in AWS too).
const keyCacheTTL = time.Second

// keyCache keeps recently read keys for the read path (GetSecretValue decrypting a data key),
// which otherwise pays a query per read for the key's state.
type keyCache struct {
	mu   sync.Mutex
	gen  uint64
	keys map[string]cachedKey
}

type cachedKey struct {
	key coffer.Key
	at  time.Time
}

// CachedKey returns key id as tx sees it, or as it was read less than keyCacheTTL ago (the
// cache the secrets' reads use, emptied by every key write of this server).
func (s *Service) CachedKey(tx coffer.Tx, id string) (*coffer.Key, error) {
	now := time.Now()
	c := &s.keyCache
	c.mu.Lock()
	e, ok := c.keys[id]
	gen := c.gen
	c.mu.Unlock()
	if ok && now.Sub(e.at) < keyCacheTTL {
		k := e.key
		return &k, nil
	}
	k, err := tx.Key(id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.gen == gen { // no write invalidated the cache while this read ran
		if c.keys == nil {
			c.keys = make(map[string]cachedKey)
		}
		c.keys[id] = cachedKey{key: *k, at: now}
	}
	c.mu.Unlock()
	return k, nil
}

// invalidateKeys empties the key cache after a write.
func (s *Service) invalidateKeys() {
	c := &s.keyCache
	c.mu.Lock()
	c.gen++
	clear(c.keys)
	c.mu.Unlock()
}

// Options are a Service's optional settings.
type Options struct {
	Now    func() time.Time
	Rand   io.Reader
	Logger *slog.Logger
	// AllowDisableInUse lets DisableKey and ScheduleKeyDeletion proceed on keys that still
	// protect secrets that are not scheduled for deletion (server-wide override).
	AllowDisableInUse bool
	// OnUse, when set, is told of every use of a key made for a secret operation (for the
	// audit trail). It runs on the request path: it must be quick and must not block.
	OnUse func(context.Context, KeyUse)
}

// SetOnServiceEvent sets the function told of each key the scheduler deletes or rotates (for
// the audit trail); it must be set before RunScheduler starts.
func (s *Service) SetOnServiceEvent(fn func(context.Context, coffer.ServiceEvent)) { s.onEvent = fn }

// serviceEvent reports background work, when someone listens.
func (s *Service) serviceEvent(ctx context.Context, name string, k *coffer.Key, details map[string]any) {
	if s.onEvent != nil {
		s.onEvent(ctx, coffer.ServiceEvent{Service: "kms", Name: name, ARN: k.ARN(), Namespace: k.Namespace, Details: details})
	}
}

// SetOnUse sets Options.OnUse (the server sets it to link key uses to its audit records); it
// must be set before the Service serves calls.
func (s *Service) SetOnUse(fn func(context.Context, KeyUse)) { s.onUse = fn }

// SetAuthorizer sets the check made before a customer-managed key is used on behalf of a
// secret operation (kms:GenerateDataKey for a new version, kms:Decrypt to read one), with the
// caller carried by ctx; it must be set before the Service serves calls.
func (s *Service) SetAuthorizer(fn func(ctx context.Context, action string, k *coffer.Key) error) {
	s.authorize = fn
}

// authorizeUse runs the authorizer for a customer-managed key; AWS-managed keys admit the
// account's principals through Secrets Manager.
func (s *Service) authorizeUse(ctx context.Context, action string, k *coffer.Key) error {
	if s.authorize == nil || k == nil || k.Manager != coffer.KeyManagerCustomer {
		return nil
	}
	return s.authorize(ctx, action, k)
}

// New returns a Service over store and keys.
func New(store coffer.Store, keys *keyring.Keyring, opts Options) *Service {
	s := &Service{store: store, keys: keys, now: opts.Now, rand: opts.Rand, log: opts.Logger,
		allowDisableInUse: opts.AllowDisableInUse, onUse: opts.OnUse, materials: make(map[string][]byte)}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

func (s *Service) newUUID() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// MaterialID is the public identifier of a key material (KMS's KeyMaterialId: 64 hex
// characters). It is derived from the key id and version and reveals nothing of the material.
func MaterialID(keyID string, version int) string {
	h := sha256.Sum256([]byte("coffer key material id\x00" + keyID + "\x00" + strconv.Itoa(version)))
	return hex.EncodeToString(h[:])
}

// Errors, worded as KMS words them where it is known.

func errKeyNotFound(ns coffer.Namespace, id string) error {
	return coffer.Errorf(coffer.ErrKMSNotFound, "Key '%s' does not exist", coffer.KeyARN(ns, id))
}

func errAliasNotFound(ns coffer.Namespace, name string) error {
	return coffer.Errorf(coffer.ErrKMSNotFound, "Alias '%s' is not found.", coffer.AliasARN(ns, name))
}

func errInvalidKeyID(ref string) error {
	return coffer.Errorf(coffer.ErrKMSNotFound, "Invalid keyId '%s'", ref)
}

func errDisabled(k *coffer.Key) error {
	return coffer.Errorf(coffer.ErrKMSDisabled, "%s is disabled.", k.ARN())
}

func errPendingDeletion(k *coffer.Key) error {
	return coffer.Errorf(coffer.ErrKMSInvalidState, "%s is pending deletion.", k.ARN())
}

func errManaged(k *coffer.Key, what string) error {
	return coffer.Errorf(coffer.ErrKMSUnsupported, "%s is an AWS managed key; %s.", k.ARN(), what)
}

// usable checks that a key's state allows cryptographic use.
func usable(k *coffer.Key) error {
	switch k.State {
	case coffer.KeyStateEnabled:
		return nil
	case coffer.KeyStateDisabled:
		return errDisabled(k)
	default:
		return errPendingDeletion(k)
	}
}

var (
	uuidPattern    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	keyARNPattern  = regexp.MustCompile(`^arn:aws:kms:([a-z0-9-]+):([0-9]{12}):key/(.+)$`)
	aliasARNRegexp = regexp.MustCompile(`^arn:aws:kms:([a-z0-9-]+):([0-9]{12}):(alias/.+)$`)
)

// resolve finds the key a KeyId parameter names in ns: a key id, a key ARN, and, when
// aliases are allowed, an alias name or alias ARN. A key of another namespace is not found.
func (s *Service) resolve(tx coffer.Tx, ns coffer.Namespace, ref string, aliases bool) (*coffer.Key, error) {
	id := ref
	switch {
	case strings.HasPrefix(ref, "alias/") || aliasARNRegexp.MatchString(ref):
		name := ref
		if m := aliasARNRegexp.FindStringSubmatch(ref); m != nil {
			if m[1] != ns.Region || m[2] != ns.Account {
				return nil, errAliasNotFound(ns, m[3])
			}
			name = m[3]
		}
		if !aliases {
			return nil, errInvalidKeyID(ref)
		}
		a, err := tx.Alias(ns, name)
		if coffer.IsNotFound(err) {
			return nil, errAliasNotFound(ns, name)
		}
		if err != nil {
			return nil, err
		}
		id = a.KeyID
	case strings.HasPrefix(ref, "arn:"):
		m := keyARNPattern.FindStringSubmatch(ref)
		if m == nil {
			return nil, errInvalidKeyID(ref)
		}
		if m[1] != ns.Region || m[2] != ns.Account || !uuidPattern.MatchString(m[3]) {
			return nil, coffer.Errorf(coffer.ErrKMSNotFound, "Key '%s' does not exist", ref)
		}
		id = m[3]
	case !uuidPattern.MatchString(ref):
		return nil, errInvalidKeyID(ref)
	}
	k, err := tx.Key(id)
	if coffer.IsNotFound(err) || err == nil && k.Namespace != ns {
		return nil, errKeyNotFound(ns, id)
	}
	if err != nil {
		return nil, err
	}
	return k, nil
}

// wrappedMaterial returns a key's wrapped material of version v.
func (s *Service) wrappedMaterial(tx coffer.Tx, keyID string, v int) ([]byte, error) {
	ck := keyID + "#" + strconv.Itoa(v)
	s.mu.RLock()
	w, ok := s.materials[ck]
	s.mu.RUnlock()
	if ok {
		return w, nil
	}
	ms, err := tx.KeyMaterials(keyID)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if m.Version == v {
			s.mu.Lock()
			s.materials[ck] = m.Wrapped
			s.mu.Unlock()
			return m.Wrapped, nil
		}
	}
	return nil, coffer.Internal(fmt.Errorf("kms: key %s has no material %d", keyID, v))
}

// forget drops a deleted key's materials from the caches.
func (s *Service) forget(keyID string) {
	s.mu.Lock()
	for ck := range s.materials {
		if strings.HasPrefix(ck, keyID+"#") {
			delete(s.materials, ck)
		}
	}
	s.mu.Unlock()
	s.keys.ForgetKey(keyID)
}

// Meta keys under which the foundation kept each namespace's default key-encryption key.
func legacyDefaultMeta(ns coffer.Namespace) string {
	return "kek/default/" + ns.Account + "/" + ns.Region
}
func legacyKEKMeta(id string) string { return "kek/" + id }

// managedKey returns ns's AWS-managed key, creating it inside tx (a write transaction) on
// first use. A namespace that had the foundation's default key-encryption key gets it as
// the managed key's first material, with the same id, so no data moves.
func (s *Service) managedKey(tx coffer.Tx, ns coffer.Namespace) (*coffer.Key, error) {
	// Every new version of a secret under the default key asks for it: from memory, but for
	// the key's state, which the key cache keeps as it keeps it for reads.
	if id, ok := s.managedIDs.Load(ns); ok {
		k, err := s.CachedKey(tx, id.(string))
		if !coffer.IsNotFound(err) {
			return k, err
		}
		s.managedIDs.Delete(ns) // read in a transaction that did not commit
	}
	a, err := tx.Alias(ns, ManagedAlias)
	if err == nil {
		k, err := tx.Key(a.KeyID)
		if err == nil {
			s.managedIDs.Store(ns, a.KeyID)
		}
		return k, err
	}
	if !coffer.IsNotFound(err) {
		return nil, err
	}
	now := s.clock()
	k := &coffer.Key{
		Namespace: ns, Description: managedDescription, Manager: coffer.KeyManagerAWS,
		State: coffer.KeyStateEnabled, Policy: managedPolicy(ns), CreatedDate: now,
		RotationEnabled: true, RotationPeriodDays: managedRotation,
		NextRotationDate: now.AddDate(0, 0, managedRotation), CurrentMaterial: 1,
	}
	var wrapped []byte
	raw, err := tx.Meta(legacyDefaultMeta(ns))
	switch {
	case err == nil:
		k.ID = string(raw)
		if wrapped, err = tx.Meta(legacyKEKMeta(k.ID)); err != nil {
			return nil, coffer.Internal(fmt.Errorf("kms: the default key-encryption key %s of %s is missing: %w", k.ID, ns, err))
		}
	case coffer.IsNotFound(err):
		if k.ID, err = s.newUUID(); err != nil {
			return nil, err
		}
		if wrapped, err = s.keys.NewMaterial(k.ID, 1); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	if err := tx.InsertKey(k); err != nil {
		return nil, err
	}
	if err := tx.InsertKeyMaterial(&coffer.KeyMaterial{KeyID: k.ID, Version: 1, Wrapped: wrapped, CreatedDate: now}); err != nil {
		return nil, err
	}
	if err := tx.InsertAlias(&coffer.Alias{Namespace: ns, Name: ManagedAlias, KeyID: k.ID, CreatedDate: now, LastUpdatedDate: now}); err != nil {
		return nil, err
	}
	return k, nil
}

// legacyKey stands in, for reading only, for a namespace's foundation key-encryption key
// that no write has yet turned into the managed key.
func (s *Service) legacyKey(tx coffer.Tx, keyID string) (*coffer.Key, []byte, error) {
	w, err := tx.Meta(legacyKEKMeta(keyID))
	if err != nil {
		return nil, nil, err
	}
	return &coffer.Key{ID: keyID, State: coffer.KeyStateEnabled, Manager: coffer.KeyManagerAWS, CurrentMaterial: 1}, w, nil
}

// managedPolicy is the key policy of an AWS-managed key: the account's principals may use it
// through Secrets Manager.
func managedPolicy(ns coffer.Namespace) string {
	return `{"Version":"2012-10-17","Id":"auto-secretsmanager-2","Statement":[` +
		`{"Sid":"Allow access through AWS Secrets Manager for all principals in the account that are authorized to use AWS Secrets Manager","Effect":"Allow","Principal":{"AWS":"*"},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:CreateGrant","kms:DescribeKey"],"Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"` + ns.Account + `","kms:ViaService":"secretsmanager.` + ns.Region + `.amazonaws.com"}}},` +
		`{"Sid":"Allow direct access to key metadata to the account","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + ns.Account + `:root"},"Action":["kms:Describe*","kms:Get*","kms:List*","kms:RevokeGrant"],"Resource":"*"}]}`
}

// defaultPolicy is the key policy CreateKey gives a key when none is passed, as AWS does.
func defaultPolicy(ns coffer.Namespace) string {
	return `{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` +
		ns.Account + `:root"},"Action":"kms:*","Resource":"*"}]}`
}

// update and view run fn in a store transaction.
func (s *Service) update(ctx context.Context, fn func(coffer.Tx) error) error {
	s.invalidateKeys()
	defer s.invalidateKeys()
	return s.store.Update(ctx, func(tx coffer.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return coffer.BumpAuthzGeneration(tx)
	})
}

// InvalidateCaches drops every cached key, after another server changed keys in a shared
// store.
func (s *Service) InvalidateCaches() { s.invalidateKeys() }

func (s *Service) view(ctx context.Context, fn func(coffer.Tx) error) error {
	return s.store.View(ctx, fn)
}

// Lookup returns the key ref (id, ARN, alias or alias ARN) names in ns, for the access checks
// made before a KMS operation runs.
func (s *Service) Lookup(ctx context.Context, ns coffer.Namespace, ref string) (*coffer.Key, error) {
	var k *coffer.Key
	err := s.view(ctx, func(tx coffer.Tx) (err error) {
		k, err = s.resolve(tx, ns, ref, true)
		return err
	})
	return k, err
}

// AliasNames returns the names of the aliases that point at key id in ns (for the
// kms:ResourceAliases condition key).
func (s *Service) AliasNames(ctx context.Context, ns coffer.Namespace, id string) ([]string, error) {
	var names []string
	err := s.view(ctx, func(tx coffer.Tx) error {
		as, err := tx.ListAliases(ns, id, "", 0)
		names = names[:0]
		for _, a := range as {
			names = append(names, a.Name)
		}
		return err
	})
	return names, err
}
