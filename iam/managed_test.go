package iam

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/policy"
	"github.com/coffer-project/coffer/sqlite"
)

// TestManagedPolicies: coffer's managed policies parse as identity policies, do what their
// names say (checked by evaluation), and seeding is idempotent and updates a changed document.
func TestManagedPolicies(t *testing.T) {
	docs := map[string]*policy.Policy{}
	for _, m := range Managed {
		p, err := checkDocument(m.Document, false)
		if err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		docs[m.Name] = p
	}
	user := policy.PrincipalInfo{ARN: "arn:aws:iam::111122223333:user/u", Account: "111122223333", Type: policy.PrincipalUser}
	can := func(name, action string, keys map[string][]string) bool {
		return docs[name].Evaluate(&policy.Request{Action: action, Resource: "arn:aws:secretsmanager:us-east-1:111122223333:secret:x-AbCdEf", Principal: user, Keys: keys}, policy.IdentityPolicy) == policy.Allow
	}
	via := map[string][]string{"kms:ViaService": {"secretsmanager.us-east-1.amazonaws.com"}}
	for _, tt := range []struct {
		policy, action string
		keys           map[string][]string
		want           bool
	}{
		{"CofferSecretsMetadataReadOnly", "secretsmanager:DescribeSecret", nil, true},
		{"CofferSecretsMetadataReadOnly", "secretsmanager:GetSecretValue", nil, false},
		{"CofferSecretsReadValues", "secretsmanager:GetSecretValue", nil, true},
		{"CofferSecretsReadValues", "secretsmanager:PutSecretValue", nil, false},
		{"CofferSecretsReadValues", "kms:Decrypt", via, true},
		{"CofferSecretsReadValues", "kms:Decrypt", nil, false},
		{"CofferSecretsAdministrator", "secretsmanager:DeleteSecret", nil, true},
		{"CofferSecretsAdministrator", "coffer:DestroySecretVersion", nil, true},
		{"CofferKeyAdministrator", "kms:DisableKey", nil, true},
		{"CofferKeyAdministrator", "kms:Decrypt", via, false},
		{"CofferAuditor", "secretsmanager:GetSecretValue", nil, false},
		{"CofferAuditor", "iam:ListUsers", nil, true},
	} {
		if got := can(tt.policy, tt.action, tt.keys); got != tt.want {
			t.Errorf("%s allows %s (keys %v): %v, want %v", tt.policy, tt.action, tt.keys, got, tt.want)
		}
	}

	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"), sqlite.WithCacheCheck())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	seed := func() {
		t.Helper()
		if err := store.Update(ctx, func(tx coffer.Tx) error { return SeedManaged(tx, now) }); err != nil {
			t.Fatal(err)
		}
	}
	seed()
	seed()
	arn := "arn:aws:iam::aws:policy/coffer/CofferAuditor"
	versions := func() []*coffer.PolicyVersion {
		var vs []*coffer.PolicyVersion
		store.View(ctx, func(tx coffer.Tx) (err error) { vs, err = tx.PolicyVersions(arn); return err })
		return vs
	}
	if vs := versions(); len(vs) != 1 {
		t.Fatalf("seeding twice left %d versions", len(vs))
	}
	// A release that changes a document adds it as the new default version.
	old := Managed[4].Document
	defer func() { Managed[4].Document = old }()
	Managed[4].Document = strings.Replace(old, `"iam:List*"`, `"iam:List*","iam:GenerateCredentialReport"`, 1)
	seed()
	vs := versions()
	var p *coffer.ManagedPolicy
	store.View(ctx, func(tx coffer.Tx) (err error) { p, err = tx.ManagedPolicy(arn); return err })
	if len(vs) != 2 || p.DefaultVersion != "v2" || vs[1].Document != Managed[4].Document {
		t.Fatalf("after a changed document: %d versions, default %s", len(vs), p.DefaultVersion)
	}
	var n int
	store.View(ctx, func(tx coffer.Tx) error {
		ps, err := tx.ListManagedPolicies("aws", "/coffer/", "", 0)
		n = len(ps)
		return err
	})
	if n != len(Managed) {
		t.Fatalf("%d managed policies stored, want %d", n, len(Managed))
	}
}
