// Package liveview keeps the visitors on each workspace's website right now, for Live View (SPEC
// V5): reps see who is on the site, on which page, for how long, who they are when known (name,
// email, company, fields), whether they are a target account and whether they are in a
// conversation — updated in real time. docs/LIVE-VIEW.md explains it for operators.
//
// # One registry per replica, kept in step by the bus
//
// Each replica runs a Registry holding, per workspace, the visitors on the site now. The replica
// that handles a messenger request publishes a small delta to the bus subject "live.<workspace
// id>" (Registry.Page, Seen, Leave, Changed); every replica's registry subscribes to "live.>" and
// applies every delta, its own included, so all replicas agree. The bus may drop under pressure;
// the registry then heals at the visitor's next page view, heartbeat or identification.
//
//   - page: a page load (hello) or an SPA route change: visitor, session, URL, title, and, when
//     the request knows them, the country, device, whether the visitor or session is new and the
//     open conversation.
//   - seen: a heartbeat (visitor id and instant only). It keeps the visitor listed; it changes
//     nothing a rep sees, so it is never sent to the console.
//   - leave: the messenger's pagehide beacon. The visitor is removed LeaveGrace (10 s) later
//     unless any request of theirs comes first: clicking a link to another page of the site sends
//     a leave and, a moment later, the next page's hello, and the row must not flicker.
//   - update: the visitor's fields or email changed (identify, form), or two visitor records
//     merged (the old id is replaced by the survivor's).
//   - profile: what the database knows of a visitor (fields, email, session start, page views,
//     returning, open conversation), published by the replica that handled the request whenever
//     its registry met a visitor it knew too little about: a returning visitor's new session,
//     a visitor seen for the first time by this registry, an update. Those reads are batched:
//     one query for all visitors waiting, on a goroutine that runs only while there is work.
//
// A visitor leaves Live View on a leave (after the grace), or when no request of theirs arrived
// for Timeout (2 minutes; the messenger heartbeats every 60 s while a page is visible). Each
// registry sweeps on its own clock every SweepInterval (5 s).
//
// Conversations start and close in the chat package, whose events reach every replica through
// the bus already; the app forwards them to ConversationChanged, which applies them locally.
//
// # Loading from the database
//
// The first time a workspace is watched on a replica (Watch, Snapshot), its registry reads the
// sessions open now from the database — not marked ended and seen within Timeout, at most
// visitor.MaxLiveSessions, most recently seen first — with each one's last page view, field
// values and open conversation, and merges them with what deltas have brought meanwhile. A
// visitor removed by a delta (left, timed out) is not brought back by a database row that is not
// newer than the removal.
//
// # Watchers
//
// Watch registers a watcher: it gets one snapshot, then deltas. Changes are coalesced per
// workspace and sent every FlushInterval (250 ms): at most one upsert per visitor per interval,
// batched into frames of at most FrameSize (200) visitors; remove frames carry only ids. A
// snapshot of more than FrameSize visitors continues in upsert frames sent right after it.
// Everything settings-dependent — the block list and target accounts — is evaluated when frames
// are built, with the settings read at most SettingsTTL (5 s) before; a change of the settings
// re-evaluates every visitor of the workspace. A visitor whose current page is blocked is never
// sent, and is removed from watchers when they move onto a blocked page.
//
// The applying of deltas never waits for a watcher: frames are built under the workspace's lock
// and sent after it is released, and send must not block (the caller queues). A goroutine that
// builds and sends frames runs only while some watcher exists.
package liveview

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/visitor"
	"github.com/beckonhq/beckon/internal/workspace"
)

// Defaults of Options.
const (
	DefaultTimeout       = 2 * time.Minute
	DefaultLeaveGrace    = 10 * time.Second
	DefaultSweepInterval = 5 * time.Second
	DefaultFlushInterval = 250 * time.Millisecond
	DefaultSettingsTTL   = 5 * time.Second
	// MaxVisitors bounds the visitors a registry keeps per workspace; past it, new visitors are
	// not listed (and a warning is logged) until others leave.
	MaxVisitors = visitor.MaxLiveSessions
	// FrameSize is the most visitors one frame carries.
	FrameSize = 200
	// MaxFieldLen is the longest field value (in bytes) Live View carries; longer ones are cut.
	MaxFieldLen = 300
)

