package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

// compareListOrder orders secrets as ListSecrets does: by CreatedDate, then ARN.
func compareListOrder(a, b *coffer.Secret) int {
	if c := a.CreatedDate.Compare(b.CreatedDate); c != 0 {
		return c
	}
	return cmp.Compare(a.ARN, b.ARN)
}

// listFixture inserts secrets in several namespaces, some scheduled for deletion, many sharing
// a CreatedDate, and returns them all.
func listFixture(t *testing.T, s coffer.Store) []*coffer.Secret {
	t.Helper()
	home := namespace(accountA, regionA)
	var all []*coffer.Secret
	for i := range 23 {
		// Groups of three share a CreatedDate; the ARN suffix scrambles the order within a group.
		sec := newSecret(home, fmt.Sprintf("list/%02d", i), at(time.Duration(i/3)*time.Second))
		if i%5 == 2 {
			sec.DeletedDate = at(time.Hour)
			sec.PurgeDate = at(time.Hour + 7*24*time.Hour)
		}
		all = append(all, sec)
	}
	for _, ns := range []coffer.Namespace{namespace(accountA, regionB), namespace(accountB, regionA)} {
		for i := range 4 {
			all = append(all, newSecret(ns, fmt.Sprintf("list/%02d", i), at(time.Duration(i)*time.Second)))
		}
	}
	// Insert in an order that is neither name nor list order.
	shuffled := slices.Clone(all)
	slices.SortFunc(shuffled, func(a, b *coffer.Secret) int { return cmp.Compare(a.ARN[len(a.ARN)-3:], b.ARN[len(b.ARN)-3:]) })
	insertSecrets(t, s, shuffled...)
	return all
}

// wantList returns the ARNs ListSecrets must yield for ns, in order.
func wantList(all []*coffer.Secret, ns coffer.Namespace, includeDeleted, descending bool) []string {
	var sel []*coffer.Secret
	for _, sec := range all {
		if sec.Namespace == ns && (includeDeleted || !sec.Deleted()) {
			sel = append(sel, sec)
		}
	}
	slices.SortFunc(sel, compareListOrder)
	if descending {
		slices.Reverse(sel)
	}
	arns := make([]string, 0, len(sel))
	for _, sec := range sel {
		arns = append(arns, sec.ARN)
	}
	return arns
}

// walk lists every page of ns with q, following cursors, and returns the ARNs in the order
// received. It checks that no page is longer than the limit and that only the last is short.
func walk(t *testing.T, s coffer.Store, ns coffer.Namespace, q coffer.ListQuery) []string {
	t.Helper()
	var arns []string
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatalf("ListSecrets(%+v): no end after %d pages", q, pages)
		}
		var page []*coffer.Secret
		view(t, s, func(tx coffer.Tx) error {
			var err error
			page, err = tx.ListSecrets(ns, q)
			return err
		})
		if len(page) > q.Limit {
			t.Fatalf("ListSecrets(limit %d): got a page of %d", q.Limit, len(page))
		}
		for _, sec := range page {
			arns = append(arns, sec.ARN)
		}
		if len(page) < q.Limit {
			return arns
		}
		q.After = cursorAt(page[len(page)-1], q.SortBy)
	}
}

func testListSecretsPaging(t *testing.T, s coffer.Store) {
	all := listFixture(t, s)
	nss := []coffer.Namespace{
		namespace(accountA, regionA),
		namespace(accountA, regionB),
		namespace(accountB, regionA),
		namespace(accountB, regionB), // empty
	}
	for _, ns := range nss {
		for _, limit := range []int{1, 4, 7, 1000} {
			for _, desc := range []bool{false, true} {
				for _, incl := range []bool{false, true} {
					q := coffer.ListQuery{Limit: limit, Descending: desc, IncludeDeleted: incl}
					got := walk(t, s, ns, q)
					want := wantList(all, ns, incl, desc)
					if !slices.Equal(got, want) {
						t.Errorf("ListSecrets(%s, limit %d, descending %v, includeDeleted %v):\n got %q\nwant %q",
							ns, limit, desc, incl, got, want)
					}
				}
			}
		}
	}
}

