// Package client is a small Go client for coffer's own operations (see docs/extensions.md),
// which AWS's SDKs do not know. For AWS's operations, use aws-sdk-go-v2's secretsmanager
// package with coffer's endpoint.
package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Client calls a coffer server.
type Client struct {
	endpoint string
	region   string
	creds    aws.CredentialsProvider
	http     *http.Client
	signer   *v4.Signer
}

// New returns a Client for the server at endpoint (e.g. http://127.0.0.1:8220), signing for
// region with creds. A nil httpClient means http.DefaultClient.
func New(endpoint, region string, creds aws.CredentialsProvider, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{endpoint: strings.TrimRight(endpoint, "/"), region: region, creds: creds, http: httpClient, signer: v4.NewSigner()}
}

// APIError is an error answer of the server.
type APIError struct {
	Status  int
	Code    string
	Message string
}

// Error implements error.
func (e *APIError) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Call sends one signed JSON 1.1 request with X-Amz-Target target (e.g.
// "coffer.DestroySecretVersion") and decodes the answer into out, which may be nil.
func (c *Client) Call(ctx context.Context, target string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "secretsmanager", c.region, time.Now()); err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return decodeError(resp.StatusCode, b)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// DecodeError reads an AWS JSON 1.1 error body as Call does, for callers that send their own
// requests (coffer's seal endpoints); it returns nil when the body names no error (__type).
func DecodeError(status int, body []byte) *APIError {
	if e := decodeError(status, body); e.Code != "" {
		return e
	}
	return nil
}

// decodeError reads an AWS JSON 1.1 error body. AWS writes __type with its namespace
// ("com.amazon.coral.service#UnknownOperationException") and coffer without; either way
// Code is the name alone, so that callers compare it with the bare code.
func decodeError(status int, body []byte) *APIError {
	var e map[string]any
	json.Unmarshal(body, &e)
	str := func(k string) string { s, _ := e[k].(string); return s }
	code := str("__type")
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	code, _, _ = strings.Cut(code, ":") // "Code:http://internal.amazon.com/…"
	msg := str("Message")
	if msg == "" {
		msg = str("message")
	}
	return &APIError{Status: status, Code: code, Message: msg}
}

// DestroyedVersion is DestroySecretVersion's answer.
type DestroyedVersion struct {
	ARN           string
	Name          string
	VersionID     string `json:"VersionId"`
	DestroyedDate float64
}

// DestroySecretVersion erases a deprecated version's value for good.
func (c *Client) DestroySecretVersion(ctx context.Context, secretID, versionID string) (*DestroyedVersion, error) {
	var out DestroyedVersion
	err := c.Call(ctx, "coffer.DestroySecretVersion", map[string]string{"SecretId": secretID, "VersionId": versionID}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateSecretVersionRetention sets how many deprecated versions a secret keeps (0: AWS's rule).
func (c *Client) UpdateSecretVersionRetention(ctx context.Context, secretID string, keep int) error {
	return c.Call(ctx, "coffer.UpdateSecretVersionRetention", map[string]any{"SecretId": secretID, "DeprecatedVersionsToKeep": keep}, nil)
}

// Generated is GenerateSecretValue's answer: the new version, never its value.
type Generated struct {
	ARN           string
	Name          string
	VersionID     string `json:"VersionId"`
	VersionStages []string
}

// GenerateSecretValue has the server generate and store a new version of a secret.
// generate holds GenerateSecretString's members (SecretStringTemplate, GenerateStringKey,
// PasswordLength, Exclude*, IncludeSpace, RequireEachIncludedType); token is the
// ClientRequestToken that makes a retry safe.
func (c *Client) GenerateSecretValue(ctx context.Context, secretID, token string, stages []string, generate map[string]any) (*Generated, error) {
	in := map[string]any{"SecretId": secretID, "ClientRequestToken": token, "GenerateSecretString": generate}
	if len(stages) > 0 {
		in["VersionStages"] = stages
	}
	var out Generated
	if err := c.Call(ctx, "coffer.GenerateSecretValue", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// KeyBinding is a secret version that a KMS key protects.
type KeyBinding struct {
	KeyID         string `json:"KeyId,omitempty"`
	KeyState      string `json:",omitempty"`
	SecretARN     string
	SecretName    string
	VersionID     string `json:"VersionId"`
	VersionStages []string
	SecretDeleted bool
}

// KeyBindings is ListKeyBindings' answer.
type KeyBindings struct {
	KeyID    string `json:"KeyId"`
	KeyState string
	Bindings []KeyBinding
}

// ListKeyBindings lists the secret versions the KMS key keyID (id, ARN or alias) protects.
func (c *Client) ListKeyBindings(ctx context.Context, keyID string) (*KeyBindings, error) {
	var out KeyBindings
	if err := c.Call(ctx, "coffer.ListKeyBindings", map[string]string{"KeyId": keyID}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListUnusableKeyBindings lists the secret versions protected by keys that are not enabled.
func (c *Client) ListUnusableKeyBindings(ctx context.Context) ([]KeyBinding, error) {
	var out struct{ Bindings []KeyBinding }
	if err := c.Call(ctx, "coffer.ListUnusableKeyBindings", struct{}{}, &out); err != nil {
		return nil, err
	}
	return out.Bindings, nil
}

// Account is CreateAccount's answer: the new account and its root key pair, shown once.
type Account struct {
	AccountID       string `json:"AccountId"`
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string
}

// CreateAccount creates an account (id "" for a random one) with a root access key pair. Only
// the root of the deployment's default account may call it.
func (c *Client) CreateAccount(ctx context.Context, id string) (*Account, error) {
	in := map[string]string{}
	if id != "" {
		in["AccountId"] = id
	}
	var out Account
	if err := c.Call(ctx, "coffer.CreateAccount", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RotationAttempt is one rotation attempt of a secret, as coffer.GetRotationStatus shows it.
type RotationAttempt struct {
	Token    string    `json:"token"`
	Trigger  string    `json:"trigger"`
	Rotator  string    `json:"rotator"`
	Started  time.Time `json:"started"`
	Ended    time.Time `json:"ended"`
	Outcome  string    `json:"outcome"`
	Failures int       `json:"failures"`
	NextTry  time.Time `json:"nextTry"`
	Steps    []struct {
		Step     string    `json:"step"`
		Started  time.Time `json:"started"`
		Duration string    `json:"duration"`
		Error    string    `json:"error"`
	} `json:"steps"`
}

// RotationStatus returns a secret's last rotation attempts, newest first.
func (c *Client) RotationStatus(ctx context.Context, secretID string) ([]RotationAttempt, error) {
	var out struct{ Attempts []RotationAttempt }
	if err := c.Call(ctx, "coffer.GetRotationStatus", map[string]string{"SecretId": secretID}, &out); err != nil {
		return nil, err
	}
	return out.Attempts, nil
}

// ResetRotation resolves a rotation left with an AWSPENDING version and says what it did.
func (c *Client) ResetRotation(ctx context.Context, secretID string) (string, error) {
	var out struct{ Result string }
	if err := c.Call(ctx, "coffer.ResetRotation", map[string]string{"SecretId": secretID}, &out); err != nil {
		return "", err
	}
	return out.Result, nil
}
