package server

import (
	"context"
	"encoding/base64"
	"sort"
	"strconv"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsapi"
	"github.com/coffer-project/coffer/core"
	"github.com/coffer-project/coffer/internal/jsonw"
)

// Wire shapes of Secrets Manager responses, member for member as secretsmanager.service-2.json
// names them; empty members are left out as AWS leaves them out.
type (
	secretRefOut struct {
		ARN           string            `json:"ARN"`
		Name          string            `json:"Name"`
		VersionId     string            `json:"VersionId,omitempty"` //nolint:revive // AWS's name
		VersionStages []string          `json:"VersionStages,omitempty"`
		DeletionDate  *awsapi.Timestamp `json:"DeletionDate,omitempty"`
	}
	getSecretValueOut struct {
		ARN           string            `json:"ARN"`
		Name          string            `json:"Name"`
		VersionId     string            `json:"VersionId"` //nolint:revive // AWS's name
		SecretBinary  core.Blob         `json:"SecretBinary,omitempty"`
		SecretString  *core.Text        `json:"SecretString,omitempty"`
		VersionStages []string          `json:"VersionStages"`
		CreatedDate   *awsapi.Timestamp `json:"CreatedDate,omitempty"`
	}
	tagOut struct {
		Key   string `json:"Key"`
		Value string `json:"Value"`
	}
	rotationRulesOut struct {
		AutomaticallyAfterDays int64  `json:"AutomaticallyAfterDays,omitempty"`
		Duration               string `json:"Duration,omitempty"`
		ScheduleExpression     string `json:"ScheduleExpression,omitempty"`
	}
	// secretOut is DescribeSecretResponse and SecretListEntry; they differ only in the name of
	// the versions map.
	secretOut struct {
		ARN                    string              `json:"ARN"`
		Name                   string              `json:"Name"`
		Description            string              `json:"Description,omitempty"`
		KmsKeyId               string              `json:"KmsKeyId,omitempty"` //nolint:revive // AWS's name
		Type                   string              `json:"Type,omitempty"`
		RotationEnabled        *bool               `json:"RotationEnabled,omitempty"`
		RotationLambdaARN      string              `json:"RotationLambdaARN,omitempty"`
		RotationRules          *rotationRulesOut   `json:"RotationRules,omitempty"`
		LastRotatedDate        *awsapi.Timestamp   `json:"LastRotatedDate,omitempty"`
		LastChangedDate        *awsapi.Timestamp   `json:"LastChangedDate,omitempty"`
		LastAccessedDate       *awsapi.Timestamp   `json:"LastAccessedDate,omitempty"`
		DeletedDate            *awsapi.Timestamp   `json:"DeletedDate,omitempty"`
		NextRotationDate       *awsapi.Timestamp   `json:"NextRotationDate,omitempty"`
		Tags                   *[]tagOut           `json:"Tags,omitempty"` // nil: never tagged; empty: all tags removed
		VersionIdsToStages     map[string][]string `json:"VersionIdsToStages,omitempty"`
		SecretVersionsToStages map[string][]string `json:"SecretVersionsToStages,omitempty"`
		OwningService          string              `json:"OwningService,omitempty"`
		CreatedDate            *awsapi.Timestamp   `json:"CreatedDate,omitempty"`
		PrimaryRegion          string              `json:"PrimaryRegion,omitempty"`
	}
	listSecretsOut struct {
		SecretList []*secretOut `json:"SecretList"`
		NextToken  string       `json:"NextToken,omitempty"`
	}
)

func refOut(r *core.SecretRef) *secretRefOut {
	return &secretRefOut{ARN: r.ARN, Name: r.Name, VersionId: r.VersionID, VersionStages: r.VersionStages, DeletionDate: awsapi.TimePtr(r.DeletionDate)}
}

