package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

const keysUsage = `Usage: coffer keys <verb> [flags]

What coffer's KMS keys protect (docs/extensions.md). For the KMS API itself use ` + "`aws kms`" + `.
The server, credentials and region are found as for ` + "`coffer secrets`" + `.

Verbs:
  bindings KEY   the secret versions KEY (id, ARN, alias or alias ARN) protects
  report         the secret versions whose key is not enabled (disabled or pending deletion):
                 the secrets that cannot be read until their key is enabled again
`

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, keysUsage)
		return flag.ErrHelp
	}
	verb := args[0]
	fs := flag.NewFlagSet("coffer keys "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	api := registerAPI(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	c, err := api.client("")
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	switch verb {
	case "bindings":
		if fs.NArg() != 1 {
			return errors.New("usage: coffer keys bindings KEY")
		}
		b, err := c.ListKeyBindings(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s (%s) protects %d secret version(s)\n", b.KeyID, b.KeyState, len(b.Bindings))
		if len(b.Bindings) == 0 {
			return nil
		}
		fmt.Fprintln(tw, "SECRET\tVERSION\tSTAGES\tSECRET STATE")
		for _, e := range b.Bindings {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.SecretName, e.VersionID, stagesText(e.VersionStages), secretState(e.SecretDeleted))
		}
	case "report":
		if fs.NArg() != 0 {
			return errors.New("usage: coffer keys report")
		}
		bs, err := c.ListUnusableKeyBindings(ctx)
		if err != nil {
			return err
		}
		if len(bs) == 0 {
			fmt.Fprintln(stdout, "every key that protects a secret is enabled")
			return nil
		}
		fmt.Fprintln(tw, "SECRET\tVERSION\tSTAGES\tKEY\tKEY STATE")
		for _, e := range bs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.SecretName, e.VersionID, stagesText(e.VersionStages), e.KeyID, e.KeyState)
		}
	default:
		fmt.Fprint(stderr, keysUsage)
		return fmt.Errorf("unknown verb %q", verb)
	}
	return tw.Flush()
}

func stagesText(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}

func secretState(deleted bool) string {
	if deleted {
		return "scheduled for deletion"
	}
	return "live"
}
