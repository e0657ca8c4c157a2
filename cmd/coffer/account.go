package main

import (
	"context"
	"flag"
	"fmt"
	"io"
)

const accountUsage = `Usage: coffer account create [--account-id ID] [--endpoint-url URL] [--region R]

Creates an account (isolated secrets, keys and identities, as an AWS account) and shows its
root access key pair once, as environment lines. Only the root of the deployment's default
account may create accounts: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be its key pair.
`

func runAccount(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprint(stderr, accountUsage)
		return flag.ErrHelp
	}
	fs := flag.NewFlagSet("coffer account create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	api := registerAPI(fs)
	id := fs.String("account-id", "", "12-digit id of the new account (random when empty)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	c, err := api.client("the default account's root")
	if err != nil {
		return err
	}
	a, err := c.CreateAccount(ctx, *id)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, `# coffer account %s: its root access key pair, shown once.
export AWS_ACCESS_KEY_ID=%s
export AWS_SECRET_ACCESS_KEY=%s
export AWS_REGION=%s
export AWS_DEFAULT_REGION=%s
`, a.AccountID, a.AccessKeyID, a.SecretAccessKey, *api.region, *api.region)
	return nil
}
