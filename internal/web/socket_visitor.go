package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/beckonhq/beckon/internal/chat"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/realtime"
	"github.com/beckonhq/beckon/internal/visitor"
	"github.com/beckonhq/beckon/internal/workspace"
)

// visitorReady is the first frame of a visitor socket.
type visitorReady struct {
	T            string           `json:"t"`
	VisitorID    string           `json:"visitor_id"`
	Conversation *conversationRef `json:"conversation"`
}

// visitorConv is what a visitor sees of a conversation's state.
type visitorConv struct {
	ID      string   `json:"id"`
	Status  string   `json:"status"`
	LastSeq int64    `json:"last_seq"`
	Reps    []string `json:"reps"`
	Waiting bool     `json:"waiting"`
}

func visitorConvView(c *chat.Conversation) visitorConv {
	v := visitorConv{ID: c.ID, Status: c.Status, LastSeq: c.LastSeq, Reps: []string{}, Waiting: !c.WaitingSince.IsZero() && c.AssigneeID == ""}
	for _, p := range c.Participants {
		if p.LeftAt.IsZero() {
			v.Reps = append(v.Reps, p.Name)
		}
	}
	return v
}

type convFrame struct {
	T    string `json:"t"`
	Conv any    `json:"conv"`
}

type typingFrame struct {
	T      string `json:"t"`
	Conv   string `json:"conv"`
	Author string `json:"author"`
	Name   string `json:"name,omitempty"`
	On     bool   `json:"on"`
}

type readFrame struct {
	T      string `json:"t"`
	Conv   string `json:"conv"`
	Author string `json:"author"`
	Seq    int64  `json:"seq"`
}

type ackFrame struct {
	T    string `json:"t"`
	ID   string `json:"id"`
	Conv string `json:"conv"`
	Seq  int64  `json:"seq"`
	// Visitors' acks also say whether the message opened the conversation, which fields it
	// captured (an email answer), and the new visitor token when a capture merged records.
	First          bool     `json:"first,omitempty"`
	FieldsCaptured []string `json:"fields_captured,omitempty"`
	VisitorID      string   `json:"visitor_id,omitempty"`
	VisitorToken   string   `json:"visitor_token,omitempty"`
}

// clearDeadlines lifts the HTTP server's read and write timeouts from a connection about to
// become a socket, which lives for hours.
func clearDeadlines(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
}

// mSocket is the visitor socket (docs/REALTIME.md): the Origin is checked against the site's
// workspace before the upgrade; the first frame authenticates with the visitor token.
func (s *Server) mSocket(w http.ResponseWriter, r *http.Request) error {
	site := strings.TrimSpace(r.URL.Query().Get("site"))
	ws, err := s.workspaces.BySiteID(r.Context(), site)
	if errs.Is(err, errs.NotFound) {
		return errs.E(errs.NotFound, "no such site: check the snippet's site id")
	}
	if err != nil {
		return err
	}
	if err := allowOrigin(w, r, ws); err != nil {
		return err
	}
	if err := s.limitMessenger(r, ws.ID, ""); err != nil {
		return err
	}
	ip := limitKey(s.clientIP(r))
	if err := s.sockets.reserve(ip); err != nil {
		return err
	}
	clearDeadlines(w)
	c, err := acceptSocket(w, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true, // the Origin was checked above, against the workspace's allowed origins
	})
	if err != nil {
		s.sockets.remove(nil, ip)
		return nil // Accept answered the client
	}
	k := newSock(s, c, "visitor", ws.ID)
	k.ipKey = ip
	s.sockets.add(k)
	s.metrics.sockets.WithLabelValues("visitor").Inc()
	// The connection is the socket's now: the request's goroutine returns (its deep stack and
	// the request go with it) and a fresh goroutine reads.
	go s.serveVisitor(k, ws)
	return nil
}

