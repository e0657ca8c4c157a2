-- IAM users, groups and roles; group memberships; managed policies and their versions;
-- attachments and inline policies; access keys by principal.
--
-- Times are timestamptz (created_date and update_date always set), tags a jsonb array or the
-- JSON null (never set), as in the secrets table. IAM compares names case-insensitively and
-- keeps them as written: each name has a name_lower column (lower-cased by the adapter) that
-- uniqueness, lookups, order and references use, byte by byte ("C").

CREATE TABLE iam_entities (
	account              text COLLATE "C" NOT NULL,
	kind                 text COLLATE "C" NOT NULL, -- user, group or role
	name                 text        NOT NULL, -- as written
	name_lower           text COLLATE "C" NOT NULL,
	path                 text        NOT NULL,
	id                   text COLLATE "C" NOT NULL UNIQUE,
	created_date         timestamptz NOT NULL,
	tags                 jsonb       NOT NULL, -- array of {"Key","Value"} in the order given, or null
	permissions_boundary text        NOT NULL,
	assume_role_policy   text        NOT NULL,
	description          text        NOT NULL,
	max_session_duration integer     NOT NULL,
	PRIMARY KEY (account, kind, name_lower) -- ListEntities walks it in name order
);

-- A group's users. The kind columns are constants so that both ends reference iam_entities:
-- deleting a user or a group takes its memberships with it.
CREATE TABLE iam_group_members (
	account     text COLLATE "C" NOT NULL,
	group_kind  text COLLATE "C" NOT NULL DEFAULT 'group' CHECK (group_kind = 'group'),
	group_lower text COLLATE "C" NOT NULL,
	user_kind   text COLLATE "C" NOT NULL DEFAULT 'user' CHECK (user_kind = 'user'),
	user_lower  text COLLATE "C" NOT NULL,
	PRIMARY KEY (account, group_lower, user_lower),
	FOREIGN KEY (account, group_kind, group_lower) REFERENCES iam_entities (account, kind, name_lower) ON DELETE CASCADE,
	FOREIGN KEY (account, user_kind, user_lower) REFERENCES iam_entities (account, kind, name_lower) ON DELETE CASCADE
);

-- GroupsOf reads a user's groups in name order; deleting a user finds its memberships here.
CREATE INDEX iam_group_members_user ON iam_group_members (account, user_lower, group_lower);

CREATE TABLE iam_managed_policies (
	arn             text COLLATE "C" PRIMARY KEY,
	account         text COLLATE "C" NOT NULL, -- or 'aws' for the policies coffer ships
	name            text        NOT NULL,
	name_lower      text COLLATE "C" NOT NULL,
	path            text        NOT NULL,
	id              text COLLATE "C" NOT NULL UNIQUE,
	description     text        NOT NULL,
	default_version text        NOT NULL,
	created_date    timestamptz NOT NULL,
	update_date     timestamptz NOT NULL,
	tags            jsonb       NOT NULL, -- array or null, as iam_entities
	UNIQUE (account, name_lower) -- ListManagedPolicies walks it in name order
);

-- Versions and attachments go with their policy (ON DELETE CASCADE).
CREATE TABLE iam_policy_versions (
	policy_arn   text COLLATE "C" NOT NULL REFERENCES iam_managed_policies (arn) ON DELETE CASCADE,
	version_id   text COLLATE "C" NOT NULL,
	document     text        NOT NULL,
	created_date timestamptz NOT NULL,
	PRIMARY KEY (policy_arn, version_id)
);

CREATE TABLE iam_attachments (
	account    text COLLATE "C" NOT NULL,
	kind       text COLLATE "C" NOT NULL,
	name_lower text COLLATE "C" NOT NULL,
	policy_arn text COLLATE "C" NOT NULL REFERENCES iam_managed_policies (arn) ON DELETE CASCADE,
	PRIMARY KEY (account, kind, name_lower, policy_arn),
	FOREIGN KEY (account, kind, name_lower) REFERENCES iam_entities (account, kind, name_lower) ON DELETE CASCADE
);

-- PolicyAttachments reads a policy's entities in (kind, name) order; deleting a policy finds
-- its attachments here.
CREATE INDEX iam_attachments_policy ON iam_attachments (policy_arn, kind, name_lower, account);

CREATE TABLE iam_inline_policies (
	account     text COLLATE "C" NOT NULL,
	kind        text COLLATE "C" NOT NULL,
	name_lower  text COLLATE "C" NOT NULL,
	policy_name text COLLATE "C" NOT NULL, -- compared exactly
	document    text        NOT NULL,
	PRIMARY KEY (account, kind, name_lower, policy_name),
	FOREIGN KEY (account, kind, name_lower) REFERENCES iam_entities (account, kind, name_lower) ON DELETE CASCADE
);

-- AccessKeysOf reads a principal's keys, oldest first.
CREATE INDEX access_keys_principal ON access_keys (principal_arn, created_date, id);
