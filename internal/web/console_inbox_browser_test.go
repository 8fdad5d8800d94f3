package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/beckonhq/beckon/internal/app"
	"github.com/beckonhq/beckon/internal/chat"
	"github.com/beckonhq/beckon/internal/config"
	"github.com/beckonhq/beckon/internal/demo"
	"github.com/beckonhq/beckon/internal/field"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/testkit"
)

// The inbox's browser test runs the whole wired server (app.New and app.Serve, as `beckon serve`
// does) with the demo workspace, and drives the inbox in Chromium as the rep Riley. Visitors act
// through the chat store, as the visitor socket does: their messages, typing and read receipts
// reach the inbox over the bus and the rep socket.

const (
	siteURL   = "https://www.acme.example"
	desktopUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)

type consoleEnv struct {
	a    *app.App
	info *demo.Info
	base string
}

func startConsoleApp(t *testing.T) *consoleEnv {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.SecretKey = strings.Repeat("4d", 32)
	l, err := app.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.BaseURL = app.URLFor(l)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{Hash: identity.TestHashParams})
	if err != nil {
		t.Fatal(err)
	}
	info, err := demo.Seed(ctx, a.DB, a.Workspaces, a.Identity, cfg.DataDir, cfg.BaseURL, siteURL)
	if err != nil {
		a.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("Serve did not return")
		}
		a.Close()
	})
	return &consoleEnv{a: a, info: info, base: cfg.BaseURL}
}

// visitorOnSite is a visitor of the demo site, as the messenger knows them.
type visitorOnSite struct {
	id, token string
}

