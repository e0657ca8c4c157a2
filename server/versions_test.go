package server_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

func TestListSecretVersionIds(t *testing.T) { bothStores(t, serverOpts{}, testListSecretVersionIds) }
func TestUpdateSecretVersionStage(t *testing.T) {
	bothStores(t, serverOpts{}, testUpdateSecretVersionStage)
}
func TestTags(t *testing.T)                { bothStores(t, serverOpts{}, testTags) }
func TestBatchGetSecretValue(t *testing.T) { bothStores(t, serverOpts{}, testBatchGetSecretValue) }
func TestConcurrentLabels(t *testing.T)    { bothStores(t, serverOpts{}, testConcurrentLabels) }

func stagesOf(vs []types.SecretVersionsListEntry) map[string]string {
	m := map[string]string{}
	for _, v := range vs {
		st := append([]string(nil), v.VersionStages...)
		sort.Strings(st)
		m[*v.VersionId] = fmt.Sprint(st)
	}
	return m
}

func testListSecretVersionIds(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	c := s.client("us-east-1")
	ctx := context.Background()
	must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("v"), SecretString: aws.String("1"), ClientRequestToken: aws.String(tokenA)})).get(t)
	must(c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("v"), SecretString: aws.String("2"), ClientRequestToken: aws.String(tokenB)})).get(t)
	must(c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("v"), SecretString: aws.String("3"), ClientRequestToken: aws.String(tokenC)})).get(t)
	must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("v")})).get(t)

	out := must(c.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: aws.String("v")})).get(t)
	if got := stagesOf(out.Versions); len(got) != 2 || got[tokenB] != "[AWSPREVIOUS]" || got[tokenC] != "[AWSCURRENT]" {
		t.Fatalf("labelled versions %v", got)
	}
	for _, v := range out.Versions {
		if fmt.Sprint(v.KmsKeyIds) != "[DefaultEncryptionKey]" || v.CreatedDate == nil {
			t.Fatalf("entry %+v", v)
		}
		if (*v.VersionId == tokenC) != (v.LastAccessedDate != nil) {
			t.Fatalf("LastAccessedDate on %s: %v", *v.VersionId, v.LastAccessedDate)
		}
	}
	all := must(c.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: aws.String("v"), IncludeDeprecated: aws.Bool(true)})).get(t)
	if got := stagesOf(all.Versions); len(got) != 3 || got[tokenA] != "[]" {
		t.Fatalf("with deprecated %v", got)
	}
	var ids []string
	p := sm.NewListSecretVersionIdsPaginator(c, &sm.ListSecretVersionIdsInput{SecretId: aws.String("v"), IncludeDeprecated: aws.Bool(true), MaxResults: aws.Int32(1)})
	for p.HasMorePages() {
		for _, v := range must(p.NextPage(ctx)).get(t).Versions {
			ids = append(ids, *v.VersionId)
		}
	}
	if fmt.Sprint(ids) != fmt.Sprint([]string{tokenA, tokenB, tokenC}) {
		t.Fatalf("paged %v", ids)
	}
	_, err := c.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: aws.String("missing")})
	wantErr(t, err, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
	_, err = c.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: aws.String("v"), NextToken: aws.String("bm9wZQ")})
	wantErr(t, err, "InvalidNextTokenException", "")
}

