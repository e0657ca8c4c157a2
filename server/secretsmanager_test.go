package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

const (
	tokenA = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	tokenB = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
	tokenC = "cccccccc-cccc-4ccc-8ccc-cccccccccccc"
)

func testCreateAndGet(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	c := s.client("us-east-1")
	ctx := context.Background()

	out := must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("demo/db"), SecretString: aws.String(`{"user":"a"}`), Description: aws.String("the db")})).get(t)
	wantPrefix := "arn:aws:secretsmanager:us-east-1:111122223333:secret:demo/db-"
	if !strings.HasPrefix(*out.ARN, wantPrefix) || len(*out.ARN) != len(wantPrefix)+6 {
		t.Fatalf("ARN %s", *out.ARN)
	}
	if *out.Name != "demo/db" || len(*out.VersionId) != 36 {
		t.Fatalf("create output %+v", out)
	}
	for _, id := range []string{"demo/db", *out.ARN, strings.TrimSuffix(*out.ARN, (*out.ARN)[len(*out.ARN)-7:])} {
		got := must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(id)})).get(t)
		if *got.SecretString != `{"user":"a"}` || got.SecretBinary != nil {
			t.Fatalf("by %s: value changed", id)
		}
		if *got.ARN != *out.ARN || *got.VersionId != *out.VersionId || fmt.Sprint(got.VersionStages) != "[AWSCURRENT]" || got.CreatedDate == nil {
			t.Fatalf("by %s: %+v", id, got)
		}
	}

	bin := []byte{0, 1, 2, 0xff, 0xfe}
	must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("bin"), SecretBinary: bin})).get(t)
	got := must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("bin")})).get(t)
	if !bytes.Equal(got.SecretBinary, bin) || got.SecretString != nil {
		t.Fatalf("binary round trip: %v", got.SecretBinary)
	}

	// A secret with no value has no version.
	empty := must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("empty")})).get(t)
	if empty.VersionId != nil {
		t.Fatalf("empty secret got a version")
	}
	_, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("empty")})
	wantErr(t, err, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT")

	_, err = c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("demo/db"), SecretString: aws.String("x")})
	wantErr(t, err, "ResourceExistsException", "The operation failed because the secret demo/db already exists.")
	_, err = c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("nope")})
	wantErr(t, err, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
	_, err = c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("arn:aws:secretsmanager:us-east-1:999999999999:secret:demo/db")})
	wantErr(t, err, "ResourceNotFoundException", "")
}

func testCreateValidation(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	c := s.client("us-east-1")
	ctx := context.Background()
	tests := []struct {
		name string
		in   *sm.CreateSecretInput
		code string
		msg  string
	}{
		{"bad name", &sm.CreateSecretInput{Name: aws.String("Inv Name")}, "ValidationException",
			"Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!"},
		{"name too long", &sm.CreateSecretInput{Name: aws.String(strings.Repeat("a", 513))}, "ValidationException", ""},
		{"both values", &sm.CreateSecretInput{Name: aws.String("x"), SecretString: aws.String("s"), SecretBinary: []byte("b")}, "InvalidParameterException",
			"You can't specify both a binary secret value and a string secret value in the same secret."},
		{"value too large", &sm.CreateSecretInput{Name: aws.String("x"), SecretString: aws.String(strings.Repeat("v", 65537))}, "ValidationException",
			"1 validation error detected: Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to 65536"},
		{"description too long", &sm.CreateSecretInput{Name: aws.String("x"), Description: aws.String(strings.Repeat("d", 2049))}, "ValidationException", ""},
		{"short token", &sm.CreateSecretInput{Name: aws.String("x"), SecretString: aws.String("v"), ClientRequestToken: aws.String("short")}, "ValidationException", ""},
		{"replica", &sm.CreateSecretInput{Name: aws.String("x"), AddReplicaRegions: []types.ReplicaRegionType{{Region: aws.String("us-west-2")}}}, "InvalidRequestException", ""},
		{"unknown key", &sm.CreateSecretInput{Name: aws.String("x"), KmsKeyId: aws.String("alias/nope")}, "InvalidParameterException", "The operation failed because of an invalid KMS key: Alias 'arn:aws:kms:us-east-1:111122223333:alias/nope' is not found."},
		{"reserved tag", &sm.CreateSecretInput{Name: aws.String("x"), Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("v")}}}, "InvalidParameterException", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.CreateSecret(ctx, tt.in)
			wantErr(t, err, tt.code, tt.msg)
		})
	}
	// Nothing was created by any of the refused calls.
	list := must(c.ListSecrets(ctx, &sm.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true)})).get(t)
	if len(list.SecretList) != 0 {
		t.Fatalf("refused creates left %d secrets", len(list.SecretList))
	}
	// The names AWS accepts.
	for _, n := range []string{"Valid/_+=.@-Name", "a", strings.Repeat("n", 512), "Invalid/_+=.@-Name-a1b2c3"} {
		must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String(n), SecretString: aws.String("v")})).get(t)
	}
	_, err := c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("Valid/_+=.@-Name"), KmsKeyId: aws.String("alias/aws/secretsmanager")})
	wantErr(t, err, "ResourceExistsException", "")
	must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("with-default-key"), KmsKeyId: aws.String("alias/aws/secretsmanager"), SecretString: aws.String("v")})).get(t)
}

