package chat

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
)

// Event is what the Store publishes on the bus after a commit, JSON-encoded, and what OnEvent
// hooks receive inside the transaction. T says what it is:
//
//   - "msg": a stored message (system messages included), in Msg, with its Seq; Kind
//     "message.created".
//   - "conv": a conversation's state changed; State is the conversation with its participants;
//     Kind is one of conversation.started, .waiting (with .started when a visitor opens one),
//     .accepted, .transferred, .joined, .left, .closed, .reopened. Seq is not set (State.LastSeq is).
//   - "typing": Author ("visitor" or "rep"), AuthorID, Name and On (not stored, not hooked).
//   - "read": Author, AuthorID and Seq, the reader's new read position (not hooked).
//
// Subjects: every event goes to "chat.<workspace id>.<conversation id>"; "conv" events also go to
// "inbox.<workspace id>" (rep consoles), and those of a conversation created (by the visitor or by
// Start) or reopened also to "visitor.<workspace id>.<visitor id>" so that the visitor's socket
// learns of it. Events of one operation are published in order, messages in seq order before the
// state they lead to; the bus may drop, and clients resume by seq from the database.
type Event struct {
	T        string        `json:"t"`
	Kind     string        `json:"kind,omitempty"`
	Space    string        `json:"workspace_id,omitempty"` // the workspace
	Conv     string        `json:"conv"`
	Visitor  string        `json:"visitor,omitempty"` // the conversation's visitor id
	Seq      int64         `json:"seq,omitempty"`
	Msg      *Message      `json:"msg,omitempty"`
	State    *Conversation `json:"state,omitempty"`
	Author   string        `json:"author,omitempty"`
	AuthorID string        `json:"author_id,omitempty"`
	Name     string        `json:"name,omitempty"`
	On       bool          `json:"on,omitempty"`
	At       time.Time     `json:"at"`
}

// Subjects of the events.
func convSubject(wsID, convID string) string       { return "chat." + wsID + "." + convID }
func inboxSubject(wsID string) string              { return "inbox." + wsID }
func visitorSubject(wsID, visitorID string) string { return "visitor." + wsID + "." + visitorID }

// ConvSubject is the bus subject of a conversation's events, "chat.<wsID>.<convID>".
func ConvSubject(wsID, convID string) string { return convSubject(wsID, convID) }

// InboxSubject is the bus subject of a workspace's "conv" events, "inbox.<wsID>".
func InboxSubject(wsID string) string { return inboxSubject(wsID) }

// VisitorSubject is the bus subject that tells a visitor of conversations created or reopened
// for them, "visitor.<wsID>.<visitorID>".
func VisitorSubject(wsID, visitorID string) string { return visitorSubject(wsID, visitorID) }

func errClosed() error { return errs.E(errs.Conflict, "the conversation is closed") }

type outEvent struct {
	ev       Event
	subjects []string
}

// txn is one operation's transaction: what it changed is published after the commit.
type txn struct {
	ctx    context.Context
	s      *Store
	tx     *sql.Tx
	ws     string
	now    time.Time
	events []outEvent
}

// run runs fn in a transaction and, once it committed, publishes the events fn emitted.
func (s *Store) run(ctx context.Context, wsID string, fn func(t *txn) error) error {
	var t *txn
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		t = &txn{ctx: ctx, s: s, tx: tx, ws: wsID, now: s.clk.Now()}
		return fn(t)
	})
	if err != nil {
		return err
	}
	s.publish(ctx, t.events)
	return nil
}

// inConv runs fn like run, with the workspace's conversation convID locked (see lock): an unknown
// or another workspace's conversation is errs.NotFound and fn does not run.
func (s *Store) inConv(ctx context.Context, wsID, convID string, fn func(t *txn, c *Conversation) error) error {
	return s.run(ctx, wsID, func(t *txn) error {
		c, err := t.lock(convID)
		if err != nil {
			return err
		}
		return fn(t, c)
	})
}

// publish sends events to the bus; failures are logged, never returned.
func (s *Store) publish(ctx context.Context, events []outEvent) {
	b := s.opt.Bus
	if b == nil || len(events) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	for _, e := range events {
		data, err := json.Marshal(e.ev)
		if err != nil {
			s.opt.Log.ErrorContext(ctx, "chat: encoding an event failed", "err", err.Error(), "conv", e.ev.Conv)
			continue
		}
		for _, subj := range e.subjects {
			if err := b.Publish(ctx, subj, data); err != nil {
				s.opt.Log.WarnContext(ctx, "chat: publishing an event failed", "err", err.Error(), "subject", subj, "t", e.ev.T)
			}
		}
	}
}

// emit runs the hooks (for hooked events) and queues ev for publishing after the commit.
func (t *txn) emit(ev Event, hooked bool, subjects ...string) error {
	ev.Space = t.ws
	if hooked {
		for _, h := range t.s.hooks {
			if err := h(t.ctx, t.tx, ev); err != nil {
				return err
			}
		}
	}
	t.events = append(t.events, outEvent{ev: ev, subjects: subjects})
	return nil
}

