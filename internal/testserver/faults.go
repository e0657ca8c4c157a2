package testserver

import (
	"net/http"
	"strings"
	"sync"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsapi"
)

// Faults is an http.Handler in front of another that counts requests by operation (the
// X-Amz-Target after its dot, e.g. "GetSecretValue") and answers some of them itself, with
// the error shape coffer and AWS write (awsapi.WriteError), instead of passing them on.
// Every request is counted, injected failures included.
type Faults struct {
	next http.Handler

	mu       sync.Mutex
	counts   map[string]int
	throttle map[string]int // operation → how many more to answer with ThrottlingException
	down     bool
}

// NewFaults returns a Faults that passes every request to next until told otherwise.
func NewFaults(next http.Handler) *Faults {
	return &Faults{next: next, counts: map[string]int{}, throttle: map[string]int{}}
}

// Throttle answers the next n requests of operation op with HTTP 400
// {"__type":"ThrottlingException","message":"Rate exceeded"}.
func (f *Faults) Throttle(op string, n int) {
	f.mu.Lock()
	f.throttle[op] = n
	f.mu.Unlock()
}

// SetDown makes every request, while down, answered with HTTP 503
// ServiceUnavailableException, as a server that is briefly unavailable answers.
func (f *Faults) SetDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

// Count returns how many requests of operation op have arrived.
func (f *Faults) Count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[op]
}

// ServeHTTP implements http.Handler.
func (f *Faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	_, op, _ := strings.Cut(target, ".")
	f.mu.Lock()
	f.counts[op]++
	down := f.down
	throttled := !down && f.throttle[op] > 0
	if throttled {
		f.throttle[op]--
	}
	f.mu.Unlock()
	switch {
	case down:
		awsapi.WriteError(w, coffer.Errorf(coffer.ErrServiceUnavailable, "Service is unavailable."))
	case throttled:
		awsapi.WriteError(w, coffer.Errorf(coffer.ErrThrottling, "Rate exceeded"))
	default:
		f.next.ServeHTTP(w, r)
	}
}
