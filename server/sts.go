package server

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsquery"
	"github.com/coffer-project/coffer/core"
	"github.com/coffer-project/coffer/iam"
	"github.com/coffer-project/coffer/policy"
)

// STS's temporary credentials: GetSessionToken and AssumeRole. See session.go for the token.

// Session durations, in seconds, as STS bounds them.
const (
	minSessionSeconds     = 900
	maxUserSessionSeconds = 129_600
	defUserSessionSeconds = 43_200
	maxRootSessionSeconds = 3_600
	defRoleSessionSeconds = 3_600
	maxChainedSeconds     = 3_600
	// maxPackedSession is what coffer counts against PackedPolicySize's 100%: the session
	// policies' and tags' characters.
	maxPackedSession = 2048
)

var sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

type stsCredentials struct {
	AccessKeyId     string //nolint:revive // AWS's name
	SecretAccessKey string
	SessionToken    string
	Expiration      string
}

type getSessionTokenResult struct {
	Credentials stsCredentials
}

type assumedRoleUser struct {
	AssumedRoleId string //nolint:revive // AWS's name
	Arn           string
}

type assumeRoleResult struct {
	Credentials      stsCredentials
	AssumedRoleUser  assumedRoleUser
	PackedPolicySize int
	SourceIdentity   string `xml:",omitempty"`
}

// sts serves the STS actions coffer implements.
func (h *Handler) sts(ctx context.Context, w http.ResponseWriter, r *http.Request, q *awsquery.Request, key *coffer.AccessKey, id string) error {
	sess := sessionFrom(ctx)
	var out any
	var err error
	switch q.Action {
	case "GetCallerIdentity":
		// As in AWS, no permission is needed: the same facts are in any access-denied message.
		out, err = h.getCallerIdentity(ctx, key, sess)
	case "GetSessionToken":
		out, err = h.getSessionToken(ctx, q, key, sess)
	case "AssumeRole":
		out, err = h.assumeRole(ctx, r, q, key, sess)
	case "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML", "GetFederationToken",
		"DecodeAuthorizationMessage", "GetAccessKeyInfo", "AssumeRoot", "GetDelegatedAccessToken", "GetWebIdentityToken":
		return coffer.Errorf(awsquery.ErrInvalidAction, "coffer does not implement the STS operation %s yet.", q.Action)
	default:
		return coffer.Errorf(awsquery.ErrInvalidAction, "Could not find operation %s for version %s", q.Action, q.Version)
	}
	if err != nil {
		return err
	}
	auditFrom(ctx).setOutput(out)
	awsquery.WriteResult(w, q.Action, awsquery.NamespaceSTS, id, out)
	return nil
}

func (h *Handler) getCallerIdentity(ctx context.Context, key *coffer.AccessKey, sess *session) (any, error) {
	if sess != nil && sess.roleSession() {
		return &callerIdentity{UserId: sess.RoleID + ":" + sess.SessionName, Account: sess.Account, Arn: sess.ARN}, nil
	}
	uid, err := h.cfg.IAM.UserID(ctx, key.Account, key.PrincipalARN)
	if err != nil {
		return nil, err
	}
	return &callerIdentity{UserId: uid, Account: key.Account, Arn: key.PrincipalARN}, nil
}

// durationParam reads DurationSeconds: def when absent, otherwise within [900, max].
func durationParam(q *awsquery.Request, def, maxSeconds int, tooLong string) (int, error) {
	v, ok := q.Get("DurationSeconds")
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must be a number", v)
	}
	if n < minSessionSeconds {
		return 0, coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to %d", n, minSessionSeconds)
	}
	if n > maxSeconds {
		return 0, coffer.Errorf(coffer.ErrValidation, "%s", tooLong)
	}
	return n, nil
}

// newSessionKeys returns a fresh ASIA access key id and its secret.
func newSessionKeys() (string, string, error) {
	pair, err := core.NewAccessKeyPair()
	if err != nil {
		return "", "", coffer.Internal(err)
	}
	return sessionKeyPrefix + strings.TrimPrefix(pair.AccessKeyID, "AKIA"), pair.SecretAccessKey, nil
}

