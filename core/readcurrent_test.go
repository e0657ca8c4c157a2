package core_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/core"
)

// currentStore is a real store whose read transactions count the ReadCurrent calls they get.
type currentStore struct {
	coffer.Store
	asked atomic.Int64
}

func (c *currentStore) View(ctx context.Context, fn func(coffer.Tx) error) error {
	return c.Store.View(ctx, func(tx coffer.Tx) error { return fn(currentTx{tx, c}) })
}

type currentTx struct {
	coffer.Tx
	c *currentStore
}

func (t currentTx) ReadCurrent() {
	t.c.asked.Add(1)
	coffer.ReadCurrent(t.Tx)
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
		what string
		call func() error
		want int64
	}{
		{"GetSecretValue", func() error { return get(ctx, svc, ns, &core.GetSecretValueInput{SecretId: &name}) }, 1},
		{"GetSecretValue of AWSCURRENT", func() error {
			return get(ctx, svc, ns, &core.GetSecretValueInput{SecretId: &name, VersionStage: &current})
		}, 1},
		{"GetSecretValue of AWSPREVIOUS", func() error {
			return get(ctx, svc, ns, &core.GetSecretValueInput{SecretId: &name, VersionStage: &previous})
		}, 0},
		{"GetSecretValue by VersionId", func() error {
			return get(ctx, svc, ns, &core.GetSecretValueInput{SecretId: &name, VersionId: &token})
		}, 0},
		{"DescribeSecret", func() error {
			_, err := svc.DescribeSecret(ctx, ns, &core.DescribeSecretInput{SecretId: &name})
			return err
		}, 0},
	}
	for _, c := range cases {
		before := store.asked.Load()
		if err := c.call(); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if got := store.asked.Load() - before; got != c.want {
			t.Errorf("%s asked for the current version %d times; want %d", c.what, got, c.want)
		}
	}
}

func get(ctx context.Context, svc *core.Service, ns coffer.Namespace, in *core.GetSecretValueInput) error {
	v, err := svc.GetSecretValue(ctx, ns, in)
	if err == nil {
		v.Value.Wipe()
	}
	return err
}
