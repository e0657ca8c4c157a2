package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	"golang.org/x/term"

	"github.com/coffer-project/coffer/client"
	"github.com/coffer-project/coffer/keyring"
)

// The verbs for people: Secrets Manager's everyday operations with a value that never comes
// from the command line, and output as a table or as the AWS CLI's JSON. They work against
// coffer and against AWS itself (--generate falls back to GetRandomPassword there).

const peopleUsage = `Everyday verbs (a value is read from standard input, --value-file, or a prompt without
echo; never from the command line):
  create NAME     [--description D] [--kms-key-id K] [--tag KEY=VALUE]… [--value-file F] [--binary]
                  [--generate [generate flags]] [--no-value]
  put NAME        [--value-file F] [--binary] [--generate [generate flags]] [--stages L,…]
  get NAME        [--version-id V | --version-stage S] [--json-key K] [--output value|json|table]
  list            [--prefix P]… [--filter KEY=VALUE]… [--include-planned-deletion]
  describe NAME
  versions NAME   [--include-deprecated]
  delete NAME     [--recovery-window-in-days N | --force-delete-without-recovery [--yes]]
  restore NAME
Each takes --output json|table (table by default; get prints the value by default).
The generate flags are those of coffer's generate verb below, with --template-key for --key.
`

// verbIO is what a verb reads and writes.
type verbIO struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

type peopleVerb func(ctx context.Context, api *apiFlags, fs *flag.FlagSet, args []string, vio verbIO) error

var peopleVerbs = map[string]peopleVerb{
	"create":   secretsCreate,
	"put":      secretsPut,
	"get":      secretsGet,
	"list":     secretsList,
	"describe": secretsDescribe,
	"versions": secretsVersions,
	"delete":   secretsDelete,
	"restore":  secretsRestore,
}

// runPeopleVerb runs one of peopleVerbs.
func runPeopleVerb(ctx context.Context, verb string, args []string, vio verbIO) error {
	if err := refuseValueFlags("secrets "+verb, args); err != nil {
		return err
	}
	fs := flag.NewFlagSet("coffer secrets "+verb, flag.ContinueOnError)
	fs.SetOutput(vio.stderr)
	api := registerAPI(fs)
	return peopleVerbs[verb](ctx, api, fs, args, vio)
}

// oneName parses fs and returns the one positional argument, the secret's name or ARN. More
// positional arguments are refused; for verbs that take a value (takesValue), with the
// reason a value is never an argument.
func oneName(fs *flag.FlagSet, args []string, takesValue bool) (string, error) {
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return "", err
	}
	switch {
	case len(pos) == 0:
		return "", fmt.Errorf("%s: the secret's name or ARN is required", fs.Name())
	case len(pos) > 1 && takesValue:
		return "", errValueArgument(strings.TrimPrefix(fs.Name(), "coffer "))
	case len(pos) > 1:
		return "", fmt.Errorf("%s takes one secret, not %d arguments", fs.Name(), len(pos))
	}
	return pos[0], nil
}

// verb is a verb for one secret once its flags are parsed.
type verb struct {
	name string
	c    *sm.Client
	json bool
	out  io.Writer
}

// startVerb parses args with fs, whose --output flag is output, takes the one secret's name,
// checks the output format against formats, and makes the client.
func startVerb(api *apiFlags, fs *flag.FlagSet, args []string, vio verbIO, output *string, takesValue bool, formats ...string) (*verb, error) {
	name, err := oneName(fs, args, takesValue)
	if err != nil {
		return nil, err
	}
	if err := checkOutput(*output, formats...); err != nil {
		return nil, err
	}
	c, err := api.secretsManager("")
	if err != nil {
		return nil, err
	}
	return &verb{name: name, c: c, json: *output == "json", out: vio.stdout}, nil
}

// print writes out as the AWS CLI's JSON, or rows as a two-column table.
func (v *verb) print(out any, rows ...[2]string) error {
	if v.json {
		return writeJSON(v.out, out)
	}
	t := newTable(v.out)
	for _, r := range rows {
		t.row(r[0], r[1])
	}
	return t.flush()
}

// apiError shortens an SDK error to the operation, AWS's code and message, as the AWS CLI
// shows them.
func apiError(op string, err error) error {
	return fmt.Errorf("%s: %s", op, awsErrText(err))
}

