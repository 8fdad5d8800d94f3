package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/beckonhq/beckon/internal/chat"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/notify"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/workspace"
)

// tsock is a test client of a socket.
type tsock struct {
	t *testing.T
	c *websocket.Conn
}

type tframe struct {
	T       string          `json:"t"`
	ID      string          `json:"id"`
	Conv    json.RawMessage `json:"conv"`
	Seq     int64           `json:"seq"`
	Text    string          `json:"text"`
	Author  string          `json:"author"`
	Name    string          `json:"name"`
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Stream  string          `json:"stream"`
	Title   string          `json:"title"`
	On      bool            `json:"on"`
}

func (f tframe) conv() string {
	var s string
	if json.Unmarshal(f.Conv, &s) == nil {
		return s
	}
	var o struct {
		ID string `json:"id"`
	}
	json.Unmarshal(f.Conv, &o)
	return o.ID
}

func wsURL(h *harness, path string) string {
	return "ws" + strings.TrimPrefix(h.srv.URL, "http") + path
}

// dialVisitor opens the visitor socket and authenticates with token (none when "").
func (h *harness) dialVisitor(t *testing.T, token string) *tsock {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsURL(h, "/m/v1/socket?site="+h.ws.SiteID), &websocket.DialOptions{
		HTTPHeader: http.Header{"Origin": {siteOrigin}, "User-Agent": {chromeUA}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	s := &tsock{t: t, c: c}
	if token != "" {
		s.send(map[string]any{"t": "auth", "token": token})
		s.until("ready", func(f tframe) bool { return f.T == "ready" })
	}
	return s
}

// dialRep opens the rep socket with a console session of email.
func (h *harness) dialRep(t *testing.T, email, password string) *tsock {
	t.Helper()
	cc := newConsoleClient(t, h)
	cc.login(email, password)
	u, _ := url.Parse(h.srv.URL)
	var cookies []string
	for _, c := range cc.hc.Jar.Cookies(u) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsURL(h, "/console/socket"), &websocket.DialOptions{
		HTTPHeader: http.Header{"Origin": {h.srv.URL}, "Cookie": {strings.Join(cookies, "; ")}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	s := &tsock{t: t, c: c}
	s.until("ready", func(f tframe) bool { return f.T == "ready" })
	return s
}

func (s *tsock) send(v any) {
	s.t.Helper()
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.c.Write(ctx, websocket.MessageText, b); err != nil {
		s.t.Fatalf("write: %v", err)
	}
}

func (s *tsock) read(timeout time.Duration) (tframe, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, b, err := s.c.Read(ctx)
	if err != nil {
		return tframe{}, err
	}
	var f tframe
	if err := json.Unmarshal(b, &f); err != nil {
		s.t.Fatalf("a frame that is not JSON: %s", b)
	}
	return f, nil
}

func (s *tsock) until(what string, ok func(tframe) bool) tframe {
	s.t.Helper()
	for {
		f, err := s.read(5 * time.Second)
		if err != nil {
			s.t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok(f) {
			return f
		}
	}
}

// closedWith reads until the socket closes and returns the close code.
func (s *tsock) closedWith() websocket.StatusCode {
	s.t.Helper()
	for i := 0; i < 1000; i++ {
		_, err := s.read(5 * time.Second)
		if err != nil {
			return websocket.CloseStatus(err)
		}
	}
	s.t.Fatal("the socket stayed open")
	return 0
}

// visitorToken says hello as a new visitor and returns its token and id.
func (h *harness) visitorToken(t *testing.T) (string, string) {
	t.Helper()
	r := h.hello(t, nil)
	tok, _ := r.json["visitor_token"].(string)
	vid, _ := r.json["visitor_id"].(string)
	if tok == "" {
		t.Fatalf("hello: %d %s", r.status, r.body)
	}
	return tok, vid
}

func TestVisitorSocketChat(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := visitorHarness(t, d)
		tok, _ := h.visitorToken(t)
		v := h.dialVisitor(t, tok)
		v.send(map[string]any{"t": "send", "id": "c1", "text": "Hello"})
		// The ack, and — nobody is available — the bot's reply, which the visitor hears without
		// asking (it may come before the ack: the ack follows the catch-up of the new conversation).
		var ack, bot tframe
		for ack.T == "" || bot.T == "" {
			f := v.until("ack and offline reply", func(f tframe) bool { return f.T == "ack" || f.T == "msg" })
			if f.T == "ack" {
				ack = f
			} else {
				bot = f
			}
		}
		if ack.ID != "c1" || ack.Seq != 1 || ack.conv() == "" {
			t.Fatalf("ack %+v", ack)
		}
		conv := ack.conv()
		if bot.Author != "bot" || bot.Seq != 2 || bot.Text != OfflineReply {
			t.Fatalf("offline reply %+v", bot)
		}
		// A retry of c1 is the same message.
		v.send(map[string]any{"t": "send", "id": "c1", "conv": conv, "text": "Hello"})
		if again := v.until("ack", func(f tframe) bool { return f.T == "ack" }); again.Seq != 1 {
			t.Fatalf("retry stored again: %+v", again)
		}
		for i := 2; i <= 5; i++ {
			v.send(map[string]any{"t": "send", "id": fmt.Sprintf("c%d", i), "conv": conv, "text": fmt.Sprintf("n%d", i)})
			v.until("ack", func(f tframe) bool { return f.T == "ack" })
		}
		// A second socket resumes after seq 3: it gets 4, 5, 6 once each, in order.
		v2 := h.dialVisitor(t, tok)
		v2.send(map[string]any{"t": "sub", "conv": conv, "after": 3})
		for want := int64(4); want <= 6; want++ {
			f := v2.until("resumed messages", func(f tframe) bool { return f.T == "msg" })
			if f.Seq != want {
				t.Fatalf("resume: seq %d, want %d", f.Seq, want)
			}
		}
		v2.send(map[string]any{"t": "ping"})
		if f := v2.until("pong", func(f tframe) bool { return f.T == "pong" || f.T == "msg" }); f.T != "pong" {
			t.Fatalf("a message came twice: %+v", f)
		}
	})
}

func TestSocketRefusals(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := visitorHarness(t, d)
		ctx := context.Background()
		tok, _ := h.visitorToken(t)
		_, otherID := h.visitorToken(t)

		// Before the upgrade: an origin the workspace does not allow, an unknown site.
		for _, c := range []struct {
			name, path, origin string
			status             int
		}{
			{"foreign origin", "/m/v1/socket?site=" + h.ws.SiteID, "https://evil.example", 403},
			{"unknown site", "/m/v1/socket?site=site_nope", siteOrigin, 404},
			{"no site", "/m/v1/socket", siteOrigin, 404},
		} {
			_, res, err := websocket.Dial(ctx, wsURL(h, c.path), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {c.origin}}})
			if err == nil || res == nil || res.StatusCode != c.status {
				t.Errorf("%s: %v %v, want HTTP %d", c.name, err, res, c.status)
			}
		}
		// After it: a first frame that is not auth, a bad token, another site's token.
		other, err := h.wss.Create(ctx, d, workspace.New{Name: "Globex"})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name  string
			frame any
			code  websocket.StatusCode
		}{
			{"no auth", map[string]any{"t": "send", "text": "hi"}, closeUnauthenticated},
			{"bad token", map[string]any{"t": "auth", "token": tok + "x"}, closeUnauthenticated},
			{"other site", map[string]any{"t": "auth", "token": h.tokens.Issue(other.SiteID, "vis_x", time.Now())}, closeForbidden},
		} {
			s := h.dialVisitor(t, "")
			s.send(c.frame)
			if got := s.closedWith(); got != c.code {
				t.Errorf("%s: closed with %d, want %d", c.name, got, c.code)
			}
		}

		v := h.dialVisitor(t, tok)
		// Malformed frames get an error frame, and the socket stays.
		for _, bad := range []string{`nope`, `[]`, `{"t":""}`, `{"t":"dance"}`, `{"t":"send","id":"x","text":5}`} {
			v.c.Write(ctx, websocket.MessageText, []byte(bad))
			if f := v.until("error", func(f tframe) bool { return f.T == "error" }); f.Code != "malformed" {
				t.Errorf("%s: %+v", bad, f)
			}
		}
		// Another visitor's conversation, another workspace's, a closed one: refused, nothing stored.
		_, otherMsg, _, err := h.chat.VisitorMessage(ctx, h.ws.ID, otherID, "mine", "o1")
		if err != nil {
			t.Fatal(err)
		}
		v.send(map[string]any{"t": "send", "id": "x1", "conv": otherMsg.ConversationID, "text": "intrude"})
		if f := v.until("error", func(f tframe) bool { return f.T == "error" }); f.Code != "not_found" || f.ID != "x1" {
			t.Errorf("send to another visitor's conversation: %+v", f)
		}
		v.send(map[string]any{"t": "sub", "conv": otherMsg.ConversationID})
		if f := v.until("error", func(f tframe) bool { return f.T == "error" }); f.Code != "not_found" {
			t.Errorf("sub to another visitor's conversation: %+v", f)
		}
		v.send(map[string]any{"t": "send", "id": "x2", "text": "hello"})
		ack := v.until("ack", func(f tframe) bool { return f.T == "ack" })
		if _, err := h.chat.Close(ctx, h.ws.ID, chat.Actor{Kind: "visitor", ID: ack.visitorOf(h, t)}, ack.conv()); err != nil {
			t.Fatal(err)
		}
		v.send(map[string]any{"t": "send", "id": "x3", "conv": ack.conv(), "text": "after close"})
		if f := v.until("error", func(f tframe) bool { return f.T == "error" && f.ID == "x3" }); f.Code != "conflict" {
			t.Errorf("send after close: %+v", f)
		}
		msgs, _ := h.chat.MessagesFor(ctx, h.ws.ID, otherMsg.ConversationID, 0, 100)
		if len(msgs) != 1 {
			t.Errorf("the other visitor's conversation holds %d messages, want 1", len(msgs))
		}
		// Sending faster than the limit: refused one by one, the socket unharmed.
		limited := 0
		for i := 0; i < 40; i++ {
			v.send(map[string]any{"t": "send", "id": fmt.Sprintf("f%d", i), "text": "flood"})
		}
		for i := 0; i < 40; i++ {
			f := v.until("ack or error", func(f tframe) bool { return f.T == "ack" || f.T == "error" })
			if f.Code == "too_many_requests" {
				limited++
			}
		}
		if limited == 0 {
			t.Error("40 messages at once were all accepted")
		}
		v.send(map[string]any{"t": "ping"})
		v.until("pong", func(f tframe) bool { return f.T == "pong" })
		// A frame over 64 KiB closes the socket with 1009.
		v.c.Write(ctx, websocket.MessageText, []byte(`{"t":"send","text":"`+strings.Repeat("x", SocketFrameLimit)+`"}`))
		if got := v.closedWith(); got != websocket.StatusMessageTooBig {
			t.Errorf("oversize frame: closed with %d, want 1009", got)
		}
		// Ten malformed frames in a row close it with 1008.
		v = h.dialVisitor(t, tok)
		for i := 0; i < socketMalformedMax; i++ {
			v.c.Write(ctx, websocket.MessageText, []byte(`garbage`))
		}
		if got := v.closedWith(); got != websocket.StatusPolicyViolation {
			t.Errorf("malformed flood: closed with %d, want 1008", got)
		}
		// A flood of frames closes it with 4008.
		v = h.dialVisitor(t, tok)
		for i := 0; i < socketFrameBurst+50; i++ {
			if err := v.c.Write(ctx, websocket.MessageText, []byte(`{"t":"ping"}`)); err != nil {
				break
			}
		}
		if got := v.closedWith(); got != closeFlood {
			t.Errorf("frame flood: closed with %d, want %d", got, closeFlood)
		}
	})
}

