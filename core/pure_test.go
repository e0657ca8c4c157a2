package core

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

func TestValidatorMessages(t *testing.T) {
	long := strings.Repeat("a", 513)
	tests := []struct {
		name string
		fill func(v *validator)
		want string
	}{
		{"none", func(v *validator) {}, ""},
		{"one", func(v *validator) { v.Length("name", &long, 1, 512, false) },
			"1 validation error detected: Value '" + strings.Repeat("a", 128) + "...' at 'name' failed to satisfy constraint: Member must have length less than or equal to 512"},
		{"sensitive hides the value", func(v *validator) { s := ""; v.Length("secretString", &s, 1, 65536, true) },
			"1 validation error detected: Value at 'secretString' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"two", func(v *validator) {
			v.Required("secretId", false)
			n := int64(0)
			v.RangeInt("maxResults", &n, 1, 100)
		}, "2 validation errors detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null; Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"enum", func(v *validator) { s := "up"; v.Enum("sortOrder", &s, "asc", "desc") },
			"1 validation error detected: Value 'up' at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set: [asc, desc]"},
		{"counts characters, not bytes", func(v *validator) { s := strings.Repeat("é", 512); v.Length("name", &s, 1, 512, false) }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v validator
			tt.fill(&v)
			err := v.Err()
			got := ""
			if err != nil {
				e := coffer.AsError(err)
				if e.Code != coffer.ErrValidation {
					t.Fatalf("code %s", e.Code)
				}
				got = e.Message
			}
			if got != tt.want {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestValidName(t *testing.T) {
	for _, n := range []string{"a", "Valid/_+=.@-Name", strings.Repeat("x", 512), "prod/db-a1b2c3"} {
		if err := validName(n); err != nil {
			t.Errorf("validName(%q) = %v", n, err)
		}
	}
	for _, n := range []string{"", "Inv Name", " Inv*Name? ", "a\x00b", "ünicode", strings.Repeat("x", 513), "a!b"} {
		if err := validName(n); coffer.ErrorCode(err) != coffer.ErrValidation {
			t.Errorf("validName(%q) = %v, want ValidationException", n, err)
		}
	}
}

func TestWords(t *testing.T) {
	tests := map[string]string{
		"credsDatabase#892": "[creds database 892]",
		"My_Secret":         "[my secret]",
		"prod/db-2":         "[prod db 2]",
		"":                  "[]",
		"ABC":               "[abc]",
	}
	for in, want := range tests {
		if got := fmt.Sprint(words(in)); got != want {
			t.Errorf("words(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestMatchFilter(t *testing.T) {
	sec := &coffer.Secret{Name: "prod/Database", Description: "Main DB", Tags: []coffer.Tag{{Key: "team", Value: "blue"}}, PrimaryRegion: "us-east-1"}
	tests := []struct {
		key    string
		values []string
		want   bool
	}{
		{"name", []string{"prod"}, true},
		{"name", []string{"Prod"}, false}, // case-sensitive
		{"name", []string{"!prod"}, false},
		{"name", []string{"!dev"}, true},
		{"name", []string{"dev", "prod"}, true},    // values OR
		{"description", []string{"main db"}, true}, // not case-sensitive
		{"tag-key", []string{"te"}, true},
		{"tag-value", []string{"Blue"}, false},
		{"primary-region", []string{"us-"}, true},
		{"owning-service", []string{"x"}, false},
		{"all", []string{"database"}, true},
		{"all", []string{"BLU"}, true},
		{"all", []string{"green"}, false},
	}
	for _, tt := range tests {
		if got := matchFilter(sec, tt.key, tt.values); got != tt.want {
			t.Errorf("%s %v = %v, want %v", tt.key, tt.values, got, tt.want)
		}
	}
}

func TestPageToken(t *testing.T) {
	sec := &coffer.Secret{ARN: "arn:aws:secretsmanager:us-east-1:111122223333:secret:x-abcdef", CreatedDate: time.UnixMilli(1700000000123).UTC()}
	c, err := decodeToken(encodeToken(sec, coffer.SortCreatedDate, false), coffer.SortCreatedDate, false)
	if err != nil || c.ARN != sec.ARN || !c.Time.Equal(sec.CreatedDate) {
		t.Fatalf("round trip: %+v %v", c, err)
	}
	sec.Name = "x"
	if c, err := decodeToken(encodeToken(sec, coffer.SortName, true), coffer.SortName, true); err != nil || c.Name != "x" || c.ARN != sec.ARN {
		t.Fatalf("name round trip: %+v %v", c, err)
	}
	// A token of another order or direction is refused.
	if _, err := decodeToken(encodeToken(sec, coffer.SortName, false), coffer.SortName, true); coffer.ErrorCode(err) != coffer.ErrInvalidNextToken {
		t.Errorf("token of the other direction: %v", err)
	}
	if _, err := decodeToken(encodeToken(sec, coffer.SortName, false), coffer.SortCreatedDate, false); coffer.ErrorCode(err) != coffer.ErrInvalidNextToken {
		t.Errorf("token of another order: %v", err)
	}
	for _, bad := range []string{"", "!!", "e30", "bm90IGpzb24",
		base64.RawURLEncoding.EncodeToString([]byte(`{"s":"created-date","t":0,"a":"x\u0000y"}`)),
	} {
		if _, err := decodeToken(bad, coffer.SortCreatedDate, false); coffer.ErrorCode(err) != coffer.ErrInvalidNextToken {
			t.Errorf("decodeToken(%q) = %v", bad, err)
		}
	}
}

func TestValueRedacted(t *testing.T) {
	v := &Value{Bytes: []byte("topsecret")}
	txt, blob := Text("topsecret"), Blob("topsecret")
	for _, s := range []string{fmt.Sprint(v), fmt.Sprintf("%v %+v %#v", *v, txt, blob), fmt.Sprintf("%s %#v", txt, txt)} {
		if strings.Contains(s, "topsecret") {
			t.Fatalf("formatting reveals a value: %s", s)
		}
	}
	v.Wipe()
	if string(v.Bytes) != strings.Repeat("\x00", 9) {
		t.Fatal("Wipe left bytes")
	}
}

// TestSecretKey: a name and its secret's full ARN give one key; the key carries the region
// and account, of ns for a name and of the ARN itself for an ARN.
func TestSecretKey(t *testing.T) {
	ns := coffer.Namespace{Account: "111122223333", Region: "us-east-1"}
	const base = "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db"
	for _, c := range []struct{ id, want string }{
		{"prod/db", base},
		{base + "-AbC123", base},
		{"arn:aws:secretsmanager:eu-west-1:444455556666:secret:prod/db-AbC123", "arn:aws:secretsmanager:eu-west-1:444455556666:secret:prod/db"},
		{"prod/db-AbC123", base + "-AbC123"}, // a name keeps what a full ARN loses
	} {
		if got := secretKey(ns, c.id); got != c.want {
			t.Errorf("secretKey(%q) = %q, want %q", c.id, got, c.want)
		}
	}
	if a, b := secretKey(ns, "app"), secretKey(coffer.Namespace{Account: ns.Account, Region: "eu-west-1"}, "app"); a == b {
		t.Errorf("one name in two regions: one key %q", a)
	}
}
