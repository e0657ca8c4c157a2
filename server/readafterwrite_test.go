package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// TestReadAfterWriteOneNode: on one server (SQLite, read cache warm, readers hammering the
// secret meanwhile), every read that starts after a write returns sees that write; a read
// answered from the cache says so in its audit record.
func TestReadAfterWriteOneNode(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := context.Background()
	c := s.client("us-east-1")
	must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("raw"), SecretString: aws.String("v0")})).get(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 { // keep the cache hot, and racing the writes
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("raw")})
			}
		}()
	}
	for i := 1; i <= 30; i++ {
		want := fmt.Sprintf("v%d", i)
		must(c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("raw"), SecretString: aws.String(want)})).get(t)
		got := must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("raw")})).get(t)
		if *got.SecretString != want {
			close(stop)
			t.Fatalf("write %d: the read after it returned another version", i)
		}
		prev := must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("raw"), VersionStage: aws.String("AWSPREVIOUS")})).get(t)
		if *prev.SecretString != fmt.Sprintf("v%d", i-1) {
			close(stop)
			t.Fatalf("write %d: AWSPREVIOUS is not the version before", i)
		}
	}
	close(stop)
	wg.Wait()
	// Labels moved by UpdateSecretVersionStage and a deletion are seen at once too.
	d := must(c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("raw")})).get(t)
	var prevID string
	for id, st := range d.VersionIdsToStages {
		if len(st) == 1 && st[0] == "AWSPREVIOUS" {
			prevID = id
		}
	}
	cur := must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("raw")})).get(t)
	must(c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: aws.String("raw"), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: &prevID, RemoveFromVersionId: cur.VersionId})).get(t)
	if got := must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("raw")})).get(t); *got.VersionId != prevID {
		t.Fatal("a read after UpdateSecretVersionStage returned the old AWSCURRENT")
	}
	must(c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("raw"), ForceDeleteWithoutRecovery: aws.Bool(true)})).get(t)
	_, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("raw")})
	wantErr(t, err, "InvalidRequestException", "You can’t perform this operation on the secret because it was deleted.")

	cached := 0
	for _, ev := range auditEvents(t, s) {
		if ev.EventName == "GetSecretValue" && ev.AdditionalEventData["servedFromCache"] == true {
			cached++
		}
	}
	if cached == 0 {
		t.Fatal("no GetSecretValue record says it was served from the cache")
	}
}

// TestReadAfterWriteTwoNodes: two servers on one PostgreSQL database; a value written, a
// label moved or a key disabled through one is seen by the very next read through the other.
func TestReadAfterWriteTwoNodes(t *testing.T) {
	first := startServer(t, serverOpts{postgres: true})
	ctx := context.Background()
	second := secondServer(t, first)
	a, b := first.client("us-east-1"), second.client("us-east-1")

	key := must(first.kmsClient("us-east-1").CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("raw"),
		Tags: []ktypes.Tag{{TagKey: aws.String("coffer:allow-disable-in-use"), TagValue: aws.String("true")}}})).get(t)
	must(a.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("raw2"), SecretString: aws.String("v0"), KmsKeyId: key.KeyMetadata.KeyId})).get(t)
	for i := 1; i <= 20; i++ {
		w, r := a, b
		if i%2 == 0 {
			w, r = b, a
		}
		want := fmt.Sprintf("v%d", i)
		r.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("raw2")}) // warm the reader's caches
		must(w.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("raw2"), SecretString: aws.String(want)})).get(t)
		if got := must(r.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("raw2")})).get(t); *got.SecretString != want {
			t.Fatalf("write %d through one server: the next read through the other returned another version", i)
		}
	}
	must(b.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("raw2")})).get(t)
	must(first.kmsClient("us-east-1").DisableKey(ctx, &kms.DisableKeyInput{KeyId: key.KeyMetadata.KeyId})).get(t)
	_, err := b.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("raw2")})
	wantErr(t, err, "DecryptionFailure", "Secrets Manager can't decrypt the protected secret text using the provided KMS key.")
	must(first.kmsClient("us-east-1").EnableKey(ctx, &kms.EnableKeyInput{KeyId: key.KeyMetadata.KeyId})).get(t)
	must(b.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("raw2")})).get(t)

	// A role session revoked through one server (a Deny on aws:TokenIssueTime, as the
	// console does it) is refused on its next call through the other.
	aliceARN := "arn:aws:iam::" + first.Account + ":user/alice"
	readerARN := "arn:aws:iam::" + first.Account + ":role/reader"
	alice := newUser(t, first, "alice", "", nil)
	newRole(t, first, "reader", trustOf(aliceARN, readerARN),
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["secretsmanager:GetSecretValue","kms:Decrypt"],"Resource":"*"}]}`, 3600)
	out := must(first.stsClient("us-east-1", alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(readerARN), RoleSessionName: aws.String("job")})).get(t)
	session := second.smAs(sessionCreds(out.Credentials))
	must(session.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("raw2")})).get(t) // warms the second server's caches
	cutoff := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	must(first.iamClient(first.Creds).PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("reader"), PolicyName: aws.String("revoke"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"` + cutoff + `"}}}]}`)})).get(t)
	_, err = session.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("raw2")})
	wantErr(t, err, "AccessDeniedException", "")
}

// TestAuditSyncReads: with AuditSyncReads, a read's answer waits for its record's fsync, so
// reads made one after the other need an fsync each; without it, they share them.
func TestAuditSyncReads(t *testing.T) {
	for _, syncReads := range []bool{true, false} {
		s := startServer(t, serverOpts{syncReads: syncReads})
		ctx := context.Background()
		c := s.client("us-east-1")
		must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("synced"), SecretString: aws.String("v")})).get(t)
		before := s.Audit.Stats().Syncs
		const reads = 20
		start := time.Now()
		for range reads {
			must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("synced")})).get(t)
		}
		elapsed := time.Since(start)
		syncs := s.Audit.Stats().Syncs - before
		if syncReads && syncs < reads {
			t.Errorf("with AuditSyncReads, %d reads one after the other made %d fsyncs, want one each", reads, syncs)
		}
		// Without it, at most one fsync per SyncInterval (10 ms) while reads come, and one
		// more for the last of them.
		if max := uint64(elapsed/(10*time.Millisecond)) + 2; !syncReads && syncs > max {
			t.Errorf("without AuditSyncReads, %d reads in %v made %d fsyncs, want at most %d", reads, elapsed, syncs, max)
		}
	}
}
