package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/beckonhq/beckon/internal/chat"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/liveview"
	"github.com/beckonhq/beckon/internal/notify"
	"github.com/beckonhq/beckon/internal/presence"
	"github.com/beckonhq/beckon/internal/realtime"
)

// repReady is the first frame of a rep socket.
type repReady struct {
	T        string       `json:"t"`
	UserID   string       `json:"user_id"`
	Prefs    notify.Prefs `json:"prefs"`
	Presence any          `json:"presence"`
}

type alertFrame struct {
	T       string    `json:"t"`
	Stream  string    `json:"stream"`
	ID      string    `json:"id"`
	Title   string    `json:"title"`
	Body    string    `json:"body"`
	Conv    string    `json:"conv,omitempty"`
	Visitor string    `json:"visitor,omitempty"`
	Sound   string    `json:"sound"`
	Notify  bool      `json:"notify"`
	At      time.Time `json:"at"`
}

// consoleOrigin reports whether origin is the console's own: BECKON_BASE_URL's scheme and host,
// or, without a base URL (tests), the request's host.
func (s *Server) consoleOrigin(r *http.Request, origin string) bool {
	o, err := url.Parse(origin)
	if err != nil || o.Host == "" {
		return false
	}
	if s.baseURL != "" {
		b, err := url.Parse(s.baseURL)
		return err == nil && strings.EqualFold(o.Scheme, b.Scheme) && strings.EqualFold(o.Host, b.Host)
	}
	return strings.EqualFold(o.Host, r.Host)
}

// repSocket is the console's socket (docs/REALTIME.md): the session cookie authenticates it and
// the Origin must be the console's own, checked before the upgrade, so that no other site can
// open it with a rep's cookie.
func (s *Server) repSocket(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r)
	u := p.User
	if u.Role == identity.RoleMeetingsOnly {
		return errs.E(errs.Forbidden, "meetings-only users take no chats")
	}
	if !s.consoleOrigin(r, r.Header.Get("Origin")) {
		return errs.E(errs.Forbidden, "the console socket accepts only the console's own origin")
	}
	ck, err := r.Cookie(s.sessionCookie())
	if err != nil || p.Session == nil {
		return errs.E(errs.Unauthenticated, "the console socket needs a login session")
	}
	ip := limitKey(s.clientIP(r))
	if err := s.sockets.reserve(ip); err != nil {
		return err
	}
	clearDeadlines(w)
	c, err := acceptSocket(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true}) // origin checked above
	if err != nil {
		s.sockets.remove(nil, ip)
		return nil
	}
	ws := p.WorkspaceID()
	k := newSock(s, c, "rep", ws)
	k.ipKey = ip
	rs := &repSock{sock: k, session: ck.Value}
	rs.user.Store(u)
	k.handle, k.tick = rs.handle, rs.recheck
	s.sockets.add(k)
	s.metrics.sockets.WithLabelValues("rep").Inc()
	go rs.serve() // the request's goroutine returns; a fresh one reads (see serveVisitor)
	return nil
}

// serve reads a rep socket until it closes.
func (v *repSock) serve() {
	s, k, c := v.s, v.sock, v.c
	defer func() {
		s.metrics.sockets.WithLabelValues("rep").Dec()
		if v.stopLive != nil {
			v.stopLive()
		}
		k.leaveAll()
		c.CloseNow()
		s.sockets.remove(k, k.ipKey) // last: CloseSockets waits for this
	}()
	var release func()
	var ready bool
	if err := shallow(func() { release, ready = v.setup(v.user.Load()) }); err != nil {
		s.log.Error("socket: panic setting up a rep socket", "err", err)
		ready = false
	}
	if release != nil {
		defer release()
	}
	if !ready {
		c.Close(websocket.StatusTryAgainLater, "try again")
		return
	}
	for k.serveFrame(k.ctx, func(f inFrame) bool { v.frame(f); return true }) {
	}
}

// setup connects the rep's presence, follows the workspace's subjects and sends the ready frame.
// It returns presence's release (when it connected) and whether all went well.
func (v *repSock) setup(u *identity.User) (release func(), ok bool) {
	s, ws := v.s, v.wsID
	release, err := s.deps.Presence.Connect(v.ctx, ws, u.ID)
	if err != nil {
		return nil, false
	}
	for _, subj := range []string{"inbox." + ws, "alert." + ws, "presence." + ws, usersSubject(ws), notify.PrefsSubject(ws)} {
		if err := v.join(subj); err != nil {
			return release, false
		}
	}
	prefs, err := v.loadPrefs()
	if err != nil {
		return release, false
	}
	st, err := s.deps.Presence.Get(v.ctx, ws, u.ID)
	if err != nil {
		return release, false
	}
	v.send(repReady{T: "ready", UserID: u.ID, Prefs: prefs, Presence: st})
	return release, true
}

