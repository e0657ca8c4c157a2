package sqlite

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

// benchSecrets is how many secrets BenchmarkReadMiss reads among: more than the pages of one
// connection's page cache hold, so that a read descends B-trees as in a large store.
const benchSecrets = 10000

// BenchmarkReadMiss reads a random one of benchSecrets secrets per call, with the read cache
// off: what GetSecretValue asks of the store when its secret is not in the read cache (the
// secret by name, its version headers, the version labelled AWSCURRENT). The baseline, in
// the same run and on the same database, is the floor of a read through database/sql: the
// secret's row alone, by one prepared statement on a reader connection.
func BenchmarkReadMiss(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "coffer.db")
	s, err := Open(ctx, path, WithReadCache(0))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ns := coffer.Namespace{Account: "123456789012", Region: "us-east-1"}
	name := func(i int) string { return fmt.Sprintf("bench/miss/%06d", i) }
	now := time.Now().UTC().Truncate(time.Millisecond)
	err = s.Update(ctx, func(tx coffer.Tx) error {
		for i := range benchSecrets {
			arn := coffer.SecretARN(ns, name(i), fmt.Sprintf("%06d", i))
			sec := &coffer.Secret{ARN: arn, Namespace: ns, Name: name(i), CreatedDate: now, LastChangedDate: now}
			if err := tx.InsertSecret(sec); err != nil {
				return err
			}
			id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
			v := &coffer.Version{SecretARN: arn, VersionID: id, CreatedDate: now, KMSKeyID: "alias/aws/secretsmanager",
				WrappedKey: bytes.Repeat([]byte{0xa5}, 102), Ciphertext: bytes.Repeat([]byte{0x5a}, 94)} // as a 64-byte value's
			if err := tx.InsertVersion(v); err != nil {
				return err
			}
			if err := tx.SetStage(arn, coffer.StageCurrent, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}

	b.Run("store", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			err := s.View(ctx, func(tx coffer.Tx) error {
				sec, err := tx.SecretByName(ns, name(rand.IntN(benchSecrets)))
				if err != nil {
					return err
				}
				hs, err := tx.VersionHeaders(sec.ARN)
				if err != nil {
					return err
				}
				for _, h := range hs {
					if h.HasStage(coffer.StageCurrent) {
						v, err := tx.Version(sec.ARN, h.VersionID)
						if err == nil && len(v.Ciphertext) == 0 {
							err = fmt.Errorf("version %s without a value", v.VersionID)
						}
						return err
					}
				}
				return fmt.Errorf("%s: no AWSCURRENT version", sec.Name)
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline", func(b *testing.B) {
		b.ReportAllocs()
		stmt, err := s.reader.PrepareContext(ctx, `SELECT `+secretColumns+` FROM secrets
			WHERE account = ? AND region = ? AND name = ?`)
		if err != nil {
			b.Fatal(err)
		}
		defer stmt.Close()
		for b.Loop() {
			if _, err := scanSecret(stmt.QueryRowContext(ctx, ns.Account, ns.Region, name(rand.IntN(benchSecrets)))); err != nil {
				b.Fatal(err)
			}
		}
	})
}
