package postgres

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestKeyQueue: holders of one key go one at a time in the order they came; other keys do
// not wait; a waiter whose context ends leaves the queue; no key stays behind.
func TestKeyQueue(t *testing.T) {
	var q keyQueue
	ctx := t.Context()
	unlockA, err := q.lock(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	unlockB, err := q.lock(ctx, "b") // another key: no wait
	if err != nil {
		t.Fatal(err)
	}
	unlockB()

	// Waiters for "a", queued one after another, get it in that order.
	var (
		mu    sync.Mutex
		order []int
		wg    sync.WaitGroup
	)
	waiters := func() int {
		q.mu.Lock()
		defer q.mu.Unlock()
		if k := q.held["a"]; k != nil {
			return k.waiters
		}
		return 0
	}
	for i := range 5 {
		wg.Go(func() {
			unlock, err := q.lock(ctx, "a")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			unlock()
		})
		for deadline := time.Now().Add(5 * time.Second); waiters() != i+2 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	// One more whose context ends while it waits.
	cctx, cancel := context.WithCancel(ctx)
	cancelled := make(chan error, 1)
	go func() {
		_, err := q.lock(cctx, "a")
		cancelled <- err
	}()
	for deadline := time.Now().Add(5 * time.Second); waiters() != 7 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Errorf("lock after its context ended: %v, want context.Canceled", err)
	}
	mu.Lock()
	if len(order) != 0 {
		t.Errorf("waiters went on while the key was held: %v", order)
	}
	mu.Unlock()
	unlockA()
	wg.Wait()
	if want := []int{0, 1, 2, 3, 4}; !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	if len(q.held) != 0 {
		t.Errorf("%d keys held after every holder left", len(q.held))
	}
}
