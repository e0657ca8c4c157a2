package postgres

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

// TestListPlansAgree: a list with name prefixes in created-date order
// (listPrefixesInCreatedOrder) gives the pages of the planner's own choice (listQuery), page
// after page, in both orders, with deleted secrets left out or not, whichever way it takes;
// and it takes each way where it should: the walk of the created-date index for matches
// dense in what it walks, the name index's matches for few matches or matches the walk's
// budget does not reach.
func TestListPlansAgree(t *testing.T) {
	probe, budget := listProbe, listBudget
	listProbe, listBudget = 10, 3
	defer func() { listProbe, listBudget = probe, budget }()

	s, _ := openFresh(t)
	ns := coffer.Namespace{Account: "111122223333", Region: "us-east-1"}
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// 300 secrets, created in this order: a/ the first 60, b/ the last 60, c/ every third of
	// the middle (a third of them deleted), d/ three, the rest e/; two at a time share a
	// millisecond, so that the ARN breaks ties.
	err := s.Update(t.Context(), func(tx coffer.Tx) error {
		for i := range 300 {
			var name string
			switch {
			case i < 60:
				name = fmt.Sprintf("a/%03d", i)
			case i >= 240:
				name = fmt.Sprintf("b/%03d", i)
			case i%3 == 0:
				name = fmt.Sprintf("c/%03d", i)
			case i == 100 || i == 150 || i == 200:
				name = fmt.Sprintf("d/%03d", i)
			default:
				name = fmt.Sprintf("e/%03d", i)
			}
			sec := &coffer.Secret{ARN: coffer.SecretARN(ns, name, fmt.Sprintf("%06d", 300-i)), Namespace: ns, Name: name,
				CreatedDate: base.Add(time.Duration(i/2) * time.Millisecond)}
			if name[0] == 'c' && i%9 == 0 {
				sec.DeletedDate = base.Add(time.Hour)
				sec.PurgeDate = base.Add(8 * 24 * time.Hour)
			}
			if err := tx.InsertSecret(sec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	walked := map[string]bool{} // prefixes, order, first page: did the walk answer
	for _, prefixes := range [][]string{{"a/"}, {"b/"}, {"c/"}, {"d/"}, {"a/", "b/"}, {"a/0", "e/"}, {"x/"}} {
		for _, desc := range []bool{false, true} {
			for _, deleted := range []bool{false, true} {
				q := coffer.ListQuery{NamePrefixes: prefixes, Limit: 7, SortBy: coffer.SortCreatedDate, Descending: desc, IncludeDeleted: deleted}
				for page := 0; page < 100; page++ {
					var walk, search []*coffer.Secret
					var plan string
					err := s.View(t.Context(), func(ctx coffer.Tx) error {
						tx := ctx.(*tx)
						var err error
						if walk, plan, err = tx.listPrefixesInCreatedOrder(ns, q); err != nil {
							return err
						}
						query, args, err := listQuery(ns, q)
						if err != nil {
							return err
						}
						search, err = tx.secrets("list secrets", query, args...)
						return err
					})
					ok := plan == "walk"
					if err != nil {
						t.Fatal(err)
					}
					what := fmt.Sprintf("%q desc=%v deleted=%v page %d", prefixes, desc, deleted, page)
					if page == 0 && !deleted {
						walked[fmt.Sprintf("%q desc=%v", prefixes, desc)] = ok
					}
					if !slices.EqualFunc(walk, search, func(a, b *coffer.Secret) bool { return a.ARN == b.ARN }) {
						t.Errorf("%s: the %s gave %v, the planner's choice %v", what, plan, names(walk), names(search))
					}
					if len(search) < q.Limit {
						break
					}
					last := search[len(search)-1]
					q.After = &coffer.ListCursor{Time: last.CreatedDate, ARN: last.ARN}
				}
			}
		}
	}
	for key, want := range map[string]bool{
		`["a/"] desc=false`:       true,  // dense where the walk starts
		`["b/"] desc=true`:        true,  // the same, walking back
		`["b/"] desc=false`:       false, // past the budget
		`["a/" "b/"] desc=false`:  true,
		`["d/"] desc=false`:       false, // fewer than listProbe
		`["x/"] desc=false`:       false,
		`["a/0" "e/"] desc=false`: true,
	} {
		if got, ok := walked[key]; !ok || got != want {
			t.Errorf("%s, first page: walked %v (seen %v), want %v", key, got, ok, want)
		}
	}
}

func names(secs []*coffer.Secret) []string {
	out := make([]string, len(secs))
	for i, s := range secs {
		out[i] = s.Name
	}
	return out
}

// TestPrefixUpper: the bound is above every string with the prefix and below every string
// after them, in byte order.
func TestPrefixUpper(t *testing.T) {
	for _, c := range []struct {
		prefix, want string
		ok           bool
	}{
		{"bench/pop/0009", "bench/pop/000:", true},
		{"a", "b", true},
		{"ab\U0010FFFF", "ac", true},
		{"\U0010FFFF\U0010FFFF", "", false},
		{"x\uD7FF", "x\uE000", true},
		{"é", "ê", true},
	} {
		got, ok := prefixUpper(c.prefix)
		if got != c.want || ok != c.ok {
			t.Errorf("prefixUpper(%q) = %q, %v; want %q, %v", c.prefix, got, ok, c.want, c.ok)
		}
		if ok && !(c.prefix+"\U0010FFFF" < got && c.prefix < got) {
			t.Errorf("prefixUpper(%q) = %q is not above the prefix's strings", c.prefix, got)
		}
	}
}
