package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	itypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/core"
	"github.com/coffer-project/coffer/postgres"
	"github.com/coffer-project/coffer/server"
)

// TestSharedStoreInvalidation: two servers on one PostgreSQL database; a policy change and a
// deactivated key made through one take effect on the very next request through the other.
func TestSharedStoreInvalidation(t *testing.T) {
	first := startServer(t, serverOpts{postgres: true})
	ctx := context.Background()
	second := secondServer(t, first)

	must(first.client("us-east-1").CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("shared"), SecretString: aws.String("v")})).get(t)
	creds := newUser(t, first, "app", "", nil, "CofferSecretsMetadataReadOnly")
	other := second.clientWith("us-east-1", creds)
	must(other.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("shared")})).get(t) // warms the second server's caches

	ic := first.iamClient(first.Creds)
	must(ic.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String("app"), PolicyArn: aws.String("arn:aws:iam::aws:policy/coffer/CofferSecretsMetadataReadOnly")})).get(t)
	_, err := other.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("shared")})
	wantErr(t, err, "AccessDeniedException", "")

	must(ic.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("app"), PolicyArn: aws.String("arn:aws:iam::aws:policy/coffer/CofferSecretsMetadataReadOnly")})).get(t)
	must(other.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("shared")})).get(t)
	must(ic.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("app"), AccessKeyId: &creds.AccessKeyID, Status: itypes.StatusTypeInactive})).get(t)
	_, err = other.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("shared")})
	wantErr(t, err, "UnrecognizedClientException", "")
}

// secondServer starts another server on first's PostgreSQL database (its own store pool,
// caches and audit log), as a second node of a deployment, and returns first's test server
// pointed at it. It stops when the test ends.
func secondServer(t *testing.T, first *testServer) *testServer {
	t.Helper()
	second, _ := secondServerCounted(t, first)
	return second
}

// metaCounter is a PostgreSQL store that counts the access-control generation reads made in
// a round trip of their own (server.MetaReader), and the access keys its Views read (a
// server whose credential cache was emptied reads its callers' again).
type metaCounter struct {
	*postgres.Store
	reads    atomic.Int64
	keyReads atomic.Int64
}

func (m *metaCounter) View(ctx context.Context, fn func(coffer.Tx) error) error {
	return m.Store.View(ctx, func(tx coffer.Tx) error { return fn(keyCountingTx{tx, m}) })
}

// keyCountingTx counts AccessKey reads, and passes the optional methods on.
type keyCountingTx struct {
	coffer.Tx
	m *metaCounter
}

func (t keyCountingTx) AccessKey(id string) (*coffer.AccessKey, error) {
	t.m.keyReads.Add(1)
	return t.Tx.AccessKey(id)
}

func (t keyCountingTx) ReadCurrent()   { coffer.ReadCurrent(t.Tx) }
func (t keyCountingTx) EndWithLookup() { coffer.EndWithLookup(t.Tx) }

func (m *metaCounter) ReadMeta(ctx context.Context, key string) ([]byte, error) {
	m.reads.Add(1)
	return m.Store.ReadMeta(ctx, key)
}

