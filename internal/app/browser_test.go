package app_test

import (
	"context"
	"encoding/json"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/beckonhq/beckon/internal/app"
	"github.com/beckonhq/beckon/internal/chat"
	"github.com/beckonhq/beckon/internal/config"
	"github.com/beckonhq/beckon/internal/demo"
	"github.com/beckonhq/beckon/internal/field"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/visitor"
	"github.com/beckonhq/beckon/internal/web"
	"github.com/beckonhq/beckon/internal/widget"
)

// The browser tests of the messenger (issue 3, item 14) drive Debian's Chromium through the demo
// customer site, against the real wired server: database, batch writer, /m/v1, the embedded
// scripts. As on a customer's site there are two origins: Beckon on http://127.0.0.1:<port>, the
// demo site on http://www.acme.localhost:<port> (Chromium resolves *.localhost to the loopback
// address, so the cookie probe has a registrable domain, acme.localhost, to find). The demo site
// is served by its own server, so that Beckon can be stopped under it.
//
// Headless Chromium is a bot to Beckon (V7), which records nothing for it; the demo servers here
// are built with visitor.Options{AllowHeadless: true}, except the one that checks exactly that.

// demoEnv is a running Beckon server with the seeded demo workspace, and the demo site.
type demoEnv struct {
	a      *app.App
	info   *demo.Info
	site   string // http://www.acme.localhost:<port>
	beckon string // http://127.0.0.1:<port>
	tokens *visitor.Tokens
	stop   func() // stops the Beckon server and waits for Serve to return; the site stays up
}

// startDemo runs app.New + app.Serve on a fresh database (SQLite when dbURL is empty), seeds the
// demo workspace with the site's origin allowed, and serves the demo site with the snippet.
func startDemo(t *testing.T, dbURL string, vopt visitor.Options) *demoEnv {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir, cfg.DatabaseURL = t.TempDir(), dbURL
	cfg.SecretKey = strings.Repeat("5e", 32)
	l, err := app.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.BaseURL = app.URLFor(l)
	siteSrv := httptest.NewUnstartedServer(nil)
	_, port, _ := net.SplitHostPort(siteSrv.Listener.Addr().String())
	siteURL := "http://www.acme.localhost:" + port

	setup := bounded(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := app.New(setup, cfg, log, app.Options{Hash: identity.TestHashParams, Visitor: vopt})
	if err != nil {
		t.Fatal(err)
	}
	info, err := demo.Seed(setup, a.DB, a.Workspaces, a.Identity, cfg.DataDir, cfg.BaseURL, siteURL)
	if err != nil {
		a.Close()
		t.Fatal(err)
	}
	siteSrv.Config.Handler = demo.Site(siteURL, template.HTML(widget.Snippet(cfg.BaseURL, info.SiteID)))
	siteSrv.Start()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, l) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("Serve did not return within 15 s of its context's end")
		}
	}
	t.Cleanup(func() {
		stop()
		siteSrv.Close()
		a.Close()
	})
	key, _ := config.KeyBytes(cfg.SecretKey)
	return &demoEnv{a: a, info: info, site: siteURL, beckon: cfg.BaseURL, tokens: visitor.NewTokens(key), stop: stop}
}

