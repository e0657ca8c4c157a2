package server

import (
	"encoding/json"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Request-specific condition keys, from the members of a Secrets Manager or KMS request, as
// the AWS service authorization reference lists them for the operations coffer serves.

// smKeys maps a request member to its secretsmanager: condition key.
var smKeys = map[string]string{
	"Name":                        "secretsmanager:Name",
	"Description":                 "secretsmanager:Description",
	"KmsKeyId":                    "secretsmanager:KmsKeyId",
	"VersionId":                   "secretsmanager:VersionId",
	"VersionStage":                "secretsmanager:VersionStage",
	"RotationLambdaARN":           "secretsmanager:RotationLambdaARN",
	"BlockPublicPolicy":           "secretsmanager:BlockPublicPolicy",
	"ForceDeleteWithoutRecovery":  "secretsmanager:ForceDeleteWithoutRecovery",
	"RecoveryWindowInDays":        "secretsmanager:RecoveryWindowInDays",
	"ForceOverwriteReplicaSecret": "secretsmanager:ForceOverwriteReplicaSecret",
}

// kmsKeys maps a request member to its kms: condition key.
var kmsKeys = map[string]string{
	"KeySpec":                        "kms:KeySpec",
	"CustomerMasterKeySpec":          "kms:CustomerMasterKeySpec",
	"KeyUsage":                       "kms:KeyUsage",
	"Origin":                         "kms:KeyOrigin",
	"MultiRegion":                    "kms:MultiRegion",
	"EncryptionAlgorithm":            "kms:EncryptionAlgorithm",
	"BypassPolicyLockoutSafetyCheck": "kms:BypassPolicyLockoutSafetyCheck",
	"RotationPeriodInDays":           "kms:RotationPeriodInDays",
	"PendingWindowInDays":            "kms:ScheduleKeyDeletionPendingWindowInDays",
}

// requestKeys returns the condition keys a JSON request body carries for service ("secretsmanager",
// "coffer" or "kms"): the service's own keys, aws:RequestTag/* and aws:TagKeys, and for KMS
// the encryption context (kms:EncryptionContext:*, kms:EncryptionContextKeys) and
// kms:RequestAlias.
func requestKeys(service string, body []byte) map[string][]string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	table := smKeys
	if service == "kms" {
		table = kmsKeys
	}
	out := map[string][]string{}
	for member, key := range table {
		if raw, ok := m[member]; ok {
			if v, ok := scalar(raw); ok {
				out[key] = []string{v}
			}
		}
	}
	if raw, ok := m["VersionStages"]; ok {
		var stages []string
		if json.Unmarshal(raw, &stages) == nil {
			out["secretsmanager:VersionStage"] = stages
		}
	}
	if raw, ok := m["Tags"]; ok {
		var tags []map[string]string
		if json.Unmarshal(raw, &tags) == nil {
			var keys []string
			for _, t := range tags {
				k, v := t["Key"], t["Value"]
				if service == "kms" {
					k, v = t["TagKey"], t["TagValue"]
				}
				out["aws:RequestTag/"+k] = []string{v}
				keys = append(keys, k)
			}
			out["aws:TagKeys"] = keys
		}
	}
	if raw, ok := m["TagKeys"]; ok {
		var keys []string
		if json.Unmarshal(raw, &keys) == nil {
			out["aws:TagKeys"] = keys
		}
	}
	if service == "kms" {
		for _, member := range []string{"EncryptionContext", "SourceEncryptionContext", "DestinationEncryptionContext"} {
			var ec map[string]string
			if raw, ok := m[member]; ok && json.Unmarshal(raw, &ec) == nil {
				var names []string
				for k, v := range ec {
					out["kms:EncryptionContext:"+k] = []string{v}
					names = append(names, k)
				}
				sort.Strings(names)
				out["kms:EncryptionContextKeys"] = append(out["kms:EncryptionContextKeys"], names...)
			}
		}
		for _, member := range []string{"KeyId", "TargetKeyId", "DestinationKeyId", "SourceKeyId"} {
			if v, ok := scalar(m[member]); ok && strings.Contains(v, "alias/") {
				out["kms:RequestAlias"] = []string{v[strings.Index(v, "alias/"):]}
			}
		}
	}
	return out
}

// scalar returns a JSON string, number or boolean as text.
func scalar(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var f float64
	if json.Unmarshal(raw, &f) == nil {
		return strconv.FormatFloat(f, 'f', -1, 64), true
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return strconv.FormatBool(b), true
	}
	return "", false
}

// sourceIP is aws:SourceIp: the connection's address or, when that address is a proxy the
// operator trusts, the nearest address in X-Forwarded-For that is not one.
func (h *Handler) sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	if !h.trusted(host) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if net.ParseIP(hop) == nil {
			return host // a malformed chain: trust only what we saw
		}
		if !h.trusted(hop) {
			return hop
		}
	}
	return host
}

func (h *Handler) trusted(ip string) bool {
	addr := net.ParseIP(ip)
	for _, n := range h.cfg.TrustedProxies {
		if addr != nil && n.Contains(addr) {
			return true
		}
	}
	return false
}
