-- The messenger: visitors, their sessions and page views, visitor fields, identity-verification
-- replay protection, and the first conversations. Instants are BIGINT microseconds, UTC.

ALTER TABLE workspaces ADD COLUMN identity_secret TEXT NOT NULL DEFAULT '';

CREATE TABLE visitors (
	id TEXT PRIMARY KEY,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	merged_into TEXT NOT NULL DEFAULT '',
	email TEXT NOT NULL DEFAULT '',
	-- The email was proven by a token the customer's server signed (SEC3); only such records merge.
	email_verified BOOLEAN NOT NULL DEFAULT FALSE,
	consent TEXT NOT NULL DEFAULT '',
	first_seen_at BIGINT NOT NULL,
	last_seen_at BIGINT NOT NULL,
	sessions_count INTEGER NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX visitors_email ON visitors (workspace_id, email);
CREATE INDEX visitors_seen ON visitors (workspace_id, last_seen_at);

CREATE TABLE visitor_sessions (
	id TEXT PRIMARY KEY,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	visitor_id TEXT NOT NULL REFERENCES visitors(id),
	started_at BIGINT NOT NULL,
	last_activity_at BIGINT NOT NULL,
	last_seen_at BIGINT NOT NULL,
	ended_at BIGINT NOT NULL DEFAULT 0,
	landing_url TEXT NOT NULL DEFAULT '',
	referrer TEXT NOT NULL DEFAULT '',
	utm_source TEXT NOT NULL DEFAULT '',
	utm_medium TEXT NOT NULL DEFAULT '',
	utm_campaign TEXT NOT NULL DEFAULT '',
	utm_term TEXT NOT NULL DEFAULT '',
	utm_content TEXT NOT NULL DEFAULT '',
	gclid TEXT NOT NULL DEFAULT '',
	time_zone TEXT NOT NULL DEFAULT '',
	language TEXT NOT NULL DEFAULT '',
	device TEXT NOT NULL DEFAULT '',
	user_agent TEXT NOT NULL DEFAULT '',
	country TEXT NOT NULL DEFAULT '',
	region TEXT NOT NULL DEFAULT '',
	page_views INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX visitor_sessions_visitor ON visitor_sessions (workspace_id, visitor_id, started_at);
CREATE INDEX visitor_sessions_started ON visitor_sessions (workspace_id, started_at);

CREATE TABLE page_views (
	id TEXT PRIMARY KEY,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	visitor_id TEXT NOT NULL,
	session_id TEXT NOT NULL,
	url TEXT NOT NULL,
	title TEXT NOT NULL DEFAULT '',
	referrer TEXT NOT NULL DEFAULT '',
	at BIGINT NOT NULL
);
CREATE INDEX page_views_session ON page_views (workspace_id, session_id, at);
CREATE INDEX page_views_visitor ON page_views (workspace_id, visitor_id, at);

-- Field definitions: the custom fields admins create, and the rules (precedence of sources,
-- whether a blank CRM value overrides) of standard fields when an admin changed them.
CREATE TABLE fields (
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	key TEXT NOT NULL,
	label TEXT NOT NULL,
	type TEXT NOT NULL,
	options TEXT NOT NULL DEFAULT '[]',
	precedence TEXT NOT NULL DEFAULT '[]',
	crm_blank_overrides BOOLEAN NOT NULL DEFAULT FALSE,
	standard BOOLEAN NOT NULL DEFAULT FALSE,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (workspace_id, key)
);

-- One value per visitor, field and source; the effective value follows the field's precedence.
CREATE TABLE field_values (
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	visitor_id TEXT NOT NULL,
	field_key TEXT NOT NULL,
	source TEXT NOT NULL,
	value TEXT NOT NULL,
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (visitor_id, field_key, source)
);
CREATE INDEX field_values_lookup ON field_values (workspace_id, field_key, value);

-- Identity-verification tokens already used (SEC3: never replayable), kept until they expire.
CREATE TABLE used_identity_tokens (
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	jti TEXT NOT NULL,
	expires_at BIGINT NOT NULL,
	PRIMARY KEY (workspace_id, jti)
);

CREATE TABLE conversations (
	id TEXT PRIMARY KEY,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	visitor_id TEXT NOT NULL,
	status TEXT NOT NULL,
	last_seq BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX conversations_visitor ON conversations (workspace_id, visitor_id, created_at);
CREATE UNIQUE INDEX conversations_one_open ON conversations (visitor_id) WHERE status = 'open';

CREATE TABLE messages (
	id TEXT PRIMARY KEY,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	conversation_id TEXT NOT NULL REFERENCES conversations(id),
	seq BIGINT NOT NULL,
	author_kind TEXT NOT NULL,
	author_id TEXT NOT NULL DEFAULT '',
	text TEXT NOT NULL,
	client_id TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	UNIQUE (conversation_id, seq)
);
CREATE UNIQUE INDEX messages_client_id ON messages (conversation_id, client_id) WHERE client_id <> '';