// messenger calls the messenger's endpoint path as the demo site's page does.
func (e *consoleEnv) messenger(t *testing.T, path, token string, body any, out any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", e.base+path, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "text/plain")
	if token != "" {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Origin", siteURL)
	req.Header.Set("User-Agent", desktopUA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 || json.Unmarshal(raw, out) != nil {
		t.Fatalf("%s: %d %s", path, resp.StatusCode, raw)
	}
}

// visitor says hello as a new visitor on the demo site, in time zone tz, and gives them fields.
func (e *consoleEnv) visitor(t *testing.T, tz string, fields map[string]string) visitorOnSite {
	t.Helper()
	var out struct {
		VisitorID    string `json:"visitor_id"`
		VisitorToken string `json:"visitor_token"`
	}
	e.messenger(t, "/m/v1/hello", "", map[string]any{"site_id": e.info.SiteID, "time_zone": tz, "language": "en-US",
		"page": map[string]string{"url": siteURL + "/pricing", "title": "Pricing — Acme"}}, &out)
	if len(fields) > 0 {
		if _, err := e.a.Fields.Set(context.Background(), nil, e.info.WorkspaceID, out.VisitorID, field.SourceForm, fields); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.a.Visitors.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return visitorOnSite{id: out.VisitorID, token: out.VisitorToken}
}

// say sends a visitor's message through the messenger's endpoint and returns its conversation.
func (e *consoleEnv) say(t *testing.T, v visitorOnSite, text string) string {
	t.Helper()
	var out struct {
		ConversationID string `json:"conversation_id"`
	}
	e.messenger(t, "/m/v1/messages", v.token, map[string]string{"text": text}, &out)
	return out.ConversationID
}

// TestInboxInBrowser: a visitor's first message reaches the inbox live, with an alert; the rep
// accepts it with the keyboard and answers; typing indicators and read receipts cross; hostile
// text stays text and only http(s) and mailto links become links; after the server drops the
// socket the page resumes and shows what came meanwhile exactly once; presence changes; the
// shortcuts work.
func TestInboxInBrowser(t *testing.T) {
	bctx := testkit.Browser(t)
	e := startConsoleApp(t)
	ctx := context.Background()
	ws := e.info.WorkspaceID
	riley, err := e.a.Identity.UserByEmail(ctx, ws, "riley@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	grace := e.visitor(t, "America/Chicago", map[string]string{"first_name": "Grace", "last_name": "Hopper", "company": "Cobol Systems", "title": "VP Engineering", "email": "grace@cobol.example"})
	anon := e.visitor(t, "Asia/Tokyo", nil)

	tab := testkit.NewTab(t, bctx)
	tab.Do("log in", chromedp.Navigate(e.base+"/login"), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "riley@acme.example"), chromedp.SendKeys(chromedp.ID("password"), e.info.AdminPassword))
	if _, err := chromedp.Run(tab.Ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(`main button[type="submit"]`)))); err != nil {
		t.Fatal(err)
	}
	tab.Do("inbox", chromedp.Navigate(e.base+"/inbox"), chromedp.WaitVisible(chromedp.ID("conv-list")))
	js := func(expr string) string {
		t.Helper()
		return testkit.Eval[string](tab, expr)
	}
	wait := func(what, cond string) {
		t.Helper()
		testkit.Eventually(t, what, func() bool {
			return testkit.Eval[bool](tab, `(() => { try { return !!(`+cond+`) } catch (e) { return false } })()`)
		})
	}
	key := func(k string) {
		t.Helper()
		keyWith(tab, k, k, 0)
	}
	wait("the socket", `document.getElementById('connection').dataset.state == 'open'`)
	wait("presence", `!document.getElementById('presence').disabled`)

	// A visitor writes: the conversation appears in Waiting for Rep without a reload, with its
	// count, and an alert says someone is waiting.
	convID := e.say(t, grace, "Hi! Does the Team plan include SSO?")
	wait("the waiting conversation", `document.querySelector('#conv-list li[data-id="`+convID+`"]')`)
	wait("its name", `document.querySelector('#conv-list li[data-id="`+convID+`"] .conv-name').textContent == 'Grace Hopper'`)
	wait("the count", `document.querySelector('.streams a[data-stream="waiting"] .count').textContent == '1'`)
	wait("the alert", `document.querySelector('#toasts .toast.toast-waiting')`)
	anonConvID := e.say(t, anon, "hello? anyone there")
	wait("the anonymous visitor", `document.querySelector('#conv-list li[data-id="`+anonConvID+`"] .conv-name').textContent == 'Visitor from Japan'`)

	// j opens the first (longest waiting) conversation, a accepts it: it moves to My
	// conversations, and the composer opens.
	tab.Do("focus the page", chromedp.Click(chromedp.CSS("h1")))
	key("j")
	wait("opened", `document.getElementById('conv-title').textContent == 'Grace Hopper'`)
	wait("its message", `[...document.querySelectorAll('#messages .msg-visitor .msg-text')].some(p => p.textContent.includes('SSO'))`)
	key("a")
	wait("accepted", `!document.getElementById('composer-text').disabled`)
	if got, err := e.a.Chat.Get(ctx, ws, convID); err != nil || got.AssigneeID != riley.ID {
		t.Fatalf("after a: %+v %v", got, err)
	}
	wait("my stream", `document.querySelector('.streams a[aria-current="page"]').dataset.stream == 'mine'`)
	wait("the accept's system message", `document.querySelector('#messages .msg-system')`)
	wait("the waiting alert gone", `!document.querySelector('#toasts .toast[data-key="waiting:`+convID+`"]') && document.querySelector('#toasts .toast[data-key="waiting:`+anonConvID+`"]')`)

	// Accepting put the focus in the composer; Escape leaves it for the list, "/" comes back.
	wait("composer focused after accept", `document.activeElement.id == 'composer-text'`)
	keyWith(tab, "Escape", "", 0)
	wait("back in the list", `document.activeElement.closest('#conv-list')`)
	key("/")
	wait("composer focused", `document.activeElement.id == 'composer-text'`)
	tab.Do("type", chromedp.SendKeys(chromedp.ID("composer-text"), "Yes, SSO is in Team."))
	shiftEnter(tab)
	tab.Do("type more", chromedp.SendKeys(chromedp.ID("composer-text"), "See https://acme.example/pricing"))
	enter(tab)
	wait("sent and stored", `document.querySelector('#messages .msg-mine[data-seq]')`)
	if v := js(`document.getElementById('composer-text').value`); v != "" {
		t.Errorf("composer holds %q after sending", v)
	}
	msgs, err := e.a.Chat.MessagesFor(ctx, ws, convID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	last := msgs[len(msgs)-1]
	if last.Author != "rep" || last.Text != "Yes, SSO is in Team.\nSee https://acme.example/pricing" || last.AuthorName != "Riley Rivera" {
		t.Errorf("stored %+v", last)
	}
	if !testkit.Eval[bool](tab, `!!document.querySelector('#messages .msg-mine a[href="https://acme.example/pricing"][rel="noopener noreferrer nofollow"][target="_blank"]')`) {
		t.Error("the link in the rep's message is not a safe link")
	}

	// Typing both ways, then a read receipt.
	visitorActor := chat.Actor{Kind: chat.KindVisitor, ID: grace.id}
	if err := e.a.Chat.Typing(ctx, ws, visitorActor, convID, true); err != nil {
		t.Fatal(err)
	}
	wait("visitor typing", `document.getElementById('typing').textContent.includes('typing')`)
	tab.Do("rep types", chromedp.SendKeys(chromedp.ID("composer-text"), "a"))
	if _, err := e.a.Chat.MarkRead(ctx, ws, visitorActor, convID, last.Seq); err != nil {
		t.Fatal(err)
	}
	wait("seen", `document.querySelector('#messages .msg-mine .seen')`)
	testkit.Eval[any](tab, `document.getElementById('composer-text').value = ''; null`)
	testkit.Screenshot(t, tab.Ctx, "inbox")

	// Hostile text: markup stays text; only http(s) and mailto become links.
	hostile := "<img src=x onerror=window.__xss=1> javascript:window.__xss=2 data:text/html,<b>x</b> vbscript:msgbox " +
		"mailto:grace@cobol.example https://cobol.example/sso?a=1&b=2 (see https://en.wikipedia.org/wiki/COBOL_(language))."
	e.say(t, grace, hostile)
	wait("the hostile message", `[...document.querySelectorAll('#messages .msg-visitor .msg-text')].some(p => p.textContent.includes('vbscript'))`)
	if testkit.Eval[bool](tab, `!!window.__xss || !!document.querySelector('#messages img, #messages b, #messages script')`) {
		t.Fatal("visitor text became markup")
	}
	hrefs := testkit.Eval[[]string](tab, `[...document.querySelectorAll('#messages .msg-visitor a')].map(a => a.getAttribute('href') + ' ' + a.rel + ' ' + a.target)`)
	want := []string{"mailto:grace@cobol.example noopener noreferrer nofollow _blank", "https://cobol.example/sso?a=1&b=2 noopener noreferrer nofollow _blank",
		"https://en.wikipedia.org/wiki/COBOL_(language) noopener noreferrer nofollow _blank"}
	if strings.Join(hrefs, "\n") != strings.Join(want, "\n") {
		t.Errorf("links\n got %q\nwant %q", hrefs, want)
	}

	// The server drops every socket (a restart): the page reconnects and resumes; what the visitor
	// wrote meanwhile shows once.
	e.a.Web.DropSockets()
	e.say(t, grace, "Still there? One more question.")
	wait("reconnected", `document.getElementById('connection').dataset.state == 'open' && [...document.querySelectorAll('#messages .msg-text')].some(p => p.textContent.includes('One more question'))`)
	if n := testkit.Eval[int](tab, `[...document.querySelectorAll('#messages .msg-text')].filter(p => p.textContent.includes('One more question')).length`); n != 1 {
		t.Errorf("the message after the restart shows %d times", n)
	}
	seqs := testkit.Eval[[]int](tab, `[...document.querySelectorAll('#messages li[data-seq]')].map(li => +li.dataset.seq)`)
	for i := range seqs {
		if seqs[i] != i+1 {
			t.Fatalf("messages shown with seqs %v: not 1..n once each", seqs)
		}
	}
	testkit.Screenshot(t, tab.Ctx, "inbox-after-restart")

	// Presence: Away, and back.
	testkit.Eval[any](tab, `(p => { p.value = 'away'; p.dispatchEvent(new Event('change')) })(document.getElementById('presence')); null`)
	testkit.Eventually(t, "away stored", func() bool {
		st, err := e.a.Presence.Get(ctx, ws, riley.ID)
		return err == nil && st.Status == "away"
	})

	// Shortcuts: ? lists them; g w goes to Waiting for Rep, where the anonymous visitor waits.
	tab.Do("focus the list", chromedp.Click(chromedp.CSS("h1")))
	key("?")
	wait("shortcuts", `document.getElementById('shortcuts-dialog').open`)
	tab.Do("close shortcuts", chromedp.Click(chromedp.ID("shortcuts-close")))
	key("g")
	key("w")
	wait("waiting stream", `document.querySelector('.streams a[aria-current="page"]').dataset.stream == 'waiting'`)
	wait("the anonymous visitor in the list", `document.querySelector('#conv-list li[data-id="`+anonConvID+`"]')`)

	// Transfer lists the active reps who take chats (not Morgan, meetings only; not Riley).
	tab.Do("open Grace", chromedp.Navigate(e.base+"/inbox?stream=mine&c="+convID), chromedp.WaitVisible(chromedp.ID("messages")))
	wait("actions", `!document.getElementById('act-transfer').hidden`)
	tab.Do("transfer", chromedp.Click(chromedp.ID("act-transfer")))
	wait("the reps", `document.querySelectorAll('#pick-user option').length >= 2`)
	names := testkit.Eval[[]string](tab, `[...document.querySelectorAll('#pick-user option')].map(o => o.textContent)`)
	if strings.Join(names, ",") != "Ada Admin,Sam Sato,Dana Dasgupta" {
		t.Errorf("transfer candidates %v", names)
	}
	tab.Do("cancel", chromedp.Click(chromedp.ID("pick-cancel")))
	// Email transcript: to the visitor's address, shown in the dialog.
	tab.Do("transcript", chromedp.Click(chromedp.ID("act-transcript")), chromedp.WaitVisible(chromedp.ID("transcript-email")))
	if got := testkit.Eval[string](tab, `document.getElementById('transcript-email').value`); got != "grace@cobol.example" {
		t.Errorf("transcript address %q", got)
	}
	tab.Do("send transcript", chromedp.Click(chromedp.CSS(`#transcript-form button[type="submit"]`)))
	wait("transcript sent", `[...document.querySelectorAll('#toasts .toast')].some(t => t.textContent.includes('transcript is on its way'))`)
	tab.Do("close", chromedp.Click(chromedp.ID("act-close")))
	wait("closed", `!document.getElementById('act-reopen').hidden`)
	if got, _ := e.a.Chat.Get(ctx, ws, convID); got.Status != chat.StatusClosed {
		t.Errorf("after Close: %s", got.Status)
	}
	if errs, _ := tab.Console(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}

func enter(tab *testkit.Tab) { keyWith(tab, "Enter", "\r", 0) }

func shiftEnter(tab *testkit.Tab) { keyWith(tab, "Enter", "\r", 8) } // 8: Shift

// keyWith presses a key in the focused element as a keyboard does: keyDown with its text, then
// keyUp.
func keyWith(tab *testkit.Tab, key, text string, mods int64) {
	tab.T.Helper()
	ev := func(typ input.DispatchKeyEventType, text string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			p := input.DispatchKeyEventParams{Type: typ, Key: key, Modifiers: mods, Text: text}
			if key == "Enter" {
				p.Code, p.WindowsVirtualKeyCode, p.NativeVirtualKeyCode = "Enter", 13, 13
			}
			_, err := chromedp.Call(ctx, input.DispatchKeyEvent, p)
			return err
		})
	}
	tab.Do("press "+key, ev(input.DispatchKeyEventTypeKeyDown, text), ev(input.DispatchKeyEventTypeKeyUp, ""))
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// TestLiveViewStartsConversation: on the wired server, a visitor on the site appears in Live
// View; Chat starts a conversation with them and leads to it in the inbox.
func TestLiveViewStartsConversation(t *testing.T) {
	bctx := testkit.Browser(t)
	e := startConsoleApp(t)
	ctx := context.Background()
	tab := testkit.NewTab(t, bctx)
	tab.Do("log in", chromedp.Navigate(e.base+"/login"), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "sam@acme.example"), chromedp.SendKeys(chromedp.ID("password"), e.info.AdminPassword))
	if _, err := chromedp.Run(tab.Ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(`main button[type="submit"]`)))); err != nil {
		t.Fatal(err)
	}
	wait := func(what, cond string) {
		t.Helper()
		testkit.Eventually(t, what, func() bool {
			return testkit.Eval[bool](tab, `(() => { try { return !!(`+cond+`) } catch (e) { return false } })()`)
		})
	}
	tab.Do("live view", chromedp.Navigate(e.base+"/live"), chromedp.WaitVisible(chromedp.ID("live-table")))
	wait("the socket", `document.getElementById('connection').dataset.state == 'open'`)
	v := e.visitor(t, "Europe/Paris", nil)
	row := `document.querySelector('#live-rows tr[data-id="` + v.id + `"]')`
	wait("the visitor's row", row+`.querySelector('.live-name').textContent == 'Visitor from France'`)
	if got := testkit.Eval[string](tab, row+`.querySelector('.live-page').textContent`); !strings.Contains(got, "Pricing — Acme") {
		t.Errorf("page cell %q", got)
	}
	tab.Do("chat", chromedp.Click(chromedp.CSS(`#live-rows tr[data-id="`+v.id+`"] button.live-chat`)), chromedp.WaitVisible(chromedp.ID("chat-text")),
		chromedp.SendKeys(chromedp.ID("chat-text"), "Hi! Anything I can help with on pricing?"))
	if _, err := chromedp.Run(tab.Ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.ID("chat-submit")))); err != nil {
		t.Fatal(err)
	}
	wait("the inbox with the conversation", `location.pathname == '/inbox' && document.getElementById('conv-title').textContent == 'Visitor from France'`)
	wait("the first message", `[...document.querySelectorAll('#messages .msg-mine .msg-text')].some(p => p.textContent.includes('pricing'))`)
	conv, err := e.a.Chat.OpenConversation(ctx, e.info.WorkspaceID, v.id)
	if err != nil || conv == nil || conv.StartedBy != "rep" {
		t.Fatalf("the started conversation: %+v %v", conv, err)
	}
	if got := testkit.Eval[string](tab, `new URLSearchParams(location.search).get('c')`); got != conv.ID {
		t.Errorf("the inbox opened %q, want %s", got, conv.ID)
	}
	// Back in Live View the visitor is in a conversation.
	tab.Do("live view again", chromedp.Navigate(e.base+"/live"), chromedp.WaitVisible(chromedp.ID("live-table")))
	wait("in conversation", row+`.querySelector('.badge.chatting')`)
	if errs, _ := tab.Console(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}
