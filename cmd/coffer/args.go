package main

import (
	"flag"
	"fmt"
	"strings"
)

// parseInterleaved parses args with fs, letting flags come after positional arguments too
// (`coffer secrets get app/db --output json`), and returns the positional arguments. A "--"
// ends the flags; what follows it is returned as is, after the positional arguments before it.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// fs.Parse stops at the first non-flag, or consumes a "--" and stops after it.
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// valueFlagNames are flags that would carry a secret value on the command line. coffer's
// verbs for people define none of them; they are caught so that the refusal explains why.
var valueFlagNames = []string{"value", "secret-string", "secret-binary", "password"}

// errValueArgument explains why a value is never taken from the command line.
func errValueArgument(verb string) error {
	return fmt.Errorf("refused: coffer %s takes no value on the command line: arguments are visible to every "+
		"local user in ps and /proc/PID/cmdline while the command runs, and the shell keeps them in its history. "+
		"Pipe the value on standard input, name a file with --value-file FILE, run in a terminal to be prompted "+
		"without echo, or use --generate to have the server make one", verb)
}

// refuseValueFlags returns errValueArgument when args hold one of valueFlagNames, in any of
// the forms the flag package accepts (-value, --value, --value=x).
func refuseValueFlags(verb string, args []string) error {
	for _, a := range args {
		if a == "--" {
			return nil
		}
		name := strings.TrimLeft(a, "-")
		if name == a {
			continue
		}
		name, _, _ = strings.Cut(name, "=")
		for _, v := range valueFlagNames {
			if name == v {
				return errValueArgument(verb)
			}
		}
	}
	return nil
}