// bounded returns a context for the test's calls of the app, ending after 20 s at most.
func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// flush writes the page views the batch writer holds.
func (e *demoEnv) flush(t *testing.T) {
	t.Helper()
	if err := e.a.Visitors.Flush(bounded(t)); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

// count runs a SELECT COUNT(*) … WHERE workspace_id = $1 query on the demo workspace.
func (e *demoEnv) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := e.a.DB.QueryRowContext(bounded(t), `SELECT COUNT(*) FROM `+table+` WHERE workspace_id = $1`,
		e.info.WorkspaceID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// visitorOf returns the visitor whose token the tab's state cookie holds, checking that the cookie
// is there, on the registrable domain, and that the server issued its token.
func (e *demoEnv) visitorOf(t *testing.T, b *testkit.Tab) *visitor.Visitor {
	t.Helper()
	c, ok := b.Cookies(e.site + "/")["_bk_state_"+e.info.SiteID]
	if !ok {
		t.Fatalf("no _bk_state_%s cookie", e.info.SiteID)
	}
	tok, _ := testkit.StateCookie(t, c)["t"].(string)
	id, err := e.tokens.Verify(e.info.SiteID, tok, time.Now(), time.Hour)
	if err != nil {
		t.Fatalf("the cookie's token %q: %v", tok, err)
	}
	v, err := e.a.Visitors.Get(bounded(t), e.info.WorkspaceID, id)
	if err != nil {
		t.Fatalf("the cookie's visitor %s: %v", id, err)
	}
	return v
}

// open navigates the tab to path on the demo site and waits for the messenger's launcher, which
// shows once the server has answered hello (and so has recorded the page view).
func (e *demoEnv) open(b *testkit.Tab, path string) {
	b.T.Helper()
	b.Do("open "+path, chromedp.Navigate(e.site+path))
	b.Visible(".bk-launcher")
}

// sessionOf returns the visitor's only session, with its page views oldest first.
func (e *demoEnv) sessionOf(t *testing.T, visitorID string) (visitor.Session, []visitor.PageView) {
	t.Helper()
	ctx := bounded(t)
	ss, err := e.a.Visitors.Sessions(ctx, e.info.WorkspaceID, visitorID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 1 {
		t.Fatalf("%d sessions, want 1: %+v", len(ss), ss)
	}
	pv, err := e.a.Visitors.PageViews(ctx, e.info.WorkspaceID, ss[0].ID, 50)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(pv)
	return ss[0], pv
}

// noErrors fails the test for any uncaught exception, console.error or console.warn in the tab.
func noErrors(t *testing.T, b *testkit.Tab) {
	t.Helper()
	if errs, warns := b.Console(); len(errs)+len(warns) > 0 {
		t.Errorf("console errors %q, warnings %q", errs, warns)
	}
}

// gaActions returns the actions of the Beckon events in the page's window.dataLayer.
func gaActions(b *testkit.Tab) []string {
	b.T.Helper()
	return testkit.Eval[[]string](b, `(window.dataLayer || []).filter(e => e && e.event === 'ga_event' && e.category === 'Beckon').map(e => e.action)`)
}

// waitFor polls the JavaScript expression expr until it is true; evaluations that fail while the
// tab navigates are tried again.
func waitFor(t *testing.T, b *testkit.Tab, what, expr string) {
	t.Helper()
	testkit.Eventually(t, what, func() bool {
		ctx, cancel := context.WithTimeout(b.Ctx, 2*time.Second)
		defer cancel()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		return err == nil && ok
	})
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

func TestDemoInBrowser(t *testing.T) {
	engines := []string{"sqlite"}
	if os.Getenv(testkit.EnvPostgres) != "" {
		engines = append(engines, "postgres")
	}
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			dbURL := func(t *testing.T) string { // a fresh database for each server
				if engine == "sqlite" {
					return "" // in the server's data folder
				}
				return testkit.PostgresURL(t)
			}
			ctx := testkit.Browser(t)
			e := startDemo(t, dbURL(t), visitor.Options{AllowHeadless: true})
			tab := func(t *testing.T) *testkit.Tab { return testkit.NewTab(t, testkit.BrowserContext(t, ctx)) }
			t.Run("cookie", func(t *testing.T) { testCookie(t, tab(t), e) })
			t.Run("session and page views", func(t *testing.T) { testSession(t, tab(t), e) })
			t.Run("single-page app", func(t *testing.T) { testSPA(t, tab(t), e) })
			t.Run("message", func(t *testing.T) { testMessage(t, tab(t), e) })
			t.Run("contact form", func(t *testing.T) { testContactForm(t, tab(t), e) })
			t.Run("html as text", func(t *testing.T) { testXSS(t, tab(t), e) })
			t.Run("bots not counted", func(t *testing.T) {
				testBot(t, tab(t), startDemo(t, dbURL(t), visitor.Options{}))
			})
			t.Run("beckon down", func(t *testing.T) {
				testBeckonDown(t, ctx, startDemo(t, dbURL(t), visitor.Options{AllowHeadless: true}))
			})
		})
	}
}

// testCookie: on the demo home page, the state cookie is named after the site and lives on the
// registrable domain; the domain probe is gone.
func testCookie(t *testing.T, b *testkit.Tab, e *demoEnv) {
	e.open(b, "/")
	jar := b.Cookies(e.site + "/")
	st, ok := jar["_bk_state_"+e.info.SiteID]
	if !ok {
		t.Fatalf("no _bk_state_%s cookie; cookies %v", e.info.SiteID, jar)
	}
	if _, ok := jar["__bk_domainTest"]; ok {
		t.Error("__bk_domainTest is still there")
	}
	if len(jar) != 1 {
		t.Errorf("cookies %v, want only the state cookie", jar)
	}
	if st.Domain != ".acme.localhost" || st.Path != "/" || st.Session || st.HTTPOnly || st.SameSite != network.CookieSameSiteLax {
		t.Errorf("state cookie domain %q path %q session %v httpOnly %v SameSite %q", st.Domain, st.Path, st.Session, st.HTTPOnly, st.SameSite)
	}
	ws, err := e.a.Workspaces.Get(bounded(t), e.info.WorkspaceID)
	if err != nil {
		t.Fatal(err)
	}
	if days := time.Until(time.Unix(int64(st.Expires), 0)).Hours() / 24; days < float64(ws.Settings.CookieDays)-0.1 || days > float64(ws.Settings.CookieDays)+0.1 {
		t.Errorf("state cookie lives %.1f days, want the workspace's %d", days, ws.Settings.CookieDays)
	}
	// The probe's name appears nowhere in the page's cookies either.
	if c := testkit.Eval[string](b, `document.cookie`); strings.Contains(c, "__bk_domainTest") || !strings.Contains(c, "_bk_state_"+e.info.SiteID+"=") {
		t.Errorf("document.cookie %q", c)
	}
	v := e.visitorOf(t, b)
	if v.Sessions != 1 {
		t.Errorf("visitor %+v", v)
	}
	testkit.Screenshot(t, b.Ctx, "demo-home-launcher")
	noErrors(t, b)
}

// testSession: the home page, then the pricing page by its link: one visitor, one session that
// landed on /, two page views with their URLs and titles.
func testSession(t *testing.T, b *testkit.Tab, e *demoEnv) {
	e.open(b, "/")
	b.Do("click Pricing", chromedp.Click(chromedp.CSS(`header.top a[href="/pricing"]`), chromedp.NodeVisible))
	waitFor(t, b, "the pricing page", `location.pathname == '/pricing' && document.readyState == 'complete'`)
	b.Visible(".bk-launcher")
	v := e.visitorOf(t, b)
	var s visitor.Session
	var pv []visitor.PageView
	testkit.Eventually(t, "two page views", func() bool {
		e.flush(t)
		s, pv = e.sessionOf(t, v.ID)
		return len(pv) >= 2
	})
	if len(pv) != 2 {
		t.Fatalf("page views %+v", pv)
	}
	want := []struct{ url, title, referrer string }{
		{e.site + "/", "Turn data into decisions — Acme Analytics", ""},
		{e.site + "/pricing", "Pricing — Acme Analytics", e.site + "/"},
	}
	for i, w := range want {
		if p := pv[i]; p.URL != w.url || p.Title != w.title || p.Referrer != w.referrer || p.SessionID != s.ID || p.VisitorID != v.ID {
			t.Errorf("page view %d: %+v, want %+v", i, p, w)
		}
	}
	if s.LandingURL != e.site+"/" || !s.Open || s.PageViews != 2 || s.Device != "desktop" || s.Language == "" || s.TimeZone == "" {
		t.Errorf("session %+v", s)
	}
	if !strings.Contains(s.UserAgent, "HeadlessChrome") {
		t.Errorf("session user agent %q", s.UserAgent)
	}
	noErrors(t, b)
}

// testSPA: in the product tour, a route link records a page view for its path (pushState and
// beckon('page')), and going back records the path it returns to (popstate).
func testSPA(t *testing.T, b *testkit.Tab, e *demoEnv) {
	e.open(b, "/app/")
	b.Do("click Pipeline", chromedp.Click(chromedp.CSS(`#tour a[href="/app/pipeline"]`), chromedp.NodeVisible))
	if got := testkit.Eval[string](b, `location.pathname + ' ' + document.title`); got != "/app/pipeline Pipeline — Acme Analytics" {
		t.Fatalf("after the click: %s", got)
	}
	v := e.visitorOf(t, b)
	var pv []visitor.PageView
	testkit.Eventually(t, "the route's page view", func() bool {
		e.flush(t)
		_, pv = e.sessionOf(t, v.ID)
		return len(pv) >= 2
	})
	b.Do("back", chromedp.NavigateBack())
	testkit.Eventually(t, "the page view of going back", func() bool {
		e.flush(t)
		_, pv = e.sessionOf(t, v.ID)
		return len(pv) >= 3
	})
	time.Sleep(200 * time.Millisecond)
	e.flush(t)
	_, pv = e.sessionOf(t, v.ID)
	var got []string
	for _, p := range pv {
		got = append(got, strings.TrimPrefix(p.URL, e.site)+" | "+p.Title+" | "+strings.TrimPrefix(p.Referrer, e.site))
	}
	want := []string{
		"/app/ | Overview — Acme Analytics | ",
		"/app/pipeline | Pipeline — Acme Analytics | /app/",
		"/app/ | Overview — Acme Analytics | /app/pipeline",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("page views:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	noErrors(t, b)
}

// testMessage: the visitor opens the messenger and sends a message. It is stored as the first
// message of a conversation, and Conversation Started reaches the dataLayer exactly once, also
// after a second message.
func testMessage(t *testing.T, b *testkit.Tab, e *demoEnv) {
	e.open(b, "/pricing")
	b.Click(".bk-launcher")
	b.Visible(".bk-panel")
	const text = "Hi! Does the Growth plan include Salesforce sync?"
	b.Send(text)
	testkit.Eventually(t, "the message sent", func() bool {
		l := b.Text(".bk-list")
		return strings.Contains(l, text) && !strings.Contains(l, "Sending") && !strings.Contains(l, "Not ")
	})
	testkit.Eventually(t, "Conversation Started", func() bool { return len(gaActions(b)) > 0 })
	testkit.Screenshot(t, b.Ctx, "demo-panel-message")
	b.Send("And SSO?")
	testkit.Eventually(t, "the second message sent", func() bool {
		l := b.Text(".bk-list")
		return strings.Contains(l, "And SSO?") && !strings.Contains(l, "Sending")
	})
	time.Sleep(200 * time.Millisecond)
	if got := gaActions(b); count(got, "Conversation Started") != 1 || len(got) != 1 {
		t.Errorf("dataLayer Beckon actions %q, want Conversation Started once", got)
	}
	if got := testkit.Eval[string](b, `JSON.stringify(window.dataLayer)`); got != `[{"event":"ga_event","category":"Beckon","action":"Conversation Started"}]` {
		t.Errorf("dataLayer %s", got)
	}
	// The next page continues the conversation: it has not started again.
	b.Do("reload", chromedp.Reload())
	b.Visible(".bk-panel") // it was open when the page went
	testkit.Eventually(t, "the history", func() bool { return strings.Contains(b.Text(".bk-list"), "And SSO?") })
	b.Send("Thanks!")
	testkit.Eventually(t, "the third message sent", func() bool {
		l := b.Text(".bk-list")
		return strings.Contains(l, "Thanks!") && !strings.Contains(l, "Sending")
	})
	time.Sleep(200 * time.Millisecond)
	if got := gaActions(b); len(got) != 0 {
		t.Errorf("dataLayer Beckon actions on the next page %q, want none", got)
	}

	v := e.visitorOf(t, b)
	ctx := bounded(t)
	conv, err := e.a.Chat.OpenConversation(ctx, e.info.WorkspaceID, v.ID)
	if err != nil || conv == nil {
		t.Fatalf("no open conversation for %s: %v", v.ID, err)
	}
	msgs, err := e.a.Chat.Messages(ctx, e.info.WorkspaceID, v.ID, conv.ID, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	// The visitor's messages, and the bot's reply to the first (no rep is on line in the demo test).
	var mine []*chat.Message
	for _, m := range msgs {
		if m.Author == "visitor" {
			mine = append(mine, m)
		} else if m.Author != "bot" || m.Text != web.OfflineReply {
			t.Errorf("unexpected message %+v", m)
		}
	}
	if len(msgs) != 4 || len(mine) != 3 || mine[0].Text != text || mine[0].Seq != 1 || mine[1].Text != "And SSO?" || msgs[3].Seq != 4 {
		for _, m := range msgs {
			t.Errorf("message %+v", *m)
		}
	}
	noErrors(t, b)
}

// dataLayerLog records every object pushed to window.dataLayer in the tab's sessionStorage, from
// the start of each page on, so that pushes made just before a navigation can be read after it.
const dataLayerLog = `(function () {
  var dl = window.dataLayer = window.dataLayer || [], push = dl.push;
  dl.push = function () {
    try {
      var log = JSON.parse(sessionStorage.getItem('test:dataLayer') || '[]');
      for (var i = 0; i < arguments.length; i++) log.push(arguments[i]);
      sessionStorage.setItem('test:dataLayer', JSON.stringify(log));
    } catch (e) {}
    return push.apply(dl, arguments);
  };
})();`

// testContactForm: the contact form's fields reach Beckon with the source "form" through
// saveFormData, the visitor is identified by the email, Email Captured is pushed, and the form
// still posts and lands on /thanks.
func testContactForm(t *testing.T, b *testkit.Tab, e *demoEnv) {
	b.Do("record the dataLayer", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: dataLayerLog})
		return err
	}))
	e.open(b, "/contact")
	// In production Beckon is farther away than a site's own server: each /m/v1 request takes
	// 150 ms here, so that the form's post and the saveFormData call do not race on equal terms.
	b.Do("a distant Beckon server", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			MatchedNetworkConditions: []*network.Conditions{{URLPattern: e.beckon + "/m/v1/*", Latency: 150, DownloadThroughput: -1, UploadThroughput: -1}}})
		return err
	}))
	b.Do("fill in the form",
		chromedp.SendKeys(chromedp.CSS(`#contact input[name=email]`), "grace.hopper@navy.example", chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.CSS(`#contact input[name=first_name]`), "Grace", chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.CSS(`#contact input[name=company]`), "US Navy", chromedp.NodeVisible),
		chromedp.SetValue(chromedp.CSS(`#contact select[name=company_size]`), "1000+", chromedp.NodeVisible),
	)
	b.Do("submit", chromedp.Click(chromedp.CSS(`#contact button[type=submit]`), chromedp.NodeVisible))
	waitFor(t, b, "the thank-you page", `location.pathname == '/thanks' && (document.querySelector('h1') || {}).textContent == 'Thank you!'`)
	b.Visible(".bk-launcher")

	v := e.visitorOf(t, b)
	if v.Email != "grace.hopper@navy.example" {
		t.Errorf("visitor email %q", v.Email)
	}
	vals, err := e.a.Fields.Values(bounded(t), e.info.WorkspaceID, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range vals {
		got[f.Key] = f.Value + " (" + string(f.Source) + ")"
	}
	want := map[string]string{"email": "grace.hopper@navy.example (form)", "first_name": "Grace (form)",
		"company": "US Navy (form)", "company_size": "1000+ (form)"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("field %s = %q, want %q (all: %v)", k, got[k], w, got)
		}
	}
	if _, ok := got["last_name"]; ok || len(got) != len(want) {
		t.Errorf("fields %v", got)
	}
	for _, f := range vals {
		if f.Source != field.SourceForm {
			t.Errorf("field %s from %q", f.Key, f.Source)
		}
	}
	var log []map[string]string
	if err := json.Unmarshal([]byte(testkit.Eval[string](b, `sessionStorage.getItem('test:dataLayer') || '[]'`)), &log); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range log {
		if ev["event"] == "ga_event" && ev["category"] == "Beckon" {
			actions = append(actions, ev["action"])
		}
	}
	if !slices.Equal(actions, []string{"Email Captured"}) {
		t.Errorf("dataLayer pushes %v, want Email Captured once", log)
	}
	noErrors(t, b)
}