// awsErrText returns AWS's code and message of an error of aws-sdk-go-v2 or of package client
// (neither holds a value), else the error's text.
func awsErrText(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	var ce *client.APIError
	if errors.As(err, &ce) {
		return ce.Error()
	}
	return err.Error()
}

// valueFlags are the flags of a verb that stores a value.
type valueFlags struct {
	file     *string
	binary   *bool
	generate *bool
	gen      *generateFlags
	token    *string
}

func registerValue(fs *flag.FlagSet) *valueFlags {
	return &valueFlags{
		file:     fs.String("value-file", "", "read the value from this file (- for standard input)"),
		binary:   fs.Bool("binary", false, "store the bytes as they are, as SecretBinary"),
		generate: fs.Bool("generate", false, "the server generates the value, which is never shown"),
		gen:      registerGenerate(fs, "--template-key"),
		token:    fs.String("client-request-token", "", "the new version's id (ClientRequestToken); random by default"),
	}
}

// check refuses generate flags without --generate, and --generate with a value source.
func (v *valueFlags) check(fs *flag.FlagSet) error {
	generateOnly := map[string]bool{"template": true, "template-key": true, "length": true, "exclude-characters": true,
		"exclude-numbers": true, "exclude-punctuation": true, "exclude-uppercase": true, "exclude-lowercase": true,
		"include-space": true, "no-require-each-type": true}
	var err error
	fs.Visit(func(f *flag.Flag) {
		if generateOnly[f.Name] && !*v.generate && err == nil {
			err = fmt.Errorf("--%s applies only with --generate", f.Name)
		}
	})
	if err == nil && *v.generate && (*v.file != "" || *v.binary) {
		err = errors.New("--generate makes the value; it takes no --value-file or --binary")
	}
	return err
}

func (v *valueFlags) versionToken() string {
	if *v.token != "" {
		return *v.token
	}
	return newToken()
}

// read reads the value and sets it on the string or binary member it belongs in. The
// returned function wipes what can be wiped.
func (v *valueFlags) read(name string, vio verbIO, str **string, bin *[]byte) (func(), error) {
	in := &valueInput{file: *v.file, binary: *v.binary, stdin: vio.stdin, prompt: vio.stderr}
	b, err := in.read(name)
	if err != nil {
		return nil, err
	}
	if *v.binary {
		*bin = b
	} else {
		*str = aws.String(string(b))
	}
	return func() { keyring.Wipe(b) }, nil
}

// generateValue stores a new version of id whose value the server makes: coffer's
// GenerateSecretValue, or, where the endpoint does not know it (AWS), GetRandomPassword and
// PutSecretValue, the value passing through this process without being shown.
func generateValue(ctx context.Context, api *apiFlags, c *sm.Client, id, token string, stages []string, g *generateFlags) (*client.Generated, error) {
	cc, err := api.client("")
	if err != nil {
		return nil, err
	}
	out, err := cc.GenerateSecretValue(ctx, id, token, stages, g.members())
	var ae *client.APIError
	if err == nil || !errors.As(err, &ae) || ae.Code != "UnknownOperationException" {
		if err != nil {
			return nil, fmt.Errorf("GenerateSecretValue: %w", err)
		}
		return out, nil
	}
	if *g.template != "" || *g.key != "" {
		return nil, errors.New("--template needs coffer's GenerateSecretValue, which this endpoint does not offer")
	}
	pwIn := &sm.GetRandomPasswordInput{
		PasswordLength:     optionalInt64(int64(*g.length)),
		ExcludeCharacters:  optionalString(*g.excludeChars),
		ExcludeNumbers:     optionalBool(*g.exclNum),
		ExcludePunctuation: optionalBool(*g.exclPunct),
		ExcludeUppercase:   optionalBool(*g.exclUpper),
		ExcludeLowercase:   optionalBool(*g.exclLower),
		IncludeSpace:       optionalBool(*g.space),
	}
	if *g.noRequire {
		pwIn.RequireEachIncludedType = aws.Bool(false)
	}
	pw, err := c.GetRandomPassword(ctx, pwIn)
	if err != nil {
		return nil, apiError("GetRandomPassword", err)
	}
	put, err := c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String(id), SecretString: pw.RandomPassword,
		ClientRequestToken: aws.String(token), VersionStages: stages})
	if err != nil {
		return nil, apiError("PutSecretValue", err)
	}
	return &client.Generated{ARN: aws.ToString(put.ARN), Name: aws.ToString(put.Name), VersionID: aws.ToString(put.VersionId), VersionStages: put.VersionStages}, nil
}

