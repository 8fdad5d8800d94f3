package visitor

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
)

// History is one page of a visitor's history for Visitor 360 (V6): the visitor, whether their
// email was proven, and their sessions, newest first, each with its page views.
type History struct {
	Visitor *Visitor `json:"visitor"`
	// EmailVerified: the email was proven by a token the customer's server signed (SEC3);
	// otherwise it was only claimed (a form, a chat answer, an unsigned identify).
	EmailVerified bool             `json:"email_verified"`
	Sessions      []SessionHistory `json:"sessions"`
	// Next is the cursor of the next, older page (HistoryQuery.Before); "" on the last page.
	Next string `json:"next"`
}

// SessionHistory is a session with its page views, newest first.
type SessionHistory struct {
	Session
	Views []PageView `json:"views"`
	// MoreViews counts the session's page views beyond Views (HistoryQuery.Views limits them).
	MoreViews int `json:"more_views"`
}

// HistoryQuery selects a page of History.
type HistoryQuery struct {
	// Before is a cursor from History.Next: the page starts after that session. "" starts at the
	// newest session.
	Before string
	// Sessions per page: default 10, at most 50.
	Sessions int
	// Views per session: default 50, at most 500.
	Views int
}

// Limits of HistoryQuery.
const (
	DefaultHistorySessions = 10
	MaxHistorySessions     = 50
	DefaultHistoryViews    = 50
	MaxHistoryViews        = 500
)

// historyCursor is the position of a session in a visitor's sessions, newest first.
type historyCursor struct {
	startedAt int64 // microseconds
	session   string
}

// String encodes the cursor as "<started_at microseconds>.<session id>".
func (c historyCursor) String() string {
	return strconv.FormatInt(c.startedAt, 10) + "." + c.session
}

// parseHistoryCursor reads a cursor that String made; anything else is errs.Invalid about
// "before".
func parseHistoryCursor(s string) (historyCursor, error) {
	bad := errs.Field(errs.Invalid, "before", "is not a cursor of this list")
	micro, sess, ok := strings.Cut(s, ".")
	if !ok || micro == "" || len(micro) > 19 || strings.TrimLeft(micro, "0123456789") != "" || !id.Valid("vsn", sess) {
		return historyCursor{}, bad
	}
	n, err := strconv.ParseInt(micro, 10, 64)
	if err != nil {
		return historyCursor{}, bad
	}
	return historyCursor{startedAt: n, session: sess}, nil
}

// History returns a page of a visitor's sessions, newest first, each with its newest page views.
// A merged visitor's id gives the history of the visitor it was merged into (History.Visitor.ID
// says which). Entries still queued for the batch writer (at most about a second old) are not
// included. It returns errs.NotFound for an unknown visitor or one of another workspace, and
// errs.Invalid about "before" for a cursor History did not make.
func (s *Service) History(ctx context.Context, wsID, visitorID string, q HistoryQuery) (*History, error) {
	var cur historyCursor
	if q.Before != "" {
		c, err := parseHistoryCursor(q.Before)
		if err != nil {
			return nil, err
		}
		cur = c
	}
	nSessions := q.Sessions
	if nSessions <= 0 {
		nSessions = DefaultHistorySessions
	}
	nSessions = min(nSessions, MaxHistorySessions)
	nViews := q.Views
	if nViews <= 0 {
		nViews = DefaultHistoryViews
	}
	nViews = min(nViews, MaxHistoryViews)

	v, err := resolve(ctx, s.db, wsID, visitorID, "")
	if err != nil {
		return nil, errs.Op("visitor.History", err)
	}
	h := &History{Visitor: v, Sessions: []SessionHistory{}}
	if err := s.db.QueryRowContext(ctx, `SELECT email_verified FROM visitors WHERE workspace_id = $1 AND id = $2`,
		wsID, v.ID).Scan(&h.EmailVerified); err != nil {
		return nil, fmt.Errorf("visitor.History: %w", err)
	}
	now := s.clk.Now()
	scan := func(r db.Scanner) (Session, error) {
		x, err := s.scanSession(r, now)
		if err != nil {
			return Session{}, err
		}
		return *x, nil
	}
	query := `SELECT ` + sessionCols + ` FROM visitor_sessions WHERE workspace_id = $1 AND visitor_id = $2`
	args := []any{wsID, v.ID}
	if q.Before != "" {
		query += ` AND (started_at < $3 OR (started_at = $3 AND id < $4))`
		args = append(args, cur.startedAt, cur.session)
	}
	query += ` ORDER BY started_at DESC, id DESC LIMIT ` + strconv.Itoa(nSessions+1)
	sessions, err := db.All(ctx, s.db, scan, query, args...)
	if err != nil {
		return nil, fmt.Errorf("visitor.History: %w", err)
	}
	if len(sessions) > nSessions {
		sessions = sessions[:nSessions]
		last := sessions[len(sessions)-1]
		h.Next = historyCursor{startedAt: db.Micro(last.StartedAt), session: last.ID}.String()
	}
	scanView := func(r db.Scanner) (PageView, error) {
		var p PageView
		var at int64
		err := r.Scan(&p.ID, &p.VisitorID, &p.SessionID, &p.URL, &p.Title, &p.Referrer, &at)
		p.At = db.Time(at)
		return p, err
	}
	for _, x := range sessions {
		views, err := db.All(ctx, s.db, scanView, `SELECT id, visitor_id, session_id, url, title, referrer, at FROM page_views
			WHERE workspace_id = $1 AND session_id = $2 ORDER BY at DESC, id DESC LIMIT $3`, wsID, x.ID, nViews)
		if err != nil {
			return nil, fmt.Errorf("visitor.History: %w", err)
		}
		if views == nil {
			views = []PageView{}
		}
		h.Sessions = append(h.Sessions, SessionHistory{Session: x, Views: views, MoreViews: max(0, x.PageViews-len(views))})
	}
	return h, nil
}