// secondServerCounted is secondServer, whose store counts its separate generation reads.
func secondServerCounted(t *testing.T, first *testServer) (*testServer, *metaCounter) {
	t.Helper()
	pg, err := postgres.Open(context.Background(), first.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	store := &metaCounter{Store: pg}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := core.New(store, first.Keys, core.Options{Logger: log})
	h := server.New(server.Config{Regions: []string{"us-east-1"}, Secrets: svc, Creds: server.NewCredentials(store, first.Keys), Logger: log, SharedStore: true,
		Audit: openAudit(t, t.TempDir(), 0, 0)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	second := *first
	second.URL = "http://" + ln.Addr().String()
	return &second, store
}

// TestSharedStoreChecksInPipeline: on a shared store, a call reads the access-control
// generation beside its first statement, not in a round trip of its own before it; when
// the generation changed, the call runs again on fresh caches (one separate read), and is
// refused as the change says.
func TestSharedStoreChecksInPipeline(t *testing.T) {
	first := startServer(t, serverOpts{postgres: true})
	ctx := context.Background()
	second, store := secondServerCounted(t, first)
	must(first.client("us-east-1").CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("piped"), SecretString: aws.String("v")})).get(t)
	creds := newUser(t, first, "reader", "", nil, "CofferSecretsReadValues")
	other := second.clientWith("us-east-1", creds)
	must(other.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("piped")})).get(t) // fills the caches
	before := store.reads.Load()
	for range 5 {
		must(other.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("piped")})).get(t)
	}
	if n := store.reads.Load() - before; n != 0 {
		t.Errorf("5 reads through a warm server read the generation apart %d times; want 0", n)
	}
	ic := first.iamClient(first.Creds)
	must(ic.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String("reader"), PolicyArn: aws.String("arn:aws:iam::aws:policy/coffer/CofferSecretsReadValues")})).get(t)
	before = store.reads.Load()
	_, err := other.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("piped")})
	wantErr(t, err, "AccessDeniedException", "")
	if n := store.reads.Load() - before; n != 1 {
		t.Errorf("the read after a change read the generation apart %d times; want 1 (before running again)", n)
	}

	// A call that runs no transaction (GenerateRandom) reads the generation before it
	// answers; a KMS call after a DisableKey through the first server is refused.
	k2 := second.kmsClient("us-east-1")
	must(k2.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(16)})).get(t) // the caller's key into the caches
	before = store.reads.Load()
	must(k2.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(16)})).get(t)
	if n := store.reads.Load() - before; n != 1 {
		t.Errorf("a GenerateRandom read the generation apart %d times; want 1 (it runs no transaction)", n)
	}
	key := must(first.kmsClient("us-east-1").CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("piped")})).get(t)
	must(k2.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("p")})).get(t)
	must(first.kmsClient("us-east-1").DisableKey(ctx, &kms.DisableKeyInput{KeyId: key.KeyMetadata.KeyId})).get(t)
	_, err = k2.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("p")})
	wantErr(t, err, "DisabledException", "")

	// A KMS write through this server reads the generation it wrote after it, so that the
	// next call does not find the server's own change stale; finding there what it wrote,
	// it keeps its caches (the caller's access key is not read again).
	// The caches keep entries for a second: let the caller's access key expire, and be read
	// again, so that it is fresh for what follows.
	time.Sleep(1100 * time.Millisecond)
	filled := time.Now()
	must(k2.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(16)})).get(t)
	own := must(k2.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("own")})).get(t)
	before, keys := store.reads.Load(), store.keyReads.Load()
	must(k2.Encrypt(ctx, &kms.EncryptInput{KeyId: own.KeyMetadata.KeyId, Plaintext: []byte("p")})).get(t)
	if n := store.reads.Load() - before; n != 0 {
		t.Errorf("the KMS call after this server's own key write read the generation apart %d times; want 0", n)
	}
	if took := time.Since(filled); took < 800*time.Millisecond {
		if n := store.keyReads.Load() - keys; n != 0 {
			t.Errorf("the KMS call after this server's own key write read access keys %d times; want 0 (the caches stay)", n)
		}
	} else {
		t.Logf("not checked whether the caches stayed: the calls took %v, near the caches' second", took)
	}
	// A change through the other server still empties them.
	must(first.kmsClient("us-east-1").CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("theirs")})).get(t)
	keys = store.keyReads.Load()
	must(k2.Encrypt(ctx, &kms.EncryptInput{KeyId: own.KeyMetadata.KeyId, Plaintext: []byte("p")})).get(t)
	if n := store.keyReads.Load() - keys; n == 0 {
		t.Error("the KMS call after another server's key write read no access key: the caches were kept")
	}
}

