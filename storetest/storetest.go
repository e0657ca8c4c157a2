// Package storetest is the conformance suite every coffer.Store adapter must pass. It pins down
// the documented behaviour of coffer.Tx method by method: what round-trips exactly (nil Tags
// apart from empty ones included), which lookups answer NotFound, which inserts answer
// ResourceExists, how staging labels move, what DestroyVersion erases and keeps, how
// ListSecrets sorts and pages in every SortBy order either way, how KMS keys, their materials
// and aliases round-trip, page and go with their key, which keys are due for deletion or
// rotation, which versions KeyBindings finds, how root key rotation walks and rewrites every
// key material, access key and meta name, how IAM users, groups and roles, their memberships,
// managed and inline policies and attachments round-trip, compare names case-insensitively,
// list and go with what owns them, and that Update is atomic and serializable under
// concurrent writers.
//
// An adapter's test calls Run with a function that opens a fresh, empty store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) coffer.Store {
//			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "coffer.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// The suite stores made-up ciphertext only, and never logs a stored value.
//
// PostgresDSN gives tests of any package a private schema on a real PostgreSQL server.
package storetest

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"slices"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

// Run runs the conformance suite against the stores open returns. open is called once per
// subtest and must return a fresh, empty store; Run closes it when the subtest ends, so open
// must not register its own Close. open may register other cleanups (such as dropping a
// database), which run after Close.
func Run(t *testing.T, open func(t *testing.T) coffer.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s coffer.Store)
	}{
		{"SecretRoundTrip", testSecretRoundTrip},
		{"SecretZeroFields", testSecretZeroFields},
		{"SecretTypeAndRetention", testSecretTypeAndRetention},
		{"SecretTagsNilVersusEmpty", testSecretTagsNilVersusEmpty},
		{"SecretNames", testSecretNames},
		{"SecretNotFound", testSecretNotFound},
		{"SecretDuplicate", testSecretDuplicate},
		{"SecretSameNameOtherNamespace", testSecretSameNameOtherNamespace},
		{"UpdateSecret", testUpdateSecret},
		{"ScheduledDeletionStillFound", testScheduledDeletionStillFound},
		{"DeleteSecret", testDeleteSecret},
		{"VersionRoundTrip", testVersionRoundTrip},
		{"VersionNotFound", testVersionNotFound},
		{"VersionDuplicate", testVersionDuplicate},
		{"UpdateVersion", testUpdateVersion},
		{"DeleteVersion", testDeleteVersion},
		{"DestroyVersion", testDestroyVersion},
		{"DestroyVersionNotFound", testDestroyVersionNotFound},
		{"DestroyVersionRollsBack", testDestroyVersionRollsBack},
		{"VersionsOrder", testVersionsOrder},
		{"Stages", testStages},
		{"StagesPerSecret", testStagesPerSecret},
		{"ListSecretsPaging", testListSecretsPaging},
		{"ListSecretsCursorAfterDelete", testListSecretsCursorAfterDelete},
		{"ListSecretsFields", testListSecretsFields},
		{"ListSecretsNamePrefixes", testListSecretsNamePrefixes},
		{"MarkAccessed", testMarkAccessed},
		{"VersionHeaders", testVersionHeaders},
		{"HeadersAfterLookup", testHeadersAfterLookup},
		{"DeferredWrites", testDeferredWrites},
		{"DeferredWriteErrors", testDeferredWriteErrors},
		{"ListSecretsSortBy", testListSecretsSortBy},
		{"ListSecretsSortByCursorBetween", testListSecretsSortByCursorBetween},
		{"DueForPurge", testDueForPurge},
		{"DueRotations", testDueRotations},
		{"Accounts", testAccounts},
		{"AccessKeys", testAccessKeys},
		{"Meta", testMeta},
		{"KeyRoundTrip", testKeyRoundTrip},
		{"UpdateKey", testUpdateKey},
		{"ListKeys", testListKeys},
		{"DueKeyDeletions", testDueKeyDeletions},
		{"DueKeyRotations", testDueKeyRotations},
		{"KeyMaterials", testKeyMaterials},
		{"DeleteKey", testDeleteKey},
		{"KeyTxUsableAfterError", testKeyTxUsableAfterError},
		{"Aliases", testAliases},
		{"ListAliases", testListAliases},
		{"KeyBindings", testKeyBindings},
		{"AllKeyMaterials", testAllKeyMaterials},
		{"UpdateKeyMaterial", testUpdateKeyMaterial},
		{"AccessKeysPaging", testAccessKeysPaging},
		{"UpdateAccessKeySecret", testUpdateAccessKeySecret},
		{"MetaKeys", testMetaKeys},
		{"EntityRoundTrip", testEntityRoundTrip},
		{"EntityNames", testEntityNames},
		{"UpdateEntity", testUpdateEntity},
		{"ListEntities", testListEntities},
		{"GroupMembers", testGroupMembers},
		{"DeleteEntity", testDeleteEntity},
		{"ManagedPolicies", testManagedPolicies},
		{"ListManagedPolicies", testListManagedPolicies},
		{"PolicyVersions", testPolicyVersions},
		{"Attachments", testAttachments},
		{"InlinePolicies", testInlinePolicies},
		{"AccessKeysOf", testAccessKeysOf},
		{"TxUsableAfterError", testTxUsableAfterError},
		{"UpdateRollsBackOnError", testUpdateRollsBackOnError},
		{"UpdateRollsBackOnPanic", testUpdateRollsBackOnPanic},
		{"CanceledContext", testCanceledContext},
		{"ViewReturnsError", testViewReturnsError},
		{"ViewRejectsWrites", testViewRejectsWrites},
		{"ViewSnapshot", testViewSnapshot},
		{"ConcurrentCounter", testConcurrentCounter},
		{"ConcurrentInsertSameName", testConcurrentInsertSameName},
		{"ConcurrentReadersSeeWholeTransactions", testConcurrentReaders},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// Accounts and regions of the namespaces the suite uses.
const (
	accountA = "111111111111"
	accountB = "222222222222"
	regionA  = "us-east-1"
	regionB  = "eu-central-2"
)

func namespace(account, region string) coffer.Namespace {
	return coffer.Namespace{Account: account, Region: region}
}

// baseTime is an arbitrary UTC instant with millisecond precision, as the core stores times.
func baseTime() time.Time { return time.Date(2024, 5, 17, 10, 30, 0, 123_000_000, time.UTC) }

// at returns baseTime plus d.
func at(d time.Duration) time.Time { return baseTime().Add(d) }

// suffix derives a deterministic 6-character ARN suffix from s, so ARN order differs from
// name order without making the tests random.
func suffix(s string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	h := fnv.New64a()
	h.Write([]byte(s))
	n := h.Sum64()
	b := make([]byte, 6)
	for i := range b {
		b[i] = alphabet[n%uint64(len(alphabet))]
		n /= uint64(len(alphabet))
	}
	return string(b)
}

// newSecret returns a minimal secret named name in ns, created at created.
func newSecret(ns coffer.Namespace, name string, created time.Time) *coffer.Secret {
	return &coffer.Secret{
		ARN:             coffer.SecretARN(ns, name, suffix(ns.String()+"/"+name)),
		Namespace:       ns,
		Name:            name,
		CreatedDate:     created,
		LastChangedDate: created,
	}
}

// fullSecret returns a secret with every field set to a distinct, non-default value.
func fullSecret(ns coffer.Namespace, name string) *coffer.Secret {
	s := newSecret(ns, name, at(0))
	s.Description = "Ünïcode description — with \"quotes\", 'apostrophes' and a\nnewline"
	s.KMSKeyID = "alias/coffer-test"
	s.Type = "rds-credentials/Ünïcode"
	s.VersionRetention = 12
	s.Tags = []coffer.Tag{{Key: "team", Value: "payments"}, {Key: "env", Value: "prod"}, {Key: "Ärger", Value: ""}, {Key: "a", Value: "z"}}
	s.ResourcePolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`
	s.RotationEnabled = true
	s.RotationLambdaARN = "arn:aws:lambda:us-east-1:111111111111:function:rotate"
	s.RotationRules = coffer.RotationRules{AutomaticallyAfterDays: 30, Duration: "3h", ScheduleExpression: "rate(30 days)"}
	s.OwningService = "rds"
	s.PrimaryRegion = "us-west-2"
	s.LastChangedDate = at(1*time.Hour + 1*time.Millisecond)
	s.LastAccessedDate = time.Date(2024, 5, 18, 0, 0, 0, 0, time.UTC)
	s.LastRotatedDate = at(2*time.Hour + 2*time.Millisecond)
	s.NextRotationDate = at(30*24*time.Hour + 999*time.Millisecond)
	s.DeletedDate = at(3 * time.Hour)
	s.PurgeDate = at(3*time.Hour + 7*24*time.Hour)
	return s
}

// newVersion returns a version of secretARN with made-up sealed bytes of n bytes.
func newVersion(secretARN, id string, created time.Time, n int) *coffer.Version {
	ct := make([]byte, n)
	for i := range ct {
		ct[i] = byte(i*7 + 3)
	}
	return &coffer.Version{
		SecretARN:   secretARN,
		VersionID:   id,
		CreatedDate: created,
		KMSKeyID:    "key-1",
		WrappedKey:  []byte{0x01, 0x00, 0xff, 0x10, 0x20},
		Ciphertext:  ct,
	}
}

// versionID returns a 36-character UUID-shaped version id that sorts by n.
func versionID(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// update runs fn in s.Update and fails the test on error. Use it from the test goroutine only.
func update(t *testing.T, s coffer.Store, fn func(coffer.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// view runs fn in s.View and fails the test on error. Use it from the test goroutine only.
func view(t *testing.T, s coffer.Store, fn func(coffer.Tx) error) {
	t.Helper()
	if err := s.View(t.Context(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// viewReporting is view for a fn that calls coffer.EndWithLookup, which a store may answer by
// running fn again (coffer.LookupEnder): fn reports failures through errorf, and only its
// last run's reach t.
func viewReporting(t *testing.T, s coffer.Store, fn func(tx coffer.Tx, errorf func(string, ...any)) error) {
	t.Helper()
	var failures []string
	errorf := func(format string, args ...any) { failures = append(failures, fmt.Sprintf(format, args...)) }
	view(t, s, func(tx coffer.Tx) error {
		failures = failures[:0]
		return fn(tx, errorf)
	})
	for _, f := range failures {
		t.Error(f)
	}
}

// insertSecrets inserts every secret in one transaction.
func insertSecrets(t *testing.T, s coffer.Store, secrets ...*coffer.Secret) {
	t.Helper()
	update(t, s, func(tx coffer.Tx) error {
		for _, sec := range secrets {
			if err := tx.InsertSecret(sec); err != nil {
				return fmt.Errorf("InsertSecret(%q): %w", sec.Name, err)
			}
		}
		return nil
	})
}

// getSecret reads a secret by ARN in its own View.
func getSecret(t *testing.T, s coffer.Store, arn string) (*coffer.Secret, error) {
	t.Helper()
	var got *coffer.Secret
	err := s.View(t.Context(), func(tx coffer.Tx) error {
		var err error
		got, err = tx.SecretByARN(arn)
		return err
	})
	return got, err
}

// wantNotFound fails the test unless err is a NotFound error.
func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !coffer.IsNotFound(err) {
		t.Errorf("%s: got error %v (code %q), want %s", what, err, coffer.ErrorCode(err), coffer.ErrResourceNotFound)
	}
}

// wantExists fails the test unless err is a ResourceExists error.
func wantExists(t *testing.T, what string, err error) {
	t.Helper()
	if got, want := coffer.ErrorCode(err), coffer.ErrResourceExists; got != want {
		t.Errorf("%s: got error %v (code %q), want code %q", what, err, got, want)
	}
}

// diffTime describes how got differs from want, or returns "". Times must be equal instants,
// in UTC, and zero exactly when want is zero.
func diffTime(field string, got, want time.Time) string {
	switch {
	case !got.Equal(want):
		return fmt.Sprintf("%s: got %s, want %s", field, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	case got.IsZero() != want.IsZero():
		return fmt.Sprintf("%s: got IsZero %v, want %v", field, got.IsZero(), want.IsZero())
	case got.Location() != time.UTC:
		return fmt.Sprintf("%s: got location %q, want UTC", field, got.Location())
	}
	return ""
}

// diffSecret lists the fields in which got differs from want. Tags compare in order, and a
// nil Tags (never set) differs from an empty one (set, then all removed).
func diffSecret(got, want *coffer.Secret) []string {
	var d []string
	str := func(field, got, want string) {
		if got != want {
			d = append(d, fmt.Sprintf("%s: got %q, want %q", field, got, want))
		}
	}
	tm := func(field string, got, want time.Time) {
		if s := diffTime(field, got, want); s != "" {
			d = append(d, s)
		}
	}
	str("ARN", got.ARN, want.ARN)
	str("Namespace", got.Namespace.String(), want.Namespace.String())
	str("Name", got.Name, want.Name)
	str("Description", got.Description, want.Description)
	str("KMSKeyID", got.KMSKeyID, want.KMSKeyID)
	str("Type", got.Type, want.Type)
	if !slices.Equal(got.Tags, want.Tags) {
		d = append(d, fmt.Sprintf("Tags: got %q, want %q", got.Tags, want.Tags))
	}
	if (got.Tags == nil) != (want.Tags == nil) {
		d = append(d, fmt.Sprintf("Tags: got nil %v, want nil %v (nil is never set, empty is all removed)", got.Tags == nil, want.Tags == nil))
	}
	if got.VersionRetention != want.VersionRetention {
		d = append(d, fmt.Sprintf("VersionRetention: got %d, want %d", got.VersionRetention, want.VersionRetention))
	}
	str("ResourcePolicy", got.ResourcePolicy, want.ResourcePolicy)
	if got.RotationEnabled != want.RotationEnabled {
		d = append(d, fmt.Sprintf("RotationEnabled: got %v, want %v", got.RotationEnabled, want.RotationEnabled))
	}
	str("RotationLambdaARN", got.RotationLambdaARN, want.RotationLambdaARN)
	if got.RotationRules != want.RotationRules {
		d = append(d, fmt.Sprintf("RotationRules: got %+v, want %+v", got.RotationRules, want.RotationRules))
	}
	str("OwningService", got.OwningService, want.OwningService)
	str("PrimaryRegion", got.PrimaryRegion, want.PrimaryRegion)
	tm("CreatedDate", got.CreatedDate, want.CreatedDate)
	tm("LastChangedDate", got.LastChangedDate, want.LastChangedDate)
	tm("LastAccessedDate", got.LastAccessedDate, want.LastAccessedDate)
	tm("LastRotatedDate", got.LastRotatedDate, want.LastRotatedDate)
	tm("NextRotationDate", got.NextRotationDate, want.NextRotationDate)
	tm("DeletedDate", got.DeletedDate, want.DeletedDate)
	tm("PurgeDate", got.PurgeDate, want.PurgeDate)
	return d
}

// checkSecret fails the test if got differs from want.
func checkSecret(t *testing.T, what string, got, want *coffer.Secret) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil secret", what)
		return
	}
	for _, d := range diffSecret(got, want) {
		t.Errorf("%s: %s", what, d)
	}
}

// diffVersion lists the fields in which got differs from want, Stages included. The sealed
// bytes are compared but never printed: only their lengths are.
func diffVersion(got, want *coffer.Version) []string {
	var d []string
	if got.SecretARN != want.SecretARN {
		d = append(d, fmt.Sprintf("SecretARN: got %q, want %q", got.SecretARN, want.SecretARN))
	}
	if got.VersionID != want.VersionID {
		d = append(d, fmt.Sprintf("VersionID: got %q, want %q", got.VersionID, want.VersionID))
	}
	if !slices.Equal(got.Stages, want.Stages) {
		d = append(d, fmt.Sprintf("Stages: got %q, want %q", got.Stages, want.Stages))
	}
	if s := diffTime("CreatedDate", got.CreatedDate, want.CreatedDate); s != "" {
		d = append(d, s)
	}
	if s := diffTime("LastAccessedDate", got.LastAccessedDate, want.LastAccessedDate); s != "" {
		d = append(d, s)
	}
	if s := diffTime("DestroyedDate", got.DestroyedDate, want.DestroyedDate); s != "" {
		d = append(d, s)
	}
	if got.KMSKeyID != want.KMSKeyID {
		d = append(d, fmt.Sprintf("KMSKeyID: got %q, want %q", got.KMSKeyID, want.KMSKeyID))
	}
	if got.Binary != want.Binary {
		d = append(d, fmt.Sprintf("Binary: got %v, want %v", got.Binary, want.Binary))
	}
	if !bytes.Equal(got.WrappedKey, want.WrappedKey) {
		d = append(d, fmt.Sprintf("WrappedKey: got %d bytes, want %d bytes (contents differ)", len(got.WrappedKey), len(want.WrappedKey)))
	}
	if !bytes.Equal(got.Ciphertext, want.Ciphertext) {
		d = append(d, fmt.Sprintf("Ciphertext: got %d bytes, want %d bytes (contents differ)", len(got.Ciphertext), len(want.Ciphertext)))
	}
	return d
}

// checkVersion fails the test if got differs from want.
func checkVersion(t *testing.T, what string, got, want *coffer.Version) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil version", what)
		return
	}
	for _, d := range diffVersion(got, want) {
		t.Errorf("%s: %s", what, d)
	}
}

// errSentinel is returned from transaction functions to check that it comes back unchanged.
type errSentinel struct{ msg string }

func (e *errSentinel) Error() string { return e.msg }