// Summary is what lists of visitors (the inbox) show about one: the visitor record and its
// latest session.
type Summary struct {
	VisitorID     string    `json:"visitor_id"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	LastSeenAt    time.Time `json:"last_seen_at"`
	// SessionID is the latest session; "" (and the fields below empty) when there is none.
	SessionID   string `json:"session_id"`
	SessionOpen bool   `json:"session_open"` // the visitor is on the site by the session rules
	Country     string `json:"country"`      // of the latest session: ISO 3166 alpha-2, "" when unknown
	Device      string `json:"device"`
	// PageURL and PageTitle are the latest session's latest written page view (its landing page
	// when none is written yet).
	PageURL   string `json:"page_url"`
	PageTitle string `json:"page_title"`
}

// summaryChunk is how many visitor ids one query of Summaries names.
const summaryChunk = 200

// Summaries returns the Summary of each of the given visitors of the workspace, by visitor id.
// Ids of merged visitors, of another workspace or of nobody are left out. Entries still queued
// for the batch writer (at most about a second old) are not reflected.
func (s *Service) Summaries(ctx context.Context, wsID string, visitorIDs []string) (map[string]Summary, error) {
	out := map[string]Summary{}
	now := s.clk.Now()
	scan := func(r db.Scanner) (Summary, error) {
		var x Summary
		var seen, activity, sessSeen, ended int64
		var landing, pageURL, pageTitle string
		err := r.Scan(&x.VisitorID, &x.Email, &x.EmailVerified, &seen, &x.SessionID, &x.Country, &x.Device, &landing,
			&activity, &sessSeen, &ended, &pageURL, &pageTitle)
		x.LastSeenAt = db.Time(seen)
		if x.SessionID != "" {
			x.SessionOpen = ended == 0 && now.Before(s.endsAt(db.Time(activity), db.Time(sessSeen)))
			x.PageURL, x.PageTitle = pageURL, pageTitle
			if x.PageURL == "" {
				x.PageURL = landing
			}
		}
		return x, err
	}
	ids := visitorIDs
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), summaryChunk)]
		ids = ids[len(chunk):]
		args := []any{wsID}
		marks := make([]string, 0, len(chunk))
		for _, v := range chunk {
			if !id.Valid("vis", v) {
				continue
			}
			args = append(args, v)
			marks = append(marks, "$"+strconv.Itoa(len(args)))
		}
		if len(marks) == 0 {
			continue
		}
		got, err := db.All(ctx, s.db, scan, `SELECT v.id, v.email, v.email_verified, v.last_seen_at, COALESCE(s.id, ''),
			COALESCE(s.country, ''), COALESCE(s.device, ''), COALESCE(s.landing_url, ''), COALESCE(s.last_activity_at, 0),
			COALESCE(s.last_seen_at, 0), COALESCE(s.ended_at, 0), COALESCE(p.url, ''), COALESCE(p.title, '')
			FROM visitors v
			LEFT JOIN visitor_sessions s ON s.id = (SELECT s2.id FROM visitor_sessions s2
				WHERE s2.workspace_id = v.workspace_id AND s2.visitor_id = v.id ORDER BY s2.started_at DESC, s2.id DESC LIMIT 1)
			LEFT JOIN page_views p ON p.id = (SELECT p2.id FROM page_views p2
				WHERE p2.workspace_id = v.workspace_id AND p2.session_id = s.id ORDER BY p2.at DESC, p2.id DESC LIMIT 1)
			WHERE v.workspace_id = $1 AND v.merged_into = '' AND v.id IN (`+strings.Join(marks, ", ")+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("visitor.Summaries: %w", err)
		}
		for _, x := range got {
			out[x.VisitorID] = x
		}
	}
	return out, nil
}