func testStagesAndVersions(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	c := s.client("us-east-1")
	ctx := context.Background()
	must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("app"), SecretString: aws.String("v1"), ClientRequestToken: aws.String(tokenA)})).get(t)
	put := must(c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("app"), SecretString: aws.String("v2"), ClientRequestToken: aws.String(tokenB)})).get(t)
	if *put.VersionId != tokenB || fmt.Sprint(put.VersionStages) != "[AWSCURRENT]" {
		t.Fatalf("put output %+v", put)
	}
	get := func(in *sm.GetSecretValueInput) string {
		in.SecretId = aws.String("app")
		return *must(c.GetSecretValue(ctx, in)).get(t).SecretString
	}
	if v := get(&sm.GetSecretValueInput{}); v != "v2" {
		t.Fatalf("current %q", v)
	}
	if v := get(&sm.GetSecretValueInput{VersionStage: aws.String("AWSPREVIOUS")}); v != "v1" {
		t.Fatalf("previous %q", v)
	}
	if v := get(&sm.GetSecretValueInput{VersionId: aws.String(tokenA)}); v != "v1" {
		t.Fatalf("by id %q", v)
	}
	if v := get(&sm.GetSecretValueInput{VersionId: aws.String(tokenB), VersionStage: aws.String("AWSCURRENT")}); v != "v2" {
		t.Fatalf("by id and stage %q", v)
	}
	_, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app"), VersionId: aws.String(tokenA), VersionStage: aws.String("AWSCURRENT")})
	wantErr(t, err, "InvalidRequestException", "You provided a VersionStage that is not associated to the provided VersionId.")
	_, err = c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app"), VersionStage: aws.String("AWSPENDING")})
	wantErr(t, err, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: AWSPENDING")
	_, err = c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app"), VersionId: aws.String(tokenC)})
	wantErr(t, err, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: "+tokenC)

	// A retry with the same token and value succeeds and makes no version; another value fails.
	again := must(c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("app"), SecretString: aws.String("v2"), ClientRequestToken: aws.String(tokenB)})).get(t)
	if *again.VersionId != tokenB {
		t.Fatalf("retry made version %s", *again.VersionId)
	}
	_, err = c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("app"), SecretString: aws.String("other"), ClientRequestToken: aws.String(tokenB)})
	wantErr(t, err, "ResourceExistsException", "")
	_, err = c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("app"), SecretBinary: []byte("v2"), ClientRequestToken: aws.String(tokenB)})
	wantErr(t, err, "ResourceExistsException", "")

	// A custom stage and AWSPENDING on a third version leave AWSCURRENT where it is.
	must(c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("app"), SecretString: aws.String("v3"), ClientRequestToken: aws.String(tokenC), VersionStages: []string{"AWSPENDING", "custom"}})).get(t)
	d := must(c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("app")})).get(t)
	want := map[string]string{tokenA: "[AWSPREVIOUS]", tokenB: "[AWSCURRENT]", tokenC: "[AWSPENDING custom]"}
	if len(d.VersionIdsToStages) != 3 {
		t.Fatalf("VersionIdsToStages %v", d.VersionIdsToStages)
	}
	for id, st := range d.VersionIdsToStages {
		sort.Strings(st)
		if fmt.Sprint(st) != want[id] {
			t.Fatalf("version %s has %v, want %s", id, st, want[id])
		}
	}
	if v := get(&sm.GetSecretValueInput{VersionStage: aws.String("custom")}); v != "v3" {
		t.Fatalf("custom %q", v)
	}

	// UpdateSecret with a value makes a new AWSCURRENT; the old current becomes AWSPREVIOUS and
	// the version that was AWSPREVIOUS loses its label (deprecated, not listed by Describe).
	up := must(c.UpdateSecret(ctx, &sm.UpdateSecretInput{SecretId: aws.String("app"), SecretString: aws.String("v4"), Description: aws.String("new")})).get(t)
	d = must(c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("app")})).get(t)
	if fmt.Sprint(d.VersionIdsToStages[*up.VersionId]) != "[AWSCURRENT]" || fmt.Sprint(d.VersionIdsToStages[tokenB]) != "[AWSPREVIOUS]" {
		t.Fatalf("after update: %v", d.VersionIdsToStages)
	}
	if _, ok := d.VersionIdsToStages[tokenA]; ok {
		t.Fatalf("deprecated version still listed: %v", d.VersionIdsToStages)
	}
	if *d.Description != "new" || d.LastChangedDate == nil || d.CreatedDate == nil || d.LastAccessedDate == nil {
		t.Fatalf("describe: %+v", d)
	}
	if v := get(&sm.GetSecretValueInput{VersionId: aws.String(tokenA)}); v != "v1" {
		t.Fatalf("deprecated version unreadable by id: %q", v)
	}

	_, err = c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("app"), ClientRequestToken: aws.String(tokenA)})
	wantErr(t, err, "InvalidRequestException", "")
}

