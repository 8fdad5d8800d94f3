// Package chat owns conversations and their messages (C1, C2). Every message carries a sequence
// number that is unique and gapless within its conversation, allocated in the same transaction
// that stores the message, so that clients can resume from the last number they saw. A client's
// retry of the same message (same client id) is stored once.
//
// A conversation is opened by a visitor's first message (it then waits for a rep: "Waiting for
// Rep") or started by a rep (Start). A rep accepts a waiting conversation and becomes its owner
// (the assignee); the owner can transfer it, participants can invite other reps as guests, and a
// participant, an admin or the visitor can close it; a rep can reopen it. Every change of state
// happens in one transaction together with a system message (author "system") stored with the
// next sequence number, so transcripts and resuming clients see it.
//
// After each commit the Store publishes an Event on the bus (see Options and Event): the
// database is the truth, the bus only delivers fast. Durable side effects (webhooks) register
// with OnEvent and run inside the transaction.
//
// The web layer authenticates and authorises users (that they exist and are active) and passes
// who acts as an Actor; chat checks only what it owns: participation and ownership.
package chat

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
)

// MaxTextLen is the longest message, in characters.
const MaxTextLen = 4000

// Conversation statuses.
const (
	StatusOpen   = "open"
	StatusClosed = "closed"
)

