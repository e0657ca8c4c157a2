-- IAM users, groups and roles; group memberships; managed policies and their versions;
-- attachments and inline policies; access keys by principal.
--
-- Times are INTEGER unix milliseconds, tags a JSON array or the JSON null (never set), as in the
-- secrets table. IAM compares names case-insensitively and keeps them as written: each name
-- has a name_lower column (lower-cased by the adapter) that uniqueness, lookups, order and
-- references use, byte by byte (BINARY).

CREATE TABLE iam_entities (
	account              TEXT    NOT NULL,
	kind                 TEXT    NOT NULL, -- user, group or role
	name                 TEXT    NOT NULL, -- as written
	name_lower           TEXT    NOT NULL,
	path                 TEXT    NOT NULL,
	id                   TEXT    NOT NULL UNIQUE,
	created_date         INTEGER NOT NULL,
	tags                 TEXT    NOT NULL, -- JSON array of {"Key","Value"} in the order given, or null
	permissions_boundary TEXT    NOT NULL,
	assume_role_policy   TEXT    NOT NULL,
	description          TEXT    NOT NULL,
	max_session_duration INTEGER NOT NULL,
	PRIMARY KEY (account, kind, name_lower) -- ListEntities walks it in name order
) STRICT;

-- A group's users. The kind columns are constants so that both ends reference iam_entities:
-- deleting a user or a group takes its memberships with it.
CREATE TABLE iam_group_members (
	account     TEXT NOT NULL,
	group_kind  TEXT NOT NULL DEFAULT 'group' CHECK (group_kind = 'group'),
	group_lower TEXT NOT NULL,
	user_kind   TEXT NOT NULL DEFAULT 'user' CHECK (user_kind = 'user'),
	user_lower  TEXT NOT NULL,
	PRIMARY KEY (account, group_lower, user_lower),
	FOREIGN KEY (account, group_kind, group_lower) REFERENCES iam_entities (account, kind, name_lower) ON DELETE CASCADE,
	FOREIGN KEY (account, user_kind, user_lower) REFERENCES iam_entities (account, kind, name_lower) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- GroupsOf reads a user's groups in name order.
CREATE INDEX iam_group_members_user ON iam_group_members (account, user_lower, group_lower);

CREATE TABLE iam_managed_policies (
	arn             TEXT    NOT NULL PRIMARY KEY,
	account         TEXT    NOT NULL, -- or "aws" for the policies coffer ships
	name            TEXT    NOT NULL,
	name_lower      TEXT    NOT NULL,
	path            TEXT    NOT NULL,
	id              TEXT    NOT NULL UNIQUE,
	description     TEXT    NOT NULL,
	default_version TEXT    NOT NULL,
	created_date    INTEGER NOT NULL,
	update_date     INTEGER NOT NULL,
	tags            TEXT    NOT NULL, -- JSON array or null, as iam_entities
	UNIQUE (account, name_lower) -- ListManagedPolicies walks it in name order
) STRICT;

-- Versions and attachments go with their policy (ON DELETE CASCADE).
CREATE TABLE iam_policy_versions (
	policy_arn   TEXT    NOT NULL REFERENCES iam_managed_policies (arn) ON DELETE CASCADE,
	version_id   TEXT    NOT NULL,
	document     TEXT    NOT NULL,
	created_date INTEGER NOT NULL,
	PRIMARY KEY (policy_arn, version_id)
) STRICT;

CREATE TABLE iam_attachments (
	account    TEXT NOT NULL,
	kind       TEXT NOT NULL,
	name_lower TEXT NOT NULL,
	policy_arn TEXT NOT NULL REFERENCES iam_managed_policies (arn) ON DELETE CASCADE,
	PRIMARY KEY (account, kind, name_lower, policy_arn),
	FOREIGN KEY (account, kind, name_lower) REFERENCES iam_entities (account, kind, name_lower) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- PolicyAttachments reads a policy's entities in (kind, name) order.
CREATE INDEX iam_attachments_policy ON iam_attachments (policy_arn, kind, name_lower, account);

CREATE TABLE iam_inline_policies (
	account     TEXT NOT NULL,
	kind        TEXT NOT NULL,
	name_lower  TEXT NOT NULL,
	policy_name TEXT NOT NULL, -- compared exactly
	document    TEXT NOT NULL,
	PRIMARY KEY (account, kind, name_lower, policy_name),
	FOREIGN KEY (account, kind, name_lower) REFERENCES iam_entities (account, kind, name_lower) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- AccessKeysOf reads a principal's keys, oldest first.
CREATE INDEX access_keys_principal ON access_keys (principal_arn, created_date, id);