func optionalInt64(n int64) *int64 {
	if n == 0 {
		return nil
	}
	return &n
}

func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optionalBool(b bool) *bool {
	if !b {
		return nil
	}
	return &b
}

// keyValues collects repeated KEY=VALUE flags.
type keyValues []string

func (k *keyValues) String() string { return strings.Join(*k, ",") }

func (k *keyValues) Set(s string) error {
	if !strings.Contains(s, "=") {
		return fmt.Errorf("%q is not KEY=VALUE", s)
	}
	*k = append(*k, s)
	return nil
}

func secretsCreate(ctx context.Context, api *apiFlags, fs *flag.FlagSet, args []string, vio verbIO) error {
	description := fs.String("description", "", "the secret's description")
	kmsKey := fs.String("kms-key-id", "", "the KMS key (id, ARN or alias) that protects its values")
	var tags keyValues
	fs.Var(&tags, "tag", "KEY=VALUE, repeatable")
	noValue := fs.Bool("no-value", false, "create the secret without a value")
	val := registerValue(fs)
	output := fs.String("output", "table", "json or table")
	v, err := startVerb(api, fs, args, vio, output, true, "json", "table")
	if err != nil {
		return err
	}
	if err := val.check(fs); err != nil {
		return err
	}
	if *noValue && (*val.generate || *val.file != "" || *val.binary) {
		return errors.New("--no-value takes no --generate, --value-file or --binary")
	}
	name := v.name
	in := &sm.CreateSecretInput{Name: aws.String(name), Description: optionalString(*description), KmsKeyId: optionalString(*kmsKey)}
	for _, t := range tags {
		key, value, _ := strings.Cut(t, "=")
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(key), Value: aws.String(value)})
	}
	token := val.versionToken()
	if !*noValue && !*val.generate {
		wipe, err := val.read(name, vio, &in.SecretString, &in.SecretBinary)
		if err != nil {
			return err
		}
		defer wipe()
		in.ClientRequestToken = aws.String(token)
	}
	out, err := v.c.CreateSecret(ctx, in)
	if err != nil {
		return apiError("CreateSecret", err)
	}
	if *val.generate {
		g, err := generateValue(ctx, api, v.c, aws.ToString(out.ARN), token, nil, val.gen)
		if err != nil {
			return fmt.Errorf("%s was created without a value: %w", name, err)
		}
		out.VersionId = aws.String(g.VersionID)
	}
	return v.print(out, [2]string{"Name:", aws.ToString(out.Name)}, [2]string{"ARN:", aws.ToString(out.ARN)},
		[2]string{"VersionId:", dash(aws.ToString(out.VersionId))})
}

func secretsPut(ctx context.Context, api *apiFlags, fs *flag.FlagSet, args []string, vio verbIO) error {
	val := registerValue(fs)
	stages := fs.String("stages", "", "comma-separated staging labels for the new version (default AWSCURRENT)")
	output := fs.String("output", "table", "json or table")
	v, err := startVerb(api, fs, args, vio, output, true, "json", "table")
	if err != nil {
		return err
	}
	if err := val.check(fs); err != nil {
		return err
	}
	name, c := v.name, v.c
	var labels []string
	if *stages != "" {
		labels = strings.Split(*stages, ",")
	}
	var out *sm.PutSecretValueOutput
	if *val.generate {
		g, err := generateValue(ctx, api, c, name, val.versionToken(), labels, val.gen)
		if err != nil {
			return err
		}
		out = &sm.PutSecretValueOutput{ARN: aws.String(g.ARN), Name: aws.String(g.Name), VersionId: aws.String(g.VersionID), VersionStages: g.VersionStages}
	} else {
		in := &sm.PutSecretValueInput{SecretId: aws.String(name), VersionStages: labels, ClientRequestToken: aws.String(val.versionToken())}
		wipe, err := val.read(name, vio, &in.SecretString, &in.SecretBinary)
		if err != nil {
			return err
		}
		defer wipe()
		if out, err = c.PutSecretValue(ctx, in); err != nil {
			return apiError("PutSecretValue", err)
		}
	}
	return v.print(out, [2]string{"Name:", aws.ToString(out.Name)}, [2]string{"ARN:", aws.ToString(out.ARN)},
		[2]string{"VersionId:", aws.ToString(out.VersionId)}, [2]string{"VersionStages:", dash(strings.Join(out.VersionStages, ", "))})
}

