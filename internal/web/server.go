// Package web is Beckon's HTTP surface: the route table (routes.go, every route in one place), the
// middleware (request ids, logging, metrics, recovery, security headers, body limits, session and
// API-token authentication, CSRF protection), the one table from error kinds to HTTP statuses,
// the REST API under /api/v1 and the server-rendered console.
package web

import (
	"context"
	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/chat"
	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/email"
	"github.com/beckonhq/beckon/internal/field"
	"github.com/beckonhq/beckon/internal/presence"
	"github.com/beckonhq/beckon/internal/realtime"
	"github.com/beckonhq/beckon/internal/routing"
	"github.com/beckonhq/beckon/internal/secret"
	"github.com/beckonhq/beckon/internal/spam"
	"github.com/beckonhq/beckon/internal/visitor"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/jobs"
	"github.com/beckonhq/beckon/internal/liveview"
	"github.com/beckonhq/beckon/internal/notify"
	"github.com/beckonhq/beckon/internal/version"
	"github.com/beckonhq/beckon/internal/workspace"
)

// Check is a named readiness probe for /readyz (the database, the bus).
type Check struct {
	Name string
	Ping func(ctx context.Context) error
}

// Deps is everything the HTTP layer needs; internal/app builds it.
type Deps struct {
	Log           *slog.Logger
	Identity      *identity.Service
	Workspaces    *workspace.Store
	Jobs          *jobs.Queue
	Checks        []Check
	Metrics       *Metrics
	SecureCookies bool  // the public URL is https
	MaxBody       int64 // JSON body limit in bytes
	// MetricsToken, when not empty, is the bearer token GET /metrics requires
	// ('Authorization: Bearer <MetricsToken>'); empty leaves /metrics public.
	MetricsToken string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names the client (see clientIP).
	TrustedProxies []netip.Prefix

	// The messenger's side (/m/v1).
	Visitors *visitor.Service
	Tokens   *visitor.Tokens // issues and checks visitor tokens
	Chat     *chat.Store
	Fields   *field.Store
	DB       *db.DB          // transactions that span domains (identify: fields, then merge)
	Secrets  *secret.Keyring // opens sealed secrets (identity verification)
	Clock    clock.Clock     // default: the system clock
	BaseURL  string          // this server's public URL, for the snippet the console shows

	// Real time (docs/REALTIME.md); handlers read these as s.deps.X.
	Hub      *realtime.Hub      // shares bus subscriptions among this replica's sockets
	Presence *presence.Service  // reps' presence (C3)
	Routing  *routing.Service   // who is rung for a new conversation (R1–R6); nil: every available rep
	Notify   *notify.Service    // alert preferences, team channels and webhooks (N1–N3); nil: their routes answer 503
	LiveView *liveview.Registry // Live View (V5): GET /api/v1/live, the rep socket's "live" frames; nil: 503

	// Email (E1–E4, docs/EMAIL.md); nil: the email routes answer 503.
	Email *email.Outbox
	// EmailWebhookSecret signs the bounce webhooks (/hooks/email/…); empty: they answer 404.
	EmailWebhookSecret []byte
	// Bus shares the rate limits' spending among replicas (internal/ratelimit); nil: each replica
	// limits alone.
	Bus bus.Bus
	// Refusals counts what the spam defences refuse (E4); nil: only the metrics count.
	Refusals *spam.Refusals
}

// Server answers every HTTP request of Beckon. It is an http.Handler.
type Server struct {
	proxies       []netip.Prefix
	visitors      *visitor.Service
	tokens        *visitor.Tokens
	chat          *chat.Store
	fields        *field.Store
	db            *db.DB
	secrets       *secret.Keyring
	clock         clock.Clock
	baseURL       string
	msgIPs        *limiter                  // messenger requests per client IP
	msgVisitors   *limiter                  // messenger requests per visitor
	convAlerts    *limiter                  // Waiting for Rep alerts per client address (a stranger cannot ring every rep at will)
	chanAlerts    *limiter                  // alerts sent to team channels per workspace
	targetSeen    *ttlCache[struct{}]       // visitors recently announced as a target account on site
	sumCache      *ttlCache[visitorSummary] // visitors' names for alerts
	bursts        *spam.BurstCounter        // new addresses per workspace and domain (E4), per replica
	log           *slog.Logger
	identity      *identity.Service
	workspaces    *workspace.Store
	jobs          *jobs.Queue
	checks        []Check
	metrics       *Metrics
	metricsToken  string
	secureCookies bool
	maxBody       int64
	crossOrigin   *http.CrossOriginProtection
	version       version.Info
	handler       http.Handler
	table         []route
	console       *console
	// paths holds each path pattern of the table once, without a method, and allow the methods
	// each answers ("GET, HEAD, PATCH"): together they tell a wrong method (405) from a wrong
	// path (404).
	paths *http.ServeMux
	allow map[string]string
	deps  Deps // everything New was given, for the parts that read their dependencies from it
	// sockets are the WebSockets connected to this server (socket.go).
	sockets *pinger
}

