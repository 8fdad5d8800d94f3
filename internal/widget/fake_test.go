package widget

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// fakeBeckon is a tiny Beckon server for the browser tests: it serves the embedded scripts,
// answers /m/v1 as docs/MESSENGER-PROTOCOL.md says and, for the sites in live, the visitor
// socket as docs/REALTIME.md says (other sites' socket answers 404, as behind a proxy that
// refuses upgrades), and records every call and frame.
type fakeBeckon struct {
	srv    *httptest.Server
	origin string // the one allowed origin (the host page's)

	mu          sync.Mutex
	calls       []fakeCall
	sites       map[string]map[string]any // site id → settings
	live        map[string]bool           // sites whose socket works
	tokens      map[string]string         // visitor token → site id
	convs       []*fakeConv               // oldest first
	byClient    map[string]*fakeMsg       // visitor id + client id → stored message
	nmsg        int
	failNext    int            // answer the next message posts with 503
	cssGets     int            // requests for the fallback stylesheet
	sockets     map[string]int // socket requests per site, refused ones included
	conns       map[*fakeConn]bool
	frames      []fakeFrame // frames visitors sent, auth excepted
	dropOnSend  int         // store the next sends, then drop the socket instead of acknowledging
	refuseSend  string      // refuse the next send with this error code
	echoFirst   bool        // deliver a sent message before acknowledging it
	forbid      bool        // close every socket with 4003 after its auth frame
	transcripts []map[string]any
}

type fakeCall struct {
	Method, Path, Auth, ContentType string
	Body                            map[string]any
}

type fakeConv struct {
	id, visitor, status string
	msgs                []*fakeMsg
}

type fakeMsg struct {
	ID, Author, Name, Text, At string
	Seq                        int
}

func (m *fakeMsg) http() map[string]any {
	out := map[string]any{"id": m.ID, "seq": m.Seq, "author": m.Author, "text": m.Text, "created_at": m.At}
	if m.Name != "" {
		out["author_name"] = m.Name
	}
	return out
}

func (m *fakeMsg) frame(conv string) map[string]any {
	return map[string]any{"t": "msg", "conv": conv, "seq": m.Seq, "id": m.ID, "author": m.Author, "name": m.Name, "text": m.Text, "at": m.At}
}

// fakeConn is one visitor socket. subs holds, per followed conversation, the last seq sent.
type fakeConn struct {
	c       *websocket.Conn
	site    string
	visitor string
	token   string
	subs    map[string]int
}

// fakeFrame is a frame a visitor sent on a socket.
type fakeFrame struct {
	Visitor string
	F       map[string]any
}

func newFakeBeckon(t *testing.T) *fakeBeckon {
	f := &fakeBeckon{
		sites:    map[string]map[string]any{},
		live:     map[string]bool{},
		tokens:   map[string]string{},
		byClient: map[string]*fakeMsg{},
		sockets:  map[string]int{},
		conns:    map[*fakeConn]bool{},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.mu.Lock()
		for fc := range f.conns {
			fc.c.CloseNow()
		}
		f.mu.Unlock()
		f.srv.Close()
	})
	return f
}

func (f *fakeBeckon) site(id string, settings map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sites[id] = settings
}

// log returns the recorded calls to path ("" for all).
func (f *fakeBeckon) log(path string) []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeCall
	for _, c := range f.calls {
		if path == "" || c.Path == path {
			out = append(out, c)
		}
	}
	return out
}

// revoke makes the server refuse every visitor token it issued so far.
func (f *fakeBeckon) revoke() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for tok := range f.tokens {
		f.tokens[tok] = "revoked"
	}
}

// visitorOf is the visitor id inside a token the fake issued ("bkv1.<visitor>.<unix>.sig").
func visitorOf(tok string) string {
	if p := strings.Split(tok, "."); len(p) == 4 {
		return p[1]
	}
	return ""
}

