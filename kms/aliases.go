package kms

import (
	"context"
	"regexp"
	"strings"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsapi"
)

// AliasInput is the CreateAlias, UpdateAlias and DeleteAlias request.
type AliasInput struct {
	AliasName   *string
	TargetKeyId *string //nolint:revive // AWS's name
}

var aliasPattern = regexp.MustCompile(`^[a-zA-Z0-9:/_-]+$`)

func validAlias(v *awsapi.Validator, name *string) {
	v.Required("aliasName", name != nil)
	v.Length("aliasName", name, 1, 256, false)
	if name != nil && *name != "" && len(*name) <= 256 && !aliasPattern.MatchString(*name) {
		v.Add("aliasName", *name, false, "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$")
	}
}

// checkAliasName refuses names without the "alias/" prefix and the reserved "alias/aws/".
func checkAliasName(name string) error {
	switch {
	case !strings.HasPrefix(name, "alias/") || name == "alias/":
		return coffer.Errorf(coffer.ErrKMSInvalidAliasName, "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html")
	case strings.HasPrefix(name, "alias/aws/"):
		return coffer.Errorf(coffer.ErrKMSInvalidAliasName, "Alias names that begin with \"alias/aws/\" are reserved for AWS managed keys.")
	}
	return nil
}

// aliasTarget resolves the key an alias is to point at: a customer-managed key (by id or
// ARN) not pending deletion.
func (s *Service) aliasTarget(tx coffer.Tx, ns coffer.Namespace, ref string) (*coffer.Key, error) {
	k, err := s.customerKey(tx, ns, ref, "an alias cannot point at it")
	if err != nil {
		return nil, err
	}
	if k.State == coffer.KeyStatePendingDeletion {
		return nil, errPendingDeletion(k)
	}
	return k, nil
}

// CreateAlias creates an alias for a customer-managed key.
func (s *Service) CreateAlias(ctx context.Context, ns coffer.Namespace, in *AliasInput) (*Empty, error) {
	var v awsapi.Validator
	validAlias(&v, in.AliasName)
	validKeyID(&v, in.TargetKeyId)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := checkAliasName(*in.AliasName); err != nil {
		return nil, err
	}
	err := s.update(ctx, func(tx coffer.Tx) error {
		k, err := s.aliasTarget(tx, ns, *in.TargetKeyId)
		if err != nil {
			return err
		}
		now := s.clock()
		err = tx.InsertAlias(&coffer.Alias{Namespace: ns, Name: *in.AliasName, KeyID: k.ID, CreatedDate: now, LastUpdatedDate: now})
		if coffer.ErrorCode(err) == coffer.ErrResourceExists {
			return coffer.Errorf(coffer.ErrKMSAlreadyExists, "An alias with the name %s already exists", coffer.AliasARN(ns, *in.AliasName))
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Empty{}, nil
}

// UpdateAlias points an alias at another customer-managed key.
func (s *Service) UpdateAlias(ctx context.Context, ns coffer.Namespace, in *AliasInput) (*Empty, error) {
	var v awsapi.Validator
	validAlias(&v, in.AliasName)
	validKeyID(&v, in.TargetKeyId)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := checkAliasName(*in.AliasName); err != nil {
		return nil, err
	}
	err := s.update(ctx, func(tx coffer.Tx) error {
		a, err := tx.Alias(ns, *in.AliasName)
		if coffer.IsNotFound(err) {
			return errAliasNotFound(ns, *in.AliasName)
		}
		if err != nil {
			return err
		}
		k, err := s.aliasTarget(tx, ns, *in.TargetKeyId)
		if err != nil {
			return err
		}
		a.KeyID, a.LastUpdatedDate = k.ID, s.clock()
		return tx.UpdateAlias(a)
	})
	if err != nil {
		return nil, err
	}
	return &Empty{}, nil
}

// DeleteAlias deletes an alias; the key it pointed at is unaffected.
func (s *Service) DeleteAlias(ctx context.Context, ns coffer.Namespace, in *AliasInput) (*Empty, error) {
	var v awsapi.Validator
	validAlias(&v, in.AliasName)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := checkAliasName(*in.AliasName); err != nil {
		return nil, err
	}
	err := s.update(ctx, func(tx coffer.Tx) error {
		err := tx.DeleteAlias(ns, *in.AliasName)
		if coffer.IsNotFound(err) {
			return errAliasNotFound(ns, *in.AliasName)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Empty{}, nil
}

// AliasListEntry is one alias of ListAliases.
type AliasListEntry struct {
	AliasName       string            `json:"AliasName"`
	AliasArn        string            `json:"AliasArn"`
	TargetKeyId     string            `json:"TargetKeyId,omitempty"` //nolint:revive // AWS's name
	CreationDate    *awsapi.Timestamp `json:"CreationDate,omitempty"`
	LastUpdatedDate *awsapi.Timestamp `json:"LastUpdatedDate,omitempty"`
}

// ListAliasesOut is the ListAliases answer.
type ListAliasesOut struct {
	Aliases    []AliasListEntry `json:"Aliases"`
	NextMarker string           `json:"NextMarker,omitempty"`
	Truncated  bool             `json:"Truncated"`
}

// ListAliases lists the aliases of ns, or of one key.
func (s *Service) ListAliases(ctx context.Context, ns coffer.Namespace, in *PageInput) (*ListAliasesOut, error) {
	var v awsapi.Validator
	v.Length("keyId", in.KeyId, 1, 2048, false)
	validPage(&v, in, 100)
	if err := v.Err(); err != nil {
		return nil, err
	}
	after, err := decodeMarker(in.Marker)
	if err != nil {
		return nil, err
	}
	limit := limitOf(in.Limit, 50)
	out := &ListAliasesOut{Aliases: []AliasListEntry{}}
	err = s.view(ctx, func(tx coffer.Tx) error {
		keyID := ""
		if in.KeyId != nil {
			k, err := s.resolve(tx, ns, *in.KeyId, false)
			if err != nil {
				return err
			}
			keyID = k.ID
		}
		as, err := tx.ListAliases(ns, keyID, after, limit+1)
		if err != nil {
			return err
		}
		out.Aliases = out.Aliases[:0]
		for i, a := range as {
			if i == limit {
				out.Truncated, out.NextMarker = true, encodeMarker(as[i-1].Name)
				break
			}
			out.Aliases = append(out.Aliases, AliasListEntry{AliasName: a.Name, AliasArn: coffer.AliasARN(ns, a.Name),
				TargetKeyId: a.KeyID, CreationDate: awsapi.TimePtr(a.CreatedDate), LastUpdatedDate: awsapi.TimePtr(a.LastUpdatedDate)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