// issue fills in s's keys and times and seals it into credentials.
func (h *Handler) issue(s *session, seconds int) (stsCredentials, error) {
	id, secret, err := newSessionKeys()
	if err != nil {
		return stsCredentials{}, err
	}
	now := h.policyNow().UTC()
	s.AccessKeyID, s.Secret = id, secret
	s.Issued, s.Expires = now.Unix(), now.Unix()+int64(seconds)
	token, err := sealSession(h.cfg.Creds.keys, s)
	if err != nil {
		return stsCredentials{}, err
	}
	return stsCredentials{AccessKeyId: id, SecretAccessKey: secret, SessionToken: token,
		Expiration: time.Unix(s.Expires, 0).UTC().Format(time.RFC3339)}, nil
}

// getSessionToken issues a session of the caller itself: same principal, same policies.
func (h *Handler) getSessionToken(_ context.Context, q *awsquery.Request, key *coffer.AccessKey, sess *session) (any, error) {
	if sess != nil {
		return nil, coffer.Errorf(coffer.ErrAccessDenied, "Cannot call GetSessionToken with session credentials")
	}
	seconds, err := durationParam(q, defUserSessionSeconds, maxUserSessionSeconds,
		"1 validation error detected: Value at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 129600")
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(key.PrincipalARN, ":root") && seconds > maxRootSessionSeconds {
		seconds = maxRootSessionSeconds // as AWS: an account owner's session lasts an hour at most
	}
	creds, err := h.issue(&session{Account: key.Account, ARN: key.PrincipalARN}, seconds)
	if err != nil {
		return nil, err
	}
	return &getSessionTokenResult{Credentials: creds}, nil
}

