package chat

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
)

// checkRep refuses an actor that is not a rep with a user id.
func checkRep(a Actor, field string) error {
	if a.Kind != KindRep || a.ID == "" {
		if field != "" {
			return errs.Field(errs.Invalid, field, "must be a rep")
		}
		return errs.E(errs.Forbidden, "only a rep can do this")
	}
	return nil
}

// nameOf is a participant's name for messages, or a stand-in.
func nameOf(c *Conversation, userID string) string {
	if p := c.Participant(userID); p != nil && strings.TrimSpace(p.Name) != "" {
		return p.Name
	}
	return "another rep"
}

// openOf returns the id of the visitor's open conversation other than except, or "".
func (t *txn) openOf(visitorID, except string) (string, error) {
	var convID string
	err := t.tx.QueryRowContext(t.ctx, `SELECT id FROM conversations WHERE workspace_id = $1 AND visitor_id = $2 AND status = 'open' AND id <> $3`,
		t.ws, visitorID, except).Scan(&convID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return convID, err
}

func errOtherOpen(convID string) error {
	if convID == "" {
		return errs.E(errs.Conflict, "the visitor already has an open conversation")
	}
	return errs.E(errs.Conflict, "the visitor already has an open conversation (%s)", convID)
}

// Start opens a conversation with a visitor on the site (from Live View) with the rep's first
// message; the rep becomes its owner (assignee) and it does not wait. The caller has checked
// that the visitor exists. A retry with the same client id returns the conversation and message
// it started. It returns errs.Conflict when the visitor already has an open conversation (the
// message names it), errs.Forbidden when rep is not a rep, and errs.Invalid about "visitor_id",
// "text" or "client_id".
func (s *Store) Start(ctx context.Context, wsID string, rep Actor, visitorID, text, clientID string) (*Conversation, *Message, error) {
	if err := checkRep(rep, ""); err != nil {
		return nil, nil, err
	}
	if visitorID == "" {
		return nil, nil, errs.Field(errs.Invalid, "visitor_id", "is required")
	}
	text, err := checkMessage(text, clientID)
	if err != nil {
		return nil, nil, err
	}
	var conv *Conversation
	var msg *Message
	err = s.run(ctx, wsID, func(t *txn) error {
		open, err := t.openOf(visitorID, "")
		if err != nil {
			return err
		}
		if open != "" {
			c, err := t.lock(open)
			if err != nil {
				return err
			}
			if m, err := t.byClientID(c, KindRep, rep.ID, clientID); err == nil && m != nil && c.StartedBy == KindRep {
				conv, msg = c, m
				return nil
			}
			return errOtherOpen(open)
		}
		c := &Conversation{ID: id.New("conv"), WorkspaceID: wsID, VisitorID: visitorID, Status: StatusOpen, AssigneeID: rep.ID,
			StartedBy: KindRep, Participants: []Participant{}, CreatedAt: t.now, UpdatedAt: t.now}
		if err := t.insertConv(c); err != nil {
			return err
		}
		if err := t.join(c, rep, "owner"); err != nil {
			return err
		}
		if err := t.system(c, rep, rep.display()+" started the conversation"); err != nil {
			return err
		}
		m, err := t.addMessage(c, KindRep, rep.ID, rep.Name, text, clientID)
		if err != nil {
			return err
		}
		conv, msg = c, m
		return t.convEvent(c, "conversation.started", true)
	})
	if db.IsUniqueViolation(err) {
		return nil, nil, errOtherOpen("")
	}
	if err != nil {
		return nil, nil, errs.Op("chat.Start", err)
	}
	return conv, msg, nil
}

// RepMessage stores a rep's message. A repeat of an earlier message's client id returns that
// message, stored once. It returns errs.NotFound for an unknown or another workspace's
// conversation, errs.Forbidden when the rep is not a present participant ("accept or join the
// conversation first"), errs.Conflict when it is closed, and errs.Invalid about "text" or
// "client_id".
func (s *Store) RepMessage(ctx context.Context, wsID string, rep Actor, convID, text, clientID string) (*Message, error) {
	if err := checkRep(rep, ""); err != nil {
		return nil, err
	}
	text, err := checkMessage(text, clientID)
	if err != nil {
		return nil, err
	}
	var msg *Message
	err = s.inConv(ctx, wsID, convID, func(t *txn, c *Conversation) error {
		if m, err := t.byClientID(c, KindRep, rep.ID, clientID); m != nil || err != nil {
			msg = m
			return err
		}
		if !c.IsPresent(rep.ID) {
			return errs.E(errs.Forbidden, "accept or join the conversation first")
		}
		if c.Status != StatusOpen {
			return errClosed()
		}
		var err error
		msg, err = t.addMessage(c, KindRep, rep.ID, rep.Name, text, clientID)
		return err
	})
	if err != nil {
		return nil, errs.Op("chat.RepMessage", err)
	}
	return msg, nil
}

// BotMessage stores an automated message signed with the bot's name ("Bot" when empty). It
// returns errs.NotFound for an unknown or another workspace's conversation, errs.Conflict when it
// is closed, and errs.Invalid about "text" or "name".
func (s *Store) BotMessage(ctx context.Context, wsID, convID, name, text string) (*Message, error) {
	text, err := CheckText(text)
	if err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = "Bot"
	}
	if len(name) > 200 || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return nil, errs.Field(errs.Invalid, "name", "must be at most 200 characters without control characters")
	}
	var msg *Message
	err = s.inConv(ctx, wsID, convID, func(t *txn, c *Conversation) error {
		if c.Status != StatusOpen {
			return errClosed()
		}
		var err error
		msg, err = t.addMessage(c, KindBot, "", name, text, "")
		return err
	})
	if err != nil {
		return nil, errs.Op("chat.BotMessage", err)
	}
	return msg, nil
}

