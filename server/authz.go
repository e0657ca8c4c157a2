package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsquery"
	"github.com/coffer-project/coffer/keyring"
	"github.com/coffer-project/coffer/policy"
)

// Authorization: every call is decided by IAM policy evaluation (package policy) before the
// operation reads or decrypts anything. The server builds the call's context (who, from
// where, when), puts it in the request context, and decides:
//   - up front, for operations that name no secret (ListSecrets, CreateSecret, …), for KMS
//     operations (with the key's policy as KMS's gate) and for IAM actions;
//   - through core.Authorizer, as soon as an operation has resolved the secret it names
//     (its resource policy and tags take part), and through the KMS service's hook before a
//     customer-managed key is used for a secret (kms:Decrypt, kms:GenerateDataKey, with
//     kms:ViaService).

// policiesTTL bounds how long a principal's policies are trusted; every IAM write through
// this server drops them at once, so a change is seen on the next request here and within
// this time on other servers sharing the store.
const policiesTTL = time.Second

type callKey struct{}

// call is the authorization context of one API call.
type call struct {
	key       *coffer.AccessKey
	principal policy.PrincipalInfo
	pols      *principalPolicies
	action    string // service:Operation
	ns        coffer.Namespace
	keys      map[string][]string
	// build makes the global condition keys, and body and service give the request's own:
	// both are made on the first decision that evaluates policies (an account root in its
	// own account seldom needs them).
	build   func() map[string][]string
	body    []byte
	service string
	rec     *auditRec // the call's audit record, which notes the resources checked
}

// conditionKeys returns the call's condition keys, building them on first use.
func (c *call) conditionKeys() map[string][]string {
	if c.keys == nil {
		if c.build != nil {
			c.keys = c.build()
		} else {
			c.keys = map[string][]string{}
		}
	}
	if c.body != nil {
		for k, v := range requestKeys(c.service, c.body) {
			c.keys[k] = v
		}
		c.body = nil
	}
	return c.keys
}

func withCall(ctx context.Context, c *call) context.Context {
	return context.WithValue(ctx, callKey{}, c)
}

