package audit

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// TestEventAppendJSON: AppendJSON writes what encoding/json writes, for events with every
// member set or empty and with the values a decoded JSON request holds.
func TestEventAppendJSON(t *testing.T) {
	full := benchEvent()
	full.ErrorCode, full.ErrorMessage = "AccessDeniedException", `User "x" <is> not & authorized`
	full.UserIdentity.SessionContext = &SessionContext{SessionIssuer: SessionIssuer{Type: "Role", PrincipalID: "AROA", ARN: "arn:aws:iam::1:role/r", AccountID: "1", UserName: "r"},
		Attributes: SessionAttributes{CreationDate: "2026-01-01T00:00:00Z", MFAAuthenticated: "false"}}
	full.UserIdentity.InvokedBy = SourceSecretsManager
	full.ResponseElements = map[string]any{"arn": "a", "versionId": "v", "versionStages": []any{"AWSCURRENT"}, "nested": map[string]any{"n": json.Number("12.5"), "b": false, "nil": nil}}
	full.AdditionalEventData = map[string]any{"keyState": "Enabled", "keyMaterialVersion": 3, "servedFromCache": true}
	full.ServiceEventDetails = map[string]any{"list": []string{"x"}, "m": map[string]string{"k": "v"}, "f": 1.5e300}
	events := []*Event{{}, testEvent("id"), benchEvent(), full}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		params := map[string]any{}
		for range rng.IntN(5) {
			k := string(rune('a' + rng.IntN(26)))
			switch rng.IntN(7) {
			case 0:
				params[k] = string([]byte{byte(rng.IntN(256)), byte(rng.IntN(256))})
			case 1:
				params[k] = json.Number("42")
			case 2:
				params[k] = []any{"x", nil, true}
			case 3:
				params[k] = map[string]any{"z": "\u2028", "a": []any{}}
			case 4: // an encryption context: sorted keys, past the 8 sorted on the stack too
				m := map[string]string{}
				for range rng.IntN(12) {
					m[string([]byte{byte(rng.IntN(256)), '<'})] = string([]byte{byte(rng.IntN(256)), '&'})
				}
				params[k] = m
			case 5:
				params[k] = map[string]string(nil)
			default:
				params[k] = nil
			}
		}
		ev := benchEvent()
		ev.RequestParameters = params
		events = append(events, ev)
	}
	for _, ev := range events {
		want, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if got := ev.AppendJSON(nil); string(got) != string(want) {
			t.Fatalf("AppendJSON:\n%s\nencoding/json:\n%s", got, want)
		}
	}
}
