package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

const pendingID = "00000000-0000-4000-8000-000000000002"

// backendPID returns the PostgreSQL backend that runs ptx.
func backendPID(ctx context.Context, ptx coffer.Tx) (int32, error) {
	var pid int32
	err := ptx.(*tx).tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid)
	return pid, err
}

// waitBlockedBy waits until a backend waits for a lock that pid holds, and reports whether
// one did before done was closed or 10 s went by.
func waitBlockedBy(t *testing.T, s *Store, pid int32, done <-chan struct{}) bool {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE $1 = ANY (pg_blocking_pids(pid))`, pid).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return true
		}
		select {
		case <-done:
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
	return false
}

// TestOneSecretUpdateLocksTheSecret: after coffer.OneSecretUpdate, a lookup locks the
// secret's row, so a second such Update of the secret (here from another server) waits for
// the first; and when the first commits a write of the secret's versions that leaves its
// row alone (a placeholder labelled AWSPENDING), the second runs again and sees it, rather
// than going on with a snapshot taken before it.
func TestOneSecretUpdateLocksTheSecret(t *testing.T) {
	s1, dsn := openFresh(t)
	s2, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	ns, sec := withCurrent(t, s1, "locked")
	ctx := coffer.OneSecretUpdate(t.Context(), "locked")
	pid, release, firstDone := holdPending(t, s1, ctx, ns, sec)
	second := readPending(s2, ctx, ns, sec)
	blocked := waitBlockedBy(t, s1, pid, second.ended)
	release()
	if err := <-firstDone; err != nil {
		t.Fatalf("first Update: %v", err)
	}
	<-second.ended
	if !blocked {
		t.Error("the second Update's lookup of the secret did not wait for the first's lock")
	}
	if second.err != nil {
		t.Fatalf("second Update: %v", second.err)
	}
	if second.runs != 2 || !second.sawPending {
		t.Errorf("second Update: fn ran %d times, its last run saw the first's version: %v; want 2 runs, the last seeing it", second.runs, second.sawPending)
	}
}

// holdPending starts an Update of sec after ctx that looks it up and adds a version
// labelled AWSPENDING, and whose first run, before it returns, waits for release. It
// returns once that run waits, with its backend's pid.
func holdPending(t *testing.T, s *Store, ctx context.Context, ns coffer.Namespace, sec *coffer.Secret) (pid int32, release func(), done <-chan error) {
	t.Helper()
	held := make(chan int32, 1)
	let := make(chan struct{})
	firstDone := make(chan error, 1)
	go func() {
		first := true
		firstDone <- s.Update(ctx, func(ptx coffer.Tx) error {
			if _, err := ptx.SecretByName(ns, sec.Name); err != nil {
				return err
			}
			pid, err := backendPID(ctx, ptx)
			if err != nil {
				return err
			}
			v := &coffer.Version{SecretARN: sec.ARN, VersionID: pendingID, CreatedDate: time.Now().UTC().Truncate(time.Millisecond),
				WrappedKey: []byte{}, Ciphertext: []byte{}}
			if err := ptx.InsertVersion(v); err != nil {
				return err
			}
			if err := ptx.SetStage(sec.ARN, coffer.StagePending, pendingID); err != nil {
				return err
			}
			if first {
				first = false
				held <- pid
				<-let
			}
			return nil
		})
	}()
	select {
	case pid = <-held:
	case err := <-firstDone:
		t.Fatalf("first Update: %v", err)
	}
	return pid, sync.OnceFunc(func() { close(let) }), firstDone
}

// pendingReader is an Update that looks a secret up and reads its versions' headers.
type pendingReader struct {
	started    chan struct{} // closed when fn first runs
	ended      chan struct{} // closed when the Update returned err
	err        error
	runs       int
	sawPending bool // the last run saw the version holdPending adds
}

// readPending starts a pendingReader of sec on s after ctx.
func readPending(s *Store, ctx context.Context, ns coffer.Namespace, sec *coffer.Secret) *pendingReader {
	r := &pendingReader{started: make(chan struct{}), ended: make(chan struct{})}
	go func() {
		defer close(r.ended)
		r.err = s.Update(ctx, func(ptx coffer.Tx) error {
			if r.runs++; r.runs == 1 {
				close(r.started)
			}
			if _, err := ptx.SecretByName(ns, sec.Name); err != nil {
				return err
			}
			vs, err := ptx.VersionHeaders(sec.ARN)
			r.sawPending = slices.ContainsFunc(vs, func(v *coffer.Version) bool { return v.VersionID == pendingID })
			return err
		})
	}()
	return r
}

// TestOneSecretUpdatesSideBySide: Updates of different secrets after coffer.OneSecretUpdate
// do not wait for each other, where a Store runs its other Updates one at a time
// (TestUpdatesOneAtATime).
func TestOneSecretUpdatesSideBySide(t *testing.T) {
	s, _ := openFresh(t)
	nsA, a := withCurrent(t, s, "side/a")
	b := &coffer.Secret{ARN: coffer.SecretARN(nsA, "side/b", "AbCdEf"), Namespace: nsA, Name: "side/b", CreatedDate: a.CreatedDate}
	if err := s.Update(t.Context(), func(ptx coffer.Tx) error { return ptx.InsertSecret(b) }); err != nil {
		t.Fatal(err)
	}
	held := make(chan struct{})
	release := make(chan struct{})
	firstDone := make(chan error, 1)
	go func() {
		first := true
		firstDone <- s.Update(coffer.OneSecretUpdate(t.Context(), "side/a"), func(ptx coffer.Tx) error {
			sec, err := ptx.SecretByName(nsA, a.Name)
			if err != nil {
				return err
			}
			if first {
				first = false
				close(held)
				<-release
			}
			sec.Description = "a"
			return ptx.UpdateSecret(sec)
		})
	}()
	select {
	case <-held:
	case err := <-firstDone:
		t.Fatalf("first Update: %v", err)
	}
	secondDone := make(chan error, 1)
	go func() {
		secondDone <- s.Update(coffer.OneSecretUpdate(t.Context(), "side/b"), func(ptx coffer.Tx) error {
			sec, err := ptx.SecretByARN(b.ARN)
			if err != nil {
				return err
			}
			sec.Description = "b"
			return ptx.UpdateSecret(sec)
		})
	}()
	select {
	case err := <-secondDone:
		if err != nil {
			t.Errorf("second Update: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("an Update of another secret waited for the first")
		close(release)
		<-secondDone
		<-firstDone
		return
	}
	close(release)
	if err := <-firstDone; err != nil {
		t.Errorf("first Update: %v", err)
	}
}

// TestOneSecretUpdatesInOrder: puts of one secret from two servers at once, each moving
// AWSCURRENT to a new version and AWSPREVIOUS to the version that held it, lose none of
// each other's writes: the versions each put found current form one chain. Without a key
// every put waits at the secret's lock; with one, a server's puts queue before they begin.
func TestOneSecretUpdatesInOrder(t *testing.T) {
	for _, key := range []string{"", "chain"} {
		t.Run(fmt.Sprintf("key=%q", key), func(t *testing.T) { testOneSecretUpdatesInOrder(t, key) })
	}
}

func testOneSecretUpdatesInOrder(t *testing.T, key string) {
	s1, dsn := openFresh(t)
	s2, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	ns, sec := withCurrent(t, s1, "chain")
	ctx := coffer.OneSecretUpdate(t.Context(), key)
	const perWorker, workers = 3, 8
	var (
		mu     sync.Mutex
		before = map[string]string{} // new version → the version current before it
		wg     sync.WaitGroup
	)
	for w := range workers {
		s := []*Store{s1, s2}[w%2]
		wg.Go(func() {
			for i := range perWorker {
				id := fmt.Sprintf("00000000-0000-4000-8000-%012d", 100+w*perWorker+i)
				var prev string
				err := s.Update(ctx, func(ptx coffer.Tx) error {
					cur, err := ptx.SecretByName(ns, sec.Name)
					if err != nil {
						return err
					}
					vs, err := ptx.VersionHeaders(sec.ARN)
					if err != nil {
						return err
					}
					prev = ""
					for _, v := range vs {
						if v.HasStage(coffer.StageCurrent) {
							prev = v.VersionID
						}
					}
					v := &coffer.Version{SecretARN: sec.ARN, VersionID: id, CreatedDate: time.Now().UTC().Truncate(time.Millisecond),
						WrappedKey: []byte("k"), Ciphertext: []byte("c")}
					if err := ptx.InsertVersion(v); err != nil {
						return err
					}
					if err := ptx.SetStage(sec.ARN, coffer.StageCurrent, id); err != nil {
						return err
					}
					if err := ptx.SetStage(sec.ARN, coffer.StagePrevious, prev); err != nil {
						return err
					}
					cur.LastChangedDate = v.CreatedDate
					return ptx.UpdateSecret(cur)
				})
				if err != nil {
					t.Errorf("put %s: %v", id, err)
					return
				}
				mu.Lock()
				before[id] = prev
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// Each version was current before exactly one put, except the last put's.
	seen := map[string]string{}
	for id, prev := range before {
		if other, ok := seen[prev]; ok || prev == "" {
			t.Errorf("puts %s and %s both found %q current", id, other, prev)
		}
		seen[prev] = id
	}
	var vs []*coffer.Version
	if err := s1.View(t.Context(), func(ptx coffer.Tx) error {
		vs, err = ptx.VersionHeaders(sec.ARN)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1+workers*perWorker {
		t.Errorf("%d versions, want %d", len(vs), 1+workers*perWorker)
	}
	for _, v := range vs {
		if v.HasStage(coffer.StageCurrent) {
			if _, ok := seen[v.VersionID]; ok {
				t.Errorf("the current version %s was found current by a later put", v.VersionID)
			}
			if v.HasStage(coffer.StagePrevious) {
				t.Errorf("version %s holds both AWSCURRENT and AWSPREVIOUS", v.VersionID)
			}
		}
	}
	if _, ok := seen[currentID]; !ok {
		t.Errorf("no put found the first version %s current", currentID)
	}
}

// TestOneSecretUpdatesLeaveConnections: Updates of one secret piling up behind its lock,
// each waiting with a connection, take at most half the pool: a read of another secret
// still gets a connection.
func TestOneSecretUpdatesLeaveConnections(t *testing.T) {
	_, dsn := openFresh(t)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	s, err := Open(t.Context(), dsn+sep+"pool_max_conns=4")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ns, sec := withCurrent(t, s, "hot")
	_, other := withCurrent(t, s, "cold")
	// No key: Updates of one key would wait for each other before taking a connection.
	ctx := coffer.OneSecretUpdate(t.Context(), "")
	held := make(chan struct{})
	release := make(chan struct{})
	let := sync.OnceFunc(func() { close(release) })
	var wg sync.WaitGroup
	defer wg.Wait()
	defer let()
	for i := range 7 {
		wg.Go(func() {
			first := true
			err := s.Update(ctx, func(ptx coffer.Tx) error {
				if _, err := ptx.SecretByName(ns, sec.Name); err != nil {
					return err
				}
				if i == 0 && first {
					first = false
					close(held)
					<-release
				}
				return nil
			})
			if err != nil {
				t.Errorf("Update %d: %v", i, err)
			}
		})
		if i == 0 {
			<-held
		}
	}
	time.Sleep(200 * time.Millisecond) // the others reach the lock, or the wait for a place
	read := make(chan error, 1)
	go func() {
		read <- s.View(t.Context(), func(ptx coffer.Tx) error {
			_, err := ptx.SecretByARN(other.ARN)
			return err
		})
	}()
	select {
	case err := <-read:
		if err != nil {
			t.Errorf("View: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("a read of another secret found no connection while Updates waited for a lock")
		let()
		<-read
	}
}

// TestOneSecretUpdatesOfOneKeyQueue: a OneSecretUpdate whose key another holds in this
// process waits for it to end before its transaction begins: its fn runs once, after the
// first's commit, and sees the first's writes (without the queue it would wait at the
// secret's lock, fail to serialize and run again).
func TestOneSecretUpdatesOfOneKeyQueue(t *testing.T) {
	s, _ := openFresh(t)
	ns, sec := withCurrent(t, s, "queued")
	ctx := coffer.OneSecretUpdate(t.Context(), "queued")
	_, release, firstDone := holdPending(t, s, ctx, ns, sec)
	second := readPending(s, ctx, ns, sec)
	// The second is queued once the key has two waiters (the holder counts as one).
	queued := false
	for deadline := time.Now().Add(10 * time.Second); !queued && time.Now().Before(deadline); {
		s.keys.mu.Lock()
		queued = s.keys.held["queued"] != nil && s.keys.held["queued"].waiters == 2
		s.keys.mu.Unlock()
		select {
		case <-second.started:
			deadline = time.Time{}
		case <-time.After(time.Millisecond):
		}
	}
	select {
	case <-second.started:
		t.Error("the second Update's fn ran while the first held the key")
	default:
		if !queued {
			t.Error("the second Update never waited for the key")
		}
	}
	release()
	if err := <-firstDone; err != nil {
		t.Fatalf("first Update: %v", err)
	}
	if <-second.ended; second.err != nil {
		t.Fatalf("second Update: %v", second.err)
	}
	if second.runs != 1 || !second.sawPending {
		t.Errorf("second Update: fn ran %d times, saw the first's version: %v; want 1 run seeing it", second.runs, second.sawPending)
	}
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	if len(s.keys.held) != 0 {
		t.Errorf("keys held after both Updates: %d", len(s.keys.held))
	}
}
