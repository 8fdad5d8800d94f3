package liveview

import (
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/workspace"
)

// space is one workspace's visitors on the site, with its watchers.
type space struct {
	id string

	mu    sync.Mutex
	dead  bool // removed from the registry: look it up again
	pins  int  // Watch or Snapshot calls under way, which keep it from being removed
	rows  map[string]*row
	alias map[string]string    // a merged visitor id → the survivor's
	gone  map[string]time.Time // visitors removed lately → the instant of their last request or leave
	swept time.Time

	// Loading from the database: loaded once done; loading is closed when a load under way ends.
	loaded  bool
	loading chan struct{}

	// Settings, as last read, and a version that changes whenever they do.
	settings    workspace.Settings
	hasSettings bool
	settingsAt  time.Time
	settingsVer int

	// While watched: the visitors changed since the last frames, and those watchers were last
	// told are visible.
	watchers map[*watcher]struct{}
	dirty    map[string]struct{}
	shown    map[string]struct{}
	leaving  map[string]struct{} // rows with a leave pending

	sendMu sync.Mutex // held while frames go out, so a new watcher's snapshot precedes its deltas
}

func newSpace(id string) *space {
	return &space{id: id, rows: map[string]*row{}, alias: map[string]string{}, gone: map[string]time.Time{},
		watchers: map[*watcher]struct{}{}, dirty: map[string]struct{}{}, shown: map[string]struct{}{},
		leaving: map[string]struct{}{}}
}

// row is one visitor on the site.
type row struct {
	v        Visitor   // the visible part; LastSeenAt and TargetAccount are filled in by view
	seen     time.Time // the last request of any kind (heartbeats included)
	pageAt   time.Time // when the page shown was opened
	leftAt   time.Time // a leave that no request has followed; zero otherwise
	email    string    // the visitor record's email
	website  string    // the website field, for target accounts
	profiled bool      // the database was read, or had nothing to tell (a new visitor)
	// The block list's verdict on blockURL, under settings version blockVer.
	blockURL string
	blockVer int
	blocked  bool
}

// emptyFields is the Fields of a visitor without any; shared, never changed.
var emptyFields = map[string]string{}

// mark records that visitor id changed visibly, when anyone watches.
func (sp *space) mark(id string) {
	if len(sp.watchers) > 0 {
		sp.dirty[id] = struct{}{}
	}
}

// resolve follows a merge.
func (sp *space) resolve(id string) string {
	if to, ok := sp.alias[id]; ok {
		return to
	}
	return id
}

// touch records a request of the visitor at at: it is seen, and a pending leave is cancelled.
func (sp *space) touch(r *row, at time.Time) {
	if at.After(r.seen) {
		r.seen = at
	}
	if !r.leftAt.IsZero() && !at.Before(r.leftAt) {
		r.leftAt = time.Time{}
		delete(sp.leaving, r.v.ID)
	}
}

// add creates the row of a visitor, unless the workspace is full. It returns nil then.
func (sp *space) add(id string, reg *Registry) *row {
	if len(sp.rows) >= MaxVisitors {
		reg.overflow.Add(1)
		reg.warn("live view: a workspace has more visitors on its site than Live View keeps; new ones are not listed",
			"workspace", sp.id, "max", MaxVisitors)
		return nil
	}
	r := &row{v: Visitor{ID: id, Fields: emptyFields}}
	sp.rows[id] = r
	delete(sp.gone, id)
	return r
}

// apply applies a delta from the bus and reports whether the registry that published it should
// read the visitor from the database (it knows too little of them).
func (sp *space) apply(d *delta, reg *Registry) (id string, hydrate bool) {
	id = sp.resolve(d.V)
	at := fromMicro(d.At)
	r := sp.rows[id]
	switch d.Op {
	case opPage:
		if r == nil {
			if r = sp.add(id, reg); r == nil {
				return id, false
			}
		}
		if d.S != "" && d.S != r.v.SessionID {
			if at.Before(r.pageAt) { // a late delta of an earlier session (another replica's)
				sp.touch(r, at)
				return id, !r.profiled
			}
			r.v.SessionID, r.v.StartedAt, r.v.PageViews, r.pageAt = d.S, at, 0, time.Time{}
		}
		if d.NewV {
			r.profiled, r.v.Returning = true, false
		} else if d.NewS {
			r.v.Returning = true
		}
		r.v.PageViews++
		if !at.Before(r.pageAt) {
			r.v.PageURL, r.v.PageTitle, r.pageAt = d.URL, d.Title, at
		}
		if d.C != "" {
			r.v.Country = d.C
		}
		if d.D != "" {
			r.v.Device = d.D
		}
		if d.Conv != nil {
			r.v.ConversationID = *d.Conv
		}
		sp.touch(r, at)
		sp.mark(id)
		return id, !r.profiled
	case opSeen:
		if r == nil {
			return id, true // on the site, but unknown here: read them
		}
		sp.touch(r, at)
		return id, false
	case opLeave:
		if r != nil && !at.Before(r.seen) {
			r.leftAt = at
			sp.leaving[id] = struct{}{}
		}
		return id, false
	case opUpdate:
		if d.Was != "" && d.Was != id {
			sp.merge(d.Was, id)
		}
		return id, true
	case opProfile:
		if d.P != nil {
			sp.applyProfile(id, d.S, d.P, d.Conv, reg)
		}
		return id, false
	}
	return id, false
}

