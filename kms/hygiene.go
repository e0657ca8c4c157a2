package kms

import (
	"context"
	"fmt"

	"github.com/coffer-project/coffer"
)

// Key hygiene, beyond AWS: a key that still protects a version of a secret that is not
// scheduled for deletion is not disabled or scheduled for deletion, unless the key carries
// the tag coffer:allow-disable-in-use=true or the server allows it. Secrets in their recovery
// window do not count, so tearing down a stack (secrets, then their key) still works.

// checkUnused refuses to act on k when live secrets depend on it.
func (s *Service) checkUnused(tx coffer.Tx, k *coffer.Key, act string) error {
	if s.allowDisableInUse {
		return nil
	}
	for _, t := range k.Tags {
		if t.Key == AllowDisableInUseTag && t.Value == "true" {
			return nil
		}
	}
	bs, err := tx.KeyBindings(k.ID, "", "", 0)
	if err != nil {
		return err
	}
	live := map[string]bool{}
	for _, b := range bs {
		if !b.SecretDeleted {
			live[b.SecretARN] = true
		}
	}
	if len(live) == 0 {
		return nil
	}
	noun := "secrets"
	if len(live) == 1 {
		noun = "secret"
	}
	return coffer.Errorf(coffer.ErrKMSInvalidState,
		"coffer refuses to %s %s: it protects %d %s that %s not scheduled for deletion. "+
			"Re-encrypt or delete them first, or tag the key %s=true to allow it (see `coffer keys bindings`).",
		act, k.ARN(), len(live), noun, map[bool]string{true: "is", false: "are"}[len(live) == 1], AllowDisableInUseTag)
}

// Binding is a secret version a key protects, for `coffer keys bindings`.
type Binding = coffer.KeyBinding

// Bindings lists every secret version the key ref (id, ARN or alias) protects.
func (s *Service) Bindings(ctx context.Context, ns coffer.Namespace, ref string) (*coffer.Key, []*Binding, error) {
	var (
		k  *coffer.Key
		bs []*coffer.KeyBinding
	)
	err := s.view(ctx, func(tx coffer.Tx) (err error) {
		if k, err = s.resolve(tx, ns, ref, true); err != nil {
			return err
		}
		bs, err = tx.KeyBindings(k.ID, "", "", 0)
		return err
	})
	return k, bs, err
}

// ReportEntry is a secret version protected by a key that is not enabled.
type ReportEntry struct {
	Key     *coffer.Key
	Binding *coffer.KeyBinding
}

// Report lists, for every key of ns that is not enabled, the secret versions it protects:
// the secrets that cannot be read until the key is enabled again (or never, once deleted).
func (s *Service) Report(ctx context.Context, ns coffer.Namespace) ([]ReportEntry, error) {
	var out []ReportEntry
	err := s.view(ctx, func(tx coffer.Tx) error {
		out = out[:0]
		after := ""
		for {
			keys, err := tx.ListKeys(ns, after, 200)
			if err != nil {
				return err
			}
			for _, k := range keys {
				if k.State == coffer.KeyStateEnabled {
					continue
				}
				bs, err := tx.KeyBindings(k.ID, "", "", 0)
				if err != nil {
					return err
				}
				for _, b := range bs {
					out = append(out, ReportEntry{Key: k, Binding: b})
				}
			}
			if len(keys) < 200 {
				return nil
			}
			after = keys[len(keys)-1].ID
		}
	})
	if err != nil {
		return nil, fmt.Errorf("kms: key report: %w", err)
	}
	return out, nil
}
