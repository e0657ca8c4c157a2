package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// tamperChain is the chain the tamper tests change: 13 events and a digest every 4 events,
// written through a Log and closed, its digests also exported to a digest file.
//
//	seq   1-4  5  6-9  10  11-14  15  16  17
//	      e    d  e    d   e      d   e   d (final)
type tamperChain struct {
	key     ed25519.PrivateKey
	lines   [][]byte  // lines[i] is record i+1
	digests []*Digest // exported
}

func writeTamperChain(t *testing.T) *tamperChain {
	t.Helper()
	dir := t.TempDir()
	key := testKey(t)
	digestPath := filepath.Join(t.TempDir(), "digests.jsonl")
	df, err := OpenDigestFile(digestPath)
	if err != nil {
		t.Fatal(err)
	}
	l := openLog(t, Options{Key: key, DigestEvery: 4, Sinks: []Sink{openFileSink(t, FileOptions{Dir: dir})},
		Digests: []DigestSink{df}})
	appendEvents(t, l, "e", 13)
	closeLog(t, l)
	c := &tamperChain{key: key}
	for _, r := range readChain(t, dir) {
		c.lines = append(c.lines, r.Raw)
	}
	if len(c.lines) != 17 {
		t.Fatalf("the chain holds %d records, want 17", len(c.lines))
	}
	f, err := os.Open(digestPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if c.digests, err = ReadDigests(f); err != nil {
		t.Fatal(err)
	}
	return c
}

// writeDir writes lines as one chain file in a new directory.
func writeDir(t *testing.T, lines [][]byte) string {
	t.Helper()
	dir := t.TempDir()
	var b []byte
	for _, l := range lines {
		b = append(append(b, l...), '\n')
	}
	if err := os.WriteFile(filepath.Join(dir, "audit-00000000000000000001-20250301T000000Z.jsonl"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// body decodes a record, whether or not its hash still matches, and returns it with the
// event or digest JSON it holds.
func body(t *testing.T, line []byte) (*Record, []byte) {
	t.Helper()
	r := &Record{}
	if err := json.Unmarshal(line, r); err != nil {
		t.Fatalf("decoding %s: %v", line, err)
	}
	if r.Kind == KindEvent {
		return r, r.Event
	}
	b, err := json.Marshal(r.Digest)
	if err != nil {
		t.Fatal(err)
	}
	return r, b
}

// flipCase changes one byte of line: the case of the first letter of the first occurrence
// of word, so that the JSON stays valid.
func flipCase(t *testing.T, line []byte, word string) []byte {
	t.Helper()
	i := bytes.Index(line, []byte(word))
	if i < 0 {
		t.Fatalf("%q not in %s", word, line)
	}
	out := slices.Clone(line)
	out[i] ^= 0x20
	return out
}

// rechain rewrites lines[from:] (records from+1…) so that each links to the one before it
// and carries its own hash again: what someone who can write the files, but not sign, can do.
// Records keep their kind and body; seqs are renumbered from from+1.
func rechain(t *testing.T, lines [][]byte, from int) [][]byte {
	t.Helper()
	out := slices.Clone(lines)
	prev := GenesisHash
	if from > 0 {
		r, _ := body(t, out[from-1])
		prev = r.Hash
	}
	for i := from; i < len(out); i++ {
		r, b := body(t, out[i])
		nr := encodeRecord(uint64(i+1), prev, r.Kind, b)
		out[i], prev = nr.Raw, nr.Hash
	}
	return out
}

func TestVerifyCleanChain(t *testing.T) {
	c := writeTamperChain(t)
	dir := writeDir(t, c.lines)
	tests := []struct {
		name      string
		opts      VerifyOptions
		keySource string
	}{
		{"given key", VerifyOptions{PublicKey: publicKey(c.key)}, "given"},
		{"exported digests", VerifyOptions{Digests: c.digests}, "exported digests"},
		{"trust on first use", VerifyOptions{}, "the log's first digest (trusted on first use)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Verify(DirSource(dir), tt.opts)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			got := fmt.Sprintf("records %d-%d, %d events, %d digests, signed to %d, anchored %v, key from %s",
				rep.FirstSeq, rep.LastSeq, rep.Events, rep.Digests, rep.LastSignedSeq, rep.Anchored, rep.KeySource)
			want := "records 1-17, 13 events, 4 digests, signed to 16, anchored false, key from " + tt.keySource
			if got != want {
				t.Errorf("Verify: %s\nwant %s", got, want)
			}
			if got := rep.Unsigned(); got != 0 {
				t.Errorf("Unsigned() = %d for a log closed with its final digest, want 0", got)
			}
			if k, err := ParsePublicKey(rep.PublicKey); err != nil || !k.Equal(publicKey(c.key)) {
				t.Errorf("Report.PublicKey = %s (%v), want the log's key", rep.PublicKey, err)
			}
		})
	}
	// Records written after the last digest (a crash) are counted as unsigned.
	rep, err := Verify(DirSource(writeDir(t, c.lines[:13])), VerifyOptions{PublicKey: publicKey(c.key)})
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Unsigned(); got != 3 {
		t.Errorf("Unsigned() = %d for records 11-13 after the digest of record 10, want 3", got)
	}
}

func TestVerifyTampering(t *testing.T) {
	c := writeTamperChain(t)
	other := testKey(t)
	given := VerifyOptions{PublicKey: publicKey(c.key)}
	exported := VerifyOptions{PublicKey: publicKey(c.key), Digests: c.digests}
	hashOf := func(seq int) string { r, _ := body(t, c.lines[seq-1]); return r.Hash }
	// forgedDigest replaces digest record seq (signing seq-1) with one signed by key but
	// naming the key named.
	forgedDigest := func(seq int, key ed25519.PrivateKey, named ed25519.PublicKey) [][]byte {
		d := SignDigest(key, testServer, uint64(seq-1), hashOf(seq-1), FormatTimeMilli(time.Now()))
		d.PublicKey = base64.StdEncoding.EncodeToString(named)
		b, _ := json.Marshal(d)
		lines := slices.Clone(c.lines)
		lines[seq-1] = encodeRecord(uint64(seq), hashOf(seq-1), KindDigest, b).Raw
		return rechain(t, lines, seq)
	}

	tests := []struct {
		name   string
		lines  func() [][]byte
		opts   VerifyOptions
		anchor *Digest
		kind   string
		seq    uint64
	}{{
		name: "one byte of an event changed",
		lines: func() [][]byte {
			lines := slices.Clone(c.lines)
			lines[6] = flipCase(t, lines[6], "GetSecretValue")
			return lines
		},
		opts: given, kind: "changed", seq: 7,
	}, {
		name: "one byte of a digest changed",
		lines: func() [][]byte {
			lines := slices.Clone(c.lines)
			lines[9] = flipCase(t, lines[9], `test","seq"`) // the digest's server name
			return lines
		},
		opts: given, kind: "changed", seq: 10,
	}, {
		name:  "a record removed",
		lines: func() [][]byte { return slices.Delete(slices.Clone(c.lines), 6, 7) },
		opts:  given, kind: "removed", seq: 7,
	}, {
		name: "a forged record inserted",
		lines: func() [][]byte {
			ev, _ := json.Marshal(testEvent("forged"))
			forged := encodeRecord(7, hashOf(6), KindEvent, ev).Raw
			return slices.Insert(slices.Clone(c.lines), 6, forged)
		},
		opts: given, kind: "inserted or reordered", seq: 7,
	}, {
		name: "two records swapped",
		lines: func() [][]byte {
			lines := slices.Clone(c.lines)
			lines[6], lines[7] = lines[7], lines[6]
			return lines
		},
		opts: given, kind: "inserted or reordered", seq: 7,
	}, {
		name: "a record moved later",
		lines: func() [][]byte {
			lines := slices.Clone(c.lines)
			r := lines[6]
			lines = slices.Delete(lines, 6, 7)
			return slices.Insert(lines, 12, r)
		},
		opts: given, kind: "inserted or reordered", seq: 7,
	}, {
		name: "the tail rewritten, caught by the next digest",
		lines: func() [][]byte {
			lines := slices.Clone(c.lines)
			lines[6] = flipCase(t, lines[6], "GetSecretValue")
			return rechain(t, lines, 6)
		},
		opts: given, kind: "changed", seq: 10, // digest 10 signs the old record 9
	}, {
		name: "the tail rewritten, a digest's hash made to match",
		lines: func() [][]byte {
			lines := slices.Clone(c.lines)
			lines[6] = flipCase(t, lines[6], "GetSecretValue")
			lines = rechain(t, lines, 6)
			r, _ := body(t, lines[8])
			rec, _ := body(t, lines[9])
			dg := *rec.Digest
			dg.Hash = r.Hash
			b, _ := json.Marshal(&dg)
			lines[9] = encodeRecord(10, r.Hash, KindDigest, b).Raw
			return rechain(t, lines, 10)
		},
		opts: given, kind: "signature", seq: 10,
	}, {
		name: "the tail rewritten without its digests, caught by the exported ones",
		lines: func() [][]byte {
			lines := slices.Clone(c.lines[:6])
			for _, l := range c.lines[6:] {
				if r, _ := body(t, l); r.Kind == KindEvent {
					lines = append(lines, flipCase(t, l, "GetSecretValue"))
				}
			}
			return rechain(t, lines, 6)
		},
		opts: exported, kind: "changed", seq: 9, // the exported digest of record 9
	}, {
		name:  "the end cut off, an exported digest names a later record",
		lines: func() [][]byte { return slices.Clone(c.lines[:13]) },
		opts:  exported, kind: "truncated", seq: 14,
	}, {
		name:  "a digest forged with another key",
		lines: func() [][]byte { return forgedDigest(10, other, publicKey(other)) },
		opts:  given, kind: "signature", seq: 10,
	}, {
		name:  "a digest forged with another key, naming the server's",
		lines: func() [][]byte { return forgedDigest(10, other, publicKey(c.key)) },
		opts:  given, kind: "signature", seq: 10,
	}, {
		name:  "a digest forged with another key, trust on first use",
		lines: func() [][]byte { return forgedDigest(10, other, publicKey(other)) },
		opts:  VerifyOptions{}, kind: "signature", seq: 10,
	}, {
		name:   "the anchor changed",
		lines:  func() [][]byte { return slices.Clone(c.lines[6:]) },
		anchor: func() *Digest { d := SignDigest(c.key, testServer, 6, hashOf(6), "t"); d.Seq = 5; return d }(),
		opts:   given, kind: "signature", seq: 5,
	}, {
		name:   "the anchor signed by another key",
		lines:  func() [][]byte { return slices.Clone(c.lines[9:]) },
		anchor: SignDigest(other, testServer, 9, hashOf(9), "t"),
		opts:   given, kind: "signature", seq: 9,
	}, {
		name:   "records removed after the anchor",
		lines:  func() [][]byte { return slices.Clone(c.lines[9:]) },
		anchor: SignDigest(c.key, testServer, 6, hashOf(6), "t"),
		opts:   given, kind: "removed", seq: 7,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDir(t, tt.lines())
			if tt.anchor != nil {
				writeAnchor(t, dir, tt.anchor)
			}
			_, err := Verify(DirSource(dir), tt.opts)
			var p *Problem
			if !errors.As(err, &p) {
				t.Fatalf("Verify: %v; want a Problem of kind %q at record %d", err, tt.kind, tt.seq)
			}
			if p.Kind != tt.kind || p.Seq != tt.seq {
				t.Errorf("Verify: %v; want a Problem of kind %q at record %d", p, tt.kind, tt.seq)
			}
		})
	}

	// Without a digest after it or an exported one, a rewritten tail cannot be told from a
	// crash: it verifies, and the report says how many records no signature covers.
	lines := slices.Clone(c.lines[:14])
	lines[10] = flipCase(t, lines[10], "GetSecretValue")
	rep, err := Verify(DirSource(writeDir(t, rechain(t, lines, 10))), given)
	if err != nil {
		t.Fatalf("Verify of an unsigned rewritten tail: %v", err)
	}
	if got := rep.Unsigned(); got != 4 {
		t.Errorf("Unsigned() = %d, want the 4 records after digest 10", got)
	}
}

// The anchor a retention would have written verifies the chain that starts after it.
func TestVerifyAnchored(t *testing.T) {
	c := writeTamperChain(t)
	r, _ := body(t, c.lines[5])
	dir := writeDir(t, c.lines[6:])
	writeAnchor(t, dir, SignDigest(c.key, testServer, 6, r.Hash, "t"))
	for _, opts := range []VerifyOptions{{PublicKey: publicKey(c.key)}, {PublicKey: publicKey(c.key), Digests: c.digests}, {}} {
		rep, err := Verify(DirSource(dir), opts)
		if err != nil {
			t.Fatalf("Verify(%+v): %v", opts, err)
		}
		if !rep.Anchored || rep.FirstSeq != 7 || rep.LastSeq != 17 || rep.Unsigned() != 0 {
			t.Errorf("Verify(%+v) = %+v; want records 7 to 17 after the anchor", opts, rep)
		}
	}
}

func writeAnchor(t *testing.T, dir string, d *Digest) {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, AnchorFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseRecord(f *testing.F) {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	ev, _ := json.Marshal(testEvent("fuzz"))
	r1 := encodeRecord(1, GenesisHash, KindEvent, ev)
	d, _ := json.Marshal(SignDigest(key, "s", 1, r1.Hash, "2025-03-01T00:00:00.000Z"))
	r2 := encodeRecord(2, r1.Hash, KindDigest, d)
	f.Add(r1.Raw)
	f.Add(append(slices.Clone(r2.Raw), '\n'))
	f.Add(encodeRecord(3, r2.Hash, "other", []byte(`{}`)).Raw)
	f.Add(encodeRecord(3, r2.Hash, KindDigest, []byte(`null`)).Raw)
	f.Add([]byte(`{"seq":1,"hash":"` + GenesisHash + `"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := ParseRecord(line)
		if err != nil {
			return
		}
		raw := bytes.TrimRight(line, "\r\n")
		if !bytes.Equal(r.Raw, raw) {
			t.Fatalf("Raw = %q, want the line %q", r.Raw, raw)
		}
		sum := sha256.Sum256(raw[:len(raw)-hashSuffixLen])
		if got := hex.EncodeToString(sum[:]); got != r.Hash {
			t.Fatalf("accepted %q: its content hashes to %s, not its hash %s", raw, got, r.Hash)
		}
		if r.Kind != KindEvent && (r.Kind != KindDigest || r.Digest == nil) {
			t.Fatalf("accepted a record of kind %q (digest %v)", r.Kind, r.Digest)
		}
		again, err := ParseRecord(r.Raw)
		if err != nil || again.Seq != r.Seq || again.Prev != r.Prev || again.Hash != r.Hash {
			t.Fatalf("the accepted record does not parse again the same: %+v, %v", again, err)
		}
	})
}

// The query tests' events, by RequestID.
func queryEvents() []*Event {
	const acct = "111122223333"
	alice := UserIdentity{Type: IdentityIAMUser, PrincipalID: "AIDAALICE", ARN: "arn:aws:iam::" + acct + ":user/alice",
		AccountID: acct, AccessKeyID: "AKIAALICE"}
	bob := UserIdentity{Type: IdentityAssumedRole, PrincipalID: "AROADEPLOYER:bob", ARN: "arn:aws:sts::" + acct + ":assumed-role/deployer/bob",
		AccountID: acct, AccessKeyID: "ASIABOB"}
	root := UserIdentity{Type: IdentityRoot, PrincipalID: acct, ARN: "arn:aws:iam::" + acct + ":root", AccountID: acct}
	db := "arn:aws:secretsmanager:us-east-1:" + acct + ":secret:db/prod-AbCdEf"
	app := "arn:aws:secretsmanager:us-east-1:" + acct + ":secret:app/key-123456"
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	ev := func(id string, minute int, who UserIdentity, source, name, secretID, arn, errCode string) *Event {
		e := &Event{EventVersion: EventVersion, EventTime: FormatTime(t0.Add(time.Duration(minute) * time.Minute)),
			EventSource: source, EventName: name, UserIdentity: who, RequestID: id, EventType: TypeAPICall,
			Category: Category(source, name), ErrorCode: errCode}
		if secretID != "" {
			e.RequestParameters = map[string]any{"secretId": secretID}
		}
		if arn != "" {
			e.Resources = []Resource{{ARN: arn, AccountID: acct, Type: ResourceSecret}}
		}
		return e
	}
	return []*Event{
		ev("r1", 0, alice, SourceSecretsManager, "GetSecretValue", "db/prod", db, ""),
		ev("r2", 1, alice, SourceSecretsManager, "PutSecretValue", db, db, ""),
		ev("r3", 2, bob, SourceSecretsManager, "GetSecretValue", "db/prod", "", "ResourceNotFoundException"),
		ev("r4", 3, bob, SourceKMS, "Decrypt", "", "", ""),
		ev("r5", 4, alice, SourceSecretsManager, "GetSecretValue", app, app, "AccessDeniedException"),
		ev("r6", 5, root, SourceSecretsManager, "ListSecrets", "", "", ""),
	}
}

func TestQuery(t *testing.T) {
	dir := t.TempDir()
	key := testKey(t)
	l := openLog(t, Options{Key: key, DigestEvery: 2, Sinks: []Sink{openFileSink(t, FileOptions{Dir: dir, MaxBytes: 1500})}})
	for _, ev := range queryEvents() {
		if err := l.Append(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	closeLog(t, l)
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		f    Filter
		want []string
	}{
		{"everything", Filter{}, []string{"r1", "r2", "r3", "r4", "r5", "r6"}},
		{"principal name", Filter{Principal: "alice"}, []string{"r1", "r2", "r5"}},
		{"principal ARN", Filter{Principal: "arn:aws:iam::111122223333:user/alice"}, []string{"r1", "r2", "r5"}},
		{"principal id", Filter{Principal: "AROADEPLOYER:bob"}, []string{"r3", "r4"}},
		{"access key", Filter{Principal: "ASIABOB"}, []string{"r3", "r4"}},
		{"session name", Filter{Principal: "bob"}, []string{"r3", "r4"}},
		{"role of a session", Filter{Principal: "deployer"}, []string{"r3", "r4"}},
		{"assumed-role as a name", Filter{Principal: "assumed-role"}, nil},
		{"root", Filter{Principal: "arn:aws:iam::111122223333:root"}, []string{"r6"}},
		{"unknown principal", Filter{Principal: "carol"}, nil},
		{"secret name", Filter{Secret: "db/prod"}, []string{"r1", "r2", "r3"}},
		{"secret ARN", Filter{Secret: "arn:aws:secretsmanager:us-east-1:111122223333:secret:db/prod-AbCdEf"}, []string{"r1", "r2"}},
		{"other secret", Filter{Secret: "app/key"}, []string{"r5"}},
		{"event name", Filter{Event: "GetSecretValue"}, []string{"r1", "r3", "r5"}},
		{"category", Filter{Event: "secrets.get_value"}, []string{"r1", "r3", "r5"}},
		{"category prefix", Filter{Event: "secrets."}, []string{"r1", "r2", "r3", "r5", "r6"}},
		{"other service", Filter{Event: "kms."}, []string{"r4"}},
		{"prefix without its dot", Filter{Event: "secrets"}, nil},
		{"any error", Filter{Error: "*"}, []string{"r3", "r5"}},
		{"an error code", Filter{Error: "AccessDeniedException"}, []string{"r5"}},
		{"time window", Filter{Since: t0.Add(time.Minute), Until: t0.Add(4 * time.Minute)}, []string{"r2", "r3", "r4"}},
		{"since", Filter{Since: t0.Add(4 * time.Minute)}, []string{"r5", "r6"}},
		{"until", Filter{Until: t0.Add(time.Minute)}, []string{"r1"}},
		{"request id", Filter{RequestID: "r4"}, []string{"r4"}},
		{"all conditions", Filter{Principal: "alice", Secret: "db/prod", Event: "secrets.", Error: ""}, []string{"r1", "r2"}},
		{"principal and error", Filter{Principal: "alice", Error: "*"}, []string{"r5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, next, err := Query(DirSource(dir), tt.f, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range entries {
				got = append(got, e.Event.RequestID)
			}
			if !slices.Equal(got, tt.want) || next != 0 {
				t.Errorf("Query = %q, next %d; want %q, next 0", got, next, tt.want)
			}
		})
	}
}

func TestQueryPages(t *testing.T) {
	const n = 50
	dir := t.TempDir()
	key := testKey(t)
	l := openLog(t, Options{Key: key, DigestEvery: 7, Sinks: []Sink{openFileSink(t, FileOptions{Dir: dir, MaxBytes: 4000})}})
	var want []string
	for i := range n {
		ev := testEvent(fmt.Sprintf("e%d", i))
		if i%3 == 0 {
			ev.EventName, ev.Category = "PutSecretValue", "secrets.put_value"
			want = append(want, ev.RequestID)
		}
		if err := l.Append(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	closeLog(t, l)

	for _, size := range []int{1, 4, len(want) - 1, len(want), len(want) + 1} {
		var got []string
		var lastSeq, after uint64
		pages := 0
		for {
			entries, next, err := Query(DirSource(dir), Filter{Event: "PutSecretValue"}, after, size)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) > size {
				t.Fatalf("a page of %d entries, want at most %d", len(entries), size)
			}
			for _, e := range entries {
				if e.Seq <= lastSeq {
					t.Fatalf("record %d after record %d", e.Seq, lastSeq)
				}
				lastSeq = e.Seq
				got = append(got, e.Event.RequestID)
			}
			pages++
			if next == 0 {
				break
			}
			if next != lastSeq {
				t.Errorf("next = %d, want the last entry's seq %d", next, lastSeq)
			}
			after = next
		}
		if !slices.Equal(got, want) {
			t.Errorf("pages of %d gave %q, want %q", size, got, want)
		}
		if wantPages := (len(want) + size - 1) / size; pages != wantPages {
			t.Errorf("pages of %d: %d pages, want %d", size, pages, wantPages)
		}
	}
}

// TestVerifyServer: with Server, exported digests of other servers (sharing a digest file)
// are set aside, and a chain whose digests name another server does not verify.
func TestVerifyServer(t *testing.T) {
	c := writeTamperChain(t)
	dir := writeDir(t, c.lines)
	// Another server's digests at the same seqs, signed with the same key (one key pair may
	// serve several servers' exports in a test; in production each has its own).
	var mixed []*Digest
	for _, d := range c.digests {
		mixed = append(mixed, d, SignDigest(c.key, "other-server", d.Seq, GenesisHash, d.Time))
	}
	if _, err := Verify(DirSource(dir), VerifyOptions{Digests: mixed}); err == nil {
		t.Fatal("without Server, another server's digests at the same seqs should not match this chain")
	}
	rep, err := Verify(DirSource(dir), VerifyOptions{Digests: mixed, Server: testServer})
	if err != nil {
		t.Fatalf("with Server: %v", err)
	}
	if rep.OtherServers != len(c.digests) || rep.LastSignedSeq != 16 {
		t.Errorf("set aside %d, last signed %d; want %d and 16", rep.OtherServers, rep.LastSignedSeq, len(c.digests))
	}
	var p *Problem
	if _, err := Verify(DirSource(dir), VerifyOptions{Server: "someone-else"}); !errors.As(err, &p) || p.Kind != "changed" || p.Seq != 5 {
		t.Errorf("the chain of another server: %v, want a changed digest at record 5", err)
	}
}
