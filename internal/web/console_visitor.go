package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/beckonhq/beckon/internal/chat"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/field"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/timezone"
	"github.com/beckonhq/beckon/internal/visitor"
	"github.com/beckonhq/beckon/internal/visitor/geo"
	"github.com/beckonhq/beckon/internal/workspace"
)

// Visitor 360 (SPEC V6): one server-rendered page per visitor with their fields and where each
// value came from, their identity, their sessions with every page they opened, and their
// conversations; and the visitor cards the inbox shows beside a conversation (JSON).

// visitorView is the Visitor 360 page.
type visitorView struct {
	view
	ID            string
	Name          string // the best name we have: first and last name, email, or "Visitor from …"
	Email         string
	EmailVerified bool
	Company       string
	JobTitle      string
	FirstSeen     stamp
	LastSeen      stamp
	SessionsCount int
	OnSite        bool
	Fields        []fieldRow
	Sessions      []sessionRow
	// Paging of the sessions: OlderURL leads to older ones; Paged is set past the first page.
	OlderURL      string
	Paged         bool
	Conversations []convRow
	ConvsMore     bool // there are more conversations than listed
}

// stamp is an instant shown in the rep's time zone, with its machine-readable form.
type stamp struct {
	Text, ISO string
}

func (s stamp) IsZero() bool { return s.ISO == "" }

// fieldRow is one field of the visitor.
type fieldRow struct {
	Label, Value, Source string
	Updated              stamp
	Others               []sourceRow // every source's value, the winning one included
}

// sourceRow is what one source says about a field.
type sourceRow struct {
	Source, Value string
	Updated       stamp
	Wins          bool
}

// sessionRow is one session with its page views.
type sessionRow struct {
	ID              string
	Started, Ended  stamp
	Duration        string
	Open            bool
	Landing         link
	Referrer        link
	Campaign        []labelValue
	Device, Country string
	Language, Zone  string
	PageViews       int
	Views           []viewRow
	MoreViews       int
}

// link is a URL to show; Href is set only for http and https URLs, the rest stay text.
type link struct {
	Text, Href string
}

type labelValue struct{ Label, Value string }

// viewRow is one page view.
type viewRow struct {
	Page  link
	Title string
	At    stamp
}

// convRow is one of the visitor's conversations.
type convRow struct {
	ID, Status, Preview, With, Href string
	Started                         stamp
	Messages                        int64
}

// sourceLabels name the sources of field values.
var sourceLabels = map[field.Source]string{
	field.SourceVisitor: "Visitor", field.SourceForm: "Form", field.SourceCRM: "CRM", field.SourceRep: "Rep", field.SourceAPI: "API",
}

func sourceLabel(s field.Source) string {
	if l, ok := sourceLabels[s]; ok {
		return l
	}
	return string(s)
}

// webLink makes a link of a URL: clickable only when it is an absolute http(s) URL.
func webLink(s string) link {
	l := link{Text: s}
	if u, err := url.Parse(s); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		l.Href = u.String()
	}
	return l
}

// repLocation is the time zone pages show times in: the rep's own, else the workspace's.
func (c *console) repLocation(ctx context.Context, p *identity.Principal) *time.Location {
	tz := p.User.TimeZone
	if tz == "" && c.s.workspaces != nil {
		if ws, err := c.s.workspaces.Get(ctx, p.WorkspaceID()); err == nil {
			tz = ws.TimeZone
		}
	}
	return timezone.Load(tz)
}

func stampOf(t time.Time, loc *time.Location, now time.Time) stamp {
	if t.IsZero() {
		return stamp{}
	}
	lt := t.In(loc)
	layout := "2 Jan 2006, 15:04"
	if lt.Year() == now.In(loc).Year() {
		layout = "2 Jan, 15:04"
	}
	return stamp{Text: lt.Format(layout), ISO: t.UTC().Format(time.RFC3339)}
}

// shortDuration shows a span as "45 s", "12 min", "1 h 05 min".
func shortDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.FormatInt(int64(d/time.Second), 10) + " s"
	case d < time.Hour:
		return strconv.FormatInt(int64(d/time.Minute), 10) + " min"
	}
	h, m := int64(d/time.Hour), int64(d%time.Hour/time.Minute)
	if m < 10 {
		return strconv.FormatInt(h, 10) + " h 0" + strconv.FormatInt(m, 10) + " min"
	}
	return strconv.FormatInt(h, 10) + " h " + strconv.FormatInt(m, 10) + " min"
}

// displayName is how the console names a visitor: their name, else their email, else where they
// are from.
func displayName(first, last, email, country string) string {
	if n := strings.TrimSpace(joinNames(first, last)); n != "" {
		return n
	}
	if email != "" {
		return email
	}
	if name := geo.CountryName(country); name != "" {
		return "Visitor from " + name
	}
	return "Anonymous visitor"
}

func joinNames(first, last string) string {
	return strings.TrimSpace(strings.TrimSpace(first) + " " + strings.TrimSpace(last))
}

