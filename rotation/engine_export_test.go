package rotation

import "context"

// What the engine's external tests need from inside the package.

// HoldLease is holdLease: it takes or renews the scheduling lease and reports whether the
// engine holds it.
func (e *Engine) HoldLease(ctx context.Context) (bool, error) { return e.holdLease(ctx) }
