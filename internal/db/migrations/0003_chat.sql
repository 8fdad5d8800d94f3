-- Chat (C1, C2): the whole life of a conversation — waiting for a rep, accepted, transferred,
-- joined by guests, closed, reopened — its participants with their read receipts, and the name
-- of each message's author as it was when it was sent. Instants are BIGINT microseconds, UTC;
-- 0 means "not set".

-- assignee_id: the rep who owns the conversation ('' when nobody does).
-- waiting_since: non-zero while the conversation waits for a rep ("Waiting for Rep").
-- closed_by: the closing rep's user id, or 'visitor', 'bot', 'system'.
-- started_by: 'visitor' or 'rep' (a rep started it from Live View).
-- transcripts_sent: transcripts emailed so far (limited per conversation).
ALTER TABLE conversations ADD COLUMN assignee_id TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN waiting_since BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN closed_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN closed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN visitor_read_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN started_by TEXT NOT NULL DEFAULT 'visitor';
ALTER TABLE conversations ADD COLUMN transcripts_sent INTEGER NOT NULL DEFAULT 0;
-- transcript_to: the one address a visitor's transcripts of this conversation may go to, fixed by
-- their first request (a stranger cannot use transcripts to mail anyone they like).
ALTER TABLE conversations ADD COLUMN transcript_to TEXT NOT NULL DEFAULT '';

-- The inbox streams: all/live by recency, waiting oldest first, closed newest first.
CREATE INDEX conversations_inbox ON conversations (workspace_id, status, updated_at);
CREATE INDEX conversations_waiting ON conversations (workspace_id, waiting_since) WHERE status = 'open' AND waiting_since > 0;
CREATE INDEX conversations_closed ON conversations (workspace_id, closed_at) WHERE status = 'closed';

-- The reps in a conversation: its owner (the assignee) and invited guests. A rep who left (or
-- whose conversation was transferred away) keeps the row with left_at set. name is the rep's
-- name when they joined, shown to visitors and in transcripts.
CREATE TABLE conversation_participants (
	workspace_id TEXT NOT NULL REFERENCES workspaces(id),
	conversation_id TEXT NOT NULL REFERENCES conversations(id),
	user_id TEXT NOT NULL,
	name TEXT NOT NULL DEFAULT '',
	role TEXT NOT NULL,
	joined_at BIGINT NOT NULL,
	left_at BIGINT NOT NULL DEFAULT 0,
	read_seq BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX conversation_participants_user ON conversation_participants (workspace_id, user_id);

-- The author's name at send time: the rep's name, the bot's name, '' for visitors and the system.
ALTER TABLE messages ADD COLUMN author_name TEXT NOT NULL DEFAULT '';
