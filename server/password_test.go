package server_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

const (
	upperSet       = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lowerSet       = "abcdefghijklmnopqrstuvwxyz"
	numberSet      = "0123456789"
	punctuationSet = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
)

// only reports whether every character of s is in set.
func only(s, set string) bool { return strings.Trim(s, set) == "" }

func TestGetRandomPasswordDefaults(t *testing.T) {
	s := startServer(t, serverOpts{})
	c := s.client("us-east-1")
	ctx := context.Background()
	seen := map[string]bool{}
	for range 20 {
		out := must(c.GetRandomPassword(ctx, &sm.GetRandomPasswordInput{})).get(t)
		pw := aws.ToString(out.RandomPassword)
		if len(pw) != 32 {
			t.Fatalf("length %d, want 32", len(pw))
		}
		if !only(pw, upperSet+lowerSet+numberSet+punctuationSet) {
			t.Fatal("a character outside AWS's sets (or a space) in a default password")
		}
		for _, set := range []string{upperSet, lowerSet, numberSet, punctuationSet} {
			if !strings.ContainsAny(pw, set) {
				t.Fatalf("a default password lacks one of %q", set)
			}
		}
		if seen[pw] {
			t.Fatal("the same password twice")
		}
		seen[pw] = true
	}
	// The response carries RandomPassword and nothing else.
	status, m := s.rawCall(t, "secretsmanager.GetRandomPassword", jsonCT, []byte(`{}`), time.Now(), s.Creds, nil)
	if pw, _ := m["RandomPassword"].(string); status != 200 || len(m) != 1 || len(pw) != 32 {
		t.Fatalf("status %d, %d members", status, len(m))
	}
	// No password may reach the log.
	b, err := os.ReadFile(filepath.Join(s.Dir, "server.log"))
	if err != nil || len(b) == 0 {
		t.Fatalf("the server log is empty or unreadable: %v", err)
	}
	for pw := range seen {
		if strings.Contains(string(b), pw) {
			t.Fatal("a password is in the server log")
		}
	}
}

func TestGetRandomPasswordOptions(t *testing.T) {
	s := startServer(t, serverOpts{})
	c := s.client("us-east-1")
	ctx := context.Background()
	tests := []struct {
		name    string
		in      sm.GetRandomPasswordInput
		length  int
		allowed string   // every character is one of these
		require []string // each of these sets is represented
	}{
		{"length", sm.GetRandomPasswordInput{PasswordLength: aws.Int64(100)}, 100,
			upperSet + lowerSet + numberSet + punctuationSet, []string{upperSet, lowerSet, numberSet, punctuationSet}},
		{"maximum length", sm.GetRandomPasswordInput{PasswordLength: aws.Int64(4096)}, 4096,
			upperSet + lowerSet + numberSet + punctuationSet, []string{upperSet, lowerSet, numberSet, punctuationSet}},
		{"shortest with four types", sm.GetRandomPasswordInput{PasswordLength: aws.Int64(4)}, 4,
			upperSet + lowerSet + numberSet + punctuationSet, []string{upperSet, lowerSet, numberSet, punctuationSet}},
		{"exclude numbers", sm.GetRandomPasswordInput{ExcludeNumbers: aws.Bool(true)}, 32,
			upperSet + lowerSet + punctuationSet, []string{upperSet, lowerSet, punctuationSet}},
		{"exclude punctuation", sm.GetRandomPasswordInput{ExcludePunctuation: aws.Bool(true)}, 32,
			upperSet + lowerSet + numberSet, []string{upperSet, lowerSet, numberSet}},
		{"exclude uppercase", sm.GetRandomPasswordInput{ExcludeUppercase: aws.Bool(true)}, 32,
			lowerSet + numberSet + punctuationSet, []string{lowerSet, numberSet, punctuationSet}},
		{"exclude lowercase", sm.GetRandomPasswordInput{ExcludeLowercase: aws.Bool(true)}, 32,
			upperSet + numberSet + punctuationSet, []string{upperSet, numberSet, punctuationSet}},
		{"include space", sm.GetRandomPasswordInput{IncludeSpace: aws.Bool(true), ExcludeUppercase: aws.Bool(true), ExcludeLowercase: aws.Bool(true), ExcludePunctuation: aws.Bool(true), PasswordLength: aws.Int64(500)}, 500,
			numberSet + " ", []string{numberSet, " "}},
		{"exclude characters", sm.GetRandomPasswordInput{ExcludeCharacters: aws.String(`"'\/@` + "`" + ` abcdefghijklmnopqrstuvwxy`), PasswordLength: aws.Int64(200)}, 200,
			upperSet + "z" + numberSet + "!#$%&()*+,-.:;<=>?[]^_{|}~", []string{upperSet, "z", numberSet, punctuationSet}},
		{"not each type", sm.GetRandomPasswordInput{RequireEachIncludedType: aws.Bool(false), PasswordLength: aws.Int64(1)}, 1,
			upperSet + lowerSet + numberSet + punctuationSet, nil},
		{"a type emptied but not required", sm.GetRandomPasswordInput{RequireEachIncludedType: aws.Bool(false), ExcludeCharacters: aws.String(numberSet)}, 32,
			upperSet + lowerSet + punctuationSet, nil},
		{"digits only", sm.GetRandomPasswordInput{ExcludeUppercase: aws.Bool(true), ExcludeLowercase: aws.Bool(true), ExcludePunctuation: aws.Bool(true), PasswordLength: aws.Int64(6)}, 6,
			numberSet, []string{numberSet}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 5 {
				pw := aws.ToString(must(c.GetRandomPassword(ctx, &tt.in)).get(t).RandomPassword)
				if len(pw) != tt.length {
					t.Fatalf("length %d, want %d", len(pw), tt.length)
				}
				if !only(pw, tt.allowed) {
					t.Fatalf("a character outside %q", tt.allowed)
				}
				for _, set := range tt.require {
					if !strings.ContainsAny(pw, set) {
						t.Fatalf("no character of %q", set)
					}
				}
			}
		})
	}
}