// stateChange names an operation that changes a conversation's state (see change).
type stateChange struct {
	op        string // the operation for errs.Op, such as "chat.Accept"
	kind      string // the kind of the "conv" event it emits, such as "conversation.accepted"
	toVisitor bool   // the event also goes to the visitor's subject
}

// change runs the operation sc on a conversation in one transaction: it locks the conversation
// and gives it to fn, which checks what it must, changes the conversation (and its participants
// through t) and returns the system message that tells of the change. change then saves the
// conversation, stores the system message (by the actor by) and emits the "conv" event of sc,
// in that order, and returns the conversation. When fn returns "" nothing changed: the
// conversation is returned as it is, nothing is saved and no event emitted. Errors are wrapped
// with errs.Op(sc.op, …).
func (s *Store) change(ctx context.Context, wsID string, sc stateChange, by Actor, convID string,
	fn func(t *txn, c *Conversation) (system string, err error)) (*Conversation, error) {
	var conv *Conversation
	err := s.inConv(ctx, wsID, convID, func(t *txn, c *Conversation) error {
		text, err := fn(t, c)
		if err != nil {
			return err
		}
		if text != "" {
			if err := t.save(c); err != nil {
				return err
			}
			if err := t.system(c, by, text); err != nil {
				return err
			}
			if err := t.convEvent(c, sc.kind, sc.toVisitor); err != nil {
				return err
			}
		}
		conv = c
		return nil
	})
	if err != nil {
		return nil, errs.Op(sc.op, err)
	}
	return conv, nil
}

// Accept takes an open conversation nobody owns: the rep becomes its owner and assignee, it stops
// waiting, and "<rep> joined the conversation" is stored. Of reps accepting at once exactly one
// wins. Accepting one's own conversation again changes nothing. It returns errs.Conflict
// "already accepted by <name>" when another rep owns it and when it is closed, and errs.NotFound
// for an unknown or another workspace's conversation.
func (s *Store) Accept(ctx context.Context, wsID string, rep Actor, convID string) (*Conversation, error) {
	if err := checkRep(rep, ""); err != nil {
		return nil, err
	}
	sc := stateChange{op: "chat.Accept", kind: "conversation.accepted"}
	return s.change(ctx, wsID, sc, rep, convID, func(t *txn, c *Conversation) (string, error) {
		if c.Status != StatusOpen {
			return "", errClosed()
		}
		if c.AssigneeID == rep.ID && c.IsPresent(rep.ID) {
			return "", nil // already theirs: nothing changes
		}
		if c.AssigneeID != "" && c.AssigneeID != rep.ID {
			return "", errs.E(errs.Conflict, "already accepted by %s", nameOf(c, c.AssigneeID))
		}
		c.AssigneeID, c.WaitingSince = rep.ID, time.Time{}
		if err := t.join(c, rep, "owner"); err != nil {
			return "", err
		}
		return rep.display() + " joined the conversation", nil
	})
}

