-- KMS keys, their materials and aliases; the versions each key protects.
--
-- Times are INTEGER unix milliseconds with 0 for "not set", tags a JSON array or the JSON null
-- (never set), as in the secrets table. Key materials are wrapped under the root key: opaque
-- BLOBs, never plaintext.

CREATE TABLE kms_keys (
	id                   TEXT    NOT NULL PRIMARY KEY, -- a UUID, unique across namespaces
	account              TEXT    NOT NULL,
	region               TEXT    NOT NULL,
	description          TEXT    NOT NULL,
	manager              TEXT    NOT NULL,
	state                TEXT    NOT NULL,
	policy               TEXT    NOT NULL,
	tags                 TEXT    NOT NULL, -- JSON array of {"Key","Value"} in the order given, or null
	created_date         INTEGER NOT NULL,
	deletion_date        INTEGER NOT NULL,
	pending_window_days  INTEGER NOT NULL,
	rotation_enabled     INTEGER NOT NULL,
	rotation_period_days INTEGER NOT NULL,
	next_rotation_date   INTEGER NOT NULL,
	current_material     INTEGER NOT NULL
) STRICT;

-- ListKeys walks a namespace in id order.
CREATE INDEX kms_keys_list ON kms_keys (account, region, id);
-- DueKeyDeletions and DueKeyRotations read the few keys with a date set, oldest first.
CREATE INDEX kms_keys_deletion ON kms_keys (deletion_date, id) WHERE deletion_date <> 0;
CREATE INDEX kms_keys_rotation ON kms_keys (next_rotation_date, id) WHERE next_rotation_date <> 0;

-- Materials and aliases go with their key (ON DELETE CASCADE).
CREATE TABLE kms_key_materials (
	key_id        TEXT    NOT NULL REFERENCES kms_keys (id) ON DELETE CASCADE,
	version       INTEGER NOT NULL,
	wrapped       BLOB    NOT NULL,
	created_date  INTEGER NOT NULL,
	rotation_type TEXT    NOT NULL,
	PRIMARY KEY (key_id, version)
) STRICT, WITHOUT ROWID;

-- An alias name is unique in its namespace: the primary key says so.
CREATE TABLE kms_aliases (
	account           TEXT    NOT NULL,
	region            TEXT    NOT NULL,
	name              TEXT    NOT NULL, -- "alias/…"
	key_id            TEXT    NOT NULL REFERENCES kms_keys (id) ON DELETE CASCADE,
	created_date      INTEGER NOT NULL,
	last_updated_date INTEGER NOT NULL,
	PRIMARY KEY (account, region, name)
) STRICT, WITHOUT ROWID;

-- ListAliases of one key, in name order; DeleteKey's cascade finds a key's aliases here too
-- (a key's aliases are all in its namespace).
CREATE INDEX kms_aliases_key ON kms_aliases (key_id, name);

-- KeyBindings walks the versions of one key in (secret_arn, version_id) order.
CREATE INDEX versions_kms_key ON versions (kms_key_id, secret_arn, version_id);
