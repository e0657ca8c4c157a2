package server

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/keyring"
	"github.com/coffer-project/coffer/sigv4"
)

// Temporary credentials (STS sessions) are stateless: everything a session is — its secret,
// principal, role, expiry, session policies and tags — travels in its session token, sealed
// with AES-256-GCM under the keyring's "coffer v1 seal session tokens" key and encoded in
// standard base64. No store row exists for a session: it ends when its token expires, or
// sooner through a Deny on aws:TokenIssueTime in the role's policies.

// errExpiredToken is the JSON services' code for an expired session token; the query
// protocol answers it as ExpiredToken (see awsquery).
const errExpiredToken = "ExpiredTokenException"

// sessionKeyPrefix starts the access key id of temporary credentials, as in AWS.
const sessionKeyPrefix = "ASIA"

// session is the content of a session token.
type session struct {
	AccessKeyID string `json:"kid"`
	Secret      string `json:"sec"`
	Account     string `json:"acct"`
	// ARN is the session's principal: the caller's own ARN for GetSessionToken,
	// arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION for AssumeRole.
	ARN string `json:"arn"`
	// Role session only.
	RoleARN        string            `json:"role,omitempty"`
	RoleID         string            `json:"rid,omitempty"`
	RoleName       string            `json:"rname,omitempty"`
	SessionName    string            `json:"sn,omitempty"`
	Policies       []string          `json:"pol,omitempty"` // session policy documents: Policy, then PolicyArns'
	Tags           map[string]string `json:"tags,omitempty"`
	SourceIdentity string            `json:"src,omitempty"`
	Issued         int64             `json:"iat"`
	Expires        int64             `json:"exp"`
}

// roleSession reports whether the session is a role's (AssumeRole) rather than a user's.
func (s *session) roleSession() bool { return s.RoleARN != "" }

// sealSession returns the session's token.
func sealSession(keys *keyring.Keyring, s *session) (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", coffer.Internal(err)
	}
	sealed, err := keys.SealSession(b)
	clear(b)
	if err != nil {
		return "", coffer.Internal(err)
	}
	return base64.StdEncoding.EncodeToString(sealed), nil
}

// openSession opens a token presented with access key id and checks it against now: a token
// that does not open, or names another key, is an unknown client token; a lapsed one has
// expired.
func openSession(keys *keyring.Keyring, id, token string, now time.Time) (*session, error) {
	if !strings.HasPrefix(id, sessionKeyPrefix) || token == "" {
		return nil, errUnknownKey()
	}
	sealed, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		return nil, errUnknownKey()
	}
	b, err := keys.OpenSession(sealed)
	if err == keyring.ErrClosed {
		return nil, coffer.Internal(err)
	}
	if err != nil {
		return nil, errUnknownKey()
	}
	var s session
	err = json.Unmarshal(b, &s)
	clear(b)
	if err != nil || subtle.ConstantTimeCompare([]byte(s.AccessKeyID), []byte(id)) != 1 {
		return nil, errUnknownKey()
	}
	if !now.Before(time.Unix(s.Expires, 0)) {
		return nil, coffer.Errorf(errExpiredToken, "The security token included in the request is expired")
	}
	return &s, nil
}

// sessionSource is the verifier's SecretSource: access keys from Credentials, and session
// secrets from the tokens requests carry, checked against the credential clock.
type sessionSource struct {
	creds *Credentials
	now   func() time.Time
}

var _ sigv4.SessionSource = sessionSource{}

// SecretAccessKey implements sigv4.SecretSource. A session key without its token is unknown.
func (s sessionSource) SecretAccessKey(ctx context.Context, id string) ([]byte, error) {
	if s.creds == nil {
		return nil, errUnknownKey()
	}
	return s.creds.SecretAccessKey(ctx, id)
}

// SessionSecretAccessKey implements sigv4.SessionSource. A long-term key ignores the token.
func (s sessionSource) SessionSecretAccessKey(ctx context.Context, id, token string) ([]byte, error) {
	if !strings.HasPrefix(id, sessionKeyPrefix) {
		return s.SecretAccessKey(ctx, id)
	}
	if s.creds == nil {
		return nil, errUnknownKey()
	}
	sess, err := openSession(s.creds.keys, id, token, s.now())
	if err != nil {
		return nil, err
	}
	return []byte(sess.Secret), nil
}

type sessionKey struct{}

func sessionFrom(ctx context.Context) *session {
	s, _ := ctx.Value(sessionKey{}).(*session)
	return s
}

// callerKey returns the access key a verified request was signed with and a context that
// carries its session, if it is temporary credentials. A session's key is made up from its
// token: its PrincipalARN is the session's ARN.
func (h *Handler) callerKey(ctx context.Context, ident *sigv4.Identity) (context.Context, *coffer.AccessKey, error) {
	if !strings.HasPrefix(ident.AccessKeyID, sessionKeyPrefix) {
		k, err := h.cfg.Creds.Key(ctx, ident.AccessKeyID)
		return ctx, k, err
	}
	sess, err := openSession(h.cfg.Creds.keys, ident.AccessKeyID, ident.SecurityToken, h.policyNow())
	if err != nil {
		return ctx, nil, err
	}
	k := &coffer.AccessKey{ID: sess.AccessKeyID, Account: sess.Account, PrincipalARN: sess.ARN, Status: coffer.KeyActive,
		CreatedDate: time.Unix(sess.Issued, 0).UTC()}
	return context.WithValue(ctx, sessionKey{}, sess), k, nil
}
