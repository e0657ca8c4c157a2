package audit

import "testing"

// benchEvent is the record of one GetSecretValue by an IAM user.
func benchEvent() *Event {
	return &Event{
		EventVersion: EventVersion, EventTime: "2026-11-27T12:00:00Z", EventSource: SourceSecretsManager,
		EventName: "GetSecretValue", AWSRegion: "us-east-1", SourceIPAddress: "127.0.0.1", UserAgent: "aws-sdk-go-v2/1.41.0 os/linux lang/go#1.26.8 md/GOOS#linux md/GOARCH#amd64 api/secretsmanager#1.50.10",
		UserIdentity:      UserIdentity{Type: IdentityIAMUser, PrincipalID: "AIDAEXAMPLE", ARN: "arn:aws:iam::111122223333:user/app", AccountID: "111122223333", AccessKeyID: "AKIAEXAMPLE", UserName: "app"},
		RequestParameters: map[string]any{"secretId": "app/db"},
		RequestID:         "6b2a1c0e-3f4d-4e5f-8a9b-0c1d2e3f4a5b", EventID: "0c1d2e3f-4a5b-4e5f-8a9b-6b2a1c0e3f4d", ReadOnly: true, EventType: TypeAPICall,
		RecipientAccountID: "111122223333", Category: "secrets.get_value",
		Resources: []Resource{{ARN: "arn:aws:secretsmanager:us-east-1:111122223333:secret:app/db-AbCdEf", AccountID: "111122223333", Type: ResourceSecret}},
	}
}

// BenchmarkEncodeRecord is the audit work of one call outside the writer: the event's JSON,
// then its chained record (the writer's share: the SHA-256 over the line).
func BenchmarkEncodeRecord(b *testing.B) {
	ev := benchEvent()
	b.ReportAllocs()
	for b.Loop() {
		encodeRecord(1, GenesisHash, KindEvent, ev.AppendJSON(nil))
	}
}

// BenchmarkAppendWritten is one read's record appended to a file sink by 8 goroutines per
// CPU, as a loaded server's reads are: the writes grouped, the fsyncs every SyncInterval.
func BenchmarkAppendWritten(b *testing.B) {
	s, err := OpenFileSink(FileOptions{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	l, err := Open(Options{Server: "bench", Key: testKey(b), Sinks: []Sink{s}, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ev := benchEvent()
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.AppendWritten(b.Context(), ev); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
