package core

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/keyring"
)

// MaxVersions is how many versions a secret keeps before the oldest unlabeled ones are removed.
const MaxVersions = 100

// CreateSecretInput is the CreateSecret request, named as AWS names its members.
type CreateSecretInput struct {
	Name               *string
	ClientRequestToken *string
	Description        *string
	KmsKeyId           *string //nolint:revive // AWS's member name
	SecretBinary       Blob
	SecretString       *Text
	Tags               []TagInput
	AddReplicaRegions  []ReplicaRegion
	Type               *string
	// ForceOverwriteReplicaSecret is accepted and has no effect until replication exists.
	ForceOverwriteReplicaSecret *bool
}

// TagInput is a tag as a request carries it.
type TagInput struct {
	Key   *string
	Value *string
}

// ReplicaRegion is a replica region as a request names it.
type ReplicaRegion struct {
	Region   *string
	KmsKeyId *string //nolint:revive // AWS's member name
}

// SecretRef is the result of operations that name a secret and maybe a new version.
type SecretRef struct {
	ARN           string
	Name          string
	VersionID     string   // "" when no version was created
	VersionStages []string // PutSecretValue only
	DeletionDate  time.Time
}

// value returns the request's value, checking that at most one kind is given.
func value(s *Text, b Blob) (*Value, error) {
	switch {
	case s != nil && b != nil:
		return nil, coffer.Errorf(coffer.ErrInvalidParameter, "You can't specify both a binary secret value and a string secret value in the same secret.")
	case s != nil:
		return &Value{Bytes: []byte(*s)}, nil
	case b != nil:
		return &Value{Binary: true, Bytes: []byte(b)}, nil
	}
	return nil, nil
}

func validValue(v *validator, s *Text, b Blob) {
	if s != nil {
		v.BytesLen("secretString", []byte(*s), 1, 65536)
	}
	v.BytesLen("secretBinary", b, 1, 65536)
}