// openConv returns the visitor's newest open conversation, or nil.
func (f *fakeBeckon) openConv(visitor string) *fakeConv {
	for i := len(f.convs) - 1; i >= 0; i-- {
		if c := f.convs[i]; c.visitor == visitor && c.status == "open" {
			return c
		}
	}
	return nil
}

func (f *fakeBeckon) conv(id string) *fakeConv {
	for _, c := range f.convs {
		if c.id == id {
			return c
		}
	}
	return nil
}

func (f *fakeBeckon) newConv(visitor string) *fakeConv {
	c := &fakeConv{id: fmt.Sprintf("conv_%d", len(f.convs)+1), visitor: visitor, status: "open"}
	f.convs = append(f.convs, c)
	return c
}

// add appends a message to c with the next seq.
func (f *fakeBeckon) add(c *fakeConv, author, name, text string) *fakeMsg {
	f.nmsg++
	m := &fakeMsg{ID: fmt.Sprintf("msg_%d", f.nmsg), Seq: len(c.msgs) + 1, Author: author, Name: name, Text: text,
		At: time.Now().UTC().Format(time.RFC3339)}
	c.msgs = append(c.msgs, m)
	return m
}

// store adds a message to c and sends it to the sockets that follow c.
func (f *fakeBeckon) store(c *fakeConv, author, name, text string) *fakeMsg {
	m := f.add(c, author, name, text)
	f.push(c)
	return m
}

// push sends every socket that follows c the messages it has not had, in order, once.
func (f *fakeBeckon) push(c *fakeConv) {
	for fc := range f.conns {
		last, ok := fc.subs[c.id]
		if !ok || fc.visitor != c.visitor {
			continue
		}
		for _, m := range c.msgs {
			if m.Seq > last {
				fc.write(m.frame(c.id))
				fc.subs[c.id] = m.Seq
			}
		}
	}
}

// toVisitor sends v to every socket of the visitor.
func (f *fakeBeckon) toVisitor(visitor string, v any) {
	for fc := range f.conns {
		if fc.visitor == visitor {
			fc.write(v)
		}
	}
}

func (fc *fakeConn) write(v any) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	wsjson.Write(ctx, fc.c, v) // a failure closes the connection; the client reconnects
}

// addRepMessage adds a rep's reply to the newest conversation.
func (f *fakeBeckon) addRepMessage(text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.store(f.convs[len(f.convs)-1], "rep", "Maya Chen", text)
}

// repSay adds a reply of the rep name to the conversation id and returns its seq.
func (f *fakeBeckon) repSay(id, name, text string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.store(f.conv(id), "rep", name, text).Seq
}

// repStart starts a conversation with the visitor, as a rep does from Live View: a conv frame
// to the visitor's sockets, then the rep's message. It returns the conversation's id.
func (f *fakeBeckon) repStart(visitor, name, text string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.newConv(visitor)
	f.toVisitor(visitor, map[string]any{"t": "conv", "conv": map[string]any{"id": c.id, "status": "accepted", "last_seq": 0, "reps": []string{name}}})
	f.store(c, "rep", name, text)
	return c.id
}

// repFrame sends the visitor's sockets that follow conversation id a frame of the rep's.
func (f *fakeBeckon) repFrame(id string, v map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.conv(id)
	for fc := range f.conns {
		if _, ok := fc.subs[id]; ok && fc.visitor == c.visitor {
			fc.write(v)
		}
	}
}

// closeConv closes the conversation id as a rep does: a system message, then a conv frame.
func (f *fakeBeckon) closeConv(id, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.conv(id)
	f.store(c, "system", "", name+" closed the conversation")
	c.status = "closed"
	f.toVisitor(c.visitor, map[string]any{"t": "conv", "conv": map[string]any{"id": c.id, "status": "closed", "last_seq": len(c.msgs)}})
}

// drop closes the visitor's sockets without a close frame, as a crash or a lost network does
// (the browser sees 1006).
func (f *fakeBeckon) drop(visitor string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for fc := range f.conns {
		if fc.visitor == visitor {
			fc.c.CloseNow()
			delete(f.conns, fc)
		}
	}
}