func secretsGet(ctx context.Context, api *apiFlags, fs *flag.FlagSet, args []string, vio verbIO) error {
	versionID := fs.String("version-id", "", "the version to read")
	stage := fs.String("version-stage", "", "the staging label of the version to read (default AWSCURRENT)")
	jsonKey := fs.String("json-key", "", "print only this member of a JSON object value")
	output := fs.String("output", "value", "value (the value alone), json (GetSecretValue's answer) or table")
	v, err := startVerb(api, fs, args, vio, output, false, "value", "json", "table")
	if err != nil {
		return err
	}
	if *jsonKey != "" && *output != "value" {
		return errors.New("--json-key prints one member's value; it takes no --output json or table")
	}
	name := v.name
	out, err := v.c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(name),
		VersionId: optionalString(*versionID), VersionStage: optionalString(*stage)})
	if err != nil {
		return apiError("GetSecretValue", err)
	}
	defer keyring.Wipe(out.SecretBinary)
	if *output != "value" {
		value := [2]string{"SecretString:", aws.ToString(out.SecretString)}
		if out.SecretString == nil {
			value = [2]string{"SecretBinary:", strconv.Itoa(len(out.SecretBinary)) + " bytes (print them with --output value)"}
		}
		return v.print(out, [2]string{"Name:", aws.ToString(out.Name)}, [2]string{"ARN:", aws.ToString(out.ARN)},
			[2]string{"VersionId:", aws.ToString(out.VersionId)}, [2]string{"VersionStages:", dash(strings.Join(out.VersionStages, ", "))},
			[2]string{"CreatedDate:", tableTime(out.CreatedDate)}, value)
	}
	var value []byte
	switch {
	case *jsonKey != "":
		if out.SecretString == nil {
			return fmt.Errorf("%s holds binary data, not a JSON object", name)
		}
		var members map[string]json.RawMessage
		// The decoder's errors quote the value; they are replaced, never shown.
		if json.Unmarshal([]byte(*out.SecretString), &members) != nil || members == nil {
			return fmt.Errorf("the value of %s is not a JSON object", name)
		}
		m, ok := members[*jsonKey]
		if !ok {
			return fmt.Errorf("the value of %s has no member %q", name, *jsonKey)
		}
		var s string
		if json.Unmarshal(m, &s) == nil {
			value = []byte(s)
		} else {
			value = m
		}
	case out.SecretString != nil:
		value = []byte(*out.SecretString)
	default:
		value = out.SecretBinary
	}
	// A terminal gets a line end after the value; a pipe or a file gets the value exactly.
	if f, ok := vio.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		value = append(value, '\n')
	}
	_, err = vio.stdout.Write(value)
	return err
}

func secretsList(ctx context.Context, api *apiFlags, fs *flag.FlagSet, args []string, vio verbIO) error {
	var prefixes multiFlag
	fs.Var(&prefixes, "prefix", "only secrets whose name starts with this, repeatable")
	var filters keyValues
	fs.Var(&filters, "filter", "KEY=VALUE, a ListSecrets filter (description, name, tag-key, tag-value, primary-region, owning-service, all), repeatable")
	planned := fs.Bool("include-planned-deletion", false, "include secrets scheduled for deletion")
	output := fs.String("output", "table", "json or table")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("coffer secrets list takes no arguments; filter with --prefix or --filter")
	}
	if err := checkOutput(*output, "json", "table"); err != nil {
		return err
	}
	c, err := api.secretsManager("")
	if err != nil {
		return err
	}
	in := &sm.ListSecretsInput{IncludePlannedDeletion: optionalBool(*planned)}
	if len(prefixes) > 0 {
		in.Filters = append(in.Filters, types.Filter{Key: types.FilterNameStringTypeName, Values: prefixes})
	}
	for _, f := range filters {
		k, v, _ := strings.Cut(f, "=")
		in.Filters = append(in.Filters, types.Filter{Key: types.FilterNameStringType(k), Values: []string{v}})
	}
	var all []types.SecretListEntry
	for p := sm.NewListSecretsPaginator(c, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return apiError("ListSecrets", err)
		}
		all = append(all, page.SecretList...)
	}
	if *output == "json" {
		if all == nil {
			all = []types.SecretListEntry{}
		}
		return writeJSON(vio.stdout, struct{ SecretList []types.SecretListEntry }{all})
	}
	deleted := false
	for _, s := range all {
		deleted = deleted || s.DeletedDate != nil
	}
	header := []string{"NAME", "LAST CHANGED", "ROTATION", "DESCRIPTION"}
	if deleted {
		header = append(header[:3:3], "DELETED", "DESCRIPTION")
	}
	t := newTable(vio.stdout, header...)
	for _, s := range all {
		row := []string{aws.ToString(s.Name), tableTime(s.LastChangedDate), rotationCell(s.RotationEnabled, s.RotationRules)}
		if deleted {
			row = append(row, tableTime(s.DeletedDate))
		}
		t.row(append(row, dash(aws.ToString(s.Description)))...)
	}
	return t.flush()
}

