package audit

import (
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Filter selects events; an empty field matches everything.
type Filter struct {
	Since, Until time.Time // eventTime in [Since, Until)
	// Principal matches userIdentity's ARN, principal id or access key id, the user or
	// session name at the end of the ARN, or the role of an assumed-role session.
	Principal string
	// Secret matches a resource's ARN, the secret's name within it, or the secretId the
	// request named.
	Secret string
	// Event matches the eventName ("GetSecretValue"), the category ("secrets.get_value") or
	// a category prefix ending in a dot ("secrets.").
	Event string
	// Error is "*" for every failed call, or an error code; "" matches any outcome.
	Error     string
	RequestID string
	// Account keeps only the events of one account (recipientAccountId).
	Account string
}

// Entry is one event found by Query, with its place in the chain.
type Entry struct {
	Seq   uint64
	Event *Event
}

// Query returns up to max events after record after that match f, in chain order, and the
// seq to pass as after for the next page (0 when there is none).
func Query(src Source, f Filter, after uint64, max int) ([]Entry, uint64, error) {
	if max <= 0 {
		max = 50
	}
	var out []Entry
	var next uint64
	err := src.ScanFrom(after, func(raw []byte, _ string) error {
		var rec struct {
			Seq   uint64          `json:"seq"`
			Kind  string          `json:"kind"`
			Event json.RawMessage `json:"event"`
		}
		if json.Unmarshal(raw, &rec) != nil || rec.Seq <= after || rec.Kind != KindEvent {
			return nil
		}
		var ev Event
		if json.Unmarshal(rec.Event, &ev) != nil || !f.Match(&ev) {
			return nil
		}
		if len(out) == max {
			next = out[len(out)-1].Seq
			return errStop
		}
		out = append(out, Entry{Seq: rec.Seq, Event: &ev})
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, 0, err
	}
	return out, next, nil
}

// Match says whether ev passes the filter.
func (f *Filter) Match(ev *Event) bool {
	if !f.Since.IsZero() || !f.Until.IsZero() {
		t, err := time.Parse(time.RFC3339, ev.EventTime)
		if err != nil || (!f.Since.IsZero() && t.Before(f.Since)) || (!f.Until.IsZero() && !t.Before(f.Until)) {
			return false
		}
	}
	if f.Principal != "" {
		u := ev.UserIdentity
		name := u.ARN[strings.LastIndexByte(u.ARN, '/')+1:]
		if f.Principal != u.ARN && f.Principal != u.PrincipalID && f.Principal != u.AccessKeyID && f.Principal != name && f.Principal != sessionRole(u.ARN) {
			return false
		}
	}
	if f.Secret != "" && !matchSecret(ev, f.Secret) {
		return false
	}
	if f.Event != "" && f.Event != ev.EventName && f.Event != ev.Category &&
		!(strings.HasSuffix(f.Event, ".") && strings.HasPrefix(ev.Category, f.Event)) {
		return false
	}
	switch f.Error {
	case "":
	case "*":
		if ev.ErrorCode == "" {
			return false
		}
	default:
		if ev.ErrorCode != f.Error {
			return false
		}
	}
	if f.RequestID != "" && f.RequestID != ev.RequestID {
		return false
	}
	if f.Account != "" && f.Account != ev.RecipientAccountID {
		return false
	}
	return true
}

func matchSecret(ev *Event, s string) bool {
	for _, r := range ev.Resources {
		if r.Type != ResourceSecret {
			continue
		}
		if r.ARN == s || SecretName(r.ARN) == s {
			return true
		}
	}
	if id, ok := ev.RequestParameters["secretId"].(string); ok && id == s {
		return true
	}
	return false
}

// ResourceSecret is the resource type of a secret, as CloudTrail names it.
const ResourceSecret = "AWS::SecretsManager::Secret"

// ResourceKey is the resource type of a KMS key.
const ResourceKey = "AWS::KMS::Key"

// SecretName returns the name in a secret's ARN (without the six-character suffix).
func SecretName(arn string) string {
	i := strings.Index(arn, ":secret:")
	if i < 0 {
		return ""
	}
	name := arn[i+len(":secret:"):]
	if j := strings.LastIndexByte(name, '-'); j >= 0 && len(name)-j == 7 {
		name = name[:j]
	}
	return name
}

// sessionRole is the role of an assumed-role session's ARN
// (arn:aws:sts::<account>:assumed-role/<role>/<session>), or "" for any other ARN.
func sessionRole(arn string) string {
	_, rest, ok := strings.Cut(arn, ":assumed-role/")
	if !ok || !strings.HasPrefix(arn, "arn:") {
		return ""
	}
	role, _, ok := strings.Cut(rest, "/")
	if !ok {
		return ""
	}
	return role
}
