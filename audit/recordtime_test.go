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
	decoded := func(raw []byte) time.Time {
		var r struct {
			Event struct {
				EventTime string `json:"eventTime"`
			} `json:"event"`
			Digest struct {
				Time string `json:"time"`
			} `json:"digest"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatalf("a record line does not decode: %v", err)
		}
		s := r.Event.EventTime
		if s == "" {
			s = r.Digest.Time
		}
		got, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatalf("a record's time %q does not parse: %v", s, err)
		}
		return got.UTC()
	}
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
	for _, r := range []*Record{first, digest} {
		got, ok := leadingTime(r.Raw)
		if want := decoded(r.Raw); !ok || !got.Equal(want) {
			t.Errorf("%s record: leadingTime %v, %v; decoding gives %v", r.Kind, got, ok, want)
		}
		if got := recordTime(r.Raw); !got.Equal(decoded(r.Raw)) {
			t.Errorf("%s record: recordTime %v; decoding gives %v", r.Kind, got, decoded(r.Raw))
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
