// Package chat owns conversations and their messages (C1, C2). Every message carries a sequence
// number that is unique and gapless within its conversation, allocated in the same transaction
// that stores the message, so that clients can resume from the last number they saw. A client's
// retry of the same message (same client id) is stored once.
//
// This is the first part of chat: visitors' messages are stored and listed. Reps, live delivery
// and presence come with the chat issue.
package chat

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
)

// MaxTextLen is the longest message, in characters.
const MaxTextLen = 4000

// Conversation is an exchange between a visitor and the workspace.
type Conversation struct {
	ID          string    `json:"id"`
	WorkspaceID string    `json:"workspace_id"`
	VisitorID   string    `json:"visitor_id"`
	Status      string    `json:"status"` // "open" or "closed"
	LastSeq     int64     `json:"last_seq"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Message is one message of a conversation.
type Message struct {
	ID             string    `json:"id"`
	ConversationID string    `json:"conversation_id"`
	Seq            int64     `json:"seq"`
	Author         string    `json:"author"` // "visitor", "rep", "bot" or "system"
	AuthorID       string    `json:"-"`      // a visitor's or user's id: never shown to visitors
	Text           string    `json:"text"`
	ClientID       string    `json:"-"`
	CreatedAt      time.Time `json:"created_at"`
}

// Store reads and writes conversations.
type Store struct {
	db  *db.DB
	clk clock.Clock
}

// New returns a Store.
func New(d *db.DB, clk clock.Clock) *Store { return &Store{db: d, clk: clk} }

// CheckText trims a message and checks it is 1 to MaxTextLen characters of text; newlines and
// tabs are kept, other control characters refused. It returns errs.Invalid about "text".
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

// checkClientID accepts an optional idempotency key of up to 64 plain characters.
func checkClientID(s string) error {
	if len(s) > 64 || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return errs.Field(errs.Invalid, "client_id", "must be at most 64 visible ASCII characters")
	}
	return nil
}

const convCols = `id, workspace_id, visitor_id, status, last_seq, created_at, updated_at`

func scanConv(row db.Scanner) (*Conversation, error) {
	var c Conversation
	var created, updated int64
	if err := row.Scan(&c.ID, &c.WorkspaceID, &c.VisitorID, &c.Status, &c.LastSeq, &created, &updated); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = db.Time(created), db.Time(updated)
	return &c, nil
}

const msgCols = `id, conversation_id, seq, author_kind, author_id, text, client_id, created_at`

func scanMsg(row db.Scanner) (*Message, error) {
	var m Message
	var created int64
	if err := row.Scan(&m.ID, &m.ConversationID, &m.Seq, &m.Author, &m.AuthorID, &m.Text, &m.ClientID, &created); err != nil {
		return nil, err
	}
	m.CreatedAt = db.Time(created)
	return &m, nil
}

// OpenConversation returns the visitor's open conversation, or nil when there is none.
func (s *Store) OpenConversation(ctx context.Context, wsID, visitorID string) (*Conversation, error) {
	c, err := scanConv(s.db.QueryRowContext(ctx, `SELECT `+convCols+` FROM conversations
		WHERE workspace_id = $1 AND visitor_id = $2 AND status = 'open' ORDER BY created_at DESC LIMIT 1`, wsID, visitorID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, errs.Op("chat.OpenConversation", err)
	}
	return c, nil
}

// VisitorMessage stores a visitor's message in their open conversation, opening one when there is
// none, and returns the conversation, the message and whether it opened the conversation (the
// visitor's first message: "Conversation Started"). A repeat of an earlier message's client id
// returns that message, stored once. It returns errs.Invalid about "text" or "client_id".
func (s *Store) VisitorMessage(ctx context.Context, wsID, visitorID, text, clientID string) (*Conversation, *Message, bool, error) {
	text, err := CheckText(text)
	if err != nil {
		return nil, nil, false, err
	}
	if err := checkClientID(clientID); err != nil {
		return nil, nil, false, err
	}
	var conv *Conversation
	var msg *Message
	var first bool
	for attempt := 0; ; attempt++ {
		conv, msg, first, err = s.visitorMessage(ctx, wsID, visitorID, text, clientID)
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

func (s *Store) visitorMessage(ctx context.Context, wsID, visitorID, text, clientID string) (conv *Conversation, msg *Message, first bool, err error) {
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		now := s.clk.Now()
		c, err := scanConv(tx.QueryRowContext(ctx, `SELECT `+convCols+` FROM conversations
			WHERE workspace_id = $1 AND visitor_id = $2 AND status = 'open' ORDER BY created_at DESC LIMIT 1`+s.db.ForUpdate(), wsID, visitorID))
		if errors.Is(err, sql.ErrNoRows) {
			c = &Conversation{ID: id.New("conv"), WorkspaceID: wsID, VisitorID: visitorID, Status: "open", CreatedAt: now, UpdatedAt: now}
			if _, err := tx.ExecContext(ctx, `INSERT INTO conversations (id, workspace_id, visitor_id, status, last_seq, created_at, updated_at)
				VALUES ($1, $2, $3, 'open', 0, $4, $4)`, c.ID, wsID, visitorID, db.Micro(now)); err != nil {
				return err
			}
			first = true
		} else if err != nil {
			return err
		}
		if clientID != "" {
			m, err := scanMsg(tx.QueryRowContext(ctx, `SELECT `+msgCols+` FROM messages WHERE conversation_id = $1 AND client_id = $2`, c.ID, clientID))
			if err == nil {
				conv, msg, first = c, m, false
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		if err := tx.QueryRowContext(ctx, `UPDATE conversations SET last_seq = last_seq + 1, updated_at = $1 WHERE id = $2 RETURNING last_seq`,
			db.Micro(now), c.ID).Scan(&c.LastSeq); err != nil {
			return err
		}
		c.UpdatedAt = now
		m := &Message{ID: id.New("msg"), ConversationID: c.ID, Seq: c.LastSeq, Author: "visitor", AuthorID: visitorID, Text: text, ClientID: clientID, CreatedAt: now}
		if _, err := tx.ExecContext(ctx, `INSERT INTO messages (id, workspace_id, conversation_id, seq, author_kind, author_id, text, client_id, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, m.ID, wsID, c.ID, m.Seq, m.Author, m.AuthorID, m.Text, m.ClientID, db.Micro(now)); err != nil {
			return err
		}
		conv, msg = c, m
		return nil
	})
	return conv, msg, first, err
}

