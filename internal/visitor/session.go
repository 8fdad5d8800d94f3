package visitor

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
)

// HelloInput is what the messenger reports when a page loads (POST /m/v1/hello).
type HelloInput struct {
	WorkspaceID string
	// VisitorID comes from a verified visitor token; "" for a browser Beckon has not seen.
	VisitorID string
	Page      Page
	TimeZone  string     // IANA zone of the browser; stored only when the embedded tzdata knows it
	Language  string     // navigator.language; stored only when it looks like a BCP 47 tag
	UserAgent string     // the User-Agent header
	IP        netip.Addr // the client's address, for the GeoIP database; the zero Addr when unknown
	Webdriver bool       // navigator.webdriver: the browser is driven by automation
}

// HelloResult says which visitor and session a page load counted in.
type HelloResult struct {
	// VisitorID is the live visitor: the one asked for, the one it was merged into, or a new one.
	// Right after a merge, a server that remembers the open session may still name the merged
	// visitor until that session ends; every lookup follows merges, so either id works.
	VisitorID  string `json:"visitor_id"`
	SessionID  string `json:"session_id"`
	NewVisitor bool   `json:"new_visitor"` // a visitor was created: issue a token for VisitorID
	NewSession bool   `json:"new_session"`
	// Bot is true when the request came from a bot (see IsBot); nothing was recorded and the
	// other fields are empty.
	Bot bool `json:"bot"`
}

// Recorded says which session a page view, heartbeat, leave or activity counted in.
type Recorded struct {
	VisitorID  string `json:"visitor_id"` // the live visitor; differs from the one asked for after a merge
	SessionID  string `json:"session_id"` // "" for a heartbeat or leave after the session ended
	NewSession bool   `json:"new_session"`
}

// Hello records a page load: it finds the visitor named by in.VisitorID (following merges) or
// creates one when that is empty or unknown in the workspace, finds the visitor's open session
// or starts one by the session rules, and records the page view. A new session records the
// landing page, referrer, campaign parameters, browser time zone and language, device class,
// user agent, and the country and region (by IP with a GeoIP database, else by time zone).
// A bot (IsBot, unless Options.AllowHeadless admits headless browsers) is recorded nowhere and
// gets Bot true. It returns errs.Invalid or errs.Malformed about a bad page (see CheckPage),
// errs.NotFound for an unknown workspace, and errs.Unavailable when the queue stays full or the
// service is closed.
func (s *Service) Hello(ctx context.Context, in HelloInput) (*HelloResult, error) {
	if isBot(in.UserAgent, in.Webdriver, s.opt.AllowHeadless) {
		return &HelloResult{Bot: true}, nil
	}
	page, err := CheckPage(in.Page)
	if err != nil {
		return nil, err
	}
	if s.w.isClosed() {
		return nil, errClosed
	}
	now := s.clk.Now()
	zone := normalizeZone(in.TimeZone)
	loc := s.geo.Locate(in.IP, zone)
	attrs := &startAttrs{landingURL: page.URL, referrer: page.Referrer, campaign: ParseCampaign(page.URL),
		timeZone: zone, language: NormalizeLanguage(in.Language), device: DeviceClass(in.UserAgent),
		userAgent: normalizeUserAgent(in.UserAgent), country: loc.Country, region: loc.Region}
	view := &pendingView{id: id.New("pv"), page: page}
	if in.VisitorID != "" {
		r, err := s.record(ctx, in.WorkspaceID, in.VisitorID, opHello, now, view, attrs)
		if err == nil {
			return &HelloResult{VisitorID: r.VisitorID, SessionID: r.SessionID, NewSession: r.NewSession}, nil
		}
		if !errs.Is(err, errs.NotFound) {
			return nil, errs.Op("visitor.Hello", err)
		}
	}
	r, err := s.createVisitor(ctx, in.WorkspaceID, now, view, attrs)
	if err != nil {
		return nil, errs.Op("visitor.Hello", err)
	}
	return &HelloResult{VisitorID: r.VisitorID, SessionID: r.SessionID, NewVisitor: true, NewSession: true}, nil
}

// PageView records a page the visitor opened without reloading (a single-page app's route
// change). A page view after the session ended starts a new session, which takes the time zone,
// language, device and location of the previous one and the page as its landing page. It
// returns errs.Invalid or errs.Malformed about a bad page, errs.NotFound for an unknown visitor,
// and errs.Unavailable when the queue stays full or the service is closed.
func (s *Service) PageView(ctx context.Context, wsID, visitorID string, p Page) (Recorded, error) {
	page, err := CheckPage(p)
	if err != nil {
		return Recorded{}, err
	}
	r, err := s.record(ctx, wsID, visitorID, opPage, s.clk.Now(), &pendingView{id: id.New("pv"), page: page}, nil)
	return r, errs.Op("visitor.PageView", err)
}