// canSeeVisitors refuses users whose role does not read visitors (meetings-only users).
func canSeeVisitors(r *http.Request) error {
	if !principalOf(r).Can(identity.ScopeVisitorsRead) {
		return errs.E(errs.Forbidden, "your role does not show visitors")
	}
	return nil
}

// visitorPage is Visitor 360: GET /visitors/{id}[?before=<cursor>]. A merged visitor's id
// redirects to the visitor it was merged into; another workspace's is not found.
func (c *console) visitorPage(w http.ResponseWriter, r *http.Request) error {
	if err := canSeeVisitors(r); err != nil {
		return err
	}
	p := principalOf(r)
	ctx := r.Context()
	wsID := p.WorkspaceID()
	vid := pathID(r, "id")
	before := r.URL.Query().Get("before")
	h, err := c.s.visitors.History(ctx, wsID, vid, visitor.HistoryQuery{Before: before})
	if err != nil {
		return err
	}
	if h.Visitor.ID != vid {
		http.Redirect(w, r, "/visitors/"+url.PathEscape(h.Visitor.ID), http.StatusSeeOther)
		return nil
	}
	loc := c.repLocation(ctx, p)
	now := c.s.clock.Now()
	vals, err := c.s.fields.Values(ctx, wsID, vid)
	if err != nil {
		return err
	}
	byKey := map[string]string{}
	v := &visitorView{ID: vid, EmailVerified: h.EmailVerified, FirstSeen: stampOf(h.Visitor.FirstSeenAt, loc, now),
		LastSeen: stampOf(h.Visitor.LastSeenAt, loc, now), SessionsCount: h.Visitor.Sessions, Paged: before != ""}
	for _, fv := range vals {
		byKey[fv.Key] = fv.Value
		row := fieldRow{Label: fv.Label, Value: fv.Value, Source: sourceLabel(fv.Source), Updated: stampOf(fv.UpdatedAt, loc, now)}
		for _, sv := range fv.Sources {
			row.Others = append(row.Others, sourceRow{Source: sourceLabel(sv.Source), Value: sv.Value,
				Updated: stampOf(sv.UpdatedAt, loc, now), Wins: sv.Source == fv.Source})
		}
		v.Fields = append(v.Fields, row)
	}
	v.Email = byKey["email"]
	if v.Email == "" {
		v.Email = h.Visitor.Email
	}
	v.Company, v.JobTitle = byKey["company"], byKey["title"]
	country := ""
	for _, x := range h.Sessions {
		if country == "" {
			country = x.Country
		}
		if x.Open && before == "" {
			v.OnSite = true
		}
		v.Sessions = append(v.Sessions, sessionRowOf(x, loc, now))
	}
	if country == "" && before == "" {
		// The newest session is on this page only without a cursor; else ask for it.
		if first, err := c.s.visitors.History(ctx, wsID, vid, visitor.HistoryQuery{Sessions: 1, Views: 1}); err == nil && len(first.Sessions) > 0 {
			country = first.Sessions[0].Country
		}
	}
	v.Name = displayName(byKey["first_name"], byKey["last_name"], v.Email, country)
	if h.Next != "" {
		v.OlderURL = "/visitors/" + url.PathEscape(vid) + "?before=" + url.QueryEscape(h.Next)
	}
	convs, more, err := c.visitorConversations(ctx, wsID, vid)
	if err != nil {
		return err
	}
	for _, cv := range convs {
		v.Conversations = append(v.Conversations, convRowOf(cv, loc, now))
	}
	v.ConvsMore = more
	v.view = view{Title: v.Name, Nav: "visitors"}
	return c.render(w, r, http.StatusOK, "visitor", v)
}

// visitorConversationsShown is how many of a visitor's conversations Visitor 360 lists.
const visitorConversationsShown = 20

// visitorConversations lists the visitor's latest conversations and whether there are more.
func (c *console) visitorConversations(ctx context.Context, wsID, vid string) ([]*chat.Conversation, bool, error) {
	convs, err := c.s.chat.List(ctx, wsID, chat.Filter{Stream: chat.StreamAll, VisitorID: vid, Limit: visitorConversationsShown + 1})
	if err != nil {
		return nil, false, err
	}
	if len(convs) > visitorConversationsShown {
		return convs[:visitorConversationsShown], true, nil
	}
	return convs, false, nil
}

