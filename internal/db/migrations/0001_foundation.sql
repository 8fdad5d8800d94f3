-- Workspaces (tenants), people and access, durable jobs.
-- Instants are BIGINT microseconds since the Unix epoch, UTC; 0 means "never".

CREATE TABLE workspaces (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	site_id TEXT NOT NULL UNIQUE,
	time_zone TEXT NOT NULL,
	allowed_origins TEXT NOT NULL DEFAULT '[]',
	settings TEXT NOT NULL DEFAULT '{}',
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);

CREATE TABLE users (
	id TEXT PRIMARY KEY,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	email TEXT NOT NULL,
	role TEXT NOT NULL,
	first_name TEXT NOT NULL DEFAULT '',
	last_name TEXT NOT NULL DEFAULT '',
	job_title TEXT NOT NULL DEFAULT '',
	phone TEXT NOT NULL DEFAULT '',
	time_zone TEXT NOT NULL,
	password_hash TEXT NOT NULL DEFAULT '',
	active BOOLEAN NOT NULL DEFAULT TRUE,
	activated_at BIGINT NOT NULL DEFAULT 0,
	deactivated_at BIGINT NOT NULL DEFAULT 0,
	photo_updated_at BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	UNIQUE (workspace_id, email)
);
CREATE INDEX users_email ON users (email);

-- Failed sign-in attempts by email address, whether or not an account has it, so that a lockout
-- says nothing about which accounts exist. Rows of the whole server, like its jobs.
CREATE TABLE login_attempts (
	email TEXT PRIMARY KEY,
	failures INTEGER NOT NULL,
	locked_until BIGINT NOT NULL DEFAULT 0,
	updated_at BIGINT NOT NULL
);

CREATE TABLE user_photos (
	user_id TEXT PRIMARY KEY REFERENCES users(id),
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	content_type TEXT NOT NULL,
	data BYTEA NOT NULL,
	updated_at BIGINT NOT NULL
);

CREATE TABLE sessions (
	id TEXT PRIMARY KEY,
	token_hash TEXT NOT NULL UNIQUE,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	user_id TEXT NOT NULL REFERENCES users(id),
	csrf_token TEXT NOT NULL,
	user_agent TEXT NOT NULL DEFAULT '',
	ip TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	last_seen_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX sessions_user ON sessions (workspace_id, user_id);

CREATE TABLE invites (
	token_hash TEXT PRIMARY KEY,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	user_id TEXT NOT NULL REFERENCES users(id),
	created_by TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	used_at BIGINT NOT NULL DEFAULT 0,
	voided_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX invites_user ON invites (workspace_id, user_id);

CREATE TABLE api_tokens (
	id TEXT PRIMARY KEY,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	user_id TEXT NOT NULL REFERENCES users(id),
	name TEXT NOT NULL,
	prefix TEXT NOT NULL,
	token_hash TEXT NOT NULL UNIQUE,
	scopes TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	last_used_at BIGINT NOT NULL DEFAULT 0,
	expires_at BIGINT NOT NULL DEFAULT 0,
	revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_workspace ON api_tokens (workspace_id, user_id);

-- Durable jobs (P5). workspace_id is '' for jobs of the whole server.
CREATE TABLE jobs (
	id TEXT PRIMARY KEY,
	workspace_id TEXT NOT NULL DEFAULT '',
	kind TEXT NOT NULL,
	payload TEXT NOT NULL DEFAULT '{}',
	state TEXT NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	max_attempts INTEGER NOT NULL,
	run_at BIGINT NOT NULL,
	lease_until BIGINT NOT NULL DEFAULT 0,
	locked_by TEXT NOT NULL DEFAULT '',
	last_error TEXT NOT NULL DEFAULT '',
	dedupe_key TEXT,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	finished_at BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX jobs_dedupe ON jobs (dedupe_key);
CREATE INDEX jobs_due ON jobs (state, run_at);
CREATE INDEX jobs_workspace ON jobs (workspace_id, state, created_at);