// Heartbeat records that a page of the visitor's is still open and visible. It keeps an open
// session from ending by the 5-minute rule but is no activity, and never starts a session. It
// returns errs.NotFound for an unknown visitor and errs.Unavailable when the queue stays full or
// the service is closed.
func (s *Service) Heartbeat(ctx context.Context, wsID, visitorID string) (Recorded, error) {
	r, err := s.record(ctx, wsID, visitorID, opHeartbeat, s.clk.Now(), nil, nil)
	return r, errs.Op("visitor.Heartbeat", err)
}

// Leave records that the visitor closed a page (the messenger's pagehide beacon): the page counts
// as closed from now, so the session ends 5 minutes later unless a request comes first. It never
// starts a session. It returns errs.NotFound for an unknown visitor and errs.Unavailable when the
// queue stays full or the service is closed.
func (s *Service) Leave(ctx context.Context, wsID, visitorID string) (Recorded, error) {
	r, err := s.record(ctx, wsID, visitorID, opLeave, s.clk.Now(), nil, nil)
	return r, errs.Op("visitor.Leave", err)
}

// Touch records activity other than a page view — a message, an identification, a form — which
// keeps the session from ending by the 60-minute rule. Activity after the session ended starts a
// new session, whose landing page is the last page the visitor was seen on. It returns
// errs.NotFound for an unknown visitor and errs.Unavailable when the queue stays full or the
// service is closed.
func (s *Service) Touch(ctx context.Context, wsID, visitorID string) (Recorded, error) {
	r, err := s.record(ctx, wsID, visitorID, opTouch, s.clk.Now(), nil, nil)
	return r, errs.Op("visitor.Touch", err)
}

// op is the kind of request being recorded.
type op int

const (
	opHello op = iota
	opPage
	opTouch
	opHeartbeat
	opLeave
)

// activity reports whether the request is activity, which also starts a session when none is
// open.
func (o op) activity() bool { return o == opHello || o == opPage || o == opTouch }

// liveKey names a visitor as the messenger names it (possibly a merged id).
type liveKey struct{ ws, visitor string }

// liveSession is this server's view of a visitor's open session: the times here include updates
// still queued for the batch writer.
type liveSession struct {
	visitor      string // the live visitor the session belongs to
	session      string
	lastActivity time.Time
	lastSeen     time.Time
	lastURL      string
}

func (s *Service) open(l *liveSession, now time.Time) bool {
	return now.Before(s.endsAt(l.lastActivity, l.lastSeen))
}