// SubjectPrefix starts the bus subjects of Live View deltas: "live.<workspace id>".
const SubjectPrefix = "live."

// Sessions reads the open sessions Live View lists; *visitor.Service implements it.
type Sessions interface {
	LiveSessions(ctx context.Context, wsID string, since time.Time, limit int) ([]visitor.LiveSession, error)
	LiveSessionsOf(ctx context.Context, wsID string, visitorIDs []string) ([]visitor.LiveSession, error)
}

// Fields reads visitors' effective field values in bulk; *field.Store implements it.
type Fields interface {
	EffectiveValues(ctx context.Context, wsID string, visitorIDs []string) (map[string]map[string]string, error)
}

// Options configure a Registry. Bus and Settings are required; zero durations take the defaults.
type Options struct {
	Bus   bus.Bus
	Log   *slog.Logger // nil logs nothing
	Clock clock.Clock  // nil is the system clock
	// Settings returns a workspace's settings (block list, target accounts). The registry asks it
	// at most every SettingsTTL per watched workspace.
	Settings func(ctx context.Context, wsID string) (workspace.Settings, error)
	// Sessions and Fields read the database; nil reads nothing (a registry fed by deltas only).
	Sessions Sessions
	Fields   Fields
	// InConversation returns, of the given visitors, those in an open conversation, with its id.
	// nil leaves conversations to the deltas and ConversationChanged.
	InConversation func(ctx context.Context, wsID string, visitorIDs []string) (map[string]string, error)

	Timeout       time.Duration // a visitor not seen for this long is removed (2 minutes)
	LeaveGrace    time.Duration // a visitor who left is removed this long after (10 s)
	SweepInterval time.Duration // how often timed-out visitors are looked for (5 s)
	FlushInterval time.Duration // how often coalesced changes are sent to watchers (250 ms)
	SettingsTTL   time.Duration // how old the settings used may be (5 s)

	manual  bool              // tests: no goroutine; they call tick
	onApply func(wsID string) // tests: called after each delta is applied
}

func (o *Options) defaults() {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.System{}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Timeout, DefaultTimeout)
	def(&o.LeaveGrace, DefaultLeaveGrace)
	def(&o.SweepInterval, DefaultSweepInterval)
	def(&o.FlushInterval, DefaultFlushInterval)
	def(&o.SettingsTTL, DefaultSettingsTTL)
}

// Visitor is one row of Live View: a visitor on the site now.
type Visitor struct {
	ID        string    `json:"id"`
	SessionID string    `json:"session_id"`
	Name      string    `json:"name"`    // first and last name fields; "" when unknown
	Email     string    `json:"email"`   // the email field, else the visitor record's email
	Company   string    `json:"company"` // the company field
	Title     string    `json:"title"`   // the job title field
	PageURL   string    `json:"page_url"`
	PageTitle string    `json:"page_title"`
	StartedAt time.Time `json:"started_at"` // when the session started: time on site
	// LastSeenAt is the visitor's last request as of this row; heartbeats alone send no row.
	LastSeenAt     time.Time `json:"last_seen_at"`
	Country        string    `json:"country"` // ISO 3166 alpha-2; "" when unknown
	Device         string    `json:"device"`  // "desktop", "mobile", "tablet" or ""
	TargetAccount  bool      `json:"target_account"`
	ConversationID string    `json:"conversation_id"` // the open conversation; "" when none
	Returning      bool      `json:"returning"`       // the visitor had an earlier session
	PageViews      int       `json:"page_views"`      // in this session
	// Fields are the effective values of the visitor's fields (key → value), each cut to
	// MaxFieldLen bytes. The map is shared: read it, never change it.
	Fields map[string]string `json:"fields"`
}

// Frame operations.
const (
	OpSnapshot = "snapshot" // replace the list with these visitors
	OpUpsert   = "upsert"   // add or replace these visitors
	OpRemove   = "remove"   // remove the visitors with these ids
)

