package core

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/coffer-project/coffer"
)

// DefaultDeletedNameWindow is how long, after a secret is deleted for good, its name and ARN
// answer "it was deleted" and its name cannot be taken again. AWS finishes a deletion
// asynchronously, and clients such as Terraform retry on that message; coffer reproduces the
// behaviour for a short, fixed window.
const DefaultDeletedNameWindow = 10 * time.Second

// msgDeleted is AWS's message, with its typographic apostrophe (U+2019), which Terraform
// matches.
const msgDeleted = "You can\u2019t perform this operation on the secret because it was deleted."

func errDeleted() error { return coffer.Errorf(coffer.ErrInvalidRequest, msgDeleted) }

func tombstoneMeta(ns coffer.Namespace, name string) string {
	return "deleted-name/" + ns.Account + "/" + ns.Region + "/" + name
}

type tombstone struct {
	ARN   string `json:"arn"`
	Until int64  `json:"until"` // Unix milliseconds
}

// bury records that sec was deleted for good now.
func (s *Service) bury(tx coffer.Tx, sec *coffer.Secret, now time.Time) error {
	if s.deletedWindow <= 0 {
		return nil
	}
	b, _ := json.Marshal(tombstone{ARN: sec.ARN, Until: now.Add(s.deletedWindow).UnixMilli()})
	return tx.PutMeta(tombstoneMeta(sec.Namespace, sec.Name), b)
}

// recentlyDeleted reports whether name in ns (or, when arn is not empty, that exact secret)
// was deleted for good within the window. An expired tombstone is left for the next write
// of the name to remove.
func (s *Service) recentlyDeleted(tx coffer.Tx, ns coffer.Namespace, name, arn string) (bool, error) {
	raw, err := tx.Meta(tombstoneMeta(ns, name))
	if coffer.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var t tombstone
	if json.Unmarshal(raw, &t) != nil {
		return false, nil
	}
	if arn != "" && t.ARN != arn {
		return false, nil
	}
	return s.clock().UnixMilli() < t.Until, nil
}

// find is resolve, with AWS's answer for a secret deleted for good a moment ago.
func (s *Service) find(ctx context.Context, tx coffer.Tx, ns coffer.Namespace, id string) (*coffer.Secret, error) {
	sec, err := resolve(tx, ns, id)
	if err == nil {
		if err := s.authorize(ctx, sec, sec.ARN); err != nil {
			return nil, err
		}
		return sec, nil
	}
	if !coffer.IsNotFound(err) {
		return sec, err
	}
	// Not found: a caller who may not act on that name learns nothing more than that.
	if aerr := s.authorize(ctx, nil, guessARN(ns, id)); aerr != nil {
		return nil, aerr
	}
	name, arn := id, ""
	if prefix := "arn:aws:secretsmanager:" + ns.Region + ":" + ns.Account + ":secret:"; strings.HasPrefix(id, prefix) {
		name = strings.TrimPrefix(id, prefix)
		if gone, terr := s.recentlyDeleted(tx, ns, name, ""); terr != nil || gone {
			return nil, firstErr(terr, errDeleted())
		}
		if len(name) > 7 && name[len(name)-7] == '-' {
			name, arn = name[:len(name)-7], id
		}
	}
	gone, terr := s.recentlyDeleted(tx, ns, name, arn)
	if terr != nil {
		return nil, terr
	}
	if gone {
		return nil, errDeleted()
	}
	return nil, err
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// findLive is find, refusing a secret scheduled for deletion with AWS's message.
func (s *Service) findLive(ctx context.Context, tx coffer.Tx, ns coffer.Namespace, id string) (*coffer.Secret, error) {
	sec, err := s.find(ctx, tx, ns, id)
	if err != nil {
		return nil, err
	}
	if sec.Deleted() {
		return nil, errMarkedForDeletion()
	}
	return sec, nil
}
