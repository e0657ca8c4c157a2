package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/coffer-project/coffer/keyring"
	"github.com/coffer-project/coffer/seal"
)

// These tests seal, unseal, migrate and rotate real deployments: the coffer binary as a
// server, the operator verbs as the binary (or in-process where a rotation is interrupted),
// and aws-sdk-go-v2 as the client.

const (
	testAccessKey = "AKIASEALTESTSEALTEST"
	testSecretKey = "seal-test-secret-access-key-0123456789"
	testValue     = "the-value-that-must-survive"
)

// fixedAdmin is the server environment with a known administrator key pair, so that tests
// can sign before the first unseal.
var fixedAdmin = []string{"COFFER_ACCOUNT_ID=123456789012", "COFFER_ADMIN_ACCESS_KEY_ID=" + testAccessKey, "COFFER_ADMIN_SECRET_ACCESS_KEY=" + testSecretKey}

// transcript collects every command output and server log of a test, to check at the end
// that none holds a share, a passphrase, a key or a value.
type transcript struct {
	mu  sync.Mutex
	out []string
}

func (tr *transcript) add(s string) string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.out = append(tr.out, s)
	return s
}

// clean fails the test if any output holds one of secrets.
func (tr *transcript) clean(t *testing.T, secrets ...string) {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, out := range tr.out {
		for _, s := range secrets {
			if s != "" && strings.Contains(out, s) {
				t.Fatalf("an output holds a secret (%d characters):\n%s", len(s), out)
			}
		}
	}
}

// operator runs `coffer operator args…` with stdin and env, and returns its output.
func operator(t *testing.T, tr *transcript, env []string, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cofferBinary(t), append([]string{"operator"}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return tr.add(string(out)), err
}

func mustOperator(t *testing.T, tr *transcript, env []string, stdin string, args ...string) string {
	t.Helper()
	out, err := operator(t, tr, env, stdin, args...)
	if err != nil {
		t.Fatalf("coffer operator %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// readShares reads the share files of dir, checking their mode.
func readShares(t *testing.T, dir string, n int) []string {
	t.Helper()
	var shares []string
	for i := 1; i <= n; i++ {
		path := filepath.Join(dir, "share-"+string(rune('0'+i)))
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %v", path, st.Mode().Perm())
		}
		s := strings.TrimSpace(string(b))
		if !strings.HasPrefix(s, seal.SharePrefix) {
			t.Fatalf("%s holds no share", path)
		}
		shares = append(shares, s)
	}
	return shares
}

// clients returns SDK clients for a server, signing with the fixed administrator key pair,
// without retries.
func clients(addr string) (*secretsmanager.Client, *kms.Client) {
	cfg := aws.Config{Region: "us-east-1", RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, "")}
	ep := aws.String("http://" + addr)
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = ep }),
		kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = ep })
}

// wantSealed checks that an SDK call got AWS's 503 ServiceUnavailableException.
func wantSealed(t *testing.T, err error) {
	t.Helper()
	var ae smithy.APIError
	var re *awshttp.ResponseError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ServiceUnavailableException" || !strings.Contains(ae.ErrorMessage(), "coffer operator unseal") ||
		!errors.As(err, &re) || re.HTTPStatusCode() != http.StatusServiceUnavailable {
		t.Fatalf("got %v, want a 503 ServiceUnavailableException naming coffer operator unseal", err)
	}
}

// writeData stores a secret and a KMS ciphertext blob; readData checks both.
func writeData(t *testing.T, addr string) []byte {
	t.Helper()
	ctx := context.Background()
	sm, k := clients(addr)
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("app/db"), SecretString: aws.String(testValue)}); err != nil {
		t.Fatal(err)
	}
	key, err := k.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := k.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte(testValue)})
	if err != nil {
		t.Fatal(err)
	}
	return enc.CiphertextBlob
}

func readData(t *testing.T, addr string, blob []byte) {
	t.Helper()
	ctx := context.Background()
	sm, k := clients(addr)
	got, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/db")})
	if err != nil {
		t.Fatalf("GetSecretValue: %v", err)
	}
	if aws.ToString(got.SecretString) != testValue {
		t.Fatal("GetSecretValue returned another value")
	}
	dec, err := k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
	if err != nil {
		t.Fatalf("KMS Decrypt of a blob made before: %v", err)
	}
	if string(dec.Plaintext) != testValue {
		t.Fatal("KMS Decrypt returned another plaintext")
	}
}

