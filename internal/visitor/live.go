package visitor

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/id"
)

// This file holds the reads Live View (internal/liveview, SPEC V5) needs from the visitor tables:
// the sessions open right now with the page each visitor is on, in bulk.

// LiveSession is an open session as Live View shows it: the visitor, when the visit started, the
// last page it opened and what the session recorded about the browser.
type LiveSession struct {
	VisitorID string
	SessionID string
	Email     string // the visitor record's email (lower case); "" until identified
	// Sessions counts the visitor's sessions so far, this one included: more than one is a
	// returning visitor.
	Sessions   int
	StartedAt  time.Time
	LastSeenAt time.Time // as written by the batch writer: up to about a second behind
	Country    string    // ISO 3166 alpha-2, "" when unknown
	Device     string    // "desktop", "mobile", "tablet"
	PageViews  int
	// PageURL and PageTitle are the session's latest written page view; PageURL is the landing
	// page (and PageAt the session's start) when no page view is written yet.
	PageURL   string
	PageTitle string
	PageAt    time.Time
}

// MaxLiveSessions bounds what LiveSessions returns.
const MaxLiveSessions = 20_000

// liveChunk is how many visitor ids one query of LiveSessionsOf names.
const liveChunk = 500

const liveCols = `s.visitor_id, s.id, v.email, v.sessions_count, s.started_at, s.last_seen_at, s.country, s.device,
	s.page_views, s.landing_url, COALESCE(p.url, ''), COALESCE(p.title, ''), COALESCE(p.at, 0)`

// liveFrom joins each session to its visitor and to its latest page view (by a subquery on the
// page_views_session index, which both engines run per session).
const liveFrom = ` FROM visitor_sessions s
	JOIN visitors v ON v.id = s.visitor_id AND v.workspace_id = s.workspace_id
	LEFT JOIN page_views p ON p.id = (SELECT p2.id FROM page_views p2
		WHERE p2.workspace_id = s.workspace_id AND p2.session_id = s.id ORDER BY p2.at DESC, p2.id DESC LIMIT 1)`

func scanLive(r db.Scanner) (LiveSession, error) {
	var x LiveSession
	var started, seen, pageAt int64
	var landing string
	err := r.Scan(&x.VisitorID, &x.SessionID, &x.Email, &x.Sessions, &started, &seen, &x.Country, &x.Device,
		&x.PageViews, &landing, &x.PageURL, &x.PageTitle, &pageAt)
	x.StartedAt, x.LastSeenAt, x.PageAt = db.Time(started), db.Time(seen), db.Time(pageAt)
	if x.PageURL == "" {
		x.PageURL, x.PageAt = landing, x.StartedAt
	}
	return x, err
}

// LiveSessions returns the workspace's sessions not marked ended whose visitor was seen at or
// after since, most recently seen first, one per visitor (its most recently seen), at most limit
// (default and cap MaxLiveSessions). Requests still queued for the batch writer (about a second)
// are not reflected.
func (s *Service) LiveSessions(ctx context.Context, wsID string, since time.Time, limit int) ([]LiveSession, error) {
	if limit <= 0 || limit > MaxLiveSessions {
		limit = MaxLiveSessions
	}
	at := db.Micro(since)
	// visitors_seen (workspace_id, last_seen_at) finds the recent visitors; their sessions follow
	// by visitor_sessions_visitor.
	out, err := db.All(ctx, s.db, scanLive, `SELECT `+liveCols+liveFrom+`
		WHERE v.workspace_id = $1 AND v.merged_into = '' AND v.last_seen_at >= $2
			AND s.workspace_id = $1 AND s.ended_at = 0 AND s.last_seen_at >= $2
		ORDER BY s.last_seen_at DESC, s.id LIMIT $3`, wsID, at, limit)
	if err != nil {
		return nil, fmt.Errorf("visitor.LiveSessions: %w", err)
	}
	return onePerVisitor(out), nil
}

// LiveSessionsOf returns the open session (not marked ended; the most recently seen when there
// are several) of each of the given visitors of the workspace that has one. Ids that are not
// visitor ids, belong to another workspace or were merged into another visitor are left out.
func (s *Service) LiveSessionsOf(ctx context.Context, wsID string, visitorIDs []string) ([]LiveSession, error) {
	ids := make([]string, 0, len(visitorIDs))
	seen := make(map[string]bool, len(visitorIDs))
	for _, v := range visitorIDs {
		if id.Valid("vis", v) && !seen[v] {
			seen[v] = true
			ids = append(ids, v)
		}
	}
	out := []LiveSession{}
	err := db.InChunks(ids, liveChunk, 2, func(marks string, args []any) error {
		part, err := db.All(ctx, s.db, scanLive, `SELECT `+liveCols+liveFrom+`
			WHERE s.workspace_id = $1 AND s.visitor_id IN (`+marks+`) AND s.ended_at = 0
				AND v.merged_into = ''
			ORDER BY s.last_seen_at DESC, s.id`, append([]any{wsID}, args...)...)
		out = append(out, part...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("visitor.LiveSessionsOf: %w", err)
	}
	return onePerVisitor(out), nil
}

// onePerVisitor keeps the first session of each visitor in list.
func onePerVisitor(list []LiveSession) []LiveSession {
	seen := make(map[string]bool, len(list))
	out := list[:0]
	for _, x := range list {
		if !seen[x.VisitorID] {
			seen[x.VisitorID] = true
			out = append(out, x)
		}
	}
	return out
}

// Country returns the country (ISO 3166 alpha-2, "" when unknown) that a session started now
// from ip with the browser time zone zone records: by the GeoIP database when it knows ip, else
// by the zone. Live View shows it before the session's row is read back.
func (s *Service) Country(ip netip.Addr, zone string) string {
	return s.geo.Locate(ip, normalizeZone(zone)).Country
}