// auth says who may call a route.
type auth int

const (
	authPublic  auth = iota // anyone
	authAPI                 // an API token, or a console session with its CSRF token for changes: JSON errors
	authConsole             // a console session: HTML pages, redirect to /login when absent
	authGuest               // console pages for people not logged in (login, activation): HTML errors
	authVisitor             // the messenger's endpoints: the handler checks origin and visitor token; JSON errors
)

// handlerFunc is an HTTP handler that returns its error for the route's kind of answer.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// route is one line of the route table.
type route struct {
	method, pattern string
	auth            auth
	scope           identity.Scope // required by api routes; "" when the handler decides
	h               handlerFunc
	bodyLimit       int64 // 0: the server's MaxBody
}

// New builds the server and its route table.
func New(d Deps) *Server {
	if d.MaxBody == 0 {
		d.MaxBody = 1 << 20
	}
	if d.Metrics == nil {
		d.Metrics = NewMetrics(nil)
	}
	if d.Clock == nil {
		d.Clock = clock.System{}
	}
	s := &Server{log: d.Log, identity: d.Identity, workspaces: d.Workspaces, jobs: d.Jobs, checks: d.Checks,
		metrics: d.Metrics, metricsToken: d.MetricsToken, proxies: d.TrustedProxies,
		visitors: d.Visitors, tokens: d.Tokens, chat: d.Chat, fields: d.Fields, db: d.DB, secrets: d.Secrets, clock: d.Clock, baseURL: strings.TrimRight(d.BaseURL, "/"),
		msgIPs:      newLimiter(d.Bus, d.Log, "messenger-ip", MessengerIPPerMinute, MessengerIPBurst),
		msgVisitors: newLimiter(d.Bus, d.Log, "messenger-visitor", MessengerVisitorPerMinute, MessengerVisitorBurst),
		convAlerts:  newLimiter(d.Bus, d.Log, "conversation-alerts", ConversationAlertsPerMinute, ConversationAlertsBurst),
		chanAlerts:  newLimiter(d.Bus, d.Log, "channel-alerts", ChannelAlertsPerMinute, ChannelAlertsBurst),
		bursts:      spam.NewBurstCounter(spam.BurstConfig{}),
		targetSeen:  newTTLCache[struct{}](TargetAlertEvery, 100000), sumCache: newTTLCache[visitorSummary](30*time.Second, 50000), secureCookies: d.SecureCookies, maxBody: d.MaxBody,
		crossOrigin: http.NewCrossOriginProtection(), version: version.Get(), deps: d,
		sockets: &pinger{socks: map[*sock]struct{}{}, perIP: map[string]int{}, perVisit: map[string]int{}}}
	s.console = newConsole(s)
	s.table = s.routes()
	mux := http.NewServeMux()
	s.paths = http.NewServeMux()
	methods := map[string][]string{}
	for _, rt := range s.table {
		mux.Handle(rt.method+" "+rt.pattern, s.wrap(rt))
		if _, seen := methods[rt.pattern]; !seen {
			s.paths.Handle(rt.pattern, http.NotFoundHandler()) // only matched, never called
		}
		methods[rt.pattern] = append(methods[rt.pattern], rt.method)
		if rt.method == http.MethodGet {
			methods[rt.pattern] = append(methods[rt.pattern], http.MethodHead) // net/http answers HEAD with GET
		}
	}
	s.allow = map[string]string{}
	for pattern, ms := range methods {
		sort.Strings(ms)
		s.allow[pattern] = strings.Join(slices.Compact(ms), ", ")
	}
	// Every request no route matches: a wrong method on a known path (405 with Allow), else 404.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.securityHeaders(w, isAPI(r.URL.Path))
		err := checkURL(r)
		if err == nil {
			if _, pattern := s.paths.Handler(r); s.allow[pattern] != "" {
				w.Header().Set("Allow", s.allow[pattern])
				err = errs.E(errs.MethodNotAllowed, "this path answers only %s", s.allow[pattern])
			} else {
				err = errs.E(errs.NotFound, "no such page: %s %s", r.Method, r.URL.Path)
			}
		}
		s.fail(w, r, err)
	})
	s.handler = s.outer(mux)
	return s
}