// TestSharedStoreQueryChecksInPipeline: the query protocol (IAM, STS) as the JSON one: a warm
// IAM call reads the access-control generation beside its first statement; an STS call that
// runs no transaction reads it before it answers; a call after a change made through the
// other server runs again on fresh caches (one separate read) and is refused as the change
// says.
func TestSharedStoreQueryChecksInPipeline(t *testing.T) {
	first := startServer(t, serverOpts{postgres: true})
	ctx := context.Background()
	second, store := secondServerCounted(t, first)
	creds := newUser(t, first, "iam-reader", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}`, nil)
	ic := second.iamClient(creds)
	must(ic.GetUser(ctx, &iam.GetUserInput{})).get(t) // fills the caches
	before := store.reads.Load()
	for range 3 {
		u := must(ic.GetUser(ctx, &iam.GetUserInput{})).get(t)
		if aws.ToString(u.User.UserName) != "iam-reader" {
			t.Fatalf("GetUser answered %q", aws.ToString(u.User.UserName))
		}
	}
	if n := store.reads.Load() - before; n != 0 {
		t.Errorf("3 IAM reads through a warm server read the generation apart %d times; want 0", n)
	}

	// An IAM write through this server reads the generation it wrote after it, so that the
	// next call does not find the server's own change stale (which it would read apart, then
	// run again).
	must(second.iamClient(second.Creds).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("extra")})).get(t)
	before = store.reads.Load()
	must(ic.GetUser(ctx, &iam.GetUserInput{})).get(t)
	if n := store.reads.Load() - before; n != 0 {
		t.Errorf("the IAM read after this server's own write read the generation apart %d times; want 0", n)
	}
	sc := second.stsClientSession(creds)
	must(sc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})).get(t)
	before = store.reads.Load()
	id := must(sc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})).get(t)
	if n := store.reads.Load() - before; n > 1 {
		t.Errorf("a GetCallerIdentity read the generation apart %d times; want at most 1", n)
	}
	if !strings.HasSuffix(aws.ToString(id.Arn), ":user/iam-reader") {
		t.Errorf("GetCallerIdentity answered %q", aws.ToString(id.Arn))
	}
	must(first.iamClient(first.Creds).DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("iam-reader"), PolicyName: aws.String("inline")})).get(t)
	before = store.reads.Load()
	_, err := ic.GetUser(ctx, &iam.GetUserInput{})
	wantErr(t, err, "AccessDenied", "")
	if n := store.reads.Load() - before; n != 1 {
		t.Errorf("the IAM call after a change read the generation apart %d times; want 1 (before running again)", n)
	}
}

// TestSharedStoreConcurrentPuts: PutSecretValue and UpdateSecretVersionStage of one secret
// through two servers at once (on PostgreSQL, changes of one secret run side by side,
// ordered by a lock on its row) all succeed, with no retry by the client, and leave one
// version per put, each label on one version, and AWSCURRENT where both servers read it.
func TestSharedStoreConcurrentPuts(t *testing.T) {
	first := startServer(t, serverOpts{postgres: true})
	ctx := context.Background()
	second := secondServer(t, first)
	created := must(first.client("us-east-1").CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("busy"), SecretString: aws.String("v0")})).get(t)
	// Another secret written at the same time, which its writers need not wait for.
	must(first.client("us-east-1").CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("busy-too"), SecretString: aws.String("w0")})).get(t)
	const workers, each = 6, 4
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		puts    = map[string]string{} // version id → value
		servers = []*testServer{first, second}
	)
	for w := range workers {
		c := servers[w%2].client("us-east-1")
		wg.Go(func() {
			for i := range each {
				value := fmt.Sprintf("v%d-%d", w, i)
				out, err := c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("busy"), SecretString: aws.String(value)})
				if err != nil {
					t.Errorf("PutSecretValue %s: %v", value, err)
					return
				}
				mu.Lock()
				puts[*out.VersionId] = value
				mu.Unlock()
				if _, err := c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("busy-too"), SecretString: aws.String(value)}); err != nil {
					t.Errorf("PutSecretValue busy-too %s: %v", value, err)
					return
				}
				// A label moved by hand onto the version just put, from wherever it is.
				desc, err := c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("busy")})
				if err != nil {
					t.Errorf("DescribeSecret: %v", err)
					return
				}
				in := &sm.UpdateSecretVersionStageInput{SecretId: aws.String("busy"), VersionStage: aws.String("MINE"), MoveToVersionId: out.VersionId}
				for id, stages := range desc.VersionIdsToStages {
					if slices.Contains(stages, "MINE") {
						in.RemoveFromVersionId = aws.String(id)
					}
				}
				if _, err := c.UpdateSecretVersionStage(ctx, in); err != nil {
					// Another worker may have moved the label between the describe and the
					// move: AWS's answer then names where it is now. Anything else is a failure.
					if !strings.Contains(err.Error(), "InvalidParameterException") {
						t.Errorf("UpdateSecretVersionStage: %v", err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	versions := must(first.client("us-east-1").ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: aws.String("busy"), IncludeDeprecated: aws.Bool(true)})).get(t)
	if len(versions.Versions) != 1+workers*each {
		t.Errorf("%d versions, want %d", len(versions.Versions), 1+workers*each)
	}
	labels := map[string]int{}
	var current, previous string
	for _, v := range versions.Versions {
		for _, st := range v.VersionStages {
			labels[st]++
			switch st {
			case "AWSCURRENT":
				current = *v.VersionId
			case "AWSPREVIOUS":
				previous = *v.VersionId
			}
		}
	}
	for st, n := range labels {
		if n != 1 {
			t.Errorf("label %s on %d versions", st, n)
		}
	}
	if labels["AWSCURRENT"] != 1 || labels["AWSPREVIOUS"] != 1 || labels["MINE"] != 1 {
		t.Errorf("labels %v; want AWSCURRENT, AWSPREVIOUS and MINE once each", labels)
	}
	if _, ok := puts[previous]; !ok && previous != *created.VersionId {
		t.Errorf("AWSPREVIOUS is on %s, none of the versions put", previous)
	}
	for _, s := range servers {
		got := must(s.client("us-east-1").GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("busy")})).get(t)
		if *got.VersionId != current || *got.SecretString != puts[current] {
			t.Errorf("GetSecretValue: version %s, want %s with its value", *got.VersionId, current)
		}
	}
}

// TestSharedStoreConcurrentCreates: CreateSecret of the same names through two servers at
// once (on PostgreSQL, creations run side by side and meet at the names' unique index): each
// name is created once, every other attempt is refused as AWS refuses it, with no retry by
// the client, and the secret holds its creator's value.
func TestSharedStoreConcurrentCreates(t *testing.T) {
	first := startServer(t, serverOpts{postgres: true, regions: []string{"us-east-1", "eu-west-1"}})
	ctx := context.Background()

	// The first secrets of a region race to create its AWS-managed key (aws/secretsmanager)
	// inside their transactions: one creates it, the others run again and use it.
	fresh := first.client("eu-west-1")
	var wg0 sync.WaitGroup
	for i := range 8 {
		wg0.Go(func() {
			if _, err := fresh.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String(fmt.Sprintf("fresh/%d", i)), SecretString: aws.String("v")}); err != nil {
				t.Errorf("CreateSecret fresh/%d in a new region: %v", i, err)
			}
		})
	}
	wg0.Wait()

	servers := []*testServer{first, secondServer(t, first)}
	const workers, names = 6, 5
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created = map[string][]string{} // name → the values of the calls that created it
	)
	for w := range workers {
		c := servers[w%2].client("us-east-1")
		wg.Go(func() {
			for i := range names {
				name, value := fmt.Sprintf("race/%d", i), fmt.Sprintf("v%d-%d", w, i)
				_, err := c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
				switch {
				case err == nil:
					mu.Lock()
					created[name] = append(created[name], value)
					mu.Unlock()
				case !strings.Contains(err.Error(), "ResourceExistsException"):
					t.Errorf("CreateSecret %s: %v", name, err)
				}
			}
		})
	}
	wg.Wait()
	for i := range names {
		name := fmt.Sprintf("race/%d", i)
		if len(created[name]) != 1 {
			t.Errorf("%s created by %d calls, want 1", name, len(created[name]))
			continue
		}
		for _, s := range servers {
			got := must(s.client("us-east-1").GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(name)})).get(t)
			if *got.SecretString != created[name][0] {
				t.Errorf("%s holds another value than its creator's", name)
			}
		}
	}
}
