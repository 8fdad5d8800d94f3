package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/beckonhq/beckon/internal/app"
	"github.com/beckonhq/beckon/internal/config"
	"github.com/beckonhq/beckon/internal/demo"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/visitor"
)

// The real-time tests run `beckon serve` as child processes: this test binary, re-executed with
// -test.run=^TestServerProcess$ and envServer holding the child's configuration as JSON. A child
// can then be killed with SIGKILL (the crash test) or two can share PostgreSQL and NATS (the
// replica test).
const envServer = "BECKON_TEST_SERVER_PROCESS"

// rtSecret is the children's BECKON_SECRET_KEY: tokens one issues the other accepts.
var rtSecret = strings.Repeat("7c", 32)

// childConfig is what a child server runs with.
type childConfig struct {
	DataDir, DatabaseURL, NATSURL, Addr, BaseURL string
}

// TestServerProcess is not a test: it is a child server of the real-time tests.
func TestServerProcess(t *testing.T) {
	raw := os.Getenv(envServer)
	if raw == "" {
		t.Skip("child server of the real-time tests")
	}
	var c childConfig
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		t.Fatal(err)
	}
	// Never outlive a vanished parent by long.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := rtConfig(c)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.New(ctx, cfg, log, app.Options{Hash: identity.TestHashParams, Visitor: visitor.Options{}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	l, err := net.Listen("tcp", c.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Serve(ctx, l); err != nil {
		t.Fatal(err)
	}
}

