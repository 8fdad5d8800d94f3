// Package visitor owns the people who browse a customer's website: visitors, their sessions and
// page views (SPEC V1, V2), bot detection (V7), identification by email and the merging of two
// records of one person (V4), consent, and the tokens with which the messenger proves which
// visitor it is.
//
// Every method is scoped by workspace: an id of another workspace is errs.NotFound. Every
// time-dependent rule reads the injected clock.
//
// # Sessions
//
// A session starts with a visitor's first page view. It ends once 60 minutes pass without
// activity (page views, messages, identification, forms — heartbeats are not activity), or once 5
// minutes pass with no request of any kind from the visitor (heartbeats included), which is how
// the server learns that no page of the site is open any more. A request after that starts a new
// session (page views and activity) or is recorded against no session (heartbeats, leaves).
// Options.InactivityTimeout and Options.AwayTimeout set the two durations.
//
// A leave (the messenger's pagehide beacon) says the page closed at that instant, so the 5
// minutes run from it; since a leave is itself a request, this is the same rule as for a page
// that stopped sending heartbeats, and a visitor with another tab open keeps the session alive
// with that tab's heartbeats.
//
// # Writing
//
// Creating a visitor or starting a session happens at once, in a transaction, because the answer
// names their ids. Everything else on the hot path — page views in an open session, and the
// last-seen and last-activity times that heartbeats, leaves and activity move — goes through a
// batch writer: an in-memory queue written in one transaction at least every Options.FlushInterval
// (1 s) or as soon as it holds Options.BatchSize (500) entries. A call returns once its entry is
// queued, so an acknowledged page view is in the database within about a second, and Close writes
// whatever is queued when the server stops gracefully. A crash loses at most the last second.
//
// The queue is bounded (Options.QueueSize). When the database cannot keep up, a caller waits for
// room, up to Options.EnqueueTimeout or its context's end, and then gets errs.Unavailable (HTTP 503
// with Retry-After): entries are neither dropped nor allowed to pile up without bound. A batch that
// fails is retried with backoff for as long as the database does not answer; when the database
// answers but refuses a batch twice, its entries are written one by one and those it still refuses
// are logged and dropped, so one bad entry cannot stall the queue.
//
// The session rules are evaluated against an in-memory view of each visitor's open session,
// refreshed from the database when it is missing or says the session has ended, so that several
// replicas sharing a database agree to within the flush interval.
package visitor

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
	"github.com/beckonhq/beckon/internal/visitor/geo"
)

// Options configure a Service. Zero values take the defaults.
type Options struct {
	// InactivityTimeout ends a session after this long without activity (default 60 minutes).
	InactivityTimeout time.Duration
	// AwayTimeout ends a session after this long without any request, heartbeats included: no
	// page of the site is open any more (default 5 minutes).
	AwayTimeout time.Duration
	// FlushInterval is the longest a queued entry waits before it is written (default 1 s).
	FlushInterval time.Duration
	// BatchSize entries in the queue trigger a write at once (default 500).
	BatchSize int
	// QueueSize bounds the entries waiting to be written (default 10,000).
	QueueSize int
	// EnqueueTimeout is how long a caller waits for room in a full queue before it gets
	// errs.Unavailable (default 2 s).
	EnqueueTimeout time.Duration
	// GeoIPDB names a MaxMind-format database (BECKON_GEOIP_DB) to place visitors by IP address;
	// empty places them by their browser's time zone.
	GeoIPDB string
	// AllowHeadless counts headless and automated browsers (HeadlessChrome, navigator.webdriver)
	// as visitors, for Beckon's own browser tests and the demo. Crawlers and HTTP tools are still
	// refused.
	AllowHeadless bool
}

func (o *Options) defaults() {
	if o.InactivityTimeout <= 0 {
		o.InactivityTimeout = 60 * time.Minute
	}
	if o.AwayTimeout <= 0 {
		o.AwayTimeout = 5 * time.Minute
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Second
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 10_000
	}
	o.QueueSize = max(o.QueueSize, o.BatchSize)
	if o.EnqueueTimeout <= 0 {
		o.EnqueueTimeout = 2 * time.Second
	}
}

