package server_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	itypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

func TestSimulatePrincipalPolicy(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := context.Background()
	c := s.iamClient(s.Creds)
	newUser(t, s, "meta", "", nil, "CofferSecretsMetadataReadOnly")
	arn := "arn:aws:iam::" + s.Account + ":user/meta"
	decisions := func(in *iam.SimulatePrincipalPolicyInput) map[string]string {
		t.Helper()
		out := must(c.SimulatePrincipalPolicy(ctx, in)).get(t)
		got := map[string]string{}
		for _, r := range out.EvaluationResults {
			got[*r.EvalActionName] = string(r.EvalDecision)
		}
		return got
	}
	got := decisions(&iam.SimulatePrincipalPolicyInput{PolicySourceArn: &arn, ActionNames: []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"}})
	if got["secretsmanager:DescribeSecret"] != string(itypes.PolicyEvaluationDecisionTypeAllowed) || got["secretsmanager:GetSecretValue"] != string(itypes.PolicyEvaluationDecisionTypeImplicitDeny) {
		t.Fatalf("metadata-only user: %v", got)
	}
	deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"secretsmanager:DescribeSecret","Resource":"*"}]}`
	got = decisions(&iam.SimulatePrincipalPolicyInput{PolicySourceArn: &arn, ActionNames: []string{"secretsmanager:DescribeSecret"}, PolicyInputList: []string{deny}})
	if got["secretsmanager:DescribeSecret"] != string(itypes.PolicyEvaluationDecisionTypeExplicitDeny) {
		t.Fatalf("with a deny added: %v", got)
	}
	ip := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`
	got = decisions(&iam.SimulatePrincipalPolicyInput{PolicySourceArn: &arn, ActionNames: []string{"secretsmanager:GetSecretValue"}, PolicyInputList: []string{ip},
		ContextEntries: []itypes.ContextEntry{{ContextKeyName: aws.String("aws:SourceIp"), ContextKeyValues: []string{"10.1.2.3"}, ContextKeyType: itypes.ContextKeyTypeEnumIp}}})
	if got["secretsmanager:GetSecretValue"] != string(itypes.PolicyEvaluationDecisionTypeAllowed) {
		t.Fatalf("with a context entry: %v", got)
	}
	must(c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("readers")})).get(t)
	must(c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("readers"), PolicyArn: aws.String("arn:aws:iam::aws:policy/coffer/CofferSecretsReadValues")})).get(t)
	g := "arn:aws:iam::" + s.Account + ":group/readers"
	if got := decisions(&iam.SimulatePrincipalPolicyInput{PolicySourceArn: &g, ActionNames: []string{"secretsmanager:GetSecretValue"}}); got["secretsmanager:GetSecretValue"] != "allowed" {
		t.Fatalf("group: %v", got)
	}
	missing := "arn:aws:iam::" + s.Account + ":user/nobody"
	_, err := c.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: &missing, ActionNames: []string{"s3:GetObject"}})
	wantErr(t, err, "NoSuchEntity", "")
}