// goAway closes the visitor's sockets with 1001, as a server shutting down does.
func (f *fakeBeckon) goAway(visitor string) {
	f.mu.Lock()
	var cs []*websocket.Conn
	for fc := range f.conns {
		if fc.visitor == visitor {
			cs = append(cs, fc.c)
			delete(f.conns, fc)
		}
	}
	f.mu.Unlock()
	for _, c := range cs {
		c.Close(websocket.StatusGoingAway, "shutting down")
	}
}

// socketsOf returns the number of socket requests for site so far.
func (f *fakeBeckon) socketsOf(site string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sockets[site]
}

// connected returns the visitor id and token of the one open socket of site, or "".
func (f *fakeBeckon) connected(site string) (visitor, token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for fc := range f.conns {
		if fc.site == site {
			return fc.visitor, fc.token
		}
	}
	return "", ""
}

// sent returns the frames of type typ that the visitor sent, oldest first.
func (f *fakeBeckon) sent(visitor, typ string) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	for _, fr := range f.frames {
		if fr.Visitor == visitor && fr.F["t"] == typ {
			out = append(out, fr.F)
		}
	}
	return out
}

// convOf returns the id of the visitor's newest conversation, or "".
func (f *fakeBeckon) convOf(visitor string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.convs) - 1; i >= 0; i-- {
		if f.convs[i].visitor == visitor {
			return f.convs[i].id
		}
	}
	return ""
}

// messages returns the texts stored in conversation id.
func (f *fakeBeckon) messages(id string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, m := range f.conv(id).msgs {
		out = append(out, m.Text)
	}
	return out
}

func (f *fakeBeckon) set(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

// socket serves GET /m/v1/socket?site=: origin checked before the upgrade, the auth frame within
// 10 s (4001 for a missing or refused token, 4003 for another site's), then ready and the frames.
func (f *fakeBeckon) socket(w http.ResponseWriter, r *http.Request) {
	site := r.URL.Query().Get("site")
	f.mu.Lock()
	f.sockets[site]++
	live := f.live[site]
	f.mu.Unlock()
	if !live {
		http.NotFound(w, r)
		return
	}
	u, err := url.Parse(f.origin)
	if err != nil || r.Header.Get("Origin") != f.origin {
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: []string{u.Host}})
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(64 << 10)
	ctx := r.Context()
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	var auth map[string]any
	err = wsjson.Read(actx, c, &auth)
	cancel()
	tok, _ := auth["token"].(string)
	f.mu.Lock()
	owner := f.tokens[tok]
	switch {
	case err != nil || auth["t"] != "auth" || owner == "" || owner == "revoked":
		f.mu.Unlock()
		c.Close(4001, "unauthenticated")
		return
	case owner != site || f.forbid:
		f.mu.Unlock()
		c.Close(4003, "forbidden")
		return
	}
	fc := &fakeConn{c: c, site: site, visitor: visitorOf(tok), token: tok, subs: map[string]int{}}
	f.conns[fc] = true
	var conv any
	if oc := f.openConv(fc.visitor); oc != nil {
		conv = map[string]any{"id": oc.id, "last_seq": len(oc.msgs)}
	}
	fc.write(map[string]any{"t": "ready", "visitor_id": fc.visitor, "conversation": conv})
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.conns, fc)
		f.mu.Unlock()
	}()
	for {
		var fr map[string]any
		if err := wsjson.Read(ctx, c, &fr); err != nil {
			return
		}
		f.mu.Lock()
		if !f.conns[fc] { // dropped meanwhile
			f.mu.Unlock()
			return
		}
		f.frames = append(f.frames, fakeFrame{Visitor: fc.visitor, F: fr})
		f.frame(fc, fr)
		f.mu.Unlock()
	}
}

