package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"
)

// Errors of reading a value in another form than it has. They never quote the value.
var (
	// ErrBinary: the secret holds a SecretBinary, and a string was asked for.
	ErrBinary = errors.New("cache: the secret holds a SecretBinary, not a SecretString")
	// ErrString: the secret holds a SecretString, and binary was asked for.
	ErrString = errors.New("cache: the secret holds a SecretString, not a SecretBinary")
	// ErrNotJSON: the SecretString is not a JSON object.
	ErrNotJSON = errors.New("cache: the secret's SecretString is not a JSON object")
	// ErrNoKey: the JSON object has no such member.
	ErrNoKey = errors.New("cache: the secret's JSON object has no such key")
)

// Value is one version of a secret. The bytes of a Value that Get returned are the
// caller's own (every read copies them), and no form of printing shows them: String,
// GoString, Format (every fmt verb) and LogValue show the metadata only.
type Value struct {
	Name          string    // the secret's name
	ARN           string    // the secret's ARN
	VersionID     string    // the version's id
	VersionStages []string  // the version's staging labels when the service last said
	CreatedDate   time.Time // when the version was made

	// p is behind a pointer so that even fmt's printing of a struct that holds a Value in
	// an unexported field, which skips Format, shows an address rather than the bytes.
	p *payload
}

// payload is a value's bytes.
type payload struct {
	binary bool
	b      []byte // SecretString's UTF-8 or SecretBinary; never written once shared
}

// IsBinary says whether the value is a SecretBinary rather than a SecretString.
func (v Value) IsBinary() bool { return v.p != nil && v.p.binary }

// Bytes returns the value's bytes (SecretString's UTF-8 or SecretBinary) themselves, not a
// copy: Wipe zeroes them.
func (v Value) Bytes() []byte {
	if v.p == nil {
		return nil
	}
	return v.p.b
}

// SecretString returns the SecretString, or ErrBinary.
func (v Value) SecretString() (string, error) {
	if v.IsBinary() {
		return "", v.errorf(ErrBinary)
	}
	return string(v.Bytes()), nil
}

// SecretBinary returns the SecretBinary itself, not a copy, or ErrString.
func (v Value) SecretBinary() ([]byte, error) {
	if !v.IsBinary() {
		return nil, v.errorf(ErrString)
	}
	return v.Bytes(), nil
}

// JSONKey returns member jsonKey of the JSON object that is the SecretString: a string
// member as the string itself, any other member (number, true, false, null, object or
// array) as its JSON text. The error is ErrBinary, ErrNotJSON or ErrNoKey; it never quotes
// the value.
func (v Value) JSONKey(jsonKey string) (string, error) {
	if v.IsBinary() {
		return "", v.errorf(ErrBinary)
	}
	var members map[string]json.RawMessage
	// The decoder's error is dropped: its message may quote part of the value.
	if err := json.Unmarshal(v.Bytes(), &members); err != nil || members == nil {
		return "", v.errorf(ErrNotJSON)
	}
	defer func() {
		for _, m := range members {
			clear(m)
		}
	}()
	raw, ok := members[jsonKey]
	if !ok {
		return "", fmt.Errorf("%w: %q", v.errorf(ErrNoKey), jsonKey)
	}
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", v.errorf(ErrNotJSON)
		}
		return s, nil
	}
	return string(raw), nil
}

// errorf names the secret and version in err.
func (v Value) errorf(err error) error {
	return fmt.Errorf("%w (secret %q, version %s)", err, v.Name, v.VersionID)
}

// Wipe zeroes the value's bytes. The Value is then empty for every use.
func (v Value) Wipe() { clear(v.Bytes()) }

// String describes the value without its bytes.
func (v Value) String() string {
	kind := "SecretString"
	if v.IsBinary() {
		kind = "SecretBinary"
	}
	return fmt.Sprintf("cache.Value{Name: %q, VersionID: %q, VersionStages: %q, %s: [redacted]}", v.Name, v.VersionID, v.VersionStages, kind)
}

// GoString describes the value without its bytes, for %#v.
func (v Value) GoString() string { return v.String() }

// Format writes String for every verb, so that no verb (%d, %x, %+v …) prints the bytes.
func (v Value) Format(f fmt.State, _ rune) { io.WriteString(f, v.String()) }

// LogValue implements slog.LogValuer: the metadata, without the bytes.
func (v Value) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", v.Name), slog.String("versionId", v.VersionID),
		slog.Any("versionStages", v.VersionStages), slog.Bool("binary", v.IsBinary()))
}

// clone returns a copy of v with bytes and labels of its own.
func (v Value) clone() Value {
	if v.p != nil {
		v.p = &payload{binary: v.p.binary, b: slices.Clone(v.p.b)}
	}
	v.VersionStages = slices.Clone(v.VersionStages)
	return v
}
