-- Routing (R1–R6): the routing configuration an admin edits (a draft) and publishes (numbered,
-- immutable versions), the round-robin ledger of every pool, each routing decision with its
-- trace, and the offer a waiting conversation is ringing. Owned by internal/routing. Instants are
-- BIGINT microseconds, UTC.

-- The admin's working copy; one per workspace. body is the configuration's JSON as saved (valid:
-- it is checked before it is stored).
CREATE TABLE routing_drafts (
	workspace_id TEXT PRIMARY KEY REFERENCES workspaces(id),
	body TEXT NOT NULL,
	updated_by TEXT NOT NULL DEFAULT '',
	updated_at BIGINT NOT NULL
);

-- Published configurations: the newest version routes; decisions name the version they ran.
CREATE TABLE routing_versions (
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	version INTEGER NOT NULL,
	body TEXT NOT NULL,
	published_by TEXT NOT NULL DEFAULT '',
	published_at BIGINT NOT NULL,
	PRIMARY KEY (workspace_id, version)
);

-- A pool's round-robin state (R2): v is the pool's virtual time, turns the number of turns given
-- so far (each turn's number is unique in the pool: two replicas never give the same one). The
-- row is locked for the length of an assignment.
CREATE TABLE routing_pools (
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	pool_id TEXT NOT NULL,
	v BIGINT NOT NULL DEFAULT 0,
	turns BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (workspace_id, pool_id)
);

-- Each member's pass in a pool's stride scheduling: the lowest pass is next in turn.
CREATE TABLE routing_ledger (
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	pool_id TEXT NOT NULL,
	user_id TEXT NOT NULL,
	pass BIGINT NOT NULL,
	PRIMARY KEY (workspace_id, pool_id, user_id)
);

-- Every decision (R4), first routing and each reroute (attempt 2, 3, …): what was decided, the
-- trace that says why, and the input (the visitor's facts and the reps' state) that replay (R5)
-- runs again against a draft. turn: the pool's turn number when a round-robin turn was given.
CREATE TABLE routing_decisions (
	id TEXT PRIMARY KEY,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	conversation_id TEXT NOT NULL,
	visitor_id TEXT NOT NULL,
	version INTEGER NOT NULL,
	attempt INTEGER NOT NULL,
	rule_id TEXT NOT NULL DEFAULT '',
	pool_id TEXT NOT NULL DEFAULT '',
	strategy TEXT NOT NULL DEFAULT '',
	outcome TEXT NOT NULL,
	offered TEXT NOT NULL DEFAULT '[]',
	turn BIGINT NOT NULL DEFAULT 0,
	input TEXT NOT NULL,
	trace TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX routing_decisions_conversation ON routing_decisions (workspace_id, conversation_id, attempt);
CREATE INDEX routing_decisions_time ON routing_decisions (workspace_id, created_at);
CREATE UNIQUE INDEX routing_decisions_turn ON routing_decisions (workspace_id, pool_id, turn) WHERE turn > 0;

-- The offer a waiting conversation is ringing (R3): the reps rung, until when, and which attempt
-- it is. A ring-timeout job compares its attempt with this row's before it reroutes. status:
-- 'ringing', 'accepted', 'exhausted' (the chain ended in the booker or email capture), 'ended'.
-- pool_id: whom it rings, for the visitor's place in line: 'pool:<id>', 'team:<id>' or
-- 'rep:<user id>'. started_at: when the conversation began ringing (a reroute keeps it: the
-- visitor keeps their place). accepted_by: the rep who accepted it (the report's assignments).
-- strategy: the decision's (an offer ringing one rep alone counts in that rep's load).
CREATE TABLE routing_offers (
	conversation_id TEXT PRIMARY KEY,
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	attempt INTEGER NOT NULL,
	offered TEXT NOT NULL DEFAULT '[]',
	tried TEXT NOT NULL DEFAULT '[]',
	pool_id TEXT NOT NULL DEFAULT '',
	strategy TEXT NOT NULL DEFAULT '',
	status TEXT NOT NULL,
	expires_at BIGINT NOT NULL DEFAULT 0,
	started_at BIGINT NOT NULL,
	accepted_by TEXT NOT NULL DEFAULT '',
	updated_at BIGINT NOT NULL
);
CREATE INDEX routing_offers_ringing ON routing_offers (workspace_id, status, pool_id, started_at);
