package server

import (
	"context"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsapi"
	"github.com/coffer-project/coffer/core"
)

type (
	versionEntryOut struct {
		VersionId        string            `json:"VersionId"` //nolint:revive // AWS's name
		VersionStages    []string          `json:"VersionStages,omitempty"`
		LastAccessedDate *awsapi.Timestamp `json:"LastAccessedDate,omitempty"`
		CreatedDate      *awsapi.Timestamp `json:"CreatedDate,omitempty"`
		KmsKeyIds        []string          `json:"KmsKeyIds,omitempty"` //nolint:revive // AWS's name
	}
	listVersionsOut struct {
		Versions  []versionEntryOut `json:"Versions"`
		NextToken string            `json:"NextToken,omitempty"`
		ARN       string            `json:"ARN"`
		Name      string            `json:"Name"`
	}
	batchErrorOut struct {
		SecretId  string `json:"SecretId"` //nolint:revive // AWS's name
		ErrorCode string `json:"ErrorCode"`
		Message   string `json:"Message"`
	}
	batchOut struct {
		SecretValues []*getSecretValueOut `json:"SecretValues"`
		NextToken    string               `json:"NextToken,omitempty"`
		Errors       []batchErrorOut      `json:"Errors"`
	}
	emptyOut struct{}
)

func (h *Handler) listSecretVersionIds(ctx context.Context, ns coffer.Namespace, body []byte) (any, error) {
	var in core.ListSecretVersionIdsInput
	if err := awsapi.Decode(body, &in); err != nil {
		return nil, err
	}
	p, err := h.cfg.Secrets.ListSecretVersionIds(ctx, ns, &in)
	if err != nil {
		return nil, err
	}
	out := &listVersionsOut{Versions: []versionEntryOut{}, NextToken: p.NextToken, ARN: p.ARN, Name: p.Name}
	for _, v := range p.Versions {
		keys := []string{}
		if n, ok := p.KeyNames[v.KMSKeyID]; ok {
			keys = append(keys, n)
		}
		out.Versions = append(out.Versions, versionEntryOut{
			VersionId:        v.VersionID,
			VersionStages:    v.Stages,
			LastAccessedDate: awsapi.TimePtr(v.LastAccessedDate),
			CreatedDate:      awsapi.TimePtr(v.CreatedDate),
			KmsKeyIds:        keys,
		})
	}
	return out, nil
}

func (h *Handler) updateSecretVersionStage(ctx context.Context, ns coffer.Namespace, body []byte) (any, error) {
	var in core.UpdateSecretVersionStageInput
	if err := awsapi.Decode(body, &in); err != nil {
		return nil, err
	}
	r, err := h.cfg.Secrets.UpdateSecretVersionStage(ctx, ns, &in)
	if err != nil {
		return nil, err
	}
	return &secretRefOut{ARN: r.ARN, Name: r.Name}, nil
}

func (h *Handler) tagResource(ctx context.Context, ns coffer.Namespace, body []byte) (any, error) {
	var in core.TagResourceInput
	if err := awsapi.Decode(body, &in); err != nil {
		return nil, err
	}
	if err := h.cfg.Secrets.TagResource(ctx, ns, &in); err != nil {
		return nil, err
	}
	return emptyOut{}, nil
}

func (h *Handler) untagResource(ctx context.Context, ns coffer.Namespace, body []byte) (any, error) {
	var in core.UntagResourceInput
	if err := awsapi.Decode(body, &in); err != nil {
		return nil, err
	}
	if err := h.cfg.Secrets.UntagResource(ctx, ns, &in); err != nil {
		return nil, err
	}
	return emptyOut{}, nil
}

func (h *Handler) batchGetSecretValue(ctx context.Context, ns coffer.Namespace, body []byte) (any, error) {
	var in core.BatchGetSecretValueInput
	if err := awsapi.Decode(body, &in); err != nil {
		return nil, err
	}
	r, err := h.cfg.Secrets.BatchGetSecretValue(ctx, ns, &in)
	if err != nil {
		return nil, err
	}
	out := &batchOut{SecretValues: []*getSecretValueOut{}, NextToken: r.NextToken, Errors: []batchErrorOut{}}
	var vals []*core.Value
	for _, v := range r.Values {
		out.SecretValues = append(out.SecretValues, valueOut(v))
		vals = append(vals, v.Value)
	}
	for _, e := range r.Errors {
		out.Errors = append(out.Errors, batchErrorOut{SecretId: e.SecretID, ErrorCode: e.Code, Message: e.Message})
	}
	return wiping{out: out, vals: vals}, nil
}