// merge replaces visitor from by its survivor to: the row moves (or, when to has one, gives it
// its page when that is newer), and later deltas naming from apply to to.
func (sp *space) merge(from, to string) {
	for a, s := range sp.alias {
		if s == from {
			sp.alias[a] = to
		}
	}
	sp.alias[from] = to
	old := sp.rows[from]
	if old == nil {
		return
	}
	delete(sp.rows, from)
	delete(sp.leaving, from)
	sp.mark(from)
	if cur := sp.rows[to]; cur != nil {
		if old.pageAt.After(cur.pageAt) {
			cur.v.PageURL, cur.v.PageTitle, cur.pageAt = old.v.PageURL, old.v.PageTitle, old.pageAt
			cur.v.SessionID, cur.v.StartedAt, cur.v.PageViews = old.v.SessionID, old.v.StartedAt, old.v.PageViews
		}
		if old.seen.After(cur.seen) {
			cur.seen = old.seen
		}
	} else {
		old.v.ID = to
		old.profiled = false
		sp.rows[to] = old
		delete(sp.gone, to)
		if !old.leftAt.IsZero() {
			sp.leaving[to] = struct{}{}
		}
	}
	sp.mark(to)
}

// applyProfile merges what the database knows of visitor id into its row: the profile (fields,
// email, returning, conversation) always; the session's data only when it is the session the row
// shows, and its page only when newer. A visitor without a row gets one, unless it was removed
// at or after the profile's instant (a database that lags must not bring back one who left).
func (sp *space) applyProfile(id, session string, p *profile, conv *string, reg *Registry) {
	r := sp.rows[id]
	seen := fromMicro(p.Seen)
	if r == nil {
		if t, ok := sp.gone[id]; ok && !seen.After(t) {
			return
		}
		if session == "" {
			return
		}
		if r = sp.add(id, reg); r == nil {
			return
		}
	}
	r.profiled = true
	r.email = p.Email
	fields := emptyFields
	if len(p.Fields) > 0 {
		fields = make(map[string]string, len(p.Fields))
		for k, v := range p.Fields {
			fields[k] = clip(v, MaxFieldLen)
		}
	}
	r.v.Fields = fields
	r.v.Email = fields["email"]
	if r.v.Email == "" {
		r.v.Email = clip(p.Email, MaxFieldLen)
	}
	r.v.Name = strings.TrimSpace(fields["first_name"] + " " + fields["last_name"])
	r.v.Company, r.v.Title, r.website = fields["company"], fields["title"], fields["website"]
	r.v.Returning = p.Sessions > 1
	if conv != nil {
		r.v.ConversationID = *conv
	}
	if r.v.SessionID == "" || r.v.SessionID == session {
		r.v.SessionID = session
		if started := fromMicro(p.Started); !started.IsZero() {
			r.v.StartedAt = started
		}
		r.v.PageViews = max(r.v.PageViews, p.PageViews)
		if pageAt := fromMicro(p.PageAt); r.pageAt.IsZero() || pageAt.After(r.pageAt) {
			r.v.PageURL, r.v.PageTitle, r.pageAt = p.URL, p.Title, pageAt
		}
		if p.Country != "" {
			r.v.Country = p.Country
		}
		if p.Device != "" {
			r.v.Device = p.Device
		}
	}
	sp.touch(r, seen)
	sp.mark(id)
}

// conversation sets or clears a visitor's open conversation.
func (sp *space) conversation(visitorID, convID string, open bool) {
	id := sp.resolve(visitorID)
	r := sp.rows[id]
	if r == nil {
		return
	}
	switch {
	case open && r.v.ConversationID != convID:
		r.v.ConversationID = convID
	case !open && r.v.ConversationID == convID && convID != "":
		r.v.ConversationID = ""
	default:
		return
	}
	sp.mark(id)
}

// remove drops a row, remembering when its visitor was last heard of.
func (sp *space) remove(id string, r *row) {
	last := r.seen
	if r.leftAt.After(last) {
		last = r.leftAt
	}
	delete(sp.rows, id)
	delete(sp.leaving, id)
	sp.gone[id] = last
	sp.mark(id)
}

// sweep removes the visitors not seen for timeout, and those who left grace ago, and forgets
// tombstones and aliases that no longer matter.
func (sp *space) sweep(now time.Time, timeout, grace time.Duration) {
	sp.swept = now
	for id, r := range sp.rows {
		if now.Sub(r.seen) >= timeout || (!r.leftAt.IsZero() && now.Sub(r.leftAt) >= grace) {
			sp.remove(id, r)
		}
	}
	for id, t := range sp.gone {
		if now.Sub(t) >= timeout {
			delete(sp.gone, id)
		}
	}
	for from, to := range sp.alias {
		if sp.rows[to] == nil && sp.rows[from] == nil {
			delete(sp.alias, from)
		}
	}
}

// sweepLeaving removes the visitors whose leave is grace old.
func (sp *space) sweepLeaving(now time.Time, grace time.Duration) {
	for id := range sp.leaving {
		r := sp.rows[id]
		if r == nil || r.leftAt.IsZero() {
			delete(sp.leaving, id)
			continue
		}
		if now.Sub(r.leftAt) >= grace {
			sp.remove(id, r)
		}
	}
}

// visible reports whether a row may be shown: its page is not blocked.
func (sp *space) visible(r *row) bool {
	if r.blockVer != sp.settingsVer || r.blockURL != r.v.PageURL {
		r.blockVer, r.blockURL = sp.settingsVer, r.v.PageURL
		r.blocked = workspace.LiveViewBlocked(sp.settings.LiveViewBlock, r.v.PageURL)
	}
	return !r.blocked
}

// view returns the row as watchers see it.
func (sp *space) view(r *row) Visitor {
	v := r.v
	v.LastSeenAt = r.seen
	if t := sp.settings.TargetAccounts; len(t) > 0 {
		v.TargetAccount = workspace.IsTargetAccount(t, v.Email, r.email, r.website, v.Company)
	}
	return v
}

// clip cuts s to at most n bytes on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
