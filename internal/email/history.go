package email

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
)

// Statuses of a sent message.
const (
	StatusQueued     = "queued"     // waiting for its first attempt
	StatusRetrying   = "retrying"   // an attempt failed; another is scheduled
	StatusSent       = "sent"       // the mail server accepted it
	StatusFailed     = "failed"     // refused by the mail server, or out of attempts
	StatusSuppressed = "suppressed" // every recipient was suppressed by the time it was sent
	StatusBounced    = "bounced"    // accepted, then a bounce came back for a recipient
	StatusComplained = "complained" // a recipient reported it as spam
)

// Record is the history of one email: what admins see of it (never its body).
type Record struct {
	ID         string    `json:"id"`
	Template   string    `json:"template,omitempty"`
	Subject    string    `json:"subject"`
	To         []string  `json:"to"`
	Cc         []string  `json:"cc,omitempty"`
	Bcc        []string  `json:"bcc,omitempty"`
	Suppressed []string  `json:"suppressed"` // recipients left out, each "address (reason)"
	Status     string    `json:"status"`
	Attempts   int       `json:"attempts"`
	LastError  string    `json:"last_error,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	SentAt     time.Time `json:"sent_at,omitzero"`
	Events     []Event   `json:"events,omitempty"`
}

// Event is one step of a message's history.
type Event struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"` // queued, suppressed, attempt_failed, sent, failed, bounced, complained
	Detail string    `json:"detail,omitempty"`
}

type recipients struct {
	To  []string `json:"to"`
	Cc  []string `json:"cc,omitempty"`
	Bcc []string `json:"bcc,omitempty"`
}

const recordCols = `id, template, subject, recipients, suppressed, status, attempts, last_error, created_at, updated_at, sent_at`

func scanRecord(r db.Scanner) (*Record, error) {
	var x Record
	var rcpt, sup string
	var c, u, s int64
	if err := r.Scan(&x.ID, &x.Template, &x.Subject, &rcpt, &sup, &x.Status, &x.Attempts, &x.LastError, &c, &u, &s); err != nil {
		return nil, err
	}
	var rc recipients
	_ = json.Unmarshal([]byte(rcpt), &rc)
	x.To, x.Cc, x.Bcc = rc.To, rc.Cc, rc.Bcc
	if x.To == nil {
		x.To = []string{}
	}
	_ = json.Unmarshal([]byte(sup), &x.Suppressed)
	if x.Suppressed == nil {
		x.Suppressed = []string{}
	}
	x.CreatedAt, x.UpdatedAt = db.Time(c), db.Time(u)
	if s != 0 {
		x.SentAt = db.Time(s)
	}
	return &x, nil
}

// Filter narrows Messages.
type Filter struct {
	Status string // one of the statuses, or "" for all
	To     string // an address (any recipient field), or "" for all
	Cursor string // Cursor of the last record of the previous page; "" for the first page
	Limit  int    // 1..MaxListed; 0: MaxListed
}

// Cursor returns the cursor that lists the records after r (Filter.Cursor).
func (r *Record) Cursor() string { return timeCursor(r.CreatedAt, r.ID) }