// testXSS: a message that is HTML is shown as text: no element is made of it, no handler runs.
func testXSS(t *testing.T, b *testkit.Tab, e *demoEnv) {
	e.open(b, "/")
	b.Click(".bk-launcher")
	b.Visible(".bk-panel")
	const text = `<img src=x onerror=window.__pwned=1>`
	b.Send(text)
	testkit.Eventually(t, "the message sent", func() bool { return !strings.Contains(b.Text(".bk-list"), "Sending") })
	asText := func(when string) {
		t.Helper()
		// The bubble holds the screen readers' "You: " label and the message, as one text node.
		got := testkit.MessengerJS[map[string]any](b, ".bk-me .bk-bubble", `function(){
			return {text: this.lastChild.nodeType === Node.TEXT_NODE ? this.lastChild.data : null,
				elements: this.querySelectorAll('*').length, shown: this.innerText}
		}`)
		if got["text"] != text || got["elements"] != 1.0 || !strings.HasSuffix(got["shown"].(string), text) {
			t.Errorf("%s: the visitor's bubble %v, want the text %q", when, got, text)
		}
		if n := testkit.MessengerJS[int](b, ".bk-panel", `function(){ return this.querySelectorAll('img, [onerror]').length }`); n != 0 {
			t.Errorf("%s: %d elements made from the message", when, n)
		}
	}
	asText("sent")
	testkit.Screenshot(t, b.Ctx, "demo-panel-html-as-text")
	// Reload: the history comes back from the server, and is still text.
	b.Do("reload", chromedp.Reload())
	b.Visible(".bk-panel") // it was open when the page went
	testkit.Eventually(t, "the history", func() bool { return strings.Contains(b.Text(".bk-list"), text) })
	asText("history")
	time.Sleep(300 * time.Millisecond) // an image's error would have fired by now
	if got := testkit.Eval[string](b, `typeof window.__pwned`); got != "undefined" {
		t.Errorf("window.__pwned is %s", got)
	}
	if n := testkit.Eval[int](b, `document.querySelectorAll('img').length`); n != 0 {
		t.Errorf("%d images in the page", n)
	}
	v := e.visitorOf(t, b)
	ctx := bounded(t)
	conv, err := e.a.Chat.OpenConversation(ctx, e.info.WorkspaceID, v.ID)
	if err != nil || conv == nil {
		t.Fatalf("no conversation: %v", err)
	}
	msgs, err := e.a.Chat.Messages(ctx, e.info.WorkspaceID, v.ID, conv.ID, 0, 10)
	if err != nil || len(msgs) != 2 || msgs[0].Text != text || msgs[1].Text != web.OfflineReply {
		t.Errorf("stored messages %+v, %v", msgs, err)
	}
	noErrors(t, b)
}

