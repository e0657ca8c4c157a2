-- KMS keys, their materials and aliases; the versions each key protects.
--
-- Times are timestamptz with NULL for "not set" (created_date is always set), tags a jsonb
-- array or the JSON null (never set), as in the secrets table. Key materials are wrapped under
-- the root key: opaque bytea, never plaintext. Ids and names use the "C" collation so that
-- they order byte by byte.

CREATE TABLE kms_keys (
	id                   text COLLATE "C" PRIMARY KEY, -- a UUID, unique across namespaces
	account              text        NOT NULL,
	region               text        NOT NULL,
	description          text        NOT NULL,
	manager              text        NOT NULL,
	state                text        NOT NULL,
	policy               text        NOT NULL,
	tags                 jsonb       NOT NULL, -- array of {"Key","Value"} in the order given, or null
	created_date         timestamptz NOT NULL,
	deletion_date        timestamptz,
	pending_window_days  integer     NOT NULL,
	rotation_enabled     boolean     NOT NULL,
	rotation_period_days integer     NOT NULL,
	next_rotation_date   timestamptz,
	current_material     integer     NOT NULL
);

-- ListKeys walks a namespace in id order.
CREATE INDEX kms_keys_list ON kms_keys (account, region, id);
-- DueKeyDeletions and DueKeyRotations read the few keys with a date set, oldest first.
CREATE INDEX kms_keys_deletion ON kms_keys (deletion_date, id) WHERE deletion_date IS NOT NULL;
CREATE INDEX kms_keys_rotation ON kms_keys (next_rotation_date, id) WHERE next_rotation_date IS NOT NULL;

-- Materials and aliases go with their key (ON DELETE CASCADE).
CREATE TABLE kms_key_materials (
	key_id        text COLLATE "C" NOT NULL REFERENCES kms_keys (id) ON DELETE CASCADE,
	version       integer     NOT NULL,
	wrapped       bytea       NOT NULL,
	created_date  timestamptz NOT NULL,
	rotation_type text        NOT NULL,
	PRIMARY KEY (key_id, version)
);

-- An alias name is unique in its namespace: the primary key says so.
CREATE TABLE kms_aliases (
	account           text        NOT NULL,
	region            text        NOT NULL,
	name              text COLLATE "C" NOT NULL, -- 'alias/…'
	key_id            text COLLATE "C" NOT NULL REFERENCES kms_keys (id) ON DELETE CASCADE,
	created_date      timestamptz NOT NULL,
	last_updated_date timestamptz,
	PRIMARY KEY (account, region, name)
);

-- ListAliases of one key, in name order; DeleteKey's cascade finds a key's aliases here too
-- (a key's aliases are all in its namespace).
CREATE INDEX kms_aliases_key ON kms_aliases (key_id, name);

-- KeyBindings walks the versions of one key in (secret_arn, version_id) order. kms_key_id
-- keeps the column's default collation: KeyBindings only compares it for equality.
CREATE INDEX versions_kms_key ON versions (kms_key_id, secret_arn, version_id);