func callFrom(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

// principalPolicies are the identity-side policies of a principal.
type principalPolicies struct {
	root     bool
	identity []*policy.Policy
	boundary *policy.Policy
	session  []*policy.Policy // a role session's session policies
	info     policy.PrincipalInfo
	at       time.Time
}

// authorizer evaluates calls; it caches principals' policies and parsed documents.
type authorizer struct {
	store coffer.Store
	now   func() time.Time

	mu       sync.Mutex
	gen      uint64
	cache    map[string]*principalPolicies // by principal ARN
	parsed   map[string]*policy.Policy     // documents by text
	parseErr map[string]bool
}

func newAuthorizer(store coffer.Store, now func() time.Time) *authorizer {
	return &authorizer{store: store, now: now, cache: map[string]*principalPolicies{}, parsed: map[string]*policy.Policy{}, parseErr: map[string]bool{}}
}

// invalidate drops every cached principal after an IAM write.
func (a *authorizer) invalidate() {
	a.mu.Lock()
	a.gen++
	clear(a.cache)
	a.mu.Unlock()
}

// parse returns a parsed document, cached by its text; a document that does not parse
// (stored before a stricter parser) is nil: it grants nothing.
func (a *authorizer) parse(doc string) *policy.Policy {
	a.mu.Lock()
	p, ok := a.parsed[doc]
	bad := a.parseErr[doc]
	a.mu.Unlock()
	if ok || bad {
		return p
	}
	p, err := policy.Parse(doc)
	a.mu.Lock()
	if len(a.parsed) > 10_000 {
		clear(a.parsed)
		clear(a.parseErr)
	}
	if err != nil {
		a.parseErr[doc] = true
		p = nil
	} else {
		a.parsed[doc] = p
	}
	a.mu.Unlock()
	return p
}

// principal loads (or reuses) the policies of the access key's principal.
func (a *authorizer) principal(ctx context.Context, key *coffer.AccessKey) (*principalPolicies, error) {
	if strings.HasSuffix(key.PrincipalARN, ":root") {
		return &principalPolicies{root: true, info: policy.PrincipalInfo{ARN: key.PrincipalARN, Account: key.Account, Type: policy.PrincipalAccount, UserID: key.Account}}, nil
	}
	name := key.PrincipalARN[strings.LastIndexByte(key.PrincipalARN, '/')+1:]
	return a.entity(ctx, key.Account, coffer.EntityUser, name, key.PrincipalARN)
}

// entity loads (or reuses) the policies of a user or role, cached by cacheKey (the ARN the
// key names it by).
func (a *authorizer) entity(ctx context.Context, account, kind, name, cacheKey string) (*principalPolicies, error) {
	now := time.Now()
	a.mu.Lock()
	p, ok := a.cache[cacheKey]
	gen := a.gen
	a.mu.Unlock()
	if ok && now.Sub(p.at) < policiesTTL {
		return p, nil
	}
	p = &principalPolicies{at: now}
	err := a.store.View(ctx, func(tx coffer.Tx) error {
		p.identity, p.boundary = nil, nil
		u, err := tx.Entity(account, kind, name)
		if err != nil {
			return err
		}
		p.info = policy.PrincipalInfo{ARN: u.ARN(), Account: u.Account, Type: policy.PrincipalUser, UserID: u.ID, Username: u.Name, Tags: map[string]string{}}
		if kind == coffer.EntityRole {
			// The role itself; a session of it gets its own PrincipalInfo (sessionPrincipal).
			p.info = policy.PrincipalInfo{ARN: u.ARN(), Account: u.Account, Type: policy.PrincipalAssumedRole, UserID: u.ID, Tags: map[string]string{}}
		}
		for _, t := range u.Tags {
			p.info.Tags[t.Key] = t.Value
		}
		refs := []coffer.EntityRef{{Account: u.Account, Kind: kind, Name: u.Name}}
		if kind == coffer.EntityUser {
			groups, err := tx.GroupsOf(u.Account, u.Name)
			if err != nil {
				return err
			}
			for _, g := range groups {
				refs = append(refs, coffer.EntityRef{Account: u.Account, Kind: coffer.EntityGroup, Name: g})
			}
		}
		for _, ref := range refs {
			if p.identity, err = a.entityPolicies(tx, ref, p.identity); err != nil {
				return err
			}
		}
		if u.PermissionsBoundary != "" {
			doc, err := defaultDocument(tx, u.PermissionsBoundary)
			if err != nil {
				return err
			}
			if p.boundary = a.parse(doc); p.boundary == nil {
				p.boundary = denyAll
			}
		}
		return nil
	})
	if err != nil {
		if coffer.IsNotFound(err) {
			return nil, coffer.Errorf(coffer.ErrUnrecognizedClient, "The security token included in the request is invalid.")
		}
		return nil, err
	}
	a.mu.Lock()
	if a.gen == gen {
		a.cache[cacheKey] = p
	}
	a.mu.Unlock()
	return p, nil
}

// sessionPrincipal returns the policies of a role session: the role's identity policies and
// boundary, the session's policies, and the session's principal (assumed-role ARN, user id
// ROLEID:SESSION, the session tags as principal tags).
func (a *authorizer) sessionPrincipal(ctx context.Context, sess *session) (*principalPolicies, error) {
	role, err := a.entity(ctx, sess.Account, coffer.EntityRole, sess.RoleName, sess.RoleARN)
	if err != nil {
		return nil, err
	}
	if role.info.UserID != sess.RoleID {
		return nil, errUnknownKey() // the role was deleted and made anew: its old sessions end
	}
	p := &principalPolicies{identity: role.identity, boundary: role.boundary, at: role.at,
		info: policy.PrincipalInfo{ARN: sess.ARN, Account: sess.Account, Type: policy.PrincipalAssumedRole,
			UserID: sess.RoleID + ":" + sess.SessionName, Tags: map[string]string{}}}
	for k, v := range role.info.Tags {
		p.info.Tags[k] = v
	}
	for k, v := range sess.Tags { // session tags win over the role's
		p.info.Tags[k] = v
	}
	for _, doc := range sess.Policies {
		pp := a.parse(doc)
		if pp == nil {
			pp = denyAll
		}
		p.session = append(p.session, pp)
	}
	return p, nil
}

// entityPolicies appends to out the parsed attached and inline policies of an entity.
func (a *authorizer) entityPolicies(tx coffer.Tx, ref coffer.EntityRef, out []*policy.Policy) ([]*policy.Policy, error) {
	arns, err := tx.AttachedPolicies(ref)
	if err != nil {
		return out, err
	}
	for _, arn := range arns {
		doc, err := defaultDocument(tx, arn)
		if err != nil {
			return out, err
		}
		if pp := a.parse(doc); pp != nil {
			out = append(out, pp)
		}
	}
	names, err := tx.InlinePolicies(ref)
	if err != nil {
		return out, err
	}
	for _, n := range names {
		doc, err := tx.InlinePolicy(ref, n)
		if err != nil {
			return out, err
		}
		if pp := a.parse(doc); pp != nil {
			out = append(out, pp)
		}
	}
	return out, nil
}

// denyAll stands for a boundary whose document cannot be read: it allows nothing.
var denyAll = &policy.Policy{}

func defaultDocument(tx coffer.Tx, arn string) (string, error) {
	mp, err := tx.ManagedPolicy(arn)
	if err != nil {
		return "", err
	}
	vs, err := tx.PolicyVersions(arn)
	if err != nil {
		return "", err
	}
	for _, v := range vs {
		if v.VersionID == mp.DefaultVersion {
			return v.Document, nil
		}
	}
	return "", coffer.Internal(nil)
}

// newCall builds the authorization context of a request.
func (h *Handler) newCall(ctx context.Context, r *http.Request, key *coffer.AccessKey, ns coffer.Namespace, action string) (*call, error) {
	sess := sessionFrom(ctx)
	var (
		p   *principalPolicies
		err error
	)
	if sess != nil && sess.roleSession() {
		p, err = h.authz.sessionPrincipal(ctx, sess)
	} else {
		p, err = h.authz.principal(ctx, key)
	}
	if err != nil {
		return nil, err
	}
	c := &call{key: key, principal: p.info, pols: p, action: action, ns: ns, rec: auditFrom(ctx)}
	if c.rec != nil {
		c.rec.principal = &c.principal
	}
	// The global condition keys are built on the first decision that evaluates policies.
	c.build = func() map[string][]string {
		now := h.policyNow().UTC()
		keys := map[string][]string{
			"aws:CurrentTime":     {now.Format(time.RFC3339)},
			"aws:EpochTime":       {strconv.FormatInt(now.Unix(), 10)},
			"aws:SecureTransport": {strconv.FormatBool(r.TLS != nil)},
			"aws:RequestedRegion": {ns.Region},
		}
		if ip := h.sourceIP(r); ip != "" {
			keys["aws:SourceIp"] = []string{ip}
		}
		if sess != nil {
			keys["aws:TokenIssueTime"] = []string{time.Unix(sess.Issued, 0).UTC().Format(time.RFC3339)}
			if sess.roleSession() {
				keys["aws:PrincipalArn"] = []string{sess.RoleARN} // with the role's path
			}
			if sess.SourceIdentity != "" {
				keys["aws:SourceIdentity"] = []string{sess.SourceIdentity}
			}
		}
		return keys
	}
	return c, nil
}

// check decides action on resource for the call; extra adds condition keys; resourcePolicy
// is the resource's policy ("" for none); gate applies KMS's rule that the key policy must
// allow.
func (h *Handler) check(c *call, action, resource, resourceAccount, resourcePolicy string, extra map[string][]string, gate bool) error {
	if action != "secretsmanager:CreateSecret" { // the new secret's ARN (with its suffix) comes with the answer
		c.rec.addResource(resource)
	}
	if c.pols.root && resourcePolicy == "" && !gate && resourceAccount == c.key.Account {
		return nil // an account root in its own account, with no resource policy to deny it
	}
	keys := c.conditionKeys()
	if len(extra) > 0 {
		base := keys
		keys = make(map[string][]string, len(base)+len(extra))
		for k, v := range base {
			keys[k] = v
		}
		for k, v := range extra {
			keys[k] = v
		}
	}
	in := &policy.Input{
		Request:         &policy.Request{Action: action, Resource: resource, Principal: c.principal, Keys: keys},
		Identity:        c.pols.identity,
		Session:         c.pols.session,
		Boundary:        c.pols.boundary,
		ResourceAccount: resourceAccount,
		KeyPolicyGate:   gate,
	}
	if resourcePolicy != "" {
		in.Resource = h.authz.parse(resourcePolicy)
		if in.Resource == nil {
			in.Resource = denyAll
		}
	}
	res := policy.Decide(in)
	if res.Decision == policy.Allow {
		return nil
	}
	return coffer.Errorf(coffer.ErrAccessDenied, "%s", res.Message(c.principal.ARN, action, resource))
}

// AuthorizeSecret implements core.Authorizer.
func (h *Handler) AuthorizeSecret(ctx context.Context, sec *coffer.Secret, arn string) error {
	c := callFrom(ctx)
	if c == nil {
		return nil
	}
	if sec != nil {
		c.rec.addResource(sec.ARN)
	}
	action := c.action
	if action == "secretsmanager:BatchGetSecretValue" {
		action = "secretsmanager:GetSecretValue" // each secret of a batch needs it, as in AWS
	}
	if action == "coffer:"+WatchOperation {
		action = "secretsmanager:DescribeSecret" // each secret watched is read as DescribeSecret reads it
	}
	if sec == nil {
		return h.check(c, action, arn, c.ns.Account, "", map[string][]string{"secretsmanager:SecretId": {arn}}, false)
	}
	if c.pols.root && sec.ResourcePolicy == "" && sec.Namespace.Account == c.key.Account {
		return nil
	}
	if sec.Namespace.Account != c.key.Account && (sec.KMSKeyID == "" || strings.HasSuffix(sec.KMSKeyID, "alias/aws/secretsmanager")) && valueAction(action) {
		// As in AWS, a secret under the AWS-managed key cannot be used from another account.
		return coffer.Errorf(coffer.ErrAccessDenied, "You can't access a secret from a different AWS account if you encrypt the secret with the default KMS service key.")
	}
	extra := map[string][]string{"secretsmanager:SecretId": {sec.ARN}}
	for _, t := range sec.Tags {
		extra["aws:ResourceTag/"+t.Key] = []string{t.Value}
		extra["secretsmanager:ResourceTag/"+t.Key] = []string{t.Value}
	}
	return h.check(c, action, sec.ARN, sec.Namespace.Account, sec.ResourcePolicy, extra, false)
}

// authorizeKeyUse is the KMS service's check before a customer-managed key is used for a
// secret operation.
func (h *Handler) authorizeKeyUse(ctx context.Context, action string, k *coffer.Key) error {
	c := callFrom(ctx)
	if c == nil {
		return nil
	}
	extra := map[string][]string{
		"kms:ViaService":    {"secretsmanager." + k.Namespace.Region + ".amazonaws.com"},
		"kms:CallerAccount": {c.key.Account},
	}
	for _, t := range k.Tags {
		extra["aws:ResourceTag/"+t.Key] = []string{t.Value}
	}
	return h.check(c, action, k.ARN(), k.Namespace.Account, k.Policy, extra, true)
}

// requestRefs are the members of a request body that name what an up-front check is about.
type requestRefs struct {
	Name              *string
	SecretId          *string //nolint:revive // AWS's name
	KeyId             *string //nolint:revive // AWS's name
	TargetKeyId       *string //nolint:revive // AWS's name
	DestinationKeyId  *string //nolint:revive // AWS's name
	CiphertextBlob    []byte
	RotationLambdaARN *string
}

// authorizeSecretsManager makes the up-front checks of Secrets Manager and coffer's
// operations: those that name no secret. The others are checked by AuthorizeSecret.
func (h *Handler) authorizeSecretsManager(c *call, op string, body []byte) error {
	c.body, c.service = body, "secretsmanager"
	var refs requestRefs
	switch op {
	case "ListSecrets", "GetRandomPassword", "BatchGetSecretValue", "ListKeyBindings", "ListUnusableKeyBindings", "LookupEvents", "GetAuditDigest", "ReportCachedReads":
		return h.check(c, c.action, "*", c.ns.Account, "", nil, false)
	case "CreateSecret", "ValidateResourcePolicy":
		json.Unmarshal(body, &refs) // a malformed body is refused by the operation's own decoding
	case "RotateSecret":
		// As in AWS, naming a rotation function needs lambda:InvokeFunction on it as well.
		json.Unmarshal(body, &refs)
		if refs.RotationLambdaARN != nil && *refs.RotationLambdaARN != "" {
			return h.check(c, "lambda:InvokeFunction", *refs.RotationLambdaARN, c.ns.Account, "", nil, false)
		}
		return nil
	}
	prefix := "arn:aws:secretsmanager:" + c.ns.Region + ":" + c.ns.Account + ":secret:"
	switch op {
	case "CreateSecret":
		name := ""
		if refs.Name != nil {
			name = *refs.Name
		}
		return h.check(c, c.action, prefix+name, c.ns.Account, "", map[string][]string{"secretsmanager:Name": {name}}, false)
	case "ValidateResourcePolicy":
		if refs.SecretId == nil {
			return h.check(c, c.action, "*", c.ns.Account, "", nil, false)
		}
	}
	return nil
}

// authorizeKMS makes the check of a KMS operation: on the key it names, with the key policy
// as KMS's gate, or on "*" for operations without a key.
func (h *Handler) authorizeKMS(ctx context.Context, c *call, body []byte) error {
	c.body, c.service = body, "kms"
	var refs requestRefs
	json.Unmarshal(body, &refs)
	ref := ""
	switch {
	case refs.TargetKeyId != nil:
		ref = *refs.TargetKeyId
	case refs.KeyId != nil:
		ref = *refs.KeyId
	case len(refs.CiphertextBlob) > 0:
		if id, _, err := keyring.ParseBlob(refs.CiphertextBlob); err == nil {
			ref = id
		}
	}
	extra := map[string][]string{"kms:CallerAccount": {c.key.Account}}
	if ref == "" {
		return h.check(c, c.action, "*", c.ns.Account, "", extra, false)
	}
	k, err := h.cfg.Secrets.KMS().Lookup(ctx, c.ns, ref)
	if err != nil {
		// Unknown key: the identity side decides whether the caller learns that.
		if cerr := h.check(c, c.action, "arn:aws:kms:"+c.ns.Region+":"+c.ns.Account+":key/"+ref, c.ns.Account, "", extra, false); cerr != nil {
			return cerr
		}
		return nil
	}
	for _, t := range k.Tags {
		extra["aws:ResourceTag/"+t.Key] = []string{t.Value}
	}
	aliases, err := h.cfg.Secrets.KMS().AliasNames(ctx, k.Namespace, k.ID)
	if err != nil {
		return err
	}
	if len(aliases) > 0 {
		extra["kms:ResourceAliases"] = aliases
	}
	var dk *coffer.Key
	if refs.DestinationKeyId != nil { // ReEncrypt
		if dk, err = h.cfg.Secrets.KMS().Lookup(ctx, c.ns, *refs.DestinationKeyId); err == nil {
			extra["kms:ReEncryptOnSameKey"] = []string{strconv.FormatBool(dk.ID == k.ID)}
		}
	}
	if err := h.check(c, c.action, k.ARN(), k.Namespace.Account, k.Policy, extra, true); err != nil {
		return err
	}
	if dk != nil { // the destination key's policy too
		return h.check(c, c.action, dk.ARN(), dk.Namespace.Account, dk.Policy, extra, true)
	}
	return nil
}

// authorizeIAM checks an IAM action on the entity or policy it names.
func (h *Handler) authorizeIAM(c *call, q *awsquery.Request) error {
	resource := "*"
	base := "arn:aws:iam::" + c.ns.Account + ":"
	for _, p := range []struct{ param, kind string }{{"UserName", "user/"}, {"RoleName", "role/"}, {"GroupName", "group/"}} {
		if v, ok := q.Get(p.param); ok {
			resource = base + p.kind + v
			break
		}
	}
	if v, ok := q.Get("PolicyArn"); ok && resource == "*" {
		resource = v
	}
	return h.check(c, c.action, resource, c.ns.Account, "", nil, false)
}

// valueAction reports whether an action reads or writes a secret's value (and so its key).
func valueAction(action string) bool {
	switch action {
	case "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecret",
		"secretsmanager:BatchGetSecretValue", "coffer:GenerateSecretValue":
		return true
	}
	return false
}
