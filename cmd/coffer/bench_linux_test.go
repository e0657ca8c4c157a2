package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestBenchPageCache: a file whose pages the kernel dropped is read back into the page cache
// whole, and residentFraction sees both.
func TestBenchPageCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffer.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(bytes.Repeat([]byte("0123456789abcdef"), 1<<18)); err != nil { // 4 MiB
		t.Fatal(err)
	}
	// Written back, its pages are clean, and DONTNEED drops them.
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if r, err := residentFraction(path); err != nil || r > 0.5 {
		t.Fatalf("after DONTNEED: resident %v, %v; want at most half", r, err)
	}
	if err := warmPageCache(path, path+"-wal"); err != nil { // no WAL: skipped
		t.Fatal(err)
	}
	if r, err := residentFraction(path); err != nil || r != 1 {
		t.Errorf("after warmPageCache: resident %v, %v; want 1", r, err)
	}
	if err := warmPageCache(t.TempDir()); err == nil {
		t.Error("warmPageCache of a directory: no error")
	}
	if note := pageCacheNote("coffer.db", 3<<20, pageCacheAsIs, []pageCacheRun{{16, 1, 0.25, 0.5}, {1, 1, -1, 1}}); note !=
		"page cache: coffer.db (3.0 MiB) left as it was (--page-cache as-is); resident at each run's start → end: 16 conns run 1 25 % → 50 %, 1 conn run 1 unknown → 100 %" {
		t.Errorf("note: %q", note)
	}
}
