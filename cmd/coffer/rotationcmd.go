package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

const rotationUsage = `Usage: coffer rotation <verb> SECRET [flags]

What AWS does not show of a secret's rotation (docs/rotation.md). To configure and start a
rotation use ` + "`aws secretsmanager rotate-secret`" + `. The server, credentials and region are
found as for ` + "`coffer secrets`" + `.

Verbs:
  status SECRET   the last rotation attempts: when, which rotator, each step's outcome and error
  reset SECRET    resolve a rotation left with an AWSPENDING version: finish it when the target
                  already accepts the pending credential, discard AWSPENDING when it does not
`

func runRotation(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, rotationUsage)
		return flag.ErrHelp
	}
	verb := args[0]
	fs := flag.NewFlagSet("coffer rotation "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	api := registerAPI(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprint(stderr, rotationUsage)
		return fmt.Errorf("usage: coffer rotation %s SECRET", verb)
	}
	c, err := api.client("")
	if err != nil {
		return err
	}
	switch verb {
	case "status":
		attempts, err := c.RotationStatus(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		if len(attempts) == 0 {
			fmt.Fprintln(stdout, "no rotation attempt recorded")
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		for i, a := range attempts {
			if i > 0 {
				fmt.Fprintln(tw)
			}
			fmt.Fprintf(tw, "%s\t%s by %s (%s), version %s\n", a.Started.Format(time.RFC3339), a.Outcome, a.Rotator, a.Trigger, a.Token)
			if !a.NextTry.IsZero() && a.Outcome == "failed" {
				fmt.Fprintf(tw, "\tnext attempt at %s (failure %d in a row)\n", a.NextTry.Format(time.RFC3339), a.Failures)
			}
			for _, s := range a.Steps {
				out := "ok"
				if s.Error != "" {
					out = "FAILED: " + s.Error
				}
				fmt.Fprintf(tw, "\t  %s\t%s\t%s\n", s.Step, s.Duration, out)
			}
		}
		return tw.Flush()
	case "reset":
		result, err := c.ResetRotation(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, result)
		return nil
	}
	fmt.Fprint(stderr, rotationUsage)
	return fmt.Errorf("unknown rotation verb %q", verb)
}
