package coffer

import (
	"context"
	"errors"
	"sync"
)

// AuthzCheck is a check of the access-control generation (AuthzGenerationMeta) that a server
// sharing its store with others hands to the store with a call's context (WithAuthzCheck),
// rather than read the generation in a round trip of its own before the call: a store that is
// an AuthzChecker reads it beside the first statement of the call's first transaction, in the
// same round trip and snapshot, and when it is not Want fails that statement, and every later
// one and the commit of that transaction, with ErrStaleAuthz. The server then empties its
// access-control caches and runs the call again. A write never commits under access control
// older than its own snapshot: every later write transaction of the call (another Update, or
// an Update's attempt after a serialization failure) reads the generation again (Recheck).
type AuthzCheck struct {
	// Want is the generation the server's access-control caches hold.
	Want string

	mu      sync.Mutex
	started bool
	done    chan struct{} // closed when the store has the answer
	got     string
	failed  error
	wrote   string // the generation a transaction under the check wrote last (Wrote)
}

// ErrStaleAuthz is the error of a statement whose transaction found the access-control
// generation changed since the server's caches were filled (AuthzCheck).
var ErrStaleAuthz = errors.New("access control changed since the caches were filled")

// AuthzChecker is a store that honours an AuthzCheck in the contexts of its transactions.
type AuthzChecker interface {
	ChecksAuthz()
}

type authzCheckKey struct{}

// WithAuthzCheck returns ctx carrying c.
func WithAuthzCheck(ctx context.Context, c *AuthzCheck) context.Context {
	c.done = make(chan struct{})
	return context.WithValue(ctx, authzCheckKey{}, c)
}

// AuthzCheckFrom returns the check ctx carries, or nil.
func AuthzCheckFrom(ctx context.Context) *AuthzCheck {
	c, _ := ctx.Value(authzCheckKey{}).(*AuthzCheck)
	return c
}

// Start reports whether the caller (a store's first transaction under the context) is to
// read the generation: true once, for the first caller.
func (c *AuthzCheck) Start() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return false
	}
	c.started = true
	return true
}

// Finish records what the store read (got; err when it could not read it) and returns
// ErrStaleAuthz when got is not Want, or err.
func (c *AuthzCheck) Finish(got string, err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = got
	switch {
	case err != nil:
		c.failed = err
	case got != c.Want:
		c.failed = ErrStaleAuthz
	}
	close(c.done)
	return c.failed
}

// Recheck records what a later write transaction of the call read (got; err when it could not
// read it), and returns ErrStaleAuthz when got is not Want, or err; from then on the check has
// failed (Wait, Outcome), as if the first transaction had found it so. The server then runs
// the whole call again, which is safe because a call commits at most one write transaction
// that matters: an Update's earlier attempts committed nothing, and the only writes a call
// may commit before another are the access dates a read flushes, which are the same again.
func (c *AuthzCheck) Recheck(got string, err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed == nil {
		switch {
		case err != nil:
			c.failed = err
		case got != c.Want:
			c.got, c.failed = got, ErrStaleAuthz
		}
	}
	return c.failed
}

// Wrote records gen, the generation a write transaction under the check wrote
// (BumpAuthzGeneration), which a store running the check only lets happen after the check
// passed in that transaction. When the call succeeds and the store still holds gen, no other
// server changed access control since the check: the server's caches, which its own write
// emptied of what it changed, stand for gen (Written).
func (c *AuthzCheck) Wrote(gen string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wrote = gen
}

// Written returns the generation Wrote recorded last, "" for none.
func (c *AuthzCheck) Written() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wrote
}

// Wait waits for the answer of a check that was started, and returns what Finish returned;
// it returns at once when no store started it.
func (c *AuthzCheck) Wait(ctx context.Context) error {
	c.mu.Lock()
	started := c.started
	c.mu.Unlock()
	if !started {
		return nil
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

// Outcome reports whether a store ran the check, and if so, the generation it read and
// whether that was Want.
func (c *AuthzCheck) Outcome() (done bool, got string, fresh bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		return true, c.got, c.failed == nil
	default:
		return false, "", false
	}
}