func testUpdateSecretVersionStage(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	c := s.client("us-east-1")
	ctx := context.Background()
	id := aws.String("rot")
	must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: id, SecretString: aws.String("1"), ClientRequestToken: aws.String(tokenA)})).get(t)
	must(c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: id, SecretString: aws.String("2"), ClientRequestToken: aws.String(tokenB), VersionStages: []string{"AWSPENDING"}})).get(t)
	stages := func() map[string]string {
		return stagesOf(must(c.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: id, IncludeDeprecated: aws.Bool(true)})).get(t).Versions)
	}

	// Finishing a rotation: AWSCURRENT moves to the pending version, AWSPREVIOUS follows.
	_, err := c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: id, VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(tokenB)})
	wantErr(t, err, "InvalidParameterException", "The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to version "+tokenA+", so you must explicitly reference that version in RemoveFromVersionId.")
	_, err = c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: id, VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(tokenB), RemoveFromVersionId: aws.String(tokenB)})
	wantErr(t, err, "InvalidParameterException", "")
	out := must(c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: id, VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(tokenB), RemoveFromVersionId: aws.String(tokenA)})).get(t)
	if *out.Name != "rot" || out.ARN == nil {
		t.Fatalf("output %+v", out)
	}
	if got := stages(); got[tokenA] != "[AWSPREVIOUS]" || got[tokenB] != "[AWSCURRENT AWSPENDING]" {
		t.Fatalf("after finishing: %v", got)
	}
	if v := must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: id})).get(t); *v.SecretString != "2" {
		t.Fatalf("current value %q", *v.SecretString)
	}
	// Removing a label: AWSPENDING goes; AWSCURRENT cannot be removed without a move.
	must(c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: id, VersionStage: aws.String("AWSPENDING"), RemoveFromVersionId: aws.String(tokenB)})).get(t)
	_, err = c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: id, VersionStage: aws.String("AWSCURRENT"), RemoveFromVersionId: aws.String(tokenB)})
	wantErr(t, err, "InvalidParameterException", "")
	_, err = c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: id, VersionStage: aws.String("custom"), RemoveFromVersionId: aws.String(tokenB)})
	wantErr(t, err, "InvalidParameterException", "")
	// A custom label attached nowhere moves without RemoveFromVersionId.
	must(c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: id, VersionStage: aws.String("custom"), MoveToVersionId: aws.String(tokenA)})).get(t)
	// Reverting: AWSCURRENT back to the previous version.
	must(c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: id, VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(tokenA), RemoveFromVersionId: aws.String(tokenB)})).get(t)
	if got := stages(); got[tokenA] != "[AWSCURRENT custom]" || got[tokenB] != "[AWSPREVIOUS]" {
		t.Fatalf("after revert: %v", got)
	}
	_, err = c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: id, VersionStage: aws.String("x"), MoveToVersionId: aws.String(tokenC)})
	wantErr(t, err, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: "+tokenC)
	_, err = c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: id, VersionStage: aws.String("x")})
	wantErr(t, err, "InvalidParameterException", "")
	must(c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: id})).get(t)
	_, err = c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: id, VersionStage: aws.String("custom"), MoveToVersionId: aws.String(tokenB), RemoveFromVersionId: aws.String(tokenA)})
	wantErr(t, err, "InvalidRequestException", "You can't perform this operation on the secret because it was marked for deletion.")
}

func testTags(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	c := s.client("us-east-1")
	ctx := context.Background()
	id := aws.String("tagged")
	must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: id, Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("1")}}})).get(t)
	tag := func(kv ...string) error {
		var tags []types.Tag
		for i := 0; i < len(kv); i += 2 {
			tags = append(tags, types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
		}
		_, err := c.TagResource(ctx, &sm.TagResourceInput{SecretId: id, Tags: tags})
		return err
	}
	describeTags := func() string {
		var out []string
		for _, tg := range must(c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: id})).get(t).Tags {
			out = append(out, *tg.Key+"="+*tg.Value)
		}
		return strings.Join(out, ",")
	}
	if err := tag("b", "2", "a", "one"); err != nil {
		t.Fatal(err)
	}
	if got := describeTags(); got != "a=one,b=2" {
		t.Fatalf("tags %s", got)
	}
	must(c.UntagResource(ctx, &sm.UntagResourceInput{SecretId: id, TagKeys: []string{"a", "zz"}})).get(t)
	if got := describeTags(); got != "b=2" {
		t.Fatalf("after untag %s", got)
	}
	wantErr(t, tag("aws:reserved", "x"), "InvalidParameterException", "")
	wantErr(t, tag("bad*char", "x"), "InvalidParameterException", "")
	wantErr(t, tag(strings.Repeat("k", 129), "x"), "ValidationException", "")
	var many []string
	for i := range 50 {
		many = append(many, fmt.Sprintf("k%02d", i), "v")
	}
	wantErr(t, tag(many...), "LimitExceededException", "")
	if got := describeTags(); got != "b=2" {
		t.Fatalf("a refused TagResource changed tags: %s", got)
	}
	if err := tag(many[:98]...); err != nil {
		t.Fatal(err)
	}
	must(c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: id})).get(t)
	const marked = "You can't perform this operation on the secret because it was marked for deletion."
	wantErr(t, tag("c", "3"), "InvalidRequestException", marked)
	_, err := c.UntagResource(ctx, &sm.UntagResourceInput{SecretId: id, TagKeys: []string{"b"}})
	wantErr(t, err, "InvalidRequestException", marked)
}

