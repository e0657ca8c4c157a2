-- The audit records of calls that changed a secret, committed with the call's writes
-- (coffer.AuditIntent): a row lives from that commit until the audit trail's fsync covers the
-- same record, and at start the server appends to the trail those it lacks.
CREATE TABLE audit_intents (
	id   INTEGER PRIMARY KEY,
	body BLOB NOT NULL
);
