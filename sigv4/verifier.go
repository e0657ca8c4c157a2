package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/coffer-project/coffer"
)

// MaxSkew is how far a request's time may be from the server's clock, either way.
const MaxSkew = 5 * time.Minute

// maxCachedKeys bounds the signing-key cache.
const maxCachedKeys = 10000

// SecretSource returns the secret access key for an access key id, or an error: a
// *coffer.Error with code UnrecognizedClientException for an unknown (or inactive) key. It
// returns a fresh copy each call; the Verifier wipes it once it has derived a signing key.
type SecretSource interface {
	SecretAccessKey(ctx context.Context, accessKeyID string) ([]byte, error)
}

// SessionSource is a SecretSource that also serves temporary credentials: the secret of a
// session's access key comes from the security token the request carries, which the source
// opens and checks (that it names this access key id and has not expired). When the
// Verifier's source implements it, a request with a security token is verified through it,
// and the signing key it yields is never cached, so every request meets the expiry check.
type SessionSource interface {
	SecretSource
	SessionSecretAccessKey(ctx context.Context, accessKeyID, securityToken string) ([]byte, error)
}

// Identity is who signed a verified request and the scope the signature was made for. The
// caller decides whether the scope is one it serves (see ScopeError).
type Identity struct {
	AccessKeyID   string
	Region        string
	Service       string
	Date          string    // the credential scope's date, YYYYMMDD
	SecurityToken string    // X-Amz-Security-Token, if the request carried one; checked by a SessionSource
	Presigned     bool      // signed in the query string rather than the Authorization header
	SignedAt      time.Time // the request time the signature covers (X-Amz-Date or Date)
}

// Verifier checks SigV4 signatures. It is safe for concurrent use.
type Verifier struct {
	src SecretSource
	now func() time.Time

	// scope, when set, judges the credential scope before any key is looked up, as AWS
	// reports a wrong region or service ahead of an unknown key or a wrong signature.
	scope func(region, service string) error

	mu   sync.Mutex
	keys map[scopeKey][sha256.Size]byte // derived signing keys, never secrets
}

// CheckScope makes Verify call check with the signature's region and service before it looks
// up the access key; a non-nil error is returned as Verify's. It returns v, for chaining, and
// must be called before v is shared.
func (v *Verifier) CheckScope(check func(region, service string) error) *Verifier {
	v.scope = check
	return v
}

// scopeKey names one derived signing key.
type scopeKey struct {
	accessKeyID, date, region, service string
}

// NewVerifier returns a Verifier that looks secrets up in src and reads the time from now.
func NewVerifier(src SecretSource, now func() time.Time) *Verifier {
	return &Verifier{src: src, now: now, keys: make(map[scopeKey][sha256.Size]byte)}
}

// Verify checks r, whose body the caller has already read into body, and returns who signed it
// and for which scope. Its errors are *coffer.Error values as AWS words them (see the package
// doc), or whatever the SecretSource returned.
func (v *Verifier) Verify(ctx context.Context, r *http.Request, body []byte) (*Identity, error) {
	p, err := authParamsOf(r)
	if err != nil {
		return nil, err
	}
	if !p.signs("host") && !p.signs(":authority") {
		return nil, errInvalid(msgHostNotSigned)
	}
	t, err := parseTime(p.date)
	if err != nil {
		return nil, err
	}
	now := v.now().UTC()
	if err := checkTime(p, t, now); err != nil {
		return nil, err
	}
	sc, err := parseCredential(p.credential)
	if err != nil {
		return nil, err
	}
	if err := sc.check(t); err != nil {
		return nil, err
	}
	if v.scope != nil {
		if err := v.scope(sc.region, sc.service); err != nil {
			return nil, err
		}
	}
	key, err := v.signingKey(ctx, sc, p.securityToken)
	if err != nil {
		return nil, err
	}
	var hashBuf [2 * sha256.Size]byte
	payload, err := payloadHash(hashBuf[:0], r, p, body)
	if err != nil {
		return nil, err
	}
	// The canonical request, then the string to sign after a block of room for the HMAC's
	// inner pad (see mac): on the stack unless a request's headers are unusually long.
	var buf [1024]byte
	canonical, err := appendCanonicalRequest(buf[:0], r, p, payload)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(canonical)
	sts := append(buf[:0], make([]byte, sha256.BlockSize)...)
	sts = append(sts, algorithm+"\n"...)
	sts = appendTime(sts, t)
	sts = append(sts, '\n')
	for _, part := range [...]string{sc.date, "/", sc.region, "/", sc.service, "/", sc.terminator, "\n"} {
		sts = append(sts, part...)
	}
	sts = hex.AppendEncode(sts, sum[:])
	got := mac(&key, sts)
	var want [2 * sha256.Size]byte
	hex.Encode(want[:], got[:])
	if !hmac.Equal(want[:], []byte(p.signature)) {
		return nil, errMismatch()
	}
	return &Identity{
		AccessKeyID:   sc.accessKeyID,
		Region:        sc.region,
		Service:       sc.service,
		Date:          sc.date,
		SecurityToken: p.securityToken,
		Presigned:     p.presigned,
		SignedAt:      t,
	}, nil
}

