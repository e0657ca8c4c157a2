package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

const iamUsage = `Usage: coffer iam <verb> [flags]

The common IAM paths in one command each (for everything else, ` + "`aws iam`" + `). The server,
credentials and region are found as for ` + "`coffer secrets`" + `.

Verbs:
  create-user NAME [--policy P]... [--group G]...
        create a user, attach managed policies (a coffer policy name such as
        CofferSecretsReadValues, or a policy ARN), add it to groups, create its access key
        and print it once as environment lines
  list-users
        the users with their groups and attached policies
  delete-user NAME
        delete a user with its access keys, inline policies, attachments and memberships
`

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runIAM(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, iamUsage)
		return flag.ErrHelp
	}
	verb := args[0]
	fs := flag.NewFlagSet("coffer iam "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	api := registerAPI(fs)
	var policies, groups multiFlag
	fs.Var(&policies, "policy", "create-user: a managed policy to attach (repeatable)")
	fs.Var(&groups, "group", "create-user: a group to join (repeatable)")
	// Flags may follow the user name: parse what comes after it too.
	rest := args[1:]
	var pos []string
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos, rest = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	creds, err := envCredentials("")
	if err != nil {
		return err
	}
	c := iam.NewFromConfig(aws.Config{Region: *api.region, Credentials: creds},
		func(o *iam.Options) { o.BaseEndpoint = api.endpoint })
	switch verb {
	case "create-user":
		if len(pos) != 1 {
			return errors.New("usage: coffer iam create-user NAME [--policy P] [--group G] (each repeatable)")
		}
		return iamCreateUser(ctx, c, pos[0], policies, groups, *api.region, stdout)
	case "list-users":
		return iamListUsers(ctx, c, stdout)
	case "delete-user":
		if len(pos) != 1 {
			return errors.New("usage: coffer iam delete-user NAME")
		}
		return iamDeleteUser(ctx, c, pos[0], stdout)
	}
	fmt.Fprint(stderr, iamUsage)
	return fmt.Errorf("unknown verb %q", verb)
}

func policyARN(p string) string {
	if strings.HasPrefix(p, "arn:") {
		return p
	}
	return "arn:aws:iam::aws:policy/coffer/" + p
}

func iamCreateUser(ctx context.Context, c *iam.Client, name string, policies, groups []string, region string, stdout io.Writer) error {
	u, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: &name})
	if err != nil {
		return err
	}
	for _, p := range policies {
		if _, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: &name, PolicyArn: aws.String(policyARN(p))}); err != nil {
			return fmt.Errorf("user %s created, but attaching %s failed: %w", name, p, err)
		}
	}
	for _, g := range groups {
		if _, err := c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{UserName: &name, GroupName: aws.String(g)}); err != nil {
			return fmt.Errorf("user %s created, but joining group %s failed: %w", name, g, err)
		}
	}
	k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: &name})
	if err != nil {
		return fmt.Errorf("user %s created, but its access key was not: %w", name, err)
	}
	fmt.Fprintf(stdout, `# %s: its access key, shown once.
export AWS_ACCESS_KEY_ID=%s
export AWS_SECRET_ACCESS_KEY=%s
export AWS_REGION=%s
export AWS_DEFAULT_REGION=%s
`, aws.ToString(u.User.Arn), aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey), region, region)
	return nil
}

func iamListUsers(ctx context.Context, c *iam.Client, stdout io.Writer) error {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tGROUPS\tPOLICIES")
	p := iam.NewListUsersPaginator(c, &iam.ListUsersInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, u := range page.Users {
			gs, err := c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: u.UserName})
			if err != nil {
				return err
			}
			ps, err := c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: u.UserName})
			if err != nil {
				return err
			}
			var gn, pn []string
			for _, g := range gs.Groups {
				gn = append(gn, aws.ToString(g.GroupName))
			}
			for _, a := range ps.AttachedPolicies {
				pn = append(pn, aws.ToString(a.PolicyName))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", aws.ToString(u.UserName), orDash(gn), orDash(pn))
		}
	}
	return tw.Flush()
}

func orDash(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}

func iamDeleteUser(ctx context.Context, c *iam.Client, name string, stdout io.Writer) error {
	keys, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: &name})
	if err != nil {
		return err
	}
	for _, k := range keys.AccessKeyMetadata {
		if _, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: &name, AccessKeyId: k.AccessKeyId}); err != nil {
			return err
		}
	}
	inline, err := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: &name})
	if err != nil {
		return err
	}
	for _, p := range inline.PolicyNames {
		if _, err := c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: &name, PolicyName: aws.String(p)}); err != nil {
			return err
		}
	}
	att, err := c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: &name})
	if err != nil {
		return err
	}
	for _, a := range att.AttachedPolicies {
		if _, err := c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: &name, PolicyArn: a.PolicyArn}); err != nil {
			return err
		}
	}
	gs, err := c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: &name})
	if err != nil {
		return err
	}
	for _, g := range gs.Groups {
		if _, err := c.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{UserName: &name, GroupName: g.GroupName}); err != nil {
			return err
		}
	}
	if _, err := c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: &name}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "deleted user %s (%d access keys, %d inline and %d attached policies, %d groups)\n", name, len(keys.AccessKeyMetadata), len(inline.PolicyNames), len(att.AttachedPolicies), len(gs.Groups))
	return nil
}
