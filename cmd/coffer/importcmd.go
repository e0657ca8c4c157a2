package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"golang.org/x/term"
)

const importUsage = `Usage: coffer import --from URL|aws [flags]

Copy secrets from an AWS Secrets Manager endpoint (AWS itself, or another coffer server) into
the coffer server named by --endpoint-url, COFFER_ENDPOINT or AWS_ENDPOINT_URL. Per secret:
name, description, tags, and the values of AWSCURRENT and AWSPREVIOUS with their version ids.
Not copied: other staging labels, AWSPENDING, resource policies, rotation and replication
settings. Values are never printed. See docs/cli.md.

The source's credentials: COFFER_FROM_ACCESS_KEY_ID, COFFER_FROM_SECRET_ACCESS_KEY and
COFFER_FROM_SESSION_TOKEN when set; otherwise, with --from-profile or --from aws, AWS's shared
config and default credential chain; otherwise AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
The destination's credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN.

Flags:
`

// The outcomes of one secret's import, in the order the summary names them.
const (
	importImported = iota
	importUpdated
	importExists
	importUnchanged
	importFailed
	importDeleted
	importOutcomes
)

// importNotCopied is what the summary and the usage say is left behind.
const importNotCopied = "not copied: staging labels other than AWSCURRENT and AWSPREVIOUS, AWSPENDING, resource policies, rotation and replication settings"

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("coffer import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, importUsage)
		fs.PrintDefaults()
	}
	api := registerAPI(fs)
	from := fs.String("from", "", "the source: an endpoint URL, or aws for AWS's endpoint of --from-region")
	fromRegion := fs.String("from-region", "", "the source's region (default: --region)")
	fromProfile := fs.String("from-profile", "", "the source's credentials from this profile of AWS's shared config")
	var prefixes multiFlag
	fs.Var(&prefixes, "prefix", "import only the secrets whose names start with `PREFIX` (repeatable, up to 10)")
	kmsKeyID := fs.String("kms-key-id", "", "the destination's KMS key for the secrets created (default: the destination's default key)")
	update := fs.Bool("update", false, "bring existing secrets in line: put the source's AWSCURRENT version when missing, and its description and tags")
	dryRun := fs.Bool("dry-run", false, "print what would be done; write nothing and read no value")
	concurrency := fs.Int("concurrency", 4, "secrets imported at once, 1–32")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return fmt.Errorf("coffer import takes no arguments (got %q); name prefixes with --prefix", pos[0])
	case *from == "":
		fs.Usage()
		return errors.New("--from is required: an endpoint URL, or aws")
	case *concurrency < 1 || *concurrency > 32:
		return errors.New("--concurrency must be between 1 and 32")
	case len(prefixes) > 10:
		return errors.New("at most 10 --prefix values")
	}
	for _, p := range prefixes {
		if p == "" || strings.HasPrefix(p, "!") {
			return fmt.Errorf("--prefix %q: a prefix must not be empty or start with \"!\"", p)
		}
	}
	if *fromRegion == "" {
		*fromRegion = *api.region
	}
	if *from != "aws" {
		u, err := url.Parse(*from)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--from %q: an http:// or https:// endpoint URL, or aws", *from)
		}
		if strings.TrimRight(*from, "/") == strings.TrimRight(*api.endpoint, "/") && *fromRegion == *api.region {
			return errors.New("the source (--from) and the destination (--endpoint-url) are the same server and region")
		}
	}
	src, err := importSource(ctx, *from, *fromRegion, *fromProfile)
	if err != nil {
		return err
	}
	dst, err := api.secretsManager("for the destination")
	if err != nil {
		return err
	}
	entries, err := importList(ctx, src, prefixes)
	if err != nil {
		return fmt.Errorf("listing the source's secrets: %s", importErrText("ListSecrets", err))
	}
	im := &importer{src: src, dst: dst, kmsKeyID: *kmsKeyID, update: *update, dryRun: *dryRun}
	prog := newImportProgress(stdout, stderr, len(entries), *dryRun)
	jobs := make(chan types.SecretListEntry)
	var wg sync.WaitGroup
	for range *concurrency {
		wg.Go(func() {
			for e := range jobs {
				prog.done(im.one(ctx, e))
			}
		})
	}
