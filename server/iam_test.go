package server_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	itypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestIAM(t *testing.T) { bothStores(t, serverOpts{}, testIAM) }

func (s *testServer) iamClient(c aws.Credentials) *iam.Client {
	cfg := aws.Config{Region: "us-east-1", RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")}
	return iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

func testIAM(t *testing.T, o serverOpts) {
	s := startServer(t, o)
	ctx := context.Background()
	c := s.iamClient(s.Creds)
	acct := s.Account

	u := must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob"), Path: aws.String("/dev/"),
		Tags: []itypes.Tag{{Key: aws.String("team"), Value: aws.String("blue")}}})).get(t).User
	if *u.Arn != "arn:aws:iam::"+acct+":user/dev/bob" || !strings.HasPrefix(*u.UserId, "AIDA") || len(*u.UserId) != 21 || u.CreateDate == nil {
		t.Fatalf("CreateUser %+v", u)
	}
	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("BOB")})
	wantErr(t, err, "EntityAlreadyExists", "User with name BOB already exists.")
	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bad name")})
	wantErr(t, err, "ValidationError", "")
	_, err = c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")})
	wantErr(t, err, "NoSuchEntity", "The user with name nobody cannot be found.")
	if g := must(c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("Bob")})).get(t).User; *g.UserName != "bob" || len(g.Tags) != 1 {
		t.Fatalf("GetUser (case-insensitive) %+v", g)
	}
	must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")})).get(t)
	users := must(c.ListUsers(ctx, &iam.ListUsersInput{})).get(t).Users
	if len(users) != 2 || *users[0].UserName != "alice" {
		t.Fatalf("ListUsers %+v", users)
	}
	if p := must(c.ListUsers(ctx, &iam.ListUsersInput{PathPrefix: aws.String("/dev/")})).get(t).Users; len(p) != 1 {
		t.Fatalf("ListUsers by path %+v", p)
	}
	p1 := must(c.ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(1)})).get(t)
	p2 := must(c.ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(1), Marker: p1.Marker})).get(t)
	if !p1.IsTruncated || p2.IsTruncated || *p2.Users[0].UserName != "bob" {
		t.Fatalf("paging %+v %+v", p1, p2)
	}

	// Access keys: two at most; the new key signs as bob; until policies are evaluated, it
	// may do nothing but ask who it is.
	key := must(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")})).get(t).AccessKey
	if key.Status != itypes.StatusTypeActive || len(*key.SecretAccessKey) != 40 {
		t.Fatalf("CreateAccessKey %+v", key)
	}
	must(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")})).get(t)
	_, err = c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")})
	wantErr(t, err, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")
	bob := aws.Credentials{AccessKeyID: *key.AccessKeyId, SecretAccessKey: *key.SecretAccessKey}
	who := must(s.stsClient("us-east-1", bob).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})).get(t)
	if *who.Arn != *u.Arn || *who.Account != acct || *who.UserId != *u.UserId {
		t.Fatalf("bob is %+v", who)
	}
	_, err = s.clientWith("us-east-1", bob).ListSecrets(ctx, &sm.ListSecretsInput{})
	wantErr(t, err, "AccessDeniedException", "")
	_, err = s.iamClient(bob).ListUsers(ctx, &iam.ListUsersInput{})
	wantErr(t, err, "AccessDenied", "")
	if ks := must(c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("bob")})).get(t).AccessKeyMetadata; len(ks) != 2 || *ks[0].UserName != "bob" {
		t.Fatalf("ListAccessKeys %+v", ks)
	}
	must(c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: key.AccessKeyId, Status: itypes.StatusTypeInactive})).get(t)
	_, err = s.stsClient("us-east-1", bob).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantErr(t, err, "InvalidClientTokenId", "")
	_, err = c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("bob")})
	wantErr(t, err, "DeleteConflict", "Cannot delete entity, must delete access keys first.")
	for _, k := range must(c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("bob")})).get(t).AccessKeyMetadata {
		must(c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: k.AccessKeyId})).get(t)
	}
	_, err = c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: key.AccessKeyId})
	wantErr(t, err, "NoSuchEntity", "")

	// Groups.
	must(c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("devs")})).get(t)
	must(c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("devs"), UserName: aws.String("bob")})).get(t)
	if g := must(c.GetGroup(ctx, &iam.GetGroupInput{GroupName: aws.String("devs")})).get(t); len(g.Users) != 1 || *g.Group.Arn != "arn:aws:iam::"+acct+":group/devs" {
		t.Fatalf("GetGroup %+v", g)
	}
	if gs := must(c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: aws.String("bob")})).get(t).Groups; len(gs) != 1 {
		t.Fatalf("ListGroupsForUser %+v", gs)
	}
	_, err = c.DeleteGroup(ctx, &iam.DeleteGroupInput{GroupName: aws.String("devs")})
	wantErr(t, err, "DeleteConflict", "")

	// Managed policies, versions, attachments.
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:DescribeSecret","Resource":"*"}]}`
	_, err = c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("bad"), PolicyDocument: aws.String(`{"Statement":`)})
	wantErr(t, err, "MalformedPolicyDocument", "")
	_, err = c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("bad"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}`)})
	wantErr(t, err, "MalformedPolicyDocument", "Policy document should not specify a principal.")
	pol := must(c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("meta"), PolicyDocument: aws.String(doc)})).get(t).Policy
	if *pol.Arn != "arn:aws:iam::"+acct+":policy/meta" || *pol.DefaultVersionId != "v1" {
		t.Fatalf("CreatePolicy %+v", pol)
	}
	v2 := must(c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: pol.Arn, PolicyDocument: aws.String(strings.Replace(doc, "DescribeSecret", "List*", 1)), SetAsDefault: true})).get(t).PolicyVersion
	if *v2.VersionId != "v2" || !v2.IsDefaultVersion {
		t.Fatalf("CreatePolicyVersion %+v", v2)
	}
	got := must(c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: pol.Arn, VersionId: aws.String("v1")})).get(t).PolicyVersion
	if d, err := url.QueryUnescape(*got.Document); err != nil || d != doc || got.IsDefaultVersion {
		t.Fatalf("GetPolicyVersion %q %v", *got.Document, err)
	}
	if vs := must(c.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: pol.Arn})).get(t).Versions; len(vs) != 2 || *vs[0].VersionId != "v2" {
		t.Fatalf("ListPolicyVersions %+v", vs)
	}
	must(c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("bob"), PolicyArn: pol.Arn})).get(t)
	must(c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("devs"), PolicyArn: pol.Arn})).get(t)
	if ap := must(c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("bob")})).get(t).AttachedPolicies; len(ap) != 1 || *ap[0].PolicyName != "meta" {
		t.Fatalf("ListAttachedUserPolicies %+v", ap)
	}
	if gp := must(c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: pol.Arn})).get(t).Policy; *gp.AttachmentCount != 2 || *gp.DefaultVersionId != "v2" {
		t.Fatalf("GetPolicy %+v", gp)
	}
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: pol.Arn})
	wantErr(t, err, "DeleteConflict", "")
	_, err = c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("bob"), PolicyArn: aws.String("arn:aws:iam::" + acct + ":policy/none")})
	wantErr(t, err, "NoSuchEntity", "Policy arn:aws:iam::"+acct+":policy/none does not exist or is not attachable.")

	// coffer's ready-made managed policies are there, and attach like any other.
	shipped := must(c.ListPolicies(ctx, &iam.ListPoliciesInput{Scope: itypes.PolicyScopeTypeAws})).get(t).Policies
	if len(shipped) != 5 {
		t.Fatalf("ListPolicies Scope=AWS: %d", len(shipped))
	}
	ro := "arn:aws:iam::aws:policy/coffer/CofferSecretsMetadataReadOnly"
	must(c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: &ro})).get(t)
	if gp := must(c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: &ro})).get(t).Policy; *gp.AttachmentCount != 1 {
		t.Fatalf("GetPolicy of a managed policy %+v", gp)
	}
	must(c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: &ro})).get(t)
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: &ro})
	wantErr(t, err, "InvalidInput", "An AWS managed policy cannot be deleted.")

	// Inline policies.
	must(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("inline"), PolicyDocument: aws.String(doc)})).get(t)
	if ip := must(c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("inline")})).get(t); *ip.UserName != "bob" {
		t.Fatalf("GetUserPolicy %+v", ip)
	} else if d, _ := url.QueryUnescape(*ip.PolicyDocument); d != doc {
		t.Fatalf("inline document %q", d)
	}
	if names := must(c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String("bob")})).get(t).PolicyNames; len(names) != 1 {
		t.Fatalf("ListUserPolicies %v", names)
	}

	// Roles.
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"sts:AssumeRole"}]}`
	_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"), AssumeRolePolicyDocument: aws.String(doc)})
	wantErr(t, err, "MalformedPolicyDocument", "")
	r := must(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"), AssumeRolePolicyDocument: aws.String(trust), MaxSessionDuration: aws.Int32(7200)})).get(t).Role
	if *r.Arn != "arn:aws:iam::"+acct+":role/app" || !strings.HasPrefix(*r.RoleId, "AROA") || *r.MaxSessionDuration != 7200 {
		t.Fatalf("CreateRole %+v", r)
	}
	must(c.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String("app"), Tags: []itypes.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}})).get(t)
	if tags := must(c.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: aws.String("app")})).get(t).Tags; len(tags) != 1 {
		t.Fatalf("ListRoleTags %+v", tags)
	}
	must(c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("app"), PolicyDocument: aws.String(trust)})).get(t)
	if gr := must(c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("app")})).get(t).Role; gr.AssumeRolePolicyDocument == nil {
		t.Fatalf("GetRole %+v", gr)
	}
	must(c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("app")})).get(t)
	_, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("app")})
	wantErr(t, err, "NoSuchEntity", "The role with name app cannot be found.")

	// Teardown in IAM's order.
	must(c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("inline")})).get(t)
	must(c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String("bob"), PolicyArn: pol.Arn})).get(t)
	must(c.DetachGroupPolicy(ctx, &iam.DetachGroupPolicyInput{GroupName: aws.String("devs"), PolicyArn: pol.Arn})).get(t)
	must(c.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{GroupName: aws.String("devs"), UserName: aws.String("bob")})).get(t)
	must(c.DeleteGroup(ctx, &iam.DeleteGroupInput{GroupName: aws.String("devs")})).get(t)
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: pol.Arn})
	wantErr(t, err, "DeleteConflict", "") // v1 and v2 remain
	must(c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: pol.Arn, VersionId: aws.String("v1")})).get(t)
	must(c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: pol.Arn})).get(t)
	must(c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("bob")})).get(t)
	if us := must(c.ListUsers(ctx, &iam.ListUsersInput{})).get(t).Users; len(us) != 1 {
		t.Fatalf("after teardown %+v", us)
	}
}