// MergeHook moves the rows another package keeps about visitor from onto visitor to, when two
// visitor records of one person merge (field values, conversations, …). It runs in the merge's
// transaction tx; an error aborts the merge.
type MergeHook func(ctx context.Context, tx db.Queryer, wsID, from, to string) error

// Service is the visitor domain. Build it with New, start its batch writer with Run, and stop it
// with Close.
type Service struct {
	db  *db.DB
	clk clock.Clock
	log *slog.Logger
	opt Options
	geo *geo.Locator

	hooksMu sync.RWMutex
	hooks   []MergeHook

	liveMu sync.Mutex
	live   map[liveKey]*liveSession

	w *writer
}

// New returns a Service on d. It opens Options.GeoIPDB when set and fails when that file is not
// a MaxMind-format database. log may be nil.
func New(d *db.DB, clk clock.Clock, log *slog.Logger, opts Options) (*Service, error) {
	opts.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	loc, err := geo.Open(opts.GeoIPDB)
	if err != nil {
		return nil, fmt.Errorf("visitor.New: %w", err)
	}
	s := &Service{db: d, clk: clk, log: log, opt: opts, geo: loc, live: map[liveKey]*liveSession{}}
	s.w = newWriter(s)
	return s, nil
}

// OnMerge registers a hook that runs, in the merge's transaction, whenever two visitors merge.
// Hooks run in the order they were registered. Register them while wiring the app, before
// serving.
func (s *Service) OnMerge(h MergeHook) {
	s.hooksMu.Lock()
	s.hooks = append(s.hooks, h)
	s.hooksMu.Unlock()
}

