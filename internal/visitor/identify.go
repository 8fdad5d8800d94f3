package visitor

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/email/address"
	"github.com/beckonhq/beckon/internal/errs"
)

// NormalizeEmail checks an email address with Beckon's one validator (internal/email/address:
// RFC 5321/5322 syntax, internationalised addresses included) and returns its normalized form
// (lower case, NFC). It returns errs.Invalid about "email", saying what is wrong.
func NormalizeEmail(s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", errs.Field(errs.Invalid, "email", "is required")
	}
	a, err := address.Parse(s)
	if err != nil {
		return "", err
	}
	return a.String(), nil
}

// Identify sets the email of a visitor (normalised to lower case) as proven — the customer's
// server signed it (SEC3) — and returns the id of the visitor that carries it from now on. When
// another live visitor of the workspace has the same proven email, the two records are one person
// and merge: the one seen first survives, the other's
// sessions and page views move to it, their session counts add up, their first and last seen
// times widen, a "denied" consent wins over "granted", and the other record points to the
// survivor (merged_into), so that lookups by its id find the survivor. The hooks registered with
// OnMerge then move what other packages keep about the visitor, in the same transaction.
//
// It runs in tx, which should be a transaction (the caller's, so that setting fields and merging
// commit together); with a nil tx it runs in a transaction of its own. Identifications in a
// workspace are serialised by a lock on the workspace's row, so two visitors identifying with one
// email at once merge into one. It returns errs.Invalid about "email", errs.NotFound for an
// unknown visitor or workspace, and a hook's error.
func (s *Service) Identify(ctx context.Context, tx db.Queryer, wsID, visitorID, email string) (survivorID string, err error) {
	email, err = NormalizeEmail(email)
	if err != nil {
		return "", err
	}
	if tx == nil {
		err = s.db.InTx(ctx, func(t *sql.Tx) error {
			survivorID, err = s.identify(ctx, t, wsID, visitorID, email)
			return err
		})
		return survivorID, errs.Op("visitor.Identify", err)
	}
	survivorID, err = s.identify(ctx, tx, wsID, visitorID, email)
	return survivorID, errs.Op("visitor.Identify", err)
}

// Claim records an email a visitor gave without proof — a form, a chat answer, identify on a
// workspace without identity verification — on that visitor's record only, and never merges:
// anyone can type anyone's address, and a merge would hand them that person's history. Reps and
// the CRM still see every record with the address. A record whose email was proven keeps it.
// It returns the visitor's id (after following merges), errs.Invalid about "email", or
// errs.NotFound.
func (s *Service) Claim(ctx context.Context, tx db.Queryer, wsID, visitorID, email string) (string, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return "", err
	}
	if tx == nil {
		tx = s.db
	}
	v, err := resolve(ctx, tx, wsID, visitorID, "")
	if err != nil {
		return "", errs.Op("visitor.Claim", err)
	}
	_, err = tx.ExecContext(ctx, `UPDATE visitors SET email = $1, updated_at = $2 WHERE workspace_id = $3 AND id = $4 AND email_verified = FALSE`,
		email, db.Micro(s.clk.Now()), wsID, v.ID)
	return v.ID, errs.Op("visitor.Claim", err)
}

// lockWorkspace is the clause that serialises identifications in a workspace on PostgreSQL.
// FOR NO KEY UPDATE conflicts with itself but not with the key-share locks that inserts of rows
// referencing the workspace take, so page views keep flowing meanwhile.
func (s *Service) lockWorkspace() string {
	if s.db.Engine == db.Postgres {
		return " FOR NO KEY UPDATE"
	}
	return ""
}

