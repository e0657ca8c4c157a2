-- The audit trail's syncs. A server writes the records of calls that changed nothing with
-- synchronous_commit off (AppendAuditBuffered) and makes them durable soon after by a commit
-- with synchronous_commit on here (SyncAudit): it flushes the WAL up to its own commit
-- record, and so every commit before it. A commit that wrote no WAL would not wait for the
-- flush, hence a row to write: one per server, counting its syncs.

CREATE TABLE audit_syncs (
	server text COLLATE "C" PRIMARY KEY,
	syncs  bigint NOT NULL
);
