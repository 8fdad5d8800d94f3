package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/chat"
	"github.com/beckonhq/beckon/internal/email"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/field"
	"github.com/beckonhq/beckon/internal/id"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/notify"
	"github.com/beckonhq/beckon/internal/workspace"
)

// The conversations API (docs/REALTIME.md "The conversations API"): what the console's inbox and
// integrators use to read conversations and to change their state. Messages also travel over the
// rep socket; state changes only here.

// visitorSummary names a conversation's visitor in lists.
type visitorSummary struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Email   string `json:"email"`
	Company string `json:"company"`
}

// convOut is a conversation as the API shows it.
type convOut struct {
	*chat.Conversation
	Visitor visitorSummary `json:"visitor"`
}

// summaries looks up the name, email and company of visitors.
func (s *Server) summaries(ctx context.Context, wsID string, ids []string) map[string]visitorSummary {
	vals, err := s.fields.EffectiveValues(ctx, wsID, ids)
	if err != nil {
		s.log.WarnContext(ctx, "reading visitors' names failed", "err", err.Error())
	}
	out := make(map[string]visitorSummary, len(ids))
	for _, vid := range ids {
		v := vals[vid]
		out[vid] = visitorSummary{ID: vid, Email: v["email"], Company: v["company"], Name: joinNames(v["first_name"], v["last_name"])}
	}
	return out
}

// fieldMap returns a visitor's effective field values by key (an empty map for none).
func (s *Server) fieldMap(ctx context.Context, wsID, visitorID string) (map[string]string, error) {
	vals, err := s.fields.EffectiveValues(ctx, wsID, []string{visitorID})
	if err != nil {
		return nil, err
	}
	return orEmptyMap(vals[visitorID]), nil
}

// summaryCached is summaries for one visitor, remembered for a while: every message of a
// conversation alerts its reps with the visitor's name, which seldom changes.
func (s *Server) summaryCached(ctx context.Context, wsID, visitorID string) visitorSummary {
	key := wsID + "|" + visitorID
	if v, ok := s.sumCache.get(key); ok {
		return v
	}
	sum := s.summaries(ctx, wsID, []string{visitorID})[visitorID]
	s.sumCache.put(key, sum)
	return sum
}

func (s *Server) convOut(ctx context.Context, c *chat.Conversation) convOut {
	return convOut{Conversation: c, Visitor: s.summaries(ctx, c.WorkspaceID, []string{c.VisitorID})[c.VisitorID]}
}

func repActor(u *identity.User) chat.Actor {
	return chat.Actor{Kind: "rep", ID: u.ID, Name: u.Name(), Admin: u.Role == identity.RoleAdmin}
}

// chatUser returns an active user of the workspace who may take chats, as an actor: errs.NotFound
// for an unknown user, errs.Invalid about "user_id" for one who cannot chat.
func (s *Server) chatUser(ctx context.Context, wsID, userID string) (chat.Actor, error) {
	if userID == "" {
		return chat.Actor{}, errs.Field(errs.Invalid, "user_id", "is required")
	}
	u, err := s.identity.GetUser(ctx, wsID, userID)
	if err != nil {
		return chat.Actor{}, err
	}
	if !u.Active || !u.Activated {
		return chat.Actor{}, errs.Field(errs.Invalid, "user_id", "%s is not an active user", u.Name())
	}
	if u.Role == identity.RoleMeetingsOnly {
		return chat.Actor{}, errs.Field(errs.Invalid, "user_id", "%s is meetings-only and takes no chats", u.Name())
	}
	return repActor(u), nil
}

