package awsapi

import (
	"encoding/json"
	"testing"
)

type benchInput struct {
	SecretId     *string //nolint:revive // AWS's name
	VersionId    *string //nolint:revive // AWS's name
	VersionStage *string
}

// BenchmarkDecode decodes a GetSecretValue request body as the server does (json.Unmarshal,
// with AWS's errors for what it refuses); BenchmarkDecodeBaseline is json.Unmarshal alone, so
// that the ratio shows what Decode adds to it.
func BenchmarkDecode(b *testing.B) {
	body := []byte(`{"SecretId":"arn:aws:secretsmanager:us-east-1:111122223333:secret:app/db-AbCdEf","VersionStage":"AWSCURRENT"}`)
	b.ReportAllocs()
	for b.Loop() {
		var in benchInput
		if err := Decode(body, &in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBaseline(b *testing.B) {
	body := []byte(`{"SecretId":"arn:aws:secretsmanager:us-east-1:111122223333:secret:app/db-AbCdEf","VersionStage":"AWSCURRENT"}`)
	b.ReportAllocs()
	for b.Loop() {
		var in benchInput
		if err := json.Unmarshal(body, &in); err != nil {
			b.Fatal(err)
		}
	}
}
