package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

func TestSortBy(t *testing.T)           { bothStores(t, serverOpts{}, testSortBy) }
func TestTypeAndEmptyTags(t *testing.T) { bothStores(t, serverOpts{}, testTypeAndEmptyTags) }
func TestDestroyVersion(t *testing.T)   { bothStores(t, serverOpts{}, testDestroyVersion) }
func TestVersionQuota(t *testing.T)     { bothStores(t, serverOpts{}, testVersionQuota) }
func TestGenerateSecretValue(t *testing.T) {
	bothStores(t, serverOpts{}, testGenerateSecretValue)
}

// ext calls one of coffer's extension operations and returns the status and body.
func (s *testServer) ext(t *testing.T, op, body string) (int, map[string]any) {
	t.Helper()
	return s.rawCall(t, "coffer."+op, jsonCT, []byte(body), time.Now(), s.Creds, nil)
}

func testSortBy(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	c := s.client("us-east-1")
	ctx := context.Background()
	for _, n := range []string{"m", "b", "z", "a", "q"} {
		must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String(n), SecretString: aws.String("v")})).get(t)
		s.Clock.Advance(time.Second)
	}
	must(c.UpdateSecret(ctx, &sm.UpdateSecretInput{SecretId: aws.String("b"), Description: aws.String("changed last")})).get(t)
	list := func(by types.SortByType, order types.SortOrderType) string {
		var names []string
		p := sm.NewListSecretsPaginator(c, &sm.ListSecretsInput{SortBy: by, SortOrder: order, MaxResults: aws.Int32(2)})
		for p.HasMorePages() {
			for _, e := range must(p.NextPage(ctx)).get(t).SecretList {
				names = append(names, *e.Name)
			}
		}
		return strings.Join(names, "")
	}
	tests := []struct {
		by    types.SortByType
		order types.SortOrderType
		want  string
	}{
		{"", "", "mbzaq"},
		{types.SortByTypeCreatedDate, types.SortOrderTypeDesc, "qazbm"},
		{types.SortByTypeName, types.SortOrderTypeAsc, "abmqz"},
		{types.SortByTypeName, types.SortOrderTypeDesc, "zqmba"},
		{types.SortByTypeLastChangedDate, types.SortOrderTypeAsc, "mzaqb"},
		{types.SortByTypeLastAccessedDate, types.SortOrderTypeAsc, ""}, // all tie: checked below
	}
	for _, tt := range tests {
		got := list(tt.by, tt.order)
		if tt.want == "" {
			if len(got) != 5 {
				t.Errorf("%s %s: %q, want all five once", tt.by, tt.order, got)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("%s %s: %q, want %q", tt.by, tt.order, got, tt.want)
		}
	}
	// A token from one order is refused in another.
	first := must(c.ListSecrets(ctx, &sm.ListSecretsInput{SortBy: types.SortByTypeName, MaxResults: aws.Int32(1)})).get(t)
	_, err := c.ListSecrets(ctx, &sm.ListSecretsInput{NextToken: first.NextToken, MaxResults: aws.Int32(1)})
	wantErr(t, err, "InvalidNextTokenException", "")
}

func testTypeAndEmptyTags(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	c := s.client("us-east-1")
	ctx := context.Background()
	must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("typed"), Type: aws.String("external")})).get(t)
	d := must(c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("typed")})).get(t)
	if d.Type == nil || *d.Type != "external" || d.Tags != nil {
		t.Fatalf("describe: type %v, tags %v", d.Type, d.Tags)
	}
	must(c.TagResource(ctx, &sm.TagResourceInput{SecretId: aws.String("typed"), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})).get(t)
	must(c.UntagResource(ctx, &sm.UntagResourceInput{SecretId: aws.String("typed"), TagKeys: []string{"k"}})).get(t)
	// AWS then answers "Tags": [] (recorded); the raw body shows the member.
	status, m := s.rawCall(t, "secretsmanager.DescribeSecret", jsonCT, []byte(`{"SecretId":"typed"}`), time.Now(), s.Creds, nil)
	if tags, ok := m["Tags"].([]any); status != 200 || !ok || len(tags) != 0 {
		t.Fatalf("after removing every tag: %d %v", status, m["Tags"])
	}
}

