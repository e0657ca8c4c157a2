package audit

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"slices"
)

// VerifyOptions says what a verification trusts.
type VerifyOptions struct {
	// PublicKey is the server's trusted digest key. When nil, the key of the exported
	// digests is trusted, or else the key of the first digest found (trust on first use:
	// the report says so).
	PublicKey ed25519.PublicKey
	// Digests are digests exported to a separate sink: each must match the record it
	// names, and a log that ends before one of them was truncated.
	Digests []*Digest
	// Server, when set, is the server whose chain this is: exported digests of other servers
	// (several servers may export to one file) are set aside, and a digest in the chain, or
	// the anchor, that names another server is a Problem.
	Server string
}

// Report describes a chain that verified.
type Report struct {
	FirstSeq, LastSeq uint64 // the records read
	Events, Digests   int
	OtherServers      int    // exported digests set aside: they name another server
	LastSignedSeq     uint64 // the last record a verified digest covers
	Anchored          bool   // the chain starts at a retention anchor
	KeySource         string // where the trusted key came from
	PublicKey         string // base64

	// signedEnd is the last digest record verified. A digest signs the record before it,
	// but nothing comes after the digest itself, so a chain that ends with one (a clean
	// Close) has no unsigned record.
	signedEnd uint64
}

// Unsigned is the number of records after the last digest: written since, or after a crash
// that left no final digest; nothing but an exported digest can tell whether records were
// cut from the end after the last digest the verifier knows.
func (r *Report) Unsigned() uint64 { return r.LastSeq - max(r.LastSignedSeq, r.signedEnd) }

// Problem is the first place a chain was found tampered with.
type Problem struct {
	Seq    uint64 // the record concerned
	Where  string // file:line, or the table row
	Kind   string // "changed", "removed", "inserted or reordered", "truncated", "signature"
	Detail string
}

func (p *Problem) Error() string {
	w := ""
	if p.Where != "" {
		w = " (" + p.Where + ")"
	}
	return fmt.Sprintf("record %d%s: %s: %s", p.Seq, w, p.Kind, p.Detail)
}

