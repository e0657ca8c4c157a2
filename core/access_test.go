package core_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/core"
	"github.com/coffer-project/coffer/keyring"
	"github.com/coffer-project/coffer/sqlite"
)

// countingStore is a real store that counts write transactions.
type countingStore struct {
	coffer.Store
	updates atomic.Int64
}

func (c *countingStore) Update(ctx context.Context, fn func(coffer.Tx) error) error {
	c.updates.Add(1)
	return c.Store.Update(ctx, fn)
}

// countedService is a Service on a real SQLite store whose write transactions are counted,
// with *now as its clock.
func countedService(t *testing.T, now *time.Time) (*core.Service, *countingStore, coffer.Store) {
	t.Helper()
	base := openBase(t)
	store := &countingStore{Store: base}
	return core.New(store, testKeys(), core.Options{Now: func() time.Time { return *now }}), store, base
}

// openBase opens a real SQLite store in the test's directory, closed when the test ends.
func openBase(t *testing.T) coffer.Store {
	t.Helper()
	base, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "c.db"), sqlite.WithCacheCheck())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { base.Close() })
	return base
}

// testKeys returns a keyring under a new root key.
func testKeys() *keyring.Keyring {
	root, _ := keyring.NewRootKey()
	keys, _ := keyring.New(root)
	return keys
}

// TestReadsWriteNothing: GetSecretValue never writes; the access date is written once, in
// one transaction, before DescribeSecret shows it, or by the background recorder.
func TestReadsWriteNothing(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	svc, store, base := countedService(t, &now)
	ns := coffer.Namespace{Account: "111122223333", Region: "us-east-1"}
	name, val, token := "app", core.Text("v"), "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	if _, err := svc.CreateSecret(ctx, ns, &core.CreateSecretInput{Name: &name, SecretString: &val, ClientRequestToken: &token}); err != nil {
		t.Fatal(err)
	}
	before := store.updates.Load()
	for range 50 {
		v, err := svc.GetSecretValue(ctx, ns, &core.GetSecretValueInput{SecretId: &name})
		if err != nil {
			t.Fatal(err)
		}
		v.Value.Wipe()
	}
	if n := store.updates.Load() - before; n != 0 {
		t.Fatalf("50 reads made %d write transactions", n)
	}
	d, err := svc.DescribeSecret(ctx, ns, &core.DescribeSecretInput{SecretId: &name})
	if err != nil {
		t.Fatal(err)
	}
	if n := store.updates.Load() - before; n != 1 || !d.Secret.LastAccessedDate.Equal(now.Truncate(24*time.Hour)) {
		t.Fatalf("after Describe: %d writes, LastAccessedDate %v", n, d.Secret.LastAccessedDate)
	}
	// The same day again: nothing to write.
	svc.GetSecretValue(ctx, ns, &core.GetSecretValueInput{SecretId: &name})
	svc.DescribeSecret(ctx, ns, &core.DescribeSecretInput{SecretId: &name})
	if n := store.updates.Load() - before; n != 1 {
		t.Fatalf("a second read on the same day wrote again: %d writes", n)
	}
	// The next day, the background recorder writes it.
	now = now.Add(24 * time.Hour)
	svc.GetSecretValue(ctx, ns, &core.GetSecretValueInput{SecretId: &name})
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { svc.RunAccessRecorder(rctx); close(done) }()
	stop()
	<-done
	if n := store.updates.Load() - before; n != 2 {
		t.Fatalf("the recorder wrote %d times in all, want 2", n)
	}
	var got time.Time
	base.View(ctx, func(tx coffer.Tx) error {
		s, err := tx.SecretByName(ns, name)
		if err == nil {
			got = s.LastAccessedDate
		}
		return err
	})
	if !got.Equal(now.Truncate(24 * time.Hour)) {
		t.Fatalf("stored LastAccessedDate %v", got)
	}
}

// gatedStore is a real store whose write transactions wait at a gate once it is closed.
type gatedStore struct {
	coffer.Store
	entered chan struct{} // receives when a write reaches the gate
	gate    chan struct{} // a write proceeds once this is closed
}

