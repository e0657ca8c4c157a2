package core

import (
	"context"
	"crypto/rand"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/coffer-project/coffer"
)

// Rotation: RotateSecret and CancelRotateSecret configure a secret's rotation; the rotation
// itself (the rotators, the four steps, the schedule) is the Rotations given to the Service
// (package rotation), which core calls after its transaction has committed, since a rotator
// works through the API as a principal of its own.

// Rotations runs rotations for the core.
type Rotations interface {
	// Known reports whether a RotationLambdaARN names a rotator configured for ns.
	Known(ns coffer.Namespace, lambdaARN string) bool
	// CheckRules validates rotation rules as AWS does; the error's message is AWS's.
	CheckRules(r coffer.RotationRules) error
	// NextRotation is the NextRotationDate of rules after a rotation at last, seen at now.
	NextRotation(r coffer.RotationRules, last, now time.Time) time.Time
	// Start runs a rotation of the secret under token (its ClientRequestToken), or resumes
	// the one under way with that token; it may return before the rotation ends.
	Start(ctx context.Context, ns coffer.Namespace, secretARN, token string) error
	// Test runs the testSecret step against a copy of AWSCURRENT staged AWSPENDING under
	// token, then removes the label (RotateImmediately false).
	Test(ctx context.Context, ns coffer.Namespace, secretARN, token string) error
	// Cancel stops a rotation of the secret under way, if any.
	Cancel(secretARN string)
}

// SetRotations sets the rotation engine; without one, RotateSecret refuses every rotator.
func (s *Service) SetRotations(r Rotations) { s.rotations = r }

// RotationRulesInput is RotateSecret's RotationRules member.
type RotationRulesInput struct {
	AutomaticallyAfterDays *int64
	Duration               *string
	ScheduleExpression     *string
}

// RotateSecretInput is the RotateSecret request.
type RotateSecretInput struct {
	SecretId                       *string //nolint:revive // AWS's member name
	ClientRequestToken             *string
	RotationLambdaARN              *string
	RotationRules                  *RotationRulesInput
	RotateImmediately              *bool
	ExternalSecretRotationMetadata []map[string]any
	ExternalSecretRotationRoleArn  *string //nolint:revive // AWS's member name
}