// repSock is a rep's console socket.
type repSock struct {
	*sock
	session  string                        // the console session's token, checked again at every ping
	user     atomic.Pointer[identity.User] // as of the last check
	active   time.Time
	stopLive func()
	presence map[string]time.Time // writer only: the newest presence change seen per user
	prefsNow notify.Prefs         // writer only: the rep's alert preferences, nil until read
}

// usersSubject is where a workspace's changes of users that end or narrow their access
// (deactivation, a role change, a logout, a password change) are announced: rep sockets check
// their session again at once.
func usersSubject(wsID string) string { return "users." + wsID }

// userChanged announces that a user's access may have changed.
func (s *Server) userChanged(ctx context.Context, wsID, userID string) {
	if s.deps.Hub == nil {
		return
	}
	if err := s.deps.Hub.Publish(ctx, usersSubject(wsID), []byte(userID)); err != nil {
		s.log.WarnContext(ctx, "announcing a user change failed", "err", err.Error())
	}
}

// recheck checks the socket's session again (at every ping, and when the user changed): a session
// that ended, a deactivated user or one who may no longer take chats closes the socket (4003), and
// with it the rep's presence. Writer only.
func (v *repSock) recheck() {
	v.prefsNow = nil // read again at the next alert: a change announced on the bus may have been lost
	p, err := v.s.identity.AuthenticateSession(v.ctx, v.session)
	switch {
	case err != nil && (errs.KindOf(err) == errs.Internal || errs.KindOf(err) == errs.Unavailable):
		return // the database is down: keep the socket, check again at the next ping
	case err != nil || p == nil || p.User.ID != v.user.Load().ID || !p.User.Active || p.User.Role == identity.RoleMeetingsOnly:
		v.finish(closeForbidden, "signed out or no longer allowed to take chats")
	default:
		v.user.Store(p.User)
	}
}

