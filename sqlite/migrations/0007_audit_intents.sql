-- The audit records of calls that changed a secret, committed with the call's writes
-- (coffer.AuditIntent): a row lives from that commit until the audit trail's fsync covers the
-- same record, and at start the server appends to the trail those it lacks. AUTOINCREMENT:
-- an id is never given twice, so that deleting a call's intents never deletes another's.
CREATE TABLE audit_intents (
	id   INTEGER PRIMARY KEY AUTOINCREMENT,
	body BLOB NOT NULL
);