// testBot: with AllowHeadless off (production), headless Chromium, whose user agent says
// HeadlessChrome, is a bot: the server records nothing, the messenger stores no cookie and shows
// nothing.
func testBot(t *testing.T, b *testkit.Tab, e *demoEnv) {
	ua := testkit.Eval[string](b, `navigator.userAgent`)
	if !strings.Contains(ua, "HeadlessChrome") {
		// Make sure the browser says what the test is about, whatever this Chromium says by default.
		ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36"
		b.Do("user agent", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua})
			return err
		}))
	}
	b.Do("open /", chromedp.Navigate(e.site+"/"))
	helloDone := `performance.getEntriesByType('resource').some(r => r.name.indexOf('/m/v1/hello') >= 0 && r.responseEnd > 0)`
	waitFor(t, b, "hello answered", helloDone)
	b.Do("click Pricing", chromedp.Click(chromedp.CSS(`header.top a[href="/pricing"]`), chromedp.NodeVisible))
	waitFor(t, b, "hello answered on /pricing", `location.pathname == '/pricing' && `+helloDone)
	// The server's answer to this browser's hello says why: it is a bot, and gets no token.
	hctx, cancel := context.WithTimeout(b.Ctx, 10*time.Second)
	defer cancel()
	hello, err := chromedp.Run(hctx, chromedp.Evaluate[map[string]any](`fetch(`+"`"+e.beckon+`/m/v1/hello`+"`"+`, {method: 'POST', body: JSON.stringify({
		site_id: beckon.c.s, page: {url: location.href, title: document.title, referrer: ''}, webdriver: navigator.webdriver})}).then(r => r.json())`,
		chromedp.EvalAwaitPromise))
	if err != nil || hello["bot"] != true || hello["visitor_token"] != nil && hello["visitor_token"] != "" {
		t.Errorf("hello answered %v, %v; want bot: true and no token", hello, err)
	}
	testkit.Eval[any](b, `beckon('saveFormData', {email: 'bot@crawler.example'}); beckon('page')`)
	time.Sleep(300 * time.Millisecond)
	e.flush(t)
	for _, table := range []string{"visitors", "visitor_sessions", "page_views", "field_values", "conversations"} {
		if n := e.count(t, table); n != 0 {
			t.Errorf("%d rows in %s for a bot", n, table)
		}
	}
	if jar := b.Cookies(e.site + "/"); len(jar) != 0 {
		t.Errorf("cookies for a bot: %v", jar)
	}
	if testkit.Eval[bool](b, `!!document.querySelector('beckon-messenger')`) {
		t.Error("the messenger shows for a bot")
	}
	noErrors(t, b)
}

