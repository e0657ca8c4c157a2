// Package iam is coffer's IAM API: users, access keys, groups, roles, managed and inline
// policies, attachments and tags of one account, over the query protocol that `aws iam` speaks.
// Identities are global to an account, whichever region a request is signed for. Policies are
// parsed and stored here; package policy evaluates them.
package iam

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsquery"
	"github.com/coffer-project/coffer/keyring"
	"github.com/coffer-project/coffer/policy"
)

// IAM error codes (iam.service-2.json) and the HTTP statuses IAM gives them.
const (
	ErrNoSuchEntity        = "NoSuchEntity"
	ErrEntityAlreadyExists = "EntityAlreadyExists"
	ErrDeleteConflict      = "DeleteConflict"
	ErrLimitExceeded       = "LimitExceeded"
	ErrMalformedPolicy     = "MalformedPolicyDocument"
	ErrInvalidInput        = "InvalidInput"
)

func init() {
	awsquery.RegisterStatus(ErrNoSuchEntity, 404)
	awsquery.RegisterStatus(ErrEntityAlreadyExists, 409)
	awsquery.RegisterStatus(ErrDeleteConflict, 409)
	awsquery.RegisterStatus(ErrLimitExceeded, 409)
}

// MaxAccessKeysPerUser is IAM's quota.
const MaxAccessKeysPerUser = 2

// Service performs IAM operations. It is safe for concurrent use.
type Service struct {
	store coffer.Store
	keys  *keyring.Keyring
	now   func() time.Time
	rand  io.Reader
	log   *slog.Logger
	// onKeyChange is told of an access key deactivated or deleted, so that caches drop it.
	onKeyChange func(id string)
	// onChange is told of every committed IAM write, so that cached policies are dropped.
	onChange func()
	usage    usageLog
}

// Options are a Service's optional settings.
type Options struct {
	Now         func() time.Time
	Rand        io.Reader
	Logger      *slog.Logger
	OnKeyChange func(accessKeyID string)
	// OnChange is called after every IAM write (users, groups, policies, attachments…).
	OnChange func()
}

// New returns a Service.
func New(store coffer.Store, keys *keyring.Keyring, o Options) *Service {
	s := &Service{store: store, keys: keys, now: o.Now, rand: o.Rand, log: o.Logger, onKeyChange: o.OnKeyChange, onChange: o.OnChange}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Second) }

// Caller is who signs an IAM request.
type Caller struct {
	Account      string
	PrincipalARN string
	AccessKeyID  string
}

func (c Caller) isRoot() bool { return strings.HasSuffix(c.PrincipalARN, ":root") }

// Handle runs one IAM action and returns the value to write as its result (nil for an empty
// result).
func (s *Service) Handle(ctx context.Context, c Caller, q *awsquery.Request) (any, error) {
	fn, ok := actions[q.Action]
	if !ok {
		return nil, coffer.Errorf(awsquery.ErrInvalidAction, "Could not find operation %s for version %s", q.Action, q.Version)
	}
	return fn(s, ctx, c, q)
}

// Validation, as IAM's front end does it.

var (
	namePattern       = regexp.MustCompile(`^[\w+=,.@-]+$`)
	pathPattern       = regexp.MustCompile(`^(/|/[\x21-\x7E]+/)$`)
	accessKeyIDPatten = regexp.MustCompile(`^[\w]+$`)
)

type params struct {
	q *awsquery.Request
	v awsapiValidator
}

func (p *params) str(name, member string, required bool, min, max int, pattern *regexp.Regexp) string {
	v, ok := p.q.Get(name)
	if !ok {
		if required {
			p.v.required(member)
		}
		return ""
	}
	n := len([]rune(v))
	switch {
	case n < min:
		p.v.add(member, v, fmt.Sprintf("Member must have length greater than or equal to %d", min))
	case n > max:
		p.v.add(member, v, fmt.Sprintf("Member must have length less than or equal to %d", max))
	case pattern != nil && !pattern.MatchString(v):
		p.v.add(member, v, "Member must satisfy regular expression pattern: "+pattern.String())
	}
	return v
}