// visitorOf returns the visitor of the ack's conversation.
func (f tframe) visitorOf(h *harness, t *testing.T) string {
	c, err := h.chat.Get(context.Background(), h.ws.ID, f.conv())
	if err != nil {
		t.Fatal(err)
	}
	return c.VisitorID
}

func TestRepSocket(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := visitorHarness(t, d)
		ctx := context.Background()
		// The origin is checked before the upgrade; no session, no socket; meetings-only users take no chats.
		cc := newConsoleClient(t, h)
		cc.login("admin@acme.example", adminPassword)
		u, _ := url.Parse(h.srv.URL)
		var cookies []string
		for _, c := range cc.hc.Jar.Cookies(u) {
			cookies = append(cookies, c.Name+"="+c.Value)
		}
		for _, c := range []struct {
			name, origin, cookie string
			status               int
		}{
			{"foreign origin", "https://evil.example", strings.Join(cookies, "; "), 403},
			{"no origin", "", strings.Join(cookies, "; "), 403},
			{"no session", h.srv.URL, "", 200}, // the login page
		} {
			hdr := http.Header{"Cookie": {c.cookie}}
			if c.origin != "" {
				hdr.Set("Origin", c.origin)
			}
			_, res, err := websocket.Dial(ctx, wsURL(h, "/console/socket"), &websocket.DialOptions{HTTPHeader: hdr})
			if err == nil || res == nil || res.StatusCode != c.status {
				t.Errorf("%s: %v, status %v, want %d", c.name, err, res, c.status)
			}
		}
		if _, err := h.id.CreateUser(ctx, d, identity.NewUser{WorkspaceID: h.ws.ID, Email: "morgan@acme.example", Role: identity.RoleMeetingsOnly, Password: "user password 1"}); err != nil {
			t.Fatal(err)
		}
		mc := newConsoleClient(t, h)
		mc.login("morgan@acme.example", "user password 1")
		var mcookies []string
		for _, c := range mc.hc.Jar.Cookies(u) {
			mcookies = append(mcookies, c.Name+"="+c.Value)
		}
		_, res, err := websocket.Dial(ctx, wsURL(h, "/console/socket"), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {h.srv.URL}, "Cookie": {strings.Join(mcookies, "; ")}}})
		if err == nil || res == nil || res.StatusCode != 403 {
			t.Errorf("meetings-only: %v %v, want 403", err, res)
		}

		// A connected rep is available: a visitor's first message alerts them at once, with no
		// offline reply.
		withAlerts(t, h)
		rep := h.dialRep(t, "admin@acme.example", adminPassword)
		tok, _ := h.visitorToken(t)
		v := h.dialVisitor(t, tok)
		start := time.Now()
		v.send(map[string]any{"t": "send", "id": "v1", "text": "Need pricing help"})
		ack := v.until("ack", func(f tframe) bool { return f.T == "ack" })
		al := rep.until("waiting alert", func(f tframe) bool { return f.T == "alert" })
		if al.Stream != "waiting" || al.conv() != ack.conv() {
			t.Fatalf("alert %+v", al)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("the alert took %v (N2: under a second)", took)
		}
		conv := ack.conv()
		// Not a participant yet: the rep may follow but not write.
		rep.send(map[string]any{"t": "sub", "conv": conv, "after": 0})
		if f := rep.until("the visitor's message", func(f tframe) bool { return f.T == "msg" }); f.Text != "Need pricing help" || f.Seq != 1 {
			t.Fatalf("rep got %+v", f)
		}
		rep.send(map[string]any{"t": "send", "id": "r0", "conv": conv, "text": "hi"})
		if f := rep.until("error", func(f tframe) bool { return f.T == "error" }); f.Code != "forbidden" || f.ID != "r0" {
			t.Fatalf("non-participant send: %+v", f)
		}
		// Accept through the API, then talk: the visitor sees the join and the answer; typing
		// and read receipts cross both ways.
		r := h.call("POST", "/api/v1/conversations/"+conv+"/accept", h.adminToken, map[string]any{})
		if r.status != 200 {
			t.Fatalf("accept: %d %s", r.status, r.body)
		}
		v.until("join message", func(f tframe) bool { return f.T == "msg" && f.Author == "system" })
		rep.send(map[string]any{"t": "typing", "conv": conv, "on": true})
		if f := v.until("typing", func(f tframe) bool { return f.T == "typing" }); !f.On || f.Author != "rep" {
			t.Fatalf("typing %+v", f)
		}
		rep.send(map[string]any{"t": "send", "id": "r1", "conv": conv, "text": "Happy to help: https://acme.example/pricing"})
		rep.until("ack", func(f tframe) bool { return f.T == "ack" && f.ID == "r1" })
		got := v.until("answer", func(f tframe) bool { return f.T == "msg" && f.Author == "rep" })
		if got.Name != "Ada Admin" {
			t.Errorf("rep name %q", got.Name)
		}
		v.send(map[string]any{"t": "read", "conv": conv, "seq": got.Seq})
		if f := rep.until("read receipt", func(f tframe) bool { return f.T == "read" }); f.Seq != got.Seq || f.Author != "visitor" {
			t.Fatalf("read receipt %+v", f)
		}
		// A visitor who turns out to be at a target account alerts the reps on that stream.
		targets := []string{"globex.com"}
		if _, err := h.wss.Update(ctx, h.ws.ID, workspace.Patch{Settings: &workspace.SettingsPatch{TargetAccounts: &targets}}); err != nil {
			t.Fatal(err)
		}
		gtok, _ := h.visitorToken(t)
		if r := h.m("POST", "/m/v1/identify", gtok, map[string]any{"fields": map[string]string{"email": "ada@globex.com", "first_name": "Ada"}}, siteOrigin); r.status != 200 {
			t.Fatalf("identify: %d %s", r.status, r.body)
		}
		if f := rep.until("target alert", func(f tframe) bool { return f.T == "alert" && f.Stream == "target" }); f.Title != "Ada of globex.com is on the site" {
			t.Fatalf("target alert %+v", f)
		}
		// Another workspace's conversation is not found for the rep.
		other, _ := h.wss.Create(ctx, d, workspace.New{Name: "Globex"})
		_, om, _, err := h.chat.VisitorMessage(ctx, other.ID, "vis_other", "theirs", "")
		if err != nil {
			t.Fatal(err)
		}
		rep.send(map[string]any{"t": "sub", "conv": om.ConversationID})
		if f := rep.until("error", func(f tframe) bool { return f.T == "error" }); f.Code != "not_found" {
			t.Fatalf("other workspace: %+v", f)
		}
	})
}