// touch moves l's times for a request of kind o at now.
func (l *liveSession) touch(o op, now time.Time, view *pendingView) {
	l.lastSeen = later(l.lastSeen, now)
	if o.activity() {
		l.lastActivity = later(l.lastActivity, now)
	}
	if view != nil {
		l.lastURL = view.page.URL
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// startAttrs are what a session records when it starts.
type startAttrs struct {
	landingURL, referrer string
	campaign             Campaign
	timeZone, language   string
	device, userAgent    string
	country, region      string
}

// record applies the session rules to a request of kind o from a visitor at now: in the visitor's
// open session it queues the update (and page view), and otherwise it starts a session (for
// activity) or records nothing (heartbeats, leaves). attrs are the new session's attributes for a
// hello; other requests copy them from the previous session.
func (s *Service) record(ctx context.Context, wsID, visitorID string, o op, now time.Time, view *pendingView, attrs *startAttrs) (Recorded, error) {
	if s.w.isClosed() {
		return Recorded{}, errClosed
	}
	key := liveKey{wsID, visitorID}
	s.liveMu.Lock()
	if l := s.live[key]; l != nil && s.open(l, now) {
		l.touch(o, now, view)
		r := Recorded{VisitorID: l.visitor, SessionID: l.session}
		s.liveMu.Unlock()
		return r, s.w.enqueue(ctx, entry{ws: wsID, visitor: r.VisitorID, session: r.SessionID, at: now,
			activity: o.activity(), view: view})
	}
	s.liveMu.Unlock()

	// Not known open here: ask the database, where other replicas write too.
	v, err := resolve(ctx, s.db, wsID, visitorID, "")
	if err != nil {
		return Recorded{}, err
	}
	cur, err := s.currentSession(ctx, s.db, wsID, v.ID)
	if err != nil {
		return Recorded{}, err
	}
	if cur != nil && cur.EndedAt.IsZero() {
		if r, ok, err := s.join(ctx, key, cur, o, now, view); ok {
			return r, err
		}
	} else if !o.activity() {
		return Recorded{VisitorID: v.ID}, nil // no open session, and nothing to start one
	}
	return s.startOrEnd(ctx, key, o, now, view, attrs)
}

// join continues cur when, with this server's queued updates, it is still open at now: it
// remembers it, queues the update and reports ok.
func (s *Service) join(ctx context.Context, key liveKey, cur *Session, o op, now time.Time, view *pendingView) (Recorded, bool, error) {
	s.liveMu.Lock()
	l := &liveSession{visitor: cur.VisitorID, session: cur.ID, lastActivity: cur.LastActivityAt, lastSeen: cur.LastSeenAt}
	if old := s.live[key]; old != nil && old.session == cur.ID {
		l.lastActivity, l.lastSeen, l.lastURL = later(l.lastActivity, old.lastActivity), later(l.lastSeen, old.lastSeen), old.lastURL
	}
	if !s.open(l, now) {
		s.liveMu.Unlock()
		return Recorded{}, false, nil
	}
	l.touch(o, now, view)
	s.live[key] = l
	s.liveMu.Unlock()
	r := Recorded{VisitorID: cur.VisitorID, SessionID: cur.ID}
	return r, true, s.w.enqueue(ctx, entry{ws: key.ws, visitor: r.VisitorID, session: r.SessionID, at: now,
		activity: o.activity(), view: view})
}

// startOrEnd runs when the database shows no open session: in a transaction holding the
// visitor's row it checks again (another request may have started one), ends the expired session
// and, for activity, starts a new one with its first page view.
func (s *Service) startOrEnd(ctx context.Context, key liveKey, o op, now time.Time, view *pendingView, attrs *startAttrs) (Recorded, error) {
	var r Recorded
	var joined *Session
	var started *liveSession
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		v, err := s.lockVisitor(ctx, tx, key.ws, key.visitor)
		if err != nil {
			return err
		}
		r = Recorded{VisitorID: v.ID}
		cur, err := s.currentSession(ctx, tx, key.ws, v.ID)
		if err != nil {
			return err
		}
		if cur != nil && cur.EndedAt.IsZero() {
			s.liveMu.Lock()
			if old := s.live[key]; old != nil && old.session == cur.ID {
				cur.LastActivityAt, cur.LastSeenAt = later(cur.LastActivityAt, old.lastActivity), later(cur.LastSeenAt, old.lastSeen)
			}
			s.liveMu.Unlock()
			end := s.endsAt(cur.LastActivityAt, cur.LastSeenAt)
			if now.Before(end) {
				joined = cur // started by a concurrent request
				return nil
			}
			if _, err := tx.ExecContext(ctx, `UPDATE visitor_sessions SET ended_at = $1 WHERE id = $2 AND ended_at = 0`,
				db.Micro(end), cur.ID); err != nil {
				return err
			}
		}
		if !o.activity() {
			return nil
		}
		a, err := s.attrsFor(ctx, tx, key, v.ID, o, view, attrs, cur)
		if err != nil {
			return err
		}
		sid, err := insertSession(ctx, tx, key.ws, v.ID, now, a, view)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE visitors SET sessions_count = sessions_count + 1,
			last_seen_at = CASE WHEN last_seen_at < $1 THEN $1 ELSE last_seen_at END, updated_at = $1 WHERE id = $2`,
			db.Micro(now), v.ID); err != nil {
			return err
		}
		r.SessionID, r.NewSession = sid, true
		started = &liveSession{visitor: v.ID, session: sid, lastActivity: now, lastSeen: now, lastURL: a.landingURL}
		return nil
	})
	if err != nil {
		return Recorded{}, err
	}
	if joined != nil {
		if jr, ok, err := s.join(ctx, key, joined, o, now, view); ok {
			return jr, err
		}
		// It ended between the transaction and now (a clock moving fast): record as ended.
		return r, nil
	}
	s.liveMu.Lock()
	if started != nil {
		s.live[key] = started
	} else {
		delete(s.live, key)
	}
	s.liveMu.Unlock()
	return r, nil
}

// attrsFor returns the attributes of a session being started by a request of kind o: a hello's
// own, or else those of the visitor's previous session with the page view's URL (or, for other
// activity, the last page seen) as landing page.
func (s *Service) attrsFor(ctx context.Context, tx *sql.Tx, key liveKey, visitorID string, o op, view *pendingView,
	attrs *startAttrs, prev *Session) (*startAttrs, error) {
	if o == opHello && attrs != nil {
		return attrs, nil
	}
	a := &startAttrs{}
	if prev != nil {
		*a = startAttrs{timeZone: prev.TimeZone, language: prev.Language, device: prev.Device,
			userAgent: prev.UserAgent, country: prev.Country, region: prev.Region}
	}
	if view != nil {
		a.landingURL, a.referrer, a.campaign = view.page.URL, view.page.Referrer, ParseCampaign(view.page.URL)
		return a, nil
	}
	s.liveMu.Lock()
	if l := s.live[key]; l != nil {
		a.landingURL = l.lastURL
	}
	s.liveMu.Unlock()
	if a.landingURL == "" {
		err := tx.QueryRowContext(ctx, `SELECT url FROM page_views WHERE workspace_id = $1 AND visitor_id = $2
			ORDER BY at DESC LIMIT 1`, key.ws, visitorID).Scan(&a.landingURL)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
	}
	return a, nil
}

// createVisitor creates a visitor with its first session and page view, in one transaction.
func (s *Service) createVisitor(ctx context.Context, wsID string, now time.Time, view *pendingView, a *startAttrs) (Recorded, error) {
	vid := id.New("vis")
	var sid string
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM workspaces WHERE id = $1`, wsID).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return errs.NotFoundf("no such workspace")
			}
			return err
		}
		at := db.Micro(now)
		if _, err := tx.ExecContext(ctx, `INSERT INTO visitors (id, workspace_id, first_seen_at, last_seen_at,
			sessions_count, created_at, updated_at) VALUES ($1, $2, $3, $3, 1, $3, $3)`, vid, wsID, at); err != nil {
			return err
		}
		var err error
		sid, err = insertSession(ctx, tx, wsID, vid, now, a, view)
		return err
	})
	if err != nil {
		return Recorded{}, err
	}
	s.liveMu.Lock()
	s.live[liveKey{wsID, vid}] = &liveSession{visitor: vid, session: sid, lastActivity: now, lastSeen: now, lastURL: a.landingURL}
	s.liveMu.Unlock()
	return Recorded{VisitorID: vid, SessionID: sid, NewSession: true}, nil
}

