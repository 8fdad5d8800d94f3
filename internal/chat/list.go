package chat

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
)

// Streams of the inbox.
const (
	StreamWaiting = "waiting" // open, waiting for a rep and owned by nobody; oldest first
	StreamMine    = "mine"    // open, with Filter.UserID a present participant; latest activity first
	StreamLive    = "live"    // open and owned; latest activity first
	StreamClosed  = "closed"  // closed; most recently closed first
	StreamAll     = "all"     // every conversation; latest activity first
)

// List limits.
const (
	DefaultListLimit = 50
	MaxListLimit     = 200
)

// Filter selects conversations for List.
type Filter struct {
	Stream    string // one of the Stream constants; "" is "all"
	UserID    string // the rep whose conversations "mine" lists; required for it
	VisitorID string // only this visitor's conversations (Visitor 360), when set
	Limit     int    // DefaultListLimit when 0, at most MaxListLimit
	// Before continues a listing after the last conversation of the previous page: pass
	// Cursor(stream, last). It is opaque to clients.
	Before string
}

// sortKey is the column a stream is ordered by.
func sortKey(stream string) (col string, asc bool) {
	switch stream {
	case StreamWaiting:
		return "waiting_since", true
	case StreamClosed:
		return "closed_at", false
	}
	return "updated_at", false
}

func keyOf(stream string, c *Conversation) int64 {
	switch stream {
	case StreamWaiting:
		return db.Micro(c.WaitingSince)
	case StreamClosed:
		return db.Micro(c.ClosedAt)
	}
	return db.Micro(c.UpdatedAt)
}

// Cursor returns the Filter.Before that continues a listing of stream after last, or "" when
// last is nil.
func Cursor(stream string, last *Conversation) string {
	if last == nil {
		return ""
	}
	if stream == "" {
		stream = StreamAll
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(keyOf(stream, last), 10) + "." + last.ID))
}

func parseCursor(s string) (int64, string, error) {
	bad := errs.Field(errs.Invalid, "before", "is not a cursor of this listing")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, "", bad
	}
	k, convID, ok := strings.Cut(string(b), ".")
	n, err := strconv.ParseInt(k, 10, 64)
	if !ok || err != nil || n < 0 || !id.Valid("conv", convID) {
		return 0, "", bad
	}
	return n, convID, nil
}

// List returns the conversations of a stream of the inbox, each with its participants and its
// last message (LastMessage), in the stream's order (see the Stream constants), one page at a
// time (see Filter). It returns errs.Invalid about "stream" for an unknown stream, "user_id"
// for "mine" without a user and "before" for a bad cursor.
func (s *Store) List(ctx context.Context, wsID string, f Filter) ([]*Conversation, error) {
	if f.Stream == "" {
		f.Stream = StreamAll
	}
	args := []any{wsID}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	var q strings.Builder
	q.WriteString(`SELECT ` + convCols + ` FROM conversations c WHERE c.workspace_id = $1`)
	switch f.Stream {
	case StreamWaiting:
		q.WriteString(` AND c.status = 'open' AND c.waiting_since > 0 AND c.assignee_id = ''`)
	case StreamMine:
		if f.UserID == "" {
			return nil, errs.Field(errs.Invalid, "user_id", "is required for the stream \"mine\"")
		}
		q.WriteString(` AND c.status = 'open' AND EXISTS (SELECT 1 FROM conversation_participants p
			WHERE p.conversation_id = c.id AND p.user_id = ` + arg(f.UserID) + ` AND p.left_at = 0)`)
	case StreamLive:
		q.WriteString(` AND c.status = 'open' AND c.assignee_id <> ''`)
	case StreamClosed:
		q.WriteString(` AND c.status = 'closed'`)
	case StreamAll:
	default:
		return nil, errs.Field(errs.Invalid, "stream", "must be one of waiting, mine, live, closed, all")
	}
	if f.VisitorID != "" {
		q.WriteString(` AND c.visitor_id = ` + arg(f.VisitorID))
	}
	col, asc := sortKey(f.Stream)
	cmp, dir := "<", "DESC"
	if asc {
		cmp, dir = ">", "ASC"
	}
	if f.Before != "" {
		k, convID, err := parseCursor(f.Before)
		if err != nil {
			return nil, err
		}
		kp, ip := arg(k), arg(convID)
		fmt.Fprintf(&q, ` AND (c.%s %s %s OR (c.%s = %s AND c.id %s %s))`, col, cmp, kp, col, kp, cmp, ip)
	}
	switch {
	case f.Limit <= 0:
		f.Limit = DefaultListLimit
	case f.Limit > MaxListLimit:
		f.Limit = MaxListLimit
	}
	fmt.Fprintf(&q, ` ORDER BY c.%s %s, c.id %s LIMIT %s`, col, dir, dir, arg(f.Limit))
	out, err := db.All(ctx, s.db, scanConv, q.String(), args...)
	if err == nil {
		err = loadParticipants(ctx, s.db, out...)
	}
	if err == nil {
		err = s.loadLastMessages(ctx, out)
	}
	if err != nil {
		return nil, errs.Op("chat.List", err)
	}
	return out, nil
}

var msgColsM = "m." + strings.ReplaceAll(msgCols, ", ", ", m.")

// loadLastMessages fills LastMessage of convs.
func (s *Store) loadLastMessages(ctx context.Context, convs []*Conversation) error {
	if len(convs) == 0 {
		return nil
	}
	byID, marks, args := idList(convs)
	msgs, err := db.All(ctx, s.db, scanMsg, `SELECT `+msgColsM+` FROM messages m JOIN conversations c ON c.id = m.conversation_id
		AND m.seq = c.last_seq WHERE c.id IN (`+marks+`)`, args...)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if c := byID[m.ConversationID]; c != nil {
			c.LastMessage = m
		}
	}
	return nil
}

// Counts returns how many conversations each stream of the inbox holds, for its badges: keys
// "waiting", "mine" (for userID; 0 when empty), "live", "closed" and "all".
func (s *Store) Counts(ctx context.Context, wsID, userID string) (map[string]int, error) {
	var waiting, live, closed, all int64
	err := s.db.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN status = 'open' AND waiting_since > 0 AND assignee_id = '' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN status = 'open' AND assignee_id <> '' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN status = 'closed' THEN 1 ELSE 0 END), 0),
		COUNT(*)
		FROM conversations WHERE workspace_id = $1`, wsID).Scan(&waiting, &live, &closed, &all)
	if err != nil {
		return nil, errs.Op("chat.Counts", err)
	}
	var mine int64
	if userID != "" {
		err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM conversation_participants p JOIN conversations c ON c.id = p.conversation_id
			WHERE p.workspace_id = $1 AND p.user_id = $2 AND p.left_at = 0 AND c.status = 'open'`, wsID, userID).Scan(&mine)
		if err != nil {
			return nil, errs.Op("chat.Counts", err)
		}
	}
	return map[string]int{StreamWaiting: int(waiting), StreamMine: int(mine), StreamLive: int(live), StreamClosed: int(closed), StreamAll: int(all)}, nil
}

// CheckCursor returns nil when s is empty or a cursor made by Cursor, and otherwise
// errs.Invalid about "before", so that a handler can refuse a bad one before listing.
func CheckCursor(s string) error {
	if s == "" {
		return nil
	}
	_, _, err := parseCursor(s)
	return err
}
