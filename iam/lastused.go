package iam

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsquery"
)

// When each access key was last used, as IAM keeps it (a day, a service, a region): a request
// never writes; MarkKeyUsed leaves a mark in memory and RunKeyUsageRecorder writes the marks
// in the background, at most once a day per key (and before GetAccessKeyLastUsed answers).

type keyUsage struct {
	Day     time.Time `json:"day"`
	Service string    `json:"service"`
	Region  string    `json:"region"`
}

type usageLog struct {
	mu       sync.Mutex
	flushing sync.Mutex
	pending  map[string]keyUsage
	written  map[string]time.Time // the day last written, per key
}

func lastUsedMeta(id string) string { return "access-key-last-used/" + id }

// MarkKeyUsed records that access key id signed a request for service in region.
func (s *Service) MarkKeyUsed(id, service, region string) {
	day := s.now().UTC().Truncate(24 * time.Hour)
	u := &s.usage
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.written[id].Equal(day) {
		return
	}
	if _, ok := u.pending[id]; ok {
		return
	}
	if u.pending == nil {
		u.pending = map[string]keyUsage{}
	}
	if len(u.pending) < 100_000 {
		u.pending[id] = keyUsage{Day: day, Service: service, Region: region}
	}
}

// flushUsage writes the pending marks.
func (s *Service) flushUsage(ctx context.Context) {
	u := &s.usage
	u.flushing.Lock()
	defer u.flushing.Unlock()
	u.mu.Lock()
	marks := u.pending
	u.pending = map[string]keyUsage{}
	u.mu.Unlock()
	if len(marks) == 0 {
		return
	}
	err := s.store.Update(ctx, func(tx coffer.Tx) error {
		for id, m := range marks {
			if _, err := tx.AccessKey(id); coffer.IsNotFound(err) {
				continue // deleted since
			} else if err != nil {
				return err
			}
			b, _ := json.Marshal(m)
			if err := tx.PutMeta(lastUsedMeta(id), b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.log.Warn("recording access keys' last use", "keys", len(marks), "err", err)
		return
	}
	u.mu.Lock()
	if u.written == nil {
		u.written = map[string]time.Time{}
	}
	for id, m := range marks {
		u.written[id] = m.Day
	}
	if len(u.written) > 200_000 {
		clear(u.written)
	}
	u.mu.Unlock()
}

// RunKeyUsageRecorder writes access keys' last use every few seconds until ctx is done, then
// what is left.
func (s *Service) RunKeyUsageRecorder(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.flushUsage(context.WithoutCancel(ctx))
			return
		case <-t.C:
			s.flushUsage(ctx)
		}
	}
}

type lastUsedXML struct {
	LastUsedDate string `xml:",omitempty"`
	ServiceName  string
	Region       string
}

type lastUsedResult struct {
	UserName          string
	AccessKeyLastUsed lastUsedXML
}

func (s *Service) getAccessKeyLastUsed(ctx context.Context, c Caller, q *awsquery.Request) (any, error) {
	p := &params{q: q}
	id := p.str("AccessKeyId", "accessKeyId", true, 16, 128, accessKeyIDPatten)
	if err := p.v.err(); err != nil {
		return nil, err
	}
	s.flushUsage(ctx)
	out := &lastUsedResult{AccessKeyLastUsed: lastUsedXML{ServiceName: "N/A", Region: "N/A"}}
	err := s.view(ctx, func(tx coffer.Tx) error {
		k, err := tx.AccessKey(id)
		if coffer.IsNotFound(err) || err == nil && k.Account != c.Account {
			return coffer.Errorf(ErrNoSuchEntity, "The Access Key with id %s cannot be found.", id)
		}
		if err != nil {
			return err
		}
		if i := strings.Index(k.PrincipalARN, ":user/"); i >= 0 {
			out.UserName = k.PrincipalARN[lastSlash(k.PrincipalARN)+1:]
		}
		b, err := tx.Meta(lastUsedMeta(id))
		if coffer.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		var m keyUsage
		if json.Unmarshal(b, &m) == nil {
			out.AccessKeyLastUsed = lastUsedXML{LastUsedDate: isoTime(m.Day), ServiceName: m.Service, Region: m.Region}
		}
		return nil
	})
	return out, err
}