func testDestroyVersion(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	c := s.client("us-east-1")
	ctx := context.Background()
	id := aws.String("d")
	must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: id, SecretString: aws.String("old"), ClientRequestToken: aws.String(tokenA)})).get(t)
	must(c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: id, SecretString: aws.String("mid"), ClientRequestToken: aws.String(tokenB)})).get(t)
	must(c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: id, SecretString: aws.String("new"), ClientRequestToken: aws.String(tokenC)})).get(t)

	// tokenB is AWSPREVIOUS: refused. tokenA is deprecated: destroyed.
	status, m := s.ext(t, "DestroySecretVersion", `{"SecretId":"d","VersionId":"`+tokenB+`"}`)
	if status != 400 || m["__type"] != "InvalidRequestException" {
		t.Fatalf("destroying a labelled version: %d %v", status, m)
	}
	status, m = s.ext(t, "DestroySecretVersion", `{"SecretId":"d","VersionId":"`+tokenA+`"}`)
	if status != 200 || m["VersionId"] != tokenA || m["DestroyedDate"] == nil {
		t.Fatalf("destroy: %d %v", status, m)
	}
	if status, again := s.ext(t, "DestroySecretVersion", `{"SecretId":"d","VersionId":"`+tokenA+`"}`); status != 200 || again["DestroyedDate"] != m["DestroyedDate"] {
		t.Fatalf("destroying again: %d %v", status, again)
	}
	_, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: id, VersionId: aws.String(tokenA)})
	wantErr(t, err, "InvalidRequestException", "The version "+tokenA+" of this secret was destroyed; its value can't be read or labelled.")
	_, err = c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: id, VersionStage: aws.String("x"), MoveToVersionId: aws.String(tokenA)})
	wantErr(t, err, "InvalidRequestException", "")
	_, err = c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: id, SecretString: aws.String("old"), ClientRequestToken: aws.String(tokenA)})
	wantErr(t, err, "ResourceExistsException", "")
	// It stays in the history.
	all := must(c.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: id, IncludeDeprecated: aws.Bool(true)})).get(t)
	if got := stagesOf(all.Versions); len(got) != 3 || got[tokenA] != "[]" {
		t.Fatalf("history after destroy: %v", got)
	}
	if v := must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: id, VersionStage: aws.String("AWSPREVIOUS")})).get(t); *v.SecretString != "mid" {
		t.Fatal("another version changed")
	}
	status, m = s.ext(t, "DestroySecretVersion", `{"SecretId":"d","VersionId":"`+strings.Repeat("f", 36)+`"}`)
	if status != 400 || m["__type"] != "ResourceNotFoundException" {
		t.Fatalf("unknown version: %d %v", status, m)
	}
	status, m = s.ext(t, "Frobnicate", `{}`)
	if status != 400 || m["__type"] != "UnknownOperationException" {
		t.Fatalf("unknown extension: %d %v", status, m)
	}
}

func testVersionQuota(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	c := s.client("us-east-1")
	ctx := context.Background()
	id := aws.String("busy")
	must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: id, SecretString: aws.String("0")})).get(t)
	put := func(i int) error {
		_, err := c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: id, SecretString: aws.String(fmt.Sprint(i))})
		return err
	}
	// AWS's rule: past 100 versions, only deprecated versions at least 24 hours old go.
	for i := 1; i < 100; i++ {
		if err := put(i); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	wantErr(t, put(100), "LimitExceededException", "")
	s.Clock.Advance(25 * time.Hour)
	if err := put(100); err != nil {
		t.Fatalf("after 24 hours: %v", err)
	}
	count := func() int {
		return len(must(c.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: id, IncludeDeprecated: aws.Bool(true)})).get(t).Versions)
	}
	if n := count(); n != 100 {
		t.Fatalf("%d versions, want 100", n)
	}
	// coffer's retention setting keeps only that many deprecated versions, at once.
	status, m := s.ext(t, "UpdateSecretVersionRetention", `{"SecretId":"busy","DeprecatedVersionsToKeep":3}`)
	if status != http.StatusOK || m["Name"] != "busy" {
		t.Fatalf("retention: %d %v", status, m)
	}
	if n := count(); n != 5 { // AWSCURRENT, AWSPREVIOUS and 3 deprecated
		t.Fatalf("%d versions after retention 3, want 5", n)
	}
	for i := 101; i < 110; i++ {
		if err := put(i); err != nil {
			t.Fatalf("put %d with retention: %v", i, err)
		}
	}
	if n := count(); n != 5 {
		t.Fatalf("%d versions with retention 3, want 5", n)
	}
	status, m = s.ext(t, "UpdateSecretVersionRetention", `{"SecretId":"busy","DeprecatedVersionsToKeep":101}`)
	if status != 400 || m["__type"] != "ValidationException" {
		t.Fatalf("retention 101: %d %v", status, m)
	}
}

