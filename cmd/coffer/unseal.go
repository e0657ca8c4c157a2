package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/coffer-project/coffer/client"
	"github.com/coffer-project/coffer/keyring"
	"github.com/coffer-project/coffer/seal"
	"github.com/coffer-project/coffer/server"
)

// runRemote runs the operator verbs that talk to a running server: unseal, seal-status, seal.
func runRemote(ctx context.Context, verb string, args []string, in *secretInput, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("coffer operator "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoint := fs.String("endpoint-url", firstNonEmpty(os.Getenv("COFFER_ENDPOINT"), os.Getenv("AWS_ENDPOINT_URL"), "http://127.0.0.1:8220"), "coffer server")
	caBundle := fs.String("ca-bundle", os.Getenv("AWS_CA_BUNDLE"), "PEM file of the certificate(s) to trust for https (env AWS_CA_BUNDLE)")
	region := fs.String("region", firstNonEmpty(os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), "us-east-1"), "seal: region to sign for")
	reset := fs.Bool("reset", false, "unseal: forget the shares given so far instead of sending one")
	asJSON := fs.Bool("json", false, "seal-status: print the status as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	hc, err := httpClient(*caBundle)
	if err != nil {
		return err
	}
	base := strings.TrimRight(*endpoint, "/")
	switch verb {
	case "seal-status":
		st, err := getStatus(ctx, hc, base)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "    ")
			return enc.Encode(st)
		}
		printStatus(stdout, st)
		return nil
	case "seal":
		ak, sk := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
		if ak == "" || sk == "" {
			return errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set (the administrator key pair)")
		}
		c := client.New(base, *region, credentials.NewStaticCredentialsProvider(ak, sk, os.Getenv("AWS_SESSION_TOKEN")), hc)
		if err := c.Call(ctx, server.ExtensionPrefix+"."+server.SealOperation, struct{}{}, nil); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "Sealed: the server serves nothing but health and seal status until it is unsealed (coffer operator unseal).")
		return nil
	}

	st, err := getStatus(ctx, hc, base)
	if err != nil {
		return err
	}
	if !st.Sealed {
		fmt.Fprintln(stdout, "The server is not sealed.")
		return nil
	}
	var req server.UnsealRequest
	switch {
	case *reset:
		req.Reset = true
	case st.Type == seal.TypeShamir:
		s, err := in.read(fmt.Sprintf("Unseal share (hidden; %d of %d given so far): ", st.Progress, st.Threshold))
		if err != nil {
			return err
		}
		req.Share = string(s)
		keyring.Wipe(s)
	case st.Type == seal.TypePassphrase:
		p, err := in.read("Passphrase (hidden): ")
		if err != nil {
			return err
		}
		req.Passphrase = string(p)
		keyring.Wipe(p)
	default:
		return fmt.Errorf("the server's seal is %q: nothing to unseal", st.Type)
	}
	body, err := json.Marshal(&req)
	if err != nil {
		return err
	}
	var out server.SealStatus
	err = call(ctx, hc, http.MethodPost, base+server.UnsealPath, body, &out)
	keyring.Wipe(body)
	if err != nil {
		return err
	}
	switch {
	case !out.Sealed:
		fmt.Fprintln(stdout, "Unsealed: the server serves the API.")
	case out.Type == seal.TypeShamir:
		fmt.Fprintf(stdout, "Unseal progress: %d/%d shares; still sealed.\n", out.Progress, out.Threshold)
	default:
		fmt.Fprintln(stdout, "Still sealed.")
	}
	return nil
}

func getStatus(ctx context.Context, hc *http.Client, base string) (*server.SealStatus, error) {
	var st server.SealStatus
	if err := call(ctx, hc, http.MethodGet, base+server.SealStatusPath, nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

func printStatus(w io.Writer, st *server.SealStatus) {
	fmt.Fprintf(w, "Seal type: %s\nSealed:    %v\n", st.Type, st.Sealed)
	if st.Type == seal.TypeShamir {
		fmt.Fprintf(w, "Threshold: %d of %d shares\nProgress:  %d/%d\n", st.Threshold, st.Shares, st.Progress, st.Threshold)
	}
}

// call sends a request to a seal endpoint and decodes the JSON answer into out, or returns
// the error the server gave.
func call(ctx context.Context, hc *http.Client, method, url string, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		if e := client.DecodeError(resp.StatusCode, b); e != nil {
			return e
		}
		return fmt.Errorf("%s %s: HTTP %d (is this a coffer server?)", method, url, resp.StatusCode)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: unexpected answer (is this a coffer server?)", method, url)
	}
	return nil
}

// httpClient returns a client that trusts the certificates in caBundle too, when it is set.
func httpClient(caBundle string) (*http.Client, error) {
	if caBundle == "" {
		return &http.Client{}, nil
	}
	pem, err := os.ReadFile(caBundle)
	if err != nil {
		return nil, fmt.Errorf("--ca-bundle: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--ca-bundle: %s holds no PEM certificate", caBundle)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}, nil
}
