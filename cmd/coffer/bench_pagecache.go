package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// The page cache of a kept data directory. A random read of a million secrets touches a
// database of gigabytes, and whether its pages come from the operating system's page cache or
// from the disk changes the figure more than anything coffer does: on some VMs the page cache
// gives a file up within a minute with most of the memory free (a million's 1.7 GB
// coffer.db, read whole, held 1.5 GB and 30 s later 1.2 GB). So before each run of a child
// server on a kept --data directory, the bench reads its database into the page cache, as a
// server running for a while would find it, and reports how much of it the page cache held
// at each run's start and end.

// pageCacheFlag values.
const (
	pageCacheWarm = "warm"  // read the database before each run
	pageCacheAsIs = "as-is" // leave the page cache as it is, and only report it
)

// pageCacheRun is what the page cache held of the database at one run's start and end: a
// fraction of the file's pages, or -1 when it could not be measured.
type pageCacheRun struct {
	conns      int
	run        int
	start, end float64
}

// warmPageCache reads each file whole, so that the page cache holds it; a missing file (the
// WAL, after a checkpoint truncated it away) is skipped.
func warmPageCache(paths ...string) error {
	for _, p := range paths {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("bench: reading %s into the page cache: %w", p, err)
		}
	}
	return nil
}

// residentOrNone is residentFraction, -1 when it cannot be measured.
func residentOrNone(path string) float64 {
	r, err := residentFraction(path)
	if err != nil {
		return -1
	}
	return r
}

// pageCacheNote returns the line that says what the page cache held of file over runs.
func pageCacheNote(file string, size int64, mode string, runs []pageCacheRun) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "page cache: %s (%.1f MiB) ", file, float64(size)/(1<<20))
	if mode == pageCacheWarm {
		sb.WriteString("read into it before each run; ")
	} else {
		sb.WriteString("left as it was (--page-cache as-is); ")
	}
	sb.WriteString("resident at each run's start → end:")
	for i, r := range runs {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, " %s %s → %s", runLabel(r.conns, r.run), percent(r.start), percent(r.end))
	}
	return sb.String()
}

// runLabel names a run in the lines after a series: "16 conns run 2", "1 conn run 1".
func runLabel(conns, run int) string {
	unit := "conns"
	if conns == 1 {
		unit = "conn"
	}
	return fmt.Sprintf("%d %s run %d", conns, unit, run)
}

// percent prints a fraction as a whole percentage, "unknown" for -1.
func percent(f float64) string {
	if f < 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.0f %%", 100*f)
}
