-- Audit chains: one per server name, as package audit's TableSink writes them.
--
-- A row is one record of a server's hash-chained log. line holds the record's JSON line byte
-- for byte (bytea, so that no encoding conversion can change what its hash covers; read it with
-- convert_from(line, 'UTF8')). event_time is the event's time, or the digest's, kept for
-- queries; NULL when the record named none. Rows are only ever inserted: the primary key both
-- makes a rewrite of a record a no-op and serves every read, which goes by server and seq.

CREATE TABLE audit_lines (
	server     text COLLATE "C" NOT NULL,
	seq        bigint      NOT NULL CHECK (seq > 0),
	event_time timestamptz,
	line       bytea       NOT NULL,
	PRIMARY KEY (server, seq)
);
