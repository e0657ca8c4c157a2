package server

import (
	"context"

	"github.com/coffer-project/coffer/awsapi"
	"github.com/coffer-project/coffer/core"
)

// getRandomPasswordOut is GetRandomPasswordResponse. RandomPassword is a core.Text so that a
// response formatted into a log by mistake shows no password.
type getRandomPasswordOut struct {
	RandomPassword core.Text `json:"RandomPassword"`
}

// getRandomPassword serves GetRandomPassword. It touches no secret, so it needs no namespace;
// the password is wiped once the response is written.
func (h *Handler) getRandomPassword(ctx context.Context, body []byte) (any, error) {
	var in core.GetRandomPasswordInput
	if err := awsapi.Decode(body, &in); err != nil {
		return nil, err
	}
	pw, err := h.cfg.Secrets.GetRandomPassword(ctx, &in)
	if err != nil {
		return nil, err
	}
	return wiping{out: &getRandomPasswordOut{RandomPassword: pw}, vals: []*core.Value{{Bytes: pw}}}, nil
}
