package core_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/core"
	"github.com/coffer-project/coffer/keyring"
	"github.com/coffer-project/coffer/kms"
	"github.com/coffer-project/coffer/sqlite"
)

// TestKeyUsesReported: every use of a KMS key made for a secret operation reaches the hook
// the audit trail will consume, with the call's request id, the key and its state, and never
// a value.
func TestKeyUsesReported(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"), sqlite.WithCacheCheck())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	root, _ := keyring.NewRootKey()
	keys, _ := keyring.New(root)
	var (
		mu   sync.Mutex
		uses []kms.KeyUse
	)
	keySvc := kms.New(store, keys, kms.Options{OnUse: func(_ context.Context, u kms.KeyUse) { mu.Lock(); uses = append(uses, u); mu.Unlock() }})
	svc := core.New(store, keys, core.Options{KMS: keySvc})
	ns := coffer.Namespace{Account: "111122223333", Region: "us-east-1"}

	key, err := keySvc.CreateKey(ctx, ns, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	keyID := key.KeyMetadata.KeyId
	val, tok := core.Text("the value"), "cccccccc-cccc-4ccc-8ccc-cccccccccccc"
	create := coffer.WithRequestID(ctx, "req-create")
	if _, err := svc.CreateSecret(create, ns, &core.CreateSecretInput{Name: strPtr("s"), SecretString: &val, ClientRequestToken: &tok, KmsKeyId: &keyID}); err != nil {
		t.Fatal(err)
	}
	read := coffer.WithRequestID(ctx, "req-read")
	v, err := svc.GetSecretValue(read, ns, &core.GetSecretValueInput{SecretId: strPtr("s")})
	if err != nil {
		t.Fatal(err)
	}
	v.Value.Wipe()
	// Disabled (with the override tag), the read fails and the use says why.
	tagKey, tagVal := kms.AllowDisableInUseTag, "true"
	if _, err := keySvc.TagResource(ctx, ns, &kms.TagResourceInput{KeyId: &keyID, Tags: []kms.Tag{{TagKey: &tagKey, TagValue: &tagVal}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := keySvc.DisableKey(ctx, ns, &kms.KeyIDInput{KeyId: &keyID}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.GetSecretValue(coffer.WithRequestID(ctx, "req-denied"), ns, &core.GetSecretValueInput{SecretId: strPtr("s")}); coffer.ErrorCode(err) != coffer.ErrDecryptionFailure {
		t.Fatalf("read under a disabled key: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(uses) != 3 {
		t.Fatalf("%d uses reported: %+v", len(uses), uses)
	}
	want := []struct{ req, op, state, code string }{
		{"req-create", "GenerateDataKey", coffer.KeyStateEnabled, ""},
		{"req-read", "Decrypt", coffer.KeyStateEnabled, ""},
		{"req-denied", "Decrypt", coffer.KeyStateDisabled, coffer.ErrKMSDisabled},
	}
	for i, w := range want {
		u := uses[i]
		if u.RequestID != w.req || u.Operation != w.op || u.KeyID != keyID || u.KeyState != w.state || u.ErrorCode != w.code ||
			u.MaterialVersion != 1 || !strings.HasSuffix(u.KeyARN, ":key/"+keyID) || u.EncryptionContext["SecretVersionId"] != tok {
			t.Fatalf("use %d = %+v, want %+v", i, u, w)
		}
	}
}

// TestManagedKeyRefused: the key service itself refuses to manage alias/aws/secretsmanager,
// whatever policies allow.
func TestManagedKeyRefused(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"), sqlite.WithCacheCheck())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	root, _ := keyring.NewRootKey()
	keys, _ := keyring.New(root)
	svc := core.New(store, keys, core.Options{})
	ns := coffer.Namespace{Account: "111122223333", Region: "us-east-1"}
	val, tok := core.Text("v"), "dddddddd-dddd-4ddd-8ddd-dddddddddddd"
	if _, err := svc.CreateSecret(ctx, ns, &core.CreateSecretInput{Name: strPtr("s"), SecretString: &val, ClientRequestToken: &tok}); err != nil {
		t.Fatal(err)
	}
	md, err := svc.KMS().DescribeKey(ctx, ns, &kms.KeyIDInput{KeyId: strPtr("alias/aws/secretsmanager")})
	if err != nil {
		t.Fatal(err)
	}
	id := &md.KeyMetadata.KeyId
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}`
	for name, call := range map[string]func() error{
		"DisableKey": func() error { _, err := svc.KMS().DisableKey(ctx, ns, &kms.KeyIDInput{KeyId: id}); return err },
		"ScheduleKeyDeletion": func() error {
			_, err := svc.KMS().ScheduleKeyDeletion(ctx, ns, &kms.ScheduleKeyDeletionInput{KeyId: id})
			return err
		},
		"PutKeyPolicy": func() error {
			_, err := svc.KMS().PutKeyPolicy(ctx, ns, &kms.KeyPolicyInput{KeyId: id, Policy: &doc})
			return err
		},
		"EnableKeyRotation": func() error {
			_, err := svc.KMS().EnableKeyRotation(ctx, ns, &kms.EnableKeyRotationInput{KeyId: id})
			return err
		},
		"TagResource": func() error {
			k, v := "a", "b"
			_, err := svc.KMS().TagResource(ctx, ns, &kms.TagResourceInput{KeyId: id, Tags: []kms.Tag{{TagKey: &k, TagValue: &v}}})
			return err
		},
	} {
		if code := coffer.ErrorCode(call()); code != coffer.ErrKMSUnsupported {
			t.Errorf("%s on the AWS-managed key: %s", name, code)
		}
	}
}