func testListSecretsCursorAfterDelete(t *testing.T, s coffer.Store) {
	all := listFixture(t, s)
	ns := namespace(accountA, regionA)
	for _, desc := range []bool{false, true} {
		want := wantList(all, ns, true, desc)
		q := coffer.ListQuery{Limit: 5, Descending: desc, IncludeDeleted: true}
		var first []*coffer.Secret
		view(t, s, func(tx coffer.Tx) error {
			var err error
			first, err = tx.ListSecrets(ns, q)
			return err
		})
		if len(first) != 5 {
			t.Fatalf("first page: got %d secrets, want 5", len(first))
		}
		// The secret under the cursor is purged before the next page is read: the cursor is a
		// position, not a row, so the walk goes on where it was.
		last := first[len(first)-1]
		update(t, s, func(tx coffer.Tx) error { return tx.DeleteSecret(last.ARN) })
		q.After = cursorAt(last, q.SortBy)
		q.Limit = 1000
		var rest []*coffer.Secret
		view(t, s, func(tx coffer.Tx) error {
			var err error
			rest, err = tx.ListSecrets(ns, q)
			return err
		})
		var got []string
		for _, sec := range rest {
			got = append(got, sec.ARN)
		}
		if !slices.Equal(got, want[5:]) {
			t.Errorf("descending %v: after a purged cursor:\n got %q\nwant %q", desc, got, want[5:])
		}
		all = slices.DeleteFunc(all, func(sec *coffer.Secret) bool { return sec.ARN == last.ARN })
	}
}

func testListSecretsFields(t *testing.T, s coffer.Store) {
	ns := namespace(accountA, regionA)
	want := fullSecret(ns, "listed")
	want.DeletedDate, want.PurgeDate = time.Time{}, time.Time{}
	insertSecrets(t, s, want)
	view(t, s, func(tx coffer.Tx) error {
		got, err := tx.ListSecrets(ns, coffer.ListQuery{Limit: 10})
		if err != nil {
			t.Fatalf("ListSecrets: %v", err)
		}
		if len(got) != 1 {
			t.Fatalf("ListSecrets: got %d secrets, want 1", len(got))
		}
		checkSecret(t, "ListSecrets", got[0], want)
		return nil
	})
}

func testDueForPurge(t *testing.T, s coffer.Store) {
	now := at(10 * 24 * time.Hour)
	schedule := func(ns coffer.Namespace, name string, purge time.Time) *coffer.Secret {
		sec := newSecret(ns, name, at(0))
		if !purge.IsZero() {
			sec.DeletedDate = purge.Add(-7 * 24 * time.Hour)
			sec.PurgeDate = purge
		}
		return sec
	}
	a, b := namespace(accountA, regionA), namespace(accountB, regionB)
	due := []*coffer.Secret{
		schedule(b, "oldest", now.Add(-3*time.Hour)),
		schedule(a, "older", now.Add(-time.Hour)),
		schedule(b, "just-now", now.Add(-time.Millisecond)),
		schedule(a, "exactly-now", now),
	}
	notDue := []*coffer.Secret{
		schedule(a, "later", now.Add(time.Millisecond)),
		schedule(b, "much-later", now.Add(24*time.Hour)),
		schedule(a, "live", time.Time{}),
	}
	insertSecrets(t, s, append(slices.Clone(notDue), due[3], due[1], due[0], due[2])...)

	for _, limit := range []int{1, 2, 4, 100} {
		var got []*coffer.Secret
		view(t, s, func(tx coffer.Tx) error {
			var err error
			got, err = tx.DueForPurge(now, limit)
			return err
		})
		want := due[:min(limit, len(due))]
		if len(got) != len(want) {
			var names []string
			for _, sec := range got {
				names = append(names, sec.Name)
			}
			t.Errorf("DueForPurge(limit %d): got %d secrets %q, want %d", limit, len(got), names, len(want))
			continue
		}
		for i := range want {
			checkSecret(t, fmt.Sprintf("DueForPurge(limit %d)[%d]", limit, i), got[i], want[i])
		}
	}

	var got []*coffer.Secret
	view(t, s, func(tx coffer.Tx) error {
		var err error
		got, err = tx.DueForPurge(at(0), 100)
		return err
	})
	if len(got) != 0 {
		t.Errorf("DueForPurge before any purge date: got %d secrets, want none", len(got))
	}
}

