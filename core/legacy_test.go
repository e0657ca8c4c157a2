package core_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/core"
	"github.com/coffer-project/coffer/keyring"
	"github.com/coffer-project/coffer/sqlite"
)

// TestFoundationKeyBecomesManagedKey: a store written before KMS keys existed (a default
// key-encryption key in Meta, versions sealed with keyring.Seal) is read as it is, and its
// KEK becomes the first material of alias/aws/secretsmanager, with the same id and no data
// rewritten.
func TestFoundationKeyBecomesManagedKey(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"), sqlite.WithCacheCheck())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	root, _ := keyring.NewRootKey()
	keys, _ := keyring.New(root)
	ns := coffer.Namespace{Account: "111122223333", Region: "us-east-1"}
	const kekID = "6f1c2d3e-4a5b-4c6d-8e7f-8091a2b3c4d5"
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	arn := coffer.SecretARN(ns, "old", "AbCdEf")
	const versionID = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"

	// What the foundation wrote.
	wrapped, err := keys.NewKEK(kekID)
	if err != nil {
		t.Fatal(err)
	}
	env, err := keys.Seal(kekID, wrapped, keyring.Context{"SecretARN": arn, "SecretVersionId": versionID}, []byte("s"+"old value")) // kind byte 's' (string), then the value
	if err != nil {
		t.Fatal(err)
	}
	err = store.Update(ctx, func(tx coffer.Tx) error {
		if err := tx.PutMeta("kek/"+kekID, wrapped); err != nil {
			return err
		}
		if err := tx.PutMeta("kek/default/"+ns.Account+"/"+ns.Region, []byte(kekID)); err != nil {
			return err
		}
		if err := tx.InsertSecret(&coffer.Secret{ARN: arn, Namespace: ns, Name: "old", CreatedDate: now, LastChangedDate: now}); err != nil {
			return err
		}
		if err := tx.InsertVersion(&coffer.Version{SecretARN: arn, VersionID: versionID, CreatedDate: now, KMSKeyID: kekID, WrappedKey: env.WrappedKey, Ciphertext: env.Ciphertext}); err != nil {
			return err
		}
		return tx.SetStage(arn, coffer.StageCurrent, versionID)
	})
	if err != nil {
		t.Fatal(err)
	}

	// A fresh keyring (a restart): the old version reads before any write adopted the key.
	keys2, _ := keyring.New(root)
	svc := core.New(store, keys2, core.Options{})
	read := func() string {
		t.Helper()
		v, err := svc.GetSecretValue(ctx, ns, &core.GetSecretValueInput{SecretId: strPtr("old")})
		if err != nil {
			t.Fatal(err)
		}
		defer v.Value.Wipe()
		return string(v.Value.Bytes)
	}
	if got := read(); got != "old value" {
		t.Fatalf("before adoption: %q", got)
	}
	// The first write under the default key adopts the KEK as alias/aws/secretsmanager.
	val, tok := core.Text("new value"), "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
	if _, err := svc.PutSecretValue(ctx, ns, &core.PutSecretValueInput{SecretId: strPtr("old"), SecretString: &val, ClientRequestToken: &tok}); err != nil {
		t.Fatal(err)
	}
	var k *coffer.Key
	var old *coffer.Version
	store.View(ctx, func(tx coffer.Tx) error {
		a, err := tx.Alias(ns, "alias/aws/secretsmanager")
		if err != nil {
			return err
		}
		if k, err = tx.Key(a.KeyID); err != nil {
			return err
		}
		old, err = tx.Version(arn, versionID)
		return err
	})
	if k == nil || k.ID != kekID || k.Manager != coffer.KeyManagerAWS || k.CurrentMaterial != 1 {
		t.Fatalf("managed key %+v", k)
	}
	if old == nil || string(old.Ciphertext) != string(env.Ciphertext) || string(old.WrappedKey) != string(env.WrappedKey) {
		t.Fatal("the old version was rewritten")
	}
	if got := read(); got != "new value" {
		t.Fatalf("after the write: %q", got)
	}
	v, err := svc.GetSecretValue(ctx, ns, &core.GetSecretValueInput{SecretId: strPtr("old"), VersionStage: strPtr("AWSPREVIOUS")})
	if err != nil || string(v.Value.Bytes) != "old value" {
		t.Fatalf("the old version after adoption: %v", err)
	}
}

func strPtr(s string) *string { return &s }
