package core_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/core"
	"github.com/coffer-project/coffer/kms"
)

// currentStore is a real store whose read transactions count the ReadCurrent and
// EndWithLookup calls they get. With twice set, a View whose fn called EndWithLookup runs fn
// a second time, as the PostgreSQL store does when fn reads more than its lookup.
type currentStore struct {
	coffer.Store
	asked atomic.Int64
	ended atomic.Int64
	keys  atomic.Int64 // keys read by a View's Tx
	twice bool
}

func (c *currentStore) View(ctx context.Context, fn func(coffer.Tx) error) error {
	var ended bool
	err := c.Store.View(ctx, func(tx coffer.Tx) error { return fn(currentTx{tx, c, &ended}) })
	if c.twice && ended {
		err = c.Store.View(ctx, func(tx coffer.Tx) error { return fn(currentTx{tx, c, &ended}) })
	}
	return err
}

type currentTx struct {
	coffer.Tx
	c     *currentStore
	ended *bool
}

func (t currentTx) ReadCurrent() {
	t.c.asked.Add(1)
	coffer.ReadCurrent(t.Tx)
}

func (t currentTx) Key(id string) (*coffer.Key, error) {
	t.c.keys.Add(1)
	return t.Tx.Key(id)
}

func (t currentTx) EndWithLookup() {
	t.c.ended.Add(1)
	*t.ended = true
	coffer.EndWithLookup(t.Tx)
}

// TestReadCurrentOnlyForCurrentValue: GetSecretValue of the AWSCURRENT value asks the store
// to read that version with the secret's headers (coffer.ReadCurrent); a read of another
// label or of a version by id, and DescribeSecret, do not, so that they carry no value they
// do not use.
func TestReadCurrentOnlyForCurrentValue(t *testing.T) {
	ctx := context.Background()
	store := &currentStore{Store: openBase(t)}
	svc := core.New(store, testKeys(), core.Options{Now: func() time.Time { return time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC) }})
	ns := coffer.Namespace{Account: "111122223333", Region: "us-east-1"}
	name, token := "app", "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	val := core.Text("v1")
	if _, err := svc.CreateSecret(ctx, ns, &core.CreateSecretInput{Name: &name, SecretString: &val, ClientRequestToken: &token}); err != nil {
		t.Fatal(err)
	}
	current, previous := coffer.StageCurrent, coffer.StagePrevious
	token2 := "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
	val2 := core.Text("v2")
	if _, err := svc.PutSecretValue(ctx, ns, &core.PutSecretValueInput{SecretId: &name, SecretString: &val2, ClientRequestToken: &token2}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		what        string
		call        func() error
		want, ended int64
	}{
		{"GetSecretValue", func() error { return get(ctx, svc, ns, &core.GetSecretValueInput{SecretId: &name}) }, 1, 1},
		{"GetSecretValue of AWSCURRENT", func() error {
			return get(ctx, svc, ns, &core.GetSecretValueInput{SecretId: &name, VersionStage: &current})
		}, 1, 1},
		{"GetSecretValue of AWSPREVIOUS", func() error {
			return get(ctx, svc, ns, &core.GetSecretValueInput{SecretId: &name, VersionStage: &previous})
		}, 0, 0},
		{"GetSecretValue by VersionId", func() error {
			return get(ctx, svc, ns, &core.GetSecretValueInput{SecretId: &name, VersionId: &token})
		}, 0, 0},
		{"DescribeSecret", func() error {
			_, err := svc.DescribeSecret(ctx, ns, &core.DescribeSecretInput{SecretId: &name})
			return err
		}, 0, 1},
		{"GetResourcePolicy", func() error {
			_, err := svc.GetResourcePolicy(ctx, ns, &core.GetResourcePolicyInput{SecretId: &name})
			return err
		}, 0, 1},
		{"ListSecretVersionIds", func() error {
			_, err := svc.ListSecretVersionIds(ctx, ns, &core.ListSecretVersionIdsInput{SecretId: &name})
			return err
		}, 0, 1},
	}
	for _, c := range cases {
		before, endedBefore := store.asked.Load(), store.ended.Load()
		if err := c.call(); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if got := store.asked.Load() - before; got != c.want {
			t.Errorf("%s asked for the current version %d times; want %d", c.what, got, c.want)
		}
		// Those that read only a secret and its headers (and that version) may end their
		// transaction with the lookup (coffer.EndWithLookup).
		if got := store.ended.Load() - endedBefore; got != c.ended {
			t.Errorf("%s asked to end with the lookup %d times; want %d", c.what, got, c.ended)
		}
	}
}