// withAlerts gives the harness's server a notifications service on the harness's bus, so that
// alerts reach the rep sockets.
func withAlerts(t *testing.T, h *harness) {
	t.Helper()
	deps := h.s.deps
	deps.Notify = notify.NewService(h.d, h.clk, h.bus, h.s.jobs, h.secrets, notify.Options{})
	h.s = New(deps)
	h.srv.Config.Handler = h.s
	t.Cleanup(h.s.CloseSockets)
}

// TestSocketHardening covers what the review of the sockets asked for: a rep who loses access
// loses the socket at once; a visitor socket follows a merge; a message the bus dropped reaches
// the socket at the next ping; sockets per visitor are capped; visitors' transcripts need a rep
// and go to one address.
func TestSocketHardening(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := visitorHarness(t, d)
		ctx := context.Background()

		// A deactivated rep's socket closes with 4003 and the rep is no longer available.
		riley, err := h.id.CreateUser(ctx, d, identity.NewUser{WorkspaceID: h.ws.ID, Email: "riley@acme.example", Role: identity.RoleRep,
			FirstName: "Riley", Password: "user password 1"})
		if err != nil {
			t.Fatal(err)
		}
		rs := h.dialRep(t, "riley@acme.example", "user password 1")
		if avail, _ := h.presence.Available(ctx, h.ws.ID); len(avail) != 1 {
			t.Fatalf("available before: %v", avail)
		}
		if r := h.call("POST", "/api/v1/users/"+riley.ID+"/deactivate", h.adminToken, map[string]any{}); r.status != 200 {
			t.Fatalf("deactivate: %d %s", r.status, r.body)
		}
		if got := rs.closedWith(); got != closeForbidden {
			t.Fatalf("the deactivated rep's socket closed with %d, want %d", got, closeForbidden)
		}
		for i := 0; ; i++ {
			avail, _ := h.presence.Available(ctx, h.ws.ID)
			if len(avail) == 0 {
				break
			}
			if i > 100 {
				t.Fatalf("the deactivated rep is still available: %v", avail)
			}
			time.Sleep(20 * time.Millisecond)
		}

		// A visitor socket follows a merge: after the phone's record merges into the laptop's
		// (a proven identify on another tab), the phone's socket writes to the laptop's
		// conversation.
		laptop, laptopID := h.visitorToken(t)
		phone, phoneID := h.visitorToken(t)
		_, lm, _, err := h.chat.VisitorMessage(ctx, h.ws.ID, laptopID, "from my laptop", "l1")
		if err != nil {
			t.Fatal(err)
		}
		_ = laptop
		ps := h.dialVisitor(t, phone)
		if _, err := h.visitors.Identify(ctx, d, h.ws.ID, laptopID, "ada@acme.example"); err != nil {
			t.Fatal(err)
		}
		if _, err := h.visitors.Identify(ctx, d, h.ws.ID, phoneID, "ada@acme.example"); err != nil {
			t.Fatal(err)
		}
		ps.send(map[string]any{"t": "send", "id": "p1", "text": "from my phone"})
		ack := ps.until("ack after merge", func(f tframe) bool { return f.T == "ack" || f.T == "error" })
		if ack.T != "ack" || ack.conv() != lm.ConversationID || ack.Seq != 2 {
			t.Fatalf("after the merge the phone wrote %+v, want seq 2 of the laptop's conversation %s", ack, lm.ConversationID)
		}

		// A message the bus never carried reaches a following socket at the next ping.
		quiet := chat.New(d, h.clk) // no bus: it stores and tells nobody
		rep := h.dialRep(t, "admin@acme.example", adminPassword)
		rep.send(map[string]any{"t": "sub", "conv": lm.ConversationID, "after": 2})
		rep.send(map[string]any{"t": "ping"})
		rep.until("pong", func(f tframe) bool { return f.T == "pong" })
		if _, _, err := quiet.VisitorSend(ctx, h.ws.ID, laptopID, lm.ConversationID, "dropped by the bus", "q1"); err != nil {
			t.Fatal(err)
		}
		h.s.sockets.tickAll()
		if f := rep.until("the dropped message", func(f tframe) bool { return f.T == "msg" }); f.Text != "dropped by the bus" || f.Seq != 3 {
			t.Fatalf("after the ping the rep got %+v", f)
		}

		// At most SocketsPerVisitor sockets per visitor.
		tok, _ := h.visitorToken(t)
		for i := 0; i < SocketsPerVisitor; i++ {
			h.dialVisitor(t, tok)
		}
		extra := h.dialVisitor(t, "")
		extra.send(map[string]any{"t": "auth", "token": tok})
		if got := extra.closedWith(); got != closeFlood {
			t.Fatalf("socket %d of one visitor closed with %d, want %d", SocketsPerVisitor+1, got, closeFlood)
		}

		// Visitors' transcripts: not before a rep took part, then to one address only.
		vt, vid := h.visitorToken(t)
		_, vm, _, err := h.chat.VisitorMessage(ctx, h.ws.ID, vid, "transcript please", "t1")
		if err != nil {
			t.Fatal(err)
		}
		ask := func(email string) response {
			return h.m("POST", "/m/v1/transcript", vt, map[string]string{"conversation_id": vm.ConversationID, "email": email}, siteOrigin)
		}
		if r := ask("me@visitor.example"); r.status != 403 {
			t.Fatalf("transcript before a rep joined: %d %s", r.status, r.body)
		}
		if r := h.call("POST", "/api/v1/conversations/"+vm.ConversationID+"/accept", h.adminToken, map[string]any{}); r.status != 200 {
			t.Fatalf("accept: %d %s", r.status, r.body)
		}
		if r := ask("me@visitor.example"); r.status != 202 {
			t.Fatalf("transcript: %d %s", r.status, r.body)
		}
		if r := ask("victim@elsewhere.example"); r.status != 409 {
			t.Fatalf("transcript to a second address: %d %s", r.status, r.body)
		}
		if r := h.m("POST", "/m/v1/transcript", tok, map[string]string{"conversation_id": vm.ConversationID, "email": "x@y.example"}, siteOrigin); r.status != 404 {
			t.Fatalf("another visitor's transcript: %d %s", r.status, r.body)
		}
	})
}
