package agent

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// DefaultTokenEnv are the environment variables the token is read from, the first set
// one winning (the AWS agent's ssrf_env_variables).
var DefaultTokenEnv = []string{"AWS_TOKEN", "AWS_SESSION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN"}

// TokenFromEnv returns the token held by the first of the variables names that lookup
// (os.LookupEnv in the command) finds set and not empty; DefaultTokenEnv when names is
// empty. A value file://PATH names a file that holds the token, read with readFile
// (os.ReadFile when nil) and trimmed of surrounding white space. The error names the
// variables, never a value.
func TokenFromEnv(names []string, lookup func(string) (string, bool), readFile func(string) ([]byte, error)) (string, error) {
	if len(names) == 0 {
		names = DefaultTokenEnv
	}
	if readFile == nil {
		readFile = os.ReadFile
	}
	for _, name := range names {
		v, ok := lookup(name)
		if !ok || v == "" {
			continue
		}
		path, isFile := strings.CutPrefix(v, "file://")
		if !isFile {
			return v, nil
		}
		b, err := readFile(path)
		if err != nil {
			return "", fmt.Errorf("agent: reading the token file named by %s: %w", name, err)
		}
		tok := strings.TrimSpace(string(b))
		clear(b)
		if tok == "" {
			return "", fmt.Errorf("agent: the token file %s named by %s is empty", path, name)
		}
		return tok, nil
	}
	return "", errors.New("agent: no token: set one of " + strings.Join(names, ", ") +
		" to the token that requests must carry (or to file://PATH of a file holding it)")
}
