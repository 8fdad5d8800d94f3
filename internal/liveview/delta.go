package liveview

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/visitor"
)

// Delta operations on the bus.
const (
	opPage    = "page"
	opSeen    = "seen"
	opLeave   = "leave"
	opUpdate  = "update"
	opProfile = "profile"
)

// delta is what one request changed, as published to "live.<workspace id>". Instants are
// microseconds since the epoch; empty fields are left out, so a heartbeat is about 70 bytes.
type delta struct {
	Op    string   `json:"op"`
	V     string   `json:"v"`             // visitor id
	At    int64    `json:"at"`            // when the request was handled
	S     string   `json:"s,omitempty"`   // session id
	Was   string   `json:"was,omitempty"` // update: the visitor id merged into V
	URL   string   `json:"url,omitempty"`
	Title string   `json:"title,omitempty"`
	NewS  bool     `json:"ns,omitempty"` // the request started the session
	NewV  bool     `json:"nv,omitempty"` // the request created the visitor
	C     string   `json:"c,omitempty"`  // country
	D     string   `json:"d,omitempty"`  // device
	Conv  *string  `json:"conv,omitempty"`
	O     string   `json:"o,omitempty"` // the registry that published it
	P     *profile `json:"p,omitempty"`
}

// profile is what the database knows of a visitor and its open session.
type profile struct {
	Started   int64             `json:"started"`
	Seen      int64             `json:"seen"` // the later of the database's last seen and the request that asked
	PageAt    int64             `json:"page_at"`
	URL       string            `json:"url"`
	Title     string            `json:"title"`
	Country   string            `json:"country,omitempty"`
	Device    string            `json:"device,omitempty"`
	PageViews int               `json:"page_views"`
	Sessions  int               `json:"sessions"`
	Email     string            `json:"email,omitempty"`
	Fields    map[string]string `json:"fields,omitempty"`
}

func micro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicro(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// PageEvent is a page a visitor opened: a page load (hello) or an SPA route change.
type PageEvent struct {
	VisitorID string // the live visitor the request counted in (visitor.Recorded.VisitorID)
	SessionID string
	URL       string
	Title     string
	// NewSession and NewVisitor say the request started the session or created the visitor.
	NewSession bool
	NewVisitor bool
	Country    string // when the request knows it (hello); "" otherwise
	Device     string // when the request knows it (hello); "" otherwise
	// ConversationKnown says ConversationID is the visitor's open conversation ("" for none), as
	// hello learns it.
	ConversationKnown bool
	ConversationID    string
}

// Page publishes that a visitor opened a page. It is best effort and cheap (no database): a
// failure to publish is counted and logged, never returned, so that the messenger's request does
// not fail for Live View. A nil Registry does nothing.
func (r *Registry) Page(ctx context.Context, wsID string, e PageEvent) {
	if r == nil || e.VisitorID == "" {
		return
	}
	pg, err := visitor.CheckPage(visitor.Page{URL: e.URL, Title: e.Title})
	if err != nil {
		return // the visitor package refused it too, so nothing was recorded
	}
	d := delta{Op: opPage, V: e.VisitorID, At: micro(r.clk.Now()), S: e.SessionID, URL: pg.URL, Title: pg.Title,
		NewS: e.NewSession, NewV: e.NewVisitor, C: e.Country, D: e.Device}
	if e.ConversationKnown {
		conv := e.ConversationID
		d.Conv = &conv
	}
	r.publish(ctx, wsID, &d)
}

// Seen publishes a heartbeat of a visitor: still on the site. Best effort, as Page.
func (r *Registry) Seen(ctx context.Context, wsID, visitorID string) {
	if r == nil || visitorID == "" {
		return
	}
	r.publish(ctx, wsID, &delta{Op: opSeen, V: visitorID, At: micro(r.clk.Now())})
}

// Leave publishes that a visitor closed a page; they leave Live View LeaveGrace later unless
// another request of theirs comes first. Best effort, as Page.
func (r *Registry) Leave(ctx context.Context, wsID, visitorID string) {
	if r == nil || visitorID == "" {
		return
	}
	r.publish(ctx, wsID, &delta{Op: opLeave, V: visitorID, At: micro(r.clk.Now())})
}

// Changed publishes that a visitor's fields or email changed (identify, form, a rep's or the
// CRM's edit), so that the registries show the new values, read back from the database. When two
// records merged, visitorID is the survivor and mergedFrom the id that merged into it ("" when no
// merge). Best effort, as Page.
func (r *Registry) Changed(ctx context.Context, wsID, visitorID, mergedFrom string) {
	if r == nil || visitorID == "" {
		return
	}
	d := delta{Op: opUpdate, V: visitorID, At: micro(r.clk.Now())}
	if mergedFrom != visitorID {
		d.Was = mergedFrom
	}
	r.publish(ctx, wsID, &d)
}

// publish sends d to the workspace's subject.
func (r *Registry) publish(ctx context.Context, wsID string, d *delta) {
	if d.O == "" {
		d.O = r.origin
	}
	data, err := json.Marshal(d)
	if err == nil {
		err = r.opt.Bus.Publish(ctx, SubjectPrefix+wsID, data)
	}
	if err != nil {
		r.publishFailed.Add(1)
		r.warn("live view: publishing a visitor update failed", "workspace", wsID, "op", d.Op, "err", err)
		return
	}
	r.published.Add(1)
}

// handle applies a delta from the bus.
func (r *Registry) handle(m bus.Msg) {
	ws, ok := strings.CutPrefix(m.Subject, SubjectPrefix)
	if !ok || ws == "" || strings.Contains(ws, ".") {
		r.undecodable.Add(1)
		return
	}
	var d delta
	if err := json.Unmarshal(m.Data, &d); err != nil || d.V == "" {
		r.undecodable.Add(1)
		r.warn("live view: a delta on the bus does not decode", "subject", m.Subject, "err", err)
		return
	}
	r.apply(ws, &d)
}