func describeOut(d *core.SecretDetails, list bool) *secretOut {
	s := d.Secret
	out := &secretOut{
		ARN:               s.ARN,
		Name:              s.Name,
		Description:       s.Description,
		KmsKeyId:          s.KMSKeyID,
		Type:              s.Type,
		RotationLambdaARN: s.RotationLambdaARN,
		LastRotatedDate:   awsapi.TimePtr(s.LastRotatedDate),
		LastChangedDate:   awsapi.TimePtr(s.LastChangedDate),
		LastAccessedDate:  awsapi.TimePtr(s.LastAccessedDate),
		DeletedDate:       awsapi.TimePtr(s.DeletedDate),
		NextRotationDate:  awsapi.TimePtr(s.NextRotationDate),
		OwningService:     s.OwningService,
		CreatedDate:       awsapi.TimePtr(s.CreatedDate),
		PrimaryRegion:     s.PrimaryRegion,
	}
	if s.RotationEnabled {
		t := true
		out.RotationEnabled = &t
	}
	if r := s.RotationRules; r != (coffer.RotationRules{}) {
		out.RotationRules = &rotationRulesOut{AutomaticallyAfterDays: r.AutomaticallyAfterDays, Duration: r.Duration, ScheduleExpression: r.ScheduleExpression}
	}
	if s.Tags != nil {
		tags := make([]tagOut, 0, len(s.Tags))
		for _, t := range s.Tags {
			tags = append(tags, tagOut(t))
		}
		out.Tags = &tags
	}
	if len(d.Versions) > 0 {
		m := make(map[string][]string, len(d.Versions))
		for _, v := range d.Versions {
			stages := append([]string(nil), v.Stages...)
			sort.Strings(stages)
			m[v.VersionID] = stages
		}
		if list {
			out.SecretVersionsToStages = m
		} else {
			out.VersionIdsToStages = m
		}
	}
	return out
}

// secretsManager decodes the input of op, runs it, and returns the response to encode.
func (h *Handler) secretsManager(ctx context.Context, ns coffer.Namespace, op string, body []byte) (any, error) {
	svc := h.cfg.Secrets
	switch op {
	case "CreateSecret":
		var in core.CreateSecretInput
		if err := awsapi.Decode(body, &in); err != nil {
			return nil, err
		}
		defer wipeText(in.SecretString, in.SecretBinary)
		r, err := svc.CreateSecret(ctx, ns, &in)
		if err != nil {
			return nil, err
		}
		return refOut(r), nil
	case "GetSecretValue":
		var in core.GetSecretValueInput
		if err := awsapi.Decode(body, &in); err != nil {
			return nil, err
		}
		v, err := svc.GetSecretValue(ctx, ns, &in)
		if err != nil {
			return nil, err
		}
		return wiping{out: valueOut(v), vals: []*core.Value{v.Value}}, nil
	case "PutSecretValue":
		var in core.PutSecretValueInput
		if err := awsapi.Decode(body, &in); err != nil {
			return nil, err
		}
		defer wipeText(in.SecretString, in.SecretBinary)
		r, err := svc.PutSecretValue(ctx, ns, &in)
		if err != nil {
			return nil, err
		}
		return refOut(r), nil
	case "UpdateSecret":
		var in core.UpdateSecretInput
		if err := awsapi.Decode(body, &in); err != nil {
			return nil, err
		}
		defer wipeText(in.SecretString, in.SecretBinary)
		r, err := svc.UpdateSecret(ctx, ns, &in)
		if err != nil {
			return nil, err
		}
		return refOut(r), nil
	case "DescribeSecret":
		var in core.DescribeSecretInput
		if err := awsapi.Decode(body, &in); err != nil {
			return nil, err
		}
		d, err := svc.DescribeSecret(ctx, ns, &in)
		if err != nil {
			return nil, err
		}
		return describeOut(d, false), nil
	case "ListSecrets":
		var in core.ListSecretsInput
		if err := awsapi.Decode(body, &in); err != nil {
			return nil, err
		}
		p, err := svc.ListSecrets(ctx, ns, &in)
		if err != nil {
			return nil, err
		}
		out := &listSecretsOut{SecretList: []*secretOut{}, NextToken: p.NextToken}
		for _, d := range p.Secrets {
			out.SecretList = append(out.SecretList, describeOut(d, true))
		}
		return out, nil
	case "DeleteSecret":
		var in core.DeleteSecretInput
		if err := awsapi.Decode(body, &in); err != nil {
			return nil, err
		}
		r, err := svc.DeleteSecret(ctx, ns, &in)
		if err != nil {
			return nil, err
		}
		return refOut(r), nil
	case "ListSecretVersionIds":
		return h.listSecretVersionIds(ctx, ns, body)
	case "UpdateSecretVersionStage":
		return h.updateSecretVersionStage(ctx, ns, body)
	case "TagResource":
		return h.tagResource(ctx, ns, body)
	case "UntagResource":
		return h.untagResource(ctx, ns, body)
	case "BatchGetSecretValue":
		return h.batchGetSecretValue(ctx, ns, body)
	case "GetRandomPassword":
		return h.getRandomPassword(ctx, body)
	case "PutResourcePolicy":
		return h.putResourcePolicy(ctx, ns, body)
	case "GetResourcePolicy":
		return h.getResourcePolicy(ctx, ns, body)
	case "DeleteResourcePolicy":
		return h.deleteResourcePolicy(ctx, ns, body)
	case "ValidateResourcePolicy":
		return h.validateResourcePolicy(ctx, ns, body)
	case "RestoreSecret":
		var in core.RestoreSecretInput
		if err := awsapi.Decode(body, &in); err != nil {
			return nil, err
		}
		r, err := svc.RestoreSecret(ctx, ns, &in)
		if err != nil {
			return nil, err
		}
		return refOut(r), nil
	case "RotateSecret":
		var in core.RotateSecretInput
		if err := awsapi.Decode(body, &in); err != nil {
			return nil, err
		}
		r, err := svc.RotateSecret(ctx, ns, &in)
		if err != nil {
			return nil, err
		}
		return &versionRefOut{ARN: r.ARN, Name: r.Name, VersionId: r.VersionID}, nil
	case "CancelRotateSecret":
		var in core.CancelRotateSecretInput
		if err := awsapi.Decode(body, &in); err != nil {
			return nil, err
		}
		r, err := svc.CancelRotateSecret(ctx, ns, &in)
		if err != nil {
			return nil, err
		}
		return &versionRefOut{ARN: r.ARN, Name: r.Name, VersionId: r.VersionID}, nil
	}
	if isModelled(op) {
		return nil, coffer.Errorf(coffer.ErrInvalidRequest, "This coffer server does not implement %s yet.", op)
	}
	return nil, coffer.Errorf(coffer.ErrUnknownOperation, "Unknown operation: secretsmanager.%s", op)
}

