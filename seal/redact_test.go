package seal

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// encodings returns the ways bytes could show up in text: hex in both cases (every 6-byte
// window too, so a partial leak is caught), four base64 alphabets, and Go's %v of a byte slice.
func encodings(b []byte) []string {
	out := []string{
		base64.StdEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b),
		base64.RawURLEncoding.EncodeToString(b),
		strings.Trim(fmt.Sprint(b[:min(6, len(b))]), "[]"),
	}
	h := hex.EncodeToString(b)
	for i := 0; i+12 <= len(h); i += 2 {
		out = append(out, h[i:i+12], strings.ToUpper(h[i:i+12]))
	}
	return out
}

func TestNothingSecretIsPrinted(t *testing.T) {
	root, raw := newRoot(t)
	pass := []byte("hunter2-passphrase")
	cfg, printed, err := InitShamir(root, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	pp, err := InitPassphrase(root, pass, testArgon2)
	if err != nil {
		t.Fatal(err)
	}
	u, err := NewUnsealer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	needles := append(encodings(raw), string(pass))
	for _, p := range printed[:2] {
		share, err := ParseShare(p)
		if err != nil {
			t.Fatal(err)
		}
		needles = append(needles, p[len(SharePrefix):])
		needles = append(needles, encodings(share[1:])...)
		if _, _, err := u.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	// Errors that saw secrets.
	_, _, errTypo := u.Add(mistype(printed[2]))
	_, _, errDup := u.Add(printed[0])
	_, errShare := ParseShare(printed[3][:len(printed[3])-2])
	_, errPass := UnwrapPassphrase(pp, []byte("wrong "+string(pass)))
	if errTypo == nil || errDup == nil || errShare == nil || errPass == nil {
		t.Fatal("expected errors")
	}

	var text strings.Builder
	values := []any{u, cfg, cfg.Shamir, pp, pp.Passphrase, root, errTypo, errDup, errShare, errPass}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X"} {
		for _, v := range values {
			fmt.Fprintf(&text, verb+"\n", v)
		}
	}
	// Verbs the redacting types answer too, though %d of keyring.RootKey is keyring's concern.
	for _, verb := range []string{"%d", "%o", "%b", "%c", "%U"} {
		fmt.Fprintf(&text, verb+"\n", u)
	}
	fmt.Fprintf(&text, "%v %+v %d\n", u.shares, u.shares, u.shares)
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("unseal", "unsealer", u, "config", cfg)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("unseal", "unsealer", u, "config", cfg)
	text.Write(logs.Bytes())

	out := text.String()
	if !strings.Contains(out, "[redacted]") {
		t.Fatal("the unsealer did not print as [redacted]")
	}
	for _, n := range needles {
		if strings.Contains(out, n) {
			t.Errorf("output contains secret material %q", n)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}
