package core

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/coffer-project/coffer"
)

// seeded is a reproducible stream for tests, so that a statistical bound fails the same way
// every time it fails at all. Production code reads crypto/rand.
func seeded(seed byte) io.Reader {
	var s [32]byte
	s[0] = seed
	return rand.NewChaCha8(s)
}

func defaults() PasswordOptions { return (&GetRandomPasswordInput{}).Options() }

func classOf(c byte) string {
	switch {
	case strings.IndexByte(upperChars, c) >= 0:
		return "upper"
	case strings.IndexByte(lowerChars, c) >= 0:
		return "lower"
	case strings.IndexByte(numberChars, c) >= 0:
		return "number"
	case strings.IndexByte(punctuationChars, c) >= 0:
		return "punctuation"
	case c == ' ':
		return "space"
	}
	return "other"
}

func TestCharacterSets(t *testing.T) {
	// The punctuation AWS lists is every printable ASCII character that is not a letter, a
	// digit or space; the four sets together are the printable ASCII characters but space.
	var all []byte
	for _, s := range []string{upperChars, lowerChars, numberChars, punctuationChars} {
		all = append(all, s...)
	}
	if len(punctuationChars) != 32 || len(all) != 94 {
		t.Fatalf("%d punctuation, %d in all", len(punctuationChars), len(all))
	}
	for c := byte('!'); c <= '~'; c++ {
		if bytes.Count(all, []byte{c}) != 1 {
			t.Errorf("%q appears %d times", c, bytes.Count(all, []byte{c}))
		}
	}
	if got, want := punctuationChars, "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"; got != want {
		t.Errorf("punctuation %q, want %q", got, want)
	}
}

func TestDefaultOptions(t *testing.T) {
	got := defaults()
	want := PasswordOptions{Length: 32, RequireEachIncludedType: true}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	f, n := false, int64(7)
	in := &GetRandomPasswordInput{PasswordLength: &n, RequireEachIncludedType: &f}
	if o := in.Options(); o.Length != 7 || o.RequireEachIncludedType {
		t.Fatalf("got %+v", o)
	}
}

// TestRandomPasswordDistribution draws many passwords per option set and checks that every
// allowed character appears about as often as the others, that no excluded character ever
// appears, and that each required type is in every password.
func TestRandomPasswordDistribution(t *testing.T) {
	tests := []struct {
		name    string
		opts    func(o *PasswordOptions)
		allowed string
		require []string
	}{
		{"defaults", func(o *PasswordOptions) {}, upperChars + lowerChars + numberChars + punctuationChars,
			[]string{"upper", "lower", "number", "punctuation"}},
		{"no numbers", func(o *PasswordOptions) { o.ExcludeNumbers = true }, upperChars + lowerChars + punctuationChars,
			[]string{"upper", "lower", "punctuation"}},
		{"no punctuation", func(o *PasswordOptions) { o.ExcludePunctuation = true }, upperChars + lowerChars + numberChars,
			[]string{"upper", "lower", "number"}},
		{"no uppercase", func(o *PasswordOptions) { o.ExcludeUppercase = true }, lowerChars + numberChars + punctuationChars,
			[]string{"lower", "number", "punctuation"}},
		{"no lowercase", func(o *PasswordOptions) { o.ExcludeLowercase = true }, upperChars + numberChars + punctuationChars,
			[]string{"upper", "number", "punctuation"}},
		{"space", func(o *PasswordOptions) { o.IncludeSpace = true }, upperChars + lowerChars + numberChars + punctuationChars + " ",
			[]string{"upper", "lower", "number", "punctuation"}},
		{"exclude characters", func(o *PasswordOptions) { o.ExcludeCharacters = "\"'\\/@ aeiouAEIOU01é" }, "BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz23456789!#$%&()*+,-.:;<=>?[]^_`{|}~",
			[]string{"upper", "lower", "number", "punctuation"}},
		{"excluded space", func(o *PasswordOptions) { o.IncludeSpace = true; o.ExcludeCharacters = " " }, upperChars + lowerChars + numberChars + punctuationChars,
			[]string{"upper", "lower", "number", "punctuation"}},
		{"digits only", func(o *PasswordOptions) {
			o.ExcludeUppercase, o.ExcludeLowercase, o.ExcludePunctuation = true, true, true
		}, numberChars, []string{"number"}},
		{"not required", func(o *PasswordOptions) { o.RequireEachIncludedType = false }, upperChars + lowerChars + numberChars + punctuationChars, nil},
	}
	const draws, length = 2000, 64
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := defaults()
			o.Length = length
			tt.opts(&o)
			r := seeded(byte(i))
			var counts [256]int
			for range draws {
				pw, err := RandomPassword(r, o)
				if err != nil {
					t.Fatal(err)
				}
				if len(pw) != length {
					t.Fatalf("length %d", len(pw))
				}
				seen := map[string]bool{}
				for _, c := range pw {
					counts[c]++
					seen[classOf(c)] = true
				}
				for _, class := range tt.require {
					if !seen[class] {
						t.Fatalf("a password without %s", class)
					}
				}
			}
			// Each allowed character is expected draws*length/len(allowed) times (at least
			// 1300 here, σ ≤ 37); ±25% is about 9σ: a bias of that size is a bug, never luck.
			want := float64(draws*length) / float64(len(tt.allowed))
			for c := range 256 {
				if strings.IndexByte(tt.allowed, byte(c)) < 0 {
					if counts[c] != 0 {
						t.Errorf("%q is not allowed but appeared %d times", rune(c), counts[c])
					}
					continue
				}
				if got := float64(counts[c]); got < 0.75*want || got > 1.25*want {
					t.Errorf("%q appeared %.0f times, want about %.0f", rune(c), got, want)
				}
			}
		})
	}
}

