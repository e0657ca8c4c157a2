package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func (s *testServer) stsClient(region string, c aws.Credentials) *sts.Client {
	cfg := aws.Config{Region: region, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")}
	return sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

// TestGetCallerIdentity: STS's GetCallerIdentity through aws-sdk-go-v2, signed for any region
// (STS is global to an account), and the query protocol's errors.
func TestGetCallerIdentity(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := context.Background()
	for _, region := range []string{"us-east-1", "eu-west-3"} {
		out := must(s.stsClient(region, s.Creds).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})).get(t)
		if *out.Account != s.Account || *out.Arn != "arn:aws:iam::"+s.Account+":root" || *out.UserId != s.Account {
			t.Fatalf("%s: %+v", region, out)
		}
	}
	bad := s.Creds
	bad.SecretAccessKey = "wrong" + bad.SecretAccessKey[5:]
	_, err := s.stsClient("us-east-1", bad).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantErr(t, err, "SignatureDoesNotMatch", "")
	unknown := aws.Credentials{AccessKeyID: "AKIAUNKNOWNUNKNOWN00", SecretAccessKey: "x"}
	_, err = s.stsClient("us-east-1", unknown).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantErr(t, err, "InvalidClientTokenId", "")
	_, err = s.stsClient("us-east-1", s.Creds).GetFederationToken(ctx, &sts.GetFederationTokenInput{Name: aws.String("bob")})
	wantErr(t, err, "InvalidAction", "coffer does not implement the STS operation GetFederationToken yet.")

	// An IAM action coffer does not serve: an XML error in IAM's namespace, status 400.
	status, body := s.queryCall(t, "iam", "Action=CreateVirtualMFADevice&Version=2010-05-08")
	var e struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		Error   struct{ Type, Code, Message string }
	}
	if err := xml.Unmarshal(body, &e); err != nil || status != 400 || e.Error.Code != "InvalidAction" || e.XMLName.Space != "https://iam.amazonaws.com/doc/2010-05-08/" {
		t.Fatalf("IAM: %d %s", status, body)
	}
	// A form body signed for secretsmanager is no JSON call.
	if status, body := s.queryCall(t, "secretsmanager", "Action=ListSecrets"); status != 400 || !bytes.Contains(body, []byte("UnknownOperationException")) {
		t.Fatalf("query to secretsmanager: %d %s", status, body)
	}
}

// queryCall sends a signed form-encoded request for service.
func (s *testServer) queryCall(t *testing.T, service, form string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(form))
	if err := v4.NewSigner().SignHTTP(context.Background(), s.Creds, req, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
