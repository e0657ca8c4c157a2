package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

// ListPlans is how a store answers a list in a date order with name prefixes, for
// ListPlansAgree: chosen is the store's own choice of plan, walked says whether that was the
// walk of the order's index, and planned is the answer of the plain query (the range search
// of the name index, or the database's planner).
type ListPlans func(tx coffer.Tx, ns coffer.Namespace, q coffer.ListQuery) (chosen []*coffer.Secret, walked bool, planned []*coffer.Secret, err error)

// ListPlansAgree checks a store whose lists with name prefixes in a date order (created, last
// changed, last accessed) walk that order's index when at least 10 secrets match the
// prefixes and a walk of 3 × the limit finds a page (the caller sets those bounds). For each
// order, in a namespace of its own, 300 secrets whose dates of that order follow one sequence
// and whose other dates run the other way (so that a walk of the wrong index gives other
// pages): the store's choice must give the plain query's pages, page after page, in both
// directions, with deleted secrets left out or not; and it must walk where the matches are
// dense at the walk's start (a/ forwards, b/ backwards, a/0 or e/), and not where they lie
// past the budget (b/ forwards) or are fewer than 10 (d/, f/, x/). In the last-accessed
// order, the f/ secrets and every fourth a/ were never read, so that pages begin and end
// among secrets that tie on the date.
func ListPlansAgree(t *testing.T, s coffer.Store, plans ListPlans) {
	t.Helper()
	for i, sortBy := range []string{coffer.SortCreatedDate, coffer.SortLastChangedDate, coffer.SortLastAccessedDate} {
		t.Run(sortBy, func(t *testing.T) {
			listPlansAgree(t, s, coffer.Namespace{Account: fmt.Sprintf("11112222333%d", i), Region: "us-east-1"}, sortBy, plans)
		})
	}
}

func listPlansAgree(t *testing.T, s coffer.Store, ns coffer.Namespace, sortBy string, plans ListPlans) {
	t.Helper()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// 300 secrets, in this order of sortBy's dates: f/ the first 8, a/ the rest of the first
	// 60, b/ the last 60, c/ every third of the middle (a third of them deleted), d/ three,
	// the rest e/; two at a time share a millisecond, so that the ARN breaks ties.
	err := s.Update(t.Context(), func(tx coffer.Tx) error {
		for i := range 300 {
			var name string
			switch {
			case i < 8:
				name = fmt.Sprintf("f/%03d", i)
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
			in, against := base.Add(time.Duration(i/2)*time.Millisecond), base.Add(time.Duration((299-i)/2)*time.Millisecond)
			sec := &coffer.Secret{ARN: coffer.SecretARN(ns, name, fmt.Sprintf("%06d", 300-i)), Namespace: ns, Name: name,
				CreatedDate: against, LastChangedDate: against, LastAccessedDate: against}
			switch sortBy {
			case coffer.SortCreatedDate:
				sec.CreatedDate = in
			case coffer.SortLastChangedDate:
				sec.LastChangedDate = in
			case coffer.SortLastAccessedDate:
				sec.LastAccessedDate = in
				if name[0] == 'f' || name[0] == 'a' && i%4 == 0 {
					sec.LastAccessedDate = time.Time{} // never read: first, in ARN order
				}
			}
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

	names := func(secs []*coffer.Secret) []string {
		out := make([]string, len(secs))
		for i, s := range secs {
			out[i] = s.Name
		}
		return out
	}
	walkedFirst := map[string]bool{} // prefixes and order: did the first page walk
	for _, prefixes := range [][]string{{"a/"}, {"b/"}, {"c/"}, {"d/"}, {"a/", "b/"}, {"a/0", "e/"}, {"f/"}, {"x/"}} {
		for _, desc := range []bool{false, true} {
			for _, deleted := range []bool{false, true} {
				q := coffer.ListQuery{NamePrefixes: prefixes, Limit: 7, SortBy: sortBy, Descending: desc, IncludeDeleted: deleted}
				for page := 0; page < 100; page++ {
					var chosen, planned []*coffer.Secret
					var walked bool
					err := s.View(t.Context(), func(tx coffer.Tx) error {
						var err error
						chosen, walked, planned, err = plans(tx, ns, q)
						return err
					})
					if err != nil {
						t.Fatal(err)
					}
					if page == 0 && !deleted {
						walkedFirst[fmt.Sprintf("%q desc=%v", prefixes, desc)] = walked
					}
					if !slices.EqualFunc(chosen, planned, func(a, b *coffer.Secret) bool { return a.ARN == b.ARN }) {
						t.Errorf("%q desc=%v deleted=%v page %d (walked: %v): %v, want %v", prefixes, desc, deleted, page, walked, names(chosen), names(planned))
					}
					if len(planned) < q.Limit {
						break
					}
					last := planned[len(planned)-1]
					q.After = cursorAt(last, sortBy)
				}
			}
		}
	}
	for key, want := range map[string]bool{
		`["a/"] desc=false`:       true,  // dense where the walk starts
		`["b/"] desc=true`:        true,  // the same, walking back
		`["b/"] desc=false`:       false, // past the budget
		`["a/" "b/"] desc=false`:  true,
		`["d/"] desc=false`:       false, // fewer than the probe's bound
		`["f/"] desc=false`:       false, // the same, though a walk would find a page
		`["x/"] desc=false`:       false,
		`["a/0" "e/"] desc=false`: true,
	} {
		if got, ok := walkedFirst[key]; !ok || got != want {
			t.Errorf("%s, first page: walked %v (seen %v), want %v", key, got, ok, want)
		}
	}
}
