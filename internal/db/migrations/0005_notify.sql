-- Notifications (N1–N3): each rep's alert preferences, the workspace's team channels (Slack,
-- Teams, outbound webhooks) and the record of every delivery to them. Owned by internal/notify.
-- Instants are BIGINT microseconds, UTC.

-- One row per rep and alert stream ("waiting", "live", "target"); a stream without a row has its
-- default settings.
CREATE TABLE alert_prefs (
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	user_id TEXT NOT NULL REFERENCES users(id),
	stream TEXT NOT NULL,
	enabled BOOLEAN NOT NULL,
	sound TEXT NOT NULL,
	notify BOOLEAN NOT NULL,
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (workspace_id, user_id, stream)
);

-- A channel's URL and signing secrets are sealed with the server's keyring (SEC4); url_hint (the
-- host and the URL's last four characters) is what admins see.
CREATE TABLE notify_channels (
	id TEXT PRIMARY KEY,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	kind TEXT NOT NULL,
	name TEXT NOT NULL,
	url_sealed TEXT NOT NULL,
	url_hint TEXT NOT NULL,
	events TEXT NOT NULL DEFAULT '[]',
	enabled BOOLEAN NOT NULL DEFAULT TRUE,
	secret_sealed TEXT NOT NULL DEFAULT '',
	-- The secret replaced by the last rotation, still signing until prev_secret_until.
	prev_secret_sealed TEXT NOT NULL DEFAULT '',
	prev_secret_until BIGINT NOT NULL DEFAULT 0,
	failing BOOLEAN NOT NULL DEFAULT FALSE,
	last_error TEXT NOT NULL DEFAULT '',
	last_error_at BIGINT NOT NULL DEFAULT 0,
	last_success_at BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX notify_channels_workspace ON notify_channels (workspace_id, created_at);

-- One row per message to one channel: its id is the Beckon-Delivery header, the same on every
-- attempt. The job that sends it carries the sealed body.
CREATE TABLE notify_deliveries (
	id TEXT PRIMARY KEY,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	channel_id TEXT NOT NULL REFERENCES notify_channels(id) ON DELETE CASCADE,
	job_id TEXT NOT NULL DEFAULT '',
	event TEXT NOT NULL,
	state TEXT NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	last_status INTEGER NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT '',
	-- The receiver's Retry-After: no attempt is sent before this instant.
	not_before BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	delivered_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX notify_deliveries_channel ON notify_deliveries (workspace_id, channel_id, created_at);
