package server_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/internal/testserver"
	"github.com/coffer-project/coffer/server"
	"github.com/coffer-project/coffer/sqlite"
)

// pausingStore holds its first View after fn has run, until released: a lookup in flight.
type pausingStore struct {
	coffer.Store
	once    sync.Once
	read    chan struct{} // closed once the first View's fn ran
	release chan struct{}
}

func (p *pausingStore) View(ctx context.Context, fn func(coffer.Tx) error) error {
	err := p.Store.View(ctx, fn)
	p.once.Do(func() {
		close(p.read)
		<-p.release
	})
	return err
}

// TestCredentialsForgetDuringLookup: a lookup in flight when its key is forgotten (IAM
// deactivated it through this server) does not leave the record it read in the cache: the
// next lookup reads the store again, and refuses the key.
func TestCredentialsForgetDuringLookup(t *testing.T) {
	ctx := context.Background()
	base, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	keys := testserver.Keyring(t)
	const id = "AKIAFORGETDURINGLOOK"
	err = base.Update(ctx, func(tx coffer.Tx) error {
		return tx.InsertAccessKey(&coffer.AccessKey{ID: id, Account: "111122223333", PrincipalARN: "arn:aws:iam::111122223333:user/u",
			Status: coffer.KeyActive, SealedSecret: []byte("sealed"), CreatedDate: time.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	store := &pausingStore{Store: base, read: make(chan struct{}), release: make(chan struct{})}
	creds := server.NewCredentials(store, keys)
	done := make(chan error, 1)
	go func() {
		_, err := creds.Key(ctx, id)
		done <- err
	}()
	<-store.read // the lookup read the key, Active, and has not stored it yet
	err = base.Update(ctx, func(tx coffer.Tx) error { return tx.UpdateAccessKeyStatus(id, coffer.KeyInactive) })
	if err != nil {
		t.Fatal(err)
	}
	creds.Forget(id) // as IAM does once the deactivation committed
	close(store.release)
	if err := <-done; err != nil {
		t.Fatalf("the lookup in flight: %v", err)
	}
	if _, err := creds.Key(ctx, id); coffer.ErrorCode(err) != coffer.ErrUnrecognizedClient {
		t.Errorf("a lookup after the key was deactivated and forgotten: %v; want UnrecognizedClientException", err)
	}
}
