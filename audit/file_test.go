package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// A crash in the middle of a write leaves half a record at the end: the sink cuts it off and
// the chain goes on from the last whole record.
func TestFileSinkTornTail(t *testing.T) {
	const torn = `{"seq":99,"prev":"0000000000000000000000000000000000000000000000000000000000000000","kind":"ev`
	tests := []struct {
		name string
		tear func(t *testing.T, dir string, next uint64)
	}{
		{"half a record after the last one", func(t *testing.T, dir string, _ uint64) {
			files, err := listFiles(dir)
			if err != nil || len(files) == 0 {
				t.Fatalf("listFiles: %v, %v", files, err)
			}
			appendFile(t, filepath.Join(dir, files[len(files)-1].name), torn)
		}},
		{"a new file holding half a record", func(t *testing.T, dir string, next uint64) {
			name := fmt.Sprintf("audit-%020d-%s.jsonl", next, time.Now().UTC().Format("20060102T150405Z"))
			appendFile(t, filepath.Join(dir, name), torn)
		}},
		{"zeros after the last record", func(t *testing.T, dir string, _ uint64) {
			files, err := listFiles(dir)
			if err != nil || len(files) == 0 {
				t.Fatalf("listFiles: %v, %v", files, err)
			}
			appendFile(t, filepath.Join(dir, files[len(files)-1].name), string(make([]byte, 300)))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			key := testKey(t)
			l := openLog(t, Options{Key: key, Sinks: []Sink{openFileSink(t, FileOptions{Dir: dir})}})
			appendEvents(t, l, "a", 10)
			closeLog(t, l)
			head := l.Stats().Seq

			tt.tear(t, dir, head+1)
			if _, err := Verify(DirSource(dir), VerifyOptions{PublicKey: publicKey(key)}); err == nil {
				t.Fatal("Verify passed with a torn record at the end")
			}

			s := openFileSink(t, FileOptions{Dir: dir})
			if seq, _, _ := s.Head(); seq != head {
				t.Errorf("Head() after a torn write = %d, want %d", seq, head)
			}
			l = openLog(t, Options{Key: key, Sinks: []Sink{s}})
			appendEvents(t, l, "b", 5)
			closeLog(t, l)

			rep := verifyDir(t, dir, key)
			if rep.Events != 15 || rep.Unsigned() != 0 {
				t.Errorf("Verify: %+v; want 15 events, a signed end", rep)
			}
		})
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// Retention removes old files after anchoring the chain where the files kept begin; the
// anchor is what lets the shortened chain verify.
func TestFileSinkRetention(t *testing.T) {
	dir := t.TempDir()
	key := testKey(t)
	clock := &fakeClock{now: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)}
	fopts := FileOptions{Dir: dir, MaxAge: time.Hour, Retention: 3 * time.Hour, Now: clock.Now,
		Anchor: func(seq uint64, hash string) *Digest {
			return SignDigest(key, testServer, seq, hash, FormatTimeMilli(clock.Now()))
		}}
	l := openLog(t, Options{Key: key, DigestEvery: 4, Now: clock.Now, Sinks: []Sink{openFileSink(t, fopts)}})
	const hours = 8
	for h := range hours {
		appendEvents(t, l, fmt.Sprintf("h%d-", h), 5)
		clock.Advance(time.Hour)
	}
	closeLog(t, l)

	files, err := listFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) >= hours || len(files) < 3 {
		t.Errorf("%d files after %d hourly rotations with a retention of 3 h; want the old ones removed", len(files), hours)
	}
	for _, f := range files {
		if age := clock.Now().Sub(f.created); age > 5*time.Hour {
			t.Errorf("file %s, %v old, was kept", f.name, age)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, AnchorFile)); err != nil {
		t.Fatalf("no anchor: %v", err)
	}
	rep := verifyDir(t, dir, key)
	if !rep.Anchored || rep.FirstSeq <= 1 || rep.FirstSeq != files[0].firstSeq || rep.Unsigned() != 0 {
		t.Errorf("Verify: %+v; want a chain anchored before record %d, signed to its end", rep, files[0].firstSeq)
	}

	// A log reopened over the shortened chain goes on from its end.
	l = openLog(t, Options{Key: key, Now: clock.Now, Sinks: []Sink{openFileSink(t, fopts)}})
	appendEvents(t, l, "more", 3)
	closeLog(t, l)
	if rep2 := verifyDir(t, dir, key); rep2.LastSeq != rep.LastSeq+4 || !rep2.Anchored {
		t.Errorf("Verify after reopening: %+v; want 3 events and a digest after record %d", rep2, rep.LastSeq)
	}

	// Without its anchor, the chain lacks its beginning.
	if err := os.Remove(filepath.Join(dir, AnchorFile)); err != nil {
		t.Fatal(err)
	}
	_, err = Verify(DirSource(dir), VerifyOptions{PublicKey: publicKey(key)})
	var p *Problem
	if !errors.As(err, &p) || p.Kind != "removed" || p.Seq != 1 {
		t.Errorf("Verify without the anchor: %v; want record 1 removed", err)
	}
}

// A file sink's records come back in order, from any point, up to a limit.
func TestFileSinkRecords(t *testing.T) {
	dir := t.TempDir()
	key := testKey(t)
	l := openLog(t, Options{Key: key, Sinks: []Sink{openFileSink(t, FileOptions{Dir: dir, MaxBytes: 2000})}})
	appendEvents(t, l, "e", 30)
	closeLog(t, l)
	files, err := listFiles(dir)
	if err != nil || len(files) < 3 {
		t.Fatalf("%d files (%v); want the chain spread over several", len(files), err)
	}
	s := openFileSink(t, FileOptions{Dir: dir})
	defer s.Close()
	for _, after := range []uint64{0, 1, files[1].firstSeq - 1, files[1].firstSeq, 29, 31} {
		recs, err := s.Records(after, 4)
		if err != nil {
			t.Fatalf("Records(%d, 4): %v", after, err)
		}
		var got []uint64
		for _, r := range recs {
			got = append(got, r.Seq)
		}
		var want []uint64
		for seq := after + 1; seq <= 31 && len(want) < 4; seq++ {
			want = append(want, seq)
		}
		if !slices.Equal(got, want) {
			t.Errorf("Records(%d, 4) = %v, want %v", after, got, want)
		}
	}
}
