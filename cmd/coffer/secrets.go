package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

const secretsUsage = `Usage: coffer secrets <verb> [flags]

Secrets Manager's everyday operations for people (docs/cli.md), and coffer's operations beyond
AWS's API (docs/extensions.md). The server is --endpoint-url, or COFFER_ENDPOINT, or AWS_ENDPOINT_URL, or http://127.0.0.1:8220;
credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, the region
from AWS_REGION or AWS_DEFAULT_REGION.

%s
coffer's own verbs:
  destroy-version --secret-id ID --version-id VERSION   erase a deprecated version's value for good
  set-retention   --secret-id ID --keep N               keep N deprecated versions (0: AWS's rule)
  generate        --secret-id ID [--template JSON --key NAME] [--length N] [--exclude-characters S]
                  [--exclude-numbers] [--exclude-punctuation] [--exclude-uppercase] [--exclude-lowercase]
                  [--include-space] [--no-require-each-type] [--stages AWSPENDING,…]
                  store a new version whose value the server generates; the value is never printed
`

func runSecrets(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(stderr, secretsUsage, peopleUsage)
		return flag.ErrHelp
	}
	verb := args[0]
	if _, ok := peopleVerbs[verb]; ok {
		return runPeopleVerb(ctx, verb, args[1:], verbIO{stdin: stdin, stdout: stdout, stderr: stderr})
	}
	fs := flag.NewFlagSet("coffer secrets "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	api := registerAPI(fs)
	secretID := fs.String("secret-id", "", "secret name or ARN")
	versionID := fs.String("version-id", "", "version id (destroy-version)")
	keep := fs.Int("keep", -1, "deprecated versions to keep, 0–100 (set-retention)")
	gen := registerGenerate(fs, "--key")
	stages := fs.String("stages", "", "generate: comma-separated staging labels (default AWSCURRENT)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	c, err := api.client("")
	if err != nil {
		return err
	}
	if *secretID == "" {
		return errors.New("--secret-id is required")
	}
	var out any
	switch verb {
	case "destroy-version":
		if *versionID == "" {
			return errors.New("--version-id is required")
		}
		out, err = c.DestroySecretVersion(ctx, *secretID, *versionID)
	case "set-retention":
		if *keep < 0 {
			return errors.New("--keep is required")
		}
		err = c.UpdateSecretVersionRetention(ctx, *secretID, *keep)
		out = map[string]any{"SecretId": *secretID, "DeprecatedVersionsToKeep": *keep}
	case "generate":
		g := gen.members()
		var labels []string
		if *stages != "" {
			labels = strings.Split(*stages, ",")
		}
		out, err = c.GenerateSecretValue(ctx, *secretID, newToken(), labels, g)
	default:
		fmt.Fprintf(stderr, secretsUsage, peopleUsage)
		return fmt.Errorf("unknown verb %q", verb)
	}
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "    ")
	return enc.Encode(out)
}

// generateFlags are the flags of a server-generated value: GenerateSecretString's members.
type generateFlags struct {
	template, key, excludeChars              *string
	length                                   *int
	exclNum, exclPunct, exclUpper, exclLower *bool
	space, noRequire                         *bool
}

// registerGenerate adds the generate flags to fs; keyFlag names the flag of the template's
// member ("--key" for `secrets generate`, "--template-key" where --key means something else).
func registerGenerate(fs *flag.FlagSet, keyFlag string) *generateFlags {
	return &generateFlags{
		template:     fs.String("template", "", "generate: a JSON object holding everything but the password"),
		key:          fs.String(strings.TrimPrefix(keyFlag, "--"), "", "generate: the member of --template that receives the password"),
		length:       fs.Int("length", 0, "generate: password length (default 32)"),
		excludeChars: fs.String("exclude-characters", "", "generate: characters never used"),
		exclNum:      fs.Bool("exclude-numbers", false, "generate: no digits"),
		exclPunct:    fs.Bool("exclude-punctuation", false, "generate: no punctuation"),
		exclUpper:    fs.Bool("exclude-uppercase", false, "generate: no upper-case letters"),
		exclLower:    fs.Bool("exclude-lowercase", false, "generate: no lower-case letters"),
		space:        fs.Bool("include-space", false, "generate: allow spaces"),
		noRequire:    fs.Bool("no-require-each-type", false, "generate: do not require one of each included type"),
	}
}

// members returns the GenerateSecretString object the flags describe.
func (f *generateFlags) members() map[string]any {
	g := map[string]any{}
	if *f.template != "" {
		g["SecretStringTemplate"] = *f.template
	}
	if *f.key != "" {
		g["GenerateStringKey"] = *f.key
	}
	if *f.length > 0 {
		g["PasswordLength"] = *f.length
	}
	if *f.excludeChars != "" {
		g["ExcludeCharacters"] = *f.excludeChars
	}
	for name, set := range map[string]bool{"ExcludeNumbers": *f.exclNum, "ExcludePunctuation": *f.exclPunct, "ExcludeUppercase": *f.exclUpper, "ExcludeLowercase": *f.exclLower, "IncludeSpace": *f.space} {
		if set {
			g[name] = true
		}
	}
	if *f.noRequire {
		g["RequireEachIncludedType"] = false
	}
	return g
}

// newToken returns a random UUID for a ClientRequestToken.
func newToken() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