// assumeRole issues a session of a role of the caller's account whose trust policy allows
// the caller.
func (h *Handler) assumeRole(ctx context.Context, r *http.Request, q *awsquery.Request, key *coffer.AccessKey, sess *session) (any, error) {
	roleARN, _ := q.Get("RoleArn")
	name, _ := q.Get("RoleSessionName")
	if roleARN == "" {
		return nil, coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null")
	}
	if !sessionNamePattern.MatchString(name) {
		return nil, coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64 and satisfy regular expression pattern: [\\w+=,.@-]*", name)
	}
	c, err := h.newCall(ctx, r, key, coffer.Namespace{Account: key.Account}, "sts:AssumeRole")
	if err != nil {
		return nil, err
	}
	denied := coffer.Errorf(coffer.ErrAccessDenied, "User: %s is not authorized to perform: sts:AssumeRole on resource: %s", c.principal.ARN, roleARN)
	parts := strings.SplitN(roleARN, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" || !strings.HasPrefix(parts[5], "role/") {
		return nil, coffer.Errorf(coffer.ErrValidation, "%s is invalid", roleARN)
	}
	// The role may be of another account: then the caller's identity policies must allow
	// sts:AssumeRole on it as well as the role's trust policy allowing the caller.
	roleAccount := parts[4]
	if !coffer.ValidAccountID(roleAccount) {
		return nil, denied
	}
	var role *coffer.Entity
	var sessionDocs []string
	err = h.cfg.Creds.store.View(ctx, func(tx coffer.Tx) error {
		var err error
		role, err = tx.Entity(roleAccount, coffer.EntityRole, parts[5][strings.LastIndexByte(parts[5], '/')+1:])
		if err != nil {
			return err
		}
		for i := 1; ; i++ {
			arn, ok := q.Get("PolicyArns.member." + strconv.Itoa(i) + ".arn")
			if !ok {
				break
			}
			doc, err := defaultDocument(tx, arn)
			if coffer.IsNotFound(err) {
				return coffer.Errorf(coffer.ErrValidation, "The policy %s does not exist or is not attachable.", arn)
			}
			if err != nil {
				return err
			}
			sessionDocs = append(sessionDocs, doc)
		}
		return nil
	})
	if coffer.IsNotFound(err) || (err == nil && !strings.EqualFold(role.ARN(), roleARN)) {
		return nil, denied
	}
	if err != nil {
		return nil, err
	}
	if len(sessionDocs) > 10 {
		return nil, coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10")
	}
	var docs []string
	if doc, ok := q.Get("Policy"); ok {
		if _, err := policy.Parse(doc); err != nil {
			return nil, coffer.Errorf(iam.ErrMalformedPolicy, "The policy is not in the valid JSON format.")
		}
		docs = append(docs, doc)
	}
	docs = append(docs, sessionDocs...)

	tags := map[string]string{}
	for i := 1; ; i++ {
		k, ok := q.Get("Tags.member." + strconv.Itoa(i) + ".Key")
		if !ok {
			break
		}
		v, _ := q.Get("Tags.member." + strconv.Itoa(i) + ".Value")
		if k == "" || len(k) > 128 || len(v) > 256 {
			return nil, coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value at 'tags.%d.member' failed to satisfy constraint: Member must have a key of 1 to 128 characters and a value of at most 256", i)
		}
		tags[k] = v
	}
	if len(tags) > 50 {
		return nil, coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50")
	}
	source, _ := q.Get("SourceIdentity")
	if sess != nil && sess.SourceIdentity != "" {
		if source != "" && source != sess.SourceIdentity {
			return nil, coffer.Errorf(coffer.ErrAccessDenied, "The source identity of a chained role session cannot be changed.")
		}
		source = sess.SourceIdentity // persists through role chaining, as in AWS
	}

	maxSeconds, tooLong := role.MaxSessionDuration, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
	if maxSeconds == 0 {
		maxSeconds = defRoleSessionSeconds
	}
	if sess != nil && sess.roleSession() {
		maxSeconds, tooLong = maxChainedSeconds, "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
	}
	seconds, err := durationParam(q, defRoleSessionSeconds, maxSeconds, tooLong)
	if err != nil {
		return nil, err
	}

	// The trust policy must allow the caller, as a key policy must: naming the caller allows
	// alone; naming the account leaves it to the caller's identity policies.
	extra := map[string][]string{"sts:RoleSessionName": {name}}
	if source != "" {
		extra["sts:SourceIdentity"] = []string{source}
	}
	for k, v := range tags {
		extra["aws:RequestTag/"+k] = []string{v}
		extra["aws:TagKeys"] = append(extra["aws:TagKeys"], k)
	}
	if err := h.check(c, "sts:AssumeRole", role.ARN(), role.Account, role.AssumeRolePolicy, extra, true); err != nil {
		return nil, err
	}
	if len(tags) > 0 {
		if err := h.check(c, "sts:TagSession", role.ARN(), role.Account, role.AssumeRolePolicy, extra, true); err != nil {
			return nil, err
		}
	}

	packed := 0
	for _, d := range docs {
		packed += len(compactJSON(d))
	}
	for k, v := range tags {
		packed += len(k) + len(v)
	}
	packed = packed * 100 / maxPackedSession
	if packed > 100 {
		return nil, coffer.Errorf("PackedPolicyTooLarge", "Packed size of session policies and tags is %d%% of the allowed size.", packed)
	}
	s := &session{Account: role.Account, ARN: "arn:aws:sts::" + role.Account + ":assumed-role/" + role.Name + "/" + name,
		RoleARN: role.ARN(), RoleID: role.ID, RoleName: role.Name, SessionName: name, Policies: docs, SourceIdentity: source}
	if len(tags) > 0 {
		s.Tags = tags
	}
	creds, err := h.issue(s, seconds)
	if err != nil {
		return nil, err
	}
	return &assumeRoleResult{Credentials: creds, AssumedRoleUser: assumedRoleUser{AssumedRoleId: role.ID + ":" + name, Arn: s.ARN},
		PackedPolicySize: packed, SourceIdentity: source}, nil
}

// compactJSON returns doc without insignificant white space (doc itself if it is no JSON).
func compactJSON(doc string) string {
	var v any
	if json.Unmarshal([]byte(doc), &v) != nil {
		return doc
	}
	b, err := json.Marshal(v)
	if err != nil {
		return doc
	}
	return string(b)
}

// sessionIAMCheck applies AWS's limits on IAM calls made with temporary credentials: a
// GetSessionToken session (without MFA, which coffer does not take yet) may not call IAM at
// all, and a role session must name the user of the actions that default to the caller.
func sessionIAMCheck(sess *session, q *awsquery.Request) error {
	switch {
	case sess == nil:
		return nil
	case !sess.roleSession():
		return errUnknownKey()
	}
	switch q.Action {
	case "GetUser", "CreateAccessKey", "ListAccessKeys", "UpdateAccessKey", "DeleteAccessKey":
		if _, ok := q.Get("UserName"); !ok {
			return coffer.Errorf(coffer.ErrValidation, "Must specify userName when calling with non-User credentials")
		}
	}
	return nil
}