// TestVersionIdsKeyNamesFromCache: ListSecretVersionIds names the versions' keys from the KMS
// key cache, so that a warm call reads nothing but the secret and its headers (and may end
// its View with the lookup).
func TestVersionIdsKeyNamesFromCache(t *testing.T) {
	ctx := context.Background()
	store := &currentStore{Store: openBase(t)}
	svc := core.New(store, testKeys(), core.Options{})
	ns := coffer.Namespace{Account: "111122223333", Region: "us-east-1"}
	name, val, token := "app", core.Text("v1"), "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	if _, err := svc.CreateSecret(ctx, ns, &core.CreateSecretInput{Name: &name, SecretString: &val, ClientRequestToken: &token}); err != nil {
		t.Fatal(err)
	}
	list := func() *core.VersionPage {
		t.Helper()
		page, err := svc.ListSecretVersionIds(ctx, ns, &core.ListSecretVersionIdsInput{SecretId: &name})
		if err != nil {
			t.Fatal(err)
		}
		return page
	}
	list()
	before := store.keys.Load()
	page := list()
	if n := store.keys.Load() - before; n != 0 {
		t.Errorf("a warm ListSecretVersionIds read %d keys from the store; want 0", n)
	}
	if len(page.Versions) != 1 || page.KeyNames[page.Versions[0].KMSKeyID] != "DefaultEncryptionKey" {
		t.Errorf("ListSecretVersionIds named the key %v; want DefaultEncryptionKey", page.KeyNames)
	}
}

// TestLookupViewRunTwice: when the store runs the View of a GetSecretValue or DescribeSecret
// again (coffer.EndWithLookup), the call answers what the last run read, and the secret's key
// is used, and its use reported, once: the value is decrypted after the View.
func TestLookupViewRunTwice(t *testing.T) {
	ctx := context.Background()
	store := &currentStore{Store: openBase(t), twice: true}
	svc := core.New(store, testKeys(), core.Options{Now: func() time.Time { return time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC) }})
	var uses atomic.Int64
	svc.KMS().SetOnUse(func(context.Context, kms.KeyUse) { uses.Add(1) })
	ns := coffer.Namespace{Account: "111122223333", Region: "us-east-1"}
	name, token := "app", "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	val := core.Text("v1")
	if _, err := svc.CreateSecret(ctx, ns, &core.CreateSecretInput{Name: &name, SecretString: &val, ClientRequestToken: &token}); err != nil {
		t.Fatal(err)
	}
	uses.Store(0)
	out, err := svc.GetSecretValue(ctx, ns, &core.GetSecretValueInput{SecretId: &name})
	if err != nil {
		t.Fatal(err)
	}
	if out.Value.Binary || string(out.Value.Bytes) != "v1" || out.Version.VersionID != token {
		t.Errorf("GetSecretValue answered version %s; want %s, with its value", out.Version.VersionID, token)
	}
	out.Value.Wipe()
	if n := uses.Load(); n != 1 {
		t.Errorf("a GetSecretValue whose View ran twice reported %d key uses; want 1", n)
	}
	if store.ended.Load() != 2 {
		t.Fatalf("the View ran %d times; want 2 (the test's store did not run it again)", store.ended.Load())
	}
	d, err := svc.DescribeSecret(ctx, ns, &core.DescribeSecretInput{SecretId: &name})
	if err != nil {
		t.Fatal(err)
	}
	if d.Secret.Name != name || len(d.Versions) != 1 || d.Versions[0].VersionID != token {
		t.Errorf("DescribeSecret whose View ran twice: %s with %d versions; want %s with %s", d.Secret.Name, len(d.Versions), name, token)
	}
}

func get(ctx context.Context, svc *core.Service, ns coffer.Namespace, in *core.GetSecretValueInput) error {
	v, err := svc.GetSecretValue(ctx, ns, in)
	if err == nil {
		v.Value.Wipe()
	}
	return err
}
