package core

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coffer-project/coffer"
)

// ListSecretsInput is the ListSecrets request.
type ListSecretsInput struct {
	IncludePlannedDeletion *bool
	MaxResults             *int64
	NextToken              *string
	Filters                []FilterInput
	SortOrder              *string
	SortBy                 *string
}

// FilterInput is one ListSecrets filter.
type FilterInput struct {
	Key    *string
	Values []string
}

// SecretPage is one page of ListSecrets.
type SecretPage struct {
	Secrets   []*SecretDetails
	NextToken string
}

const (
	defaultMaxResults = 100
	scanBatch         = 200
	maxLookahead      = 10 * scanBatch
)

var filterValuePattern = regexp.MustCompile(`^!?[a-zA-Z0-9 :_@/+=.\-!]*$`)

// pageToken is the decoded NextToken: the order it belongs to and where the scan stopped in
// it. A token used with another order or direction is refused.
type pageToken struct {
	S string `json:"s"`           // SortBy
	D bool   `json:"d,omitempty"` // descending
	T int64  `json:"t"`           // the sort time, Unix milliseconds (date orders)
	N string `json:"n,omitempty"` // the name (name order)
	A string `json:"a"`           // ARN
}

// ListSecrets lists the secrets of ns, oldest first (or newest first with SortOrder desc),
// applying the filters AWS defines. NextToken is opaque to the caller.
func (s *Service) ListSecrets(ctx context.Context, ns coffer.Namespace, in *ListSecretsInput) (*SecretPage, error) {
	s.flushAccess(ctx)
	var v validator
	v.RangeInt("maxResults", in.MaxResults, 1, 100)
	v.Length("nextToken", in.NextToken, 1, 4096, false)
	v.Enum("sortOrder", in.SortOrder, "asc", "desc")
	v.Enum("sortBy", in.SortBy, "created-date", "last-accessed-date", "last-changed-date", "name")
	if len(in.Filters) > 10 {
		v.Add("filters", "", true, "Member must have length less than or equal to 10")
	}
	for i, f := range in.Filters {
		m := "filters." + itoa(i+1) + ".member."
		v.Required(m+"key", f.Key != nil)
		v.Enum(m+"key", f.Key, "description", "name", "tag-key", "tag-value", "primary-region", "owning-service", "all")
		if len(f.Values) < 1 || len(f.Values) > 10 {
			v.Add(m+"values", "", true, "Member must have length between 1 and 10")
		}
		for j := range f.Values {
			v.Length(m+"values."+itoa(j+1)+".member", &f.Values[j], 0, 512, false)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	for _, f := range in.Filters {
		for _, val := range f.Values {
			if !filterValuePattern.MatchString(val) {
				return nil, coffer.Errorf(coffer.ErrInvalidParameter, "Invalid filter values. The filter value can contain only alphanumeric characters, spaces, and the following characters: :_@/+=.-!")
			}
		}
	}
	sortBy := coffer.SortCreatedDate
	if in.SortBy != nil {
		sortBy = *in.SortBy
	}
	limit := defaultMaxResults
	if in.MaxResults != nil {
		limit = int(*in.MaxResults)
	}
	q := coffer.ListQuery{
		Limit:          scanBatch,
		SortBy:         sortBy,
		Descending:     in.SortOrder != nil && *in.SortOrder == "desc",
		IncludeDeleted: in.IncludePlannedDeletion != nil && *in.IncludePlannedDeletion,
	}
	q.NamePrefixes = namePrefixes(in.Filters)
	if in.NextToken != nil {
		c, err := decodeToken(*in.NextToken, q.SortBy, q.Descending)
		if err != nil {
			return nil, err
		}
		q.After = c
	}
	page := &SecretPage{}
	err := s.store.View(ctx, func(tx coffer.Tx) error {
		page.Secrets, page.NextToken = nil, ""
		// Once the page is full, the scan goes on only to learn whether another secret
		// passes the filters, so that the last page carries no NextToken; past
		// maxLookahead rows it stops and hands out a token, which may lead to an empty
		// page, as AWS's may.
		var (
			last      *coffer.Secret // the last secret on the page, once it is full
			lookahead int
		)
		for {
			batch, err := tx.ListSecrets(ns, q)
			if err != nil {
				return err
			}
			for _, sec := range batch {
				if last != nil {
					lookahead++
					if matchAll(sec, in.Filters) || lookahead > maxLookahead {
						page.NextToken = encodeToken(last, q.SortBy, q.Descending)
						return nil
					}
					continue
				}
				if !matchAll(sec, in.Filters) {
					continue
				}
				versions, err := labelled(tx, sec.ARN)
				if err != nil {
					return err
				}
				page.Secrets = append(page.Secrets, &SecretDetails{Secret: sec, Versions: versions})
				if len(page.Secrets) == limit {
					last = sec
				}
			}
			if len(batch) < q.Limit {
				return nil
			}
			q.After = cursorAt(batch[len(batch)-1], q.SortBy)
		}
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// sortTime is the time a date order sorts sec by.
func sortTime(sec *coffer.Secret, sortBy string) time.Time {
	switch sortBy {
	case coffer.SortLastChangedDate:
		return sec.LastChangedDate
	case coffer.SortLastAccessedDate:
		return sec.LastAccessedDate
	}
	return sec.CreatedDate
}

// cursorAt is the position of sec in the order sortBy.
func cursorAt(sec *coffer.Secret, sortBy string) *coffer.ListCursor {
	if sortBy == coffer.SortName {
		return &coffer.ListCursor{Name: sec.Name, ARN: sec.ARN}
	}
	return &coffer.ListCursor{Time: sortTime(sec, sortBy), ARN: sec.ARN}
}

func encodeToken(sec *coffer.Secret, sortBy string, desc bool) string {
	c := cursorAt(sec, sortBy)
	b, _ := json.Marshal(pageToken{S: sortBy, D: desc, T: c.Time.UnixMilli(), N: c.Name, A: c.ARN})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(tok, sortBy string, desc bool) (*coffer.ListCursor, error) {
	bad := coffer.Errorf(coffer.ErrInvalidNextToken, "The NextToken value is invalid.")
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return nil, bad
	}
	var t pageToken
	if err := json.Unmarshal(b, &t); err != nil || t.A == "" || t.S != sortBy || t.D != desc {
		return nil, bad
	}
	// The strings go to the store as query parameters: refuse what no ARN or name holds.
	for _, v := range []string{t.A, t.N} {
		if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			return nil, bad
		}
	}
	if sortBy == coffer.SortName {
		return &coffer.ListCursor{Name: t.N, ARN: t.A}, nil
	}
	return &coffer.ListCursor{Time: time.UnixMilli(t.T).UTC(), ARN: t.A}, nil
}

// namePrefixes returns the values of the first name filter when none is negated: the store
// then reads only the secrets whose name starts with one of them. The filters still apply to
// what it returns.
func namePrefixes(filters []FilterInput) []string {
	for _, f := range filters {
		if *f.Key != "name" {
			continue
		}
		var out []string
		for _, v := range f.Values {
			if strings.HasPrefix(v, "!") {
				return nil
			}
			out = append(out, v)
		}
		return out
	}
	return nil
}

// matchAll reports whether sec passes every filter (filters AND, values of one filter OR).
func matchAll(sec *coffer.Secret, filters []FilterInput) bool {
	for _, f := range filters {
		if !matchFilter(sec, *f.Key, f.Values) {
			return false
		}
	}
	return true
}

func matchFilter(sec *coffer.Secret, key string, values []string) bool {
	for _, val := range values {
		negate := strings.HasPrefix(val, "!")
		if negate {
			val = val[1:]
		}
		if matchValue(sec, key, val) != negate {
			return true
		}
	}
	return false
}

func matchValue(sec *coffer.Secret, key, val string) bool {
	switch key {
	case "name":
		return strings.HasPrefix(sec.Name, val)
	case "description":
		return strings.HasPrefix(strings.ToLower(sec.Description), strings.ToLower(val))
	case "tag-key":
		for _, t := range sec.Tags {
			if strings.HasPrefix(t.Key, val) {
				return true
			}
		}
	case "tag-value":
		for _, t := range sec.Tags {
			if strings.HasPrefix(t.Value, val) {
				return true
			}
		}
	case "primary-region":
		return strings.HasPrefix(sec.PrimaryRegion, val)
	case "owning-service":
		return strings.HasPrefix(sec.OwningService, val)
	case "all":
		fields := []string{sec.Name, sec.Description}
		for _, t := range sec.Tags {
			fields = append(fields, t.Key, t.Value)
		}
		var have []string
		for _, f := range fields {
			have = append(have, words(f)...)
		}
		for _, w := range words(val) {
			for _, h := range have {
				if strings.HasPrefix(h, w) {
					return true
				}
			}
		}
	}
	return false
}

// words splits s as AWS's search does: at any change from upper to lower case, letter to
// digit, or to punctuation; lower-cased.
func words(s string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	var prev rune
	for _, r := range s {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
		case len(cur) > 0 && (unicode.IsDigit(r) != unicode.IsDigit(prev) || (unicode.IsUpper(r) && unicode.IsLower(prev))):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
		prev = r
	}
	flush()
	return out
}
