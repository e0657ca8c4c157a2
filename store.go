package coffer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Store is durable storage for secrets, versions, accounts and access keys. Adapters (sqlite,
// postgres) hold ciphertext and wrapped keys only, and pass the shared conformance suite in
// package storetest.
//
// Every operation of the core runs in one transaction: all of its writes commit together or
// none do, so a crash in the middle leaves the previous state. A returned error from fn rolls
// the transaction back and is returned unchanged.
//
// fn may be called more than once (the PostgreSQL adapter re-runs it after a serialization
// failure), so it must act only through its Tx and reset any state it accumulates; it must
// not call Update or View on the same store (on SQLite a nested Update waits forever for the
// single writer).
type Store interface {
	// Update runs fn in a read-write transaction.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction that sees one consistent snapshot.
	View(ctx context.Context, fn func(Tx) error) error
	// Close releases the store's resources.
	Close() error
}

// Tx is one transaction. Lookups that find nothing return an error for which IsNotFound is
// true; inserts that collide return an *Error with code ResourceExistsException; either answer
// leaves the transaction usable. Writes that name something missing (a version of a missing
// secret, a stage on a missing version, updating or deleting what does not exist) return
// NotFound too. A Tx must not be used after the function it was given to returns.
type Tx interface {
	// SecretByName returns the live secret (scheduled for deletion or not, but not purged)
	// named name in ns.
	SecretByName(ns Namespace, name string) (*Secret, error)
	// SecretByARN returns the secret with exactly this ARN.
	SecretByARN(arn string) (*Secret, error)
	// InsertSecret stores a new secret. The name must be free in its namespace and the ARN unused.
	InsertSecret(s *Secret) error
	// UpdateSecret replaces every field of the secret with s.ARN except its ARN, name and
	// namespace, which never change.
	UpdateSecret(s *Secret) error
	// DeleteSecret removes a secret with all its versions and stages, for good.
	DeleteSecret(arn string) error
	// ListSecrets returns up to q.Limit secrets of ns in q's order (see ListQuery), starting
	// after q.After when it is set.
	ListSecrets(ns Namespace, q ListQuery) ([]*Secret, error)
	// DueForPurge returns up to limit (0 or less: no limit) secrets, of any namespace, whose
	// PurgeDate is set and not after now, oldest first.
	DueForPurge(now time.Time, limit int) ([]*Secret, error)
	// DueRotations returns up to limit (0 or less: no limit) secrets, of any namespace, not
	// scheduled for deletion, with rotation enabled and a NextRotationDate at or before now,
	// soonest first (then by ARN).
	DueRotations(now time.Time, limit int) ([]*Secret, error)

	// Versions returns every version of a secret, ordered by CreatedDate then VersionID, with
	// their Stages filled in (each sorted ascending, byte order). A missing secret is NotFound;
	// a secret without versions gives an empty list.
	Versions(secretARN string) ([]*Version, error)
	// VersionHeaders is Versions without each version's WrappedKey and Ciphertext (both
	// empty), for the writes that only need the versions' ids, dates and stages: it spares
	// reading every ciphertext of a secret with many versions. (Version.Empty is
	// meaningless on what it returns.)
	VersionHeaders(secretARN string) ([]*Version, error)
	// Version returns one version, with its Stages. Its WrappedKey and Ciphertext are read
	// only: an adapter may hand the same bytes to every reader (a cache), so a caller that
	// needs to change them replaces the slices, as UpdateVersion's callers do.
	Version(secretARN, versionID string) (*Version, error)
	// InsertVersion stores a new version; Stages is ignored (use SetStage).
	InsertVersion(v *Version) error
	// UpdateVersion replaces a version's WrappedKey, Ciphertext, KMSKeyID and LastAccessedDate;
	// every other field is ignored. The core never writes a value back onto a destroyed
	// version (its blobs stay empty).
	UpdateVersion(v *Version) error
	// MarkAccessed raises the LastAccessedDate of the secret secretARN, and of its version
	// versionID unless that one is missing or destroyed, to day; a later date stays. Only
	// those dates change (the access recorder writes one per secret read each day). A
	// missing secret is NotFound.
	MarkAccessed(secretARN, versionID string, day time.Time) error
	// DeleteVersion removes a version and any stage on it.
	DeleteVersion(secretARN, versionID string) error
	// DestroyVersion erases a version's WrappedKey and Ciphertext for good and records
	// DestroyedDate = at, keeping the version (and its stages) in the history. The erasure is
	// as thorough as the database allows: SQLite overwrites freed pages (secure_delete) and
	// checkpoints the WAL; PostgreSQL leaves the old row version for VACUUM. Destroying a
	// destroyed version changes nothing; at must not be zero.
	DestroyVersion(secretARN, versionID string, at time.Time) error
	// SetStage puts stage on versionID, taking it off whichever version had it: a label is on at
	// most one version of a secret. A version that does not exist is NotFound, and no label
	// moves.
	SetStage(secretARN, stage, versionID string) error
	// RemoveStage takes stage off the secret's versions; it is not an error if none had it.
	RemoveStage(secretARN, stage string) error

	// Account returns an account by id.
	Account(id string) (*Account, error)
	// InsertAccount stores a new account.
	InsertAccount(a *Account) error
	// Accounts returns every account ordered by id.
	Accounts() ([]*Account, error)
	// AccessKey returns an access key by its id.
	AccessKey(id string) (*AccessKey, error)
	// InsertAccessKey stores a new access key.
	InsertAccessKey(k *AccessKey) error
	// AccessKeys returns up to limit (0 or less: no limit) access keys of every account,
	// ordered by id, starting after the id afterID ("" for the first page).
	AccessKeys(afterID string, limit int) ([]*AccessKey, error)
	// UpdateAccessKeySecret replaces an access key's SealedSecret (root key rotation); every
	// other field stays. A missing key is NotFound.
	UpdateAccessKeySecret(id string, sealed []byte) error

	// Key returns the KMS key with this id (of any namespace).
	Key(id string) (*Key, error)
	// InsertKey stores a new key; its id must be unused.
	InsertKey(k *Key) error
	// UpdateKey replaces every field of the key with k.ID except its id, namespace, manager
	// and creation date, which never change.
	UpdateKey(k *Key) error
	// DeleteKey removes a key for good, with its materials and every alias that points at it.
	DeleteKey(id string) error
	// ListKeys returns up to limit (0 or less: no limit) keys of ns ordered by id, starting
	// after the id afterID ("" for the first page).
	ListKeys(ns Namespace, afterID string, limit int) ([]*Key, error)
	// DueKeyDeletions returns up to limit keys, of any namespace, pending deletion with a
	// DeletionDate not after now, oldest first.
	DueKeyDeletions(now time.Time, limit int) ([]*Key, error)
	// DueKeyRotations returns up to limit keys, of any namespace, with rotation enabled, not
	// pending deletion, and a NextRotationDate not after now, oldest first.
	DueKeyRotations(now time.Time, limit int) ([]*Key, error)
	// KeyMaterials returns every material of a key, by ascending Version.
	KeyMaterials(keyID string) ([]*KeyMaterial, error)
	// InsertKeyMaterial stores a new material; (KeyID, Version) must be unused.
	InsertKeyMaterial(m *KeyMaterial) error
	// AllKeyMaterials returns up to limit (0 or less: no limit) materials of every key,
	// ordered by key id then version, starting after (afterKeyID, afterVersion) when
	// afterKeyID is not "". Root key rotation walks it to re-wrap every material.
	AllKeyMaterials(afterKeyID string, afterVersion, limit int) ([]*KeyMaterial, error)
	// UpdateKeyMaterial replaces the Wrapped of the material (m.KeyID, m.Version); every other
	// field is ignored. A missing material is NotFound.
	UpdateKeyMaterial(m *KeyMaterial) error

	// Alias returns the alias of ns with this name (which includes "alias/").
	Alias(ns Namespace, name string) (*Alias, error)
	// InsertAlias stores a new alias; the name must be free in its namespace.
	InsertAlias(a *Alias) error
	// UpdateAlias points an existing alias at a.KeyID and sets its LastUpdatedDate.
	UpdateAlias(a *Alias) error
	// DeleteAlias removes an alias; a missing one is NotFound.
	DeleteAlias(ns Namespace, name string) error
	// ListAliases returns up to limit aliases of ns ordered by name, only those of keyID when
	// it is not "", starting after the name afterName ("" for the first page).
	ListAliases(ns Namespace, keyID, afterName string, limit int) ([]*Alias, error)

	// KeyBindings returns up to limit (0 or less: no limit) secret versions, not destroyed,
	// whose Version.KMSKeyID is keyID, ordered by secret ARN then version id, starting after
	// (afterARN, afterVersion) when afterARN is not "".
	KeyBindings(keyID, afterARN, afterVersion string, limit int) ([]*KeyBinding, error)

	// AccessKeysOf returns the access keys whose PrincipalARN is arn, oldest first.
	AccessKeysOf(principalARN string) ([]*AccessKey, error)
	// UpdateAccessKeyStatus sets an access key's Status.
	UpdateAccessKeyStatus(id, status string) error
	// DeleteAccessKey removes an access key.
	DeleteAccessKey(id string) error

	// Entity returns the user, group or role of account with this kind and name (names
	// compared case-insensitively).
	Entity(account, kind, name string) (*Entity, error)
	// InsertEntity stores a new entity; a name already used by the account for that kind
	// (case-insensitively) is ResourceExistsException.
	InsertEntity(e *Entity) error
	// UpdateEntity replaces every field of the entity (account, kind, name) except its
	// account, kind, name, ID and creation date.
	UpdateEntity(e *Entity) error
	// DeleteEntity removes an entity, and with it its group memberships, attachments and
	// inline policies.
	DeleteEntity(account, kind, name string) error
	// ListEntities returns up to limit (0 or less: no limit) entities of account and kind
	// whose Path starts with pathPrefix, ordered by lower-cased name, after the name afterName
	// ("" for the first page).
	ListEntities(account, kind, pathPrefix, afterName string, limit int) ([]*Entity, error)

	// AddGroupMember puts a user into a group; adding a member again changes nothing.
	AddGroupMember(account, group, user string) error
	// RemoveGroupMember takes a user out of a group; a user not in it is NotFound.
	RemoveGroupMember(account, group, user string) error
	// GroupsOf returns the names of the groups a user is in, sorted case-insensitively.
	GroupsOf(account, user string) ([]string, error)
	// MembersOf returns the names of a group's users, sorted case-insensitively.
	MembersOf(account, group string) ([]string, error)

	// ManagedPolicy returns a managed policy by ARN.
	ManagedPolicy(arn string) (*ManagedPolicy, error)
	// InsertManagedPolicy stores a new managed policy (its versions are inserted apart); a
	// name already used by the account (case-insensitively) is ResourceExistsException.
	InsertManagedPolicy(p *ManagedPolicy) error
	// UpdateManagedPolicy replaces DefaultVersion, Description, UpdateDate and Tags.
	UpdateManagedPolicy(p *ManagedPolicy) error
	// DeleteManagedPolicy removes a managed policy and its versions.
	DeleteManagedPolicy(arn string) error
	// ListManagedPolicies returns up to limit managed policies of account whose Path starts
	// with pathPrefix, ordered by lower-cased name, after the name afterName.
	ListManagedPolicies(account, pathPrefix, afterName string, limit int) ([]*ManagedPolicy, error)
	// PolicyVersions returns a managed policy's versions, oldest first.
	PolicyVersions(policyARN string) ([]*PolicyVersion, error)
	// InsertPolicyVersion stores a new version; a VersionID already used is ResourceExistsException.
	InsertPolicyVersion(v *PolicyVersion) error
	// DeletePolicyVersion removes one version.
	DeletePolicyVersion(policyARN, versionID string) error

	// AttachPolicy attaches a managed policy to an entity; attaching it again changes nothing.
	AttachPolicy(e EntityRef, policyARN string) error
	// DetachPolicy detaches it; a policy not attached is NotFound.
	DetachPolicy(e EntityRef, policyARN string) error
	// AttachedPolicies returns the ARNs of the managed policies attached to an entity, sorted.
	AttachedPolicies(e EntityRef) ([]string, error)
	// PolicyAttachments returns the entities a managed policy is attached to, ordered by kind
	// then lower-cased name.
	PolicyAttachments(policyARN string) ([]EntityRef, error)

	// PutInlinePolicy creates or replaces an entity's inline policy name.
	PutInlinePolicy(e EntityRef, name, document string) error
	// InlinePolicy returns the document of an entity's inline policy.
	InlinePolicy(e EntityRef, name string) (string, error)
	// DeleteInlinePolicy removes an inline policy; a missing one is NotFound.
	DeleteInlinePolicy(e EntityRef, name string) error
	// InlinePolicies returns the names of an entity's inline policies, sorted.
	InlinePolicies(e EntityRef) ([]string, error)

	// Meta returns a small named value (wrapped keys, server settings).
	Meta(key string) ([]byte, error)
	// PutMeta creates or replaces a named value.
	PutMeta(key string, value []byte) error
	// DeleteMeta removes a named value; removing one that does not exist is not an error.
	DeleteMeta(key string) error
	// MetaKeys returns the names of the named values that start with prefix, in ascending
	// byte order.
	MetaKeys(prefix string) ([]string, error)
}

// Orders of ListSecrets, named as AWS's SortBy values.
const (
	SortCreatedDate      = "created-date" // the default
	SortName             = "name"
	SortLastChangedDate  = "last-changed-date"
	SortLastAccessedDate = "last-accessed-date"
)

// ListQuery selects a page of secrets.
type ListQuery struct {
	After      *ListCursor // start after this position; nil for the first page
	Limit      int         // at most this many; 0 or less means no limit
	Descending bool
	// SortBy is one of the Sort constants; "" means SortCreatedDate. Secrets are ordered by
	// that key and then by ARN (in the same direction), so the order is total.
	SortBy string
	// IncludeDeleted also lists secrets scheduled for deletion.
	IncludeDeleted bool
	// NamePrefixes, when not empty, keeps only the secrets whose name starts with one of
	// them (byte for byte): ListSecrets' name filter, which the store answers from its
	// index on names instead of a scan of every secret.
	NamePrefixes []string
}

// ListCursor is a position in a ListSecrets order: the sort key of the last secret returned
// (Name for SortName, Time for the date orders) and its ARN.
type ListCursor struct {
	Time time.Time
	Name string
	ARN  string
}

// AuthzGenerationMeta names the Meta value that changes with every write to access control
// (IAM entities, policies, access keys, KMS keys and their policies), so that servers sharing
// a store can tell, with one read, that their caches of those are stale.
const AuthzGenerationMeta = "authz-generation"

// BumpAuthzGeneration changes the access-control generation inside tx.
func BumpAuthzGeneration(tx Tx) error {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	return tx.PutMeta(AuthzGenerationMeta, []byte(hex.EncodeToString(b[:])))
}

// WriteDeferrer is implemented by a Tx that can hold writes back and send them together (the
// PostgreSQL store: with its next statement or its commit, in one round trip).
type WriteDeferrer interface {
	// DeferWrites lets the Tx hold back the writes that follow (InsertSecret, UpdateSecret,
	// DeleteSecret, InsertVersion, UpdateVersion, DeleteVersion, SetStage, RemoveStage)
	// until its next read or its commit. A held write returns nil at once; its error
	// (NotFound, ResourceExistsException, or the store's own) is then returned by the call
	// it went with, or by Update, and the transaction does not commit whatever fn returns:
	// every later call fails with the same error. The first failing write's error is the one
	// returned. In a View it does nothing.
	DeferWrites()
}

// DeferWrites calls tx.DeferWrites when tx has it. A caller uses it where, from then on, it
// returns every error of tx unchanged, so that which call returns a write's error does not
// matter.
func DeferWrites(tx Tx) {
	if d, ok := tx.(WriteDeferrer); ok {
		d.DeferWrites()
	}
}

// CurrentReader is implemented by a Tx that can read, with the version headers of a secret,
// the key and ciphertext of its version labelled AWSCURRENT, in the same statement (SQLite)
// or round trip (PostgreSQL), for Version to hand out without a statement of its own.
type CurrentReader interface {
	// ReadCurrent asks for that from now on: the caller reads the AWSCURRENT value of the
	// secrets it looks up. In an Update it does nothing. Without it, reads of headers carry
	// no blob.
	ReadCurrent()
}

// ReadCurrent calls tx.ReadCurrent when tx has it.
func ReadCurrent(tx Tx) {
	if r, ok := tx.(CurrentReader); ok {
		r.ReadCurrent()
	}
}

// LookupEnder is implemented by a Tx whose store can end a View's transaction in the round
// trip of its first lookup of a secret (PostgreSQL: BEGIN, the secret, its version headers
// and, after ReadCurrent, its AWSCURRENT version, then ROLLBACK, in one pipeline), for a
// caller that reads nothing else.
type LookupEnder interface {
	// EndWithLookup asks for that, before the View's first statement. When fn then reads
	// more, that read fails, and the store runs fn again in a transaction that stays open:
	// fn must only read, and keep only what its last run found. In an Update it does
	// nothing.
	EndWithLookup()
}

// EndWithLookup calls tx.EndWithLookup when tx has it.
func EndWithLookup(tx Tx) {
	if e, ok := tx.(LookupEnder); ok {
		e.EndWithLookup()
	}
}

// OneSecretUpdate marks ctx for an Update whose fn acts on one secret: it looks the secret
// up (SecretByName or SecretByARN) before anything else, and what it writes depends only on
// that secret, its versions and its stages, whose every writer also writes the secret's row
// (UpdateSecret, DeleteSecret, MarkAccessed), and on things no writer of them reads back (a
// KMS key, the access-control generation, a name's tombstone), which it needs only as they
// were when its transaction began. When the lookup finds no secret, fn may create it
// (InsertSecret): creators of one name are ordered by the names' uniqueness. A store may run
// such an Update beside its other Updates, ordering it with the other writers of that secret
// by a lock on the secret's row taken at the lookup (PostgreSQL: REPEATABLE READ and SELECT
// … FOR UPDATE), rather than one Update at a time. Stores that run every Update alone
// ignore it.
//
// key names the secret as the caller knows it before the lookup (core uses the ARN the
// SecretId names, without its random suffix), or is empty. It is a hint: a store may queue
// the Updates of one key before their transactions begin, so that they do not all wait at
// the row's lock and fail to serialize when it is let go. Two keys of one secret (a name and
// a partial ARN, say) are still ordered by the lock, as are Updates of one key in different
// servers.
func OneSecretUpdate(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, oneSecretKey{}, oneSecret{key: key})
}