func (g *gatedStore) Update(ctx context.Context, fn func(coffer.Tx) error) error {
	if g.gate != nil {
		g.entered <- struct{}{}
		<-g.gate
	}
	return g.Store.Update(ctx, fn)
}

// TestDescribeSeesReadBeingRecorded: when the background recorder has taken a read's mark
// and not yet written it, DescribeSecret waits for that write instead of missing the date.
func TestDescribeSeesReadBeingRecorded(t *testing.T) {
	ctx := context.Background()
	store := &gatedStore{Store: openBase(t)}
	keys := testKeys()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	svc := core.New(store, keys, core.Options{Now: func() time.Time { return now }})
	ns := coffer.Namespace{Account: "111122223333", Region: "us-east-1"}
	name, val, token := "app", core.Text("v"), "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
	if _, err := svc.CreateSecret(ctx, ns, &core.CreateSecretInput{Name: &name, SecretString: &val, ClientRequestToken: &token}); err != nil {
		t.Fatal(err)
	}
	store.entered, store.gate = make(chan struct{}), make(chan struct{})
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { svc.RunAccessRecorder(rctx); close(done) }()
	var open sync.Once
	openGate := func() { open.Do(func() { close(store.gate) }) }
	defer func() { openGate(); stop(); <-done }()

	v, err := svc.GetSecretValue(ctx, ns, &core.GetSecretValueInput{SecretId: &name})
	if err != nil {
		t.Fatal(err)
	}
	v.Value.Wipe()
	<-store.entered // the recorder holds the mark and waits to write it
	described := make(chan *core.SecretDetails, 1)
	go func() {
		d, err := svc.DescribeSecret(ctx, ns, &core.DescribeSecretInput{SecretId: &name})
		if err != nil {
			t.Error(err)
		}
		described <- d
	}()
	select {
	case d := <-described:
		t.Fatalf("DescribeSecret answered (LastAccessedDate %v) before the recorder wrote", d.Secret.LastAccessedDate)
	case <-time.After(200 * time.Millisecond):
	}
	openGate()
	d := <-described
	if d == nil || !d.Secret.LastAccessedDate.Equal(now.Truncate(24*time.Hour)) {
		t.Fatalf("DescribeSecret after the recorder's write: %+v", d)
	}
}

// TestAccessDatesInShortTransactions: the reads of many secrets are recorded in transactions
// of at most 256 marks each, and every one of them is recorded.
func TestAccessDatesInShortTransactions(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	svc, store, _ := countedService(t, &now)
	ns := coffer.Namespace{Account: "111122223333", Region: "us-east-1"}
	const n = 300 // two transactions: 256 marks and 44
	val := core.Text("v")
	for i := range n {
		name, token := fmt.Sprintf("app/%03d", i), fmt.Sprintf("cccccccc-cccc-4ccc-8ccc-%012d", i)
		if _, err := svc.CreateSecret(ctx, ns, &core.CreateSecretInput{Name: &name, SecretString: &val, ClientRequestToken: &token}); err != nil {
			t.Fatal(err)
		}
	}
	before := store.updates.Load()
	for i := range n {
		name := fmt.Sprintf("app/%03d", i)
		v, err := svc.GetSecretValue(ctx, ns, &core.GetSecretValueInput{SecretId: &name})
		if err != nil {
			t.Fatal(err)
		}
		v.Value.Wipe()
	}
	seen := 0
	for tok := (*string)(nil); ; {
		out, err := svc.ListSecrets(ctx, ns, &core.ListSecretsInput{NextToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range out.Secrets {
			if !s.Secret.LastAccessedDate.Equal(now.Truncate(24 * time.Hour)) {
				t.Errorf("%s: LastAccessedDate %v", s.Secret.Name, s.Secret.LastAccessedDate)
			}
			seen++
		}
		if out.NextToken == "" {
			break
		}
		tok = &out.NextToken
	}
	if seen != n {
		t.Errorf("ListSecrets listed %d secrets, want %d", seen, n)
	}
	if got := store.updates.Load() - before; got != 2 {
		t.Errorf("%d reads were recorded in %d write transactions, want 2", n, got)
	}
}