func rtConfig(c childConfig) config.Config {
	cfg := config.Defaults()
	cfg.DataDir, cfg.DatabaseURL, cfg.NATSURL = c.DataDir, c.DatabaseURL, c.NATSURL
	cfg.SecretKey, cfg.BaseURL = rtSecret, c.BaseURL
	return cfg
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// child is a running child server.
type child struct {
	t    *testing.T
	cfg  childConfig
	cmd  *exec.Cmd
	done chan struct{}
}

// startChild starts a child server and waits until it answers /readyz.
func startChild(t *testing.T, c childConfig) *child {
	t.Helper()
	raw, _ := json.Marshal(c)
	cmd := exec.Command(os.Args[0], "-test.run=^TestServerProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envServer+"="+string(raw))
	logf, err := os.OpenFile(filepath.Join(t.TempDir(), "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := &child{t: t, cfg: c, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); logf.Close(); close(ch.done) }()
	t.Cleanup(func() {
		ch.kill()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("server %s log:\n%s", c.Addr, tail(string(b), 4000))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(c.BaseURL + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return ch
			}
		}
		select {
		case <-ch.done:
			t.Fatalf("the server on %s exited before it was ready", c.Addr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server on %s was not ready within 30 s", c.Addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// kill ends the child with SIGKILL: no shutdown, no flushing.
func (c *child) kill() {
	if c.cmd.Process != nil {
		c.cmd.Process.Kill()
	}
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.t.Error("a killed child server did not exit")
	}
}

// seed prepares the database the children share: the demo workspace and its users.
func seed(t *testing.T, c childConfig) *demo.Info {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := app.New(ctx, rtConfig(c), slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{Hash: identity.TestHashParams})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	info, err := demo.Seed(ctx, a.DB, a.Workspaces, a.Identity, c.DataDir, c.BaseURL, rtSite)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// rtSite is the customer site of the real-time tests (an allowed origin of the demo workspace).
const rtSite = "http://www.acme.localhost:8001"

const chromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// hello starts a visitor on server base and returns its token.
func hello(t *testing.T, base, siteID string) string {
	t.Helper()
	body := fmt.Sprintf(`{"site_id":%q,"page":{"url":%q,"title":"Pricing"},"time_zone":"Europe/Berlin","language":"de-DE"}`, siteID, rtSite+"/pricing")
	req, _ := http.NewRequest("POST", base+"/m/v1/hello", strings.NewReader(body))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Origin", rtSite)
	req.Header.Set("User-Agent", chromeUA)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		VisitorToken string `json:"visitor_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != 200 || out.VisitorToken == "" {
		t.Fatalf("hello: %d %v %+v", res.StatusCode, err, out)
	}
	return out.VisitorToken
}

// login logs a user in on server base and returns the session cookie header.
func login(t *testing.T, base, email, password string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := cl.PostForm(base+"/login", url.Values{"email": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	u, _ := url.Parse(base)
	var parts []string
	for _, c := range jar.Cookies(u) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	if res.StatusCode != http.StatusSeeOther || len(parts) == 0 {
		t.Fatalf("login as %s: %d, cookies %v", email, res.StatusCode, parts)
	}
	return strings.Join(parts, "; ")
}

// sock is a test client of a Beckon socket.
type sock struct {
	t *testing.T
	c *websocket.Conn
}

func dialVisitor(ctx context.Context, t *testing.T, base, siteID, token string) (*sock, error) {
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/m/v1/socket?site="+siteID,
		&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {rtSite}, "User-Agent": {chromeUA}}})
	if err != nil {
		return nil, err
	}
	s := &sock{t: t, c: c}
	if err := s.send(ctx, map[string]any{"t": "auth", "token": token}); err != nil {
		return nil, err
	}
	return s, nil
}

func dialRep(ctx context.Context, t *testing.T, base, cookie string) (*sock, error) {
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/console/socket",
		&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {base}, "Cookie": {cookie}}})
	if err != nil {
		return nil, err
	}
	return &sock{t: t, c: c}, nil
}

func (s *sock) send(ctx context.Context, v any) error {
	b, _ := json.Marshal(v)
	return s.c.Write(ctx, websocket.MessageText, b)
}

// frame is any server frame.
type frame struct {
	T       string          `json:"t"`
	ID      string          `json:"id"`
	Conv    json.RawMessage `json:"conv"`
	Seq     int64           `json:"seq"`
	Text    string          `json:"text"`
	Author  string          `json:"author"`
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Stream  string          `json:"stream"`
	Title   string          `json:"title"`
	State   json.RawMessage `json:"state"`
	// ready
	Conversation *struct {
		ID      string `json:"id"`
		LastSeq int64  `json:"last_seq"`
	} `json:"conversation"`
	at time.Time
}

// convID returns the frame's conversation id (a string in msg/ack frames, an object in conv frames).
func (f frame) convID() string {
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

func (s *sock) read(ctx context.Context) (frame, error) {
	_, b, err := s.c.Read(ctx)
	if err != nil {
		return frame{}, err
	}
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		return frame{}, fmt.Errorf("frame %s: %w", b, err)
	}
	f.at = time.Now()
	return f, nil
}

// until reads frames until one satisfies ok, returning it.
func (s *sock) until(ctx context.Context, what string, ok func(frame) bool) frame {
	s.t.Helper()
	for {
		f, err := s.read(ctx)
		if err != nil {
			s.t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok(f) {
			return f
		}
	}
}

// crashVisitor is one visitor of the crash test.
type crashVisitor struct {
	token   string
	s       *sock
	conv    string
	acked   map[string]int64 // client id → seq
	order   []string         // client ids in the order they were stored
	next    int              // the next message to send
	pending map[string]bool  // sent, not acknowledged
}

// Messages of the crash test: each visitor sends perVisitor messages (within the messenger's
// per-visitor allowance, so that none is refused), up to window unacknowledged at a time.
const (
	crashVisitors   = 8
	crashPerVisitor = 25
	crashWindow     = 5
	crashKillAfter  = 80 // acknowledgements before the SIGKILL
)

func msgID(i int) string { return fmt.Sprintf("m%03d", i) }

// TestCrashLosesNoMessage kills the server with SIGKILL while visitors are sending and a rep is
// receiving, restarts it, and checks that every acknowledged message is stored once, in the order
// sent, and reaches the rep exactly once and in order (C2).
func TestCrashLosesNoMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := childConfig{DataDir: dir, Addr: addr, BaseURL: "http://" + addr}
	info := seed(t, cfg)
	srv := startChild(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// The rep is on line first, so that nobody-available replies stay out of the conversations.
	cookie := login(t, cfg.BaseURL, info.AdminEmail, info.AdminPassword)
	rep, err := dialRep(ctx, t, cfg.BaseURL, cookie)
	if err != nil {
		t.Fatal(err)
	}
	rep.until(ctx, "rep ready", func(f frame) bool { return f.T == "ready" })
	vs := make([]*crashVisitor, crashVisitors)
	for i := range vs {
		v := &crashVisitor{token: hello(t, cfg.BaseURL, info.SiteID), acked: map[string]int64{}, pending: map[string]bool{}}
		if v.s, err = dialVisitor(ctx, t, cfg.BaseURL, info.SiteID, v.token); err != nil {
			t.Fatal(err)
		}
		v.s.until(ctx, "ready", func(f frame) bool { return f.T == "ready" })
		v.s.send(ctx, map[string]any{"t": "send", "id": msgID(0), "text": "message " + msgID(0)})
		ack := v.s.until(ctx, "the first ack", func(f frame) bool { return f.T == "ack" })
		v.conv, v.acked[ack.ID], v.order, v.next = ack.convID(), ack.Seq, []string{ack.ID}, 1
		rep.send(ctx, map[string]any{"t": "sub", "conv": v.conv, "after": 0})
		vs[i] = v
	}

	// The rep reads in the background, recording every message's seq per conversation.
	seen := map[string][]int64{}
	repDone := make(chan struct{})
	go func() {
		defer close(repDone)
		for {
			f, err := rep.read(ctx)
			if err != nil {
				return
			}
			if f.T == "msg" {
				if f.Author == "visitor" { // routing's bot may speak in the conversation too
					seen[f.convID()] = append(seen[f.convID()], f.Seq)
				}
			}
		}
	}()

	// Every visitor's socket is read in the background too.
	type got struct {
		v   *crashVisitor
		f   frame
		err error
	}
	frames := make(chan got, 1000)
	for _, v := range vs {
		go func(v *crashVisitor) {
			for {
				f, err := v.s.read(ctx)
				frames <- got{v, f, err}
				if err != nil {
					return
				}
			}
		}(v)
	}
	fill := func(v *crashVisitor) {
		for len(v.pending) < crashWindow && v.next < crashPerVisitor {
			id := msgID(v.next)
			if v.s.send(ctx, map[string]any{"t": "send", "id": id, "conv": v.conv, "text": "message " + id}) != nil {
				return
			}
			v.pending[id] = true
			v.next++
		}
	}
	for _, v := range vs {
		fill(v)
	}
	total, open, killed := crashVisitors, crashVisitors, false
	for open > 0 {
		g := <-frames
		switch {
		case g.err != nil:
			if !killed {
				t.Fatalf("a visitor socket failed before the crash: %v", g.err)
			}
			open--
		case g.f.T == "ack":
			g.v.acked[g.f.ID] = g.f.Seq
			g.v.order = append(g.v.order, g.f.ID)
			delete(g.v.pending, g.f.ID)
			total++
			if total == crashKillAfter && !killed {
				srv.kill()
				killed = true
			}
			if !killed {
				fill(g.v)
			}
		case g.f.T == "error":
			t.Fatalf("a message was refused: %+v", g.f)
		}
	}
	<-repDone
	inFlight := 0
	for _, v := range vs {
		inFlight += len(v.pending)
	}
	t.Logf("killed with %d acknowledged and %d in flight", total, inFlight)

	// Restart on the same database. Each visitor sends again what was not acknowledged (same
	// client ids) and then the rest, as the messenger does after reconnecting.
	startChild(t, cfg)
	for _, v := range vs {
		if v.s, err = dialVisitor(ctx, t, cfg.BaseURL, info.SiteID, v.token); err != nil {
			t.Fatal(err)
		}
		v.s.until(ctx, "ready after restart", func(f frame) bool { return f.T == "ready" })
		var resend []string
		for id := range v.pending {
			resend = append(resend, id)
		}
		sortStrings(resend)
		for i := v.next; i < crashPerVisitor; i++ {
			resend = append(resend, msgID(i))
		}
		for i := 0; i < len(resend); i++ {
			id := resend[i]
			v.s.send(ctx, map[string]any{"t": "send", "id": id, "conv": v.conv, "text": "message " + id})
			f := v.s.until(ctx, "the ack after restart", func(f frame) bool { return f.T == "ack" || f.T == "error" })
			if f.Code == "too_many_requests" { // as the messenger does: wait, and send it again
				time.Sleep(150 * time.Millisecond)
				i--
				continue
			}
			if f.T == "error" || f.ID != id {
				t.Fatalf("resending %s: %+v", id, f)
			}
			if prev, ok := v.acked[id]; ok && prev != f.Seq {
				t.Fatalf("%s was acknowledged as %d before the crash and as %d after", id, prev, f.Seq)
			}
			if _, ok := v.acked[id]; !ok {
				v.order = append(v.order, id)
			}
			v.acked[id] = f.Seq
		}
	}
	// The rep reconnects and resumes each conversation from the last seq it saw.
	if rep, err = dialRep(ctx, t, cfg.BaseURL, cookie); err != nil {
		t.Fatal(err)
	}
	rep.until(ctx, "rep ready after restart", func(f frame) bool { return f.T == "ready" })
	for _, v := range vs {
		last := int64(0)
		if s := seen[v.conv]; len(s) > 0 {
			last = s[len(s)-1]
		}
		rep.send(ctx, map[string]any{"t": "sub", "conv": v.conv, "after": last})
	}
	missing := func() int {
		n := 0
		for _, v := range vs {
			n += crashPerVisitor - len(seen[v.conv])
		}
		return n
	}
	for missing() > 0 {
		f := rep.until(ctx, fmt.Sprintf("the %d messages the rep lacks", missing()), func(f frame) bool { return f.T == "msg" && f.Author == "visitor" })
		seen[f.convID()] = append(seen[f.convID()], f.Seq)
	}
	// A ping answered means nothing else was queued before it: no duplicate is on its way.
	rep.send(ctx, map[string]any{"t": "ping"})
	if f := rep.until(ctx, "pong", func(f frame) bool { return f.T == "pong" || (f.T == "msg" && f.Author == "visitor") }); f.T == "msg" {
		t.Fatalf("an extra message after all were delivered: %+v", f)
	}

	for _, v := range vs {
		// Every message stored once, numbered 1..n in the order sent…
		if len(v.acked) != crashPerVisitor {
			t.Fatalf("%s: %d messages acknowledged, want %d", v.conv, len(v.acked), crashPerVisitor)
		}
		// (seqs rise in the order sent; the bot's messages, routing's, take seqs in between)
		prev := int64(0)
		for i, id := range v.order {
			if id != msgID(i) || v.acked[id] <= prev {
				t.Fatalf("%s: the %d-th stored message is %s with seq %d (the one before: %d)", v.conv, i+1, id, v.acked[id], prev)
			}
			prev = v.acked[id]
		}
		// …and the rep got each exactly once, in order.
		for i, s := range seen[v.conv] {
			if s != v.acked[msgID(i)] {
				t.Fatalf("%s: the rep's messages %v: position %d has seq %d, want %d", v.conv, seen[v.conv], i, s, v.acked[msgID(i)])
			}
		}
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// TestTwoReplicas runs two servers on one PostgreSQL database and one NATS server: a visitor on
// the first chats with a rep on the second, and presence and alerts cross between them (P4).
func TestTwoReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	natsURL := os.Getenv("BECKON_TEST_NATS_URL")
	if natsURL == "" {
		t.Skip("BECKON_TEST_NATS_URL is not set")
	}
	dbURL := testkit.PostgresURL(t)
	addrA, addrB := freeAddr(t), freeAddr(t)
	a := childConfig{DataDir: t.TempDir(), DatabaseURL: dbURL, NATSURL: natsURL, Addr: addrA, BaseURL: "http://" + addrA}
	b := childConfig{DataDir: t.TempDir(), DatabaseURL: dbURL, NATSURL: natsURL, Addr: addrB, BaseURL: "http://" + addrB}
	info := seed(t, a)
	startChild(t, a)
	startChild(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Presence crosses: the rep is connected only to B; A sees them available.
	cookie := login(t, b.BaseURL, info.AdminEmail, info.AdminPassword)
	rep, err := dialRep(ctx, t, b.BaseURL, cookie)
	if err != nil {
		t.Fatal(err)
	}
	rep.until(ctx, "rep ready", func(f frame) bool { return f.T == "ready" })
	var pres struct {
		Presence []struct {
			UserID string `json:"user_id"`
			Status string `json:"status"`
		} `json:"presence"`
	}
	apiGet(t, a.BaseURL+"/api/v1/presence", info.APIToken, &pres)
	available := 0
	for _, p := range pres.Presence {
		if p.Status == "available" {
			available++
		}
	}
	if available != 1 {
		t.Fatalf("replica A sees presence %+v, want the one rep connected to B available", pres)
	}

	// The visitor on A writes; the alert reaches the rep on B within a second.
	token := hello(t, a.BaseURL, info.SiteID)
	v, err := dialVisitor(ctx, t, a.BaseURL, info.SiteID, token)
	if err != nil {
		t.Fatal(err)
	}
	v.until(ctx, "visitor ready", func(f frame) bool { return f.T == "ready" })
	sent := time.Now()
	v.send(ctx, map[string]any{"t": "send", "id": "hello-1", "text": "Hi, is anyone there?"})
	ack := v.until(ctx, "ack", func(f frame) bool { return f.T == "ack" })
	conv := ack.convID()
	alert := rep.until(ctx, "the waiting alert", func(f frame) bool { return f.T == "alert" && f.Stream == "waiting" })
	if took := alert.at.Sub(sent); took > time.Second {
		t.Errorf("the alert crossed replicas in %v, want under a second (N2)", took)
	} else {
		t.Logf("alert from a visitor on A to a rep on B in %v", took)
	}

	// Routing (on A) rang the rep connected to B, and says why on either replica (R4).
	var routed struct {
		Decisions []struct {
			Outcome string   `json:"outcome"`
			Offered []string `json:"offered"`
			Trace   struct {
				Summary string `json:"summary"`
			} `json:"trace"`
		} `json:"decisions"`
	}
	apiGet(t, b.BaseURL+"/api/v1/conversations/"+conv+"/routing", info.APIToken, &routed)
	if len(routed.Decisions) != 1 || routed.Decisions[0].Outcome != "offer" || len(routed.Decisions[0].Offered) != 1 ||
		routed.Decisions[0].Trace.Summary == "" {
		t.Fatalf("routing decisions %+v, want one offer to the rep on B", routed)
	}

	// The rep on B accepts, follows and answers; the visitor on A sees the answer, and the rep
	// the visitor's next message.
	apiPost(t, b.BaseURL+"/api/v1/conversations/"+conv+"/accept", info.APIToken, nil, nil)
	rep.send(ctx, map[string]any{"t": "sub", "conv": conv, "after": 0})
	rep.until(ctx, "the visitor's first message", func(f frame) bool { return f.T == "msg" && f.Text == "Hi, is anyone there?" })
	rep.send(ctx, map[string]any{"t": "send", "id": "r-1", "conv": conv, "text": "Hello from replica B"})
	rep.until(ctx, "the rep's ack", func(f frame) bool { return f.T == "ack" && f.ID == "r-1" })
	v.until(ctx, "the rep's answer on A", func(f frame) bool { return f.T == "msg" && f.Text == "Hello from replica B" && f.Author == "rep" })
	v.send(ctx, map[string]any{"t": "typing", "conv": conv, "on": true})
	rep.until(ctx, "typing crosses", func(f frame) bool { return f.T == "typing" && f.Author == "visitor" })
	v.send(ctx, map[string]any{"t": "send", "id": "hello-2", "conv": conv, "text": "Great, thanks"})
	rep.until(ctx, "the visitor's answer on B", func(f frame) bool { return f.T == "msg" && f.Text == "Great, thanks" })

	// The rep goes away on B: A sees it.
	apiPut(t, b.BaseURL+"/api/v1/me/presence", info.APIToken, map[string]string{"status": "away"})
	apiGet(t, a.BaseURL+"/api/v1/presence", info.APIToken, &pres)
	for _, p := range pres.Presence {
		if p.Status == "available" {
			t.Fatalf("replica A still sees an available rep after the rep chose away on B: %+v", pres)
		}
	}

	// Rate limits hold for the cluster (E4): a client that spent its allowance on A is refused
	// on B too, within the sharing period, over real NATS.
	preflight := func(base string) int {
		req, _ := http.NewRequest("OPTIONS", base+"/m/v1/hello", nil)
		req.Header.Set("Origin", "https://www.acme.example")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	spent := 0
	for preflight(a.BaseURL) != http.StatusTooManyRequests {
		if spent++; spent > 500 {
			t.Fatal("replica A never limited the client")
		}
	}
	refused := false
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if preflight(b.BaseURL) == http.StatusTooManyRequests {
			refused = true
			break
		}
	}
	if !refused {
		t.Fatalf("replica B still takes a client that spent its allowance on A (%d requests)", spent)
	}
}

func apiDo(t *testing.T, method, u, token string, in, out any) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, u, body)
	req.Header.Set("Authorization", "Bearer "+token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, u, res.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, u, err, raw)
		}
	}
}

func apiGet(t *testing.T, u, token string, out any) { t.Helper(); apiDo(t, "GET", u, token, nil, out) }
func apiPost(t *testing.T, u, token string, in, out any) {
	t.Helper()
	if in == nil {
		in = map[string]any{}
	}
	apiDo(t, "POST", u, token, in, out)
}
func apiPut(t *testing.T, u, token string, in any) { t.Helper(); apiDo(t, "PUT", u, token, in, nil) }