// convEvent emits a "conv" event with the conversation's current state (participants reloaded).
// toVisitor also tells the visitor's subject (created or reopened).
func (t *txn) convEvent(c *Conversation, kind string, toVisitor bool) error {
	if err := loadParticipants(t.ctx, t.tx, c); err != nil {
		return err
	}
	state := *c
	state.Participants = slices.Clone(c.Participants)
	state.LastMessage = nil
	subjects := []string{convSubject(t.ws, c.ID), inboxSubject(t.ws)}
	if toVisitor {
		subjects = append(subjects, visitorSubject(t.ws, c.VisitorID))
	}
	return t.emit(Event{T: "conv", Kind: kind, Conv: c.ID, Visitor: c.VisitorID, State: &state, At: t.now}, true, subjects...)
}

// lock reads a conversation of the workspace with its participants, locking its row until the
// transaction ends. Unknown or another workspace's: errs.NotFound.
func (t *txn) lock(convID string) (*Conversation, error) {
	return getConv(t.ctx, t.tx, t.ws, convID, t.s.db.ForUpdate())
}

func (t *txn) insertConv(c *Conversation) error {
	_, err := t.tx.ExecContext(t.ctx, `INSERT INTO conversations (id, workspace_id, visitor_id, status, last_seq, created_at, updated_at,
		assignee_id, waiting_since, started_by) VALUES ($1, $2, $3, 'open', 0, $4, $4, $5, $6, $7)`,
		c.ID, t.ws, c.VisitorID, db.Micro(c.CreatedAt), c.AssigneeID, db.Micro(c.WaitingSince), c.StartedBy)
	return err
}

// save writes the conversation's state (all but last_seq, which addMessage keeps) and touches it.
func (t *txn) save(c *Conversation) error {
	c.UpdatedAt = t.now
	_, err := t.tx.ExecContext(t.ctx, `UPDATE conversations SET status = $1, assignee_id = $2, waiting_since = $3, closed_at = $4,
		closed_by = $5, visitor_read_seq = $6, transcripts_sent = $7, updated_at = $8 WHERE id = $9`,
		c.Status, c.AssigneeID, db.Micro(c.WaitingSince), db.Micro(c.ClosedAt), c.ClosedBy, c.VisitorReadSeq, c.TranscriptsSent,
		db.Micro(t.now), c.ID)
	return err
}

// byClientID returns the message the same author stored earlier with clientID, or nil.
func (t *txn) byClientID(c *Conversation, author, authorID, clientID string) (*Message, error) {
	if clientID == "" {
		return nil, nil
	}
	m, err := scanMsg(t.tx.QueryRowContext(t.ctx, `SELECT `+msgCols+` FROM messages WHERE conversation_id = $1 AND client_id = $2`, c.ID, clientID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if m.Author != author || m.AuthorID != authorID {
		// Another author's key: a client must not learn of or replace someone else's message.
		return nil, errs.Field(errs.Conflict, "client_id", "is already used in this conversation")
	}
	return m, nil
}

// addMessage stores a message with the conversation's next sequence number and emits it.
func (t *txn) addMessage(c *Conversation, author, authorID, name, text, clientID string) (*Message, error) {
	if err := t.tx.QueryRowContext(t.ctx, `UPDATE conversations SET last_seq = last_seq + 1, updated_at = $1 WHERE id = $2 RETURNING last_seq`,
		db.Micro(t.now), c.ID).Scan(&c.LastSeq); err != nil {
		return nil, err
	}
	c.UpdatedAt = t.now
	m := &Message{ID: id.New("msg"), ConversationID: c.ID, Seq: c.LastSeq, Author: author, AuthorID: authorID, AuthorName: name,
		Text: text, ClientID: clientID, CreatedAt: t.now}
	if _, err := t.tx.ExecContext(t.ctx, `INSERT INTO messages (id, workspace_id, conversation_id, seq, author_kind, author_id, author_name,
		text, client_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		m.ID, t.ws, c.ID, m.Seq, m.Author, m.AuthorID, m.AuthorName, m.Text, m.ClientID, db.Micro(t.now)); err != nil {
		return nil, err
	}
	ev := Event{T: "msg", Kind: "message.created", Conv: c.ID, Visitor: c.VisitorID, Seq: m.Seq, Msg: m, Author: author,
		AuthorID: authorID, Name: name, At: t.now}
	return m, t.emit(ev, true, convSubject(t.ws, c.ID))
}

// system stores a system message about what actor did.
func (t *txn) system(c *Conversation, actor Actor, text string) error {
	_, err := t.addMessage(c, KindSystem, actor.ID, "", text, "")
	return err
}

// join makes the rep a present participant with role; one already present keeps joined_at, and
// one who rejoins keeps their read position.
func (t *txn) join(c *Conversation, rep Actor, role string) error {
	_, err := t.tx.ExecContext(t.ctx, `INSERT INTO conversation_participants (workspace_id, conversation_id, user_id, name, role, joined_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (conversation_id, user_id)
		DO UPDATE SET name = excluded.name, role = excluded.role, left_at = 0,
		joined_at = CASE WHEN conversation_participants.left_at = 0 THEN conversation_participants.joined_at ELSE excluded.joined_at END`,
		t.ws, c.ID, rep.ID, rep.Name, role, db.Micro(t.now))
	return err
}

// leave marks the participant gone.
func (t *txn) leave(c *Conversation, userID string) error {
	_, err := t.tx.ExecContext(t.ctx, `UPDATE conversation_participants SET left_at = $1 WHERE conversation_id = $2 AND user_id = $3 AND left_at = 0`,
		db.Micro(t.now), c.ID, userID)
	return err
}