send:
	for _, e := range entries {
		select {
		case jobs <- e:
		case <-ctx.Done():
			break send
		}
	}
	close(jobs)
	wg.Wait()
	prog.end()
	c := prog.counts
	if *dryRun {
		fmt.Fprintf(stdout, "dry run, nothing written: would import %d, would update %d, exists %d, unchanged %d, failed %d, scheduled for deletion skipped %d\n",
			c[importImported], c[importUpdated], c[importExists], c[importUnchanged], c[importFailed], c[importDeleted])
	} else {
		fmt.Fprintf(stdout, "imported %d, updated %d, exists %d, unchanged %d, failed %d, scheduled for deletion skipped %d\n",
			c[importImported], c[importUpdated], c[importExists], c[importUnchanged], c[importFailed], c[importDeleted])
	}
	fmt.Fprintln(stdout, importNotCopied)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted after %d of %d secrets: %w", prog.n, len(entries), err)
	}
	if c[importFailed] > 0 {
		return fmt.Errorf("%d of %d secrets failed to import", c[importFailed], len(entries))
	}
	return nil
}

// importSource returns the client of the source: the endpoint URL from, or AWS's own endpoint
// of region when from is "aws".
func importSource(ctx context.Context, from, region, profile string) (*secretsmanager.Client, error) {
	toAWS := from == "aws"
	ak, sk := os.Getenv("COFFER_FROM_ACCESS_KEY_ID"), os.Getenv("COFFER_FROM_SECRET_ACCESS_KEY")
	var cfg aws.Config
	switch {
	case ak != "" || sk != "":
		if ak == "" || sk == "" {
			return nil, errors.New("COFFER_FROM_ACCESS_KEY_ID and COFFER_FROM_SECRET_ACCESS_KEY must both be set")
		}
		cfg = aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider(ak, sk, os.Getenv("COFFER_FROM_SESSION_TOKEN"))}
	case profile != "" || toAWS:
		opts := []func(*config.LoadOptions) error{config.WithRegion(region)}
		if profile != "" {
			opts = append(opts, config.WithSharedConfigProfile(profile))
		}
		var err error
		if cfg, err = config.LoadDefaultConfig(ctx, opts...); err != nil {
			return nil, fmt.Errorf("the source's AWS configuration: %w", err)
		}
	default:
		creds, err := envCredentials("for the source, or set COFFER_FROM_ACCESS_KEY_ID and COFFER_FROM_SECRET_ACCESS_KEY")
		if err != nil {
			return nil, err
		}
		cfg = aws.Config{Region: region, Credentials: creds}
	}
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if toAWS {
			// AWS's regional endpoint, whatever AWS_ENDPOINT_URL (often the destination
			// coffer server) or the profile says.
			o.BaseEndpoint = nil
		} else {
			o.BaseEndpoint = aws.String(from)
		}
	}), nil
}

// importList lists the source's secrets, those scheduled for deletion included, whose names
// start with one of prefixes (all of them when there is none). It reads no value.
func importList(ctx context.Context, src *secretsmanager.Client, prefixes []string) ([]types.SecretListEntry, error) {
	in := &secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true), MaxResults: aws.Int32(100)}
	if len(prefixes) > 0 {
		in.Filters = []types.Filter{{Key: types.FilterNameStringTypeName, Values: prefixes}}
	}
	var out []types.SecretListEntry
	seen := map[string]bool{}
	for p := secretsmanager.NewListSecretsPaginator(src, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, e := range page.SecretList {
			if e.Name == nil || seen[*e.Name] {
				continue
			}
			seen[*e.Name] = true
			out = append(out, e)
		}
	}
	return out, nil
}

// importer copies one secret at a time from src to dst.
type importer struct {
	src, dst       *secretsmanager.Client
	kmsKeyID       string
	update, dryRun bool
}

// importResult is what became of one secret. detail and notes never hold a value.
type importResult struct {
	name    string
	outcome int
	detail  string
	notes   []string
}

// importValue is one version's value, held from the source's GetSecretValue until the
// destination has it.
type importValue struct {
	str *string
	bin []byte
}

