package seal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/keyring"
	"github.com/coffer-project/coffer/sqlite"
)

// fixture is a SQLite store with something of every kind wrapped under a root key: KMS key
// materials (with ciphertext blobs made under them), a foundation key-encryption key in meta
// (with an envelope sealed under it), access keys, and the check token.
type fixture struct {
	store coffer.Store
	dir   string
	blobs map[string][]byte // "keyID#version" → a blob of that material; plaintext "keyID#version"
	env   *keyring.Envelope // sealed under the legacy KEK; plaintext "legacy"
	keys  map[string]string // access key id → its secret half
	meta  map[string][]byte // meta rows that are not wrapped, which rotation must leave alone
}

var testContext = keyring.Context{"SecretARN": "arn:aws:secretsmanager:us-east-1:111122223333:secret:a-AbCdEf", "SecretVersionId": "v1"}

const legacyID = "0f0f0f0f-1111-4222-8333-444444444444"

func newFixture(t *testing.T, root *keyring.RootKey) *fixture {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlite.Open(t.Context(), filepath.Join(dir, "coffer.db"), sqlite.WithCacheCheck())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	keys, err := keyring.New(root)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: store, dir: dir, blobs: map[string][]byte{}, keys: map[string]string{},
		meta: map[string][]byte{"kek/default/111122223333/us-east-1": []byte(legacyID), "default-account": []byte("111122223333")}}
	ns := coffer.Namespace{Account: "111122223333", Region: "us-east-1"}
	now := time.Now().UTC().Truncate(time.Millisecond)
	err = store.Update(t.Context(), func(tx coffer.Tx) error {
		check, err := keys.NewCheck()
		if err != nil {
			return err
		}
		if err := tx.PutMeta(MetaRootCheck, check); err != nil {
			return err
		}
		// Enough materials to take more than one page.
		for k := range 3 {
			id := fmt.Sprintf("1234abcd-12ab-4cd5-8ef6-%012d", k)
			if err := tx.InsertKey(&coffer.Key{ID: id, Namespace: ns, Manager: coffer.KeyManagerCustomer, State: coffer.KeyStateEnabled, CreatedDate: now, CurrentMaterial: 1}); err != nil {
				return err
			}
			versions := 1
			if k == 1 {
				versions = rewrapPage + 2
			}
			for v := 1; v <= versions; v++ {
				w, err := keys.NewMaterial(id, v)
				if err != nil {
					return err
				}
				if err := tx.InsertKeyMaterial(&coffer.KeyMaterial{KeyID: id, Version: v, Wrapped: w, CreatedDate: now}); err != nil {
					return err
				}
				if v == 1 || v == versions {
					name := fmt.Sprintf("%s#%d", id, v)
					if f.blobs[name], err = keys.Encrypt(id, v, w, testContext, []byte(name)); err != nil {
						return err
					}
				}
			}
		}
		w, err := keys.NewKEK(legacyID)
		if err != nil {
			return err
		}
		if err := tx.PutMeta("kek/"+legacyID, w); err != nil {
			return err
		}
		if f.env, err = keys.Seal(legacyID, w, testContext, []byte("legacy")); err != nil {
			return err
		}
		for name, v := range f.meta {
			if err := tx.PutMeta(name, v); err != nil {
				return err
			}
		}
		if err := tx.InsertAccount(&coffer.Account{ID: ns.Account, CreatedDate: now}); err != nil {
			return err
		}
		// An audit signing key (a seed sealed under the root key, labelled by its name).
		sealedSeed, err := keys.SealSecret(auditKeyName, []byte(auditSeed))
		if err != nil {
			return err
		}
		if err := tx.PutMeta(auditKeyName, sealedSeed); err != nil {
			return err
		}
		for i := range 3 {
			id, secret := fmt.Sprintf("AKIATESTTESTTEST%04d", i), fmt.Sprintf("secret-access-key-number-%d", i)
			sealed, err := keys.SealSecret(id, []byte(secret))
			if err != nil {
				return err
			}
			f.keys[id] = secret
			if err := tx.InsertAccessKey(&coffer.AccessKey{ID: id, Account: ns.Account, PrincipalARN: "arn:aws:iam::111122223333:root", Status: coffer.KeyActive, SealedSecret: sealed, CreatedDate: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// opens fails the test unless root opens everything in the store: every blob, the legacy
// envelope, every access key's secret, and the check token; and unless the meta rows that wrap
// nothing are as they were.
func (f *fixture) opens(t *testing.T, root *keyring.RootKey) {
	t.Helper()
	keys, err := keyring.New(root)
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	err = f.store.View(t.Context(), func(tx coffer.Tx) error {
		check, err := tx.Meta(MetaRootCheck)
		if err != nil {
			return err
		}
		if !keys.VerifyCheck(check) {
			return errors.New("the check token refuses the root key")
		}
		for name, blob := range f.blobs {
			id, v, err := keyring.ParseBlob(blob)
			if err != nil {
				return err
			}
			ms, err := tx.KeyMaterials(id)
			if err != nil {
				return err
			}
			pt, err := keys.Decrypt(blob, ms[v-1].Wrapped, testContext)
			if err != nil {
				return fmt.Errorf("decrypt a blob of %s: %w", name, err)
			}
			if string(pt) != name {
				return fmt.Errorf("blob of %s decrypts to something else", name)
			}
		}
		w, err := tx.Meta("kek/" + legacyID)
		if err != nil {
			return err
		}
		if pt, err := keys.Open(f.env, w, testContext); err != nil || string(pt) != "legacy" {
			return fmt.Errorf("open the envelope under the foundation's key: %v", err)
		}
		for id, secret := range f.keys {
			k, err := tx.AccessKey(id)
			if err != nil {
				return err
			}
			got, err := keys.OpenSecret(id, k.SealedSecret)
			if err != nil || string(got) != secret {
				return fmt.Errorf("open the secret of access key %s: %v", id, err)
			}
		}
		for name, want := range f.meta {
			if got, err := tx.Meta(name); err != nil || !bytes.Equal(got, want) {
				return fmt.Errorf("meta %s changed: %v", name, err)
			}
		}
		sealedSeed, err := tx.Meta(auditKeyName)
		if err != nil {
			return err
		}
		if got, err := keys.OpenSecret(auditKeyName, sealedSeed); err != nil || string(got) != auditSeed {
			return fmt.Errorf("open the audit signing key: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The audit signing key of the fixture's one server.
const (
	auditKeyName = coffer.AuditSigningKeyMeta + "coffer-test"
	auditSeed    = "0123456789abcdef0123456789abcdef"
)

// refuses fails the test if root opens the check token or any access key's secret.
func (f *fixture) refuses(t *testing.T, root *keyring.RootKey) {
	t.Helper()
	keys, err := keyring.New(root)
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	if c, err := CheckRoot(t.Context(), f.store, keys); err != nil || c != RootDiffers {
		t.Fatalf("CheckRoot of the other root key = %v, %v; want RootDiffers", c, err)
	}
	for id := range f.keys {
		var k *coffer.AccessKey
		f.store.View(t.Context(), func(tx coffer.Tx) error { k, err = tx.AccessKey(id); return err })
		if _, err := keys.OpenSecret(id, k.SealedSecret); err == nil {
			t.Fatalf("the other root key opens access key %s", id)
		}
	}
}

func TestRewrap(t *testing.T) {
	old, _ := newRoot(t)
	next, _ := newRoot(t)
	f := newFixture(t, old)
	f.opens(t, old)
	from, _ := keyring.New(old)
	to, _ := keyring.New(next)
	nextCfg, _, err := InitShamir(next, 3, 2)
	if err != nil {
		t.Fatal(err)
	}

	// A failure inside the transaction changes nothing.
	boom := errors.New("crash")
	if _, err := Rewrap(t.Context(), f.store, from, to, nextCfg, func(s Step) error {
		if s != StepRewrapped {
			t.Errorf("hook called with %q", s)
		}
		return boom
	}); err != boom {
		t.Fatalf("Rewrap with a failing hook: %v", err)
	}
	f.opens(t, old)
	f.refuses(t, next)
	if _, ok, _ := StoredFingerprint(t.Context(), f.store); ok {
		t.Fatal("a rolled-back Rewrap recorded a fingerprint")
	}

	// The wrong current key is refused.
	if _, err := Rewrap(t.Context(), f.store, to, from, KeyFileConfig(), nil); !errors.Is(err, ErrRootDiffers) {
		t.Fatalf("Rewrap from the wrong key: %v, want ErrRootDiffers", err)
	}

	stats, err := Rewrap(t.Context(), f.store, from, to, nextCfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := (RewrapStats{Materials: 2 + rewrapPage + 2, LegacyKEKs: 1, AccessKeys: 3, AuditKeys: 1}); *stats != want {
		t.Errorf("stats = %+v, want %+v", *stats, want)
	}
	f.opens(t, next)
	f.refuses(t, old)
	fp, _ := Fingerprint(nextCfg)
	if got, ok, err := StoredFingerprint(t.Context(), f.store); err != nil || !ok || got != fp {
		t.Fatalf("stored fingerprint = %q, %v, %v; want the new configuration's", got, ok, err)
	}
	// Back to a key file: the fingerprint goes.
	if _, err := Rewrap(t.Context(), f.store, to, from, KeyFileConfig(), nil); err != nil {
		t.Fatal(err)
	}
	f.opens(t, old)
	if _, ok, _ := StoredFingerprint(t.Context(), f.store); ok {
		t.Fatal("a key file rotation left a fingerprint")
	}
}

// TestRotateConfigInterrupted interrupts a rotation after each step, as a crash would, and
// checks that the store then opens with the seal a start resolves to: the old one until the
// transaction commits, the new one from then on.
func TestRotateConfigInterrupted(t *testing.T) {
	for _, kind := range []Type{TypeShamir, TypePassphrase} {
		for _, step := range []Step{StepNextWritten, StepRewrapped, StepCommitted, ""} {
			t.Run(string(kind)+"/"+string(step), func(t *testing.T) {
				old, _ := newRoot(t)
				next, _ := newRoot(t)
				f := newFixture(t, old)
				mk := func(root *keyring.RootKey) *Config {
					if kind == TypePassphrase {
						cfg, err := InitPassphrase(root, []byte("a passphrase"), testArgon2)
						if err != nil {
							t.Fatal(err)
						}
						return cfg
					}
					cfg, _, err := InitShamir(root, 3, 2)
					if err != nil {
						t.Fatal(err)
					}
					return cfg
				}
				oldCfg, nextCfg := mk(old), mk(next)
				path := filepath.Join(f.dir, ConfigFile)
				if err := WriteConfig(path, oldCfg); err != nil {
					t.Fatal(err)
				}
				keys, _ := keyring.New(old)
				if err := Bind(t.Context(), f.store, keys, oldCfg); err != nil {
					t.Fatal(err)
				}

				crash := errors.New("crash")
				var seen []Step
				_, err := RotateConfig(t.Context(), f.store, path, old, next, nextCfg, func(s Step) error {
					seen = append(seen, s)
					if s == step {
						return crash
					}
					return nil
				})
				if step != "" && err != crash || step == "" && err != nil {
					t.Fatalf("RotateConfig: %v", err)
				}
				want := []Step{StepNextWritten, StepRewrapped, StepCommitted}
				if i := slices.Index(want, step); i >= 0 {
					want = want[:i+1]
				}
				if !slices.Equal(seen, want) {
					t.Fatalf("steps %q, want %q", seen, want)
				}

				cfg, res, err := ResolveConfig(t.Context(), f.store, path)
				if err != nil {
					t.Fatal(err)
				}
				wantCfg, wantRoot, wantRes := nextCfg, next, FinishedRotation
				switch step {
				case StepNextWritten, StepRewrapped:
					wantCfg, wantRoot, wantRes = oldCfg, old, DiscardedRotation
				case "":
					wantRes = NoRotation
				}
				if res != wantRes {
					t.Errorf("resolution %q, want %q", res, wantRes)
				}
				gotFP, _ := Fingerprint(cfg)
				wantFP, _ := Fingerprint(wantCfg)
				if gotFP != wantFP {
					t.Fatal("ResolveConfig returned the wrong configuration")
				}
				if _, err := os.Stat(NextPath(path)); err == nil {
					t.Error("the next configuration is still there")
				}
				onDisk, err := ReadConfig(path)
				if err != nil {
					t.Fatal(err)
				}
				if fp, _ := Fingerprint(onDisk); fp != wantFP {
					t.Error("seal.json is not the resolved configuration")
				}
				// The resolved configuration unseals to the root key the store is under.
				f.opens(t, wantRoot)
				if again, res, err := ResolveConfig(t.Context(), f.store, path); err != nil || res != NoRotation {
					t.Fatalf("second resolution: %v, %q", err, res)
				} else if fp, _ := Fingerprint(again); fp != wantFP {
					t.Fatal("second resolution changed the configuration")
				}
			})
		}
	}
}

func TestRotateKeyFileInterrupted(t *testing.T) {
	for _, step := range []Step{StepNextWritten, StepRewrapped, StepCommitted, ""} {
		t.Run(string(step), func(t *testing.T) {
			old, _ := newRoot(t)
			next, _ := newRoot(t)
			f := newFixture(t, old)
			path := filepath.Join(t.TempDir(), "root.key")
			if err := keyring.WriteRootKey(path, old); err != nil {
				t.Fatal(err)
			}
			crash := errors.New("crash")
			_, err := RotateKeyFile(t.Context(), f.store, path, old, next, func(s Step) error {
				if s == step {
					return crash
				}
				return nil
			})
			if step != "" && err != crash || step == "" && err != nil {
				t.Fatalf("RotateKeyFile: %v", err)
			}
			res, err := ResolveKeyFile(t.Context(), f.store, path)
			if err != nil {
				t.Fatal(err)
			}
			want, wantRes := next, FinishedRotation
			switch step {
			case StepNextWritten, StepRewrapped:
				want, wantRes = old, DiscardedRotation
			case "":
				wantRes = NoRotation
			}
			if res != wantRes {
				t.Errorf("resolution %q, want %q", res, wantRes)
			}
			got, err := keyring.ReadRootKey(path)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(want) {
				t.Fatal("the key file does not hold the key the store is under")
			}
			if _, err := os.Stat(NextPath(path)); err == nil {
				t.Error("the next key file is still there")
			}
			f.opens(t, got)
		})
	}
}

func TestRotateRefusesWrongKey(t *testing.T) {
	old, _ := newRoot(t)
	other, _ := newRoot(t)
	next, _ := newRoot(t)
	f := newFixture(t, old)
	path := filepath.Join(f.dir, ConfigFile)
	nextCfg, _, _ := InitShamir(next, 3, 2)
	if _, err := RotateConfig(t.Context(), f.store, path, other, next, nextCfg, nil); !errors.Is(err, ErrRootDiffers) {
		t.Fatalf("RotateConfig with the wrong key: %v, want ErrRootDiffers", err)
	}
	if _, err := os.Stat(NextPath(path)); err == nil {
		t.Fatal("a refused rotation wrote the next configuration")
	}
	f.opens(t, old)
}

func TestResolveConfigRefusesMismatch(t *testing.T) {
	root, _ := newRoot(t)
	f := newFixture(t, root)
	path := filepath.Join(f.dir, ConfigFile)
	ctx := context.Background()

	// No seal.json and no fingerprint: a key file deployment.
	if cfg, res, err := ResolveConfig(ctx, f.store, path); err != nil || cfg.Type != TypeKeyFile || res != NoRotation {
		t.Fatalf("no seal.json: %v, %v, %v", cfg, res, err)
	}
	cfg, _, _ := InitShamir(root, 3, 2)
	if err := WriteConfig(path, cfg); err != nil {
		t.Fatal(err)
	}
	// seal.json before the fingerprint is recorded (a crash during init): it is the seal.
	if got, _, err := ResolveConfig(ctx, f.store, path); err != nil || got.Type != TypeShamir {
		t.Fatalf("seal.json without a fingerprint: %v, %v", got, err)
	}
	keys, _ := keyring.New(root)
	if err := Bind(ctx, f.store, keys, cfg); err != nil {
		t.Fatal(err)
	}
	// Another deployment's seal.json.
	other, _ := newRoot(t)
	otherCfg, _, _ := InitShamir(other, 3, 2)
	if err := WriteConfig(path, otherCfg); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ResolveConfig(ctx, f.store, path); err == nil {
		t.Fatal("another deployment's seal.json accepted")
	}
	// A key file seal.json for a sealed store.
	if err := WriteConfig(path, KeyFileConfig()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ResolveConfig(ctx, f.store, path); err == nil {
		t.Fatal("a keyfile seal.json accepted for a sealed store")
	}
	// No seal.json at all for a sealed store: refused, rather than a fresh key file made.
	os.Remove(path)
	if _, _, err := ResolveConfig(ctx, f.store, path); err == nil {
		t.Fatal("a missing seal.json accepted for a sealed store")
	}
}

func TestBind(t *testing.T) {
	root, _ := newRoot(t)
	other, _ := newRoot(t)
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "coffer.db"), sqlite.WithCacheCheck())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	keys, _ := keyring.New(root)
	otherKeys, _ := keyring.New(other)
	if c, err := CheckRoot(t.Context(), store, keys); err != nil || c != RootUnchecked {
		t.Fatalf("CheckRoot of a new store = %v, %v", c, err)
	}
	cfg, err := InitPassphrase(root, []byte("passphrase"), testArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if err := Bind(t.Context(), store, keys, cfg); err != nil {
		t.Fatal(err)
	}
	if c, _ := CheckRoot(t.Context(), store, keys); c != RootMatches {
		t.Fatalf("CheckRoot after Bind = %v", c)
	}
	fp, _ := Fingerprint(cfg)
	if got, ok, _ := StoredFingerprint(t.Context(), store); !ok || got != fp {
		t.Fatal("Bind did not record the fingerprint")
	}
	otherCfg, _ := InitPassphrase(other, []byte("passphrase"), testArgon2)
	if err := Bind(t.Context(), store, otherKeys, otherCfg); !errors.Is(err, ErrRootDiffers) {
		t.Fatalf("Bind with another root: %v, want ErrRootDiffers", err)
	}
	if got, _, _ := StoredFingerprint(t.Context(), store); got != fp {
		t.Fatal("a refused Bind changed the fingerprint")
	}
}

func TestFingerprint(t *testing.T) {
	root, _ := newRoot(t)
	a, _, _ := InitShamir(root, 3, 2)
	b, _, _ := InitShamir(root, 3, 2) // same key, another verifier salt
	path := filepath.Join(t.TempDir(), ConfigFile)
	if err := WriteConfig(path, a); err != nil {
		t.Fatal(err)
	}
	read, err := ReadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	fa, _ := Fingerprint(a)
	fr, _ := Fingerprint(read)
	fb, _ := Fingerprint(b)
	if fa != fr {
		t.Error("fingerprint changes through the file")
	}
	if fa == fb || len(fa) != 64 {
		t.Errorf("fingerprints %q and %q", fa, fb)
	}
	if _, err := Fingerprint(&Config{Version: 9}); err == nil {
		t.Error("fingerprint of an invalid configuration")
	}
}