// serveVisitor reads a visitor socket until it closes: the auth frame, then the visitor's frames.
func (s *Server) serveVisitor(k *sock, ws *workspace.Workspace) {
	c := k.c
	defer func() {
		s.metrics.sockets.WithLabelValues("visitor").Dec()
		k.leaveAll()
		c.CloseNow()
		s.sockets.remove(k, k.ipKey) // last: CloseSockets waits for this
	}()
	var vs *visitorSock
	actx, cancel := context.WithTimeout(k.ctx, socketAuthTimeout)
	authed := k.serveFrame(actx, func(f inFrame) bool {
		if f.T != "auth" {
			c.Close(closeUnauthenticated, "send {\"t\":\"auth\",\"token\":…} first")
			return false
		}
		var code websocket.StatusCode
		var reason string
		if vs, code, reason = s.visitorAuth(k, ws, f.Token); vs == nil {
			c.Close(code, reason)
			return false
		}
		return true
	})
	cancel()
	if !authed {
		if vs == nil {
			c.Close(closeUnauthenticated, "send {\"t\":\"auth\",\"token\":…} first")
		}
		return
	}
	defer s.sockets.removeVisitor(vs.vid)
	for k.serveFrame(k.ctx, func(f inFrame) bool { vs.frame(f); return true }) {
	}
}

// visitorAuth checks a visitor socket's token and sets the socket up: the visitor's subject, the
// ready frame. On refusal it returns nil and the close code and reason.
func (s *Server) visitorAuth(k *sock, ws *workspace.Workspace, token string) (*visitorSock, websocket.StatusCode, string) {
	if visitor.Site(token) != ws.SiteID {
		return nil, closeForbidden, "the token is another site's"
	}
	vid, err := s.tokens.Verify(ws.SiteID, token, s.clock.Now(), time.Duration(ws.Settings.CookieDays)*24*time.Hour)
	if err != nil {
		return nil, closeUnauthenticated, "the visitor token is not valid; say hello again"
	}
	v, err := s.visitors.Get(k.ctx, ws.ID, vid)
	if err != nil {
		return nil, closeUnauthenticated, "the visitor token is not valid; say hello again"
	}
	if !s.sockets.addVisitor(v.ID) {
		return nil, closeFlood, "too many connections for this visitor"
	}
	vs := &visitorSock{sock: k, vid: v.ID, siteID: ws.SiteID}
	k.handle = vs.handle
	k.mu.Lock()
	k.tick = func() { // follow a merge done on another tab or over HTTP
		if _, err := vs.current(); err != nil && k.ctx.Err() == nil {
			s.log.Warn("socket: checking the visitor failed", "err", err)
		}
	}
	k.mu.Unlock()
	if err := k.join("visitor." + ws.ID + "." + v.ID); err != nil {
		s.sockets.removeVisitor(v.ID)
		return nil, websocket.StatusTryAgainLater, "try again"
	}
	ready := visitorReady{T: "ready", VisitorID: v.ID}
	conv, err := s.chat.OpenConversation(k.ctx, ws.ID, v.ID)
	if err != nil {
		s.sockets.removeVisitor(v.ID)
		return nil, websocket.StatusTryAgainLater, "try again"
	}
	if conv != nil {
		ready.Conversation = &conversationRef{ID: conv.ID, LastSeq: conv.LastSeq}
	}
	k.send(ready)
	return vs, 0, ""
}

// visitorSock is a visitor's socket.
type visitorSock struct {
	*sock
	vid    string // the visitor: guarded by sock.mu (the reader changes it, the writer reads it)
	siteID string
}

// visitorID returns the socket's visitor.
func (v *visitorSock) visitorID() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.vid
}

// current returns the socket's visitor after following merges: when the visitor merged into an
// earlier record of the same person (identify, an email answer, on any tab), the socket carries
// on as the surviving record, as the HTTP calls do.
func (v *visitorSock) current() (string, error) {
	id := v.visitorID()
	rec, err := v.s.visitors.Get(v.ctx, v.wsID, id)
	if err != nil {
		return "", err
	}
	if rec.ID != id {
		v.adopt(rec.ID)
	}
	return rec.ID, nil
}

// adopt makes the socket the visitor id's, following its subject.
func (v *visitorSock) adopt(id string) {
	v.mu.Lock()
	old := v.vid
	v.vid = id
	v.mu.Unlock()
	if old != id {
		v.part("visitor." + v.wsID + "." + old)
		if err := v.join("visitor." + v.wsID + "." + id); err != nil {
			v.s.log.Warn("socket: following a merged visitor failed", "err", err)
		}
	}
}

func (v *visitorSock) actor() chat.Actor { return chat.Actor{Kind: "visitor", ID: v.visitorID()} }

