package storetest

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

// sortOrders are the SortBy values of ListQuery, "" (the default) included.
var sortOrders = []string{"", coffer.SortCreatedDate, coffer.SortName, coffer.SortLastChangedDate, coffer.SortLastAccessedDate}

// sortTime is the time sortBy orders by; the zero time sorts before every other.
func sortTime(sec *coffer.Secret, sortBy string) time.Time {
	switch sortBy {
	case coffer.SortLastChangedDate:
		return sec.LastChangedDate
	case coffer.SortLastAccessedDate:
		return sec.LastAccessedDate
	}
	return sec.CreatedDate
}

// compareBy orders secrets as ListSecrets does for sortBy: by its key (names byte by byte),
// then by ARN.
func compareBy(sortBy string) func(a, b *coffer.Secret) int {
	return func(a, b *coffer.Secret) int {
		var c int
		if sortBy == coffer.SortName {
			c = cmp.Compare(a.Name, b.Name)
		} else {
			c = sortTime(a, sortBy).Compare(sortTime(b, sortBy))
		}
		if c != 0 {
			return c
		}
		return cmp.Compare(a.ARN, b.ARN)
	}
}

// cursorAt is the position of sec in the order sortBy, as a caller builds it from the last
// secret of a page.
func cursorAt(sec *coffer.Secret, sortBy string) *coffer.ListCursor {
	if sortBy == coffer.SortName {
		return &coffer.ListCursor{Name: sec.Name, ARN: sec.ARN}
	}
	return &coffer.ListCursor{Time: sortTime(sec, sortBy), ARN: sec.ARN}
}

// wantSorted returns the ARNs ListSecrets must yield for ns in the order q asks for.
func wantSorted(all []*coffer.Secret, ns coffer.Namespace, q coffer.ListQuery) []string {
	var sel []*coffer.Secret
	for _, sec := range all {
		if sec.Namespace == ns && (q.IncludeDeleted || !sec.Deleted()) {
			sel = append(sel, sec)
		}
	}
	slices.SortFunc(sel, compareBy(q.SortBy))
	if q.Descending {
		slices.Reverse(sel)
	}
	arns := make([]string, 0, len(sel))
	for _, sec := range sel {
		arns = append(arns, sec.ARN)
	}
	return arns
}

// sortFixture inserts secrets whose names order differently by bytes than by any locale,
// whose times tie in groups (the same creation second, the same change hour, the same access
// day) or are never set, some scheduled for deletion, and the same in two other namespaces.
func sortFixture(t *testing.T, s coffer.Store) []*coffer.Secret {
	t.Helper()
	names := []string{"Zeta", "alpha", "Ärger", "beta", "_under", "b-dash", "B", "a/b", "a-b",
		"a.b", "ä", "zz", "10", "9", "alpha ", "ALPHA"}
	day := time.Date(2024, 5, 18, 0, 0, 0, 0, time.UTC)
	var all []*coffer.Secret
	for _, ns := range []coffer.Namespace{namespace(accountA, regionA), namespace(accountA, regionB), namespace(accountB, regionA)} {
		n := len(names)
		if ns != namespace(accountA, regionA) {
			n = 5
		}
		for i, name := range names[:n] {
			sec := newSecret(ns, name, at(time.Duration(i/3)*time.Second))
			switch i % 4 {
			case 0:
				sec.LastChangedDate = time.Time{}
			default:
				sec.LastChangedDate = at(time.Duration(i%3) * time.Hour)
			}
			if i%3 != 0 {
				sec.LastAccessedDate = day.Add(time.Duration(i%2) * 24 * time.Hour)
			}
			if i%5 == 2 {
				sec.DeletedDate = at(48 * time.Hour)
				sec.PurgeDate = at(48*time.Hour + 7*24*time.Hour)
			}
			all = append(all, sec)
		}
	}
	shuffled := slices.Clone(all)
	slices.SortFunc(shuffled, func(a, b *coffer.Secret) int { return cmp.Compare(a.ARN[len(a.ARN)-4:], b.ARN[len(b.ARN)-4:]) })
	insertSecrets(t, s, shuffled...)
	return all
}

func testListSecretsSortBy(t *testing.T, s coffer.Store) {
	all := sortFixture(t, s)
	nss := []coffer.Namespace{namespace(accountA, regionA), namespace(accountA, regionB), namespace(accountB, regionB)}
	for _, ns := range nss {
		for _, sortBy := range sortOrders {
			for _, limit := range []int{2, 5} {
				for _, desc := range []bool{false, true} {
					for _, incl := range []bool{false, true} {
						q := coffer.ListQuery{Limit: limit, SortBy: sortBy, Descending: desc, IncludeDeleted: incl}
						got := walk(t, s, ns, q)
						want := wantSorted(all, ns, q)
						if !slices.Equal(got, want) {
							t.Errorf("ListSecrets(%s, SortBy %q, limit %d, descending %v, includeDeleted %v):\n got %q\nwant %q",
								ns, sortBy, limit, desc, incl, got, want)
						}
					}
				}
			}
		}
	}
	// Without a limit, one page holds them all, in order.
	ns := namespace(accountA, regionA)
	for _, sortBy := range sortOrders {
		q := coffer.ListQuery{SortBy: sortBy, Descending: true, IncludeDeleted: true}
		var page []*coffer.Secret
		view(t, s, func(tx coffer.Tx) error {
			var err error
			page, err = tx.ListSecrets(ns, q)
			return err
		})
		var got []string
		for _, sec := range page {
			got = append(got, sec.ARN)
		}
		if want := wantSorted(all, ns, q); !slices.Equal(got, want) {
			t.Errorf("ListSecrets(SortBy %q, no limit, descending):\n got %q\nwant %q", sortBy, got, want)
		}
	}
}

func testListSecretsSortByCursorBetween(t *testing.T, s coffer.Store) {
	// A cursor is a position, not a row: one that falls between secrets (the secret it was
	// taken from has since changed or gone) resumes at the next position.
	all := sortFixture(t, s)
	ns := namespace(accountA, regionA)
	for _, sortBy := range sortOrders {
		for _, desc := range []bool{false, true} {
			q := coffer.ListQuery{SortBy: sortBy, Descending: desc, IncludeDeleted: true}
			order := wantSorted(all, ns, q)
			byARN := map[string]*coffer.Secret{}
			for _, sec := range all {
				byARN[sec.ARN] = sec
			}
			for i := range order {
				// Just past order[i], before order[i+1]: the same key, and an ARN just above
				// (or, descending, just below) order[i]'s, as no ARN is. (PostgreSQL text holds
				// no NUL: \x01 is the smallest byte a cursor can add.)
				c := cursorAt(byARN[order[i]], sortBy)
				if desc {
					c.ARN = c.ARN[:len(c.ARN)-1]
				} else {
					c.ARN += "\x01"
				}
				q.After = c
				var page []*coffer.Secret
				view(t, s, func(tx coffer.Tx) error {
					var err error
					page, err = tx.ListSecrets(ns, q)
					return err
				})
				var got []string
				for _, sec := range page {
					got = append(got, sec.ARN)
				}
				if want := order[i+1:]; !slices.Equal(got, want) {
					t.Errorf("SortBy %q, descending %v, after a cursor just past position %d:\n got %q\nwant %q",
						sortBy, desc, i, got, want)
				}
			}
		}
	}
}
