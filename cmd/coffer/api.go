package main

import (
	"errors"
	"flag"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/coffer-project/coffer/client"
)

// apiFlags are the flags of a verb that calls a running server: where it is and which region
// to sign for; the credentials come from the environment, never from flags.
type apiFlags struct {
	endpoint, region *string
}

func registerAPI(fs *flag.FlagSet) *apiFlags {
	return &apiFlags{
		endpoint: fs.String("endpoint-url", firstNonEmpty(os.Getenv("COFFER_ENDPOINT"), os.Getenv("AWS_ENDPOINT_URL"), "http://127.0.0.1:8220"), "coffer server"),
		region:   fs.String("region", firstNonEmpty(os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), "us-east-1"), "region"),
	}
}

// envCredentials reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; whose,
// when not empty, says whose keys are needed in the error.
func envCredentials(whose string) (aws.CredentialsProvider, error) {
	ak, sk := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if ak == "" || sk == "" {
		msg := "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set"
		if whose != "" {
			msg += " (" + whose + ")"
		}
		return nil, errors.New(msg)
	}
	return credentials.NewStaticCredentialsProvider(ak, sk, os.Getenv("AWS_SESSION_TOKEN")), nil
}

// client returns a client of coffer's own operations with the environment's credentials.
func (a *apiFlags) client(whose string) (*client.Client, error) {
	creds, err := envCredentials(whose)
	if err != nil {
		return nil, err
	}
	return client.New(*a.endpoint, *a.region, creds, nil), nil
}

// secretsManager returns an aws-sdk-go-v2 Secrets Manager client of the server with the
// environment's credentials. It retries throttling and transient errors as the SDK does by
// default: exponential backoff with jitter, three attempts.
func (a *apiFlags) secretsManager(whose string) (*secretsmanager.Client, error) {
	creds, err := envCredentials(whose)
	if err != nil {
		return nil, err
	}
	return secretsmanager.NewFromConfig(aws.Config{Region: *a.region, Credentials: creds},
		func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(*a.endpoint) }), nil
}
