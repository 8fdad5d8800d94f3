-- Email (E1–E4): each workspace's address policy and lists, the global suppression list and each
-- workspace's unsubscribes, the history of every email, and the counts of refused submissions.
-- Owned by internal/email, except spam_refusals (internal/spam). Instants are BIGINT
-- microseconds, UTC. Addresses are stored in the validator's normalized form.

-- A workspace's address policy; a workspace without a row has the defaults (everything off).
CREATE TABLE email_policies (
	workspace_id TEXT PRIMARY KEY REFERENCES workspaces(id),
	business_only BOOLEAN NOT NULL DEFAULT FALSE,
	check_mx BOOLEAN NOT NULL DEFAULT FALSE,
	-- The most distinct addresses of one unknown domain accepted in ten minutes; 0 means no limit.
	domain_burst INTEGER NOT NULL DEFAULT 0,
	-- Who is emailed about a visitor who left their email while nobody answered: a JSON array.
	lead_alerts_to TEXT NOT NULL DEFAULT '[]',
	updated_at BIGINT NOT NULL
);

-- The allow and block lists: list is "allow" or "block", kind "domain" or "address".
CREATE TABLE email_list_entries (
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	list TEXT NOT NULL,
	kind TEXT NOT NULL,
	value TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (workspace_id, list, kind, value)
);

-- The global suppression list, shared by every workspace: hard bounces and complaints. One row
-- per address; reason is "bounce", "complaint" or "manual". source_workspace_id is the workspace
-- whose mail bounced (so its admins see the entry), "" when unknown.
CREATE TABLE email_suppressions (
	address TEXT PRIMARY KEY,
	reason TEXT NOT NULL,
	detail TEXT NOT NULL DEFAULT '',
	source TEXT NOT NULL DEFAULT '',
	source_workspace_id TEXT NOT NULL DEFAULT '',
	message_id TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL
);
CREATE INDEX email_suppressions_workspace ON email_suppressions (source_workspace_id, created_at);

-- Addresses that unsubscribed from one workspace's mail (RFC 8058 one-click, or an admin).
CREATE TABLE email_unsubscribes (
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	address TEXT NOT NULL,
	source TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	PRIMARY KEY (workspace_id, address)
);

-- One row per email Beckon sends; the job carries the sealed message, this row what admins may see.
-- recipients is a JSON object {"to": [...], "cc": [...], "bcc": [...]}; suppressed lists the
-- recipients left out because they were suppressed.
CREATE TABLE email_messages (
	id TEXT PRIMARY KEY,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	template TEXT NOT NULL DEFAULT '',
	subject TEXT NOT NULL,
	recipients TEXT NOT NULL,
	suppressed TEXT NOT NULL DEFAULT '[]',
	status TEXT NOT NULL,
	job_id TEXT NOT NULL DEFAULT '',
	attempts INTEGER NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	sent_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX email_messages_workspace ON email_messages (workspace_id, created_at);

-- What happened to a message, in order: queued, attempt failed, sent, suppressed, bounced, …
CREATE TABLE email_events (
	message_id TEXT NOT NULL REFERENCES email_messages(id) ON DELETE CASCADE,
	seq INTEGER NOT NULL,
	at BIGINT NOT NULL,
	kind TEXT NOT NULL,
	detail TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (message_id, seq)
);

-- Refused public submissions and requests, counted per workspace, UTC day and reason, with the
-- last sample (never an address in full) so admins see what was refused.
CREATE TABLE spam_refusals (
	workspace_id TEXT NOT NULL,
	day TEXT NOT NULL,
	reason TEXT NOT NULL,
	count BIGINT NOT NULL,
	last_at BIGINT NOT NULL,
	last_sample TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (workspace_id, day, reason)
);