func (s *Server) apiListConversations(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r)
	q := r.URL.Query()
	f := chat.Filter{Stream: q.Get("stream"), UserID: p.User.ID, VisitorID: q.Get("visitor_id"), Before: q.Get("before")}
	if f.Stream == "" {
		f.Stream = "all"
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			return errs.Field(errs.Invalid, "limit", "must be 1 to 200")
		}
		f.Limit = n
	}
	ctx := r.Context()
	convs, err := s.chat.List(ctx, p.WorkspaceID(), f)
	if err != nil {
		return err
	}
	next, want := "", f.Limit
	if want == 0 {
		want = chat.DefaultListLimit
	}
	if len(convs) == want { // a full page: there may be more
		next = chat.Cursor(f.Stream, convs[len(convs)-1])
	}
	ids := make([]string, len(convs))
	for i, c := range convs {
		ids[i] = c.VisitorID
	}
	sums := s.summaries(ctx, p.WorkspaceID(), ids)
	out := make([]convOut, len(convs))
	for i, c := range convs {
		out[i] = convOut{Conversation: c, Visitor: sums[c.VisitorID]}
	}
	counts, err := s.chat.Counts(ctx, p.WorkspaceID(), p.User.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"conversations": out, "next": next, "counts": counts})
	return nil
}

func (s *Server) apiGetConversation(w http.ResponseWriter, r *http.Request) error {
	c, err := s.chat.Get(r.Context(), principalOf(r).WorkspaceID(), pathID(r, "id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.convOut(r.Context(), c))
	return nil
}

func (s *Server) apiListMessages(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var after int64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return errs.Field(errs.Invalid, "after", "must be a sequence number (0 or more)")
		}
		after = n
	}
	limit := 200
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return errs.Field(errs.Invalid, "limit", "must be 1 to 500")
		}
		limit = n
	}
	msgs, err := s.chat.MessagesFor(r.Context(), principalOf(r).WorkspaceID(), pathID(r, "id"), after, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": orEmpty(msgs)})
	return nil
}

func (s *Server) apiSendMessage(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Text     string `json:"text"`
		ClientID string `json:"client_id"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	p := principalOf(r)
	m, err := s.chat.RepMessage(r.Context(), p.WorkspaceID(), repActor(p.User), pathID(r, "id"), in.Text, in.ClientID)
	if err != nil {
		return err
	}
	s.touchPresence(r.Context(), p)
	writeJSON(w, http.StatusCreated, m)
	return nil
}

// convAction runs a state change on the conversation of the path and answers it.
func (s *Server) convAction(w http.ResponseWriter, r *http.Request, do func(ctx context.Context, wsID string, me chat.Actor, convID string) (*chat.Conversation, error)) error {
	p := principalOf(r)
	if p.User.Role == identity.RoleMeetingsOnly {
		return errs.E(errs.Forbidden, "meetings-only users take no chats")
	}
	c, err := do(r.Context(), p.WorkspaceID(), repActor(p.User), pathID(r, "id"))
	if err != nil {
		return err
	}
	s.touchPresence(r.Context(), p)
	writeJSON(w, http.StatusOK, s.convOut(r.Context(), c))
	return nil
}

func (s *Server) apiAccept(w http.ResponseWriter, r *http.Request) error {
	return s.convAction(w, r, s.chat.Accept)
}

func (s *Server) apiClose(w http.ResponseWriter, r *http.Request) error {
	return s.convAction(w, r, s.chat.Close)
}

func (s *Server) apiReopen(w http.ResponseWriter, r *http.Request) error {
	return s.convAction(w, r, s.chat.Reopen)
}

func (s *Server) apiLeave(w http.ResponseWriter, r *http.Request) error {
	return s.convAction(w, r, s.chat.Leave)
}

// userIn is the body of transfer and invite.
type userIn struct {
	UserID string `json:"user_id"`
}

func (s *Server) apiTransfer(w http.ResponseWriter, r *http.Request) error {
	return s.withUser(w, r, s.chat.Transfer, " transferred a conversation to you")
}

func (s *Server) apiInvite(w http.ResponseWriter, r *http.Request) error {
	return s.withUser(w, r, s.chat.Invite, " invited you to a conversation")
}

// withUser runs a change that names another rep in the body ({"user_id"}: transfer, invite),
// then alerts that rep on the Live conversations stream.
func (s *Server) withUser(w http.ResponseWriter, r *http.Request,
	do func(ctx context.Context, wsID string, me chat.Actor, convID string, other chat.Actor) (*chat.Conversation, error), what string) error {
	var in userIn
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	return s.convAction(w, r, func(ctx context.Context, wsID string, me chat.Actor, convID string) (*chat.Conversation, error) {
		other, err := s.chatUser(ctx, wsID, in.UserID)
		if err != nil {
			return nil, err
		}
		c, err := do(ctx, wsID, me, convID, other)
		if e := errs.As(err); e != nil && e.Field != "" {
			e2 := *e // chat names the rep "to" or "guest"; the body names them user_id
			e2.Field = "user_id"
			return nil, &e2
		}
		if err == nil {
			s.alert(ctx, wsID, notify.Alert{Stream: "live", Title: me.Name + what, Body: "Open it in the inbox",
				Conv: c.ID, Visitor: c.VisitorID, To: []string{other.ID}})
		}
		return c, err
	})
}

func (s *Server) apiTranscript(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Email string `json:"email"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	p := principalOf(r)
	ctx := r.Context()
	c, err := s.chat.Get(ctx, p.WorkspaceID(), pathID(r, "id"))
	if err != nil {
		return err
	}
	if in.Email == "" {
		vals, err := s.fieldMap(ctx, p.WorkspaceID(), c.VisitorID)
		if err != nil {
			return err
		}
		if in.Email = vals["email"]; in.Email == "" {
			return errs.Field(errs.Invalid, "email", "the visitor left no email address: give one")
		}
	}
	if err := s.chat.EmailTranscript(ctx, p.WorkspaceID(), repActor(p.User), c.ID, in.Email); err != nil {
		return err
	}
	s.jobs.Notify()
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "queued"})
	return nil
}

