package server

import (
	"context"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsapi"
	"github.com/coffer-project/coffer/core"
)

type (
	getResourcePolicyOut struct {
		ARN            string `json:"ARN"`
		Name           string `json:"Name"`
		ResourcePolicy string `json:"ResourcePolicy,omitempty"`
	}
	validationErrorOut struct {
		CheckName    string `json:"CheckName"`
		ErrorMessage string `json:"ErrorMessage"`
	}
	validateResourcePolicyOut struct {
		PolicyValidationPassed bool                 `json:"PolicyValidationPassed"`
		ValidationErrors       []validationErrorOut `json:"ValidationErrors"`
	}
)

func (h *Handler) putResourcePolicy(ctx context.Context, ns coffer.Namespace, body []byte) (any, error) {
	var in core.PutResourcePolicyInput
	if err := awsapi.Decode(body, &in); err != nil {
		return nil, err
	}
	r, err := h.cfg.Secrets.PutResourcePolicy(ctx, ns, &in)
	if err != nil {
		return nil, err
	}
	return &secretRefOut{ARN: r.ARN, Name: r.Name}, nil
}

func (h *Handler) getResourcePolicy(ctx context.Context, ns coffer.Namespace, body []byte) (any, error) {
	var in core.GetResourcePolicyInput
	if err := awsapi.Decode(body, &in); err != nil {
		return nil, err
	}
	p, err := h.cfg.Secrets.GetResourcePolicy(ctx, ns, &in)
	if err != nil {
		return nil, err
	}
	return &getResourcePolicyOut{ARN: p.ARN, Name: p.Name, ResourcePolicy: p.Policy}, nil
}

func (h *Handler) deleteResourcePolicy(ctx context.Context, ns coffer.Namespace, body []byte) (any, error) {
	var in core.DeleteResourcePolicyInput
	if err := awsapi.Decode(body, &in); err != nil {
		return nil, err
	}
	r, err := h.cfg.Secrets.DeleteResourcePolicy(ctx, ns, &in)
	if err != nil {
		return nil, err
	}
	return &secretRefOut{ARN: r.ARN, Name: r.Name}, nil
}

func (h *Handler) validateResourcePolicy(ctx context.Context, ns coffer.Namespace, body []byte) (any, error) {
	var in core.ValidateResourcePolicyInput
	if err := awsapi.Decode(body, &in); err != nil {
		return nil, err
	}
	res, err := h.cfg.Secrets.ValidateResourcePolicy(ctx, ns, &in)
	if err != nil {
		return nil, err
	}
	out := &validateResourcePolicyOut{PolicyValidationPassed: res.Passed, ValidationErrors: []validationErrorOut{}}
	for _, f := range res.Findings {
		out.ValidationErrors = append(out.ValidationErrors, validationErrorOut{CheckName: f.Code, ErrorMessage: f.Message})
	}
	return out, nil
}
