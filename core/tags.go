package core

import (
	"context"
	"regexp"

	"github.com/coffer-project/coffer"
)

// MaxTags is how many tags a secret may carry.
const MaxTags = 50

// tagPattern is AWS's character set for tag keys and values: letters, numbers and spaces
// representable in UTF-8, and + - = . _ : / @.
var tagPattern = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

// TagResourceInput is the TagResource request.
type TagResourceInput struct {
	SecretId *string //nolint:revive // AWS's member name
	Tags     []TagInput
}

// UntagResourceInput is the UntagResource request.
type UntagResourceInput struct {
	SecretId *string //nolint:revive // AWS's member name
	TagKeys  []string
}

// checkTagChars applies AWS's character rules to tags already checked for length.
func checkTagChars(tags []TagInput) error {
	for _, t := range tags {
		if t.Key != nil && !tagPattern.MatchString(*t.Key) || t.Value != nil && !tagPattern.MatchString(*t.Value) {
			return coffer.Errorf(coffer.ErrInvalidParameter, "Tag keys and values can contain only letters, numbers, spaces, and the following characters: _ . : / = + - @")
		}
	}
	return nil
}

// TagResource adds tags to a secret, replacing the value of a key it already has.
func (s *Service) TagResource(ctx context.Context, ns coffer.Namespace, in *TagResourceInput) error {
	var v validator
	validSecretID(&v, in.SecretId)
	v.Required("tags", in.Tags != nil)
	if err := validTags(&v, in.Tags); err != nil {
		return err
	}
	if err := v.Err(); err != nil {
		return err
	}
	if err := checkTagChars(in.Tags); err != nil {
		return err
	}
	return s.updateSecret(ctx, secretKey(ns, *in.SecretId), func(tx coffer.Tx) error {
		sec, err := s.findLive(ctx, tx, ns, *in.SecretId)
		if err != nil {
			return err
		}
		tags := append([]coffer.Tag(nil), sec.Tags...)
		for _, t := range in.Tags {
			replaced := false
			for i := range tags {
				if tags[i].Key == *t.Key {
					tags[i].Value, replaced = str(t.Value), true
				}
			}
			if !replaced {
				tags = append(tags, coffer.Tag{Key: *t.Key, Value: str(t.Value)})
			}
		}
		if len(tags) > MaxTags {
			return coffer.Errorf(coffer.ErrLimitExceeded, "The request failed because it would exceed the maximum of %d tags per secret.", MaxTags)
		}
		sec.Tags = tags
		return s.changed(tx, sec)
	})
}

// UntagResource removes tags by key; keys the secret does not have are ignored.
func (s *Service) UntagResource(ctx context.Context, ns coffer.Namespace, in *UntagResourceInput) error {
	var v validator
	validSecretID(&v, in.SecretId)
	v.Required("tagKeys", in.TagKeys != nil)
	for i := range in.TagKeys {
		v.Length("tagKeys."+itoa(i+1)+".member", &in.TagKeys[i], 1, 128, false)
	}
	if err := v.Err(); err != nil {
		return err
	}
	return s.updateSecret(ctx, secretKey(ns, *in.SecretId), func(tx coffer.Tx) error {
		sec, err := s.findLive(ctx, tx, ns, *in.SecretId)
		if err != nil {
			return err
		}
		drop := map[string]bool{}
		for _, k := range in.TagKeys {
			drop[k] = true
		}
		kept := []coffer.Tag{} // set, even if empty: AWS then shows "Tags": []
		for _, t := range sec.Tags {
			if !drop[t.Key] {
				kept = append(kept, t)
			}
		}
		sec.Tags = kept
		return s.changed(tx, sec)
	})
}
