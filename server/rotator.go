package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/policy"
)

// Rotators act as principals of their own (package rotation): the server issues them a role
// session, as AWS runs a rotation function with its execution role, and they call the API
// through this handler in process, signed, authorized and audited like any other caller.

// RotationService is the service principal a rotator's role must trust, as a Lambda
// function's execution role trusts lambda.amazonaws.com.
const RotationService = "secretsmanager.amazonaws.com"

// rotatorSessionSeconds is how long a rotator's session lasts: one rotation.
const rotatorSessionSeconds = 3600

// RotatorCredentials issues a session of the role roleName of ns's account for a rotator;
// the role's trust policy must allow the service principal secretsmanager.amazonaws.com
// sts:AssumeRole.
func (h *Handler) RotatorCredentials(ctx context.Context, ns coffer.Namespace, roleName, rotator string) (aws.Credentials, error) {
	var role *coffer.Entity
	err := h.cfg.Creds.store.View(ctx, func(tx coffer.Tx) error {
		var err error
		role, err = tx.Entity(ns.Account, coffer.EntityRole, roleName)
		return err
	})
	if coffer.IsNotFound(err) {
		return aws.Credentials{}, coffer.Errorf(coffer.ErrAccessDenied, "The rotator %s acts as the role %s, which account %s does not have.", rotator, roleName, ns.Account)
	}
	if err != nil {
		return aws.Credentials{}, err
	}
	trust, err := policy.Parse(role.AssumeRolePolicy)
	if err != nil {
		return aws.Credentials{}, coffer.Errorf(coffer.ErrAccessDenied, "The trust policy of role %s cannot be read.", roleName)
	}
	req := &policy.Request{Action: "sts:AssumeRole", Resource: role.ARN(),
		Principal: policy.PrincipalInfo{ARN: RotationService, Type: policy.PrincipalService}}
	if trust.Evaluate(req, policy.ResourcePolicy) != policy.Allow {
		return aws.Credentials{}, coffer.Errorf(coffer.ErrAccessDenied, "The role %s does not trust %s: its trust policy must allow that service principal sts:AssumeRole for rotators to act as it.", roleName, RotationService)
	}
	name := rotator
	if len(name) > 64 {
		name = name[:64]
	}
	s := &session{Account: role.Account, ARN: "arn:aws:sts::" + role.Account + ":assumed-role/" + role.Name + "/" + name,
		RoleARN: role.ARN(), RoleID: role.ID, RoleName: role.Name, SessionName: name}
	creds, err := h.issue(s, rotatorSessionSeconds)
	if err != nil {
		return aws.Credentials{}, err
	}
	return aws.Credentials{AccessKeyID: creds.AccessKeyId, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken,
		Source: "coffer rotator", CanExpire: true, Expires: h.policyNow().Add(rotatorSessionSeconds * 1e9)}, nil
}

// InProcessClient returns a Secrets Manager client whose requests this handler serves
// without a network hop (a rotator's calls are still signed, authorized and audited; their
// source address is 127.0.0.1 and their user agent names the rotator).
func (h *Handler) InProcessClient(creds aws.Credentials, region string) *secretsmanager.Client {
	cfg := aws.Config{
		Region:           region,
		Credentials:      credentials.StaticCredentialsProvider{Value: creds},
		RetryMaxAttempts: 3,
		HTTPClient:       &http.Client{Transport: inProcess{h}},
	}
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String("http://coffer.internal") })
}

// inProcess is an http.RoundTripper that serves requests with a handler.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if r.Host == "" {
		r.Host = r.URL.Host
	}
	r.RemoteAddr = "127.0.0.1:0"
	r.RequestURI = r.URL.RequestURI()
	w := &recorder{header: http.Header{}}
	t.h.ServeHTTP(w, r)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return &http.Response{
		Status: fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)), StatusCode: w.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.header, Body: io.NopCloser(&w.body), ContentLength: int64(w.body.Len()), Request: r,
	}, nil
}

// recorder is the http.ResponseWriter of an in-process request: it keeps the answer for
// RoundTrip.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}
