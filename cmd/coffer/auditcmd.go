package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/audit"
	"github.com/coffer-project/coffer/postgres"
)

const auditUsage = `Usage:
  coffer audit verify [flags]   check the trail's hash chain and signed digests; exits non-zero
                                at the first record changed, removed, inserted or reordered
  coffer audit query [flags]    list recorded calls: --since --until --principal --secret
                                --event --error --request-id, with paging (--next-token)

Both read the trail where a server writes it: <data>/audit (--data, --dir), or the PostgreSQL
table (--store postgres://… --server NAME). They may run while the server runs.
`

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, auditUsage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "verify":
		return runAuditVerify(ctx, args[1:], stdout, stderr)
	case "query":
		return runAuditQuery(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprint(stderr, auditUsage)
	return fmt.Errorf("unknown audit verb %q", args[0])
}

// trailFlags say where a trail is read.
type trailFlags struct {
	data, dir, store, server string
}

func (t *trailFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.data, "data", "./coffer-data", "the server's data directory")
	fs.StringVar(&t.dir, "dir", "", "the trail's directory (default: <data>/audit)")
	fs.StringVar(&t.store, "store", "", "read the trail from this PostgreSQL store's table instead of files (postgres://…)")
	fs.StringVar(&t.server, "server", "", "the server whose chain to read (default: the name in <data>/server-id): with --store, its chain in the table; with verify, the server exported digests must name")
}