// frame answers one frame of a visitor's socket, with f.mu held.
func (f *fakeBeckon) frame(fc *fakeConn, fr map[string]any) {
	refuse := func(code, msg string, id any) {
		e := map[string]any{"t": "error", "code": code, "message": msg}
		if id != nil {
			e["id"] = id
		}
		fc.write(e)
	}
	convID, _ := fr["conv"].(string)
	switch fr["t"] {
	case "sub":
		c := f.conv(convID)
		after, ok := fr["after"].(float64)
		if c == nil || c.visitor != fc.visitor || !ok {
			refuse("not_found", "no such conversation", nil)
			return
		}
		fc.subs[c.id] = int(after)
		f.push(c)
	case "send":
		id, _ := fr["id"].(string)
		text, _ := fr["text"].(string)
		if id == "" || text == "" {
			refuse("invalid", "id and text are required", fr["id"])
			return
		}
		if f.refuseSend != "" {
			refuse(f.refuseSend, "the message was refused", id)
			f.refuseSend = ""
			return
		}
		m, dup := f.byClient[fc.visitor+" "+id]
		var c *fakeConv
		switch {
		case dup:
			for _, oc := range f.convs {
				for _, om := range oc.msgs {
					if om == m {
						c = oc
					}
				}
			}
		case convID != "":
			if c = f.conv(convID); c == nil || c.visitor != fc.visitor {
				refuse("not_found", "no such conversation", id)
				return
			}
			if c.status != "open" {
				refuse("conflict", "the conversation is closed", id)
				return
			}
		default:
			if c = f.openConv(fc.visitor); c == nil {
				c = f.newConv(fc.visitor)
			}
		}
		if !dup {
			m = f.add(c, "visitor", "", text)
			f.byClient[fc.visitor+" "+id] = m
		}
		if f.dropOnSend > 0 { // stored, never acknowledged
			f.dropOnSend--
			fc.c.CloseNow()
			delete(f.conns, fc)
			return
		}
		if f.echoFirst {
			f.push(c)
		}
		fc.write(map[string]any{"t": "ack", "id": id, "conv": c.id, "seq": m.Seq})
		f.push(c)
	case "typing", "read", "unsub":
	case "ping":
		fc.write(map[string]any{"t": "pong"})
	default:
		refuse("malformed", "unknown frame", nil)
	}
}

