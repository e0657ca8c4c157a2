package core_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/core"
)

// updateKinds records, for each Update, whether its context carried coffer.OneSecretUpdate,
// and its key.
type updateKinds struct {
	coffer.Store
	one  []bool
	keys []string
}

func (u *updateKinds) Update(ctx context.Context, fn func(coffer.Tx) error) error {
	u.one = append(u.one, coffer.IsOneSecretUpdate(ctx))
	u.keys = append(u.keys, coffer.OneSecretUpdateKey(ctx))
	return u.Store.Update(ctx, fn)
}

// TestOneSecretUpdates: the calls that create, change, delete or restore one secret (its
// versions, labels, metadata, tags or resource policy), and the purge of one at the end of
// its recovery window, ask for a OneSecretUpdate (which a store may run beside its other
// Updates, ordered by a lock on that secret's row), keyed by the secret's ARN without its
// suffix; the writes of many secrets' last access dates do not.
func TestOneSecretUpdates(t *testing.T) {
	ctx := context.Background()
	store := &updateKinds{Store: openBase(t)}
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	svc := core.New(store, testKeys(), core.Options{Now: func() time.Time { return now }})
	ns := coffer.Namespace{Account: "111122223333", Region: "us-east-1"}
	name, other, val, token := "app", "app/other", core.Text("v1"), "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	token2, val2 := "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb", core.Text("v2")
	token3, val3 := "cccccccc-cccc-4ccc-8ccc-cccccccccccc", core.Text("v3")
	desc, key, tagValue, stage := "d", "k", "v", "STAGE"
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`
	window := int64(7)
	cases := []struct {
		what string
		call func() error
		one  bool
	}{
		{"CreateSecret", func() error {
			_, err := svc.CreateSecret(ctx, ns, &core.CreateSecretInput{Name: &name, SecretString: &val, ClientRequestToken: &token})
			return err
		}, true},
		{"PutSecretValue", func() error {
			_, err := svc.PutSecretValue(ctx, ns, &core.PutSecretValueInput{SecretId: &name, SecretString: &val2, ClientRequestToken: &token2})
			return err
		}, true},
		{"UpdateSecret", func() error {
			_, err := svc.UpdateSecret(ctx, ns, &core.UpdateSecretInput{SecretId: &name, Description: &desc, SecretString: &val3, ClientRequestToken: &token3})
			return err
		}, true},
		{"UpdateSecretVersionStage", func() error {
			_, err := svc.UpdateSecretVersionStage(ctx, ns, &core.UpdateSecretVersionStageInput{SecretId: &name, VersionStage: &stage, MoveToVersionId: &token})
			return err
		}, true},
		{"TagResource", func() error {
			return svc.TagResource(ctx, ns, &core.TagResourceInput{SecretId: &name, Tags: []core.TagInput{{Key: &key, Value: &tagValue}}})
		}, true},
		{"UntagResource", func() error {
			return svc.UntagResource(ctx, ns, &core.UntagResourceInput{SecretId: &name, TagKeys: []string{key}})
		}, true},
		{"PutResourcePolicy", func() error {
			_, err := svc.PutResourcePolicy(ctx, ns, &core.PutResourcePolicyInput{SecretId: &name, ResourcePolicy: &policy})
			return err
		}, true},
		{"DeleteResourcePolicy", func() error {
			_, err := svc.DeleteResourcePolicy(ctx, ns, &core.DeleteResourcePolicyInput{SecretId: &name})
			return err
		}, true},
		{"GetSecretValue, then DescribeSecret (writes the access mark)", func() error {
			store.one, store.keys = nil, nil // GetSecretValue only reads
			if _, err := svc.GetSecretValue(ctx, ns, &core.GetSecretValueInput{SecretId: &name}); err != nil {
				return err
			}
			_, err := svc.DescribeSecret(ctx, ns, &core.DescribeSecretInput{SecretId: &name})
			return err
		}, false},
		{"DeleteSecret", func() error {
			_, err := svc.DeleteSecret(ctx, ns, &core.DeleteSecretInput{SecretId: &name, RecoveryWindowInDays: &window})
			return err
		}, true},
		{"RestoreSecret", func() error {
			_, err := svc.RestoreSecret(ctx, ns, &core.RestoreSecretInput{SecretId: &name})
			return err
		}, true},
		{"DeleteSecret, then the purge at the end of the recovery window", func() error {
			if _, err := svc.DeleteSecret(ctx, ns, &core.DeleteSecretInput{SecretId: &name, RecoveryWindowInDays: &window}); err != nil {
				return err
			}
			store.one, store.keys = nil, nil
			now = now.Add(8 * 24 * time.Hour)
			n, err := svc.PurgeDue(ctx)
			if err == nil && n != 1 {
				err = fmt.Errorf("purged %d secrets, want 1", n)
			}
			return err
		}, true},
		{"DeleteSecret without recovery", func() error {
			if _, err := svc.CreateSecret(ctx, ns, &core.CreateSecretInput{Name: &other, SecretString: &val, ClientRequestToken: &token}); err != nil {
				return err
			}
			store.one, store.keys = nil, nil
			force := true
			_, err := svc.DeleteSecret(ctx, ns, &core.DeleteSecretInput{SecretId: &other, ForceDeleteWithoutRecovery: &force})
			return err
		}, true},
	}
	for _, c := range cases {
		wantKey := "arn:aws:secretsmanager:us-east-1:111122223333:secret:app"
		if c.what == "DeleteSecret without recovery" {
			wantKey += "/other"
		}
		store.one, store.keys = nil, nil
		if err := c.call(); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if len(store.one) != 1 || store.one[0] != c.one {
			t.Errorf("%s: Updates asked for one secret %v; want [%v]", c.what, store.one, c.one)
		}
		if c.one && (len(store.keys) != 1 || store.keys[0] != wantKey) {
			t.Errorf("%s: keys %q; want [%q]", c.what, store.keys, wantKey)
		}
	}
}
