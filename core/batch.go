package core

import (
	"context"

	"github.com/coffer-project/coffer"
)

// BatchGetSecretValueInput is the BatchGetSecretValue request.
type BatchGetSecretValueInput struct {
	SecretIdList []string
	Filters      []FilterInput
	MaxResults   *int64
	NextToken    *string
}

// BatchError is one secret that BatchGetSecretValue could not read.
type BatchError struct {
	SecretID string
	Code     string
	Message  string
}

// BatchValues is BatchGetSecretValue's result. The caller wipes each value.
type BatchValues struct {
	Values    []*SecretValue
	Errors    []BatchError
	NextToken string
}

// MaxBatch is how many secrets one BatchGetSecretValue call reads.
const MaxBatch = 20

// BatchGetSecretValue reads the AWSCURRENT value of up to 20 secrets named in SecretIdList, or
// of the secrets that Filters select (a page at a time). A secret that cannot be read is
// reported in Errors and does not fail the call.
func (s *Service) BatchGetSecretValue(ctx context.Context, ns coffer.Namespace, in *BatchGetSecretValueInput) (*BatchValues, error) {
	var v validator
	v.RangeInt("maxResults", in.MaxResults, 1, MaxBatch)
	if in.SecretIdList != nil && (len(in.SecretIdList) < 1 || len(in.SecretIdList) > MaxBatch) {
		v.Add("secretIdList", "", true, "Member must have length less than or equal to 20")
	}
	for i := range in.SecretIdList {
		v.Length("secretIdList."+itoa(i+1)+".member", &in.SecretIdList[i], 1, 2048, false)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	switch {
	case in.SecretIdList != nil && in.Filters != nil:
		return nil, coffer.Errorf(coffer.ErrInvalidParameter, "Either 'SecretIdList' or 'Filters' must be provided, but not both.")
	case in.SecretIdList == nil && in.Filters == nil:
		return nil, coffer.Errorf(coffer.ErrInvalidParameter, "Either 'SecretIdList' or 'Filters' must be provided.")
	case in.SecretIdList != nil && (in.MaxResults != nil || in.NextToken != nil):
		return nil, coffer.Errorf(coffer.ErrInvalidParameter, "'MaxResults' and 'NextToken' can be used only with 'Filters'.")
	}
	out := &BatchValues{}
	ids := in.SecretIdList
	if in.Filters != nil {
		limit := int64(MaxBatch)
		if in.MaxResults != nil {
			limit = *in.MaxResults
		}
		page, err := s.ListSecrets(ctx, ns, &ListSecretsInput{Filters: in.Filters, MaxResults: &limit, NextToken: in.NextToken})
		if err != nil {
			return nil, err
		}
		out.NextToken = page.NextToken
		ids = nil
		for _, d := range page.Secrets {
			ids = append(ids, d.Secret.ARN)
		}
	}
	for _, id := range ids {
		sid := id
		val, err := s.GetSecretValue(ctx, ns, &GetSecretValueInput{SecretId: &sid})
		if err != nil {
			e := coffer.AsError(err)
			if e.Code == coffer.ErrInternalServiceError {
				for _, v := range out.Values {
					v.Value.Wipe()
				}
				return nil, err
			}
			out.Errors = append(out.Errors, BatchError{SecretID: id, Code: e.Code, Message: e.Message})
			continue
		}
		out.Values = append(out.Values, val)
	}
	return out, nil
}