// Visitor is a person browsing a workspace's website, anonymous until identified.
type Visitor struct {
	ID          string    `json:"id"`
	WorkspaceID string    `json:"workspace_id"`
	Email       string    `json:"email"`   // lower case; "" until identified
	Consent     string    `json:"consent"` // "granted", "denied" or "" (never asked)
	FirstSeenAt time.Time `json:"first_seen_at"`
	LastSeenAt  time.Time `json:"last_seen_at"`
	Sessions    int       `json:"sessions"`
	// MergedInto is the visitor this record was merged into; "" for a live record. Lookups
	// follow it, so the Visitors this package returns always have it empty.
	MergedInto string    `json:"merged_into,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Session is one visit: from a first page view until the session rules end it.
type Session struct {
	ID             string    `json:"id"`
	VisitorID      string    `json:"visitor_id"`
	StartedAt      time.Time `json:"started_at"`
	LastActivityAt time.Time `json:"last_activity_at"`
	LastSeenAt     time.Time `json:"last_seen_at"`
	// EndedAt is when the session rules ended it (60 minutes after the last activity or 5
	// minutes after the last request, whichever came first); zero while it is open.
	EndedAt    time.Time `json:"ended_at"`
	Open       bool      `json:"open"`
	LandingURL string    `json:"landing_url"`
	Referrer   string    `json:"referrer"`
	Campaign
	TimeZone  string `json:"time_zone"` // IANA zone of the browser, "" when unknown
	Language  string `json:"language"`  // BCP 47 tag of the browser, "" when unknown
	Device    string `json:"device"`    // "desktop", "mobile", "tablet"
	UserAgent string `json:"user_agent"`
	Country   string `json:"country"` // ISO 3166 alpha-2, "" when unknown
	Region    string `json:"region"`  // "AMER", "EMEA", "APAC", "" when unknown
	PageViews int    `json:"page_views"`
}

// PageView is one page a visitor opened, in a session.
type PageView struct {
	ID        string    `json:"id"`
	VisitorID string    `json:"visitor_id"`
	SessionID string    `json:"session_id"`
	URL       string    `json:"url"`
	Title     string    `json:"title"`
	Referrer  string    `json:"referrer"`
	At        time.Time `json:"at"`
}

const visitorCols = `id, workspace_id, email, consent, first_seen_at, last_seen_at, sessions_count, merged_into, created_at, updated_at`

func scanVisitor(row db.Scanner) (*Visitor, error) {
	var v Visitor
	var first, last, created, updated int64
	if err := row.Scan(&v.ID, &v.WorkspaceID, &v.Email, &v.Consent, &first, &last, &v.Sessions, &v.MergedInto,
		&created, &updated); err != nil {
		return nil, err
	}
	v.FirstSeenAt, v.LastSeenAt, v.CreatedAt, v.UpdatedAt = db.Time(first), db.Time(last), db.Time(created), db.Time(updated)
	return &v, nil
}

const sessionCols = `id, visitor_id, started_at, last_activity_at, last_seen_at, ended_at, landing_url, referrer,
	utm_source, utm_medium, utm_campaign, utm_term, utm_content, gclid, time_zone, language, device, user_agent,
	country, region, page_views`

// scanSession reads a session row; a session the rules have ended at now but no request has
// closed yet gets its computed EndedAt.
func (s *Service) scanSession(row db.Scanner, now time.Time) (*Session, error) {
	var x Session
	var started, activity, seen, ended int64
	err := row.Scan(&x.ID, &x.VisitorID, &started, &activity, &seen, &ended, &x.LandingURL, &x.Referrer,
		&x.Source, &x.Medium, &x.Name, &x.Term, &x.Content, &x.GCLID, &x.TimeZone, &x.Language, &x.Device,
		&x.UserAgent, &x.Country, &x.Region, &x.PageViews)
	if err != nil {
		return nil, err
	}
	x.StartedAt, x.LastActivityAt, x.LastSeenAt, x.EndedAt = db.Time(started), db.Time(activity), db.Time(seen), db.Time(ended)
	if x.EndedAt.IsZero() {
		if end := s.endsAt(x.LastActivityAt, x.LastSeenAt); !now.Before(end) {
			x.EndedAt = end
		}
	}
	x.Open = x.EndedAt.IsZero()
	return &x, nil
}

// endsAt is when a session with the given last activity and last request ends by the rules.
func (s *Service) endsAt(lastActivity, lastSeen time.Time) time.Time {
	a, b := lastActivity.Add(s.opt.InactivityTimeout), lastSeen.Add(s.opt.AwayTimeout)
	if a.Before(b) {
		return a
	}
	return b
}

// maxMergeChain bounds how many merged_into links a lookup follows; merges flatten chains, so a
// real one is one or two links long.
const maxMergeChain = 16

// resolve returns the live visitor that id is or was merged into, with its row locked by lock
// (db.ForUpdate() or ""). It returns errs.NotFound when id names no visitor of the workspace.
func resolve(ctx context.Context, q db.Queryer, wsID, visitorID, lock string) (*Visitor, error) {
	if !id.Valid("vis", visitorID) {
		return nil, errs.NotFoundf("no such visitor")
	}
	cur := visitorID
	for range maxMergeChain {
		v, err := scanVisitor(q.QueryRowContext(ctx, `SELECT `+visitorCols+` FROM visitors
			WHERE workspace_id = $1 AND id = $2`+lock, wsID, cur))
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errs.NotFoundf("no such visitor")
		}
		if err != nil {
			return nil, err
		}
		if v.MergedInto == "" {
			return v, nil
		}
		cur = v.MergedInto
	}
	return nil, fmt.Errorf("visitor %s: merge chain longer than %d", visitorID, maxMergeChain)
}

// Get returns a visitor of the workspace; a merged visitor's id gives the visitor it was merged
// into. It returns errs.NotFound for an unknown id or one of another workspace.
func (s *Service) Get(ctx context.Context, wsID, visitorID string) (*Visitor, error) {
	v, err := resolve(ctx, s.db, wsID, visitorID, "")
	return v, errs.Op("visitor.Get", err)
}

// clampLimit returns limit within [1, 500], with 50 for zero or less.
func clampLimit(limit int) int {
	if limit <= 0 {
		return 50
	}
	return min(limit, 500)
}

// Sessions returns up to limit (default 50, at most 500) sessions of a visitor, newest first; a
// merged visitor's id gives the sessions of the visitor it was merged into. Entries still queued
// for the batch writer (at most about a second old) are not reflected. It returns errs.NotFound
// for an unknown visitor.
func (s *Service) Sessions(ctx context.Context, wsID, visitorID string, limit int) ([]Session, error) {
	v, err := resolve(ctx, s.db, wsID, visitorID, "")
	if err != nil {
		return nil, errs.Op("visitor.Sessions", err)
	}
	now := s.clk.Now()
	scan := func(r db.Scanner) (Session, error) {
		x, err := s.scanSession(r, now)
		if err != nil {
			return Session{}, err
		}
		return *x, nil
	}
	out, err := db.All(ctx, s.db, scan, `SELECT `+sessionCols+` FROM visitor_sessions
		WHERE workspace_id = $1 AND visitor_id = $2 ORDER BY started_at DESC, id DESC LIMIT $3`, wsID, v.ID, clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("visitor.Sessions: %w", err)
	}
	return out, nil
}

// SessionByID returns a session of the workspace, or errs.NotFound.
func (s *Service) SessionByID(ctx context.Context, wsID, sessionID string) (*Session, error) {
	if !id.Valid("vsn", sessionID) {
		return nil, errs.NotFoundf("no such session")
	}
	x, err := s.scanSession(s.db.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM visitor_sessions
		WHERE workspace_id = $1 AND id = $2`, wsID, sessionID), s.clk.Now())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("no such session")
	}
	if err != nil {
		return nil, fmt.Errorf("visitor.SessionByID: %w", err)
	}
	return x, nil
}

