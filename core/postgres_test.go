package core_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/core"
	"github.com/coffer-project/coffer/keyring"
	"github.com/coffer-project/coffer/postgres"
	"github.com/coffer-project/coffer/storetest"
)

// TestOneSecretCallsSideBySidePostgres: on PostgreSQL, where the calls that change one
// secret run side by side (coffer.OneSecretUpdate), ordered by a lock on the secret's row,
// two servers sharing the database put values to one secret while others delete and restore
// it and attach and remove its resource policy. Every call either succeeds or, while the
// secret is scheduled for deletion, is refused as AWS refuses it; and afterwards the secret
// holds what the successful calls left: AWSCURRENT and AWSPREVIOUS on values some put
// wrote, the value read back the one put under that version.
func TestOneSecretCallsSideBySidePostgres(t *testing.T) {
	ctx := context.Background()
	dsn := storetest.PostgresDSN(t)
	root, err := keyring.NewRootKey()
	if err != nil {
		t.Fatal(err)
	}
	var svcs []*core.Service
	for range 2 {
		st, err := postgres.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		keys, err := keyring.New(root)
		if err != nil {
			t.Fatal(err)
		}
		svcs = append(svcs, core.New(st, keys, core.Options{}))
	}
	ns := coffer.Namespace{Account: "111122223333", Region: "us-east-1"}
	name, first, token := "side/by/side", core.Text("v-first"), "00000000-0000-4000-8000-000000000000"
	firstValue := string(first)
	if _, err := svcs[0].CreateSecret(ctx, ns, &core.CreateSecretInput{Name: &name, SecretString: &first, ClientRequestToken: &token}); err != nil {
		t.Fatal(err)
	}
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`
	refused := func(err error) bool { // as AWS answers a change of a secret scheduled for deletion
		return err != nil && coffer.AsError(err).Code == coffer.ErrInvalidRequest
	}
	var (
		mu  sync.Mutex
		put = map[string]string{token: firstValue} // version id → value, for the puts that succeeded
		wg  sync.WaitGroup
	)
	const rounds = 12
	for w := range 8 {
		svc := svcs[w%2]
		wg.Go(func() {
			for i := range rounds {
				var err error
				switch w % 4 {
				case 0, 1: // puts
					id := fmt.Sprintf("00000000-0000-4000-8000-%012d", 1+w*rounds+i)
					want := fmt.Sprintf("v-%d-%d", w, i)
					val := core.Text(want) // the call wipes it
					_, err = svc.PutSecretValue(ctx, ns, &core.PutSecretValueInput{SecretId: &name, SecretString: &val, ClientRequestToken: &id})
					if err == nil {
						mu.Lock()
						put[id] = want
						mu.Unlock()
					}
				case 2: // deletion scheduled, then cancelled
					window := int64(7)
					if _, err = svc.DeleteSecret(ctx, ns, &core.DeleteSecretInput{SecretId: &name, RecoveryWindowInDays: &window}); err == nil || refused(err) {
						_, err = svc.RestoreSecret(ctx, ns, &core.RestoreSecretInput{SecretId: &name})
					}
				case 3: // the resource policy, attached and removed
					if _, err = svc.PutResourcePolicy(ctx, ns, &core.PutResourcePolicyInput{SecretId: &name, ResourcePolicy: &policy}); err == nil {
						_, err = svc.DeleteResourcePolicy(ctx, ns, &core.DeleteResourcePolicyInput{SecretId: &name})
					}
				}
				if err != nil && !refused(err) {
					t.Errorf("worker %d, round %d: %v", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if _, err := svcs[1].RestoreSecret(ctx, ns, &core.RestoreSecretInput{SecretId: &name}); err != nil {
		t.Fatal(err)
	}
	if len(put) < 2 {
		t.Fatalf("only %d puts succeeded", len(put))
	}
	for i, svc := range svcs {
		got, err := svc.GetSecretValue(ctx, ns, &core.GetSecretValueInput{SecretId: &name})
		if err != nil {
			t.Fatalf("server %d: %v", i, err)
		}
		if want, ok := put[got.Version.VersionID]; !ok || string(got.Value.Bytes) != want {
			t.Errorf("server %d: AWSCURRENT is %s (put: %v) holding %q, not its put's %q", i, got.Version.VersionID, ok, got.Value.Bytes, want)
		}
		page, err := svc.ListSecretVersionIds(ctx, ns, &core.ListSecretVersionIdsInput{SecretId: &name})
		if err != nil {
			t.Fatal(err)
		}
		stages := map[string]int{}
		for _, v := range page.Versions {
			if _, ok := put[v.VersionID]; !ok {
				t.Errorf("server %d: version %s was never put", i, v.VersionID)
			}
			for _, s := range v.Stages {
				stages[s]++
			}
		}
		if stages[coffer.StageCurrent] != 1 || stages[coffer.StagePrevious] != 1 {
			t.Errorf("server %d: labels %v; want one AWSCURRENT and one AWSPREVIOUS", i, stages)
		}
	}
}