// Conversation is an exchange between a visitor and the workspace.
type Conversation struct {
	ID          string `json:"id"`
	WorkspaceID string `json:"workspace_id"`
	VisitorID   string `json:"visitor_id"`
	Status      string `json:"status"` // "open" or "closed"
	LastSeq     int64  `json:"last_seq"`
	// AssigneeID is the rep who owns the conversation; "" when nobody does.
	AssigneeID string `json:"assignee_id"`
	// Participants are the reps in the conversation, present or gone (LeftAt set); never nil.
	Participants []Participant `json:"participants"`
	// WaitingSince is set while the conversation waits for a rep ("Waiting for Rep").
	WaitingSince time.Time `json:"waiting_since,omitzero"`
	ClosedAt     time.Time `json:"closed_at,omitzero"`
	// ClosedBy is the closing rep's user id, or "visitor", "bot" or "system".
	ClosedBy       string `json:"closed_by,omitempty"`
	VisitorReadSeq int64  `json:"visitor_read_seq"`
	StartedBy      string `json:"started_by"` // "visitor" or "rep"
	// TranscriptsSent counts the transcripts emailed (at most MaxTranscripts).
	TranscriptsSent int `json:"transcripts_sent"`
	// LastMessage is the latest message, filled by List for the inbox's preview.
	LastMessage *Message  `json:"last_message,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Participant is a rep in a conversation.
type Participant struct {
	UserID   string    `json:"user_id"`
	Name     string    `json:"name"` // the rep's name when they joined
	Role     string    `json:"role"` // "owner" or "guest"
	JoinedAt time.Time `json:"joined_at"`
	LeftAt   time.Time `json:"left_at,omitzero"` // zero while present
	ReadSeq  int64     `json:"read_seq"`
}

// Present reports whether the participant is in the conversation now.
func (p Participant) Present() bool { return p.LeftAt.IsZero() }

// Participant returns the participant userID, present or gone, or nil.
func (c *Conversation) Participant(userID string) *Participant {
	for i := range c.Participants {
		if c.Participants[i].UserID == userID {
			return &c.Participants[i]
		}
	}
	return nil
}

// IsPresent reports whether userID is a present participant of the conversation.
func (c *Conversation) IsPresent(userID string) bool {
	p := c.Participant(userID)
	return p != nil && p.Present()
}

// Message is one message of a conversation.
type Message struct {
	ID             string    `json:"id"`
	ConversationID string    `json:"conversation_id"`
	Seq            int64     `json:"seq"`
	Author         string    `json:"author"` // "visitor", "rep", "bot" or "system"
	AuthorID       string    `json:"-"`      // a visitor's or user's id: never shown to visitors
	AuthorName     string    `json:"name"`   // the rep's or bot's name at send time; "" for visitors and the system
	Text           string    `json:"text"`
	ClientID       string    `json:"-"`
	CreatedAt      time.Time `json:"created_at"`
}

// Actor kinds.
const (
	KindVisitor = "visitor"
	KindRep     = "rep"
	KindBot     = "bot"
	KindSystem  = "system"
)

// Actor is who does an operation. For a rep, ID is the user id, Name the display name (stored
// as a snapshot with what they do) and Admin whether they administer the workspace; the web layer
// has checked the user exists and is active. For a visitor, ID is the visitor id.
type Actor struct {
	Kind  string // "visitor", "rep", "bot" or "system"
	ID    string
	Name  string
	Admin bool
}

// display is the actor's name in system messages.
func (a Actor) display() string {
	if n := strings.TrimSpace(a.Name); n != "" {
		return n
	}
	switch a.Kind {
	case KindVisitor:
		return "the visitor"
	case KindRep:
		return "a rep"
	case KindBot:
		return "the bot"
	}
	return "Beckon"
}

// Options are a Store's optional dependencies.
type Options struct {
	// Bus receives an Event after each commit (see Event); nil publishes nothing.
	Bus bus.Bus
	// Log gets publishing failures; nil is slog.Default().
	Log *slog.Logger
	// Mailer queues transcript emails (EmailTranscript); nil makes EmailTranscript Unavailable.
	Mailer Mailer
	// Workspace returns a workspace's name and time zone for transcripts; nil means no name and
	// UTC.
	Workspace func(ctx context.Context, wsID string) (name string, tz *time.Location, err error)
}

// Store reads and writes conversations. Configure it (SetBus, OnEvent) before use.
type Store struct {
	db    *db.DB
	clk   clock.Clock
	opt   Options
	hooks []func(ctx context.Context, tx db.Queryer, ev Event) error
}

// New returns a Store. opts, at most one, gives its optional dependencies.
func New(d *db.DB, clk clock.Clock, opts ...Options) *Store {
	s := &Store{db: d, clk: clk}
	if len(opts) > 0 {
		s.opt = opts[0]
	}
	if s.opt.Log == nil {
		s.opt.Log = slog.Default()
	}
	return s
}

// SetBus sets the bus events are published to after each commit. Call it before use.
func (s *Store) SetBus(b bus.Bus) { s.opt.Bus = b }

// SetMailer sets the transcript mailer. Call it before use.
func (s *Store) SetMailer(m Mailer) { s.opt.Mailer = m }

// OnEvent registers h to run inside the transaction of every change of a conversation's state
// ("conv" events with a Kind: conversation.started, .waiting, .accepted, .transferred, .joined,
// .left, .closed, .reopened) and of every stored message ("msg" events, Kind message.created),
// for durable side effects such as webhook deliveries. An error of h rolls the operation back
// and is returned by it. Register hooks before use.
func (s *Store) OnEvent(h func(ctx context.Context, tx db.Queryer, ev Event) error) {
	s.hooks = append(s.hooks, h)
}

// CheckText trims a message and checks it is 1 to MaxTextLen characters of text; newlines and
// tabs are kept, other control characters refused. It returns errs.Invalid (errs.Malformed for
// text that is not UTF-8) about "text".
func CheckText(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errs.Field(errs.Invalid, "text", "is empty")
	}
	if !utf8.ValidString(s) {
		return "", errs.Field(errs.Malformed, "text", "is not valid UTF-8")
	}
	if utf8.RuneCountInString(s) > MaxTextLen {
		return "", errs.Field(errs.Invalid, "text", "must be at most %d characters", MaxTextLen)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r != '\n' && r != '\t' && unicode.Is(unicode.Cc, r) }) {
		return "", errs.Field(errs.Invalid, "text", "holds control characters")
	}
	return s, nil
}

// checkMessage checks a message's text (CheckText, which it returns trimmed) and then its client
// id (checkClientID).
func checkMessage(text, clientID string) (string, error) {
	text, err := CheckText(text)
	if err != nil {
		return "", err
	}
	return text, checkClientID(clientID)
}

// checkClientID accepts an optional idempotency key of up to 64 plain characters.
func checkClientID(s string) error {
	if len(s) > 64 || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return errs.Field(errs.Invalid, "client_id", "must be at most 64 visible ASCII characters")
	}
	return nil
}

const convCols = `id, workspace_id, visitor_id, status, last_seq, created_at, updated_at, assignee_id, waiting_since,
	closed_at, closed_by, visitor_read_seq, started_by, transcripts_sent`

func scanConv(row db.Scanner) (*Conversation, error) {
	c := Conversation{Participants: []Participant{}}
	var created, updated, waiting, closed int64
	if err := row.Scan(&c.ID, &c.WorkspaceID, &c.VisitorID, &c.Status, &c.LastSeq, &created, &updated, &c.AssigneeID, &waiting,
		&closed, &c.ClosedBy, &c.VisitorReadSeq, &c.StartedBy, &c.TranscriptsSent); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt, c.WaitingSince, c.ClosedAt = db.Time(created), db.Time(updated), db.Time(waiting), db.Time(closed)
	return &c, nil
}

const msgCols = `id, conversation_id, seq, author_kind, author_id, author_name, text, client_id, created_at`

func scanMsg(row db.Scanner) (*Message, error) {
	var m Message
	var created int64
	if err := row.Scan(&m.ID, &m.ConversationID, &m.Seq, &m.Author, &m.AuthorID, &m.AuthorName, &m.Text, &m.ClientID, &created); err != nil {
		return nil, err
	}
	m.CreatedAt = db.Time(created)
	return &m, nil
}

const partCols = `conversation_id, user_id, name, role, joined_at, left_at, read_seq`

type partRow struct {
	conv string
	p    Participant
}

func scanPart(row db.Scanner) (partRow, error) {
	var r partRow
	var joined, left int64
	if err := row.Scan(&r.conv, &r.p.UserID, &r.p.Name, &r.p.Role, &joined, &left, &r.p.ReadSeq); err != nil {
		return r, err
	}
	r.p.JoinedAt, r.p.LeftAt = db.Time(joined), db.Time(left)
	return r, nil
}

// idList indexes convs by id and returns the placeholders ("$1, $2, …") and the arguments of
// their ids, for an IN list.
func idList(convs []*Conversation) (byID map[string]*Conversation, marks string, args []any) {
	byID = make(map[string]*Conversation, len(convs))
	args = make([]any, 0, len(convs))
	for _, c := range convs {
		byID[c.ID] = c
		args = append(args, c.ID)
	}
	return byID, db.Placeholders(1, len(convs)), args
}

// loadParticipants fills the participants of convs, in the order they joined.
func loadParticipants(ctx context.Context, q db.Queryer, convs ...*Conversation) error {
	if len(convs) == 0 {
		return nil
	}
	for _, c := range convs {
		c.Participants = []Participant{}
	}
	byID, marks, args := idList(convs)
	rows, err := db.All(ctx, q, scanPart, `SELECT `+partCols+` FROM conversation_participants
		WHERE conversation_id IN (`+marks+`) ORDER BY joined_at, user_id`, args...)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if c := byID[r.conv]; c != nil {
			c.Participants = append(c.Participants, r.p)
		}
	}
	return nil
}

func errNoConv() error { return errs.NotFoundf("no such conversation") }

// Get returns a conversation of the workspace with its participants. Another workspace's or an
// unknown id is errs.NotFound.
func (s *Store) Get(ctx context.Context, wsID, convID string) (*Conversation, error) {
	c, err := getConv(ctx, s.db, wsID, convID, "")
	if err != nil {
		return nil, errs.Op("chat.Get", err)
	}
	return c, nil
}

// getConv reads a conversation with its participants; lock is "" or a FOR UPDATE clause.
func getConv(ctx context.Context, q db.Queryer, wsID, convID, lock string) (*Conversation, error) {
	if !id.Valid("conv", convID) {
		return nil, errNoConv()
	}
	c, err := scanConv(q.QueryRowContext(ctx, `SELECT `+convCols+` FROM conversations WHERE workspace_id = $1 AND id = $2`+lock, wsID, convID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoConv()
	}
	if err != nil {
		return nil, err
	}
	if err := loadParticipants(ctx, q, c); err != nil {
		return nil, err
	}
	return c, nil
}

// OpenConversation returns the visitor's open conversation, or nil when there is none.
func (s *Store) OpenConversation(ctx context.Context, wsID, visitorID string) (*Conversation, error) {
	c, err := scanConv(s.db.QueryRowContext(ctx, `SELECT `+convCols+` FROM conversations
		WHERE workspace_id = $1 AND visitor_id = $2 AND status = 'open' ORDER BY created_at DESC LIMIT 1`, wsID, visitorID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err == nil {
		err = loadParticipants(ctx, s.db, c)
	}
	if err != nil {
		return nil, errs.Op("chat.OpenConversation", err)
	}
	return c, nil
}

// VisitorMessage stores a visitor's message in their open conversation, opening one when there is
// none, and returns the conversation, the message and whether it opened the conversation (the
// visitor's first message: "Conversation Started"; the conversation then waits for a rep). A
// repeat of an earlier message's client id returns that message, stored once. It returns
// errs.Invalid about "text" or "client_id".
func (s *Store) VisitorMessage(ctx context.Context, wsID, visitorID, text, clientID string) (*Conversation, *Message, bool, error) {
	text, err := checkMessage(text, clientID)
	if err != nil {
		return nil, nil, false, err
	}
	var conv *Conversation
	var msg *Message
	var first bool
	for attempt := 0; ; attempt++ {
		err = s.run(ctx, wsID, func(t *txn) error {
			conv, msg, first, err = t.visitorMessage(visitorID, text, clientID)
			return err
		})
		// Two first messages at once: the index of one open conversation per visitor let one
		// transaction open it; the other tries again and joins it.
		if db.IsUniqueViolation(err) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, nil, false, errs.Op("chat.VisitorMessage", err)
		}
		return conv, msg, first, nil
	}
}

func (t *txn) visitorMessage(visitorID, text, clientID string) (*Conversation, *Message, bool, error) {
	c, err := scanConv(t.tx.QueryRowContext(t.ctx, `SELECT `+convCols+` FROM conversations
		WHERE workspace_id = $1 AND visitor_id = $2 AND status = 'open' ORDER BY created_at DESC LIMIT 1`+t.s.db.ForUpdate(), t.ws, visitorID))
	first := false
	if errors.Is(err, sql.ErrNoRows) {
		c = &Conversation{ID: id.New("conv"), WorkspaceID: t.ws, VisitorID: visitorID, Status: StatusOpen, StartedBy: KindVisitor,
			WaitingSince: t.now, Participants: []Participant{}, CreatedAt: t.now, UpdatedAt: t.now}
		if err := t.insertConv(c); err != nil {
			return nil, nil, false, err
		}
		first = true
	} else if err != nil {
		return nil, nil, false, err
	} else if err := loadParticipants(t.ctx, t.tx, c); err != nil {
		return nil, nil, false, err
	}
	if m, err := t.byClientID(c, KindVisitor, visitorID, clientID); m != nil || err != nil {
		return c, m, false, err
	}
	m, err := t.addMessage(c, KindVisitor, visitorID, "", text, clientID)
	if err != nil {
		return nil, nil, false, err
	}
	if first {
		if err := t.convEvent(c, "conversation.started", true); err != nil {
			return nil, nil, false, err
		}
		if err := t.convEvent(c, "conversation.waiting", false); err != nil {
			return nil, nil, false, err
		}
	}
	return c, m, first, nil
}

// VisitorSend stores a visitor's message in one given conversation of theirs (the socket's send
// with a conversation id). A repeat of an earlier message's client id returns that message. It
// returns errs.NotFound when the conversation is not the visitor's, errs.Conflict when it is
// closed (nothing is stored), and errs.Invalid about "text" or "client_id".
func (s *Store) VisitorSend(ctx context.Context, wsID, visitorID, convID, text, clientID string) (*Conversation, *Message, error) {
	text, err := checkMessage(text, clientID)
	if err != nil {
		return nil, nil, err
	}
	var conv *Conversation
	var msg *Message
	err = s.inConv(ctx, wsID, convID, func(t *txn, c *Conversation) error {
		if c.VisitorID != visitorID {
			return errNoConv()
		}
		if m, err := t.byClientID(c, KindVisitor, visitorID, clientID); m != nil || err != nil {
			conv, msg = c, m
			return err
		}
		if c.Status != StatusOpen {
			return errClosed()
		}
		conv = c
		var err error
		msg, err = t.addMessage(c, KindVisitor, visitorID, "", text, clientID)
		return err
	})
	if err != nil {
		return nil, nil, errs.Op("chat.VisitorSend", err)
	}
	return conv, msg, nil
}

// Messages returns up to limit (at most 500) messages of a conversation of the visitor after
// sequence number after, in order. Another visitor's or workspace's conversation is
// errs.NotFound.
func (s *Store) Messages(ctx context.Context, wsID, visitorID, convID string, after int64, limit int) ([]*Message, error) {
	if !id.Valid("conv", convID) {
		return nil, errNoConv()
	}
	var owner string
	err := s.db.QueryRowContext(ctx, `SELECT visitor_id FROM conversations WHERE workspace_id = $1 AND id = $2`, wsID, convID).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && owner != visitorID) {
		return nil, errNoConv()
	}
	if err != nil {
		return nil, errs.Op("chat.Messages", err)
	}
	out, err := s.messages(ctx, convID, after, limit)
	return out, errs.Op("chat.Messages", err)
}

// MessagesFor returns up to limit (at most 500) messages of a conversation of the workspace after
// sequence number after, in order, for reps (any rep of the workspace may read). Another
// workspace's or an unknown conversation is errs.NotFound.
func (s *Store) MessagesFor(ctx context.Context, wsID, convID string, after int64, limit int) ([]*Message, error) {
	if !id.Valid("conv", convID) {
		return nil, errNoConv()
	}
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM conversations WHERE workspace_id = $1 AND id = $2`, wsID, convID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoConv()
	}
	if err != nil {
		return nil, errs.Op("chat.MessagesFor", err)
	}
	out, err := s.messages(ctx, convID, after, limit)
	return out, errs.Op("chat.MessagesFor", err)
}

