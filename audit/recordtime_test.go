package audit

import (
	"crypto/ed25519"
	"encoding/json"
	"testing"
	"time"
)

// TestLeadingTime: the time read from a line without decoding it is the one decoding gives,
// for events and digests, whatever the fields after the time hold (a user agent or a
// parameter spelling a time field, a server name with quotes), and the first record of a
// chain (after the genesis hash); a line of another shape is decoded instead.
func TestLeadingTime(t *testing.T) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 28, 4, 30, 1, 234000000, time.UTC)
	ev := &Event{EventVersion: "1.08", EventTime: FormatTime(at), EventSource: "secretsmanager.amazonaws.com",
		EventName: "GetSecretValue", UserAgent: `x","eventTime":"1999-01-01T00:00:00Z","time":"1999-01-01T00:00:00Z`,
		RequestParameters: map[string]any{"eventTime": "1998-01-01T00:00:00Z", "time": "1998-01-01T00:00:00Z"}}
	ev.RequestID, ev.EventID = "r", "e"
	first := encodeRecord(1, GenesisHash, KindEvent, ev.AppendJSON(nil))
	d := SignDigest(key, `srv "time":"1997-01-01T00:00:00Z"`, 1, first.Hash, FormatTimeMilli(at.Add(time.Second)))
	body, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	digest := encodeRecord(2, first.Hash, KindDigest, body)
	for _, c := range []struct {
		r    *Record
		want time.Time
	}{{first, at.Truncate(time.Second)}, {digest, at.Add(time.Second)}} { // events in seconds, digests in milliseconds
		if got := decodedTime(c.r.Raw); !got.Equal(c.want) {
			t.Fatalf("%s record: decoding gives %v; want %v", c.r.Kind, got, c.want)
		}
		if got, ok := leadingTime(c.r.Raw); !ok || !got.Equal(c.want) {
			t.Errorf("%s record: leadingTime %v, %v; want %v", c.r.Kind, got, ok, c.want)
		}
		if got := recordTime(c.r.Raw); !got.Equal(c.want) {
			t.Errorf("%s record: recordTime %v; want %v", c.r.Kind, got, c.want)
		}
	}
	// Another shape: decoded.
	other := []byte(`{"event":{"eventTime":"2026-11-28T04:30:01Z"},"seq":3}`)
	if _, ok := leadingTime(other); ok {
		t.Error("leadingTime read a line that does not start as the log writes them")
	}
	if got := recordTime(other); !got.Equal(time.Date(2026, 11, 28, 4, 30, 1, 0, time.UTC)) {
		t.Errorf("recordTime of another shape: %v", got)
	}
}
