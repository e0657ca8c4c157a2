-- Secret Type and coffer's VersionRetention; destroyed versions; ListSecrets orders.
--
-- Tags now tell "never set" from "set, then all removed": the JSON null means never set, an
-- array (possibly empty) is what was set. 0001 wrote both as '[]'; those rows were never
-- told apart, so they become null (never set).

ALTER TABLE secrets ADD COLUMN type text NOT NULL DEFAULT '';
ALTER TABLE secrets ADD COLUMN version_retention integer NOT NULL DEFAULT 0;

-- When the version's value was destroyed; NULL for a live version. A destroyed version keeps
-- its row and stages, with empty wrapped_key and ciphertext.
ALTER TABLE versions ADD COLUMN destroyed_date timestamptz;

UPDATE secrets SET tags = 'null'::jsonb WHERE tags = '[]'::jsonb;

-- ListSecrets walks a namespace in (key, arn) order, either way, for each SortBy; secrets_list
-- (0001) serves created-date. The keys are the expressions ListSecrets orders by: names in
-- byte order ("C"), and times never set (NULL) as -infinity, first.
CREATE INDEX secrets_list_name ON secrets (account, region, (name COLLATE "C"), arn);
CREATE INDEX secrets_list_changed ON secrets (account, region, (COALESCE(last_changed_date, '-infinity'::timestamptz)), arn);
CREATE INDEX secrets_list_accessed ON secrets (account, region, (COALESCE(last_accessed_date, '-infinity'::timestamptz)), arn);
