package postgres

import (
	"context"
	"sync"
)

// keyQueue lets one holder of each key at a time go on, the others waiting in the order they
// came. Its zero value is ready; keys nobody holds or waits for take no memory.
type keyQueue struct {
	mu   sync.Mutex
	held map[string]*keyTurn
}

// keyTurn is a held key: turn has room for one, and its holder fills it; waiters counts
// those holding or waiting for it.
type keyTurn struct {
	turn    chan struct{}
	waiters int
}

// lock waits until key is free, or until ctx ends (its error). unlock lets the next waiter
// go on.
func (q *keyQueue) lock(ctx context.Context, key string) (unlock func(), err error) {
	q.mu.Lock()
	k := q.held[key]
	if k == nil {
		if q.held == nil {
			q.held = make(map[string]*keyTurn)
		}
		k = &keyTurn{turn: make(chan struct{}, 1)}
		q.held[key] = k
	}
	k.waiters++
	q.mu.Unlock()
	select {
	case k.turn <- struct{}{}:
		return func() { <-k.turn; q.leave(key, k) }, nil
	case <-ctx.Done():
		q.leave(key, k)
		return nil, ctx.Err()
	}
}

// leave ends a holder's or waiter's interest in key, and forgets the key after the last.
func (q *keyQueue) leave(key string, k *keyTurn) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if k.waiters--; k.waiters == 0 {
		delete(q.held, key)
	}
}
