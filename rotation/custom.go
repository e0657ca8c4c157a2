package rotation

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Custom rotators receive the event a Lambda rotation function receives and do their work
// through the API with credentials of their own; coffer checks the end state after
// finishSecret. They are configured in the server's configuration file only, never through
// the API.

// Webhook is a custom rotator reached over HTTPS (or plain HTTP on a loopback address): each
// step is a POST of the event's JSON, signed by coffer; any 2xx answer is success.
//
// The signature lets the receiver refuse events that coffer did not send: the header
// X-Coffer-Signature is "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under Key>"; a
// receiver recomputes it, compares in constant time, and refuses a t more than five minutes
// from its clock.
type Webhook struct {
	URL    string
	Key    []byte // the shared signing key (at least 32 bytes)
	Client *http.Client
}

// NewWebhook checks the URL (https, or http to a loopback address) and the key.
func NewWebhook(rawURL string, key []byte) (*Webhook, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("webhook rotator: %q is not a URL", rawURL)
	}
	switch u.Scheme {
	case "https":
	case "http":
		ip := net.ParseIP(u.Hostname())
		if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("webhook rotator: %s must use https (plain http only to a loopback address)", u.Redacted())
		}
	default:
		return nil, fmt.Errorf("webhook rotator: %s must use https", u.Redacted())
	}
	if len(key) < 32 {
		return nil, errors.New("webhook rotator: the signing key must be at least 32 bytes")
	}
	return &Webhook{URL: rawURL, Key: key, Client: &http.Client{Timeout: 2 * time.Minute}}, nil
}

// Sign returns the X-Coffer-Signature of body at t.
func Sign(key, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// Step implements Rotator.
func (w *Webhook) Step(ctx context.Context, _ *secretsmanager.Client, ev Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Coffer-Signature", Sign(w.Key, body, time.Now()))
	resp, err := w.Client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook rotator: %s: %w", ev.Step, scrubURL(err))
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		// The answer's body is not quoted: a rotator might echo a value in it.
		return fmt.Errorf("webhook rotator: %s: answered HTTP %d", ev.Step, resp.StatusCode)
	}
	return nil
}

// scrubURL drops the URL (which may carry credentials in its query) from a client error.
func scrubURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Command is a custom rotator run as a local executable: each step runs Path with Args, the
// event's JSON on standard input; exit status 0 is success. Its output is discarded, never
// logged (it might print a value).
type Command struct {
	Path string
	Args []string
	Env  []string // the environment, e.g. the rotator's own credentials; nothing is inherited
}

// Step implements Rotator.
func (c *Command) Step(ctx context.Context, _ *secretsmanager.Client, ev Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Stdin = bytes.NewReader(body)
	cmd.Env = c.Env
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("command rotator: %s: exit status %d", ev.Step, ee.ExitCode())
		}
		return fmt.Errorf("command rotator: %s: %w", ev.Step, err)
	}
	return nil
}