// apiStartConversation starts a conversation with a visitor on the site (from Live View).
func (s *Server) apiStartConversation(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Text     string `json:"text"`
		ClientID string `json:"client_id"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	p := principalOf(r)
	if p.User.Role == identity.RoleMeetingsOnly {
		return errs.E(errs.Forbidden, "meetings-only users take no chats")
	}
	ctx := r.Context()
	v, err := s.visitors.Get(ctx, p.WorkspaceID(), pathID(r, "id"))
	if err != nil {
		return err
	}
	c, m, err := s.chat.Start(ctx, p.WorkspaceID(), repActor(p.User), v.ID, in.Text, in.ClientID)
	if err != nil {
		return err
	}
	s.touchPresence(ctx, p)
	w.Header().Set("Location", "/api/v1/conversations/"+c.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"conversation": s.convOut(ctx, c), "message": m})
	return nil
}

// mTranscript emails a conversation's transcript to the visitor who asks (202). The address
// becomes the visitor's email (source visitor, unproven) when they had none.
func (s *Server) mTranscript(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		ConversationID string `json:"conversation_id"`
		Email          string `json:"email"`
		Honeypot       string `json:"hp"` // the form's hidden field: empty from a person
	}
	r, c, err := s.visitorRequest(w, r, &in, false)
	if err != nil {
		return err
	}
	ctx := r.Context()
	values := map[string]string{"email": strings.TrimSpace(in.Email)}
	if values["email"] == "" {
		return errs.Field(errs.Invalid, "email", "is required")
	}
	if err := s.screen(ctx, submission{wsID: c.ws.ID, values: values, honeypot: in.Honeypot, field: "email"}); err != nil {
		return err
	}
	in.Email = values["email"]
	if c.visitorID, err = s.survivor(ctx, c); err != nil {
		return err
	}
	conv, err := s.chat.Get(ctx, c.ws.ID, in.ConversationID)
	if err == nil && conv.VisitorID != c.visitorID {
		err = errs.NotFoundf("no such conversation")
	}
	if err != nil {
		return err
	}
	if err := s.chat.EmailTranscript(ctx, c.ws.ID, chat.Actor{Kind: "visitor", ID: c.visitorID}, conv.ID, in.Email); err != nil {
		return err
	}
	if vals, err := s.fieldMap(ctx, c.ws.ID, c.visitorID); err == nil && vals["email"] == "" {
		if _, _, err := s.storeFields(ctx, c.ws.ID, c.visitorID, field.SourceVisitor, map[string]string{"email": in.Email}, nil); err != nil &&
			errs.KindOf(err) != errs.Invalid {
			s.log.WarnContext(ctx, "keeping a transcript address as the visitor's email failed", "err", err.Error())
		}
	}
	s.jobs.Notify()
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "queued"})
	return nil
}

// captureAnswer makes a typed email address in a visitor's message the visitor's email (source
// visitor, unproven). It returns the surviving visitor id (a capture may merge records) and the
// fields it changed. A failure is logged, never returned: the message is stored, and an error
// would make the client send it again.
func (s *Server) captureAnswer(ctx context.Context, wsID, visitorID string, msg *chat.Message) (survivor string, captured []string) {
	survivor, captured = visitorID, []string{}
	email := chatEmail(msg.Text)
	if email == "" {
		return
	}
	values := map[string]string{"email": email}
	if err := s.screen(ctx, submission{wsID: wsID, values: values, field: "text"}); err != nil {
		// Tell the visitor in the conversation why the address was not taken.
		if e := errs.As(err); e != nil && e.Kind == errs.Invalid {
			name := ""
			if ws, werr := s.workspaces.Cached(ctx, wsID); werr == nil {
				name = ws.Name
			}
			s.botSay(ctx, wsID, msg.ConversationID, name, "Sorry, that email address can't be used: "+e.Message+".")
		} else {
			s.log.ErrorContext(ctx, "screening a chat answer's email failed", "err", err.Error(), "request_id", requestID(ctx))
		}
		return
	}
	sv, changed, err := s.storeFields(ctx, wsID, visitorID, field.SourceVisitor, values, nil)
	switch {
	case err == nil:
		survivor, captured = sv, orEmpty(changed)
		s.deps.LiveView.Changed(ctx, wsID, survivor, visitorID)
		if slices.Contains(changed, "email") {
			s.leadAlert(ctx, wsID, survivor, msg.ConversationID, values["email"])
		}
	case errs.KindOf(err) != errs.Invalid && errs.KindOf(err) != errs.Malformed:
		s.log.ErrorContext(ctx, "capturing a chat answer's email failed", "err", err.Error(), "request_id", requestID(ctx))
	}
	return
}

// alertAfter alerts reps about a stored visitor message, whichever way it came (HTTP or socket):
// a new conversation waits for a rep — the available reps are alerted on Waiting for Rep, and
// when nobody is available a bot says so; a message in a conversation with reps alerts them on
// Live conversations. Failures are logged.
//
// A client address opens at most ConversationAlertsPerMinute alerting conversations a minute
// (after a burst): past that the conversation still waits in the inbox, but rings nobody.
func (s *Server) alertAfter(ctx context.Context, ws *workspace.Workspace, ip, visitorID string, conv *chat.Conversation, msg *chat.Message, first bool) {
	var to []string
	if !first {
		for _, p := range conv.Participants {
			if p.Present() {
				to = append(to, p.UserID)
			}
		}
		if len(to) == 0 {
			return
		}
	}
	who := s.alertName(ctx, ws.ID, visitorID)
	if !first {
		s.alert(ctx, ws.ID, notify.Alert{Stream: "live", Title: who + " wrote", Body: preview(msg.Text), Conv: conv.ID, Visitor: visitorID, To: to})
		return
	}
	// Routing and its alerts outlive the visitor's request or socket: a visitor who leaves
	// right after writing still gets a rep.
	ctx = context.WithoutCancel(ctx)
	if ok, _ := s.convAlerts.Allow(ws.ID + "|" + ip); !ok {
		// A flood of new conversations from one address rings nobody: the conversations wait
		// in Waiting for Rep, where any rep can take them, and the log says why.
		s.log.WarnContext(ctx, "too many new conversations from one address: not routing", "workspace_id", ws.ID, "conversation_id", conv.ID)
		return
	}
	if s.deps.Routing != nil {
		// The routing engine decides who is rung; RoutingOffer alerts them and tells the visitor.
		if _, err := s.deps.Routing.Route(ctx, ws.ID, conv.ID, visitorID); err == nil {
			return
		} else {
			s.log.ErrorContext(ctx, "routing failed: alerting every available rep instead", "err", err.Error(), "conversation_id", conv.ID)
		}
	}
	avail, err := s.deps.Presence.Available(ctx, ws.ID)
	if err != nil {
		s.log.WarnContext(ctx, "reading who is available failed", "err", err.Error())
	}
	{
		s.alert(ctx, ws.ID, notify.Alert{Stream: "waiting", Title: who + " is waiting for a rep", Body: preview(msg.Text),
			Conv: conv.ID, Visitor: visitorID, To: avail})
	}
	if err == nil && len(avail) == 0 {
		if _, err := s.chat.BotMessage(ctx, ws.ID, conv.ID, ws.Name, OfflineReply); err != nil {
			s.log.WarnContext(ctx, "the offline reply failed", "err", err.Error())
		}
	}
}

// alertName is how an alert names a visitor: "Ada Lovelace (Acme)", or "A visitor".
func (s *Server) alertName(ctx context.Context, wsID, visitorID string) string {
	name := s.summaryCached(ctx, wsID, visitorID)
	who := name.Name
	if who == "" {
		who = "A visitor"
	}
	if name.Company != "" {
		who += " (" + name.Company + ")"
	}
	return who
}

// targetHint reports whether a field can make a visitor a target account.
func targetHint(key string) bool { return key == "email" || key == "website" || key == "company" }

// alertIfTarget alerts the reps on the Target account on site stream (N1), and tells the
// webhooks, when the visitor is at one of the workspace's target accounts: called when a known
// visitor starts a session, and when a visitor's email, website or company changes.
func (s *Server) alertIfTarget(ctx context.Context, ws *workspace.Workspace, visitorID, page string) {
	targets := ws.Settings.TargetAccounts
	if len(targets) == 0 {
		return
	}
	vals, err := s.fieldMap(ctx, ws.ID, visitorID)
	if err != nil {
		s.log.WarnContext(ctx, "reading a visitor's fields for the target account check failed", "err", err.Error())
		return
	}
	if !workspace.IsTargetAccount(targets, vals["email"], vals["website"], vals["company"]) {
		return
	}
	if !s.targetSeen.first(ws.ID+"|"+visitorID, struct{}{}) {
		return // announced lately: once is news, a repeat is noise
	}
	if workspace.LiveViewBlocked(ws.Settings.LiveViewBlock, page) {
		page = "" // a page the admins keep out of Live View stays out of alerts too
	}
	who := joinNames(vals["first_name"], vals["last_name"])
	company := vals["company"]
	if company == "" {
		company = workspace.Domain(vals["email"])
	}
	title := company + " is on the site"
	if who != "" {
		title = who + " of " + company + " is on the site"
	}
	body := "A target account"
	if page != "" {
		body = "A target account, on " + page
	}
	s.alert(ctx, ws.ID, notify.Alert{Stream: "target", Title: title, Body: body, Visitor: visitorID})
	if s.deps.Notify != nil {
		if err := s.deps.Notify.Event(ctx, s.db, ws.ID, "target_account.on_site", map[string]any{
			"visitor_id": visitorID, "company": company, "email": vals["email"], "page": page}); err != nil {
			s.log.WarnContext(ctx, "queueing the target account event failed", "err", err.Error())
		}
	}
}

// Limits on alerts that strangers can cause: new conversations that ring the reps, per client
// address and workspace; alerts forwarded to a workspace's team channels (Slack allows about one
// message a second per webhook); a target account announced once per visitor in TargetAlertEvery.
const (
	ConversationAlertsPerMinute = 10
	ConversationAlertsBurst     = 5
	ChannelAlertsPerMinute      = 30
	ChannelAlertsBurst          = 20
	TargetAlertEvery            = 30 * time.Minute
)

// OfflineReply is what the bot answers a new conversation when no rep is available.
const OfflineReply = "Thanks for your message! Nobody from our team is available right now. Leave your email address here and we'll get back to you."

// alert sends an alert now (N2) and to the team channels that asked for its stream.
func (s *Server) alert(ctx context.Context, wsID string, a notify.Alert) {
	if a.ID == "" {
		a.ID = id.New("alert")
	}
	if a.At.IsZero() {
		a.At = s.clock.Now()
	}
	if s.deps.Notify == nil {
		return // a server without notifications (tests of other parts)
	}
	if err := s.deps.Notify.Alert(ctx, wsID, a); err != nil {
		s.log.WarnContext(ctx, "sending an alert failed", "err", err.Error(), "stream", a.Stream)
	}
	if !s.deps.Notify.HasChannels(ctx, wsID) {
		return
	}
	// A budget per stream: a busy Live conversations stream cannot starve Waiting for Rep.
	if ok, _ := s.chanAlerts.Allow(wsID + "|" + a.Stream); !ok {
		s.log.WarnContext(ctx, "too many alerts for the team channels: this one goes only to the console", "workspace_id", wsID, "stream", a.Stream)
		return
	}
	if err := s.deps.Notify.AlertChannels(ctx, s.db, wsID, a); err != nil {
		s.log.WarnContext(ctx, "queueing an alert for the team channels failed", "err", err.Error(), "stream", a.Stream)
	} else {
		s.jobs.Notify()
	}
}

// preview shortens a message for an alert.
func preview(text string) string {
	r := []rune(text)
	if len(r) > 140 {
		return string(r[:139]) + "…"
	}
	return text
}

// touchPresence counts an API call of a rep's console as activity.
func (s *Server) touchPresence(ctx context.Context, p *identity.Principal) {
	if p.Session == nil {
		return
	}
	if err := s.deps.Presence.Active(ctx, p.WorkspaceID(), p.User.ID); err != nil {
		s.log.WarnContext(ctx, "recording activity failed", "err", err.Error())
	}
}

// apiGetPresence answers the caller's presence.
func (s *Server) apiGetPresence(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r)
	st, err := s.deps.Presence.Get(r.Context(), p.WorkspaceID(), p.User.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// apiSetPresence sets the caller's chosen status.
func (s *Server) apiSetPresence(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Status string `json:"status"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	p := principalOf(r)
	if p.User.Role == identity.RoleMeetingsOnly {
		return errs.E(errs.Forbidden, "meetings-only users take no chats")
	}
	st, err := s.deps.Presence.SetStatus(r.Context(), p.WorkspaceID(), p.User.ID, in.Status)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// apiListPresence answers every rep's presence.
func (s *Server) apiListPresence(w http.ResponseWriter, r *http.Request) error {
	list, err := s.deps.Presence.List(r.Context(), principalOf(r).WorkspaceID())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"presence": orEmpty(list)})
	return nil
}

