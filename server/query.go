package server

import (
	"context"
	"net/http"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsquery"
	"github.com/coffer-project/coffer/iam"
	"github.com/coffer-project/coffer/sigv4"
)

// The query protocol (IAM and STS): requests are routed by the service their signature is
// scoped to, as AWS routes them by endpoint. IAM and STS are global to an account, so any
// region name is accepted in their scope.

// queryNamespace is the XML namespace of a query service's documents.
func queryNamespace(service string) string {
	switch service {
	case "sts":
		return awsquery.NamespaceSTS
	case "iam":
		return awsquery.NamespaceIAM
	}
	return ""
}

// serveQuery runs one query-protocol call and writes its answer.
func (h *Handler) serveQuery(ctx context.Context, w http.ResponseWriter, r *http.Request, ident *sigv4.Identity, body []byte, id string) (string, error) {
	q, err := awsquery.Parse(r, body)
	if err != nil {
		return "", err
	}
	ctx, key, err := h.callerKey(ctx, ident)
	if err != nil {
		return q.Action, err
	}
	rec := auditFrom(ctx)
	rec.key, rec.sess = key, sessionFrom(ctx)
	h.markUsed(ctx, key, ident)
	switch ident.Service {
	case "sts":
		return q.Action, h.sts(ctx, w, r, q, key, id)
	case "iam":
		if err := sessionIAMCheck(sessionFrom(ctx), q); err != nil {
			return q.Action, err
		}
		ns := coffer.Namespace{Account: key.Account, Region: ident.Region}
		c, err := h.newCall(ctx, r, key, ns, "iam:"+q.Action)
		if err != nil {
			return q.Action, err
		}
		if err := h.authorizeIAM(c, q); err != nil {
			return q.Action, err
		}
		if q.Action == "SimulatePrincipalPolicy" {
			out, err := h.simulatePrincipalPolicy(ctx, c, q)
			if err != nil {
				return q.Action, err
			}
			rec.setOutput(out)
			awsquery.WriteResult(w, q.Action, awsquery.NamespaceIAM, id, out)
			return q.Action, nil
		}
		out, err := h.cfg.IAM.Handle(ctx, iam.Caller{Account: key.Account, PrincipalARN: key.PrincipalARN, AccessKeyID: key.ID}, q)
		if err != nil {
			return q.Action, err
		}
		rec.setOutput(out)
		awsquery.WriteResult(w, q.Action, awsquery.NamespaceIAM, id, out)
		return q.Action, nil
	}
	return q.Action, coffer.Errorf(coffer.ErrUnknownOperation, "Unknown operation: %s does not take query-protocol requests.", ident.Service)
}

type callerIdentity struct {
	UserId  string //nolint:revive // AWS's name
	Account string
	Arn     string
}