func (s *Service) identify(ctx context.Context, tx db.Queryer, wsID, visitorID, email string) (string, error) {
	var one int
	if err := tx.QueryRowContext(ctx, `SELECT 1 FROM workspaces WHERE id = $1`+s.lockWorkspace(), wsID).Scan(&one); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", errs.NotFoundf("no such workspace")
		}
		return "", err
	}
	// Merges and emails change only under the workspace's lock, which this transaction holds.
	v, err := resolve(ctx, tx, wsID, visitorID, "")
	if err != nil {
		return "", err
	}
	// Only records whose email was proven too merge: an unproven claim of the address (Claim)
	// must never join, or its holder would share the proven person's record.
	var otherID string
	err = tx.QueryRowContext(ctx, `SELECT id FROM visitors WHERE workspace_id = $1 AND email = $2 AND email_verified = TRUE
		AND merged_into = '' AND id <> $3 ORDER BY first_seen_at, id LIMIT 1`, wsID, email, v.ID).Scan(&otherID)
	if errors.Is(err, sql.ErrNoRows) {
		_, err = tx.ExecContext(ctx, `UPDATE visitors SET email = $1, email_verified = TRUE, updated_at = $2 WHERE id = $3`, email, db.Micro(s.clk.Now()), v.ID)
		return v.ID, err
	}
	if err != nil {
		return "", err
	}
	return s.merge(ctx, tx, wsID, v.ID, otherID, email)
}

// merge merges two live visitors a and b of a workspace, which the caller has checked, and gives
// the survivor the email.
func (s *Service) merge(ctx context.Context, tx db.Queryer, wsID, a, b, email string) (string, error) {
	if b < a {
		a, b = b, a
	}
	// Lock both rows in id order, as every writer that locks several visitors does.
	rows := make([]*Visitor, 0, 2)
	for _, vid := range []string{a, b} {
		v, err := scanVisitor(tx.QueryRowContext(ctx, `SELECT `+visitorCols+` FROM visitors WHERE workspace_id = $1 AND id = $2`+
			s.db.ForUpdate(), wsID, vid))
		if err != nil {
			return "", fmt.Errorf("lock visitor %s: %w", vid, err)
		}
		rows = append(rows, v)
	}
	win, lose := rows[0], rows[1]
	if lose.FirstSeenAt.Before(win.FirstSeenAt) || (lose.FirstSeenAt.Equal(win.FirstSeenAt) && lose.ID < win.ID) {
		win, lose = lose, win
	}
	now := db.Micro(s.clk.Now())
	first, last := win.FirstSeenAt, win.LastSeenAt
	if lose.FirstSeenAt.Before(first) {
		first = lose.FirstSeenAt
	}
	last = later(last, lose.LastSeenAt)
	consent := win.Consent // a denial wins, then any answer over none
	if lose.Consent == ConsentDenied || consent == "" {
		consent = lose.Consent
	}
	steps := []struct {
		q    string
		args []any
	}{
		{`UPDATE visitor_sessions SET visitor_id = $1 WHERE workspace_id = $2 AND visitor_id = $3`, []any{win.ID, wsID, lose.ID}},
		{`UPDATE page_views SET visitor_id = $1 WHERE workspace_id = $2 AND visitor_id = $3`, []any{win.ID, wsID, lose.ID}},
		// Earlier merges into the loser now point at the survivor: chains stay one link long.
		{`UPDATE visitors SET merged_into = $1, updated_at = $2 WHERE workspace_id = $3 AND merged_into = $4`, []any{win.ID, now, wsID, lose.ID}},
		{`UPDATE visitors SET merged_into = $1, updated_at = $2 WHERE id = $3`, []any{win.ID, now, lose.ID}},
		{`UPDATE visitors SET email = $1, email_verified = TRUE, consent = $2, first_seen_at = $3, last_seen_at = $4,
			sessions_count = sessions_count + $5, updated_at = $6 WHERE id = $7`,
			[]any{email, consent, db.Micro(first), db.Micro(last), lose.Sessions, now, win.ID}},
	}
	for _, st := range steps {
		if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
			return "", fmt.Errorf("merge %s into %s: %w", lose.ID, win.ID, err)
		}
	}
	s.hooksMu.RLock()
	hooks := append([]MergeHook(nil), s.hooks...)
	s.hooksMu.RUnlock()
	for _, h := range hooks {
		if err := h(ctx, tx, wsID, lose.ID, win.ID); err != nil {
			return "", err
		}
	}
	s.log.Info("visitors merged", "workspace", wsID, "from", lose.ID, "into", win.ID)
	return win.ID, nil
}
