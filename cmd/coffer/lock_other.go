//go:build !unix

package main

// lockData does nothing where flock(2) is missing: stop the server before an offline verb.
func lockData(string, bool) (func(), error) { return func() {}, nil }