func testBatchGetSecretValue(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	c := s.client("us-east-1")
	ctx := context.Background()
	for i := range 5 {
		must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String(fmt.Sprintf("batch/%d", i)), SecretString: aws.String(fmt.Sprint("value", i))})).get(t)
	}
	must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("batch/empty")})).get(t)
	out := must(c.BatchGetSecretValue(ctx, &sm.BatchGetSecretValueInput{SecretIdList: []string{"batch/0", "batch/3", "missing", "batch/empty"}})).get(t)
	var got []string
	for _, v := range out.SecretValues {
		got = append(got, *v.Name+"="+*v.SecretString)
	}
	if fmt.Sprint(got) != "[batch/0=value0 batch/3=value3]" {
		t.Fatalf("values %v", got)
	}
	if len(out.Errors) != 2 || *out.Errors[0].SecretId != "missing" || *out.Errors[0].ErrorCode != "ResourceNotFoundException" ||
		*out.Errors[0].Message != "Secrets Manager can't find the specified secret." || *out.Errors[1].SecretId != "batch/empty" {
		t.Fatalf("errors %+v", out.Errors)
	}
	var names []string
	p := sm.NewBatchGetSecretValuePaginator(c, &sm.BatchGetSecretValueInput{Filters: []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{"batch/"}}}, MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		for _, v := range must(p.NextPage(ctx)).get(t).SecretValues {
			names = append(names, *v.Name)
		}
	}
	if len(names) != 5 {
		t.Fatalf("filtered batch %v", names)
	}
	_, err := c.BatchGetSecretValue(ctx, &sm.BatchGetSecretValueInput{SecretIdList: []string{"a"}, Filters: []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{"b"}}}})
	wantErr(t, err, "InvalidParameterException", "")
	_, err = c.BatchGetSecretValue(ctx, &sm.BatchGetSecretValueInput{})
	wantErr(t, err, "InvalidParameterException", "")
	ids := make([]string, 21)
	for i := range ids {
		ids[i] = fmt.Sprint("id", i)
	}
	_, err = c.BatchGetSecretValue(ctx, &sm.BatchGetSecretValueInput{SecretIdList: ids})
	wantErr(t, err, "ValidationException", "")
}

// testConcurrentLabels has many clients put values and move AWSCURRENT at once on one secret;
// afterwards exactly one version is AWSCURRENT, at most one AWSPREVIOUS, and every version
// that a successful call created exists.
func testConcurrentLabels(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	ctx := context.Background()
	c := s.client("us-east-1")
	id := aws.String("hot")
	must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: id, SecretString: aws.String("start")})).get(t)
	var mu sync.Mutex
	created := map[string]bool{}
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := s.client("us-east-1")
			for i := range 8 {
				token := fmt.Sprintf("%08d-0000-4000-8000-%012d", w, i)
				stages := []string{"AWSCURRENT"}
				if i%2 == 1 {
					stages = []string{"AWSPENDING"}
				}
				if _, err := cl.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: id, SecretString: aws.String(token), ClientRequestToken: aws.String(token), VersionStages: stages}); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				created[token] = true
				mu.Unlock()
				if i%2 == 1 {
					// Promote the pending version, naming whoever holds AWSCURRENT now; a
					// concurrent move may win, which must fail cleanly, not corrupt labels.
					cur, err := cl.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: id})
					if err != nil {
						t.Error(err)
						return
					}
					cl.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: id, VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(token), RemoveFromVersionId: cur.VersionId})
				}
			}
		}()
	}
	wg.Wait()
	all := must(c.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: id, IncludeDeprecated: aws.Bool(true)})).get(t).Versions
	count := map[string]int{}
	have := map[string]bool{}
	for _, v := range all {
		have[*v.VersionId] = true
		for _, st := range v.VersionStages {
			count[st]++
		}
	}
	if count["AWSCURRENT"] != 1 || count["AWSPREVIOUS"] > 1 || count["AWSPENDING"] > 1 {
		t.Fatalf("label counts %v", count)
	}
	for tok := range created {
		if !have[tok] {
			t.Fatalf("version %s was acknowledged but is missing", tok)
		}
	}
	cur := must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: id})).get(t)
	if *cur.SecretString != *cur.VersionId {
		t.Fatal("AWSCURRENT's value does not belong to its version")
	}
}