func TestGetRandomPasswordErrors(t *testing.T) {
	s := startServer(t, serverOpts{})
	c := s.client("us-east-1")
	ctx := context.Background()
	long := strings.Repeat("x", 4097)
	tests := []struct {
		name      string
		in        sm.GetRandomPasswordInput
		code, msg string
	}{
		{"length 0", sm.GetRandomPasswordInput{PasswordLength: aws.Int64(0)}, "ValidationException",
			"1 validation error detected: Value '0' at 'passwordLength' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"length 4097", sm.GetRandomPasswordInput{PasswordLength: aws.Int64(4097)}, "ValidationException",
			"1 validation error detected: Value '4097' at 'passwordLength' failed to satisfy constraint: Member must have value less than or equal to 4096"},
		{"exclude characters too long", sm.GetRandomPasswordInput{ExcludeCharacters: &long}, "ValidationException",
			"1 validation error detected: Value '" + long[:128] + "...' at 'excludeCharacters' failed to satisfy constraint: Member must have length less than or equal to 4096"},
		{"two violations", sm.GetRandomPasswordInput{PasswordLength: aws.Int64(-5), ExcludeCharacters: &long}, "ValidationException",
			"2 validation errors detected: Value '-5' at 'passwordLength' failed to satisfy constraint: Member must have value greater than or equal to 1; Value '" + long[:128] + "...' at 'excludeCharacters' failed to satisfy constraint: Member must have length less than or equal to 4096"},
		{"too short for the types", sm.GetRandomPasswordInput{PasswordLength: aws.Int64(3)}, "InvalidParameterException",
			"Password length is too short based on the required types."},
		{"too short for two types", sm.GetRandomPasswordInput{PasswordLength: aws.Int64(1), ExcludeNumbers: aws.Bool(true), ExcludePunctuation: aws.Bool(true)}, "InvalidParameterException",
			"Password length is too short based on the required types."},
		{"every type excluded", sm.GetRandomPasswordInput{ExcludeNumbers: aws.Bool(true), ExcludePunctuation: aws.Bool(true), ExcludeUppercase: aws.Bool(true), ExcludeLowercase: aws.Bool(true)}, "InvalidParameterException",
			"All characters have been excluded from selection."},
		{"every character excluded", sm.GetRandomPasswordInput{RequireEachIncludedType: aws.Bool(false), ExcludeCharacters: aws.String(upperSet + lowerSet + numberSet + punctuationSet)}, "InvalidParameterException",
			"All characters have been excluded from selection."},
		{"a required type emptied", sm.GetRandomPasswordInput{ExcludeCharacters: aws.String(punctuationSet)}, "InvalidParameterException",
			"All characters of the desired type have been excluded."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.GetRandomPassword(ctx, &tt.in)
			wantErr(t, err, tt.code, tt.msg)
		})
	}
	// A member of the wrong JSON type is refused before anything runs.
	status, m := s.rawCall(t, "secretsmanager.GetRandomPassword", jsonCT, []byte(`{"PasswordLength":"32"}`), time.Now(), s.Creds, nil)
	if status != 400 || m["__type"] != "SerializationException" {
		b, _ := json.Marshal(m)
		t.Fatalf("status %d, %s", status, b)
	}
}
