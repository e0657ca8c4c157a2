-- Secret Type and coffer's VersionRetention; destroyed versions; ListSecrets orders.
--
-- Tags now tell "never set" from "set, then all removed": the JSON null means never set, an
-- array (possibly empty) is what was set. 0001 wrote both as "[]"; those rows were never
-- told apart, so they become null (never set).

ALTER TABLE secrets ADD COLUMN type TEXT NOT NULL DEFAULT '';
ALTER TABLE secrets ADD COLUMN version_retention INTEGER NOT NULL DEFAULT 0;

-- Unix milliseconds when the version's value was destroyed; 0 for a live version. A destroyed
-- version keeps its row and stages, with empty wrapped_key and ciphertext.
ALTER TABLE versions ADD COLUMN destroyed_date INTEGER NOT NULL DEFAULT 0;

UPDATE secrets SET tags = 'null' WHERE tags = '[]';

-- ListSecrets walks a namespace in (key, arn) order, either way, for each SortBy. secrets_list
-- (0001) serves created-date, and the UNIQUE (account, region, name) index of 0001 serves name
-- (names are unique in a namespace, and compare byte by byte, as BINARY collates).
CREATE INDEX secrets_list_changed ON secrets (account, region, last_changed_date, arn);
CREATE INDEX secrets_list_accessed ON secrets (account, region, last_accessed_date, arn);
