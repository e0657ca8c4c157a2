package server

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsapi"
	"github.com/coffer-project/coffer/core"
)

// WatchOperation is coffer's long poll (X-Amz-Target coffer.WatchSecrets): it answers when
// one of the secrets named has its staging labels moved, or when the wait ends. Each secret
// is read as DescribeSecret reads it, with that operation's IAM action; the call needs no
// action of its own. docs/extensions.md describes it.
const WatchOperation = "WatchSecrets"

// Bounds of WatchSecrets.
const (
	// maxWatchedSecrets is what one agent holds at most (the AWS agent's cache size).
	maxWatchedSecrets   = 1000
	maxWatchStages      = 100 // versions named per secret
	defaultWatchSeconds = 20
	maxWatchSeconds     = 60
	// maxWatches bounds the watches a server holds open at once; beyond it a call is
	// throttled, and the caller's TTL covers for it.
	maxWatches = 1000
	// watchMinGap is the least time between two reads of a watch's secrets, however busy
	// the server's writes are. On SQLite the reads are served by the store's read cache.
	watchMinGap = 250 * time.Millisecond
	// watchPoll is how often a watch reads its secrets when this server changed nothing:
	// for the changes other servers sharing the store make, and for those that come from
	// no call (a key's state, a policy). Each secret beyond the first 100 adds 10 ms, so
	// that a large watch costs no more reads per second than 100 secrets a second.
	watchPoll          = time.Second
	watchPollPerSecret = 10 * time.Millisecond
)

// watchPollFor returns watchPoll for a watch of n secrets.
func watchPollFor(n int) time.Duration {
	return watchPoll + time.Duration(max(n-100, 0))*watchPollPerSecret
}

// changeSignal returns a channel that is closed at the next change signalChange announces.
func (h *Handler) changeSignal() <-chan struct{} {
	h.changedMu.Lock()
	defer h.changedMu.Unlock()
	if h.changed == nil {
		h.changed = make(chan struct{})
	}
	return h.changed
}

// signalChange wakes the watches: a call of this server changed something.
func (h *Handler) signalChange() {
	h.changedMu.Lock()
	defer h.changedMu.Unlock()
	if h.changed != nil {
		close(h.changed)
		h.changed = nil
	}
}

type watchedIn struct {
	SecretId           *string             //nolint:revive // AWS's naming
	VersionIdsToStages map[string][]string //nolint:revive // AWS's naming
}

type watchIn struct {
	Secrets     []watchedIn
	WaitSeconds *int
}

type watchChanged struct {
	SecretId           string              `json:"SecretId"` //nolint:revive // AWS's naming
	ARN                string              `json:"ARN"`
	VersionIdsToStages map[string][]string `json:"VersionIdsToStages"`
}

type watchUnavailable struct {
	SecretId string `json:"SecretId"` //nolint:revive // AWS's naming
}

type watchOut struct {
	Changed     []watchChanged     `json:"Changed"`
	Unavailable []watchUnavailable `json:"Unavailable"`
}

// EndWatches makes the watches under way answer now, and those that come later answer at
// once: for a shutdown (http.Server.RegisterOnShutdown) or a seal, which wait for the
// requests under way.
func (h *Handler) EndWatches() {
	h.watchOnce.Do(func() { close(h.watchStop) })
}

// watchDeadlineKey carries, in a WatchSecrets request's context, the function that gives
// the request the time its wait needs past the server's WriteTimeout.
type watchDeadlineKey struct{}

// withWatchDeadline prepares, for a request naming WatchSecrets, the longer write deadline
// that watchSecrets sets once the caller is authenticated and the input valid: an
// unauthenticated request gets the server's ordinary WriteTimeout.
func withWatchDeadline(ctx context.Context, w http.ResponseWriter, r *http.Request) context.Context {
	if r.Header.Get("X-Amz-Target") != ExtensionPrefix+"."+WatchOperation {
		return ctx
	}
	return context.WithValue(ctx, watchDeadlineKey{}, func() {
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add((maxWatchSeconds + 30) * time.Second))
	})
}

