package core

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coffer-project/coffer"
)

// Last access dates, as AWS keeps them: a day, for the secret and for the version read. A
// read never writes: GetSecretValue leaves a mark in memory, and marks are written in short
// transactions by RunAccessRecorder in the background, or just before an operation that shows
// access dates (DescribeSecret, ListSecrets, ListSecretVersionIds), so that a client always
// sees its own reads. Each secret and version is written at most once a day.

// maxPendingAccess bounds the marks kept in memory; past it, marks are dropped and the next
// read of the secret leaves a new one.
const maxPendingAccess = 100_000

type accessKey struct{ arn, versionID string }

type accessLog struct {
	// flushing is held from taking the marks until they are written, so that an operation
	// that flushes while the recorder is writing waits for that write and sees its marks.
	flushing sync.Mutex
	mu       sync.Mutex
	pending  map[accessKey]time.Time // the day read
	wake     chan struct{}
}

func newAccessLog() *accessLog {
	return &accessLog{pending: make(map[accessKey]time.Time), wake: make(chan struct{}, 1)}
}

func (a *accessLog) mark(arn, versionID string, now time.Time) {
	a.mu.Lock()
	if len(a.pending) < maxPendingAccess {
		a.pending[accessKey{arn, versionID}] = now.Truncate(24 * time.Hour)
	}
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *accessLog) take() map[accessKey]time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.pending) == 0 {
		return nil
	}
	p := a.pending
	a.pending = make(map[accessKey]time.Time)
	return p
}

// flushAccess writes the pending marks. A failure is logged and the marks are dropped: an
// access date is a hint, never worth failing a request for.
func (s *Service) flushAccess(ctx context.Context) {
	s.access.flushing.Lock()
	defer s.access.flushing.Unlock()
	marks := s.access.take()
	if marks == nil {
		return
	}
	// In the order of the secrets' keys, so that neighbouring marks find their pages in the
	// store's cache, and in transactions of at most maxAccessBatch marks, so that writes
	// queued behind one wait for a short transaction, not for every mark of the moment.
	keys := slices.SortedFunc(maps.Keys(marks), func(a, b accessKey) int {
		return cmp.Or(strings.Compare(a.arn, b.arn), strings.Compare(a.versionID, b.versionID))
	})
	for chunk := range slices.Chunk(keys, maxAccessBatch) {
		err := s.update(ctx, func(tx coffer.Tx) error {
			for _, k := range chunk {
				if err := touch(tx, k, marks[k]); err != nil && !coffer.IsNotFound(err) {
					return err
				}
			}
			return nil
		})
		if err != nil {
			s.log.Warn("recording last access dates", "secrets", len(chunk), "err", err)
		}
	}
}

// maxAccessBatch bounds the last access dates one transaction writes.
const maxAccessBatch = 256

// touch records day as the last access date of a secret and of one of its versions, unless
// they already have it (or a later one).
func touch(tx coffer.Tx, k accessKey, day time.Time) error {
	return tx.MarkAccessed(k.arn, k.versionID, day)
}

// RunAccessRecorder writes last access dates in the background, within about a second of the
// reads, until ctx is done; then it writes what is left.
func (s *Service) RunAccessRecorder(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.flushAccess(context.WithoutCancel(ctx))
			return
		case <-s.access.wake:
			// Gather the reads of the next moment into one transaction.
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			s.flushAccess(context.WithoutCancel(ctx))
		}
	}
}
