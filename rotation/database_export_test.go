package rotation

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// What the database rotators' external tests (package rotation_test, which can import the
// server) need from inside the package.

// LenientCreate returns a copy of the database rotator r whose createSecret also runs for a
// version that does not exist yet. AWS's RotateSecret stages AWSPENDING on the new version id
// before it calls createSecret, and CheckEvent expects that; the tests drive the steps by hand,
// without RotateSecret, so the version is made by createSecret itself. Every other check
// (rotation enabled; for the other steps, the version staged AWSPENDING) stays.
func LenientCreate(r Rotator) Rotator {
	d := *r.(*dbRotator)
	d.check = func(ctx context.Context, sm *secretsmanager.Client, ev Event) (*secretsmanager.DescribeSecretOutput, error) {
		out, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(ev.SecretId)})
		if err != nil {
			return nil, err
		}
		if _, ok := out.VersionIdsToStages[ev.ClientRequestToken]; !ok && ev.Step == StepCreate && aws.ToBool(out.RotationEnabled) {
			return out, nil
		}
		return CheckEvent(ctx, sm, ev)
	}
	return &d
}

// ErrNotAllowed is errNotAllowed.
var ErrNotAllowed = errNotAllowed

// IsPolicy is isPolicy.
func IsPolicy(err error) bool { return isPolicy(err) }

// PostgresTLS logs in with a secret's value as the PostgreSQL rotators do and reports whether
// the session uses TLS (pg_stat_ssl).
func PostgresTLS(ctx context.Context, o DBOptions, secret string) (bool, error) {
	s, err := parseDBSecret(secret, postgresEngine{}.engines(), 5432)
	if err != nil {
		return false, err
	}
	c, err := (&dbRotator{db: postgresEngine{}, o: o}).connect(ctx, s, redactor{s.Password})
	if err != nil {
		return false, err
	}
	defer c.close()
	var ssl bool
	err = c.(*pgConn).c.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl)
	return ssl, err
}

// MySQLLogin logs in with a secret's value as the MySQL rotators do.
func MySQLLogin(ctx context.Context, o DBOptions, secret string) error {
	s, err := parseDBSecret(secret, mysqlEngine{}.engines(), 3306)
	if err != nil {
		return err
	}
	c, err := (&dbRotator{db: mysqlEngine{}, o: o}).connect(ctx, s, redactor{s.Password})
	if err != nil {
		return err
	}
	c.close()
	return nil
}