func (v *importValue) wipe() {
	if v == nil {
		return
	}
	clear(v.bin)
	v.bin, v.str = nil, nil
}

// one imports the secret e of the source's listing.
func (im *importer) one(ctx context.Context, e types.SecretListEntry) importResult {
	r := importResult{name: aws.ToString(e.Name)}
	if e.DeletedDate != nil {
		r.outcome, r.detail = importDeleted, "scheduled for deletion"
		return r
	}
	var cur, prev string
	for id, stages := range e.SecretVersionsToStages {
		if slices.Contains(stages, "AWSCURRENT") {
			cur = id
		}
		if slices.Contains(stages, "AWSPREVIOUS") {
			prev = id
		}
	}
	if cur == "" && prev != "" {
		r.notes = append(r.notes, "the source has an AWSPREVIOUS version but no AWSCURRENT one: no value copied")
		prev = ""
	}
	if prev == cur {
		prev = ""
	}
	d, err := im.dst.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: e.Name})
	var nf *types.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		im.create(ctx, e, cur, prev, &r)
	case err != nil:
		r.outcome, r.detail = importFailed, importErrText("DescribeSecret (destination)", err)
	case d.DeletedDate != nil:
		r.outcome, r.detail = importFailed, "the destination has a secret of this name scheduled for deletion: restore or delete it, then run again"
	case !im.update:
		r.outcome, r.detail = importExists, "exists"
	default:
		im.bringInLine(ctx, e, cur, d, &r)
	}
	return r
}

// create creates the secret in the destination: with AWSPREVIOUS's value, then AWSCURRENT's
// put over it, so that both keep their labels and the source's version ids.
func (im *importer) create(ctx context.Context, e types.SecretListEntry, cur, prev string, r *importResult) {
	versions := 0
	for _, id := range []string{cur, prev} {
		if id != "" {
			versions++
		}
	}
	if im.dryRun {
		r.outcome, r.detail = importImported, importVersions(versions)
		return
	}
	// Both values are read before anything is written: a failed read leaves nothing behind.
	var first, second *importValue
	defer func() { first.wipe(); second.wipe() }()
	var err error
	firstID, secondID := cur, ""
	if prev != "" {
		firstID, secondID = prev, cur
	}
	if firstID != "" {
		if first, err = im.value(ctx, e, firstID); err != nil {
			r.outcome, r.detail = importFailed, err.Error()
			return
		}
	}
	if secondID != "" {
		if second, err = im.value(ctx, e, secondID); err != nil {
			r.outcome, r.detail = importFailed, err.Error()
			return
		}
	}
	in := &secretsmanager.CreateSecretInput{Name: e.Name, Description: e.Description}
	if len(e.Tags) > 0 {
		in.Tags = e.Tags
	}
	if im.kmsKeyID != "" {
		in.KmsKeyId = aws.String(im.kmsKeyID)
	}
	if first != nil {
		in.ClientRequestToken = aws.String(importToken(firstID, r))
		in.SecretString, in.SecretBinary = first.str, first.bin
	}
	_, err = im.dst.CreateSecret(ctx, in)
	in.SecretString, in.SecretBinary = nil, nil
	first.wipe()
	var exists *types.ResourceExistsException
	switch {
	case errors.As(err, &exists):
		r.outcome, r.detail = importExists, "exists"
		return
	case err != nil:
		r.outcome, r.detail = importFailed, importErrText("CreateSecret", err)
		return
	}
	if second != nil {
		if _, err := im.put(ctx, e, secondID, second, r); err != nil {
			r.outcome, r.detail = importFailed, err.Error()+"; the secret was created with its AWSPREVIOUS value only: run again with --update to put AWSCURRENT"
			return
		}
	}
	r.outcome, r.detail = importImported, importVersions(versions)
}