// Messages returns up to limit messages of a conversation of the visitor after sequence number
// after, in order. Another visitor's or workspace's conversation is errs.NotFound.
func (s *Store) Messages(ctx context.Context, wsID, visitorID, convID string, after int64, limit int) ([]*Message, error) {
	if !id.Valid("conv", convID) {
		return nil, errs.NotFoundf("no such conversation")
	}
	var owner string
	err := s.db.QueryRowContext(ctx, `SELECT visitor_id FROM conversations WHERE workspace_id = $1 AND id = $2`, wsID, convID).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && owner != visitorID) {
		return nil, errs.NotFoundf("no such conversation")
	}
	if err != nil {
		return nil, errs.Op("chat.Messages", err)
	}
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	out, err := db.All(ctx, s.db, scanMsg, `SELECT `+msgCols+` FROM messages WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, convID, after, limit)
	return out, errs.Op("chat.Messages", err)
}

// MergeHook moves a merged visitor's conversations to the visitor that survives (V4). A visitor
// has at most one open conversation: when both have one, the merged visitor's is closed first and
// stays in the survivor's history.
func (s *Store) MergeHook(ctx context.Context, tx db.Queryer, wsID, from, to string) error {
	_, err := tx.ExecContext(ctx, `UPDATE conversations SET status = 'closed', updated_at = $1 WHERE workspace_id = $2 AND visitor_id = $3
		AND status = 'open' AND EXISTS (SELECT 1 FROM conversations o WHERE o.workspace_id = $2 AND o.visitor_id = $4 AND o.status = 'open')`,
		db.Micro(s.clk.Now()), wsID, from, to)
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