// Messages lists workspace wsID's emails, newest first, without their events. It returns
// errs.Invalid for an unknown status or a bad address.
func (s *Store) Messages(ctx context.Context, wsID string, f Filter) ([]*Record, error) {
	switch f.Status {
	case "", StatusQueued, StatusRetrying, StatusSent, StatusFailed, StatusSuppressed, StatusBounced, StatusComplained:
	default:
		return nil, errs.Field(errs.Invalid, "status", "%q is not a message status", f.Status)
	}
	q := `SELECT ` + recordCols + ` FROM email_messages WHERE workspace_id = $1`
	cond, args, err := afterCursor(f.Cursor, "id", 2)
	if err != nil {
		return nil, err
	}
	q += cond
	args = append([]any{wsID}, args...)
	if f.Status != "" {
		args = append(args, f.Status)
		q += fmt.Sprintf(` AND status = $%d`, len(args))
	}
	if f.To != "" {
		key, err := Key(f.To)
		if err != nil {
			return nil, errs.Field(errs.Invalid, "to", "is not an email address")
		}
		// recipients holds JSON strings; a quoted match cannot hit a longer address.
		args = append(args, "%"+strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(jsonString(key))+"%")
		q += fmt.Sprintf(` AND LOWER(recipients) LIKE $%d ESCAPE '\'`, len(args))
	}
	q += ` ORDER BY created_at DESC, id LIMIT ` + strconv.Itoa(listLimit(f.Limit))
	out, err := db.All(ctx, s.d, scanRecord, q, args...)
	if err != nil {
		return nil, fmt.Errorf("email.Messages: %w", err)
	}
	return out, nil
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Message returns one email of workspace wsID with its events, or errs.NotFound.
func (s *Store) Message(ctx context.Context, wsID, id string) (*Record, error) {
	out, err := db.All(ctx, s.d, scanRecord, `SELECT `+recordCols+` FROM email_messages WHERE workspace_id = $1 AND id = $2`, wsID, id)
	if err != nil {
		return nil, fmt.Errorf("email.Message: %w", err)
	}
	if len(out) == 0 {
		return nil, errs.NotFoundf("no such email")
	}
	r := out[0]
	r.Events, err = db.All(ctx, s.d, func(sc db.Scanner) (Event, error) {
		var e Event
		var at int64
		err := sc.Scan(&at, &e.Kind, &e.Detail)
		e.At = db.Time(at)
		return e, err
	}, `SELECT at, kind, detail FROM email_events WHERE message_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("email.Message: %w", err)
	}
	return r, nil
}

// record inserts the history row of a message being queued, with its "queued" event.
func (s *Store) record(ctx context.Context, q db.Queryer, wsID, id string, m Message, suppressed []string, status string) error {
	rc, _ := json.Marshal(recipients{To: m.To, Cc: m.Cc, Bcc: m.Bcc})
	if suppressed == nil {
		suppressed = []string{}
	}
	sup, _ := json.Marshal(suppressed)
	now := db.Micro(s.clk.Now())
	if _, err := q.ExecContext(ctx, `INSERT INTO email_messages (id, workspace_id, template, subject, recipients, suppressed, status, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`, id, wsID, clip(m.Template, 100), m.Subject, string(rc), string(sup), status, now); err != nil {
		return err
	}
	detail := ""
	if len(suppressed) > 0 {
		detail = "left out (suppressed): " + strings.Join(suppressed, ", ")
	}
	return s.event(ctx, q, id, status, detail)
}

// event appends an event to message id's history.
func (s *Store) event(ctx context.Context, q db.Queryer, id, kind, detail string) error {
	_, err := q.ExecContext(ctx, `INSERT INTO email_events (message_id, seq, at, kind, detail)
		SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4 FROM email_events WHERE message_id = $1`,
		id, db.Micro(s.clk.Now()), kind, clip(detail, 1000))
	return err
}

// update sets a message's status after an attempt, with an event, in one transaction.
func (s *Store) update(ctx context.Context, id, status, kind, detail string, attempts int, suppressed []string) error {
	return s.d.InTx(ctx, func(tx *sql.Tx) error {
		// The message's row is locked first, so that two writers of its events (the send job, a
		// bounce) take their turns and number them in order.
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM email_messages WHERE id = $1`+s.d.ForUpdate(), id).Scan(&one); err != nil {
			return err
		}
		now := db.Micro(s.clk.Now())
		q := `UPDATE email_messages SET status = $1, attempts = $2, last_error = $3, updated_at = $4`
		args := []any{status, attempts, "", now}
		if status != StatusSent {
			args[2] = clip(detail, 1000)
		} else {
			q += `, sent_at = $4`
		}
		if suppressed != nil {
			sup, _ := json.Marshal(suppressed)
			args = append(args, string(sup))
			q += fmt.Sprintf(`, suppressed = $%d`, len(args))
		}
		args = append(args, id)
		q += fmt.Sprintf(` WHERE id = $%d`, len(args))
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
		return s.event(ctx, tx, id, kind, detail)
	})
}

// MarkBounced records on message id (of any workspace: bounces arrive unauthenticated) that a
// recipient bounced or complained; kind is StatusBounced or StatusComplained. It returns the
// message's workspace, or errs.NotFound for an unknown id.
func (s *Store) MarkBounced(ctx context.Context, id, kind, detail string) (wsID string, err error) {
	err = s.d.InTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT workspace_id FROM email_messages WHERE id = $1`+s.d.ForUpdate(), id).Scan(&wsID); err == sql.ErrNoRows {
			return errs.NotFoundf("no such email")
		} else if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE email_messages SET status = $1, updated_at = $2 WHERE id = $3`, kind, db.Micro(s.clk.Now()), id); err != nil {
			return err
		}
		return s.event(ctx, tx, id, kind, detail)
	})
	return wsID, errs.Op("email.MarkBounced", err)
}

// noteEvent appends an event to message id (of any workspace) without changing its status. It
// returns the message's workspace, or errs.NotFound.
func (s *Store) noteEvent(ctx context.Context, id, kind, detail string) (wsID string, err error) {
	err = s.d.InTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT workspace_id FROM email_messages WHERE id = $1`+s.d.ForUpdate(), id).Scan(&wsID); err == sql.ErrNoRows {
			return errs.NotFoundf("no such email")
		} else if err != nil {
			return err
		}
		return s.event(ctx, tx, id, kind, detail)
	})
	return wsID, errs.Op("email.noteEvent", err)
}

// recipientsOf returns the recipients (as keys) of message id of any workspace; none for an
// unknown or empty id.
func (s *Store) recipientsOf(ctx context.Context, id string) (map[string]bool, error) {
	out := map[string]bool{}
	if id == "" {
		return out, nil
	}
	var rcpt string
	err := s.d.QueryRowContext(ctx, `SELECT recipients FROM email_messages WHERE id = $1`, id).Scan(&rcpt)
	if err == sql.ErrNoRows {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("email.recipientsOf: %w", err)
	}
	var rc recipients
	if err := json.Unmarshal([]byte(rcpt), &rc); err != nil {
		return out, nil
	}
	for _, l := range [][]string{rc.To, rc.Cc, rc.Bcc} {
		for _, a := range l {
			out[a] = true
		}
	}
	return out, nil
}
