package awsquery

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coffer-project/coffer"
)

func TestParse(t *testing.T) {
	body := "Action=AttachUserPolicy&Version=2010-05-08&UserName=bob&Tags.member.1.Key=k&Names.member.1=a&Names.member.2=b%26c&Names.member.4=skipped"
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if !IsQuery(r) {
		t.Fatal("a form POST is not seen as a query request")
	}
	q, err := Parse(r, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if q.Action != "AttachUserPolicy" || q.Version != "2010-05-08" {
		t.Fatalf("action %q version %q", q.Action, q.Version)
	}
	if v, ok := q.Get("UserName"); !ok || v != "bob" {
		t.Fatalf("UserName %q %v", v, ok)
	}
	if _, ok := q.Get("Missing"); ok {
		t.Fatal("a missing parameter was found")
	}
	if got := q.List("Names"); len(got) != 2 || got[1] != "b&c" {
		t.Fatalf("List = %q (a list ends at its first gap)", got)
	}
	g := httptest.NewRequest(http.MethodGet, "/?Action=GetCallerIdentity&Version=2011-06-15", nil)
	if !IsQuery(g) {
		t.Fatal("a GET with Action is not a query request")
	}
	if q, err := Parse(g, nil); err != nil || q.Action != "GetCallerIdentity" {
		t.Fatalf("GET: %+v %v", q, err)
	}
	j := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
	j.Header.Set("X-Amz-Target", "secretsmanager.ListSecrets")
	j.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if IsQuery(j) {
		t.Fatal("a request with X-Amz-Target is taken for a query request")
	}
	if _, err := Parse(r, []byte("Version=1")); coffer.ErrorCode(err) != ErrMissingAction {
		t.Fatalf("no Action: %v", err)
	}
	if _, err := Parse(r, []byte("Action=%zz")); coffer.ErrorCode(err) != ErrMalformedQueryString {
		t.Fatalf("bad escape: %v", err)
	}
}

func TestWriteResult(t *testing.T) {
	w := httptest.NewRecorder()
	WriteResult(w, "GetCallerIdentity", NamespaceSTS, "req-1", &struct {
		UserId  string //nolint:revive // AWS's name
		Account string
		Arn     string
	}{"111122223333", "111122223333", "arn:aws:iam::111122223333:root"})
	want := `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><UserId>111122223333</UserId><Account>111122223333</Account><Arn>arn:aws:iam::111122223333:root</Arn></GetCallerIdentityResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`
	if w.Code != 200 || w.Body.String() != want || w.Header().Get("Content-Type") != "text/xml" {
		t.Fatalf("%d %s\n%s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	w = httptest.NewRecorder()
	WriteResult(w, "DeleteUser", NamespaceIAM, "req-2", nil)
	if !strings.Contains(w.Body.String(), `<DeleteUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata>`) {
		t.Fatalf("empty result: %s", w.Body)
	}
}

func TestWriteError(t *testing.T) {
	for _, tt := range []struct {
		code, wantCode string
		status         int
		typ            string
	}{
		{coffer.ErrUnrecognizedClient, "InvalidClientTokenId", 403, "Sender"},
		{coffer.ErrInvalidSignature, "SignatureDoesNotMatch", 403, "Sender"},
		{coffer.ErrAccessDenied, "AccessDenied", 403, "Sender"},
		{coffer.ErrValidation, "ValidationError", 400, "Sender"},
		{coffer.ErrInternalServiceError, "InternalFailure", 500, "Receiver"},
		{"NoSuchEntity", "NoSuchEntity", 400, "Sender"},
	} {
		w := httptest.NewRecorder()
		WriteError(w, coffer.Errorf(tt.code, "a <message> & more"), NamespaceIAM, "req-9")
		var got struct {
			Error     struct{ Type, Code, Message string }
			RequestID string `xml:"RequestId"`
		}
		if err := xml.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatalf("%s: %v\n%s", tt.code, err, w.Body)
		}
		if w.Code != tt.status || got.Error.Code != tt.wantCode || got.Error.Type != tt.typ || got.Error.Message != "a <message> & more" || got.RequestID != "req-9" {
			t.Fatalf("%s: %d %+v", tt.code, w.Code, got)
		}
	}
}