// rotationCell says whether and how often a secret rotates.
func rotationCell(enabled *bool, rules *types.RotationRulesType) string {
	if enabled == nil || !*enabled {
		return "off"
	}
	switch {
	case rules == nil:
		return "on"
	case rules.ScheduleExpression != nil:
		return *rules.ScheduleExpression
	case rules.AutomaticallyAfterDays != nil:
		return "every " + strconv.FormatInt(*rules.AutomaticallyAfterDays, 10) + " days"
	}
	return "on"
}

func secretsDescribe(ctx context.Context, api *apiFlags, fs *flag.FlagSet, args []string, vio verbIO) error {
	output := fs.String("output", "table", "json or table")
	v, err := startVerb(api, fs, args, vio, output, false, "json", "table")
	if err != nil {
		return err
	}
	out, err := v.c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(v.name)})
	if err != nil {
		return apiError("DescribeSecret", err)
	}
	if v.json {
		return writeJSON(vio.stdout, out)
	}
	t := newTable(vio.stdout)
	t.row("Name:", aws.ToString(out.Name))
	t.row("ARN:", aws.ToString(out.ARN))
	t.row("Description:", dash(aws.ToString(out.Description)))
	t.row("KmsKeyId:", firstNonEmpty(aws.ToString(out.KmsKeyId), "aws/secretsmanager"))
	t.row("CreatedDate:", tableTime(out.CreatedDate))
	t.row("LastChangedDate:", tableTime(out.LastChangedDate))
	t.row("LastAccessedDate:", tableTime(out.LastAccessedDate))
	t.row("Rotation:", rotationCell(out.RotationEnabled, out.RotationRules))
	if out.RotationEnabled != nil && *out.RotationEnabled {
		t.row("LastRotatedDate:", tableTime(out.LastRotatedDate))
		t.row("NextRotationDate:", tableTime(out.NextRotationDate))
		t.row("RotationLambdaARN:", dash(aws.ToString(out.RotationLambdaARN)))
	}
	if out.DeletedDate != nil {
		t.row("DeletedDate:", tableTime(out.DeletedDate))
	}
	tags := make([]string, 0, len(out.Tags))
	for _, tg := range out.Tags {
		tags = append(tags, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
	}
	sort.Strings(tags)
	t.row("Tags:", dash(strings.Join(tags, ", ")))
	ids := make([]string, 0, len(out.VersionIdsToStages))
	for id := range out.VersionIdsToStages {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for i, id := range ids {
		label := ""
		if i == 0 {
			label = "Versions:"
		}
		t.row(label, id+" "+strings.Join(out.VersionIdsToStages[id], ","))
	}
	if len(ids) == 0 {
		t.row("Versions:", "none")
	}
	return t.flush()
}

func secretsVersions(ctx context.Context, api *apiFlags, fs *flag.FlagSet, args []string, vio verbIO) error {
	deprecated := fs.Bool("include-deprecated", false, "include versions without a staging label")
	output := fs.String("output", "table", "json or table")
	v, err := startVerb(api, fs, args, vio, output, false, "json", "table")
	if err != nil {
		return err
	}
	in := &sm.ListSecretVersionIdsInput{SecretId: aws.String(v.name), IncludeDeprecated: optionalBool(*deprecated)}
	var all sm.ListSecretVersionIdsOutput
	for p := sm.NewListSecretVersionIdsPaginator(v.c, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return apiError("ListSecretVersionIds", err)
		}
		all.ARN, all.Name = page.ARN, page.Name
		all.Versions = append(all.Versions, page.Versions...)
	}
	// Newest first, as people read a history.
	sort.Slice(all.Versions, func(i, j int) bool {
		a, b := all.Versions[i], all.Versions[j]
		if a.CreatedDate != nil && b.CreatedDate != nil && !a.CreatedDate.Equal(*b.CreatedDate) {
			return a.CreatedDate.After(*b.CreatedDate)
		}
		return aws.ToString(a.VersionId) < aws.ToString(b.VersionId)
	})
	if v.json {
		if all.Versions == nil {
			all.Versions = []types.SecretVersionsListEntry{}
		}
		return writeJSON(vio.stdout, &all)
	}
	t := newTable(vio.stdout, "VERSION ID", "STAGES", "CREATED", "LAST ACCESSED")
	for _, e := range all.Versions {
		t.row(aws.ToString(e.VersionId), dash(strings.Join(e.VersionStages, ",")), tableTime(e.CreatedDate), tableTime(e.LastAccessedDate))
	}
	return t.flush()
}