// Transfer makes another rep the owner and assignee of an open conversation; the previous owner
// leaves it, and "<by> transferred the conversation to <to>" is stored. by must be the owner or
// an admin. It returns errs.Forbidden otherwise, errs.Invalid about "to" for a transfer to
// oneself or to what is not a rep, errs.Conflict when to already owns it or it is closed, and
// errs.NotFound for an unknown or another workspace's conversation.
func (s *Store) Transfer(ctx context.Context, wsID string, by Actor, convID string, to Actor) (*Conversation, error) {
	if err := checkRep(by, ""); err != nil {
		return nil, err
	}
	if err := checkRep(to, "to"); err != nil {
		return nil, err
	}
	if to.ID == by.ID {
		return nil, errs.Field(errs.Invalid, "to", "you cannot transfer a conversation to yourself")
	}
	sc := stateChange{op: "chat.Transfer", kind: "conversation.transferred"}
	return s.change(ctx, wsID, sc, by, convID, func(t *txn, c *Conversation) (string, error) {
		owner := c.AssigneeID == by.ID && c.IsPresent(by.ID)
		if !owner && !by.Admin {
			return "", errs.E(errs.Forbidden, "only the conversation's owner or an admin can transfer it")
		}
		if c.Status != StatusOpen {
			return "", errClosed()
		}
		if c.AssigneeID == to.ID {
			return "", errs.E(errs.Conflict, "%s already owns the conversation", nameOf(c, to.ID))
		}
		if c.AssigneeID != "" {
			if err := t.leave(c, c.AssigneeID); err != nil {
				return "", err
			}
		}
		if err := t.join(c, to, "owner"); err != nil {
			return "", err
		}
		c.AssigneeID, c.WaitingSince = to.ID, time.Time{}
		return by.display() + " transferred the conversation to " + to.display(), nil
	})
}

// Invite adds a rep to an open conversation as a guest and stores "<by> invited <guest> to the
// conversation". by must be a present participant or an admin. It returns errs.Forbidden
// otherwise, errs.Invalid about "guest" when it is not a rep, errs.Conflict when the guest is
// already in the conversation or it is closed, and errs.NotFound for an unknown or another
// workspace's conversation.
func (s *Store) Invite(ctx context.Context, wsID string, by Actor, convID string, guest Actor) (*Conversation, error) {
	if err := checkRep(by, ""); err != nil {
		return nil, err
	}
	if err := checkRep(guest, "guest"); err != nil {
		return nil, err
	}
	sc := stateChange{op: "chat.Invite", kind: "conversation.joined"}
	return s.change(ctx, wsID, sc, by, convID, func(t *txn, c *Conversation) (string, error) {
		if !c.IsPresent(by.ID) && !by.Admin {
			return "", errs.E(errs.Forbidden, "join the conversation before inviting others")
		}
		if c.Status != StatusOpen {
			return "", errClosed()
		}
		if c.IsPresent(guest.ID) {
			return "", errs.E(errs.Conflict, "%s is already in the conversation", nameOf(c, guest.ID))
		}
		if err := t.join(c, guest, "guest"); err != nil {
			return "", err
		}
		if by.ID == guest.ID {
			return by.display() + " joined the conversation", nil
		}
		return by.display() + " invited " + guest.display() + " to the conversation", nil
	})
}

