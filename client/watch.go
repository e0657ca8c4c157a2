package client

import "context"

// Watched is a secret to watch: its id (name or ARN) and the staging labels of its
// versions as the caller knows them. Versions without a label may be left out.
type Watched struct {
	SecretID           string              `json:"SecretId"`
	VersionIdsToStages map[string][]string `json:"VersionIdsToStages"`
}

// WatchInput is WatchSecrets' request: 1 to 100 secrets, and how long to wait for a change
// (0 to 60 seconds; 0 means the server's default, 20).
type WatchInput struct {
	Secrets     []Watched
	WaitSeconds int
}

// Changed is a watched secret whose labels are not what the caller said: its ARN and the
// labels as they are now.
type Changed struct {
	SecretID           string              `json:"SecretId"`
	ARN                string              `json:"ARN"`
	VersionIdsToStages map[string][]string `json:"VersionIdsToStages"`
}

// WatchOutput is WatchSecrets' answer. Both lists are empty when the wait ended with no
// change. Unavailable names, as the caller spelled them, the secrets that do not exist, are
// scheduled for deletion, or that the caller may not describe: the server does not say which.
type WatchOutput struct {
	Changed     []Changed
	Unavailable []Unavailable
}

// Unavailable is a watched secret the server says nothing about.
type Unavailable struct {
	SecretID string `json:"SecretId"`
}

// WatchSecrets is coffer's long poll (coffer.WatchSecrets): it answers as soon as one of the
// secrets has its labels moved from what in says, or when the wait ends. The http.Client
// given to New must allow a request WaitSeconds (plus a margin) to answer. Against a server
// without the operation (AWS), the error is an *APIError with Code
// "UnknownOperationException".
func (c *Client) WatchSecrets(ctx context.Context, in *WatchInput) (*WatchOutput, error) {
	req := map[string]any{"Secrets": in.Secrets}
	if in.WaitSeconds > 0 {
		req["WaitSeconds"] = in.WaitSeconds
	}
	var out WatchOutput
	if err := c.Call(ctx, "coffer.WatchSecrets", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