// bringInLine updates the existing secret d of the destination (--update): the source's
// AWSCURRENT version when d lacks it, the description and the tags.
func (im *importer) bringInLine(ctx context.Context, e types.SecretListEntry, cur string, d *secretsmanager.DescribeSecretOutput, r *importResult) {
	var changes []string
	putCur := false
	if cur != "" {
		stages, ok := d.VersionIdsToStages[cur]
		switch {
		case !ok:
			putCur = true
			changes = append(changes, "AWSCURRENT")
		case !slices.Contains(stages, "AWSCURRENT"):
			r.notes = append(r.notes, fmt.Sprintf("the source's AWSCURRENT version %s is in the destination with labels %v: left as is", cur, stages))
		}
	}
	descChanged := aws.ToString(e.Description) != aws.ToString(d.Description)
	if descChanged {
		changes = append(changes, "description")
	}
	setTags, unsetTags := importTagDiff(e.Tags, d.Tags)
	if len(setTags)+len(unsetTags) > 0 {
		changes = append(changes, "tags")
	}
	if len(changes) == 0 {
		r.outcome, r.detail = importUnchanged, "unchanged"
		return
	}
	r.outcome, r.detail = importUpdated, strings.Join(changes, ", ")
	if im.dryRun {
		return
	}
	fail := func(msg string) { r.outcome, r.detail = importFailed, msg }
	if putCur {
		v, err := im.value(ctx, e, cur)
		if err != nil {
			fail(err.Error())
			return
		}
		stages, err := im.put(ctx, e, cur, v, r)
		v.wipe()
		if err != nil {
			fail(err.Error())
			return
		}
		if !slices.Contains(stages, "AWSCURRENT") {
			r.notes = append(r.notes, fmt.Sprintf("the source's AWSCURRENT version %s was in the destination already, deprecated: left as is", cur))
		}
	}
	if descChanged {
		_, err := im.dst.UpdateSecret(ctx, &secretsmanager.UpdateSecretInput{SecretId: e.Name, Description: aws.String(aws.ToString(e.Description))})
		if err != nil {
			fail(importErrText("UpdateSecret", err))
			return
		}
	}
	if len(setTags) > 0 {
		if _, err := im.dst.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: e.Name, Tags: setTags}); err != nil {
			fail(importErrText("TagResource", err))
			return
		}
	}
	if len(unsetTags) > 0 {
		if _, err := im.dst.UntagResource(ctx, &secretsmanager.UntagResourceInput{SecretId: e.Name, TagKeys: unsetTags}); err != nil {
			fail(importErrText("UntagResource", err))
			return
		}
	}
}

// value reads the source's version id of e.
func (im *importer) value(ctx context.Context, e types.SecretListEntry, id string) (*importValue, error) {
	sid := e.ARN
	if sid == nil {
		sid = e.Name
	}
	out, err := im.src.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: sid, VersionId: aws.String(id)})
	if err != nil {
		return nil, errors.New(importErrText("GetSecretValue (source)", err))
	}
	if out.SecretString == nil && out.SecretBinary == nil {
		return nil, fmt.Errorf("GetSecretValue (source): version %s has no value", id)
	}
	return &importValue{str: out.SecretString, bin: out.SecretBinary}, nil
}

// put stores v in the destination as the version id of e, labelled AWSCURRENT, and returns the
// labels the destination reports.
func (im *importer) put(ctx context.Context, e types.SecretListEntry, id string, v *importValue, r *importResult) ([]string, error) {
	in := &secretsmanager.PutSecretValueInput{SecretId: e.Name, ClientRequestToken: aws.String(importToken(id, r)), SecretString: v.str, SecretBinary: v.bin}
	out, err := im.dst.PutSecretValue(ctx, in)
	in.SecretString, in.SecretBinary = nil, nil
	if err != nil {
		return nil, errors.New(importErrText("PutSecretValue", err))
	}
	return out.VersionStages, nil
}

// importToken returns the source's version id as the destination's ClientRequestToken, or a
// new token, with a note in r, when the id is not one (32 to 64 characters).
func importToken(id string, r *importResult) string {
	if n := len(id); n >= 32 && n <= 64 {
		return id
	}
	tok := newToken()
	r.notes = append(r.notes, fmt.Sprintf("version id %q is not a valid ClientRequestToken (32 to 64 characters): the destination's version is %s", id, tok))
	return tok
}