func (h *Handler) watchSecrets(ctx context.Context, ns coffer.Namespace, body []byte) (any, error) {
	var in watchIn
	if err := awsapi.Decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.Secrets) == 0 || len(in.Secrets) > maxWatchedSecrets {
		return nil, coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value at 'secrets' failed to satisfy constraint: Member must have length between 1 and %d", maxWatchedSecrets)
	}
	wait := defaultWatchSeconds
	if in.WaitSeconds != nil {
		wait = *in.WaitSeconds
		if wait < 0 || wait > maxWatchSeconds {
			return nil, coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value '%d' at 'waitSeconds' failed to satisfy constraint: Member must have value between 0 and %d", wait, maxWatchSeconds)
		}
	}
	for i, s := range in.Secrets {
		if s.SecretId == nil || *s.SecretId == "" || len(*s.SecretId) > 2048 {
			return nil, coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value at 'secrets.%d.member.secretId' failed to satisfy constraint: Member must have length between 1 and 2048", i+1)
		}
		if len(s.VersionIdsToStages) > maxWatchStages {
			return nil, coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value at 'secrets.%d.member.versionIdsToStages' failed to satisfy constraint: Map must have at most %d entries", i+1, maxWatchStages)
		}
		for _, stages := range s.VersionIdsToStages {
			if len(stages) > 20 {
				return nil, coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value at 'secrets.%d.member.versionIdsToStages' failed to satisfy constraint: A version has at most 20 staging labels", i+1)
			}
		}
	}
	if h.watches.Add(1) > h.maxWatches {
		h.watches.Add(-1)
		return nil, coffer.Errorf(coffer.ErrThrottling, "Rate exceeded: too many watches are open; retry later")
	}
	defer h.watches.Add(-1)
	if extend, ok := ctx.Value(watchDeadlineKey{}).(func()); ok {
		extend()
	}

	deadline := time.NewTimer(time.Duration(wait) * time.Second)
	defer deadline.Stop()
	poll := time.NewTimer(0)
	defer poll.Stop()
	// wait returns false when the watch must answer now: its time is up, the caller went
	// away (its answer is not read), or the server ends its watches.
	wake := func(c <-chan struct{}, t *time.Timer) bool {
		select {
		case <-c:
		case <-t.C:
		case <-deadline.C:
			return false
		case <-ctx.Done():
			return false
		case <-h.watchStop:
			return false
		}
		return true
	}
	for {
		// Taken before the round, so that a change during the round is not missed.
		changed := h.changeSignal()
		out, err := h.watchRound(ctx, ns, in.Secrets)
		if err != nil || len(out.Changed) > 0 || len(out.Unavailable) > 0 {
			return out, err
		}
		poll.Reset(watchMinGap)
		if !wake(nil, poll) {
			return out, nil
		}
		poll.Reset(watchPollFor(len(in.Secrets)) - watchMinGap)
		if !wake(changed, poll) {
			return out, nil
		}
	}
}

// watchRound reads each secret once. A secret the caller may not describe and one that
// does not exist (or is scheduled for deletion) are both Unavailable, with nothing but the
// id as the caller wrote it.
func (h *Handler) watchRound(ctx context.Context, ns coffer.Namespace, secrets []watchedIn) (*watchOut, error) {
	out := &watchOut{Changed: []watchChanged{}, Unavailable: []watchUnavailable{}}
	for _, s := range secrets {
		d, err := h.cfg.Secrets.DescribeSecret(ctx, ns, &core.DescribeSecretInput{SecretId: s.SecretId})
		if err != nil {
			switch coffer.ErrorCode(err) {
			case coffer.ErrAccessDenied, coffer.ErrResourceNotFound, coffer.ErrInvalidRequest, coffer.ErrValidation, coffer.ErrInvalidParameter:
				out.Unavailable = append(out.Unavailable, watchUnavailable{SecretId: *s.SecretId})
				continue
			}
			return nil, err
		}
		if d.Secret.Deleted() {
			out.Unavailable = append(out.Unavailable, watchUnavailable{SecretId: *s.SecretId})
			continue
		}
		now := map[string][]string{}
		for _, v := range d.Versions {
			now[v.VersionID] = slices.Clone(v.Stages)
		}
		if !sameStages(now, s.VersionIdsToStages) {
			out.Changed = append(out.Changed, watchChanged{SecretId: *s.SecretId, ARN: d.Secret.ARN, VersionIdsToStages: now})
		}
	}
	return out, nil
}

// sameStages compares two maps from version id to staging labels, ignoring the labels'
// order and versions without a label.
func sameStages(a, b map[string][]string) bool {
	count := func(m map[string][]string) int {
		n := 0
		for _, s := range m {
			if len(s) > 0 {
				n++
			}
		}
		return n
	}
	if count(a) != count(b) {
		return false
	}
	for id, sa := range a {
		if len(sa) == 0 {
			continue
		}
		sb := b[id]
		x, y := slices.Clone(sa), slices.Clone(sb)
		slices.Sort(x)
		slices.Sort(y)
		if !slices.Equal(slices.Compact(x), slices.Compact(y)) {
			return false
		}
	}
	return true
}