// PageViews returns up to limit (default 50, at most 500) page views of a session, newest first.
// Page views still queued for the batch writer (at most about a second old) are not included.
// It returns errs.NotFound for an unknown session or one of another workspace.
func (s *Service) PageViews(ctx context.Context, wsID, sessionID string, limit int) ([]PageView, error) {
	if _, err := s.SessionByID(ctx, wsID, sessionID); err != nil {
		return nil, err
	}
	scan := func(r db.Scanner) (PageView, error) {
		var p PageView
		var at int64
		err := r.Scan(&p.ID, &p.VisitorID, &p.SessionID, &p.URL, &p.Title, &p.Referrer, &at)
		p.At = db.Time(at)
		return p, err
	}
	out, err := db.All(ctx, s.db, scan, `SELECT id, visitor_id, session_id, url, title, referrer, at FROM page_views
		WHERE workspace_id = $1 AND session_id = $2 ORDER BY at DESC, id DESC LIMIT $3`, wsID, sessionID, clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("visitor.PageViews: %w", err)
	}
	return out, nil
}

// SetConsent records the visitor's answer to the cookie consent question: "granted" or "denied".
// It returns errs.NotFound for an unknown visitor.
func (s *Service) SetConsent(ctx context.Context, wsID, visitorID string, granted bool) error {
	consent := ConsentDenied
	if granted {
		consent = ConsentGranted
	}
	v, err := resolve(ctx, s.db, wsID, visitorID, "")
	if err == nil {
		_, err = s.db.ExecContext(ctx, `UPDATE visitors SET consent = $1, updated_at = $2 WHERE workspace_id = $3 AND id = $4`,
			consent, db.Micro(s.clk.Now()), wsID, v.ID)
	}
	return errs.Op("visitor.SetConsent", err)
}

// Consent answers stored on a visitor.
const (
	ConsentGranted = "granted"
	ConsentDenied  = "denied"
)
