package cache_test

import (
	"context"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"

	"github.com/coffer-project/coffer/cache"
)

// A service reads its database password and an API token through one cache, shared by
// every request. The same code is in docs/client-cache.md.
func Example() {
	// A client of coffer (for AWS itself: no BaseEndpoint, and credentials from
	// config.LoadDefaultConfig(ctx, config.WithRetryMaxAttempts(1))).
	sm := secretsmanager.NewFromConfig(aws.Config{
		Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(
			os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), ""),
		RetryMaxAttempts: 1, // the cache retries, with backoff and jitter
	}, func(o *secretsmanager.Options) {
		o.BaseEndpoint = aws.String("http://127.0.0.1:8220")
	})

	secrets := cache.New(sm, cache.Options{
		RefreshInterval: 15 * time.Minute, // notice a rotation within 15 minutes
		MaxStale:        10 * time.Minute, // ride out a 10-minute outage of the service
	})

	// Each new database connection reads the password: from memory, except about once
	// every 15 minutes.
	connect := func(ctx context.Context) (*pgx.Conn, error) {
		cfg, err := pgx.ParseConfig("postgres://db.internal:5432/orders")
		if err != nil {
			return nil, err
		}
		if cfg.User, err = secrets.GetJSONKey(ctx, "prod/orders/db", "username"); err != nil {
			return nil, err
		}
		if cfg.Password, err = secrets.GetJSONKey(ctx, "prod/orders/db", "password"); err != nil {
			return nil, err
		}
		return pgx.ConnectConfig(ctx, cfg)
	}
	_ = connect // the service's database pool calls it

	// Each request reads the token it forwards; during a rotation, the previous token is
	// at hand too.
	http.HandleFunc("/orders", func(w http.ResponseWriter, r *http.Request) {
		token, err := secrets.GetString(r.Context(), "prod/orders/upstream-token")
		if err != nil {
			log.Printf("orders: reading the upstream token: %v", err) // never the value
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		previous, err := secrets.Get(r.Context(), "prod/orders/upstream-token", cache.Version{Stage: "AWSPREVIOUS"})
		if err == nil {
			defer previous.Wipe()
		}
		_ = token // call the upstream service with it
	})

	log.Printf("cache: %+v", secrets.Stats())
}