func testListSecrets(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	c := s.client("us-east-1")
	ctx := context.Background()
	var names []string
	for i := range 7 {
		n := fmt.Sprintf("list/s%d", i)
		names = append(names, n)
		in := &sm.CreateSecretInput{Name: aws.String(n), SecretString: aws.String("v"), Description: aws.String(fmt.Sprintf("Number %d", i))}
		if i%2 == 0 {
			in.Tags = []types.Tag{{Key: aws.String("team"), Value: aws.String("blue")}}
		}
		must(c.CreateSecret(ctx, in)).get(t)
	}
	must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("other"), SecretString: aws.String("v")})).get(t)
	names = append(names, "other")

	// Paging with the SDK's paginator walks every secret once, in creation order.
	var got []string
	p := sm.NewListSecretsPaginator(c, &sm.ListSecretsInput{MaxResults: aws.Int32(3)})
	pages := 0
	for p.HasMorePages() {
		page := must(p.NextPage(ctx)).get(t)
		pages++
		if len(page.SecretList) > 3 {
			t.Fatalf("page of %d", len(page.SecretList))
		}
		for _, e := range page.SecretList {
			got = append(got, *e.Name)
			if e.ARN == nil || e.CreatedDate == nil || len(e.SecretVersionsToStages) != 1 {
				t.Fatalf("entry %+v", e)
			}
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(names) || pages != 3 {
		t.Fatalf("paged %v in %d pages, want %v", got, pages, names)
	}

	filtered := func(f ...types.Filter) []string {
		out := must(c.ListSecrets(ctx, &sm.ListSecretsInput{Filters: f})).get(t)
		var n []string
		for _, e := range out.SecretList {
			n = append(n, *e.Name)
		}
		return n
	}
	key := func(k types.FilterNameStringType, v ...string) types.Filter { return types.Filter{Key: k, Values: v} }
	if got := filtered(key(types.FilterNameStringTypeName, "list/s1")); fmt.Sprint(got) != "[list/s1]" {
		t.Fatalf("name filter %v", got)
	}
	if got := filtered(key(types.FilterNameStringTypeTagValue, "blue")); len(got) != 4 {
		t.Fatalf("tag-value filter %v", got)
	}
	if got := filtered(key(types.FilterNameStringTypeDescription, "number 3")); fmt.Sprint(got) != "[list/s3]" {
		t.Fatalf("description filter (case-insensitive) %v", got)
	}
	if got := filtered(key(types.FilterNameStringTypeName, "!list")); fmt.Sprint(got) != "[other]" {
		t.Fatalf("negated filter %v", got)
	}
	if got := filtered(key(types.FilterNameStringTypeName, "list"), key(types.FilterNameStringTypeTagKey, "team")); len(got) != 4 {
		t.Fatalf("two filters %v", got)
	}
	// A filtered walk ends without a NextToken on its last page, although "other", which
	// the filter turns away, follows that page in the scan.
	var tok *string
	var walked []string
	for range 10 {
		page := must(c.ListSecrets(ctx, &sm.ListSecretsInput{MaxResults: aws.Int32(2), NextToken: tok,
			Filters: []types.Filter{key(types.FilterNameStringTypeName, "list/s4", "list/s5", "list/s6")}})).get(t)
		for _, e := range page.SecretList {
			walked = append(walked, *e.Name)
		}
		if tok = page.NextToken; tok == nil {
			break
		}
	}
	if fmt.Sprint(walked) != "[list/s4 list/s5 list/s6]" || tok != nil {
		t.Fatalf("filtered walk %v, last token %v", walked, tok)
	}
	if page := must(c.ListSecrets(ctx, &sm.ListSecretsInput{MaxResults: aws.Int32(1),
		Filters: []types.Filter{key(types.FilterNameStringTypeName, "list/s6")}})).get(t); page.NextToken != nil {
		t.Fatalf("a page holding the only match carries a NextToken")
	}
	desc := must(c.ListSecrets(ctx, &sm.ListSecretsInput{SortOrder: types.SortOrderTypeDesc, MaxResults: aws.Int32(1)})).get(t)
	if *desc.SecretList[0].Name != "other" || desc.NextToken == nil {
		t.Fatalf("desc first %s", *desc.SecretList[0].Name)
	}
	_, err := c.ListSecrets(ctx, &sm.ListSecretsInput{NextToken: aws.String("garbage!")})
	wantErr(t, err, "InvalidNextTokenException", "")
	_, err = c.ListSecrets(ctx, &sm.ListSecretsInput{MaxResults: aws.Int32(101)})
	wantErr(t, err, "ValidationException", "1 validation error detected: Value '101' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100")
}

func testDeleteRestorePurge(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	c := s.client("us-east-1")
	ctx := context.Background()
	created := must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("gone"), SecretString: aws.String("v")})).get(t)

	_, err := c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("gone"), RecoveryWindowInDays: aws.Int64(6)})
	wantErr(t, err, "InvalidParameterException", "")
	_, err = c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("gone"), RecoveryWindowInDays: aws.Int64(7), ForceDeleteWithoutRecovery: aws.Bool(true)})
	wantErr(t, err, "InvalidParameterException", "")

	del := must(c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("gone"), RecoveryWindowInDays: aws.Int64(7)})).get(t)
	if d := del.DeletionDate.Sub(s.Clock.Now()); d < 7*24*time.Hour-time.Second || d > 7*24*time.Hour+time.Second {
		t.Fatalf("DeletionDate %v is %v from now", del.DeletionDate, d)
	}
	const marked = "You can't perform this operation on the secret because it was marked for deletion."
	_, err = c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("gone")})
	wantErr(t, err, "InvalidRequestException", marked)
	_, err = c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("gone"), SecretString: aws.String("x")})
	wantErr(t, err, "InvalidRequestException", marked)
	_, err = c.UpdateSecret(ctx, &sm.UpdateSecretInput{SecretId: aws.String("gone"), Description: aws.String("x")})
	wantErr(t, err, "InvalidRequestException", marked)
	_, err = c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("gone")})
	wantErr(t, err, "InvalidRequestException", marked)
	_, err = c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("gone"), SecretString: aws.String("x")})
	wantErr(t, err, "InvalidRequestException", "You can't create this secret because a secret with this name is already scheduled for deletion.")
	d := must(c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("gone")})).get(t)
	if d.DeletedDate == nil {
		t.Fatal("DescribeSecret shows no DeletedDate")
	}
	if n := len(must(c.ListSecrets(ctx, &sm.ListSecretsInput{})).get(t).SecretList); n != 0 {
		t.Fatalf("ListSecrets shows %d deleted secrets", n)
	}
	if l := must(c.ListSecrets(ctx, &sm.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true)})).get(t).SecretList; len(l) != 1 || l[0].DeletedDate == nil {
		t.Fatalf("IncludePlannedDeletion: %+v", l)
	}

	must(c.RestoreSecret(ctx, &sm.RestoreSecretInput{SecretId: aws.String("gone")})).get(t)
	if v := must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("gone")})).get(t); *v.SecretString != "v" {
		t.Fatal("restored value differs")
	}
	if d := must(c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("gone")})).get(t); d.DeletedDate != nil {
		t.Fatal("restored secret still has DeletedDate")
	}
	must(c.RestoreSecret(ctx, &sm.RestoreSecretInput{SecretId: aws.String("gone")})).get(t) // not deleted: no-op

	// The window ends: the purge removes the secret for good and frees the name.
	must(c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("gone"), RecoveryWindowInDays: aws.Int64(7)})).get(t)
	s.Clock.Advance(7*24*time.Hour - time.Minute)
	if n, err := s.Secrets.PurgeDue(ctx); err != nil || n != 0 {
		t.Fatalf("purged %d before the window ended (%v)", n, err)
	}
	s.Clock.Advance(2 * time.Minute)
	if n, err := s.Secrets.PurgeDue(ctx); err != nil || n != 1 {
		t.Fatalf("purged %d, %v; want 1", n, err)
	}
	// For a moment the purged name answers AWS's "it was deleted" (with U+2019, as Terraform
	// matches it) and cannot be taken; then it is simply not found, and free.
	const deleted = "You can\u2019t perform this operation on the secret because it was deleted."
	_, err = c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(*created.ARN)})
	wantErr(t, err, "InvalidRequestException", deleted)
	_, err = c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("gone")})
	wantErr(t, err, "InvalidRequestException", deleted)
	_, err = c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("gone"), SecretString: aws.String("new")})
	wantErr(t, err, "InvalidRequestException", deleted)
	s.Clock.Advance(11 * time.Second)
	_, err = c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(*created.ARN)})
	wantErr(t, err, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
	again := must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("gone"), SecretString: aws.String("new")})).get(t)
	if *again.ARN == *created.ARN {
		t.Fatal("a re-created secret reused the old ARN")
	}

	// Force deletion is immediate, also for a secret already scheduled.
	must(c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("gone")})).get(t)
	must(c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("gone"), ForceDeleteWithoutRecovery: aws.Bool(true)})).get(t)
	_, err = c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("gone")})
	wantErr(t, err, "InvalidRequestException", deleted)
	_, err = c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: again.ARN})
	wantErr(t, err, "InvalidRequestException", deleted)
	_, err = c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: created.ARN})
	wantErr(t, err, "ResourceNotFoundException", "") // an older secret of that name: not the one just deleted
	s.Clock.Advance(11 * time.Second)
	_, err = c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("gone")})
	wantErr(t, err, "ResourceNotFoundException", "")
	must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("gone"), SecretString: aws.String("again")})).get(t)
}

func testRegions(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	ctx := context.Background()
	east, west := s.client("us-east-1"), s.client("us-west-2")
	e := must(east.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("shared-name"), SecretString: aws.String("east")})).get(t)
	w := must(west.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("shared-name"), SecretString: aws.String("west")})).get(t)
	if !strings.Contains(*e.ARN, ":us-east-1:") || !strings.Contains(*w.ARN, ":us-west-2:") {
		t.Fatalf("ARNs %s %s", *e.ARN, *w.ARN)
	}
	if v := must(west.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("shared-name")})).get(t); *v.SecretString != "west" {
		t.Fatalf("west read %q", *v.SecretString)
	}
	_, err := west.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: e.ARN})
	wantErr(t, err, "ResourceNotFoundException", "")
	if n := len(must(west.ListSecrets(ctx, &sm.ListSecretsInput{})).get(t).SecretList); n != 1 {
		t.Fatalf("west lists %d", n)
	}
	_, err = s.client("eu-west-1").ListSecrets(ctx, &sm.ListSecretsInput{})
	wantErr(t, err, "InvalidSignatureException", "")
}