func testGenerateSecretValue(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	c := s.client("us-east-1")
	ctx := context.Background()
	must(c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("db")})).get(t)

	status, m := s.ext(t, "GenerateSecretValue", `{"SecretId":"db","ClientRequestToken":"`+tokenA+`",
		"GenerateSecretString":{"SecretStringTemplate":"{\"username\":\"app\"}","GenerateStringKey":"password","PasswordLength":24,"ExcludePunctuation":true}}`)
	if status != 200 || m["VersionId"] != tokenA || m["SecretString"] != nil {
		t.Fatalf("generate: %d %v", status, m)
	}
	v := must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("db")})).get(t)
	var doc map[string]string
	if err := jsonUnmarshal([]byte(*v.SecretString), &doc); err != nil || doc["username"] != "app" || len(doc["password"]) != 24 || strings.ContainsAny(doc["password"], "!#$%&*+,-./:;<=>?@[]^_{|}~") {
		t.Fatalf("generated value has the wrong shape (%v)", err)
	}
	// A retry with the same token keeps the first value.
	status, m = s.ext(t, "GenerateSecretValue", `{"SecretId":"db","ClientRequestToken":"`+tokenA+`","GenerateSecretString":{}}`)
	if status != 200 || m["VersionId"] != tokenA {
		t.Fatalf("retry: %d %v", status, m)
	}
	if again := must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("db")})).get(t); *again.SecretString != *v.SecretString {
		t.Fatal("a retry generated a new value")
	}
	// A plain password as AWSPENDING leaves AWSCURRENT alone.
	status, m = s.ext(t, "GenerateSecretValue", `{"SecretId":"db","ClientRequestToken":"`+tokenB+`","VersionStages":["AWSPENDING"],"GenerateSecretString":{"PasswordLength":40}}`)
	if status != 200 {
		t.Fatalf("pending: %d %v", status, m)
	}
	p := must(c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("db"), VersionStage: aws.String("AWSPENDING")})).get(t)
	if len(*p.SecretString) != 40 {
		t.Fatalf("pending password of %d characters", len(*p.SecretString))
	}
	for _, bad := range []string{
		`{"SecretId":"db","ClientRequestToken":"` + tokenC + `","GenerateSecretString":{"SecretStringTemplate":"[1]","GenerateStringKey":"p"}}`,
		`{"SecretId":"db","ClientRequestToken":"` + tokenC + `","GenerateSecretString":{"GenerateStringKey":"p"}}`,
		`{"SecretId":"db","ClientRequestToken":"` + tokenC + `","GenerateSecretString":{"PasswordLength":2}}`,
	} {
		if status, m := s.ext(t, "GenerateSecretValue", bad); status != 400 || m["__type"] != "InvalidParameterException" {
			t.Fatalf("%s: %d %v", bad, status, m)
		}
	}
	if status, m := s.ext(t, "GenerateSecretValue", `{"SecretId":"db","ClientRequestToken":"`+tokenC+`"}`); status != 400 || m["__type"] != "ValidationException" {
		t.Fatalf("no GenerateSecretString: %d %v", status, m)
	}
	if log, _ := os.ReadFile(filepath.Join(s.Dir, "server.log")); strings.Contains(string(log), doc["password"]) || strings.Contains(string(log), *p.SecretString) {
		t.Fatal("a generated value reached the log")
	}
}
