-- Initial schema. Times are INTEGER unix milliseconds, UTC, with 0 for the zero time ("not
-- set"). Sealed values and wrapped keys are opaque BLOBs: this database never holds plaintext.

CREATE TABLE secrets (
	arn                 TEXT    NOT NULL PRIMARY KEY,
	account             TEXT    NOT NULL,
	region              TEXT    NOT NULL,
	name                TEXT    NOT NULL,
	description         TEXT    NOT NULL,
	kms_key_id          TEXT    NOT NULL,
	tags                TEXT    NOT NULL, -- JSON array of {"Key","Value"}, in the order given
	resource_policy     TEXT    NOT NULL,
	rotation_enabled    INTEGER NOT NULL,
	rotation_lambda_arn TEXT    NOT NULL,
	rotation_after_days INTEGER NOT NULL,
	rotation_duration   TEXT    NOT NULL,
	rotation_schedule   TEXT    NOT NULL,
	owning_service      TEXT    NOT NULL,
	primary_region      TEXT    NOT NULL,
	created_date        INTEGER NOT NULL,
	last_changed_date   INTEGER NOT NULL,
	last_accessed_date  INTEGER NOT NULL,
	last_rotated_date   INTEGER NOT NULL,
	next_rotation_date  INTEGER NOT NULL,
	deleted_date        INTEGER NOT NULL,
	purge_date          INTEGER NOT NULL,
	UNIQUE (account, region, name)
) STRICT;

-- ListSecrets walks a namespace in (created_date, arn) order.
CREATE INDEX secrets_list ON secrets (account, region, created_date, arn);
-- DueForPurge reads the few secrets scheduled for deletion, oldest first.
CREATE INDEX secrets_purge ON secrets (purge_date, arn) WHERE purge_date <> 0;

CREATE TABLE versions (
	secret_arn         TEXT    NOT NULL REFERENCES secrets (arn) ON DELETE CASCADE,
	version_id         TEXT    NOT NULL,
	created_date       INTEGER NOT NULL,
	last_accessed_date INTEGER NOT NULL,
	kms_key_id         TEXT    NOT NULL,
	is_binary          INTEGER NOT NULL,
	wrapped_key        BLOB    NOT NULL,
	ciphertext         BLOB    NOT NULL,
	PRIMARY KEY (secret_arn, version_id)
) STRICT;

-- A staging label is on at most one version of a secret: the primary key says so.
CREATE TABLE stages (
	secret_arn TEXT NOT NULL,
	stage      TEXT NOT NULL,
	version_id TEXT NOT NULL,
	PRIMARY KEY (secret_arn, stage),
	FOREIGN KEY (secret_arn, version_id) REFERENCES versions (secret_arn, version_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX stages_version ON stages (secret_arn, version_id);

CREATE TABLE accounts (
	id           TEXT    NOT NULL PRIMARY KEY,
	created_date INTEGER NOT NULL
) STRICT;

CREATE TABLE access_keys (
	id            TEXT    NOT NULL PRIMARY KEY,
	account       TEXT    NOT NULL,
	principal_arn TEXT    NOT NULL,
	status        TEXT    NOT NULL,
	sealed_secret BLOB    NOT NULL,
	created_date  INTEGER NOT NULL
) STRICT;

CREATE INDEX access_keys_account ON access_keys (account);

CREATE TABLE meta (
	key   TEXT NOT NULL PRIMARY KEY,
	value BLOB NOT NULL
) STRICT;