// Leave takes a guest out of an open conversation and stores "<rep> left the conversation". It
// returns errs.Forbidden when the rep is not in the conversation, errs.Conflict for its owner
// (who must transfer or close it instead) and when it is closed, and errs.NotFound for an unknown
// or another workspace's conversation.
func (s *Store) Leave(ctx context.Context, wsID string, rep Actor, convID string) (*Conversation, error) {
	if err := checkRep(rep, ""); err != nil {
		return nil, err
	}
	sc := stateChange{op: "chat.Leave", kind: "conversation.left"}
	return s.change(ctx, wsID, sc, rep, convID, func(t *txn, c *Conversation) (string, error) {
		if !c.IsPresent(rep.ID) {
			return "", errs.E(errs.Forbidden, "you are not in this conversation")
		}
		if c.Status != StatusOpen {
			return "", errClosed()
		}
		if c.AssigneeID == rep.ID || c.Participant(rep.ID).Role == "owner" {
			return "", errs.E(errs.Conflict, "the owner cannot leave the conversation: transfer or close it instead")
		}
		if err := t.leave(c, rep.ID); err != nil {
			return "", err
		}
		return rep.display() + " left the conversation", nil
	})
}

// Close closes an open conversation and stores "Conversation closed by <by>". by is a present
// participant or an admin (Kind rep), the visitor whose conversation it is (Kind visitor, ID the
// visitor id), or automation (Kind bot or system). It returns errs.Forbidden for a rep who may
// not, errs.NotFound for another visitor's, an unknown or another workspace's conversation, and
// errs.Conflict when it is already closed.
func (s *Store) Close(ctx context.Context, wsID string, by Actor, convID string) (*Conversation, error) {
	sc := stateChange{op: "chat.Close", kind: "conversation.closed"}
	return s.change(ctx, wsID, sc, by, convID, func(t *txn, c *Conversation) (string, error) {
		var closedBy string
		switch by.Kind {
		case KindVisitor:
			if by.ID == "" || c.VisitorID != by.ID {
				return "", errNoConv()
			}
			closedBy = KindVisitor
		case KindRep:
			if by.ID == "" || (!c.IsPresent(by.ID) && !by.Admin) {
				return "", errs.E(errs.Forbidden, "only the conversation's participants or an admin can close it")
			}
			closedBy = by.ID
		case KindBot, KindSystem:
			closedBy = by.Kind
		default:
			return "", errs.E(errs.Forbidden, "only a rep, the visitor or automation can close a conversation")
		}
		if c.Status != StatusOpen {
			return "", errs.E(errs.Conflict, "the conversation is already closed")
		}
		c.Status, c.ClosedAt, c.ClosedBy, c.WaitingSince = StatusClosed, t.now, closedBy, time.Time{}
		return "Conversation closed by " + by.display(), nil
	})
}

// Reopen reopens a closed conversation and stores "Conversation reopened by <by>"; by becomes its
// owner and assignee when it has none present. by must be a present participant or an admin. It
// returns errs.Forbidden otherwise, errs.Conflict when it is open already or when the visitor has
// another open conversation (the message names it), and errs.NotFound for an unknown or another
// workspace's conversation.
func (s *Store) Reopen(ctx context.Context, wsID string, by Actor, convID string) (*Conversation, error) {
	if err := checkRep(by, ""); err != nil {
		return nil, err
	}
	sc := stateChange{op: "chat.Reopen", kind: "conversation.reopened", toVisitor: true}
	conv, err := s.change(ctx, wsID, sc, by, convID, func(t *txn, c *Conversation) (string, error) {
		if !c.IsPresent(by.ID) && !by.Admin {
			return "", errs.E(errs.Forbidden, "only the conversation's participants or an admin can reopen it")
		}
		if c.Status == StatusOpen {
			return "", errs.E(errs.Conflict, "the conversation is already open")
		}
		other, err := t.openOf(c.VisitorID, c.ID)
		if err != nil {
			return "", err
		}
		if other != "" {
			return "", errOtherOpen(other)
		}
		c.Status, c.ClosedAt, c.ClosedBy, c.WaitingSince = StatusOpen, time.Time{}, "", time.Time{}
		if c.AssigneeID == "" || !c.IsPresent(c.AssigneeID) {
			if err := t.join(c, by, "owner"); err != nil {
				return "", err
			}
			c.AssigneeID = by.ID
		}
		return "Conversation reopened by " + by.display(), nil
	})
	if db.IsUniqueViolation(err) {
		// Another transaction opened a conversation for the visitor at once.
		return nil, errOtherOpen("")
	}
	return conv, err
}

