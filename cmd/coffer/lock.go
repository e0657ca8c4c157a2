//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockFile is the data directory's lock: a server on PostgreSQL holds it shared (several may
// serve one store), a server on SQLite (the only writer its read cache allows) and an offline
// operator verb exclusively, so that a root rotation or a seal migration never runs beside a
// server that holds the old key.
const lockFile = "coffer.lock"

// lockData takes the lock of the data directory dir, without waiting, exclusive or shared.
// unlock releases it.
func lockData(dir string, exclusive bool) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock the data directory: %w", err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			if exclusive {
				return nil, fmt.Errorf("a coffer server or operator verb is using %s: stop it first", dir)
			}
			return nil, fmt.Errorf("a coffer operator verb is working on %s: wait for it to finish", dir)
		}
		return nil, fmt.Errorf("lock the data directory: %w", err)
	}
	return func() { f.Close() }, nil
}