// TestRequireEachIncludedTypeShort checks the rule where it binds hardest: a password exactly as
// long as the number of required types, with one type reduced to a single character.
func TestRequireEachIncludedTypeShort(t *testing.T) {
	o := defaults()
	o.Length = 4
	o.ExcludeCharacters = "012345678"
	r := seeded(99)
	nines := 0
	for range 5000 {
		pw, err := RandomPassword(r, o)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, c := range pw {
			seen[classOf(c)]++
		}
		if seen["upper"] != 1 || seen["lower"] != 1 || seen["number"] != 1 || seen["punctuation"] != 1 {
			t.Fatalf("password classes %v", seen)
		}
		// The digit is equally likely in each position: no type is pinned to a place.
		if pw[0] == '9' {
			nines++
		}
	}
	if nines < 1000 || nines > 1500 {
		t.Fatalf("the digit came first in %d of 5000 passwords, want about 1250", nines)
	}
}

func TestRandomPasswordErrors(t *testing.T) {
	tests := []struct {
		name string
		opts func(o *PasswordOptions)
		msg  string
	}{
		{"every type excluded", func(o *PasswordOptions) {
			o.ExcludeUppercase, o.ExcludeLowercase, o.ExcludeNumbers, o.ExcludePunctuation = true, true, true, true
		}, msgAllExcluded},
		{"every character excluded, not required", func(o *PasswordOptions) {
			o.RequireEachIncludedType = false
			o.ExcludeCharacters = upperChars + lowerChars + numberChars + punctuationChars
		}, msgAllExcluded},
		{"space excluded too", func(o *PasswordOptions) {
			o.ExcludeUppercase, o.ExcludeLowercase, o.ExcludeNumbers, o.ExcludePunctuation = true, true, true, true
			o.IncludeSpace, o.ExcludeCharacters = true, " "
		}, msgAllExcluded},
		{"a required type emptied", func(o *PasswordOptions) { o.ExcludeCharacters = numberChars }, msgTypeExcluded},
		{"too short for four types", func(o *PasswordOptions) { o.Length = 3 }, msgPasswordTooShort},
		{"too short for two types", func(o *PasswordOptions) {
			o.Length, o.ExcludeNumbers, o.ExcludePunctuation = 1, true, true
		}, msgPasswordTooShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := defaults()
			tt.opts(&o)
			_, err := RandomPassword(seeded(1), o)
			e := coffer.AsError(err)
			if e == nil || e.Code != coffer.ErrInvalidParameter || e.Message != tt.msg {
				t.Fatalf("got %v, want %s %q", err, coffer.ErrInvalidParameter, tt.msg)
			}
		})
	}
}

func TestRandomPasswordAllowed(t *testing.T) {
	tests := []struct {
		name  string
		opts  func(o *PasswordOptions)
		check func(pw []byte) bool
	}{
		// Without RequireEachIncludedType, a type emptied by ExcludeCharacters is no error.
		{"emptied type not required", func(o *PasswordOptions) {
			o.RequireEachIncludedType, o.ExcludeCharacters = false, numberChars
		}, func(pw []byte) bool { return !bytes.ContainsAny(pw, numberChars) }},
		{"shorter than the types when not required", func(o *PasswordOptions) {
			o.RequireEachIncludedType, o.Length = false, 1
		}, func(pw []byte) bool { return len(pw) == 1 }},
		{"only space", func(o *PasswordOptions) {
			o.ExcludeUppercase, o.ExcludeLowercase, o.ExcludeNumbers, o.ExcludePunctuation = true, true, true, true
			o.IncludeSpace = true
		}, func(pw []byte) bool { return string(pw) == strings.Repeat(" ", 32) }},
		{"space is never required", func(o *PasswordOptions) {
			o.IncludeSpace, o.Length = true, 4
		}, func(pw []byte) bool { return len(pw) == 4 }},
		{"maximum length", func(o *PasswordOptions) { o.Length = 4096 }, func(pw []byte) bool { return len(pw) == 4096 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := defaults()
			tt.opts(&o)
			pw, err := RandomPassword(seeded(2), o)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(pw) {
				t.Fatalf("password of %d characters fails the check", len(pw))
			}
		})
	}
}

