// Command coffer is the one binary of the coffer secrets manager: the server, the load
// generator, the local caching agent (package agent), and the CLI verbs. This package only
// wires the other packages together; the rules live in core, the protocol in awsapi and
// server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `coffer — a self-hosted secrets manager that speaks the AWS Secrets Manager API.

Usage:
  coffer server [flags]   start the server (coffer server -h for flags)
  coffer agent [flags]    a local agent compatible with the AWS Secrets Manager Agent (coffer agent -h)
  coffer bench [flags]    load a server and a baseline side by side: get, put, list (coffer bench -h)
  coffer secrets <verb>   create, get, put, list, describe, versions, delete, restore; coffer's own verbs (coffer secrets -h)
  coffer keys <verb>      what KMS keys protect: bindings, report (coffer keys -h)
  coffer import [flags]   copy secrets from AWS or another server, version ids kept (coffer import -h)
  coffer account create   create an account and show its root key pair once
  coffer iam <verb>       common IAM paths: create-user, list-users, delete-user (coffer iam -h)
  coffer rotation <verb>  what AWS does not show of a rotation: status, reset (coffer rotation -h)
  coffer audit <verb>     the audit trail: verify, query (coffer audit -h)
  coffer run -- COMMAND   start a program with secrets in its environment or in files (coffer run -h)
  coffer operator <verb>  seal the root key: init, unseal, seal-status, seal, rotate-root (coffer operator -h)
  coffer version          print the version
`

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "coffer:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "server":
		return runServer(ctx, args[1:], stdout, stderr)
	case "agent":
		return runAgent(ctx, args[1:], stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "secrets":
		return runSecrets(ctx, args[1:], os.Stdin, stdout, stderr)
	case "keys":
		return runKeys(ctx, args[1:], stdout, stderr)
	case "import":
		return runImport(ctx, args[1:], stdout, stderr)
	case "account":
		return runAccount(ctx, args[1:], stdout, stderr)
	case "iam":
		return runIAM(ctx, args[1:], stdout, stderr)
	case "audit":
		return runAudit(ctx, args[1:], stdout, stderr)
	case "rotation":
		return runRotation(ctx, args[1:], stdout, stderr)
	case "run":
		return runRun(ctx, args[1:], os.Stdin, stdout, stderr)
	case "operator":
		return runOperator(ctx, args[1:], os.Stdin, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "coffer", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