func sessionRowOf(x visitor.SessionHistory, loc *time.Location, now time.Time) sessionRow {
	row := sessionRow{ID: x.ID, Started: stampOf(x.StartedAt, loc, now), Open: x.Open, Landing: webLink(x.LandingURL),
		Device: x.Device, Country: geo.CountryName(x.Country), Language: x.Language, Zone: x.TimeZone,
		PageViews: x.PageViews, MoreViews: x.MoreViews}
	if row.Country == "" {
		row.Country = x.Country
	}
	if x.Referrer != "" {
		row.Referrer = webLink(x.Referrer)
	}
	end := x.EndedAt
	if x.Open {
		end = now
	} else {
		row.Ended = stampOf(x.EndedAt, loc, now)
	}
	if !end.IsZero() && end.After(x.StartedAt) {
		row.Duration = shortDuration(end.Sub(x.StartedAt))
	}
	for _, kv := range []labelValue{{"Source", x.Source}, {"Medium", x.Medium}, {"Campaign", x.Name}, {"Term", x.Term},
		{"Content", x.Content}, {"gclid", x.GCLID}} {
		if kv.Value != "" {
			row.Campaign = append(row.Campaign, kv)
		}
	}
	for _, pv := range x.Views {
		row.Views = append(row.Views, viewRow{Page: webLink(pv.URL), Title: pv.Title, At: stampOf(pv.At, loc, now)})
	}
	return row
}

func convRowOf(cv *chat.Conversation, loc *time.Location, now time.Time) convRow {
	row := convRow{ID: cv.ID, Status: cv.Status, Started: stampOf(cv.CreatedAt, loc, now), Messages: cv.LastSeq}
	stream := chat.StreamClosed
	switch {
	case cv.Status != chat.StatusOpen:
		row.Status = "Closed"
	case cv.AssigneeID == "" && !cv.WaitingSince.IsZero():
		row.Status, stream = "Waiting for a rep", chat.StreamWaiting
	default:
		row.Status, stream = "Open", chat.StreamLive
	}
	var names []string
	for _, p := range cv.Participants {
		names = append(names, p.Name)
	}
	row.With = strings.Join(names, ", ")
	if m := cv.LastMessage; m != nil {
		row.Preview = m.Text
		if len([]rune(row.Preview)) > 160 {
			row.Preview = string([]rune(row.Preview)[:160]) + "…"
		}
	}
	row.Href = "/inbox?stream=" + stream + "&c=" + url.QueryEscape(cv.ID)
	return row
}

// visitorCard is what the inbox shows about a visitor beside a conversation.
type visitorCard struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
	Company       string `json:"company"`
	Title         string `json:"title"`
	Country       string `json:"country"` // the country field, else the latest session's ISO code
	CountryName   string `json:"country_name"`
	PageURL       string `json:"page_url"`
	PageTitle     string `json:"page_title"`
	OnSite        bool   `json:"on_site"`
	URL           string `json:"url"` // Visitor 360
}

// maxCards bounds the visitors one cards request names.
const maxCards = 100

// visitorCards answers GET /visitors/cards?ids=vis_a,vis_b with {"cards":{id: card}}: the
// inbox's view of visitors. Unknown ids, merged ones and other workspaces' are left out.
func (c *console) visitorCards(w http.ResponseWriter, r *http.Request) error {
	if err := canSeeVisitors(r); err != nil {
		return err
	}
	var ids []string
	seen := map[string]bool{}
	for _, part := range strings.Split(r.URL.Query().Get("ids"), ",") {
		if part = strings.TrimSpace(part); part != "" && !seen[part] {
			seen[part] = true
			ids = append(ids, part)
		}
	}
	if len(ids) > maxCards {
		return errs.Field(errs.Invalid, "ids", "name at most %d visitors", maxCards)
	}
	cards, err := c.cards(r.Context(), principalOf(r).WorkspaceID(), ids)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"cards": cards})
	return nil
}

// cards builds the visitor cards of ids.
func (c *console) cards(ctx context.Context, wsID string, ids []string) (map[string]visitorCard, error) {
	sums, err := c.s.visitors.Summaries(ctx, wsID, ids)
	if err != nil {
		return nil, err
	}
	known := make([]string, 0, len(sums))
	for _, id := range ids {
		if _, ok := sums[id]; ok {
			known = append(known, id)
		}
	}
	vals, err := c.s.fields.EffectiveValues(ctx, wsID, known)
	if err != nil {
		return nil, err
	}
	ws, err := c.s.workspaces.Get(ctx, wsID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]visitorCard, len(known))
	for _, id := range known {
		s, f := sums[id], vals[id]
		card := visitorCard{ID: id, Name: joinNames(f["first_name"], f["last_name"]), Email: f["email"], EmailVerified: s.EmailVerified,
			Company: f["company"], Title: f["title"], Country: f["country"], PageURL: s.PageURL, PageTitle: s.PageTitle,
			OnSite: s.SessionOpen, URL: "/visitors/" + url.PathEscape(id)}
		if card.Email == "" {
			card.Email = s.Email
		}
		if card.Email != s.Email {
			card.EmailVerified = false // the verified address is the record's, not a field's
		}
		if workspace.LiveViewBlocked(ws.Settings.LiveViewBlock, card.PageURL) {
			card.PageURL, card.PageTitle = "", "" // pages kept out of Live View stay out of the inbox too
		}
		card.CountryName = card.Country
		if card.Country == "" {
			card.Country, card.CountryName = s.Country, geo.CountryName(s.Country)
		}
		out[id] = card
	}
	return out, nil
}