func validTags(v *validator, tags []TagInput) error {
	if len(tags) > 50 {
		return coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50")
	}
	seen := map[string]bool{}
	for i, t := range tags {
		v.Required("tags."+itoa(i+1)+".member.key", t.Key != nil)
		v.Length("tags."+itoa(i+1)+".member.key", t.Key, 1, 128, false)
		v.Length("tags."+itoa(i+1)+".member.value", t.Value, 0, 256, false)
		if t.Key != nil {
			if seen[*t.Key] {
				return coffer.Errorf(coffer.ErrInvalidParameter, "You can't specify the same tag key more than once.")
			}
			seen[*t.Key] = true
			if strings.HasPrefix(strings.ToLower(*t.Key), "aws:") {
				return coffer.Errorf(coffer.ErrInvalidParameter, "Invalid tag key. The aws: prefix is reserved for AWS use.")
			}
		}
	}
	return nil
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// CreateSecret creates a secret in ns, with a first version when a value is given.
func (s *Service) CreateSecret(ctx context.Context, ns coffer.Namespace, in *CreateSecretInput) (*SecretRef, error) {
	var v validator
	v.Required("name", in.Name != nil)
	v.Length("clientRequestToken", in.ClientRequestToken, 32, 64, false)
	v.Length("description", in.Description, 0, 2048, false)
	v.Length("kmsKeyId", in.KmsKeyId, 0, 2048, false)
	v.Length("type", in.Type, 0, 256, false)
	validValue(&v, in.SecretString, in.SecretBinary)
	if err := validTags(&v, in.Tags); err != nil {
		return nil, err
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := validName(*in.Name); err != nil {
		return nil, err
	}
	if len(in.AddReplicaRegions) > 0 {
		return nil, errNoReplication()
	}
	val, err := value(in.SecretString, in.SecretBinary)
	if err != nil {
		return nil, err
	}
	if val != nil {
		defer val.Wipe()
		if in.ClientRequestToken == nil {
			return nil, errNoToken()
		}
	}
	name := *in.Name
	var ref *SecretRef
	err = s.updateSecret(ctx, secretKey(ns, name), func(tx coffer.Tx) error {
		ref = nil
		now := s.clock()
		existing, err := tx.SecretByName(ns, name)
		switch {
		case err == nil:
			if existing.Deleted() {
				return coffer.Errorf(coffer.ErrInvalidRequest, "You can't create this secret because a secret with this name is already scheduled for deletion.")
			}
			// A retry of the same CreateSecret (same token, same value) succeeds unchanged.
			if val != nil && in.ClientRequestToken != nil {
				if same, err := s.sameVersion(ctx, tx, existing, *in.ClientRequestToken, val); err == nil && same {
					ref = &SecretRef{ARN: existing.ARN, Name: existing.Name, VersionID: *in.ClientRequestToken}
					return nil
				}
			}
			return coffer.Errorf(coffer.ErrResourceExists, "The operation failed because the secret %s already exists.", name)
		case !coffer.IsNotFound(err):
			return err
		}
		if gone, err := s.recentlyDeleted(tx, ns, name, ""); err != nil || gone {
			return firstErr(err, errDeleted())
		}
		if err := tx.DeleteMeta(tombstoneMeta(ns, name)); err != nil {
			return err
		}
		if _, err := s.secretKey(tx, ns, str(in.KmsKeyId)); err != nil {
			return err
		}
		suffix, err := s.suffix()
		if err != nil {
			return err
		}
		sec := &coffer.Secret{
			ARN:             coffer.SecretARN(ns, name, suffix),
			Namespace:       ns,
			Name:            name,
			Description:     str(in.Description),
			KMSKeyID:        str(in.KmsKeyId),
			Type:            str(in.Type),
			CreatedDate:     now,
			LastChangedDate: now,
		}
		for _, t := range in.Tags {
			sec.Tags = append(sec.Tags, coffer.Tag{Key: str(t.Key), Value: str(t.Value)})
		}
		if err := tx.InsertSecret(sec); err != nil {
			return err
		}
		ref = &SecretRef{ARN: sec.ARN, Name: sec.Name}
		if val == nil {
			return nil
		}
		known := []*coffer.Version{} // a new secret has none
		ver, err := s.addVersion(ctx, tx, sec, *in.ClientRequestToken, val, []string{coffer.StageCurrent}, now, &known)
		if err != nil {
			return err
		}
		ref.VersionID = ver.VersionID
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ref, nil
}

func errNoToken() error {
	return coffer.Errorf(coffer.ErrInvalidRequest, "You must provide a ClientRequestToken value. We recommend a UUID-type value.")
}

func errNoReplication() error {
	return coffer.Errorf(coffer.ErrInvalidRequest, "This coffer server does not replicate secrets to other regions yet; remove AddReplicaRegions.")
}

// encryptionContext is the context a version's value is bound to, as AWS binds it in KMS.
func encryptionContext(secretARN, versionID string) keyring.Context {
	return keyring.Context{"SecretARN": secretARN, "SecretVersionId": versionID}
}

// seal encrypts val for version versionID of sec under the secret's key, returning the
// version with its key, wrapped data key and ciphertext set.
func (s *Service) seal(ctx context.Context, tx coffer.Tx, sec *coffer.Secret, versionID string, val *Value) (*coffer.Version, error) {
	k, err := s.secretKey(tx, sec.Namespace, sec.KMSKeyID)
	if err != nil {
		return nil, err
	}
	pt := val.encoded()
	defer keyring.Wipe(pt)
	wk, ct, err := s.kms.SealValue(ctx, tx, k, encryptionContext(sec.ARN, versionID), pt)
	if err != nil {
		return nil, s.keyFailure(coffer.ErrEncryptionFailure, msgEncryptionFailure, sec.ARN, k, err)
	}
	return &coffer.Version{SecretARN: sec.ARN, VersionID: versionID, KMSKeyID: k.ID, Binary: val.Binary, WrappedKey: wk, Ciphertext: ct}, nil
}

// keyFailure turns a KMS error met while encrypting or decrypting a secret into the Secrets
// Manager error AWS answers with (code, msg), logging which key, in which state.
func (s *Service) keyFailure(code, msg, secretARN string, k *coffer.Key, err error) error {
	e := coffer.AsError(err)
	if e.Code == coffer.ErrInternalServiceError {
		return e
	}
	if e.Code == coffer.ErrAccessDenied {
		// The caller may use the secret but not its key, as AWS answers it.
		return &coffer.Error{Code: coffer.ErrAccessDenied, Message: "Access to KMS is not allowed", Err: err}
	}
	attrs := []any{"secret", secretARN, "kms_error", e.Code}
	if k != nil {
		attrs = append(attrs, "key", k.ID, "key_state", k.State)
	}
	s.log.Warn("a secret's key refused the operation", attrs...)
	return &coffer.Error{Code: code, Message: msg, Err: err}
}

// namespaceOf returns the namespace in a secret ARN.
func namespaceOf(arn string) coffer.Namespace {
	// arn:aws:secretsmanager:<region>:<account>:secret:…
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return coffer.Namespace{}
	}
	return coffer.Namespace{Region: parts[3], Account: parts[4]}
}

// open decrypts a version. The caller wipes the returned value.
func (s *Service) open(ctx context.Context, tx coffer.Tx, ver *coffer.Version) (*Value, error) {
	if ver.Destroyed() {
		return nil, &coffer.Error{Code: coffer.ErrDecryptionFailure, Message: msgDecryptionFailure, Err: errors.New("the version was destroyed")}
	}
	pt, k, err := s.kms.OpenValue(ctx, tx, namespaceOf(ver.SecretARN), ver.KMSKeyID, ver.WrappedKey, ver.Ciphertext, encryptionContext(ver.SecretARN, ver.VersionID))
	if err != nil {
		return nil, s.keyFailure(coffer.ErrDecryptionFailure, msgDecryptionFailure, ver.SecretARN, k, err)
	}
	val, ok := decodeValue(pt)
	if !ok || val.Binary != ver.Binary {
		keyring.Wipe(pt)
		return nil, &coffer.Error{Code: coffer.ErrDecryptionFailure, Message: msgDecryptionFailure, Err: errors.New("malformed plaintext")}
	}
	return val, nil
}

// reencrypt seals the versions of sec that carry AWSCURRENT, AWSPENDING or AWSPREVIOUS
// under the secret's (new) key, as AWS does when UpdateSecret changes KmsKeyId; older
// versions stay under the key that sealed them. Versions already under keyID are left alone.
func (s *Service) reencrypt(ctx context.Context, tx coffer.Tx, sec *coffer.Secret, keyID string) error {
	all, err := tx.Versions(sec.ARN)
	if err != nil {
		return err
	}
	for _, ver := range all {
		if ver.Destroyed() || ver.Empty() || ver.KMSKeyID == keyID || !(ver.HasStage(coffer.StageCurrent) || ver.HasStage(coffer.StagePending) || ver.HasStage(coffer.StagePrevious)) {
			continue
		}
		val, err := s.open(ctx, tx, ver)
		if err != nil {
			return err
		}
		sealed, err := s.seal(ctx, tx, sec, ver.VersionID, val)
		val.Wipe()
		if err != nil {
			return err
		}
		ver.KMSKeyID, ver.WrappedKey, ver.Ciphertext = sealed.KMSKeyID, sealed.WrappedKey, sealed.Ciphertext
		if err := tx.UpdateVersion(ver); err != nil {
			return err
		}
	}
	return nil
}

// sameVersion reports whether sec has a version versionID holding exactly val.
func (s *Service) sameVersion(ctx context.Context, tx coffer.Tx, sec *coffer.Secret, versionID string, val *Value) (bool, error) {
	ver, err := tx.Version(sec.ARN, versionID)
	if err != nil {
		return false, err
	}
	old, err := s.open(ctx, tx, ver)
	if err != nil {
		return false, err
	}
	defer old.Wipe()
	return old.equal(val), nil
}

// addVersion seals val as a new version of sec and attaches stages to it. Moving AWSCURRENT
// moves AWSPREVIOUS onto the version that was current. known, when not nil, is every version
// of sec as this transaction left them (read once by the caller, to spare the store a read
// per step); it is kept up to date.
//
// From the version's insert on, the store may hold the writes back and send them together
// (coffer.DeferWrites): every caller returns addVersion's error, and every later one of tx,
// unchanged.
func (s *Service) addVersion(ctx context.Context, tx coffer.Tx, sec *coffer.Secret, versionID string, val *Value, stages []string, now time.Time, known *[]*coffer.Version) (*coffer.Version, error) {
	ver, err := s.seal(ctx, tx, sec, versionID, val)
	if err != nil {
		return nil, err
	}
	ver.CreatedDate = now
	coffer.DeferWrites(tx)
	if err := tx.InsertVersion(ver); err != nil {
		return nil, err
	}
	if known == nil {
		vs, err := tx.Versions(sec.ARN)
		if err != nil {
			return nil, err
		}
		known = &vs
	} else {
		*known = append(*known, &coffer.Version{SecretARN: sec.ARN, VersionID: versionID, CreatedDate: now, KMSKeyID: ver.KMSKeyID})
	}
	if err := s.attachStagesIn(tx, *known, sec.ARN, versionID, stages); err != nil {
		return nil, err
	}
	if err := s.pruneVersionsIn(tx, sec, now, *known); err != nil {
		return nil, err
	}
	ver.Stages = sortedCopy(stages)
	return ver, nil
}

// attachStages moves each label in stages onto versionID.
func (s *Service) attachStages(tx coffer.Tx, secretARN, versionID string, stages []string) error {
	vs, err := tx.Versions(secretARN)
	if err != nil {
		return err
	}
	return s.attachStagesIn(tx, vs, secretARN, versionID, stages)
}

// attachStagesIn is attachStages with the secret's versions known, and kept up to date.
func (s *Service) attachStagesIn(tx coffer.Tx, vs []*coffer.Version, secretARN, versionID string, stages []string) error {
	for _, st := range stages {
		if st == coffer.StageCurrent {
			if prev := withStage(vs, coffer.StageCurrent); prev != nil && prev.VersionID != versionID {
				if err := tx.SetStage(secretARN, coffer.StagePrevious, prev.VersionID); err != nil {
					return err
				}
				setStageIn(vs, coffer.StagePrevious, prev.VersionID)
			}
		}
		if err := tx.SetStage(secretARN, st, versionID); err != nil {
			return err
		}
		setStageIn(vs, st, versionID)
	}
	return nil
}

// withStage returns the version of vs carrying stage, or nil.
func withStage(vs []*coffer.Version, stage string) *coffer.Version {
	for _, v := range vs {
		if v.HasStage(stage) {
			return v
		}
	}
	return nil
}

// setStageIn does to vs what tx.SetStage does to the store: stage moves onto versionID.
func setStageIn(vs []*coffer.Version, stage, versionID string) {
	for _, v := range vs {
		if i := slices.Index(v.Stages, stage); i >= 0 {
			v.Stages = slices.Delete(slices.Clone(v.Stages), i, i+1)
		}
	}
	for _, v := range vs {
		if v.VersionID == versionID {
			v.Stages = append(slices.Clone(v.Stages), stage)
			sort.Strings(v.Stages)
		}
	}
}

// versionWithStage returns the version carrying stage, or a NotFound error.
func (s *Service) versionWithStage(tx coffer.Tx, secretARN, stage string) (*coffer.Version, error) {
	// The headers find it, without reading every version's ciphertext; then it alone is read.
	headers, err := tx.VersionHeaders(secretARN)
	if err != nil {
		return nil, err
	}
	for _, h := range headers {
		if h.HasStage(stage) {
			return tx.Version(secretARN, h.VersionID)
		}
	}
	return nil, coffer.NotFound
}

// pruneVersions removes deprecated versions (live ones without a label) as AWS does: when a
// secret has more than MaxVersions versions, the oldest deprecated versions created more than
// 24 hours ago go; if that is not enough, the write that added a version fails with
// LimitExceededException. A secret with coffer's VersionRetention keeps only that many
// deprecated versions, whatever their age. Destroyed versions hold nothing, count for
// nothing and stay in the history.
func (s *Service) pruneVersions(tx coffer.Tx, sec *coffer.Secret, now time.Time) error {
	versions, err := tx.Versions(sec.ARN)
	if err != nil {
		return err
	}
	return s.pruneVersionsIn(tx, sec, now, versions)
}

// pruneVersionsIn is pruneVersions with the secret's versions known.
func (s *Service) pruneVersionsIn(tx coffer.Tx, sec *coffer.Secret, now time.Time, versions []*coffer.Version) error {
	var live, deprecated []*coffer.Version
	for _, v := range versions {
		if v.Destroyed() {
			continue
		}
		live = append(live, v)
		if len(v.Stages) == 0 {
			deprecated = append(deprecated, v) // oldest first
		}
	}
	remove := func(v *coffer.Version) error { return tx.DeleteVersion(sec.ARN, v.VersionID) }
	if n := sec.VersionRetention; n > 0 {
		for i := 0; i < len(deprecated)-n; i++ {
			if err := remove(deprecated[i]); err != nil {
				return err
			}
		}
		return nil
	}
	excess := len(live) - MaxVersions
	for _, v := range deprecated {
		if excess <= 0 {
			break
		}
		if now.Sub(v.CreatedDate) >= 24*time.Hour {
			if err := remove(v); err != nil {
				return err
			}
			excess--
		}
	}
	if excess > 0 {
		return coffer.Errorf(coffer.ErrLimitExceeded, "You can't create more than %d versions of this secret. Unlabeled versions are removed only once they are 24 hours old; write less often, or set coffer's DeprecatedVersionsToKeep for this secret.", MaxVersions)
	}
	return nil
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