// frame acts on one frame from the visitor.
func (v *visitorSock) frame(f inFrame) {
	s, ctx := v.s, v.ctx
	// Sends and subscriptions follow a merge at once (they must not reach the merged-away
	// record); typing and read receipts use the id the last ping checked (tick). A send to a
	// conversation tries the id the socket knows first: the conversation's own visitor, checked
	// in the message's transaction, says whether it is still right (a merge moves the
	// conversations), and only when it is not is the record read again.
	me := v.visitorID()
	if f.T == "sub" || (f.T == "send" && f.Conv == "") {
		var err error
		if me, err = v.current(); err != nil {
			v.sendErr(err, f.ID)
			return
		}
	}
	if v.frameCommon(f, v.actor()) {
		return
	}
	switch f.T {
	case "sub":
		c, err := s.chat.Get(ctx, v.wsID, f.Conv)
		if err == nil && c.VisitorID != me {
			err = errs.NotFoundf("no such conversation")
		}
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
		if ok, wait := s.msgVisitors.Allow(me); !ok {
			s.refuse(ctx, v.wsID, RefusedRateVisitor, "")
			v.sendErr(tooMany(wait), f.ID)
			return
		}
		var conv *chat.Conversation
		var msg *chat.Message
		var first bool
		var err error
		if f.Conv == "" {
			conv, msg, first, err = s.chat.VisitorMessage(ctx, v.wsID, me, f.Text, f.ID)
		} else {
			conv, msg, err = s.chat.VisitorSend(ctx, v.wsID, me, f.Conv, f.Text, f.ID)
			if errs.Is(err, errs.NotFound) {
				if now, cerr := v.current(); cerr == nil && now != me {
					me = now
					conv, msg, err = s.chat.VisitorSend(ctx, v.wsID, me, f.Conv, f.Text, f.ID)
				}
			}
		}
		if err != nil {
			v.sendErr(err, f.ID)
			return
		}
		// Follow a conversation the message opened, from after it: what the server says next
		// (a bot, a rep) arrives without the client asking.
		v.mu.Lock()
		_, following := v.leaves["chat."+v.wsID+"."+conv.ID]
		v.mu.Unlock()
		if !following {
			if err := v.subscribe(conv.ID, msg.Seq); err != nil {
				v.sendErr(err, "")
			}
		}
		ack := ackFrame{T: "ack", ID: f.ID, Conv: conv.ID, Seq: msg.Seq, First: first}
		var survivor string
		survivor, ack.FieldsCaptured = s.captureAnswer(ctx, v.wsID, me, msg)
		if survivor != me {
			// The email answer merged this visitor into an earlier record of the same person.
			ack.VisitorID, ack.VisitorToken = survivor, s.tokens.Issue(v.siteID, survivor, s.clock.Now())
			v.adopt(survivor)
		}
		v.send(ack) // the message is stored: acknowledge before alerting anyone
		if ws, err := s.workspaces.Cached(ctx, v.wsID); err != nil {
			s.log.Warn("socket: after a visitor's message", "err", err, "conversation_id", conv.ID)
		} else {
			s.alertAfter(ctx, ws, v.ipKey, survivor, conv, msg, first)
		}
	default:
		v.sendErr(errs.E(errs.Malformed, "unknown frame type %q", f.T), f.ID)
	}
}

// handle turns a bus message into the visitor's frames. Writer only.
func (v *visitorSock) handle(m *realtime.Msg) {
	ev, ok := chatEvent(m)
	if !ok {
		return
	}
	switch ev.T {
	case "msg":
		if ev.Msg != nil {
			v.deliverMsg(m, ev.Conv, ev.Seq, ev.Msg)
		}
	case "conv":
		// Only the visitor's own conversations reach this socket: those it followed (checked when
		// it asked) and those its visitor subject announces.
		if ev.State != nil {
			v.emit(convFrame{T: "conv", Conv: visitorConvView(ev.State)})
		}
	case "typing":
		if ev.Author != "visitor" {
			v.emit(typingFrame{T: "typing", Conv: ev.Conv, Author: ev.Author, Name: ev.Name, On: ev.On})
		}
	case "read":
		if ev.Author == "rep" {
			v.emit(readFrame{T: "read", Conv: ev.Conv, Author: "rep", Seq: ev.Seq})
		}
	}
}
