package sqlite

import (
	"testing"

	"github.com/coffer-project/coffer"
	"github.com/coffer-project/coffer/storetest"
)

// TestListPlansAgree: where the walk of a date order's index answers a list with name
// prefixes (listByWalk), its pages are the range search's (listQuery), and each way is taken
// where it should be (storetest.ListPlansAgree).
func TestListPlansAgree(t *testing.T) {
	probe, budget := listProbe, listBudget
	listProbe, listBudget = 10, 3
	defer func() { listProbe, listBudget = probe, budget }()
	s, _ := openTemp(t)
	storetest.ListPlansAgree(t, s, func(ctx coffer.Tx, ns coffer.Namespace, q coffer.ListQuery) ([]*coffer.Secret, bool, []*coffer.Secret, error) {
		tx := ctx.(*tx)
		walk, ok, err := tx.listByWalk(ns, q)
		if err != nil {
			return nil, false, nil, err
		}
		query, args, err := listQuery(ns, q)
		if err != nil {
			return nil, false, nil, err
		}
		search, err := tx.secrets("list secrets", query, args...)
		if !ok {
			walk = search
		}
		return walk, ok, search, err
	})
}
