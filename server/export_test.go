package server

// SetMaxWatches lowers the watches h holds at once, for the test of the throttle.
func SetMaxWatches(h *Handler, n int64) { h.maxWatches = n }