type presenceFrame struct {
	T         string    `json:"t"`
	User      string    `json:"user"`
	Status    string    `json:"status"`
	Chosen    string    `json:"chosen"`
	Reason    string    `json:"reason"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (v *repSock) actor() chat.Actor { return repActor(v.user.Load()) }

// frame acts on one frame from the rep.
func (v *repSock) frame(f inFrame) {
	s, ctx := v.s, v.ctx
	if v.frameCommon(f, v.actor()) {
		return
	}
	switch f.T {
	case "sub":
		c, err := s.chat.Get(ctx, v.wsID, f.Conv)
		if err == nil {
			err = v.subscribe(c.ID, f.After)
		}
		if err != nil {
			v.sendErr(err, "")
		}
	case "send":
		if !v.admitSend(f) {
			return
		}
		msg, err := s.chat.RepMessage(ctx, v.wsID, v.actor(), f.Conv, f.Text, f.ID)
		if err != nil {
			v.sendErr(err, f.ID)
			return
		}
		v.send(ackFrame{T: "ack", ID: f.ID, Conv: msg.ConversationID, Seq: msg.Seq})
		v.touch()
	case "active":
		v.touch()
	case "live":
		if v.stopLive != nil {
			v.stopLive()
			v.stopLive = nil
		}
		if f.On && s.deps.LiveView == nil {
			v.sendErr(errs.E(errs.Unavailable, "Live View is not running on this server"), "")
			return
		}
		if f.On {
			stop, err := s.deps.LiveView.Watch(ctx, v.wsID, func(fr liveview.Frame) {
				if b, err := fr.JSON(); err == nil { // encoded once for every watcher
					v.push(item{frame: b})
				}
			})
			if err != nil {
				v.sendErr(err, "")
				return
			}
			v.stopLive = stop
		}
	default:
		v.sendErr(errs.E(errs.Malformed, "unknown frame type %q", f.T), f.ID)
	}
}

// prefs returns the rep's alert preferences (the defaults on a server without notifications),
// read once and then kept up to date by the changes announced on notify.PrefsSubject.
func (v *repSock) prefs() (notify.Prefs, error) {
	if v.prefsNow != nil {
		return v.prefsNow, nil
	}
	p, err := v.loadPrefs()
	if err == nil {
		v.prefsNow = p
	}
	return p, err
}

// loadPrefs reads the rep's alert preferences.
func (v *repSock) loadPrefs() (notify.Prefs, error) {
	if v.s.deps.Notify == nil {
		return notify.DefaultPrefs(), nil
	}
	return v.s.deps.Notify.Prefs(v.ctx, v.wsID, v.user.Load().ID)
}

// touch records the rep's activity (presence throttles what it stores).
func (v *repSock) touch() {
	now := time.Now()
	if now.Sub(v.active) < 5*time.Second {
		return
	}
	v.active = now
	if err := v.s.deps.Presence.Active(v.ctx, v.wsID, v.user.Load().ID); err != nil && v.ctx.Err() == nil {
		v.s.log.Warn("socket: recording activity failed", "err", err, "user_id", v.user.Load().ID)
	}
}

// handle turns a bus message into the rep's frames. Writer only.
func (v *repSock) handle(m *realtime.Msg) {
	subject, data := m.Subject, m.Data
	switch {
	case strings.HasPrefix(subject, "chat."):
		ev, ok := chatEvent(m)
		if !ok {
			return
		}
		switch ev.T {
		case "msg":
			if ev.Msg != nil {
				v.deliverMsg(m, ev.Conv, ev.Seq, ev.Msg)
			}
		case "typing":
			if ev.AuthorID != v.user.Load().ID {
				v.emit(typingFrame{T: "typing", Conv: ev.Conv, Author: ev.Author, Name: ev.Name, On: ev.On})
			}
		case "read":
			v.emit(readFrame{T: "read", Conv: ev.Conv, Author: ev.Author, Seq: ev.Seq})
		}
	case strings.HasPrefix(subject, "inbox."):
		b, err := m.Memo("conv-frame", func() (any, error) { // the same frame for every rep
			ev, ok := chatEvent(m)
			if !ok || ev.State == nil {
				return nil, errs.E(errs.Malformed, "not a conversation event")
			}
			return json.Marshal(convFrame{T: "conv", Conv: ev.State})
		})
		if err == nil {
			v.writeFrame(b.([]byte))
		}
	case strings.HasPrefix(subject, "alert."):
		av, err := m.Memo("alert", func() (any, error) {
			var a notify.Alert
			err := json.Unmarshal(data, &a)
			return &a, err
		})
		if err != nil {
			return
		}
		a := av.(*notify.Alert)
		if len(a.To) > 0 && !slices.Contains(a.To, v.user.Load().ID) {
			return
		}
		prefs, err := v.prefs()
		if err != nil {
			prefs = notify.DefaultPrefs()
		}
		sound, notifyOn, ok := prefs.Deliver(a.Stream)
		if !ok {
			return
		}
		v.emit(alertFrame{T: "alert", Stream: a.Stream, ID: a.ID, Title: a.Title, Body: a.Body, Conv: a.Conv,
			Visitor: a.Visitor, Sound: sound, Notify: notifyOn, At: a.At})
		v.s.metrics.alertsDelivered.WithLabelValues(a.Stream).Inc()
	case strings.HasPrefix(subject, "users."):
		if string(data) == v.user.Load().ID {
			v.recheck()
		}
	case strings.HasPrefix(subject, "alertprefs."):
		var ch notify.PrefsChange
		if json.Unmarshal(data, &ch) == nil && ch.UserID == v.user.Load().ID && ch.Prefs != nil {
			v.prefsNow = ch.Prefs
			v.emit(map[string]any{"t": "prefs", "prefs": ch.Prefs})
		}
	case strings.HasPrefix(subject, "presence."):
		var st presence.State
		if json.Unmarshal(data, &st) != nil {
			return
		}
		// Replicas publish independently: an older change may arrive after a newer one.
		if last, ok := v.presence[st.UserID]; ok && !st.UpdatedAt.After(last) {
			return
		}
		if v.presence == nil {
			v.presence = map[string]time.Time{}
		}
		v.presence[st.UserID] = st.UpdatedAt
		v.emit(presenceFrame{T: "presence", User: st.UserID, Status: st.Status, Chosen: st.Chosen, Reason: st.Reason, UpdatedAt: st.UpdatedAt})
	}
}