// insertSession inserts a session started at now, and its first page view when there is one.
func insertSession(ctx context.Context, tx *sql.Tx, wsID, visitorID string, now time.Time, a *startAttrs, view *pendingView) (string, error) {
	sid := id.New("vsn")
	at := db.Micro(now)
	views := 0
	if view != nil {
		views = 1
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO visitor_sessions (id, workspace_id, visitor_id, started_at,
		last_activity_at, last_seen_at, landing_url, referrer, utm_source, utm_medium, utm_campaign, utm_term,
		utm_content, gclid, time_zone, language, device, user_agent, country, region, page_views)
		VALUES ($1, $2, $3, $4, $4, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
		sid, wsID, visitorID, at, a.landingURL, a.referrer, a.campaign.Source, a.campaign.Medium, a.campaign.Name,
		a.campaign.Term, a.campaign.Content, a.campaign.GCLID, a.timeZone, a.language, a.device, a.userAgent,
		a.country, a.region, views)
	if err != nil {
		return "", fmt.Errorf("insert session: %w", err)
	}
	if view != nil {
		if _, err := tx.ExecContext(ctx, `INSERT INTO page_views (id, workspace_id, visitor_id, session_id, url, title,
			referrer, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, view.id, wsID, visitorID, sid, view.page.URL,
			view.page.Title, view.page.Referrer, at); err != nil {
			return "", fmt.Errorf("insert page view: %w", err)
		}
	}
	return sid, nil
}

// currentSession returns the visitor's latest session not yet marked ended, or else its latest
// session, or nil when it has none. Its times are as stored (EndedAt zero when not marked ended).
func (s *Service) currentSession(ctx context.Context, q db.Queryer, wsID, visitorID string) (*Session, error) {
	x, err := s.scanSession(q.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM visitor_sessions
		WHERE workspace_id = $1 AND visitor_id = $2
		ORDER BY CASE WHEN ended_at = 0 THEN 0 ELSE 1 END, started_at DESC, id DESC LIMIT 1`, wsID, visitorID), time.Time{})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return x, err
}

// lockVisitor resolves a visitor id to the live visitor and locks that row for the transaction.
// Only live rows are ever locked, and every transaction that locks several locks them in id order,
// so that concurrent writers cannot deadlock.
func (s *Service) lockVisitor(ctx context.Context, tx *sql.Tx, wsID, visitorID string) (*Visitor, error) {
	for range 3 {
		v, err := resolve(ctx, tx, wsID, visitorID, "")
		if err != nil {
			return nil, err
		}
		if s.db.Engine == db.SQLite {
			return v, nil // the transaction is immediate: it already holds the database's write lock
		}
		var merged string
		if err := tx.QueryRowContext(ctx, `SELECT merged_into FROM visitors WHERE id = $1`+s.db.ForUpdate(), v.ID).Scan(&merged); err != nil {
			return nil, err
		}
		if merged == "" {
			return v, nil
		}
		// merged between the read and the lock: resolve again
	}
	return nil, errs.E(errs.Conflict, "the visitor is being merged; try again")
}
