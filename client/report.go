package client

import "context"

// CachedRead is one line of a ReportCachedReads call: Count reads of a secret (as the
// reader named it, and the version or stage asked) that a client agent answered from its
// own cache between FirstTime and LastTime (epoch seconds), from the application at
// ClientIP.
type CachedRead struct {
	SecretID     string  `json:"SecretId"`
	VersionID    string  `json:"VersionId,omitempty"`
	VersionStage string  `json:"VersionStage,omitempty"`
	Count        int     `json:"Count"`
	FirstTime    float64 `json:"FirstTime"`
	LastTime     float64 `json:"LastTime"`
	ClientIP     string  `json:"ClientIP,omitempty"`
}

// ReportCachedReads reports reads served from a cache (coffer.ReportCachedReads: 1 to 100
// lines, Count 1 to 1,000,000 each) and returns how many lines the server recorded, each
// as a GetSecretValue record marked servedFromCache. Against a server without the
// operation (AWS), the error is an *APIError with Code "UnknownOperationException".
func (c *Client) ReportCachedReads(ctx context.Context, reads []CachedRead) (int, error) {
	var out struct{ Recorded int }
	if err := c.Call(ctx, "coffer.ReportCachedReads", map[string]any{"Reads": reads}, &out); err != nil {
		return 0, err
	}
	return out.Recorded, nil
}