func testDueRotations(t *testing.T, s coffer.Store) {
	now := at(10 * 24 * time.Hour)
	rotating := func(ns coffer.Namespace, name string, next time.Time, enabled bool) *coffer.Secret {
		sec := newSecret(ns, name, at(0))
		sec.RotationEnabled = enabled
		sec.RotationLambdaARN = "arn:aws:lambda:us-east-1:" + ns.Account + ":function:random-value"
		sec.NextRotationDate = next
		return sec
	}
	a, b := namespace(accountA, regionA), namespace(accountB, regionB)
	due := []*coffer.Secret{
		rotating(b, "oldest", now.Add(-3*time.Hour), true),
		rotating(a, "older", now.Add(-time.Hour), true),
		rotating(a, "exactly-now", now, true),
	}
	deleted := rotating(a, "deleted", now.Add(-2*time.Hour), true)
	deleted.DeletedDate, deleted.PurgeDate = now.Add(-time.Hour), now.Add(6*24*time.Hour)
	notDue := []*coffer.Secret{
		rotating(a, "later", now.Add(time.Millisecond), true),
		rotating(b, "disabled", now.Add(-5*time.Hour), false),
		rotating(a, "never", time.Time{}, true),
		deleted,
	}
	insertSecrets(t, s, append(slices.Clone(notDue), due[2], due[0], due[1])...)
	for _, limit := range []int{1, 2, 0} {
		var got []*coffer.Secret
		view(t, s, func(tx coffer.Tx) error {
			var err error
			got, err = tx.DueRotations(now, limit)
			return err
		})
		want := due
		if limit > 0 {
			want = due[:limit]
		}
		if len(got) != len(want) {
			var names []string
			for _, sec := range got {
				names = append(names, sec.Name)
			}
			t.Errorf("DueRotations(limit %d): got %q, want %d secrets", limit, names, len(want))
			continue
		}
		for i := range want {
			checkSecret(t, fmt.Sprintf("DueRotations(limit %d)[%d]", limit, i), got[i], want[i])
		}
	}
}

// testListSecretsNamePrefixes: NamePrefixes keeps the secrets whose name starts with one of
// the prefixes, byte for byte, in the list order, with paging, and across sort orders.
func testListSecretsNamePrefixes(t *testing.T, s coffer.Store) {
	ns := namespace(accountA, regionA)
	names := []string{"app/a", "app/b", "app", "apq/x", "App/c", "b/é1", "b/éz", "b/e", "app/é", "z"}
	var all []*coffer.Secret
	for i, n := range names {
		all = append(all, newSecret(ns, n, at(time.Duration(len(names)-i)*time.Second)))
	}
	other := newSecret(namespace(accountB, regionA), "app/other", at(0))
	insertSecrets(t, s, append(slices.Clone(all), other)...)
	for _, tc := range []struct {
		prefixes []string
		want     []string
	}{
		{[]string{"app/"}, []string{"app/a", "app/b", "app/é"}},
		{[]string{"app"}, []string{"app/a", "app/b", "app", "app/é"}},
		{[]string{"b/é", "z"}, []string{"b/é1", "b/éz", "z"}},
		{[]string{"App/", "nothing"}, []string{"App/c"}},
		{[]string{"q"}, nil},
	} {
		for _, sortBy := range []string{"", coffer.SortName} {
			var want []*coffer.Secret
			for _, sec := range all {
				if slices.Contains(tc.want, sec.Name) {
					want = append(want, sec)
				}
			}
			if sortBy == coffer.SortName {
				slices.SortFunc(want, func(a, b *coffer.Secret) int { return cmp.Compare(a.Name, b.Name) })
			} else {
				slices.SortFunc(want, compareListOrder)
			}
			var wantNames []string
			for _, sec := range want {
				wantNames = append(wantNames, sec.Name)
			}
			// Two at a time, to page through the prefixes' ranges.
			var got []string
			q := coffer.ListQuery{Limit: 2, SortBy: sortBy, NamePrefixes: tc.prefixes}
			for range 10 {
				var page []*coffer.Secret
				view(t, s, func(tx coffer.Tx) error {
					var err error
					page, err = tx.ListSecrets(ns, q)
					return err
				})
				for _, sec := range page {
					got = append(got, sec.Name)
				}
				if len(page) < q.Limit {
					break
				}
				last := page[len(page)-1]
				q.After = &coffer.ListCursor{Time: last.CreatedDate, Name: last.Name, ARN: last.ARN}
			}
			if !slices.Equal(got, wantNames) {
				t.Errorf("NamePrefixes %q, sort %q: got %q, want %q", tc.prefixes, sortBy, got, wantNames)
			}
		}
	}
}