// isModelled reports whether op is a Secrets Manager operation that coffer does not serve yet,
// so that it gets a clear refusal rather than "unknown operation".
func isModelled(op string) bool {
	switch op {
	case "RemoveRegionsFromReplication", "ReplicateSecretToRegions", "StopReplicationToReplica":
		return true
	}
	return false
}

func wipeText(s *core.Text, b core.Blob) {
	if s != nil {
		clear(*s)
	}
	clear(b)
}

// versionRefOut is RotateSecret's and CancelRotateSecret's answer.
type versionRefOut struct {
	ARN       string `json:"ARN"`
	Name      string `json:"Name"`
	VersionId string `json:"VersionId,omitempty"` //nolint:revive // AWS's naming
}

// wiping is a response holding plaintext: it is encoded, then the plaintext is wiped.
type wiping struct {
	out  any
	vals []*core.Value
}

// AppendJSON encodes the response as encoding/json would (TestGetSecretValueOutJSON), without
// reflection and without the copies encoding/json keeps in its pooled buffers.
func (o *getSecretValueOut) AppendJSON(b []byte) []byte {
	b = append(b, `{"ARN":`...)
	b = jsonw.AppendString(b, o.ARN)
	b = append(b, `,"Name":`...)
	b = jsonw.AppendString(b, o.Name)
	b = append(b, `,"VersionId":`...)
	b = jsonw.AppendString(b, o.VersionId)
	if len(o.SecretBinary) > 0 {
		b = append(b, `,"SecretBinary":"`...)
		b = base64.StdEncoding.AppendEncode(b, o.SecretBinary)
		b = append(b, '"')
	}
	if o.SecretString != nil {
		b = append(b, `,"SecretString":`...)
		b = jsonw.AppendString(b, []byte(*o.SecretString))
	}
	b = append(b, `,"VersionStages":`...)
	b = jsonw.AppendStrings(b, o.VersionStages)
	if o.CreatedDate != nil {
		b = append(b, `,"CreatedDate":`...)
		b = o.CreatedDate.AppendJSON(b)
	}
	return append(b, '}')
}