func (s *Store) messages(ctx context.Context, convID string, after int64, limit int) ([]*Message, error) {
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	return db.All(ctx, s.db, scanMsg, `SELECT `+msgCols+` FROM messages WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, convID, after, limit)
}

// MergeHook moves a merged visitor's conversations to the visitor that survives (V4). A visitor
// has at most one open conversation: when both have one, the merged visitor's is closed first
// (closed by "system") and stays in the survivor's history. It publishes nothing: it runs in the
// caller's transaction.
func (s *Store) MergeHook(ctx context.Context, tx db.Queryer, wsID, from, to string) error {
	now := db.Micro(s.clk.Now())
	_, err := tx.ExecContext(ctx, `UPDATE conversations SET status = 'closed', closed_at = $1, closed_by = 'system', waiting_since = 0,
		updated_at = $1 WHERE workspace_id = $2 AND visitor_id = $3
		AND status = 'open' AND EXISTS (SELECT 1 FROM conversations o WHERE o.workspace_id = $2 AND o.visitor_id = $4 AND o.status = 'open')`,
		now, wsID, from, to)
	if err != nil {
		return fmt.Errorf("chat.MergeHook: %w", err)
	}
	_, err = tx.ExecContext(ctx, `UPDATE conversations SET visitor_id = $1 WHERE workspace_id = $2 AND visitor_id = $3`, to, wsID, from)
	if err != nil {
		return fmt.Errorf("chat.MergeHook: %w", err)
	}
	_, err = tx.ExecContext(ctx, `UPDATE messages SET author_id = $1 WHERE workspace_id = $2 AND author_kind = 'visitor' AND author_id = $3`, to, wsID, from)
	return errs.Op("chat.MergeHook", err)
}
