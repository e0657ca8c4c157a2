package kms

import (
	"context"
	"sort"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/awsapi"
)

// TagResourceInput is the TagResource request.
type TagResourceInput struct {
	KeyId *string //nolint:revive // AWS's name
	Tags  []Tag
}

// TagResource adds or replaces tags on a customer-managed key.
func (s *Service) TagResource(ctx context.Context, ns coffer.Namespace, in *TagResourceInput) (*Empty, error) {
	var v awsapi.Validator
	v.Required("tags", in.Tags != nil)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := validTags(in.Tags); err != nil {
		return nil, err
	}
	_, err := s.changeKey(ctx, ns, in.KeyId, "it cannot be tagged", func(_ coffer.Tx, k *coffer.Key) error {
		if k.State == coffer.KeyStatePendingDeletion {
			return errPendingDeletion(k)
		}
		tags, err := mergeTags(k.Tags, in.Tags)
		k.Tags = tags
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Empty{}, nil
}

// UntagResourceInput is the UntagResource request.
type UntagResourceInput struct {
	KeyId   *string //nolint:revive // AWS's name
	TagKeys []string
}

// UntagResource removes tags from a customer-managed key; absent keys are ignored.
func (s *Service) UntagResource(ctx context.Context, ns coffer.Namespace, in *UntagResourceInput) (*Empty, error) {
	var v awsapi.Validator
	v.Required("tagKeys", in.TagKeys != nil)
	for i := range in.TagKeys {
		v.Length("tagKeys."+itoa(i+1)+".member", &in.TagKeys[i], 1, 128, false)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	_, err := s.changeKey(ctx, ns, in.KeyId, "it cannot be untagged", func(_ coffer.Tx, k *coffer.Key) error {
		if k.State == coffer.KeyStatePendingDeletion {
			return errPendingDeletion(k)
		}
		var kept []coffer.Tag
		for _, t := range k.Tags {
			drop := false
			for _, key := range in.TagKeys {
				drop = drop || t.Key == key
			}
			if !drop {
				kept = append(kept, t)
			}
		}
		k.Tags = kept
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Empty{}, nil
}

// ListResourceTagsOut is the ListResourceTags answer.
type ListResourceTagsOut struct {
	Tags       []Tag  `json:"Tags"`
	NextMarker string `json:"NextMarker,omitempty"`
	Truncated  bool   `json:"Truncated"`
}

// ListResourceTags lists a key's tags, sorted by key, a page at a time.
func (s *Service) ListResourceTags(ctx context.Context, ns coffer.Namespace, in *PageInput) (*ListResourceTagsOut, error) {
	var v awsapi.Validator
	validKeyID(&v, in.KeyId)
	validPage(&v, in, 50)
	if err := v.Err(); err != nil {
		return nil, err
	}
	after, err := decodeMarker(in.Marker)
	if err != nil {
		return nil, err
	}
	var k *coffer.Key
	err = s.view(ctx, func(tx coffer.Tx) (err error) {
		k, err = s.resolve(tx, ns, *in.KeyId, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	tags := append([]coffer.Tag(nil), k.Tags...)
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	limit := limitOf(in.Limit, 50)
	out := &ListResourceTagsOut{Tags: []Tag{}}
	var page []coffer.Tag
	for _, t := range tags {
		if after != "" && t.Key <= after {
			continue
		}
		if len(page) == limit {
			out.Truncated, out.NextMarker = true, encodeMarker(page[len(page)-1].Key)
			break
		}
		page = append(page, t)
	}
	out.Tags = append(out.Tags, tagsOut(page)...)
	return out, nil
}

// KeyPolicyInput is the GetKeyPolicy and PutKeyPolicy request.
type KeyPolicyInput struct {
	KeyId                          *string //nolint:revive // AWS's name
	PolicyName                     *string
	Policy                         *string
	BypassPolicyLockoutSafetyCheck *bool
}

// KeyPolicyOut is the GetKeyPolicy answer.
type KeyPolicyOut struct {
	Policy     string `json:"Policy"`
	PolicyName string `json:"PolicyName"`
}

func validPolicyName(v *awsapi.Validator, name *string) {
	v.Length("policyName", name, 1, 128, false)
}

func checkPolicyName(name *string) error {
	if name != nil && *name != "default" {
		return coffer.Errorf(coffer.ErrKMSNotFound, "No such policy exists")
	}
	return nil
}

// GetKeyPolicy returns a key's policy (its only policy is named "default").
func (s *Service) GetKeyPolicy(ctx context.Context, ns coffer.Namespace, in *KeyPolicyInput) (*KeyPolicyOut, error) {
	var v awsapi.Validator
	validKeyID(&v, in.KeyId)
	validPolicyName(&v, in.PolicyName)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := checkPolicyName(in.PolicyName); err != nil {
		return nil, err
	}
	var k *coffer.Key
	err := s.view(ctx, func(tx coffer.Tx) (err error) {
		k, err = s.resolve(tx, ns, *in.KeyId, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &KeyPolicyOut{Policy: k.Policy, PolicyName: "default"}, nil
}

// PutKeyPolicy replaces a customer-managed key's policy after checking that it parses.
func (s *Service) PutKeyPolicy(ctx context.Context, ns coffer.Namespace, in *KeyPolicyInput) (*Empty, error) {
	var v awsapi.Validator
	validPolicyName(&v, in.PolicyName)
	v.Required("policy", in.Policy != nil)
	validPolicy(&v, in.Policy)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := checkPolicyName(in.PolicyName); err != nil {
		return nil, err
	}
	_, err := s.changeKey(ctx, ns, in.KeyId, "its key policy cannot be changed", func(_ coffer.Tx, k *coffer.Key) error {
		if k.State == coffer.KeyStatePendingDeletion {
			return errPendingDeletion(k)
		}
		if err := checkPolicy(*in.Policy); err != nil {
			return err
		}
		k.Policy = *in.Policy
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Empty{}, nil
}

// ListKeyPoliciesOut is the ListKeyPolicies answer.
type ListKeyPoliciesOut struct {
	PolicyNames []string `json:"PolicyNames"`
	NextMarker  string   `json:"NextMarker,omitempty"`
	Truncated   bool     `json:"Truncated"`
}

// ListKeyPolicies lists a key's policy names: always "default".
func (s *Service) ListKeyPolicies(ctx context.Context, ns coffer.Namespace, in *PageInput) (*ListKeyPoliciesOut, error) {
	var v awsapi.Validator
	validKeyID(&v, in.KeyId)
	validPage(&v, in, 1000)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if _, err := decodeMarker(in.Marker); err != nil {
		return nil, err
	}
	err := s.view(ctx, func(tx coffer.Tx) error {
		_, err := s.resolve(tx, ns, *in.KeyId, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	if in.Marker != nil {
		return &ListKeyPoliciesOut{PolicyNames: []string{}}, nil
	}
	return &ListKeyPoliciesOut{PolicyNames: []string{"default"}}, nil
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
