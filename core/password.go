package core

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"

	"github.com/coffer-project/coffer"
)

// The character types of GetRandomPassword, as the API reference lists them. Punctuation is
// the 32 printable ASCII characters that are neither letters, digits nor space.
const (
	upperChars       = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lowerChars       = "abcdefghijklmnopqrstuvwxyz"
	numberChars      = "0123456789"
	punctuationChars = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
)

// DefaultPasswordLength is the length of a password when PasswordLength is not given.
const DefaultPasswordLength = 32

// Messages for option combinations that no password can satisfy. AWS documents neither the
// cases nor the wording; these are the messages Secrets Manager is reported to return:
// "Password length is too short based on the required types." is the one moto
// (getmoto/moto, moto/secretsmanager/models.py) raises; the other two, and the absence of any
// error when a type left without characters is not required, are recorded as measured against
// CloudFormation's GenerateSecretString (which calls GetRandomPassword) in a third-party
// provisioning tool. The final periods follow moto's message; none of the three has been checked
// against AWS by coffer.
const (
	msgPasswordTooShort = "Password length is too short based on the required types."
	msgTypeExcluded     = "All characters of the desired type have been excluded."
	msgAllExcluded      = "All characters have been excluded from selection."
)

// PasswordOptions are GetRandomPassword's options with AWS's defaults already applied; the
// zero value is not the default (see GetRandomPasswordInput.Options).
type PasswordOptions struct {
	Length                  int
	ExcludeCharacters       string
	ExcludeNumbers          bool
	ExcludePunctuation      bool
	ExcludeUppercase        bool
	ExcludeLowercase        bool
	IncludeSpace            bool
	RequireEachIncludedType bool // at least one of each included letter case, number, punctuation
}

// maxDraws bounds the whole-password redraws of RandomPassword. The least likely acceptable
// draw (length 4; one upper, one lower and one digit left, 32 punctuation, space) happens with
// probability about 1/2187, so failing 2^16 draws in a row has a probability near e^-30: the
// bound only stops a broken reader (say, one that returns zeros) from spinning forever.
const maxDraws = 1 << 16

// RandomPassword returns a password drawn from r as GetRandomPassword describes it. Every
// character is chosen uniformly from the allowed set by rejection sampling (never a bare
// modulo, which would favour the first characters of the set). When RequireEachIncludedType
// holds, a password missing a required type is thrown away and drawn again, so the result is
// uniform over all passwords that satisfy the rule; placing one character of each type and
// shuffling would instead weight each password by the product of its per-type counts, which
// favours passwords with more of the smaller types (digits). The caller wipes the result when
// done.
func RandomPassword(r io.Reader, opts PasswordOptions) ([]byte, error) {
	if opts.Length < 1 {
		return nil, fmt.Errorf("core: password length %d", opts.Length)
	}
	var excluded [256]bool
	for _, c := range []byte(opts.ExcludeCharacters) {
		// Non-ASCII bytes can match no allowed character, so marking their UTF-8 bytes is harmless.
		excluded[c] = true
	}
	keep := func(set string) []byte {
		var out []byte
		for i := 0; i < len(set); i++ {
			if !excluded[set[i]] {
				out = append(out, set[i])
			}
		}
		return out
	}
	// class maps a pool character to the bit of its required type; 0 for a type not required.
	var class [256]uint8
	var pool []byte
	var required uint8
	types := []struct {
		chars string
		off   bool
	}{
		{upperChars, opts.ExcludeUppercase},
		{lowerChars, opts.ExcludeLowercase},
		{numberChars, opts.ExcludeNumbers},
		{punctuationChars, opts.ExcludePunctuation},
	}
	for i, t := range types {
		if t.off {
			continue
		}
		chars := keep(t.chars)
		if opts.RequireEachIncludedType {
			if len(chars) == 0 {
				return nil, coffer.Errorf(coffer.ErrInvalidParameter, msgTypeExcluded)
			}
			bit := uint8(1) << i
			required |= bit
			for _, c := range chars {
				class[c] = bit
			}
		}
		pool = append(pool, chars...)
	}
	// A space is allowed, never required: AWS's RequireEachIncludedType names only letters,
	// numbers and punctuation.
	if opts.IncludeSpace && !excluded[' '] {
		pool = append(pool, ' ')
	}
	if len(pool) == 0 {
		return nil, coffer.Errorf(coffer.ErrInvalidParameter, msgAllExcluded)
	}
	if opts.Length < bitCount(required) {
		return nil, coffer.Errorf(coffer.ErrInvalidParameter, msgPasswordTooShort)
	}

	src := &randSource{r: r}
	defer src.wipe()
	pw := make([]byte, opts.Length)
	for range maxDraws {
		var seen uint8
		for i := range pw {
			k, err := src.intn(len(pool))
			if err != nil {
				clear(pw)
				return nil, err
			}
			pw[i] = pool[k]
			seen |= class[pw[i]]
		}
		if seen == required {
			return pw, nil
		}
	}
	clear(pw)
	return nil, coffer.Internal(fmt.Errorf("core: no password met the required types in %d draws; is the random source broken?", maxDraws))
}