// serverName is --server, else the name in <data>/server-id, else "" (not known).
func (t *trailFlags) serverName() string {
	if t.server != "" {
		return t.server
	}
	b, err := os.ReadFile(filepath.Join(t.data, serverIDFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// open returns the source and the directory (empty for a table).
func (t *trailFlags) open(ctx context.Context) (audit.Source, string, func(), error) {
	if t.store != "" {
		if !strings.HasPrefix(t.store, "postgres://") && !strings.HasPrefix(t.store, "postgresql://") {
			return nil, "", nil, errors.New("--store must be a postgres:// URL (an SQLite deployment keeps its trail in files)")
		}
		server := t.server
		if server == "" {
			b, err := os.ReadFile(filepath.Join(t.data, serverIDFile))
			if err != nil {
				return nil, "", nil, fmt.Errorf("--server not given and %w", err)
			}
			server = strings.TrimSpace(string(b))
		}
		st, err := postgres.Open(ctx, t.store)
		if err != nil {
			return nil, "", nil, err
		}
		var table coffer.AuditTable = st
		return audit.TableSource{Table: table, Server: server}, "", func() { st.Close() }, nil
	}
	dir := t.dir
	if dir == "" {
		dir = filepath.Join(t.data, "audit")
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, "", nil, err
	}
	return audit.DirSource(dir), dir, func() {}, nil
}

func runAuditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var t trailFlags
	fs := flag.NewFlagSet("coffer audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	t.register(fs)
	pubFlag := fs.String("public-key", "", "the server's digest key, trusted (base64, or a file holding it, such as <data>/audit/signing.pub copied elsewhere)")
	digestsFlag := fs.String("digests", "", "a file of digests exported by --audit-digest-file (or saved from coffer.GetAuditDigest): the log must match each, and must not end before the last")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	src, dir, closeSrc, err := t.open(ctx)
	if err != nil {
		return err
	}
	defer closeSrc()
	opts := audit.VerifyOptions{Server: t.serverName()}
	keyNote := ""
	if *pubFlag != "" {
		s := *pubFlag
		if b, err := os.ReadFile(s); err == nil {
			s = string(b)
		}
		if opts.PublicKey, err = audit.ParsePublicKey(s); err != nil {
			return fmt.Errorf("--public-key: %w", err)
		}
	}
	if *digestsFlag != "" {
		f, err := os.Open(*digestsFlag)
		if err != nil {
			return err
		}
		opts.Digests, err = audit.ReadDigests(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("--digests: %w", err)
		}
	}
	if opts.PublicKey == nil && len(opts.Digests) == 0 && dir != "" {
		if b, err := os.ReadFile(filepath.Join(dir, publicKeyFile)); err == nil {
			if k, err := audit.ParsePublicKey(string(b)); err == nil {
				opts.PublicKey = k
				keyNote = publicKeyFile + " beside the log (whoever can rewrite the log can replace it: give --public-key or --digests kept elsewhere for a stronger check)"
			}
		}
	}
	rep, err := audit.Verify(src, opts)
	var p *audit.Problem
	if errors.As(err, &p) {
		fmt.Fprintf(stdout, "TAMPERED: %v\n", p)
		return fmt.Errorf("the audit trail does not verify: %s at record %d", p.Kind, p.Seq)
	}
	if err != nil {
		return err
	}
	if rep.LastSeq < rep.FirstSeq {
		fmt.Fprintln(stdout, "OK: the trail holds no record yet.")
		return nil
	}
	fmt.Fprintf(stdout, "OK: records %d to %d verify (%d events, %d digests).\n", rep.FirstSeq, rep.LastSeq, rep.Events, rep.Digests)
	if rep.Anchored {
		fmt.Fprintf(stdout, "The chain starts at a signed retention anchor (record %d): older files were removed by retention.\n", rep.FirstSeq-1)
	}
	source := rep.KeySource
	if source == "given" {
		source = "--public-key"
		if keyNote != "" {
			source = keyNote
		}
	}
	if rep.PublicKey != "" {
		fmt.Fprintf(stdout, "Digests signed by %s, trusted from %s.\n", rep.PublicKey, source)
	}
	if rep.OtherServers > 0 {
		fmt.Fprintf(stdout, "%d exported digests name other servers than %s and were set aside.\n", rep.OtherServers, opts.Server)
	}
	if n := rep.Unsigned(); n > 0 && rep.LastSignedSeq == 0 && !rep.Anchored {
		fmt.Fprintf(stdout, "No record is signed yet: the server has written no digest (it writes one every --audit-digest-every records, every --audit-digest-interval and at a clean shutdown).\n")
	} else if n > 0 {
		fmt.Fprintf(stdout, "The last %d records follow the last signed digest (record %d): the server is running, or stopped without a clean shutdown; records cut from the end after a digest only an exported digest (--digests) can reveal.\n", n, rep.LastSignedSeq)
	}
	return nil
}

// errorFilter is --error: alone, every failed call; --error=CODE, that code.
type errorFilter struct{ v string }

func (e *errorFilter) String() string { return e.v }
func (e *errorFilter) Set(s string) error {
	if s == "true" || s == "" {
		s = "*"
	}
	e.v = s
	return nil
}
func (e *errorFilter) IsBoolFlag() bool { return true }

// parseWhen reads an RFC 3339 time, a date, or a duration before now ("2h", "7d").
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time (2026-11-27T08:00:00Z, 2026-11-27) or a duration before now (90m, 2h, 7d)", s)
}

func runAuditQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var t trailFlags
	fs := flag.NewFlagSet("coffer audit query", flag.ContinueOnError)
	fs.SetOutput(stderr)
	t.register(fs)
	since := fs.String("since", "", "from this time on (RFC 3339, a date, or a duration before now: 2h, 7d)")
	until := fs.String("until", "", "before this time (same forms)")
	var f audit.Filter
	fs.StringVar(&f.Principal, "principal", "", "the caller: an ARN, a user or role name, a principal id or an access key id")
	fs.StringVar(&f.Secret, "secret", "", "a secret's name or ARN")
	fs.StringVar(&f.Event, "event", "", "an event name (GetSecretValue), a category (secrets.get_value) or a category prefix (secrets.)")
	var errFlag errorFilter
	fs.Var(&errFlag, "error", "failed calls only; --error=CODE for one error code (AccessDeniedException)")
	fs.StringVar(&f.RequestID, "request-id", "", "the calls of one request id (a call and the key uses it caused)")
	fs.StringVar(&f.Account, "account", "", "one account's events")
	max := fs.Int("max-results", 100, "events per page")
	next := fs.String("next-token", "", "the page after the one that printed this token")
	output := fs.String("output", "json", "json (one CloudTrail-shaped event per line) or table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *output != "json" && *output != "table" {
		return fmt.Errorf("--output must be json or table, not %q", *output)
	}
	now := time.Now()
	var err error
	if f.Since, err = parseWhen(*since, now); err != nil {
		return fmt.Errorf("--since: %w", err)
	}
	if f.Until, err = parseWhen(*until, now); err != nil {
		return fmt.Errorf("--until: %w", err)
	}
	f.Error = errFlag.v
	var after uint64
	if *next != "" {
		if after, err = strconv.ParseUint(*next, 10, 64); err != nil {
			return fmt.Errorf("--next-token %q is not a token this command printed", *next)
		}
	}
	if *max < 1 {
		return errors.New("--max-results must be at least 1")
	}
	src, _, closeSrc, err := t.open(ctx)
	if err != nil {
		return err
	}
	defer closeSrc()
	entries, nextSeq, err := audit.Query(src, f, after, *max)
	if err != nil {
		return err
	}
	if *output == "table" {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tEVENT\tPRINCIPAL\tSOURCE IP\tRESOURCE\tOUTCOME")
		for _, e := range entries {
			ev := e.Event
			res := ""
			for _, r := range ev.Resources {
				if res == "" || r.Type == audit.ResourceSecret {
					res = r.ARN
				}
			}
			outcome := "ok"
			if ev.ErrorCode != "" {
				outcome = ev.ErrorCode
			}
			who := ev.UserIdentity.ARN
			if who == "" {
				who = ev.UserIdentity.Type + " " + ev.UserIdentity.AccessKeyID
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ev.EventTime, ev.EventName, who, ev.SourceIPAddress, res, outcome)
		}
		tw.Flush()
	} else {
		enc := json.NewEncoder(stdout)
		for _, e := range entries {
			if err := enc.Encode(e.Event); err != nil {
				return err
			}
		}
	}
	if nextSeq != 0 {
		fmt.Fprintf(stderr, "More events: --next-token %d\n", nextSeq)
	}
	return nil
}