// Verify reads a chain from src and checks every record's hash, the sequence, the links
// between records, and every digest's signature; it returns the first Problem found as its
// error.
func Verify(src Source, opts VerifyOptions) (*Report, error) {
	rep := &Report{}
	key := opts.PublicKey
	if key != nil {
		rep.KeySource = "given"
	}
	exported := slices.Clone(opts.Digests)
	if opts.Server != "" {
		exported = slices.DeleteFunc(exported, func(d *Digest) bool { return d.Server != opts.Server })
		rep.OtherServers = len(opts.Digests) - len(exported)
	}
	slices.SortFunc(exported, func(a, b *Digest) int { return cmp.Compare(a.Seq, b.Seq) })
	otherServer := func(d *Digest) string {
		if opts.Server != "" && d.Server != opts.Server {
			return fmt.Sprintf("it names server %q, and this is the chain of %q", d.Server, opts.Server)
		}
		return ""
	}
	for _, d := range exported {
		k, err := d.Verify(key)
		if err != nil {
			return rep, &Problem{Seq: d.Seq, Where: "exported digest", Kind: "signature", Detail: err.Error()}
		}
		if key == nil {
			key, rep.KeySource = k, "exported digests"
		}
	}
	want, prev := uint64(1), GenesisHash
	anchor, err := src.Anchor()
	if err != nil {
		return rep, err
	}
	if anchor != nil {
		k, err := anchor.Verify(key)
		if err != nil {
			return rep, &Problem{Seq: anchor.Seq, Where: AnchorFile, Kind: "signature", Detail: "the retention anchor: " + err.Error()}
		}
		if key == nil {
			key, rep.KeySource = k, "the retention anchor (trusted on first use)"
		}
		if other := otherServer(anchor); other != "" {
			return rep, &Problem{Seq: anchor.Seq, Where: AnchorFile, Kind: "changed", Detail: "the retention anchor: " + other}
		}
		want, prev = anchor.Seq+1, anchor.Hash
		rep.Anchored = true
		rep.LastSignedSeq = anchor.Seq
		for len(exported) > 0 && exported[0].Seq <= anchor.Seq {
			if exported[0].Seq == anchor.Seq && exported[0].Hash != anchor.Hash {
				return rep, &Problem{Seq: anchor.Seq, Where: AnchorFile, Kind: "changed", Detail: "the anchor differs from the exported digest"}
			}
			exported = exported[1:] // removed by retention: nothing left to compare
		}
	}
	rep.FirstSeq = want
	// missing is a record that was not where the chain expected it. The rest of the chain is
	// read to tell whether it comes later (the records were reordered) or nowhere (removed).
	var missing *Problem
	err = src.Scan(func(raw []byte, where string) error {
		if missing != nil {
			if rec, err := ParseRecord(raw); err == nil && rec.Seq == missing.Seq {
				missing.Kind = "inserted or reordered"
				missing.Detail = fmt.Sprintf("record %d is out of its place: it comes later, at %s", rec.Seq, where)
				return missing
			}
			return nil
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			return &Problem{Seq: want, Where: where, Kind: "inserted or reordered", Detail: "an empty line"}
		}
		rec, perr := ParseRecord(raw)
		if perr != nil {
			return &Problem{Seq: want, Where: where, Kind: "changed", Detail: perr.Error()}
		}
		switch {
		case rec.Seq > want:
			missing = &Problem{Seq: want, Where: where, Kind: "removed", Detail: fmt.Sprintf("the chain goes on at record %d: records %d to %d are missing", rec.Seq, want, rec.Seq-1)}
			return nil
		case rec.Seq < want:
			return &Problem{Seq: rec.Seq, Where: where, Kind: "inserted or reordered", Detail: fmt.Sprintf("record %d was expected here", want)}
		case rec.Prev != prev:
			return &Problem{Seq: rec.Seq, Where: where, Kind: "inserted or reordered", Detail: "the record does not link to the record before it (a record before it was replaced, or this one was put here)"}
		}
		if rec.Kind == KindDigest {
			d := rec.Digest
			k, err := d.Verify(key)
			if err != nil {
				return &Problem{Seq: rec.Seq, Where: where, Kind: "signature", Detail: err.Error()}
			}
			if key == nil {
				key, rep.KeySource = k, "the log's first digest (trusted on first use)"
			}
			if other := otherServer(d); other != "" {
				return &Problem{Seq: rec.Seq, Where: where, Kind: "changed", Detail: "the digest: " + other}
			}
			if d.Seq != rec.Seq-1 || d.Hash != rec.Prev {
				return &Problem{Seq: rec.Seq, Where: where, Kind: "changed", Detail: "the digest does not sign the record before it"}
			}
			rep.Digests++
			rep.LastSignedSeq = d.Seq
			rep.signedEnd = rec.Seq
		} else {
			rep.Events++
		}
		for len(exported) > 0 && exported[0].Seq == rec.Seq {
			if exported[0].Hash != rec.Hash {
				return &Problem{Seq: rec.Seq, Where: where, Kind: "changed", Detail: "the record differs from the exported digest that signs it"}
			}
			if rec.Seq > rep.LastSignedSeq {
				rep.LastSignedSeq = rec.Seq
			}
			exported = exported[1:]
		}
		want, prev = rec.Seq+1, rec.Hash
		return nil
	})
	if err == nil && missing != nil {
		err = missing
	}
	rep.LastSeq = want - 1
	if key != nil {
		rep.PublicKey = base64.StdEncoding.EncodeToString(key)
	}
	if err != nil {
		return rep, err
	}
	if len(exported) > 0 {
		return rep, &Problem{Seq: want, Kind: "truncated", Detail: fmt.Sprintf("the log ends at record %d, but an exported digest signs record %d", want-1, exported[0].Seq)}
	}
	return rep, nil
}
