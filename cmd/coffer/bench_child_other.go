//go:build !linux

package main

import (
	"errors"
	"syscall"
	"time"
)

// benchSysProcAttr returns nil: outside Linux a child of coffer bench ends when its standard
// input closes, which its parent's death does too.
func benchSysProcAttr() *syscall.SysProcAttr { return nil }

// procCPU is measured only on Linux.
func procCPU(int) (time.Duration, error) { return 0, errors.New("measured only on Linux") }

// selfCPU is measured only on Linux.
func selfCPU() (time.Duration, error) { return 0, errors.New("measured only on Linux") }

// treeCPU is measured only on Linux.
func treeCPU(int) (time.Duration, error) { return 0, errors.New("measured only on Linux") }

// postmasterOf is known only on Linux.
func postmasterOf(int) (int, error) { return 0, errors.New("known only on Linux") }

// peakRSS is measured only on Linux.
func peakRSS(int) (int64, error) { return 0, errors.New("measured only on Linux") }

// residentFraction is measured only on Linux.
func residentFraction(string) (float64, error) { return 0, errors.New("measured only on Linux") }
