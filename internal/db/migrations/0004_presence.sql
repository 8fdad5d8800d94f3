-- Reps' presence (C3), owned by internal/presence. See its package comment for the model.
-- Instants are BIGINT microseconds since the Unix epoch, UTC; 0 means "never".

-- One row per rep ever seen: what they chose, when they last used the console, and the effective
-- status last published on the bus ("presence.<workspace id>"). published_status is the value of
-- the compare-and-set that makes every transition published once across replicas.
CREATE TABLE presence (
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	user_id TEXT NOT NULL REFERENCES users(id),
	chosen TEXT NOT NULL DEFAULT 'available',
	published_status TEXT NOT NULL DEFAULT 'offline',
	published_reason TEXT NOT NULL DEFAULT 'disconnected',
	last_active_at BIGINT NOT NULL DEFAULT 0,
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX presence_published ON presence (published_status, workspace_id);

-- A replica's open console sockets per rep, under a lease the replica renews every few seconds:
-- a row whose lease_until has passed belongs to a replica that crashed or lost the database, and
-- counts for nothing.
CREATE TABLE presence_connections (
	node TEXT NOT NULL,
	workspace_id TEXT NOT NULL,
	user_id TEXT NOT NULL,
	sockets INTEGER NOT NULL,
	lease_until BIGINT NOT NULL,
	PRIMARY KEY (node, workspace_id, user_id),
	FOREIGN KEY (workspace_id, user_id) REFERENCES presence (workspace_id, user_id)
);
CREATE INDEX presence_connections_user ON presence_connections (workspace_id, user_id, lease_until);
CREATE INDEX presence_connections_lease ON presence_connections (lease_until);
