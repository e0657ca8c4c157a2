-- Initial schema. Tables are created in the first schema of the search_path. Times are
-- timestamptz with NULL for "not set"; created_date is always set. Sealed values and wrapped
-- keys are opaque bytea: this database never holds plaintext. Identifiers and labels use the
-- "C" collation so that they order byte by byte, as the store contract requires.

CREATE TABLE secrets (
	arn                 text COLLATE "C" PRIMARY KEY,
	account             text        NOT NULL,
	region              text        NOT NULL,
	name                text        NOT NULL,
	description         text        NOT NULL,
	kms_key_id          text        NOT NULL,
	tags                jsonb       NOT NULL, -- array of {"Key","Value"}, in the order given
	resource_policy     text        NOT NULL,
	rotation_enabled    boolean     NOT NULL,
	rotation_lambda_arn text        NOT NULL,
	rotation_after_days bigint      NOT NULL,
	rotation_duration   text        NOT NULL,
	rotation_schedule   text        NOT NULL,
	owning_service      text        NOT NULL,
	primary_region      text        NOT NULL,
	created_date        timestamptz NOT NULL,
	last_changed_date   timestamptz,
	last_accessed_date  timestamptz,
	last_rotated_date   timestamptz,
	next_rotation_date  timestamptz,
	deleted_date        timestamptz,
	purge_date          timestamptz,
	UNIQUE (account, region, name)
);

-- ListSecrets walks a namespace in (created_date, arn) order.
CREATE INDEX secrets_list ON secrets (account, region, created_date, arn);
-- DueForPurge reads the few secrets scheduled for deletion, oldest first.
CREATE INDEX secrets_purge ON secrets (purge_date, arn) WHERE purge_date IS NOT NULL;

CREATE TABLE versions (
	secret_arn         text COLLATE "C" NOT NULL REFERENCES secrets (arn) ON DELETE CASCADE,
	version_id         text COLLATE "C" NOT NULL,
	created_date       timestamptz NOT NULL,
	last_accessed_date timestamptz,
	kms_key_id         text        NOT NULL,
	is_binary          boolean     NOT NULL,
	wrapped_key        bytea       NOT NULL,
	ciphertext         bytea       NOT NULL,
	PRIMARY KEY (secret_arn, version_id)
);

-- A staging label is on at most one version of a secret: the primary key says so.
CREATE TABLE stages (
	secret_arn text COLLATE "C" NOT NULL,
	stage      text COLLATE "C" NOT NULL,
	version_id text COLLATE "C" NOT NULL,
	PRIMARY KEY (secret_arn, stage),
	FOREIGN KEY (secret_arn, version_id) REFERENCES versions (secret_arn, version_id) ON DELETE CASCADE
);

CREATE INDEX stages_version ON stages (secret_arn, version_id);

CREATE TABLE accounts (
	id           text COLLATE "C" PRIMARY KEY,
	created_date timestamptz NOT NULL
);

CREATE TABLE access_keys (
	id            text COLLATE "C" PRIMARY KEY,
	account       text        NOT NULL,
	principal_arn text        NOT NULL,
	status        text        NOT NULL,
	sealed_secret bytea       NOT NULL,
	created_date  timestamptz NOT NULL
);

CREATE INDEX access_keys_account ON access_keys (account);

CREATE TABLE meta (
	key   text COLLATE "C" PRIMARY KEY,
	value bytea NOT NULL
);