// TestIntnRejects checks that a byte at or above the largest multiple of n is thrown away
// rather than folded into the low residues.
func TestIntnRejects(t *testing.T) {
	// n = 94: 256 - 256%94 = 188. 200 and 188 must be skipped; 100 gives 6.
	buf := make([]byte, 128)
	buf[0], buf[1], buf[2] = 200, 188, 100
	s := &randSource{r: bytes.NewReader(buf)}
	got, err := s.intn(94)
	if err != nil || got != 6 {
		t.Fatalf("got %d, %v; want 6", got, err)
	}
	// Every residue of a full byte range below the limit is hit exactly limit/n times.
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	s = &randSource{r: io.MultiReader(bytes.NewReader(all), bytes.NewReader(make([]byte, 128)))}
	counts := make([]int, 94)
	for range 188 {
		k, err := s.intn(94)
		if err != nil {
			t.Fatal(err)
		}
		counts[k]++
	}
	for k, c := range counts {
		if c != 2 {
			t.Fatalf("residue %d drawn %d times, want 2", k, c)
		}
	}
}

func TestRandomPasswordReaderFailure(t *testing.T) {
	boom := errors.New("boom")
	_, err := RandomPassword(iotest.ErrReader(boom), defaults())
	if coffer.ErrorCode(err) != coffer.ErrInternalServiceError || !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	// A reader stuck on one value can never yield four types: the bound ends the loop.
	o := defaults()
	o.Length = 4
	_, err = RandomPassword(zeros{}, o)
	if coffer.ErrorCode(err) != coffer.ErrInternalServiceError {
		t.Fatalf("got %v", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestGetRandomPasswordValidation(t *testing.T) {
	svc := New(nil, nil, Options{})
	n := func(v int64) *int64 { return &v }
	s := func(v string) *string { return &v }
	tests := []struct {
		name string
		in   GetRandomPasswordInput
		code string
		msg  string
	}{
		{"length 0", GetRandomPasswordInput{PasswordLength: n(0)}, coffer.ErrValidation,
			"1 validation error detected: Value '0' at 'passwordLength' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"length 4097", GetRandomPasswordInput{PasswordLength: n(4097)}, coffer.ErrValidation,
			"1 validation error detected: Value '4097' at 'passwordLength' failed to satisfy constraint: Member must have value less than or equal to 4096"},
		{"exclude too long", GetRandomPasswordInput{ExcludeCharacters: s(strings.Repeat("a", 4097))}, coffer.ErrValidation,
			"1 validation error detected: Value '" + strings.Repeat("a", 128) + "...' at 'excludeCharacters' failed to satisfy constraint: Member must have length less than or equal to 4096"},
		{"both", GetRandomPasswordInput{PasswordLength: n(-1), ExcludeCharacters: s(strings.Repeat("a", 4097))}, coffer.ErrValidation,
			"2 validation errors detected: Value '-1' at 'passwordLength' failed to satisfy constraint: Member must have value greater than or equal to 1; Value '" + strings.Repeat("a", 128) + "...' at 'excludeCharacters' failed to satisfy constraint: Member must have length less than or equal to 4096"},
		{"too short", GetRandomPasswordInput{PasswordLength: n(3)}, coffer.ErrInvalidParameter, msgPasswordTooShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := svc.GetRandomPassword(context.Background(), &tt.in)
			e := coffer.AsError(err)
			if e == nil || e.Code != tt.code || e.Message != tt.msg {
				t.Fatalf("got %v\nwant %s: %s", err, tt.code, tt.msg)
			}
		})
	}
	pw, err := svc.GetRandomPassword(context.Background(), &GetRandomPasswordInput{PasswordLength: n(4096), ExcludeCharacters: s(strings.Repeat("x", 4096))})
	if err != nil || len(pw) != 4096 || bytes.IndexByte(pw, 'x') >= 0 {
		t.Fatalf("%d characters, %v", len(pw), err)
	}
	if got := pw.String(); got != "[redacted]" {
		t.Fatalf("the password prints as %q", got)
	}
}
