package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/chat"
	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/email"
	"github.com/beckonhq/beckon/internal/email/address"
	"github.com/beckonhq/beckon/internal/field"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/jobs"
	"github.com/beckonhq/beckon/internal/presence"
	"github.com/beckonhq/beckon/internal/realtime"
	"github.com/beckonhq/beckon/internal/secret"
	"github.com/beckonhq/beckon/internal/spam"
	"github.com/beckonhq/beckon/internal/visitor"
	"github.com/beckonhq/beckon/internal/workspace"
)

// mailbox records the emails the server queues.
type mailbox struct {
	mu   sync.Mutex
	msgs []email.Message
}

func (m *mailbox) Queue(_ context.Context, _ db.Queryer, _ string, msg email.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msg)
	return nil
}

func (m *mailbox) last() email.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.msgs) == 0 {
		return email.Message{}
	}
	return m.msgs[len(m.msgs)-1]
}

// harness is a real Server on a loopback listener over a real database, with a workspace "Acme",
// its admin (password "admin password 1") and an admin API token holding every scope.
type harness struct {
	t          testing.TB
	d          *db.DB
	srv        *httptest.Server
	s          *Server
	id         *identity.Service
	wss        *workspace.Store
	ws         *workspace.Workspace
	admin      *identity.User
	adminToken string
	mail       *mailbox
	clk        clock.Clock
	visitors   *visitor.Service
	tokens     *visitor.Tokens
	chat       *chat.Store
	bus        bus.Bus
	presence   *presence.Service
	fields     *field.Store
	secrets    *secret.Keyring
	extra      map[string]string // headers of the next call (callWith)
	outbox     *email.Outbox     // the server's email layer (its jobs run only when a test runs them)
	emails     *sentMail         // what the outbox's jobs sent
	refusals   *spam.Refusals
}

// sentMail is an email.Sender that keeps what it is given.
type sentMail struct {
	mu   sync.Mutex
	sent []email.Message
}

// wait waits until n messages were sent and returns the last.
func (m *sentMail) wait(t testing.TB, n int) email.Message {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m.mu.Lock()
		got := len(m.sent)
		var last email.Message
		if got > 0 {
			last = m.sent[got-1]
		}
		m.mu.Unlock()
		if got >= n {
			return last
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d emails sent, want %d", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (m *sentMail) Send(ctx context.Context, msg email.Message) error {
	if err := msg.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, msg)
	return nil
}

const adminPassword = "admin password 1"

// harnessWebhookSecret signs the harness server's bounce webhooks (/hooks/email/…).
const harnessWebhookSecret = "harness email webhook secret"

func newHarness(t testing.TB, d *db.DB) *harness {
	t.Helper()
	return newHarnessOn(t, d, nil)
}