// AppendJSON encodes the entry as encoding/json would (TestSecretOutJSON), without
// reflection: DescribeSecret is what caching clients poll to learn of a new version, and a
// ListSecrets page holds up to 100 entries (encoding/json took a sixth of a page's CPU).
func (o *secretOut) AppendJSON(b []byte) []byte {
	b = append(b, `{"ARN":`...)
	b = jsonw.AppendString(b, o.ARN)
	b = append(b, `,"Name":`...)
	b = jsonw.AppendString(b, o.Name)
	b = appendStringMember(b, `,"Description":`, o.Description)
	b = appendStringMember(b, `,"KmsKeyId":`, o.KmsKeyId)
	b = appendStringMember(b, `,"Type":`, o.Type)
	if o.RotationEnabled != nil {
		b = append(b, `,"RotationEnabled":`...)
		b = strconv.AppendBool(b, *o.RotationEnabled)
	}
	b = appendStringMember(b, `,"RotationLambdaARN":`, o.RotationLambdaARN)
	if r := o.RotationRules; r != nil {
		b = append(b, `,"RotationRules":{`...)
		n := len(b)
		if r.AutomaticallyAfterDays != 0 {
			b = append(b, `,"AutomaticallyAfterDays":`...)
			b = strconv.AppendInt(b, r.AutomaticallyAfterDays, 10)
		}
		b = appendStringMember(b, `,"Duration":`, r.Duration)
		b = appendStringMember(b, `,"ScheduleExpression":`, r.ScheduleExpression)
		if len(b) > n { // the first member has no comma before it
			b = append(b[:n], b[n+1:]...)
		}
		b = append(b, '}')
	}
	b = appendTimeMember(b, `,"LastRotatedDate":`, o.LastRotatedDate)
	b = appendTimeMember(b, `,"LastChangedDate":`, o.LastChangedDate)
	b = appendTimeMember(b, `,"LastAccessedDate":`, o.LastAccessedDate)
	b = appendTimeMember(b, `,"DeletedDate":`, o.DeletedDate)
	b = appendTimeMember(b, `,"NextRotationDate":`, o.NextRotationDate)
	if o.Tags != nil {
		b = jsonw.AppendArray(append(b, `,"Tags":`...), *o.Tags, appendTag)
	}
	b = appendStagesMember(b, `,"VersionIdsToStages":`, o.VersionIdsToStages)
	b = appendStagesMember(b, `,"SecretVersionsToStages":`, o.SecretVersionsToStages)
	b = appendStringMember(b, `,"OwningService":`, o.OwningService)
	b = appendTimeMember(b, `,"CreatedDate":`, o.CreatedDate)
	b = appendStringMember(b, `,"PrimaryRegion":`, o.PrimaryRegion)
	return append(b, '}')
}

// AppendJSON encodes the page as encoding/json would (TestSecretOutJSON).
func (o *listSecretsOut) AppendJSON(b []byte) []byte {
	b = jsonw.AppendArray(append(b, `{"SecretList":`...), o.SecretList, func(b []byte, e *secretOut) []byte {
		if e == nil {
			return append(b, "null"...)
		}
		return e.AppendJSON(b)
	})
	b = appendStringMember(b, `,"NextToken":`, o.NextToken)
	return append(b, '}')
}

// appendTag appends a tag as encoding/json encodes a tagOut.
func appendTag(b []byte, t tagOut) []byte {
	b = jsonw.AppendString(append(b, `{"Key":`...), t.Key)
	b = jsonw.AppendString(append(b, `,"Value":`...), t.Value)
	return append(b, '}')
}

// appendStringMember appends a string member tagged omitempty: name (`,"Name":`) and s,
// unless s is empty.
func appendStringMember(b []byte, name, s string) []byte {
	if s == "" {
		return b
	}
	return jsonw.AppendString(append(b, name...), s)
}

// appendTimeMember appends a timestamp member tagged omitempty, unless t is nil.
func appendTimeMember(b []byte, name string, t *awsapi.Timestamp) []byte {
	if t == nil {
		return b
	}
	return t.AppendJSON(append(b, name...))
}

// appendStagesMember appends a map of version ids to labels tagged omitempty, unless it is
// empty.
func appendStagesMember(b []byte, name string, m map[string][]string) []byte {
	if len(m) == 0 {
		return b
	}
	return jsonw.AppendObject(append(b, name...), m, jsonw.AppendStrings)
}

// valueOut is the wire shape of one secret value, shared by GetSecretValue and
// BatchGetSecretValue. It aliases the plaintext, which the caller wipes after encoding.
func valueOut(v *core.SecretValue) *getSecretValueOut {
	out := &getSecretValueOut{
		ARN: v.ARN, Name: v.Name, VersionId: v.Version.VersionID,
		VersionStages: v.Version.Stages, CreatedDate: awsapi.TimePtr(v.Version.CreatedDate),
	}
	if v.Value.Binary {
		out.SecretBinary = core.Blob(v.Value.Bytes)
	} else {
		t := core.Text(v.Value.Bytes)
		out.SecretString = &t
	}
	return out
}