// leadAlert emails the workspace's lead alert addresses (E3, template "lead") when a visitor left
// their email address in a conversation nobody from the team has joined: a lead nobody answered.
// Failures are logged.
func (s *Server) leadAlert(ctx context.Context, wsID, visitorID, convID, addr string) {
	o, err := s.mailer()
	if err != nil {
		return
	}
	p, err := o.Store().Policy(ctx, wsID)
	if err != nil || len(p.LeadAlertsTo) == 0 {
		return
	}
	conv, err := s.chat.Get(ctx, wsID, convID)
	if err != nil || len(conv.Participants) > 0 {
		return // someone from the team is (or was) in it: they have the address already
	}
	d := email.LeadData{Visitor: s.summaryCached(ctx, wsID, visitorID).Name, Email: addr,
		ConversationURL: s.baseURL + "/inbox?" + url.Values{"stream": {"waiting"}, "c": {convID}}.Encode()}
	if d.Visitor == "" {
		d.Visitor = addr
	}
	if ws, err := s.workspaces.Cached(ctx, wsID); err == nil {
		d.WorkspaceName = ws.Name
	}
	if msgs, err := s.chat.MessagesFor(ctx, wsID, convID, 0, 20); err == nil {
		for _, m := range msgs {
			if m.Author == chat.KindVisitor && m.Text != addr {
				d.FirstMessage = truncateRunes(m.Text, 500)
				break
			}
		}
	}
	subject, text, html, err := email.Render("lead", d)
	if err == nil {
		_, err = o.Enqueue(ctx, s.db, wsID, email.Message{To: p.LeadAlertsTo, Subject: subject, Text: text, HTML: html, Template: "lead"})
	}
	if err != nil {
		s.log.WarnContext(ctx, "emailing a lead alert failed", "err", err.Error(), "workspace_id", wsID, "conversation_id", convID)
		return
	}
	s.jobs.Notify()
}

// truncateRunes cuts s to at most n runes, with an ellipsis when it cut.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
