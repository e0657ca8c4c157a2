package server

import (
	"strconv"
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