// RotateSecret configures the secret's rotation and, unless RotateImmediately is false,
// starts a rotation under ClientRequestToken; a retry with the same token resumes it.
func (s *Service) RotateSecret(ctx context.Context, ns coffer.Namespace, in *RotateSecretInput) (*SecretRef, error) {
	var v validator
	validSecretID(&v, in.SecretId)
	v.Length("clientRequestToken", in.ClientRequestToken, 32, 64, false)
	v.Length("rotationLambdaARN", in.RotationLambdaARN, 0, 2048, false)
	if r := in.RotationRules; r != nil {
		v.RangeInt("rotationRules.automaticallyAfterDays", r.AutomaticallyAfterDays, 1, 1000)
		v.Length("rotationRules.duration", r.Duration, 2, 3, false)
		pattern(&v, "rotationRules.duration", r.Duration, durationPattern)
		v.Length("rotationRules.scheduleExpression", r.ScheduleExpression, 1, 256, false)
		pattern(&v, "rotationRules.scheduleExpression", r.ScheduleExpression, schedulePattern)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if in.ExternalSecretRotationMetadata != nil || in.ExternalSecretRotationRoleArn != nil {
		return nil, coffer.Errorf(coffer.ErrInvalidRequest, "coffer does not rotate managed external secrets: ExternalSecretRotationMetadata and ExternalSecretRotationRoleArn are not supported.")
	}
	if in.ClientRequestToken == nil {
		return nil, coffer.Errorf(coffer.ErrInvalidParameter, "You must provide a ClientRequestToken value. We recommend a UUID-type value.")
	}
	token := *in.ClientRequestToken
	var rules *coffer.RotationRules
	if r := in.RotationRules; r != nil {
		rules = &coffer.RotationRules{AutomaticallyAfterDays: deref(r.AutomaticallyAfterDays), Duration: derefString(r.Duration), ScheduleExpression: derefString(r.ScheduleExpression)}
		if s.rotations == nil {
			return nil, errNoRotator()
		}
		if err := s.rotations.CheckRules(*rules); err != nil {
			return nil, err
		}
	}
	var ref *SecretRef
	err := s.updateSecret(ctx, secretKey(ns, *in.SecretId), func(tx coffer.Tx) error {
		sec, err := s.findLive(ctx, tx, ns, *in.SecretId)
		if err != nil {
			return err
		}
		arn := sec.RotationLambdaARN
		if in.RotationLambdaARN != nil && *in.RotationLambdaARN != "" {
			arn = *in.RotationLambdaARN
		}
		if arn == "" {
			return coffer.Errorf(coffer.ErrInvalidRequest, "No Lambda rotation function ARN is associated with this secret.")
		}
		if s.rotations == nil || !s.rotations.Known(sec.Namespace, arn) {
			return errNoRotator()
		}
		pending, err := s.versionWithStage(tx, sec.ARN, coffer.StagePending)
		if err != nil && !coffer.IsNotFound(err) {
			return err
		}
		if pending != nil && !pending.HasStage(coffer.StageCurrent) && pending.VersionID != token {
			return coffer.Errorf(coffer.ErrInvalidRequest, "A previous rotation isn't complete. That rotation will be reattempted.")
		}
		immediately := in.RotateImmediately == nil || *in.RotateImmediately
		if immediately {
			// AWS's empty version: the rotation's createSecret step fills it.
			if err := s.placeholder(tx, sec, token); err != nil {
				return err
			}
		}
		now := s.clock()
		sec.RotationEnabled = true
		sec.RotationLambdaARN = arn
		if rules != nil {
			sec.RotationRules = *rules
		}
		sec.NextRotationDate = time.Time{}
		if sec.RotationRules != (coffer.RotationRules{}) {
			last := sec.LastRotatedDate
			if last.IsZero() {
				last = sec.CreatedDate
			}
			sec.NextRotationDate = s.rotations.NextRotation(sec.RotationRules, last, now).UTC().Truncate(time.Millisecond)
		}
		sec.LastChangedDate = now
		if err := tx.UpdateSecret(sec); err != nil {
			return err
		}
		ref = &SecretRef{ARN: sec.ARN, Name: sec.Name, VersionID: token}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if in.RotateImmediately != nil && !*in.RotateImmediately {
		if err := s.rotations.Test(ctx, ns, ref.ARN, token); err != nil {
			return nil, err
		}
		return ref, nil
	}
	if err := s.rotations.Start(ctx, ns, ref.ARN, token); err != nil {
		return nil, err
	}
	return ref, nil
}

// placeholder makes the empty AWSPENDING version token of a rotation about to start, unless
// a version token exists (a retry).
func (s *Service) placeholder(tx coffer.Tx, sec *coffer.Secret, token string) error {
	_, err := tx.Version(sec.ARN, token)
	if err == nil {
		return nil
	}
	if !coffer.IsNotFound(err) {
		return err
	}
	ver := &coffer.Version{SecretARN: sec.ARN, VersionID: token, CreatedDate: s.clock(), WrappedKey: []byte{}, Ciphertext: []byte{}}
	if err := tx.InsertVersion(ver); err != nil {
		return err
	}
	return s.attachStages(tx, sec.ARN, token, []string{coffer.StagePending})
}

// CancelRotateSecretInput is the CancelRotateSecret request.
type CancelRotateSecretInput struct {
	SecretId *string //nolint:revive // AWS's member name
}

// CancelRotateSecret turns rotation off and stops a rotation under way; the version a
// cancelled rotation left AWSPENDING, if any, is named in the answer (AWS leaves it for the
// caller to clean up).
func (s *Service) CancelRotateSecret(ctx context.Context, ns coffer.Namespace, in *CancelRotateSecretInput) (*SecretRef, error) {
	var v validator
	validSecretID(&v, in.SecretId)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var ref *SecretRef
	err := s.updateSecret(ctx, secretKey(ns, *in.SecretId), func(tx coffer.Tx) error {
		sec, err := s.findLive(ctx, tx, ns, *in.SecretId)
		if err != nil {
			return err
		}
		ref = &SecretRef{ARN: sec.ARN, Name: sec.Name}
		pending, err := s.versionWithStage(tx, sec.ARN, coffer.StagePending)
		if err != nil && !coffer.IsNotFound(err) {
			return err
		}
		if pending != nil && !pending.HasStage(coffer.StageCurrent) {
			ref.VersionID = pending.VersionID
		}
		sec.RotationEnabled = false
		sec.NextRotationDate = time.Time{}
		return s.changed(tx, sec)
	})
	if err != nil {
		return nil, err
	}
	if s.rotations != nil {
		s.rotations.Cancel(ref.ARN)
	}
	return ref, nil
}

// RotationFinished records a rotation's success: LastRotatedDate, and the next date its
// rules give. It is the rotation engine's to call.
func (s *Service) RotationFinished(ctx context.Context, secretARN string) error {
	return s.updateSecret(ctx, secretKey(coffer.Namespace{}, secretARN), func(tx coffer.Tx) error {
		sec, err := tx.SecretByARN(secretARN)
		if err != nil {
			return err
		}
		now := s.clock()
		sec.LastRotatedDate = now
		sec.NextRotationDate = time.Time{}
		if sec.RotationEnabled && sec.RotationRules != (coffer.RotationRules{}) && s.rotations != nil {
			sec.NextRotationDate = s.rotations.NextRotation(sec.RotationRules, now, now).UTC().Truncate(time.Millisecond)
		}
		return tx.UpdateSecret(sec)
	})
}

// PrepareRotation returns the ClientRequestToken of the secret's next scheduled rotation:
// the version a rotation left AWSPENDING (a retry resumes it, as AWS retries with the same
// token), or a new placeholder version staged AWSPENDING. It is the rotation engine's to call.
func (s *Service) PrepareRotation(ctx context.Context, secretARN string) (string, error) {
	token := ""
	err := s.updateSecret(ctx, secretKey(coffer.Namespace{}, secretARN), func(tx coffer.Tx) error {
		token = ""
		sec, err := tx.SecretByARN(secretARN)
		if err != nil {
			return err
		}
		if sec.Deleted() {
			return coffer.Errorf(coffer.ErrInvalidRequest, "You can't perform this operation on the secret because it was marked for deletion.")
		}
		pending, err := s.versionWithStage(tx, sec.ARN, coffer.StagePending)
		if err != nil && !coffer.IsNotFound(err) {
			return err
		}
		if pending != nil && !pending.HasStage(coffer.StageCurrent) {
			token = pending.VersionID
			return nil
		}
		if token, err = newToken(); err != nil {
			return err
		}
		return s.placeholder(tx, sec, token)
	})
	return token, err
}

// countsAsRotation moves the schedule of an AutomaticallyAfterDays secret when a new value
// becomes AWSCURRENT by hand (PutSecretValue, UpdateSecret): AWS counts it as a rotation.
func (s *Service) countsAsRotation(sec *coffer.Secret, now time.Time) {
	if sec.RotationEnabled && sec.RotationRules.AutomaticallyAfterDays > 0 && s.rotations != nil {
		sec.NextRotationDate = s.rotations.NextRotation(sec.RotationRules, now, now).UTC().Truncate(time.Millisecond)
	}
}

// The model's patterns of RotationRules' members.
var (
	durationPattern = regexp.MustCompile(`^[0-9]+h$`)
	schedulePattern = regexp.MustCompile(`^[0-9A-Za-z\(\)#\?\*\-\/, ]+$`)
)

// pattern checks a member against its model pattern, as AWS's front end does.
func pattern(v *validator, member string, s *string, re *regexp.Regexp) {
	if s != nil && *s != "" && !re.MatchString(*s) {
		v.Add(member, *s, false, "Member must satisfy regular expression pattern: "+strings.Trim(re.String(), "^$"))
	}
}

// newToken returns a random UUID, as SDKs make ClientRequestTokens.
func newToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

func errNoRotator() error {
	return coffer.Errorf(coffer.ErrAccessDenied, "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.")
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func derefString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