// newHarnessOn is newHarness on bus b (nil: a bus of its own): two harnesses on one bus and
// one database are two replicas of one server.
func newHarnessOn(t testing.TB, d *db.DB, b bus.Bus) *harness {
	t.Helper()
	ctx := context.Background()
	clk := clock.System{}
	h := &harness{t: t, d: d, mail: &mailbox{}, clk: clk}
	h.wss = workspace.NewStore(d, clk)
	var err error
	h.ws, err = h.wss.Create(ctx, d, workspace.New{Name: "Acme", TimeZone: "America/New_York"})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testLogOut(), nil))
	q := jobs.New(d, clk, log, jobs.Options{})
	h.srv = httptest.NewUnstartedServer(nil)
	h.srv.Start()
	t.Cleanup(h.srv.Close)
	h.id = identity.NewService(d, clk, h.mail, identity.Options{BaseURL: h.srv.URL, Hash: identity.TestHashParams})
	h.visitors, err = visitor.New(d, clk, log, visitor.Options{FlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h.bus = b
	if b == nil {
		h.bus = bus.NewInProcess()
		t.Cleanup(func() { h.bus.Close() })
	}
	h.chat = chat.New(d, clk, chat.Options{Bus: h.bus, Log: log, Mailer: h.mail})
	h.fields = field.NewStore(d, clk)
	h.visitors.OnMerge(h.chat.MergeHook)
	h.visitors.OnMerge(h.fields.MergeHook)
	h.secrets, _ = secret.NewKeyring([]byte("harness keyring key, 32 bytes long"))
	vctx, stopVisitors := context.WithCancel(context.Background())
	go h.visitors.Run(vctx)
	t.Cleanup(func() { h.visitors.Close(context.Background()); stopVisitors() })
	h.tokens = visitor.NewTokens([]byte("harness secret key, 32 bytes long!"))
	h.emails = &sentMail{}
	h.outbox = email.NewOutbox(email.NewStore(d, clk, &address.Validator{}), q, h.emails, h.secrets, h.srv.URL)
	h.refusals = spam.NewRefusals(d, clk, log)
	h.presence = presence.New(d, clk, h.bus, presence.Options{Log: log})
	pctx, stopPresence := context.WithCancel(context.Background())
	presenceDone := make(chan struct{})
	go func() { defer close(presenceDone); h.presence.Run(pctx) }()
	t.Cleanup(func() { stopPresence(); <-presenceDone })
	h.s = New(Deps{Log: log, Identity: h.id, Workspaces: h.wss, Jobs: q, Metrics: NewMetrics(q),
		Checks: []Check{{Name: "database", Ping: d.Ping}}, MaxBody: 64 << 10,
		Visitors: h.visitors, Tokens: h.tokens, Chat: h.chat, Fields: h.fields, DB: d, Secrets: h.secrets, BaseURL: h.srv.URL,
		Hub: realtime.New(h.bus, log), Presence: h.presence, Bus: h.bus,
		Email: h.outbox, Refusals: h.refusals, EmailWebhookSecret: []byte(harnessWebhookSecret)})
	t.Cleanup(h.s.CloseSockets)
	t.Cleanup(h.s.Close)
	h.srv.Config.Handler = h.s
	h.admin, err = h.id.CreateUser(ctx, d, identity.NewUser{WorkspaceID: h.ws.ID, Email: "admin@acme.example", Role: identity.RoleAdmin,
		FirstName: "Ada", LastName: "Admin", Password: adminPassword})
	if err != nil {
		t.Fatal(err)
	}
	var scopes []string
	for _, s := range identity.AllScopes {
		scopes = append(scopes, string(s))
	}
	_, h.adminToken, err = h.id.CreateToken(ctx, &identity.Principal{User: h.admin}, identity.TokenInput{Name: "test", Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// userWithToken creates an active user of role in ws and a token with the given scopes.
func (h *harness) userWithToken(wsID string, email string, role identity.Role, scopes ...string) (*identity.User, string) {
	h.t.Helper()
	ctx := context.Background()
	u, err := h.id.CreateUser(ctx, h.d, identity.NewUser{WorkspaceID: wsID, Email: email, Role: role, Password: "user password 1"})
	if err != nil {
		h.t.Fatal(err)
	}
	_, tok, err := h.id.CreateToken(ctx, &identity.Principal{User: u}, identity.TokenInput{Name: "t", Scopes: scopes})
	if err != nil {
		h.t.Fatal(err)
	}
	return u, tok
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

// errCode is the error.code of a JSON error answer.
func (r response) errCode() string {
	e, _ := r.json["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func (r response) errField() string {
	e, _ := r.json["error"].(map[string]any)
	s, _ := e["field"].(string)
	return s
}

// callWith is call with extra request headers.
func (h *harness) callWith(method, path, token string, body any, hdr map[string]string) response {
	h.t.Helper()
	h.extra = hdr
	defer func() { h.extra = nil }()
	return h.call(method, path, token, body)
}

// call sends a request with a bearer token (none when token is ""); body is JSON-encoded unless
// it is a string or []byte, sent as is.
func (h *harness) call(method, path, token string, body any) response {
	h.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = bytes.NewBufferString(b), "application/json"
	case []byte:
		rd, ct = bytes.NewReader(b), "application/octet-stream"
	default:
		j, _ := json.Marshal(b)
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range h.extra {
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	out := response{status: resp.StatusCode, header: resp.Header}
	out.body, _ = io.ReadAll(resp.Body)
	json.Unmarshal(out.body, &out.json)
	return out
}

func testLogOut() io.Writer {
	if os.Getenv("BECKON_TEST_LOG") != "" {
		return os.Stderr
	}
	return io.Discard
}