// Frame is what a watcher receives: {"t":"live","op":"snapshot"|"upsert"|"remove","visitors":[…]}
// (docs/REALTIME.md). Remove frames carry visitors with only their ID, and encode only "id". A
// frame is shared by every watcher of the workspace: never change it.
type Frame struct {
	T        string    `json:"t"` // always "live"
	Op       string    `json:"op"`
	Visitors []Visitor `json:"visitors"`

	enc *encoded
}

type encoded struct {
	once sync.Once
	b    []byte
	err  error
}

func newFrame(op string, vs []Visitor) Frame {
	return Frame{T: "live", Op: op, Visitors: vs, enc: &encoded{}}
}

// JSON returns the frame's encoding, made once per frame however many watchers ask; the bytes
// are shared: never change them.
func (f Frame) JSON() ([]byte, error) {
	if f.enc == nil {
		return f.encode()
	}
	f.enc.once.Do(func() { f.enc.b, f.enc.err = f.encode() })
	return f.enc.b, f.enc.err
}

// MarshalJSON implements json.Marshaler with JSON.
func (f Frame) MarshalJSON() ([]byte, error) { return f.JSON() }

func (f Frame) encode() ([]byte, error) {
	if f.Op == OpRemove {
		type id struct {
			ID string `json:"id"`
		}
		ids := make([]id, len(f.Visitors))
		for i, v := range f.Visitors {
			ids[i].ID = v.ID
		}
		return json.Marshal(struct {
			T        string `json:"t"`
			Op       string `json:"op"`
			Visitors []id   `json:"visitors"`
		}{f.T, f.Op, ids})
	}
	type plain Frame // without the methods
	vs := f.Visitors
	if vs == nil {
		vs = []Visitor{}
	}
	return json.Marshal(plain{T: f.T, Op: f.Op, Visitors: vs})
}

// Registry holds the visitors on each workspace's site now. Build it with New; it is safe for
// concurrent use.
type Registry struct {
	opt    Options
	clk    clock.Clock
	log    *slog.Logger
	origin string // this registry's id in the deltas it publishes
	sub    bus.Subscription

	mu       sync.Mutex
	spaces   map[string]*space
	watchers int
	loop     chan struct{} // closed to stop the frame goroutine; nil while none runs
	closed   bool

	tickMu sync.Mutex // one tick at a time: frames of a workspace go out in order
	hyd    hydrator

	// Counters, for logs and tests.
	published, publishFailed, applied, undecodable, overflow atomic.Int64
	lastWarn                                                 atomic.Int64 // unix nanoseconds of the last rate-limited warning
}

// New returns a Registry subscribed to the deltas of every workspace on o.Bus. It returns
// errs.Invalid when o.Bus or o.Settings is missing and the bus's error (errs.Unavailable) when it
// cannot subscribe.
func New(o Options) (*Registry, error) {
	if o.Bus == nil {
		return nil, errs.Field(errs.Invalid, "bus", "liveview.New: a bus is required")
	}
	if o.Settings == nil {
		return nil, errs.Field(errs.Invalid, "settings", "liveview.New: a settings lookup is required")
	}
	o.defaults()
	var b [8]byte
	_, _ = rand.Read(b[:])
	r := &Registry{opt: o, clk: o.Clock, log: o.Log, origin: hex.EncodeToString(b[:]), spaces: map[string]*space{}}
	r.hyd.r = r
	sub, err := o.Bus.Subscribe(SubjectPrefix+">", r.handle)
	if err != nil {
		return nil, errs.Op("liveview.New", err)
	}
	r.sub = sub
	return r, nil
}

// Close stops the registry: it unsubscribes from the bus and stops sending frames. Watchers get
// nothing more; publishing methods do nothing. It always returns nil.
func (r *Registry) Close() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	if r.loop != nil {
		close(r.loop)
		r.loop = nil
	}
	r.mu.Unlock()
	if r.sub != nil {
		r.sub.Unsubscribe()
	}
	return nil
}

// warn logs a warning at most every 10 s, so that a failing bus or database cannot flood the log.
func (r *Registry) warn(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := r.lastWarn.Load()
	if now-last < int64(10*time.Second) || !r.lastWarn.CompareAndSwap(last, now) {
		return
	}
	r.log.Warn(msg, args...)
}