// IsOneSecretUpdate reports whether ctx carries OneSecretUpdate.
func IsOneSecretUpdate(ctx context.Context) bool {
	_, one := ctx.Value(oneSecretKey{}).(oneSecret)
	return one
}

// OneSecretUpdateKey returns the key ctx's OneSecretUpdate was given, or "".
func OneSecretUpdateKey(ctx context.Context) string {
	one, _ := ctx.Value(oneSecretKey{}).(oneSecret)
	return one.key
}

type oneSecret struct{ key string }

type oneSecretKey struct{}

// AuditLine is one record of an audit chain as a table keeps it: its place in the chain,
// its event time (for queries) and the record's line, byte for byte.
type AuditLine struct {
	Seq  uint64
	Time time.Time
	Raw  []byte
}

// AuditTable keeps audit chains in a database (the PostgreSQL store): one chain per server
// name, each line written once. audit.TableSink adapts it to an audit sink.
type AuditTable interface {
	// AppendAudit writes lines, in one transaction, durably (committed) or not at all; a
	// line whose (server, seq) is already there is left as it is.
	AppendAudit(ctx context.Context, server string, lines []AuditLine) error
	// AppendAuditBuffered is AppendAudit without waiting for stable storage: the lines are
	// committed (every connection sees them, and they outlive this process) but may be lost
	// with the database's host until a SyncAudit that begins after it returns.
	AppendAuditBuffered(ctx context.Context, server string, lines []AuditLine) error
	// SyncAudit returns once every line committed before it began, by AppendAuditBuffered
	// of any server, is on stable storage.
	SyncAudit(ctx context.Context, server string) error
	// AuditHead returns the last line of a server's chain; ok is false when it has none.
	AuditHead(ctx context.Context, server string) (line AuditLine, ok bool, err error)
	// AuditLines returns up to limit lines of a server's chain with a seq above after,
	// in order.
	AuditLines(ctx context.Context, server string, after uint64, limit int) ([]AuditLine, error)
	// AuditServers returns the names of the servers that have a chain, sorted.
	AuditServers(ctx context.Context) ([]string, error)
}

// AuditSigningKeyMeta prefixes the Meta names of the audit trail's digest-signing keys: one
// per server ("audit/signing-key/<server>"), an Ed25519 seed sealed under the root key with
// the Meta name as its label, so that root rotation re-wraps it with the rest.
const AuditSigningKeyMeta = "audit/signing-key/"

// WriterStats counts the work of a store whose writes all go through one writer (the SQLite
// store's group commit) since it opened, for /metrics: how much of the time the writer was
// held, and how many writes each commit covered.
type WriterStats struct {
	Updates    int64         // Updates committed
	Commits    int64         // transactions committed or rolled back, each covering one or more Updates
	Busy       time.Duration // time the writer was held: running Updates' writes, or committing
	Committing time.Duration // the part of Busy spent committing (the WAL's fsync included)
	// Summed over the Updates committed: the time each waited for the writer before its
	// writes ran, and then for the commit that covered them.
	TurnWait, CommitWait time.Duration
}

// WriterStatsSource is a Store that counts its writer's work (the SQLite store).
type WriterStatsSource interface {
	WriterStats() WriterStats
}