// MarkRead records that by read the conversation up to seq: the visitor's position (Kind
// visitor, their own conversation) or a present participant's (Kind rep). Positions only move
// forward and a seq beyond the last message counts as the last; it returns the stored position
// and publishes a "read" event when it moved. It returns errs.Invalid about "seq" when negative,
// errs.NotFound for another visitor's, an unknown or another workspace's conversation, and
// errs.Forbidden for a rep who is not a present participant.
func (s *Store) MarkRead(ctx context.Context, wsID string, by Actor, convID string, seq int64) (int64, error) {
	if seq < 0 {
		return 0, errs.Field(errs.Invalid, "seq", "must be 0 or more")
	}
	// Most receipts change nothing (a client repeats what it read): answer those without taking
	// a write transaction, which on SQLite is the database's one writer.
	if c, err := s.Get(ctx, wsID, convID); err == nil {
		switch {
		case by.Kind == KindVisitor && c.VisitorID == by.ID && min(seq, c.LastSeq) <= c.VisitorReadSeq:
			return c.VisitorReadSeq, nil
		case by.Kind == KindRep && c.IsPresent(by.ID) && min(seq, c.LastSeq) <= c.Participant(by.ID).ReadSeq:
			return c.Participant(by.ID).ReadSeq, nil
		}
	}
	var stored int64
	err := s.inConv(ctx, wsID, convID, func(t *txn, c *Conversation) error {
		seq = min(seq, c.LastSeq)
		switch by.Kind {
		case KindVisitor:
			if by.ID == "" || c.VisitorID != by.ID {
				return errNoConv()
			}
			stored = c.VisitorReadSeq
			if seq <= stored {
				return nil
			}
			if _, err := t.tx.ExecContext(t.ctx, `UPDATE conversations SET visitor_read_seq = $1 WHERE id = $2`, seq, c.ID); err != nil {
				return err
			}
		case KindRep:
			if by.ID == "" || !c.IsPresent(by.ID) {
				return errs.E(errs.Forbidden, "only the conversation's participants have read receipts")
			}
			stored = c.Participant(by.ID).ReadSeq
			if seq <= stored {
				return nil
			}
			if _, err := t.tx.ExecContext(t.ctx, `UPDATE conversation_participants SET read_seq = $1 WHERE conversation_id = $2 AND user_id = $3`,
				seq, c.ID, by.ID); err != nil {
				return err
			}
		default:
			return errs.E(errs.Forbidden, "only the visitor and the conversation's reps have read receipts")
		}
		stored = seq
		return t.emit(Event{T: "read", Conv: c.ID, Visitor: c.VisitorID, Seq: seq, Author: by.Kind, AuthorID: by.ID, At: t.now}, false,
			convSubject(t.ws, c.ID))
	})
	if err != nil {
		return 0, errs.Op("chat.MarkRead", err)
	}
	return stored, nil
}

// LastSeqs returns the last sequence number of each of the workspace's conversations named in ids
// (unknown ones and other workspaces' are left out), for clients to check they missed nothing.
func (s *Store) LastSeqs(ctx context.Context, wsID string, ids []string) (map[string]int64, error) {
	out := make(map[string]int64, len(ids))
	err := s.pairs(ctx, wsID, ids, `SELECT id, last_seq FROM conversations WHERE workspace_id = $1 AND id IN (%s)`,
		func(rows *sql.Rows) error {
			var id string
			var seq int64
			if err := rows.Scan(&id, &seq); err != nil {
				return err
			}
			out[id] = seq
			return nil
		})
	return out, errs.Op("chat.LastSeqs", err)
}

