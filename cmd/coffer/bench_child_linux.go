package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// benchSysProcAttr makes the kernel kill a child of coffer bench when its parent dies. The
// signal follows the death of the thread that started the child; Go's runtime does not end
// its threads while the program runs, save those of goroutines that exit while locked to
// one, which the bench never does.
func benchSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// procCPU returns the CPU time (user and system, every thread) the process pid has used: the
// utime and stime fields of /proc/<pid>/stat, in clock ticks of USER_HZ, which is 100 on
// every Linux ABI (the 10 ms resolution is a few parts in a thousand of a measured run).
func procCPU(pid int) (time.Duration, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	// After the name: state (field 3), ..., utime (14), stime (15).
	return ticks(pid, f[11:13]...)
}

// statFields returns the fields of /proc/<pid>/stat after the command name, the first of
// them the state (field 3).
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	// The command name, in parentheses, may hold spaces: the fields count from after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return nil, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	return f, nil
}

// ticks sums fields (clock ticks) as a duration.
func ticks(pid int, fields ...string) (time.Duration, error) {
	var n int64
	for _, s := range fields {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		n += v
	}
	return time.Duration(n) * (time.Second / 100), nil
}

// treeCPU returns the CPU time the process pid and its children have used: its own utime
// and stime, the cutime and cstime of the children it has reaped, and the utime and stime of
// those that run. A child that ends between the reads is counted at the next one instead.
func treeCPU(pid int) (time.Duration, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	// After the name: utime (field 14), stime, cutime, cstime (17).
	total, err := ticks(pid, f[11:15]...)
	if err != nil {
		return 0, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	parent := strconv.Itoa(pid)
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		cf, err := statFields(child)
		if err != nil || cf[1] != parent { // ppid (field 4); a process gone meanwhile is skipped
			continue
		}
		if d, err := ticks(child, cf[11:13]...); err == nil {
			total += d
		}
	}
	return total, nil
}

// postmasterOf returns the PostgreSQL server process whose backend is pid on this machine:
// the backend's parent, when both are named postgres (or postmaster).
func postmasterOf(backend int) (int, error) {
	isPostgres := func(pid int) bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		name := strings.TrimSpace(string(b))
		return err == nil && (name == "postgres" || name == "postmaster")
	}
	if !isPostgres(backend) {
		return 0, fmt.Errorf("process %d is not a PostgreSQL backend on this machine", backend)
	}
	f, err := statFields(backend)
	if err != nil {
		return 0, err
	}
	pm, err := strconv.Atoi(f[1])
	if err != nil || !isPostgres(pm) {
		return 0, fmt.Errorf("the parent of PostgreSQL backend %d is not its server process", backend)
	}
	return pm, nil
}

// selfCPU returns the CPU time this process has used (getrusage), every thread.
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// peakRSS returns the peak resident memory of the process pid, in KiB: VmHWM in
// /proc/<pid>/status.
func peakRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// residentFraction returns the fraction of path's pages that the page cache holds: the file
// mapped (not read: mapping it faults nothing in) and asked with mincore(2).
func residentFraction(path string) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if st.Size() == 0 {
		return 1, nil
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return 0, fmt.Errorf("mmap %s: %w", path, err)
	}
	defer unix.Munmap(m)
	page := int64(os.Getpagesize())
	vec := make([]byte, (st.Size()+page-1)/page)
	// x/sys/unix has no mincore for Linux.
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		return 0, fmt.Errorf("mincore %s: %w", path, errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return float64(n) / float64(len(vec)), nil
}
