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
	"strconv"
)

// The chain. Every record the log writes is one JSON line:
//
//	{"seq":N,"prev":"<hex>","kind":"event","event":{…},"hash":"<hex>"}
//
// where hash is the SHA-256 of every byte of the line before `,"hash":"`, prev is the
// hash of record N-1 (64 zeros for record 1, or the hash a retention anchor names), and
// seq counts from 1 without a gap. Changing any byte of a record breaks its hash; removing,
// inserting or reordering records breaks a seq or a prev. Rewriting the whole tail with
// fresh hashes is what the digests catch: a digest record (kind "digest") signs, with the
// server's Ed25519 key, the seq and hash of the record before it, and the same digest can
// be exported to a second sink that the log's host cannot rewrite.

// Kinds of record.
const (
	KindEvent  = "event"
	KindDigest = "digest"
)

// GenesisHash is the prev of a chain's first record.
var GenesisHash = hex.EncodeToString(make([]byte, sha256.Size))

// Record is one line of the chain, decoded.
type Record struct {
	Seq    uint64          `json:"seq"`
	Prev   string          `json:"prev"`
	Kind   string          `json:"kind"`
	Event  json.RawMessage `json:"event,omitempty"`
	Digest *Digest         `json:"digest,omitempty"`
	Hash   string          `json:"hash"`
	// Raw is the line exactly as written, without its newline.
	Raw []byte `json:"-"`
}

// hashSuffix is what ends every line: `,"hash":"` + 64 hex digits + `"}`.
const hashPrefix = `,"hash":"`

var hashSuffixLen = len(hashPrefix) + 2*sha256.Size + len(`"}`)

// encodeRecord builds the line of a record; body is the JSON of its event or digest.
func encodeRecord(seq uint64, prev, kind string, body []byte) *Record {
	line := make([]byte, 0, len(body)+256) // header, body, hash: one allocation
	line = append(line, `{"seq":`...)
	line = strconv.AppendUint(line, seq, 10)
	line = append(line, `,"prev":"`...)
	line = append(line, prev...)
	line = append(line, `","kind":"`...)
	line = append(line, kind...)
	line = append(line, `","`...)
	line = append(line, kind...)
	line = append(line, `":`...)
	line = append(line, body...)
	sum := sha256.Sum256(line)
	line = append(line, hashPrefix...)
	at := len(line)
	line = hex.AppendEncode(line, sum[:])
	h := string(line[at:]) // the one copy of the hash, where hex.EncodeToString makes two
	line = append(line, `"}`...)
	return &Record{Seq: seq, Prev: prev, Kind: kind, Hash: h, Raw: line}
}

// ParseRecord decodes one line and checks that its hash covers it; a line whose bytes were
// changed gives an error that says so.
func ParseRecord(line []byte) (*Record, error) {
	line = bytes.TrimRight(line, "\r\n")
	var r Record
	if err := json.Unmarshal(line, &r); err != nil {
		return nil, fmt.Errorf("not a record: %v", err)
	}
	r.Raw = line
	if len(line) < hashSuffixLen || !bytes.HasPrefix(line[len(line)-hashSuffixLen:], []byte(hashPrefix)) || !bytes.HasSuffix(line, []byte(`"}`)) {
		return &r, errors.New("the record does not end with its hash")
	}
	body := line[:len(line)-hashSuffixLen]
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:]) != r.Hash {
		return &r, errors.New("the record's hash does not match its content")
	}
	if r.Kind != KindEvent && r.Kind != KindDigest {
		return &r, fmt.Errorf("unknown record kind %q", r.Kind)
	}
	if r.Kind == KindDigest && r.Digest == nil {
		return &r, errors.New("a digest record without its digest")
	}
	return &r, nil
}

// Digest is a signed statement that record Seq of a server's chain has hash Hash. Digests
// are written into the chain, exported to a digest sink, and kept as the anchor of a chain
// whose first files retention removed.
type Digest struct {
	Server    string `json:"server"`
	Seq       uint64 `json:"seq"`
	Hash      string `json:"hash"`
	Time      string `json:"time"`
	PublicKey string `json:"publicKey"` // base64 Ed25519 public key
	Signature string `json:"signature"` // base64 Ed25519 signature of signedBytes
}

func (d *Digest) signedBytes() []byte {
	return fmt.Appendf(nil, "coffer-audit-digest-v1\n%s\n%d\n%s\n%s", d.Server, d.Seq, d.Hash, d.Time)
}

// SignDigest returns the digest of record seq with hash h, signed with key.
func SignDigest(key ed25519.PrivateKey, server string, seq uint64, h, at string) *Digest {
	d := &Digest{Server: server, Seq: seq, Hash: h, Time: at,
		PublicKey: base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))}
	d.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, d.signedBytes()))
	return d
}

// Verify checks the digest's signature under pub (or, when pub is nil, under the key the
// digest names) and returns the key it verified with.
func (d *Digest) Verify(pub ed25519.PublicKey) (ed25519.PublicKey, error) {
	named, err := base64.StdEncoding.DecodeString(d.PublicKey)
	if err != nil || len(named) != ed25519.PublicKeySize {
		return nil, errors.New("the digest names no valid public key")
	}
	if pub == nil {
		pub = named
	} else if !bytes.Equal(pub, named) {
		return nil, errors.New("the digest is signed by another key than the trusted one")
	}
	sig, err := base64.StdEncoding.DecodeString(d.Signature)
	if err != nil || !ed25519.Verify(pub, d.signedBytes(), sig) {
		return nil, errors.New("the digest's signature is not valid")
	}
	return pub, nil
}

// ParsePublicKey decodes a base64 Ed25519 public key, as digests and signing.pub hold it.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace([]byte(s))))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("not a base64 Ed25519 public key")
	}
	return ed25519.PublicKey(b), nil
}