func secretsDelete(ctx context.Context, api *apiFlags, fs *flag.FlagSet, args []string, vio verbIO) error {
	window := fs.Int64("recovery-window-in-days", 0, "days, 7 to 30, before the secret is deleted for good (default 30)")
	force := fs.Bool("force-delete-without-recovery", false, "delete at once, with no way back")
	yes := fs.Bool("yes", false, "with --force-delete-without-recovery: do not ask for confirmation")
	output := fs.String("output", "table", "json or table")
	v, err := startVerb(api, fs, args, vio, output, false, "json", "table")
	if err != nil {
		return err
	}
	name := v.name
	if *force && *window != 0 {
		return errors.New("--force-delete-without-recovery takes no --recovery-window-in-days")
	}
	if *force && !*yes {
		if terminalFD(vio.stdin) < 0 {
			return errors.New("--force-delete-without-recovery deletes every version at once, with no way back; add --yes to confirm")
		}
		fmt.Fprintf(vio.stderr, "Delete %s and every version of it now, with no recovery? Type its name to confirm: ", name)
		line, err := readLine(vio.stdin)
		if err != nil || line != name {
			return errors.New("not confirmed; nothing was deleted")
		}
	}
	in := &sm.DeleteSecretInput{SecretId: aws.String(name), ForceDeleteWithoutRecovery: optionalBool(*force), RecoveryWindowInDays: optionalInt64(*window)}
	out, err := v.c.DeleteSecret(ctx, in)
	if err != nil {
		return apiError("DeleteSecret", err)
	}
	rows := [][2]string{{"Name:", aws.ToString(out.Name)}, {"ARN:", aws.ToString(out.ARN)}, {"DeletionDate:", tableTime(out.DeletionDate)}}
	if !*force {
		rows = append(rows, [2]string{"Restore with:", "coffer secrets restore " + aws.ToString(out.Name)})
	}
	return v.print(out, rows...)
}

// readLine reads one line from r, byte by byte so that nothing after it is consumed.
func readLine(r io.Reader) (string, error) {
	var b []byte
	var c [1]byte
	for len(b) < 4096 {
		n, err := r.Read(c[:])
		if n == 1 {
			if c[0] == '\n' {
				break
			}
			b = append(b, c[0])
		}
		if err != nil {
			if err == io.EOF && len(b) > 0 {
				break
			}
			return "", err
		}
	}
	return strings.TrimSuffix(string(b), "\r"), nil
}

func secretsRestore(ctx context.Context, api *apiFlags, fs *flag.FlagSet, args []string, vio verbIO) error {
	output := fs.String("output", "table", "json or table")
	v, err := startVerb(api, fs, args, vio, output, false, "json", "table")
	if err != nil {
		return err
	}
	out, err := v.c.RestoreSecret(ctx, &sm.RestoreSecretInput{SecretId: aws.String(v.name)})
	if err != nil {
		return apiError("RestoreSecret", err)
	}
	return v.print(out, [2]string{"Name:", aws.ToString(out.Name)}, [2]string{"ARN:", aws.ToString(out.ARN)}, [2]string{"Restored:", "yes"})
}
