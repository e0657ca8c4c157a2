package agent_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/coffer-project/coffer/agent"
	"github.com/coffer-project/coffer/internal/testserver"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, agent.SnapshotKeySize)
	rand.Read(k)
	return k
}

// TestAgentSnapshot: an agent writes its values to an encrypted file (mode 0600, no value
// in clear); a new agent with the key serves them while the server answers 503; one with
// another key does not, and says why in its log without the value; a corrupted file is
// refused the same way.
func TestAgentSnapshot(t *testing.T) {
	const canary = "snapshot-canary-value-5d1e"
	ts := testserver.Start(t)
	snap := filepath.Join(t.TempDir(), "agent.snap")
	key := newKey(t)
	f := startWith(t, ts, ts.Client(), agent.Config{TTL: agent.DefaultTTL, SnapshotPath: snap, SnapshotKey: key})
	f.create(t, "app/db", canary)
	const path = "/secretsmanager/get?secretId=app/db"
	f.value(t, path)
	if err := f.agent.WriteSnapshot(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(snap)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("snapshot mode %04o, want 0600", fi.Mode().Perm())
	}
	data, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(canary)) || bytes.Contains(data, []byte(base64.StdEncoding.EncodeToString([]byte(canary)))) {
		t.Fatal("the snapshot holds the value in clear")
	}

	ts.Faults.SetDown(true)
	g := startWith(t, ts, ts.Client(), agent.Config{TTL: agent.DefaultTTL, SnapshotPath: snap, SnapshotKey: key})
	if a := g.value(t, path); a.SecretString == nil || *a.SecretString != canary {
		t.Fatal("a new agent did not serve the snapshot's value while the server was down")
	}

	for name, setup := range map[string]func() ([]byte, string){
		"wrong key": func() ([]byte, string) { return newKey(t), snap },
		"corrupted": func() ([]byte, string) {
			bad := filepath.Join(t.TempDir(), "bad.snap")
			d := bytes.Clone(data)
			d[len(d)-1] ^= 1
			os.WriteFile(bad, d, 0o600)
			return key, bad
		},
	} {
		k, p := setup()
		var log bytes.Buffer
		h := startWith(t, ts, ts.Client(), agent.Config{TTL: agent.DefaultTTL, SnapshotPath: p, SnapshotKey: k,
			Logger: slog.New(slog.NewTextHandler(&log, nil))})
		logged := log.String()
		if !strings.Contains(logged, "snapshot cannot be used") || !strings.Contains(logged, "does not decrypt") {
			t.Errorf("%s: log %q, want a clear error", name, logged)
		}
		if strings.Contains(logged, canary) {
			t.Errorf("%s: the log holds the value", name)
		}
		if status, _ := h.get(t, path); status == 200 {
			t.Errorf("%s: a value was served from a snapshot that does not decrypt", name)
		}
	}
	ts.Faults.SetDown(false)
}

// TestAgentSnapshotWrittenAtShutdown: without WriteSnapshot, the values read are in the
// file once Serve has returned.
func TestAgentSnapshotWrittenAtShutdown(t *testing.T) {
	ts := testserver.Start(t)
	snap := filepath.Join(t.TempDir(), "agent.snap")
	key := newKey(t)
	t.Run("first", func(t *testing.T) {
		f := startWith(t, ts, ts.Client(), agent.Config{TTL: agent.DefaultTTL, SnapshotPath: snap, SnapshotKey: key})
		f.create(t, "app/db", "one")
		f.value(t, "/secretsmanager/get?secretId=app/db")
	}) // its cleanup stops the agent
	ts.Faults.SetDown(true)
	defer ts.Faults.SetDown(false)
	g := startWith(t, ts, ts.Client(), agent.Config{TTL: agent.DefaultTTL, SnapshotPath: snap, SnapshotKey: key})
	if a := g.value(t, "/secretsmanager/get?secretId=app/db"); *a.SecretString != "one" {
		t.Fatal("the value read before shutdown was not in the snapshot")
	}
}

// TestAgentSnapshotForgetsDropped: a value the watcher drops because the server changed or
// deleted the secret leaves the snapshot at its next write, so that an agent started while
// the server is down does not serve it.
func TestAgentSnapshotForgetsDropped(t *testing.T) {
	ts := testserver.Start(t)
	snap := filepath.Join(t.TempDir(), "agent.snap")
	key := newKey(t)
	f := startWith(t, ts, ts.Client(), agent.Config{TTL: agent.MaxTTL, SnapshotPath: snap, SnapshotKey: key, Watcher: watcherFor(ts, ts.URL)})
	f.create(t, "app/db", "one")
	const path = "/secretsmanager/get?secretId=app/db"
	f.value(t, path)
	if err := f.agent.WriteSnapshot(); err != nil {
		t.Fatal(err)
	}
	// What the snapshot holds, by secret id (the file changes with every write: a new nonce).
	holds := func() bool {
		t.Helper()
		file, err := os.ReadFile(snap)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := agent.SnapshotSecretIDs(key, file)
		if err != nil {
			t.Fatal(err)
		}
		return slices.Contains(ids, "app/db")
	}
	if !holds() {
		t.Fatal("the snapshot does not hold the value just read")
	}
	time.Sleep(1500 * time.Millisecond) // the watcher takes the secret up
	if _, err := f.sm.DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{SecretId: aws.String("app/db"), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	// The background writer writes at most every 5 s.
	deadline := time.Now().Add(30 * time.Second)
	for holds() {
		if time.Now().After(deadline) {
			t.Fatal("30 s after the secret was deleted, the snapshot still holds its value")
		}
		time.Sleep(100 * time.Millisecond)
	}
	ts.Faults.SetDown(true)
	defer ts.Faults.SetDown(false)
	g := startWith(t, ts, ts.Client(), agent.Config{TTL: agent.DefaultTTL, SnapshotPath: snap, SnapshotKey: key})
	if status, _ := g.get(t, path); status == 200 {
		t.Fatal("a new agent served, from the snapshot, a value the server had deleted")
	}
}

// TestSnapshotKeys: a key is 32 bytes or their base64; a key file others may read is
// refused.
func TestSnapshotKeys(t *testing.T) {
	k := newKey(t)
	for _, in := range [][]byte{k, []byte(base64.StdEncoding.EncodeToString(k) + "\n")} {
		got, err := agent.ParseSnapshotKey(in)
		if err != nil || !bytes.Equal(got, k) {
			t.Errorf("ParseSnapshotKey: %v", err)
		}
	}
	if _, err := agent.ParseSnapshotKey([]byte("short")); err == nil {
		t.Error("a short key was accepted")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "key")
	os.WriteFile(p, []byte(base64.StdEncoding.EncodeToString(k)), 0o644)
	if _, err := agent.ReadSnapshotKeyFile(p); err == nil || !strings.Contains(err.Error(), "0600") {
		t.Errorf("a key file of mode 0644: %v", err)
	}
	os.Chmod(p, 0o600)
	if got, err := agent.ReadSnapshotKeyFile(p); err != nil || !bytes.Equal(got, k) {
		t.Errorf("a key file of mode 0600: %v", err)
	}
}