func (f *fakeBeckon) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/js/beckon.js":
		b, _ := Loader()
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Write(b)
		return
	case strings.HasPrefix(r.URL.Path, "/js/messenger."):
		js, jh := Messenger()
		css, ch := Stylesheet()
		switch r.URL.Path {
		case "/js/messenger." + jh + ".js":
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			w.Write(js)
		case "/js/messenger." + ch + ".css":
			f.mu.Lock()
			f.cssGets++
			f.mu.Unlock()
			w.Header().Set("Content-Type", "text/css; charset=utf-8")
			w.Write(css)
		default:
			http.NotFound(w, r)
		}
		return
	case r.URL.Path == "/m/v1/socket":
		f.socket(w, r)
		return
	case !strings.HasPrefix(r.URL.Path, "/m/v1/"):
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Origin") != f.origin {
		jsonError(w, 403, "forbidden", "origin not allowed")
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", f.origin)
	h.Set("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", "Retry-After")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "POST, GET")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		h.Set("Access-Control-Max-Age", "7200")
		w.WriteHeader(204)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/m/v1/")
	call := fakeCall{Method: r.Method, Path: path, Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type")}
	if r.Method == http.MethodPost {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 16<<10))
		if err := json.Unmarshal(b, &call.Body); err != nil {
			jsonError(w, 400, "malformed", "bad JSON")
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)

	if path == "hello" {
		site, _ := call.Body["site_id"].(string)
		if site == siteAPIDown {
			jsonError(w, 503, "unavailable", "the database is down")
			return
		}
		settings, ok := f.sites[site]
		if !ok {
			jsonError(w, 404, "not_found", "no such site")
			return
		}
		consent, _ := call.Body["consent"].(string)
		if consent == "denied" || settings["consent_required"] == true && consent != "granted" {
			writeJSON(w, 200, map[string]any{"visitor_token": "", "settings": settings, "consent_required": settings["consent_required"]})
			return
		}
		tok, _ := call.Body["visitor_token"].(string)
		if f.tokens[tok] != site {
			tok = fmt.Sprintf("bkv1.vis_%d.%d.sig", len(f.tokens)+1, time.Now().Unix())
			f.tokens[tok] = site
		}
		var conv any
		if c := f.openConv(visitorOf(tok)); c != nil {
			conv = map[string]any{"id": c.id, "last_seq": len(c.msgs)}
		}
		writeJSON(w, 200, map[string]any{"visitor_token": tok, "visitor_id": visitorOf(tok), "session_id": "ses",
			"new_session": true, "settings": settings, "conversation": conv, "bot": false})
		return
	}
	if path == "leave" {
		if tok, _ := call.Body["visitor_token"].(string); f.tokens[tok] == "" || f.tokens[tok] == "revoked" {
			jsonError(w, 401, "unauthenticated", "bad token")
			return
		}
		w.WriteHeader(204)
		return
	}
	tok := strings.TrimPrefix(call.Auth, "Bearer ")
	if site := f.tokens[tok]; site == "" || site == "revoked" {
		jsonError(w, 401, "unauthenticated", "bad token")
		return
	}
	visitor := visitorOf(tok)
	switch {
	case path == "page" || path == "heartbeat" || path == "consent":
		w.WriteHeader(204)
	case path == "identify" && call.Body["signature"] == "bad":
		writeJSON(w, 401, map[string]any{"error": map[string]any{"code": "unauthenticated", "field": "signature", "message": "the signature does not match"}})
	case path == "identify":
		writeJSON(w, 200, map[string]any{"visitor_id": visitor})
	case path == "form":
		writeJSON(w, 200, map[string]any{"visitor_id": visitor, "visitor_token": tok})
	case path == "transcript":
		id, _ := call.Body["conversation_id"].(string)
		email, _ := call.Body["email"].(string)
		if c := f.conv(id); c == nil || c.visitor != visitor {
			jsonError(w, 404, "not_found", "no such conversation")
			return
		}
		if !strings.Contains(email, "@") {
			writeJSON(w, 422, map[string]any{"error": map[string]any{"code": "invalid", "field": "email", "message": "not an email address"}})
			return
		}
		f.transcripts = append(f.transcripts, call.Body)
		w.WriteHeader(202)
	case path == "messages" && r.Method == http.MethodPost:
		if f.failNext > 0 {
			f.failNext--
			w.Header().Set("Retry-After", "1")
			jsonError(w, 503, "unavailable", "try again")
			return
		}
		cid, _ := call.Body["client_id"].(string)
		text, _ := call.Body["text"].(string)
		c := f.openConv(visitor)
		m, dup := f.byClient[visitor+" "+cid]
		if c == nil {
			c = f.newConv(visitor)
		}
		if !dup {
			m = f.store(c, "visitor", "", text)
			f.byClient[visitor+" "+cid] = m
		}
		resp := map[string]any{"conversation_id": c.id, "message": m.http(), "first": m.Seq == 1 && !dup}
		if strings.Contains(text, "@") {
			resp["fields_captured"] = []string{"email"}
		}
		writeJSON(w, 201, resp)
	case path == "messages":
		after, _ := strconv.Atoi(r.URL.Query().Get("after"))
		c := f.openConv(visitor)
		if c == nil {
			writeJSON(w, 200, map[string]any{"conversation_id": "", "messages": []any{}})
			return
		}
		out := []map[string]any{}
		for _, m := range c.msgs {
			if m.Seq > after {
				out = append(out, m.http())
			}
		}
		writeJSON(w, 200, map[string]any{"conversation_id": c.id, "messages": out})
	default:
		jsonError(w, 404, "not_found", "no such endpoint")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func jsonError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg}})
}