// ServeHTTP answers a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// fail answers err in the form the path calls for.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if isAPI(r.URL.Path) {
		s.writeAPIError(w, r, err)
	} else {
		s.console.error(w, r, err)
	}
}

// wrap applies a route's body limit, authentication, scope and CSRF checks, and error rendering.
func (s *Server) wrap(rt route) http.Handler {
	limit := rt.bodyLimit
	if limit == 0 {
		limit = s.maxBody
	}
	isJSON := rt.auth == authAPI || rt.auth == authVisitor || (rt.auth == authPublic && isAPI(rt.pattern))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.securityHeaders(w, isJSON)
		if rt.auth == authVisitor {
			// Every answer of /m/v1 is readable by the page that asked, errors included (a refused
			// token must reach the messenger to start again); success answers come only after the
			// workspace's allowed origins were checked.
			if o := r.Header.Get("Origin"); o != "" {
				w.Header().Set("Access-Control-Allow-Origin", o)
				w.Header().Set("Access-Control-Expose-Headers", "Retry-After")
				w.Header().Add("Vary", "Origin")
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		fail := func(err error) {
			if isJSON {
				s.writeAPIError(w, r, err)
			} else {
				s.console.error(w, r, err)
			}
		}
		// Before anything reads the request: no handler, and no database, sees such bytes.
		if err := checkURL(r); err != nil {
			fail(err)
			return
		}
		switch rt.auth {
		case authAPI, authConsole:
			p, err := s.authenticate(r)
			if err == nil && p == nil {
				err = errs.E(errs.Unauthenticated, "authentication required: send 'Authorization: Bearer <API token>'")
			}
			if err != nil {
				if rt.auth == authConsole && errs.Is(err, errs.Unauthenticated) {
					s.console.toLogin(w, r)
					return
				}
				fail(err)
				return
			}
			if rt.auth == authConsole && p.Session == nil {
				fail(errs.E(errs.Forbidden, "the console needs a login session, not an API token"))
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), keyPrincipal, p))
			if err := s.checkCSRF(r, p); err != nil {
				fail(err)
				return
			}
			if rt.scope != "" && !p.Can(rt.scope) {
				fail(errs.E(errs.Forbidden, "this needs the %s permission", rt.scope))
				return
			}
		case authGuest:
			if unsafeMethod(r.Method) {
				if err := s.crossOrigin.Check(r); err != nil {
					fail(errs.E(errs.Forbidden, "cross-origin request refused"))
					return
				}
			}
		}
		if err := rt.h(w, r); err != nil {
			fail(err)
		}
	})
}

// RouteInfo describes one route, for tests and documentation.
type RouteInfo struct {
	Method, Pattern string
	Auth            string
	Scope           string
}

// Routes lists the route table sorted by pattern and method.
func (s *Server) Routes() []RouteInfo {
	names := map[auth]string{authPublic: "public", authAPI: "api", authConsole: "console", authGuest: "guest", authVisitor: "visitor"}
	out := make([]RouteInfo, 0, len(s.table))
	for _, rt := range s.table {
		out = append(out, RouteInfo{Method: rt.method, Pattern: rt.pattern, Auth: names[rt.auth], Scope: string(rt.scope)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pattern != out[j].Pattern {
			return out[i].Pattern < out[j].Pattern
		}
		return out[i].Method < out[j].Method
	})
	return out
}

// checkURL refuses, as errs.Malformed, a request whose path or query, once percent-decoded, is
// not valid UTF-8 or holds a NUL byte: text that PostgreSQL refuses to store or compare and that
// no Beckon URL ever holds.
func checkURL(r *http.Request) error {
	if !plainText(r.URL.Path) || !plainText(percentDecode(r.URL.RawQuery)) {
		return errs.E(errs.Malformed, "the URL must be UTF-8 text without NUL bytes")
	}
	return nil
}

// plainText reports whether s is valid UTF-8 without a NUL byte.
func plainText(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// percentDecode decodes every %XX of s and leaves anything else as it is, also a % that starts
// no escape: it yields every byte that any parse of the query (url.ParseQuery) could produce.
func percentDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if hi, lo := unhex(s[i+1]), unhex(s[i+2]); hi >= 0 && lo >= 0 {
				b = append(b, byte(hi<<4|lo))
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return string(b)
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// pathID returns the {name} path value, trimmed.
func pathID(r *http.Request, name string) string { return strings.TrimSpace(r.PathValue(name)) }
