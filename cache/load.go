package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// load asks the service for k. With old, the value held, it first asks DescribeSecret
// whether old is still what k names, and reads the value again only when it is not
// (reloaded then says so).
func (c *Cache) load(ctx context.Context, k key, old *entry) (val Value, reloaded bool, err error) {
	if old != nil {
		d, err := withRetries(c, ctx, func(ctx context.Context) (*secretsmanager.DescribeSecretOutput, error) {
			return c.client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(k.secret)})
		})
		if err != nil {
			return Value{}, false, err
		}
		if stages, ok := vouches(d, k, old.val.VersionID); ok {
			val = old.val
			val.VersionStages = stages
			return val, false, nil
		}
	}
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(k.secret)}
	if k.ID != "" {
		in.VersionId = aws.String(k.ID)
	}
	if k.Stage != "" {
		in.VersionStage = aws.String(k.Stage)
	}
	out, err := withRetries(c, ctx, func(ctx context.Context) (*secretsmanager.GetSecretValueOutput, error) {
		return c.client.GetSecretValue(ctx, in)
	})
	if err != nil {
		return Value{}, false, err
	}
	val, err = valueOf(out)
	return val, old != nil, err
}

// vouches says whether DescribeSecret's answer d shows that version versionID is still
// what k names (and not deleted), and returns the version's staging labels.
func vouches(d *secretsmanager.DescribeSecretOutput, k key, versionID string) ([]string, bool) {
	if d.DeletedDate != nil || versionID == "" || (k.ID != "" && k.ID != versionID) {
		return nil, false
	}
	stages, ok := d.VersionIdsToStages[versionID]
	if !ok || (k.Stage != "" && !slices.Contains(stages, k.Stage)) {
		return nil, false
	}
	return slices.Clone(stages), true
}

// errNoValue is the answer of a client whose GetSecretValue returned neither a string nor
// a binary value.
var errNoValue = errors.New("cache: GetSecretValue returned no SecretString and no SecretBinary")

// valueOf makes the Value of GetSecretValue's answer, with bytes of its own.
func valueOf(out *secretsmanager.GetSecretValueOutput) (Value, error) {
	v := Value{
		Name:          aws.ToString(out.Name),
		ARN:           aws.ToString(out.ARN),
		VersionID:     aws.ToString(out.VersionId),
		VersionStages: slices.Clone(out.VersionStages),
		CreatedDate:   aws.ToTime(out.CreatedDate),
	}
	switch {
	case out.SecretBinary != nil:
		v.p = &payload{binary: true, b: bytes.Clone(out.SecretBinary)}
	case out.SecretString != nil:
		v.p = &payload{b: []byte(*out.SecretString)}
	default:
		return Value{}, errNoValue
	}
	return v, nil
}

// transientCodes are error codes of Secrets Manager (and AWS's front end) that say "try
// again later", beyond those aws-sdk-go-v2 retries by itself (its throttling codes and
// RequestTimeout): what a client other than the SDK's may return without an HTTP status.
var transientCodes = map[string]struct{}{
	"InternalServiceError":        {},
	"InternalFailure":             {},
	"ServiceUnavailable":          {},
	"ServiceUnavailableException": {},
}

// retryable classifies errors as aws-sdk-go-v2's standard retryer does (throttling codes,
// HTTP 500, 502, 503 and 504, connection errors, an error that says it is retryable; not a
// canceled request), plus transientCodes.
var retryable = retry.IsErrorRetryables(append(slices.Clone(retry.DefaultRetryables), retry.RetryableErrorCode{Codes: transientCodes}))

// transient says whether err is worth trying again after a while. Every other error is
// the service's answer.
func transient(err error) bool {
	return retryable.IsErrorRetryable(err) == aws.TrueTernary
}

// withRetries makes call, and again after a backoff while it fails with a transient error,
// up to the configured number of attempts or until ctx ends.
func withRetries[T any](c *Cache, ctx context.Context, call func(context.Context) (T, error)) (T, error) {
	for n := 0; ; n++ {
		out, err := call(ctx)
		if err == nil || n+1 >= c.attempts || ctx.Err() != nil || !transient(err) {
			return out, err
		}
		if serr := c.sleep(ctx, c.backoff(n)); serr != nil {
			return out, fmt.Errorf("cache: %w while retrying after: %w", serr, err)
		}
		c.retries.Add(1)
	}
}

// backoff returns the sleep before retry n (n = 0, 1, …): uniform in
// [0, min(cap, base·2ⁿ)].
func (c *Cache) backoff(n int) time.Duration {
	ceiling := c.retryCap
	if n < 63 && c.retryBase <= c.retryCap>>n {
		ceiling = c.retryBase << n
	}
	if ceiling <= 0 {
		return 0
	}
	if ceiling == math.MaxInt64 {
		return time.Duration(c.rand(math.MaxInt64))
	}
	return time.Duration(c.rand(int64(ceiling) + 1))
}