func bitCount(b uint8) int {
	n := 0
	for ; b != 0; b &= b - 1 {
		n++
	}
	return n
}

// randSource hands out uniform small integers from a reader, reading it in blocks so that a
// long password costs a few reads rather than one per character.
type randSource struct {
	r   io.Reader
	buf [128]byte
	off int // next unread byte of buf; len(buf) when empty
	n   int // bytes of buf filled by the last read
}

// intn returns a uniform integer in [0, n) for 1 <= n <= 256. A byte b is accepted only below
// the largest multiple of n that fits in a byte, so each residue b%n is equally likely.
func (s *randSource) intn(n int) (int, error) {
	limit := 256 - 256%n
	for {
		if s.off >= s.n {
			if _, err := io.ReadFull(s.r, s.buf[:]); err != nil {
				return 0, coffer.Internal(fmt.Errorf("core: reading randomness: %w", err))
			}
			s.off, s.n = 0, len(s.buf)
		}
		b := int(s.buf[s.off])
		s.off++
		if b < limit {
			return b % n, nil
		}
	}
}

// wipe clears the random bytes, from which the password could be recomputed.
func (s *randSource) wipe() { clear(s.buf[:]) }

// GetRandomPasswordInput is the GetRandomPassword request.
type GetRandomPasswordInput struct {
	PasswordLength          *int64
	ExcludeCharacters       *string
	ExcludeNumbers          *bool
	ExcludePunctuation      *bool
	ExcludeUppercase        *bool
	ExcludeLowercase        *bool
	IncludeSpace            *bool
	RequireEachIncludedType *bool
}

// validate checks the members against the model's constraints; prefix ("" or "parent.") names
// the structure that holds them.
func (in *GetRandomPasswordInput) validate(v *validator, prefix string) {
	v.RangeInt(prefix+"passwordLength", in.PasswordLength, 1, 4096)
	v.Length(prefix+"excludeCharacters", in.ExcludeCharacters, 0, 4096, false)
}

// Options applies AWS's defaults: length 32, every type allowed, no space, each included type
// required. It assumes the input is valid.
func (in *GetRandomPasswordInput) Options() PasswordOptions {
	o := PasswordOptions{Length: DefaultPasswordLength, RequireEachIncludedType: true}
	if in.PasswordLength != nil {
		o.Length = int(*in.PasswordLength)
	}
	o.ExcludeCharacters = str(in.ExcludeCharacters)
	o.ExcludeNumbers = flag(in.ExcludeNumbers, false)
	o.ExcludePunctuation = flag(in.ExcludePunctuation, false)
	o.ExcludeUppercase = flag(in.ExcludeUppercase, false)
	o.ExcludeLowercase = flag(in.ExcludeLowercase, false)
	o.IncludeSpace = flag(in.IncludeSpace, false)
	o.RequireEachIncludedType = flag(in.RequireEachIncludedType, true)
	return o
}

func flag(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

// GetRandomPassword generates a password as AWS's GetRandomPassword does. The caller wipes it
// after use and never logs it. It reads crypto/rand directly, not the Service's injected
// reader, which exists for ARN suffixes and ids and may be deterministic in tests: a password
// must never be.
func (s *Service) GetRandomPassword(ctx context.Context, in *GetRandomPasswordInput) (Text, error) {
	var v validator
	in.validate(&v, "")
	if err := v.Err(); err != nil {
		return nil, err
	}
	pw, err := RandomPassword(rand.Reader, in.Options())
	if err != nil {
		return nil, err
	}
	return Text(pw), nil
}
