package audit

import (
	"encoding/json"
	"strconv"

	"github.com/coffer-project/coffer/internal/jsonw"
)

// AppendJSON appends the event as encoding/json encodes it (TestEventAppendJSON), without
// reflection: every call's record goes through here.
func (e *Event) AppendJSON(b []byte) []byte {
	b = append(b, `{"eventVersion":`...)
	b = jsonw.AppendString(b, e.EventVersion)
	b = appendField(b, "eventTime", e.EventTime)
	b = appendField(b, "eventSource", e.EventSource)
	b = appendField(b, "eventName", e.EventName)
	b = appendField(b, "awsRegion", e.AWSRegion)
	b = appendField(b, "sourceIPAddress", e.SourceIPAddress)
	b = appendField(b, "userAgent", e.UserAgent)
	b = append(b, `,"userIdentity":`...)
	b = e.UserIdentity.appendJSON(b)
	b = append(b, `,"requestParameters":`...)
	b = appendMap(b, e.RequestParameters)
	b = append(b, `,"responseElements":`...)
	b = appendMap(b, e.ResponseElements)
	if e.ErrorCode != "" {
		b = appendField(b, "errorCode", e.ErrorCode)
	}
	if e.ErrorMessage != "" {
		b = appendField(b, "errorMessage", e.ErrorMessage)
	}
	b = appendField(b, "requestID", e.RequestID)
	b = appendField(b, "eventID", e.EventID)
	b = append(b, `,"readOnly":`...)
	b = strconv.AppendBool(b, e.ReadOnly)
	if len(e.Resources) > 0 {
		b = append(b, `,"resources":[`...)
		for i, r := range e.Resources {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"ARN":`...)
			b = jsonw.AppendString(b, r.ARN)
			b = appendField(b, "accountId", r.AccountID)
			b = appendField(b, "type", r.Type)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendField(b, "eventType", e.EventType)
	b = appendField(b, "recipientAccountId", e.RecipientAccountID)
	b = appendField(b, "category", e.Category)
	if len(e.AdditionalEventData) > 0 {
		b = append(b, `,"additionalEventData":`...)
		b = appendMap(b, e.AdditionalEventData)
	}
	if len(e.ServiceEventDetails) > 0 {
		b = append(b, `,"serviceEventDetails":`...)
		b = appendMap(b, e.ServiceEventDetails)
	}
	return append(b, '}')
}

func (u *UserIdentity) appendJSON(b []byte) []byte {
	b = append(b, `{"type":`...)
	b = jsonw.AppendString(b, u.Type)
	b = appendField(b, "principalId", u.PrincipalID)
	b = appendField(b, "arn", u.ARN)
	b = appendField(b, "accountId", u.AccountID)
	if u.AccessKeyID != "" {
		b = appendField(b, "accessKeyId", u.AccessKeyID)
	}
	if u.UserName != "" {
		b = appendField(b, "userName", u.UserName)
	}
	if s := u.SessionContext; s != nil {
		b = append(b, `,"sessionContext":{"sessionIssuer":{"type":`...)
		b = jsonw.AppendString(b, s.SessionIssuer.Type)
		b = appendField(b, "principalId", s.SessionIssuer.PrincipalID)
		b = appendField(b, "arn", s.SessionIssuer.ARN)
		b = appendField(b, "accountId", s.SessionIssuer.AccountID)
		b = appendField(b, "userName", s.SessionIssuer.UserName)
		b = append(b, `},"attributes":{"creationDate":`...)
		b = jsonw.AppendString(b, s.Attributes.CreationDate)
		b = appendField(b, "mfaAuthenticated", s.Attributes.MFAAuthenticated)
		b = append(b, "}}"...)
	}
	if u.InvokedBy != "" {
		b = appendField(b, "invokedBy", u.InvokedBy)
	}
	return append(b, '}')
}

// appendField appends `,"name":value` (name needs no escaping).
func appendField(b []byte, name, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return jsonw.AppendString(b, value)
}

// appendMap appends m as encoding/json does: null when nil, keys sorted.
func appendMap(b []byte, m map[string]any) []byte { return jsonw.AppendObject(b, m, appendValue) }

// appendStringMap is appendMap for a map of strings (a KMS encryption context).
func appendStringMap(b []byte, m map[string]string) []byte {
	return jsonw.AppendObject(b, m, jsonw.AppendString[string])
}

// appendValue appends the values a decoded request or answer holds by hand, and any other
// through encoding/json.
func appendValue(b []byte, v any) []byte {
	switch t := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return jsonw.AppendString(b, t)
	case bool:
		return strconv.AppendBool(b, t)
	case map[string]any:
		return appendMap(b, t)
	case map[string]string:
		return appendStringMap(b, t)
	case []any:
		return jsonw.AppendArray(b, t, appendValue)
	}
	enc, err := json.Marshal(v)
	if err != nil {
		// As json.Marshal of the whole event would fail: keep the record, without the value.
		return append(b, "null"...)
	}
	return append(b, enc...)
}