// OpenConversations returns the open conversation of each of the workspace's visitors named in
// visitorIDs that has one (Live View's in-conversation flag), by visitor id.
func (s *Store) OpenConversations(ctx context.Context, wsID string, visitorIDs []string) (map[string]string, error) {
	out := make(map[string]string, len(visitorIDs))
	err := s.pairs(ctx, wsID, visitorIDs, `SELECT visitor_id, id FROM conversations WHERE workspace_id = $1 AND status = 'open' AND visitor_id IN (%s)`,
		func(rows *sql.Rows) error {
			var vid, id string
			if err := rows.Scan(&vid, &id); err != nil {
				return err
			}
			out[vid] = id
			return nil
		})
	return out, errs.Op("chat.OpenConversations", err)
}

// pairs runs query (its %s the placeholders of keys, $2 on) for the workspace, 500 keys a query,
// calling row for every row.
func (s *Store) pairs(ctx context.Context, wsID string, keys []string, query string, row func(*sql.Rows) error) error {
	return db.InChunks(keys, 500, 2, func(marks string, args []any) error {
		rows, err := s.db.QueryContext(ctx, fmt.Sprintf(query, marks), append([]any{wsID}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := row(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// Typing publishes a typing indicator (nothing is stored). by is the visitor whose conversation
// it is or a present participant. It returns errs.NotFound for another visitor's, an unknown or
// another workspace's conversation, errs.Forbidden for a rep who is not a present participant,
// and errs.Conflict when the conversation is closed.
func (s *Store) Typing(ctx context.Context, wsID string, by Actor, convID string, on bool) error {
	c, err := getConv(ctx, s.db, wsID, convID, "")
	if err != nil {
		return errs.Op("chat.Typing", err)
	}
	ev := Event{T: "typing", Conv: c.ID, Visitor: c.VisitorID, Author: by.Kind, AuthorID: by.ID, On: on, At: s.clk.Now()}
	switch by.Kind {
	case KindVisitor:
		if by.ID == "" || c.VisitorID != by.ID {
			return errNoConv()
		}
	case KindRep:
		if by.ID == "" || !c.IsPresent(by.ID) {
			return errs.E(errs.Forbidden, "accept or join the conversation first")
		}
		ev.Name = by.Name
	default:
		return errs.E(errs.Forbidden, "only the visitor and the conversation's reps type")
	}
	if c.Status != StatusOpen {
		return errClosed()
	}
	s.publish(ctx, []outEvent{{ev: ev, subjects: []string{convSubject(wsID, c.ID)}}})
	return nil
}

// Loads returns, by user id, how many open conversations each rep of the workspace takes part
// in now (not having left): the load routing compares with a rep's cap. Reps without any are
// left out.
func (s *Store) Loads(ctx context.Context, wsID string) (map[string]int, error) {
	out := map[string]int{}
	// From the open conversations (conversations_inbox) to their participants: a CROSS JOIN
	// keeps SQLite from starting at every participant row the workspace ever had.
	rows, err := s.db.QueryContext(ctx, `SELECT p.user_id, COUNT(*) FROM conversations c CROSS JOIN conversation_participants p
		WHERE c.workspace_id = $1 AND c.status = 'open' AND p.conversation_id = c.id AND p.left_at = 0 GROUP BY p.user_id`, wsID)
	if err != nil {
		return nil, errs.Op("chat.Loads", err)
	}
	defer rows.Close()
	for rows.Next() {
		var u string
		var n int
		if err := rows.Scan(&u, &n); err != nil {
			return nil, errs.Op("chat.Loads", err)
		}
		out[u] = n
	}
	return out, errs.Op("chat.Loads", rows.Err())
}

// PreviousRep returns the rep who owned the visitor's latest conversation other than except
// ("" when there is none): routing's "previous rep" (R1).
func (s *Store) PreviousRep(ctx context.Context, wsID, visitorID, except string) (string, error) {
	var rep string
	err := s.db.QueryRowContext(ctx, `SELECT assignee_id FROM conversations WHERE workspace_id = $1 AND visitor_id = $2
		AND id <> $3 AND assignee_id <> '' ORDER BY created_at DESC LIMIT 1`, wsID, visitorID, except).Scan(&rep)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return rep, errs.Op("chat.PreviousRep", err)
}