// importTagDiff returns the tags of src that dst lacks or holds with another value, and the
// keys of dst that src lacks.
func importTagDiff(src, dst []types.Tag) (set []types.Tag, unset []string) {
	have := map[string]string{}
	for _, t := range dst {
		have[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	want := map[string]bool{}
	for _, t := range src {
		k := aws.ToString(t.Key)
		want[k] = true
		if v, ok := have[k]; !ok || v != aws.ToString(t.Value) {
			set = append(set, t)
		}
	}
	for _, t := range dst {
		if k := aws.ToString(t.Key); !want[k] {
			unset = append(unset, k)
		}
	}
	return set, unset
}

func importVersions(n int) string {
	switch n {
	case 0:
		return "no value"
	case 1:
		return "1 version"
	}
	return fmt.Sprintf("%d versions", n)
}

// importErrText describes a failed call: the operation, AWS's error code and message. The
// requests' values are in neither.
func importErrText(op string, err error) string {
	return op + ": " + awsErrText(err)
}

// importProgress reports the secrets as they are done: a bar redrawn on a terminal (with
// failures and notes printed above it), one line per secret otherwise. A dry run's lines go
// to stdout, being what was asked for.
type importProgress struct {
	mu       sync.Mutex
	stdout   io.Writer
	stderr   io.Writer
	tty      bool
	width    int // the terminal's columns
	dryRun   bool
	total, n int
	counts   [importOutcomes]int
}

func newImportProgress(stdout, stderr io.Writer, total int, dryRun bool) *importProgress {
	p := &importProgress{stdout: stdout, stderr: stderr, total: total, dryRun: dryRun, width: 80}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 20 {
			p.width = w
		}
		if total > 0 {
			p.bar("")
		}
	}
	return p
}

// line is how r is reported: "imported app/db (2 versions)", "skipped app/old: exists", …
func (p *importProgress) line(r importResult) string {
	switch {
	case r.outcome == importImported && p.dryRun:
		return fmt.Sprintf("would import %s (%s)", r.name, r.detail)
	case r.outcome == importImported:
		return fmt.Sprintf("imported %s (%s)", r.name, r.detail)
	case r.outcome == importUpdated && p.dryRun:
		return fmt.Sprintf("would update %s (%s)", r.name, r.detail)
	case r.outcome == importUpdated:
		return fmt.Sprintf("updated %s (%s)", r.name, r.detail)
	case r.outcome == importFailed:
		return fmt.Sprintf("failed %s: %s", r.name, r.detail)
	}
	return fmt.Sprintf("skipped %s: %s", r.name, r.detail)
}

// done reports r.
func (p *importProgress) done(r importResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	p.counts[r.outcome]++
	var notes []string
	for _, n := range r.notes {
		notes = append(notes, "note "+r.name+": "+n)
	}
	switch {
	case p.dryRun:
		if p.tty {
			fmt.Fprint(p.stderr, "\r\x1b[K")
		}
		fmt.Fprintln(p.stdout, p.line(r))
		p.above(notes)
	case p.tty && r.outcome == importFailed:
		p.above(append([]string{p.line(r)}, notes...))
	case p.tty:
		p.above(notes)
	default:
		fmt.Fprintln(p.stderr, p.line(r))
		p.above(notes)
	}
	if p.tty {
		p.bar(r.name)
	}
}

// above prints lines on stderr, above the bar on a terminal.
func (p *importProgress) above(lines []string) {
	for _, l := range lines {
		if p.tty {
			fmt.Fprint(p.stderr, "\r\x1b[K")
		}
		fmt.Fprintln(p.stderr, l)
	}
}

// bar redraws the progress bar, "[#########.........] 12/40 app/db", on the terminal's line.
func (p *importProgress) bar(name string) {
	const cells = 20
	filled := cells
	if p.total > 0 {
		filled = p.n * cells / p.total
	}
	s := fmt.Sprintf("[%s%s] %d/%d ", strings.Repeat("#", filled), strings.Repeat(".", cells-filled), p.n, p.total)
	if room := p.width - 1 - len(s); len(name) > room {
		if room > 1 {
			name = name[:room-1] + "…"
		} else {
			name = ""
		}
	}
	fmt.Fprintf(p.stderr, "\r\x1b[K%s%s", s, name)
}

// end leaves the bar's line for what follows.
func (p *importProgress) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.n > 0 {
		fmt.Fprint(p.stderr, "\r\x1b[K")
	}
}
