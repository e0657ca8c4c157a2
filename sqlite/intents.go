package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/coffer-project/coffer"
)

// writeIntent writes the AuditIntent ctx carries, when it is a OneSecretUpdate's, in the
// Update's transaction (after its fn succeeded, before the savepoint's release): committed
// with the call's writes or not at all. It returns the intent and its row, for Update to
// record (AuditIntent.Wrote) once the commit succeeded; nil when it wrote none.
func (t *tx) writeIntent(ctx context.Context) (*coffer.AuditIntent, int64, error) {
	in := coffer.AuditIntentFrom(ctx)
	if in == nil || in.Build == nil || !coffer.IsOneSecretUpdate(ctx) {
		return nil, 0, nil
	}
	body := in.Build()
	if body == nil {
		return nil, 0, nil
	}
	res, err := t.execStmt(`INSERT INTO audit_intents (body) VALUES (?)`, body)
	if err != nil {
		return nil, 0, dbError("write audit intent", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return nil, 0, dbError("write audit intent", err)
	}
	return in, id, nil
}

// AuditIntents implements coffer.AuditIntentStore.
func (s *Store) AuditIntents(ctx context.Context) ([]coffer.AuditIntentRow, error) {
	var out []coffer.AuditIntentRow
	err := s.View(ctx, func(ctx coffer.Tx) error {
		t := ctx.(*tx)
		rows, err := t.query(`SELECT id, body FROM audit_intents ORDER BY id`)
		if err != nil {
			return dbError("audit intents", err)
		}
		defer rows.Close()
		for rows.Next() {
			var r coffer.AuditIntentRow
			if err := rows.Scan(&r.ID, &r.Body); err != nil {
				return dbError("audit intents", err)
			}
			out = append(out, r)
		}
		if err := rows.Err(); err != nil {
			return dbError("audit intents", err)
		}
		return nil
	})
	return out, err
}

// DeleteAuditIntents implements coffer.AuditIntentStore, in one statement.
func (s *Store) DeleteAuditIntents(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return coffer.Internal(fmt.Errorf("sqlite: delete audit intents: %w", err))
	}
	return s.Update(ctx, func(ctx coffer.Tx) error {
		_, err := ctx.(*tx).exec("delete audit intents", `DELETE FROM audit_intents WHERE id IN (SELECT value FROM json_each(?))`, string(list))
		return err
	})
}