// testBeckonDown: with the Beckon server stopped, the demo site still loads, its links (the SPA
// route links too) work, and the contact form posts; no script throws. It runs for a returning
// visitor, whose browser has the scripts cached and holds a visitor token (the messenger runs and
// its requests fail), and for a new one (the loader itself cannot load).
func testBeckonDown(t *testing.T, ctx context.Context, e *demoEnv) {
	returning := testkit.NewTab(t, testkit.BrowserContext(t, ctx))
	e.open(returning, "/")
	e.visitorOf(t, returning)
	e.stop()
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(e.beckon, "http://"), time.Second); err == nil {
		c.Close()
		t.Fatal("the Beckon server still accepts connections")
	}
	fresh := testkit.NewTab(t, testkit.BrowserContext(t, ctx))
	for _, c := range []struct {
		name string
		b    *testkit.Tab
	}{{"returning visitor", returning}, {"new visitor", fresh}} {
		t.Run(c.name, func(t *testing.T) {
			b := c.b
			b.T = t
			b.Do("open /", chromedp.Navigate(e.site+"/"))
			waitFor(t, b, "the page loaded", `document.readyState == 'complete' && document.querySelector('h1').textContent == 'Turn your data into decisions.'`)
			if b == returning {
				// The scripts come from the browser's cache: the messenger runs, and its hello fails.
				waitFor(t, b, "the cached messenger running", `beckon.m === 1`)
			} else if got := testkit.Eval[string](b, `typeof beckon + ' ' + typeof beckon.c + ' ' + typeof beckon.m`); got != "function undefined undefined" {
				t.Errorf("without the loader, beckon is %s, want the snippet's queue only", got)
			}
			b.Do("click Product tour", chromedp.Click(chromedp.CSS(`header.top a[href="/app/"]`), chromedp.NodeVisible))
			waitFor(t, b, "the product tour", `location.pathname == '/app/' && document.readyState == 'complete'`)
			b.Do("click Forecast", chromedp.Click(chromedp.CSS(`#tour a[href="/app/forecast"]`), chromedp.NodeVisible))
			if got := testkit.Eval[string](b, `location.pathname + ' ' + document.querySelector('#view h2').textContent`); got != "/app/forecast Forecast" {
				t.Errorf("after the route link: %s", got)
			}
			b.Do("click Contact sales", chromedp.Click(chromedp.CSS(`header.top a[href="/contact"]`), chromedp.NodeVisible))
			waitFor(t, b, "the contact page", `location.pathname == '/contact' && document.readyState == 'complete'`)
			b.Do("fill in and submit the form",
				chromedp.SendKeys(chromedp.CSS(`#contact input[name=email]`), "ada@acme.example", chromedp.NodeVisible),
				chromedp.Click(chromedp.CSS(`#contact button[type=submit]`), chromedp.NodeVisible))
			waitFor(t, b, "the thank-you page", `location.pathname == '/thanks' && document.readyState == 'complete' && (document.querySelector('h1') || {}).textContent == 'Thank you!'`)
			time.Sleep(500 * time.Millisecond) // the messenger's first retries, if it runs
			if testkit.Eval[bool](b, `!!document.querySelector('beckon-messenger')`) {
				t.Error("a messenger without a server")
			}
			noErrors(t, b)
		})
	}
}
