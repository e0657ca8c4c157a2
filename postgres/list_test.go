package postgres

import (
	"testing"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/storetest"
)

// TestListPlansAgree: a list with name prefixes in a date order
// (listPrefixesInDateOrder) gives the pages of the planner's own choice (listQuery),
// whichever way it takes, and takes each where it should (storetest.ListPlansAgree).
func TestListPlansAgree(t *testing.T) {
	probe, budget := listProbe, listBudget
	listProbe, listBudget = 10, 3
	defer func() { listProbe, listBudget = probe, budget }()
	s, _ := openFresh(t)
	storetest.ListPlansAgree(t, s, func(ctx coffer.Tx, ns coffer.Namespace, q coffer.ListQuery) ([]*coffer.Secret, bool, []*coffer.Secret, error) {
		tx := ctx.(*tx)
		chosen, plan, err := tx.listPrefixesInDateOrder(ns, q)
		if err != nil {
			return nil, false, nil, err
		}
		query, args, err := listQuery(ns, q)
		if err != nil {
			return nil, false, nil, err
		}
		planned, err := tx.secrets("list secrets", query, args...)
		return chosen, plan == "walk", planned, err
	})
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