func (p *params) int(name, member string, min, max int) (int, bool) {
	v, ok := p.q.Get(name)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	switch {
	case err != nil:
		p.v.add(member, v, "Member must be a number")
	case n < min:
		p.v.add(member, v, fmt.Sprintf("Member must have value greater than or equal to %d", min))
	case n > max:
		p.v.add(member, v, fmt.Sprintf("Member must have value less than or equal to %d", max))
	}
	return n, true
}

func (p *params) tags() []coffer.Tag {
	var out []coffer.Tag
	for i := 1; ; i++ {
		k, ok := p.q.Get("Tags.member." + strconv.Itoa(i) + ".Key")
		if !ok {
			return out
		}
		v, _ := p.q.Get("Tags.member." + strconv.Itoa(i) + ".Value")
		out = append(out, coffer.Tag{Key: k, Value: v})
	}
}

// awsapiValidator collects violations in IAM's ValidationError form.
type awsapiValidator struct{ msgs []string }

func (v *awsapiValidator) add(member, value, constraint string) {
	if len(value) > 128 {
		value = value[:128] + "..."
	}
	v.msgs = append(v.msgs, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: %s", value, member, constraint))
}

func (v *awsapiValidator) required(member string) {
	v.msgs = append(v.msgs, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", member))
}

func (v *awsapiValidator) err() error {
	switch len(v.msgs) {
	case 0:
		return nil
	case 1:
		return coffer.Errorf(coffer.ErrValidation, "1 validation error detected: %s", v.msgs[0])
	}
	return coffer.Errorf(coffer.ErrValidation, "%d validation errors detected: %s", len(v.msgs), strings.Join(v.msgs, "; "))
}

func checkTags(tags []coffer.Tag) error {
	if len(tags) > 50 {
		return coffer.Errorf(ErrLimitExceeded, "Cannot exceed quota for TagsPerEntity: 50")
	}
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > 128 || len(t.Value) > 256 {
			return coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length between 1 and 128 for keys and at most 256 for values")
		}
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return coffer.Errorf(ErrInvalidInput, "User-defined tags cannot start with the prefix aws:.")
		}
	}
	return nil
}

// checkDocument parses a policy document: identity policies must not name a principal, trust
// policies must.
func checkDocument(doc string, trust bool) (*policy.Policy, error) {
	p, err := policy.Parse(doc)
	if err != nil {
		return nil, coffer.Errorf(ErrMalformedPolicy, "Syntax errors in policy.")
	}
	for _, st := range p.Statements {
		named := st.Principal != nil || st.NotPrincipal != nil
		if trust && !named {
			return nil, coffer.Errorf(ErrMalformedPolicy, "Missing required field Principal")
		}
		if !trust && named {
			return nil, coffer.Errorf(ErrMalformedPolicy, "Policy document should not specify a principal.")
		}
	}
	return p, nil
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// newID returns an IAM unique id: a 4-letter prefix (AIDA, AGPA, AROA, ANPA) and 17 characters.
func (s *Service) newID(prefix string) (string, error) {
	b := make([]byte, 17)
	for i := range b {
		n, err := rand.Int(s.rand, big.NewInt(int64(len(idAlphabet))))
		if err != nil {
			return "", err
		}
		b[i] = idAlphabet[n.Int64()]
	}
	return prefix + string(b), nil
}

// encodeDocument URL-encodes a policy document as IAM returns it (RFC 3986: only unreserved
// characters are left as they are).
func encodeDocument(doc string) string {
	var b strings.Builder
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// UserID returns the unique id (AIDA…) of the IAM user whose ARN is principalARN, as
// aws:userid and GetCallerIdentity name a user; for an account root, the account id.
func (s *Service) UserID(ctx context.Context, account, principalARN string) (string, error) {
	if strings.HasSuffix(principalARN, ":root") {
		return account, nil
	}
	var id string
	err := s.view(ctx, func(tx coffer.Tx) error {
		e, err := entity(tx, account, coffer.EntityUser, principalARN[lastSlash(principalARN)+1:])
		if err != nil {
			return err
		}
		id = e.ID
		return nil
	})
	return id, err
}