// authParamsOf picks the scheme: the Authorization header, the X-Amz-* query parameters, or
// none (MissingAuthenticationTokenException). A request may not use both.
func authParamsOf(r *http.Request) (*authParams, error) {
	header := r.Header.Get("Authorization")
	var q url.Values
	if r.URL.RawQuery != "" { // most calls carry none: spare the parse
		q = r.URL.Query()
	}
	_, hasAlgo := q[queryAlgorithm]
	_, hasSig := q[querySignature]
	switch {
	case header != "" && hasAlgo:
		return nil, errMismatch()
	case header != "":
		p, err := parseAuthorization(header, r.Header.Get("X-Amz-Date"), r.Header.Get("Date"))
		if err != nil {
			return nil, err
		}
		p.securityToken = r.Header.Get("X-Amz-Security-Token")
		return p, nil
	case hasAlgo || hasSig:
		return parsePresigned(q)
	default:
		return nil, errMissingToken()
	}
}

// checkTime rejects a request outside its validity: within MaxSkew of now for a signed header;
// from no later than now+MaxSkew until X-Amz-Date + X-Amz-Expires for a presigned URL.
func checkTime(p *authParams, t, now time.Time) error {
	if t.After(now.Add(MaxSkew)) {
		return errNotYetCurrent(t, now, MaxSkew)
	}
	if p.presigned {
		if p.expires == 0 || now.After(t.Add(p.expires)) {
			return newError(coffer.ErrAccessDenied, msgRequestExpired)
		}
		return nil
	}
	if t.Before(now.Add(-MaxSkew)) {
		return errExpired(t, now, MaxSkew)
	}
	return nil
}

// payloadHash returns the body hash the signature must cover. A given X-Amz-Content-Sha256
// must be the hash of the body the server read; UNSIGNED-PAYLOAD is accepted only in a
// presigned request.
func payloadHash(dst []byte, r *http.Request, p *authParams, body []byte) ([]byte, error) {
	claimed := r.Header.Get("X-Amz-Content-Sha256")
	if p.presigned {
		if p.contentSHA256 != "" {
			claimed = p.contentSHA256
		}
		if claimed == unsignedBody {
			return append(dst, unsignedBody...), nil
		}
	}
	sum := sha256.Sum256(body)
	hash := hex.AppendEncode(dst, sum[:])
	if claimed != "" && claimed != string(hash) {
		return nil, errMismatch()
	}
	return hash, nil
}

// mac returns HMAC-SHA256(key, msg) for msg = buf[sha256.BlockSize:]: the first block of buf
// is overwritten with the inner pad, so that the MAC is two sha256.Sum256 calls and allocates
// nothing (crypto/hmac allocates its two digests on every use).
func mac(key *[sha256.Size]byte, buf []byte) [sha256.Size]byte {
	inner := buf[:sha256.BlockSize]
	var outer [sha256.BlockSize + sha256.Size]byte
	for i := range sha256.BlockSize {
		inner[i], outer[i] = 0x36, 0x5c
	}
	for i, k := range key {
		inner[i] ^= k
		outer[i] ^= k
	}
	sum := sha256.Sum256(buf)
	copy(outer[sha256.BlockSize:], sum[:])
	out := sha256.Sum256(outer[:])
	clear(inner) // the pads are the signing key, masked: not left behind on the stack
	clear(outer[:])
	return out
}

// signingKey returns kSigning for the scope, from the cache or derived from the secret; a
// session's (token != "" with a SessionSource) is derived afresh every time.
func (v *Verifier) signingKey(ctx context.Context, sc scope, token string) ([sha256.Size]byte, error) {
	if ss, ok := v.src.(SessionSource); ok && token != "" {
		secret, err := ss.SessionSecretAccessKey(ctx, sc.accessKeyID, token)
		if err != nil {
			return [sha256.Size]byte{}, err
		}
		key := deriveKey(secret, sc.date, sc.region, sc.service)
		clear(secret)
		return key, nil
	}
	k := scopeKey{sc.accessKeyID, sc.date, sc.region, sc.service}
	v.mu.Lock()
	key, ok := v.keys[k]
	v.mu.Unlock()
	if ok {
		return key, nil
	}
	secret, err := v.src.SecretAccessKey(ctx, sc.accessKeyID)
	if err != nil {
		return key, err
	}
	key = deriveKey(secret, sc.date, sc.region, sc.service)
	clear(secret)
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.keys) >= maxCachedKeys {
		v.evict()
	}
	v.keys[k] = key
	return key, nil
}

// evict makes room in a full cache: it drops every key of the oldest date and, should one date
// fill the whole cache, arbitrary keys down to three quarters of the bound. v.mu is held.
func (v *Verifier) evict() {
	oldest := ""
	for k := range v.keys {
		if oldest == "" || k.date < oldest {
			oldest = k.date
		}
	}
	for k := range v.keys {
		if k.date == oldest {
			delete(v.keys, k)
		}
	}
	for k := range v.keys {
		if len(v.keys) < maxCachedKeys*3/4 {
			break
		}
		delete(v.keys, k)
	}
}

// Forget drops the cached signing keys of an access key id, so that the next request signed
// with it consults the SecretSource again (which refuses it once the key is deactivated).
func (v *Verifier) Forget(accessKeyID string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for k := range v.keys {
		if k.accessKeyID == accessKeyID {
			delete(v.keys, k)
		}
	}
}

// deriveKey computes kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service),
// "aws4_request"), wiping the intermediate keys (best effort: Go may have copied them).
func deriveKey(secret []byte, date, region, service string) [sha256.Size]byte {
	kSecret := make([]byte, 0, 4+len(secret))
	kSecret = append(append(kSecret, "AWS4"...), secret...)
	k := hmacSHA256(kSecret, date)
	clear(kSecret)
	for _, s := range []string{region, service, terminator} {
		next := hmacSHA256(k, s)
		clear(k)
		k = next
	}
	var out [sha256.Size]byte
	copy(out[:], k)
	clear(k)
	return out
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
