package server

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/audit"
	"github.com/coffer-project/coffer/awsapi"
)

// coffer.LookupEvents: the audit trail, queried through the API (for the console and for
// auditors who hold coffer:LookupEvents, as CofferAuditor does). A caller sees its own
// account's events only.

type lookupEventsIn struct {
	StartTime  *float64 // epoch seconds, inclusive
	EndTime    *float64 // epoch seconds, exclusive
	Principal  *string
	SecretId   *string //nolint:revive // AWS's naming
	EventName  *string // an event name, a category, or a category prefix ending in "."
	ErrorCode  *string // "*" for every failed call
	RequestId  *string //nolint:revive // AWS's naming
	MaxResults *int
	NextToken  *string
}

type lookupEventsOut struct {
	Events    []*audit.Event `json:"Events"`
	NextToken string         `json:"NextToken,omitempty"`
}

type auditDigestOut struct {
	Digest *audit.Digest `json:"Digest"`
}

func (h *Handler) lookupEvents(ns coffer.Namespace, body []byte) (any, error) {
	if h.cfg.AuditSource == nil {
		return nil, coffer.Errorf(coffer.ErrInvalidRequest, "This server's audit trail cannot be queried through the API; use coffer audit query on its host.")
	}
	var in lookupEventsIn
	if err := awsapi.Decode(body, &in); err != nil {
		return nil, err
	}
	f := audit.Filter{Account: ns.Account}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	f.Principal, f.Secret, f.Event, f.Error, f.RequestID = str(in.Principal), str(in.SecretId), str(in.EventName), str(in.ErrorCode), str(in.RequestId)
	if in.StartTime != nil {
		f.Since = time.Unix(0, int64(*in.StartTime*1e9)).UTC()
	}
	if in.EndTime != nil {
		f.Until = time.Unix(0, int64(*in.EndTime*1e9)).UTC()
	}
	limit := 50
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 1000 {
			return nil, coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 1000", *in.MaxResults)
		}
		limit = *in.MaxResults
	}
	var after uint64
	if t := str(in.NextToken); t != "" {
		n, err := strconv.ParseUint(t, 10, 64)
		if err != nil {
			return nil, coffer.Errorf(coffer.ErrInvalidNextToken, "The NextToken value is invalid.")
		}
		after = n
	}
	entries, next, err := audit.Query(h.cfg.AuditSource, f, after, limit)
	if err != nil {
		return nil, coffer.Internal(err)
	}
	out := &lookupEventsOut{Events: make([]*audit.Event, 0, len(entries))}
	for _, e := range entries {
		out.Events = append(out.Events, e.Event)
	}
	if next != 0 {
		out.NextToken = strconv.FormatUint(next, 10)
	}
	return out, nil
}

// coffer.ReportCachedReads: a client agent reports the reads it served from its own cache,
// and each becomes a GetSecretValue record marked servedFromCache, with the agent's caller as
// the principal, in the same durable write as the report's own record. The caller needs
// coffer:ReportCachedReads; what it reports is recorded as reported, not re-checked.

// maxReportedReads bounds one report.
const maxReportedReads = 100

type cachedRead struct {
	SecretId     *string //nolint:revive // AWS's naming
	VersionId    *string //nolint:revive // AWS's naming
	VersionStage *string
	Count        *int
	FirstTime    *float64 // epoch seconds
	LastTime     *float64
	ClientIP     *string // the application's address, as the agent saw it (recorded as reported)
}

type reportOut struct {
	Recorded int `json:"Recorded"`
}

func (h *Handler) reportCachedReads(ctx context.Context, ns coffer.Namespace, body []byte) (any, error) {
	var in struct{ Reads []cachedRead }
	if err := awsapi.Decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.Reads) == 0 || len(in.Reads) > maxReportedReads {
		return nil, coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value at 'reads' failed to satisfy constraint: Member must have length between 1 and %d", maxReportedReads)
	}
	rec := auditFrom(ctx)
	now := h.now()
	for i, r := range in.Reads {
		if r.SecretId == nil || *r.SecretId == "" || len(*r.SecretId) > 2048 {
			return nil, coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value at 'reads.%d.member.secretId' failed to satisfy constraint: Member must have length between 1 and 2048", i+1)
		}
		count := 1
		if r.Count != nil {
			if *r.Count < 1 || *r.Count > 1_000_000 {
				return nil, coffer.Errorf(coffer.ErrValidation, "1 validation error detected: Value '%d' at 'reads.%d.member.count' failed to satisfy constraint: Member must have value between 1 and 1000000", *r.Count, i+1)
			}
			count = *r.Count
		}
		at := now
		if r.LastTime != nil {
			at = time.Unix(0, int64(*r.LastTime*1e9))
			if at.After(now) {
				at = now
			}
		}
		params := map[string]any{"secretId": *r.SecretId}
		if r.VersionId != nil {
			params["versionId"] = *r.VersionId
		}
		if r.VersionStage != nil {
			params["versionStage"] = *r.VersionStage
		}
		extra := map[string]any{"servedFromCache": true, "reportedBy": rec.identity().ARN, "count": count, "reportRequestID": rec.id}
		if r.FirstTime != nil {
			extra["firstRead"] = audit.FormatTime(time.Unix(0, int64(*r.FirstTime*1e9)))
		}
		ev := &audit.Event{
			EventVersion: audit.EventVersion, EventTime: audit.FormatTime(at), EventSource: audit.SourceSecretsManager,
			EventName: "GetSecretValue", AWSRegion: ns.Region, SourceIPAddress: rec.sourceIP, UserAgent: rec.userAgent,
			UserIdentity: rec.identity(), RequestParameters: params, RequestID: rec.id, EventID: requestID(),
			ReadOnly: true, EventType: audit.TypeAPICall, RecipientAccountID: ns.Account,
			Category: audit.Category(audit.SourceSecretsManager, "GetSecretValue"), AdditionalEventData: extra,
		}
		if r.ClientIP != nil && len(*r.ClientIP) <= 64 {
			extra["clientIP"] = *r.ClientIP // as the agent says: sourceIPAddress is the agent's
		}
		if strings.HasPrefix(*r.SecretId, "arn:aws:secretsmanager:") {
			ev.Resources = []audit.Resource{{ARN: *r.SecretId, AccountID: arnAccount(*r.SecretId), Type: audit.ResourceSecret}}
		}
		rec.reported = append(rec.reported, ev)
	}
	return &reportOut{Recorded: len(in.Reads)}, nil
}