// TestAccessKeyLastUsed: a key's last use is recorded off the request path and answered by
// GetAccessKeyLastUsed.
func TestAccessKeyLastUsed(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := context.Background()
	c := s.iamClient(s.Creds)
	creds := newUser(t, s, "worker", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:ListSecrets","Resource":"*"}]}`, nil)
	lu := must(c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: &creds.AccessKeyID})).get(t)
	if *lu.UserName != "worker" || lu.AccessKeyLastUsed.LastUsedDate != nil || *lu.AccessKeyLastUsed.ServiceName != "N/A" {
		t.Fatalf("before any use: %+v", lu.AccessKeyLastUsed)
	}
	must(s.clientWith("us-east-1", creds).ListSecrets(ctx, &sm.ListSecretsInput{})).get(t)
	lu = must(c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: &creds.AccessKeyID})).get(t)
	if lu.AccessKeyLastUsed.LastUsedDate == nil || *lu.AccessKeyLastUsed.ServiceName != "secretsmanager" || *lu.AccessKeyLastUsed.Region != "us-east-1" {
		t.Fatalf("after a use: %+v", lu.AccessKeyLastUsed)
	}
	_, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String("AKIANOSUCHKEYNOSUCH0")})
	wantErr(t, err, "NoSuchEntity", "")
}