func sealStatus(t *testing.T, tr *transcript, addr string) map[string]any {
	t.Helper()
	out := mustOperator(t, tr, []string{"COFFER_ENDPOINT=http://" + addr}, "", "seal-status", "--json")
	var st map[string]any
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("seal-status --json printed %q", out)
	}
	return st
}

// unsealShares gives each share through `coffer operator unseal` on standard input, from
// progress 0, and checks the progress printed: the last share unseals.
func unsealShares(t *testing.T, tr *transcript, addr string, shares ...string) {
	t.Helper()
	giveShares(t, tr, addr, true, shares...)
}

func giveShares(t *testing.T, tr *transcript, addr string, unseals bool, shares ...string) {
	t.Helper()
	env := []string{"COFFER_ENDPOINT=http://" + addr}
	for i, s := range shares {
		out := mustOperator(t, tr, env, s+"\n", "unseal")
		want := "Unseal progress: " + string(rune('1'+i)) + "/"
		if unseals && i == len(shares)-1 {
			want = "Unsealed"
		}
		if !strings.Contains(out, want) {
			t.Fatalf("unseal with share %d printed %q, want %q", i+1, out, want)
		}
	}
}

func TestSealShamirEndToEnd(t *testing.T) {
	tr := &transcript{}
	dir := t.TempDir()
	data, shareDir, addr := filepath.Join(dir, "data"), filepath.Join(dir, "shares"), freePort(t)
	env := []string{"COFFER_ENDPOINT=http://" + addr}

	// Shares are never printed to something that is not a terminal.
	out, err := operator(t, tr, nil, "", "init", "--data", data, "--shares", "5", "--threshold", "3")
	if err == nil || !strings.Contains(out, "not a terminal") || !strings.Contains(out, "--share-dir") {
		t.Fatalf("init with stdout not a terminal and no --share-dir: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(data, seal.ConfigFile)); err == nil {
		t.Fatal("a refused init wrote seal.json")
	}
	out = mustOperator(t, tr, nil, "", "init", "--data", data, "--shares", "5", "--threshold", "3", "--share-dir", shareDir)
	if !strings.Contains(out, "WITHOUT 3 OF THE SHARES THE DATA IS LOST") {
		t.Fatalf("init does not say plainly what losing the shares means:\n%s", out)
	}
	shares := readShares(t, shareDir, 5)
	if out, err := operator(t, tr, nil, "", "init", "--data", data, "--passphrase"); err == nil || !strings.Contains(out, "rotate-root") {
		t.Fatalf("a second init: %v\n%s", err, out)
	}

	p := startCoffer(t, fixedAdmin, "--data", data, "--key-file", filepath.Join(dir, "root.key"), "--listen", addr)
	sm, _ := clients(addr)
	_, err = sm.ListSecrets(context.Background(), &secretsmanager.ListSecretsInput{})
	wantSealed(t, err)
	if _, err := os.Stat(filepath.Join(dir, "root.key")); err == nil {
		t.Fatal("a sealed server created a key file")
	}

	// Two right shares and one of another deployment: refused, still sealed, start again.
	other, _ := keyring.NewRootKey()
	_, otherShares, err := seal.InitShamir(other, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	giveShares(t, tr, addr, false, shares[0], shares[1]+"\r\n") // a CRLF, then a blank line: fine
	out, err = operator(t, tr, env, otherShares[2]+"\n", "unseal")
	if err == nil || !strings.Contains(out, "do not reconstruct") {
		t.Fatalf("unseal with a wrong share: %v\n%s", err, out)
	}
	if st := sealStatus(t, tr, addr); st["sealed"] != true || st["progress"] != 0.0 || st["threshold"] != 3.0 || st["type"] != "shamir" {
		t.Fatalf("status after wrong shares: %v", st)
	}
	_, err = sm.ListSecrets(context.Background(), &secretsmanager.ListSecretsInput{})
	wantSealed(t, err)

	unsealShares(t, tr, addr, shares[4], shares[2], shares[0])
	blob := writeData(t, addr)

	// coffer operator seal, signed by the administrator.
	sealEnv := append(env, "AWS_ACCESS_KEY_ID="+testAccessKey, "AWS_SECRET_ACCESS_KEY="+testSecretKey, "AWS_REGION=us-east-1")
	if out := mustOperator(t, tr, sealEnv, "", "seal"); !strings.Contains(out, "Sealed") {
		t.Fatalf("seal printed %q", out)
	}
	_, err = sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/db")})
	wantSealed(t, err)
	if out, err := operator(t, tr, append(env, "AWS_ACCESS_KEY_ID="+testAccessKey, "AWS_SECRET_ACCESS_KEY=wrong-secret-access-key-000000"), "", "seal"); err == nil {
		t.Fatalf("seal with a wrong signature: %s", out)
	}
	unsealShares(t, tr, addr, shares[1], shares[3], shares[2])
	readData(t, addr, blob)

	// A restart starts sealed again; what was written is still there.
	p.stop()
	tr.add(p.out.String())
	p = startCoffer(t, fixedAdmin, "--data", data, "--key-file", filepath.Join(dir, "root.key"), "--listen", addr)
	if !strings.Contains(p.out.String(), "sealed") {
		t.Fatalf("the restarted server does not say it is sealed:\n%s", p.out)
	}
	unsealShares(t, tr, addr, shares[3], shares[4], shares[1])
	readData(t, addr, blob)
	p.stop()
	tr.add(p.out.String())
	tr.clean(t, append(append(shares, otherShares...), testValue, testSecretKey)...)
}

func TestSealPassphraseEndToEnd(t *testing.T) {
	const pass = "a long enough passphrase for tests"
	tr := &transcript{}
	dir := t.TempDir()
	data, addr := filepath.Join(dir, "data"), freePort(t)
	env := []string{"COFFER_ENDPOINT=http://" + addr}
	if out, err := operator(t, tr, nil, "short\n", "init", "--data", data, "--passphrase"); err == nil || !strings.Contains(out, "shorter than") {
		t.Fatalf("init with a short passphrase: %v\n%s", err, out)
	}
	out := mustOperator(t, tr, nil, pass+"\n", "init", "--data", data, "--passphrase")
	if !strings.Contains(out, "WITHOUT THE PASSPHRASE THE DATA IS LOST") {
		t.Fatalf("init output:\n%s", out)
	}

	p := startCoffer(t, fixedAdmin, "--data", data, "--listen", addr)
	sm, _ := clients(addr)
	_, err := sm.ListSecrets(context.Background(), &secretsmanager.ListSecretsInput{})
	wantSealed(t, err)
	if out, err := operator(t, tr, env, "not the passphrase at all\n", "unseal"); err == nil || !strings.Contains(out, "Wrong passphrase") {
		t.Fatalf("unseal with a wrong passphrase: %v\n%s", err, out)
	}
	if st := sealStatus(t, tr, addr); st["sealed"] != true || st["type"] != "passphrase" {
		t.Fatalf("status after a wrong passphrase: %v", st)
	}
	if out := mustOperator(t, tr, env, pass+"\n", "unseal"); !strings.Contains(out, "Unsealed") {
		t.Fatalf("unseal printed %q", out)
	}
	blob := writeData(t, addr)
	p.stop()
	tr.add(p.out.String())

	// --passphrase-file unseals at start; a file others can read, or a wrong one, is refused.
	file := filepath.Join(dir, "passphrase")
	if err := os.WriteFile(file, []byte(pass+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := startCoffer(t, fixedAdmin, "--data", data, "--listen", addr, "--passphrase-file", file).exited(t); !strings.Contains(out, "chmod 600") {
		t.Fatalf("a readable passphrase file: %s", out)
	}
	os.Chmod(file, 0o600)
	p = startCoffer(t, fixedAdmin, "--data", data, "--listen", addr, "--passphrase-file", file)
	if !strings.Contains(p.out.String(), "serving the AWS Secrets Manager and KMS APIs") {
		t.Fatalf("--passphrase-file did not unseal at start:\n%s", p.out)
	}
	readData(t, addr, blob)
	p.stop()
	tr.add(p.out.String())
	wrong := filepath.Join(dir, "wrong")
	os.WriteFile(wrong, []byte("not the passphrase at all"), 0o600)
	if out := startCoffer(t, fixedAdmin, "--data", data, "--listen", addr, "--passphrase-file", wrong).exited(t); !strings.Contains(out, "wrong passphrase") {
		t.Fatalf("a wrong passphrase file: %s", out)
	}
	tr.clean(t, pass, "not the passphrase at all", testValue)
}

// TestKeyFileMigration moves a running key file deployment to a Shamir seal: its data stays
// readable, the key file goes.
func TestKeyFileMigration(t *testing.T) {
	tr := &transcript{}
	dir := t.TempDir()
	data, key, shareDir, addr := filepath.Join(dir, "data"), filepath.Join(dir, "root.key"), filepath.Join(dir, "shares"), freePort(t)
	p := startCoffer(t, fixedAdmin, "--data", data, "--key-file", key, "--listen", addr)
	blob := writeData(t, addr)
	// Offline verbs refuse to run beside a server.
	if out, err := operator(t, tr, nil, "", "init", "--data", data, "--key-file", key, "--shares", "3", "--threshold", "2", "--share-dir", shareDir); err == nil || !strings.Contains(out, "stop it first") {
		t.Fatalf("init beside a running server: %v\n%s", err, out)
	}
	p.stop()
	tr.add(p.out.String())
	rootBytes, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	// Another deployment's key is refused.
	otherKey := filepath.Join(dir, "other.key")
	other, _ := keyring.NewRootKey()
	keyring.WriteRootKey(otherKey, other)
	if out, err := operator(t, tr, nil, "", "init", "--data", data, "--key-file", otherKey, "--shares", "3", "--threshold", "2", "--share-dir", shareDir); err == nil || !strings.Contains(out, "does not open this store") {
		t.Fatalf("init with another key: %v\n%s", err, out)
	}

	out := mustOperator(t, tr, nil, "", "init", "--data", data, "--key-file", key, "--shares", "3", "--threshold", "2", "--share-dir", shareDir, "--remove-key-file")
	if !strings.Contains(out, "removed") || !strings.Contains(out, "DATA IS LOST") {
		t.Fatalf("init output:\n%s", out)
	}
	if _, err := os.Stat(key); err == nil {
		t.Fatal("--remove-key-file left the key file")
	}
	shares := readShares(t, shareDir, 3)
	p = startCoffer(t, fixedAdmin, "--data", data, "--key-file", key, "--listen", addr)
	sm, _ := clients(addr)
	_, err = sm.ListSecrets(context.Background(), &secretsmanager.ListSecretsInput{})
	wantSealed(t, err)
	unsealShares(t, tr, addr, shares[2], shares[0])
	readData(t, addr, blob)
	p.stop()
	tr.add(p.out.String())
	tr.clean(t, append(shares, testValue, strings.TrimSpace(string(rootBytes)))...)
}

// rotationBase is a stopped deployment that each interrupted rotation runs on a copy of.
type rotationBase struct {
	dir    string   // holds data/, root.key (key file) and passphrase files
	shares []string // shamir: the current shares
	blob   []byte
}

// copyDir copies a stopped deployment's directory tree.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, src)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

var errCrash = errors.New("injected crash")

// TestRotateRootInterrupted rotates the root key of each kind of deployment, interrupted after
// each step as a crash would (and once not at all), then starts the server on what is left:
// every secret is readable and a KMS blob made before decrypts, with the old key material
// (shares, passphrase, key file) until the store's transaction committed and the new one from
// then on.
func TestRotateRootInterrupted(t *testing.T) {
	const oldPass, newPass = "the old passphrase of this test", "the new passphrase of this test"
	for _, kind := range []seal.Type{seal.TypeKeyFile, seal.TypeShamir, seal.TypePassphrase} {
		t.Run(string(kind), func(t *testing.T) {
			tr := &transcript{}
			base := rotationBase{dir: t.TempDir()}
			data, key := filepath.Join(base.dir, "data"), filepath.Join(base.dir, "root.key")
			os.WriteFile(filepath.Join(base.dir, "old-pass"), []byte(oldPass+"\n"), 0o600)
			os.WriteFile(filepath.Join(base.dir, "new-pass"), []byte(newPass+"\n"), 0o600)
			switch kind {
			case seal.TypeShamir:
				mustOperator(t, tr, nil, "", "init", "--data", data, "--shares", "3", "--threshold", "2", "--share-dir", filepath.Join(base.dir, "shares"))
				base.shares = readShares(t, filepath.Join(base.dir, "shares"), 3)
			case seal.TypePassphrase:
				mustOperator(t, tr, nil, "", "init", "--data", data, "--passphrase", "--passphrase-file", filepath.Join(base.dir, "old-pass"))
			}
			addr := freePort(t)
			args := []string{"--data", data, "--key-file", key, "--listen", addr}
			if kind == seal.TypePassphrase {
				args = append(args, "--passphrase-file", filepath.Join(base.dir, "old-pass"))
			}
			p := startCoffer(t, fixedAdmin, args...)
			if kind == seal.TypeShamir {
				unsealShares(t, tr, addr, base.shares[0], base.shares[1])
			}
			base.blob = writeData(t, addr)
			p.stop()
			tr.add(p.out.String())
			var keyBytes []string
			if kind == seal.TypeKeyFile {
				b, _ := os.ReadFile(key)
				keyBytes = append(keyBytes, strings.TrimSpace(string(b)))
			}

			for _, step := range []seal.Step{seal.StepNextWritten, seal.StepRewrapped, seal.StepCommitted, ""} {
				name := string(step)
				if name == "" {
					name = "uninterrupted"
				}
				t.Run(name, func(t *testing.T) {
					dir := t.TempDir()
					copyDir(t, base.dir, dir)
					data, key := filepath.Join(dir, "data"), filepath.Join(dir, "root.key")
					args := []string{"rotate-root", "--data", data, "--key-file", key}
					stdin := ""
					switch kind {
					case seal.TypeShamir:
						args = append(args, "--share-dir", filepath.Join(dir, "new-shares"))
						stdin = base.shares[2] + "\n" + base.shares[0] + "\n"
					case seal.TypePassphrase:
						args = append(args, "--passphrase-file", filepath.Join(dir, "old-pass"), "--new-passphrase-file", filepath.Join(dir, "new-pass"))
					}
					var out bytes.Buffer
					err := runOperatorHooked(context.Background(), args, strings.NewReader(stdin), &out, &out, func(s seal.Step) error {
						if s == step {
							return errCrash
						}
						return nil
					})
					tr.add(out.String())
					if step != "" && !errors.Is(err, errCrash) || step == "" && err != nil {
						t.Fatalf("rotate-root: %v\n%s", err, out.String())
					}
					committed := step == seal.StepCommitted || step == ""

					addr := freePort(t)
					args = []string{"--data", data, "--key-file", key, "--listen", addr}
					if kind == seal.TypePassphrase {
						pass := "old-pass"
						if committed {
							pass = "new-pass"
						}
						args = append(args, "--passphrase-file", filepath.Join(dir, pass))
					}
					p := startCoffer(t, fixedAdmin, args...)
					if step != "" && !strings.Contains(p.out.String(), "interrupted root rotation") {
						t.Errorf("the start does not report the interrupted rotation:\n%s", p.out)
					}
					if kind == seal.TypeShamir {
						if committed {
							newShares := readShares(t, filepath.Join(dir, "new-shares"), 3)
							// The old shares no longer unseal.
							if out, err := operator(t, tr, []string{"COFFER_ENDPOINT=http://" + addr}, base.shares[0]+"\n", "unseal"); err != nil {
								t.Fatalf("first old share: %v\n%s", err, out)
							}
							if out, err := operator(t, tr, []string{"COFFER_ENDPOINT=http://" + addr}, base.shares[1]+"\n", "unseal"); err == nil {
								t.Fatalf("the old shares unseal after the rotation committed:\n%s", out)
							}
							unsealShares(t, tr, addr, newShares[1], newShares[2])
							defer func() { tr.clean(t, newShares...) }()
						} else {
							unsealShares(t, tr, addr, base.shares[1], base.shares[2])
						}
					}
					readData(t, addr, base.blob)
					p.stop()
					tr.add(p.out.String())
					if _, err := os.Stat(seal.NextPath(key)); err == nil {
						t.Error("a next key file remains")
					}
					if _, err := os.Stat(seal.NextPath(filepath.Join(data, seal.ConfigFile))); err == nil {
						t.Error("a next seal.json remains")
					}
					if kind == seal.TypeKeyFile && committed {
						b, _ := os.ReadFile(key)
						if strings.TrimSpace(string(b)) == keyBytes[0] {
							t.Error("the key file was not replaced")
						}
						keyBytes = append(keyBytes, strings.TrimSpace(string(b)))
					}
				})
			}
			tr.clean(t, append(append(base.shares, keyBytes...), oldPass, newPass, testValue)...)
		})
	}
}
