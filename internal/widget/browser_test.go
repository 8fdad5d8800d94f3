package widget

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/beckonhq/beckon/internal/testkit"
)

// The browser tests run the built loader and messenger in Chromium, on a host page served from
// http://www.acme.localhost:<port> (Chromium resolves *.localhost to the loopback address, so the
// cookie probe has a real parent domain to find), against fakeBeckon on http://127.0.0.1:<port>:
// two origins, as on a customer's site. The host page has a strict CSP (no 'unsafe-inline', the
// snippet allowed by its hash, Trusted Types enforced) so that every test also proves the
// messenger works under one.

const (
	siteBasic   = "site_basic"
	siteConsent = "site_consent"
	siteHostile = "site_hostile"
	siteAPIDown = "site_apidown"
	siteLive    = "site_live" // the one site whose visitor socket works (socket_browser_test.go)
	brand       = "#4f46e5"
)

// hostSite is the customer's website.
type hostSite struct {
	srv    *httptest.Server
	origin string // http://www.acme.localhost:<port>
	beckon string // the Beckon base URL its snippet names
	dead   string // a Beckon base URL where nothing listens
}

func newHostSite(t *testing.T, beckonURL string) *hostSite {
	t.Helper()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	h := &hostSite{beckon: beckonURL, dead: deadURL}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(h.srv.URL, "http://"))
	h.origin = "http://www.acme.localhost:" + port
	return h
}

func (h *hostSite) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/site.css":
		w.Header().Set("Content-Type", "text/css")
		w.Write([]byte(siteCSS))
		return
	case "/hostile.css":
		w.Header().Set("Content-Type", "text/css")
		w.Write([]byte(hostileCSS))
		return
	case "/app.js":
		w.Header().Set("Content-Type", "text/javascript")
		w.Write([]byte(appJS))
		return
	}
	mode := strings.Trim(r.URL.Path, "/")
	site, base, extra := siteBasic, h.beckon, ""
	// The socket's URL, allowed as docs/SNIPPET.md says (an http source does not allow ws).
	socket := " " + strings.Replace(h.beckon, "http", "ws", 1)
	switch mode {
	case "basic", "pricing", "nocss":
	case "consent":
		site = siteConsent
	case "hostile":
		site, extra = siteHostile, `<link rel="stylesheet" href="/hostile.css">`
	case "down":
		base = h.dead
	case "apidown":
		site = siteAPIDown
	case "live":
		site = siteLive
	case "live-oldcsp": // a CSP written before the socket: connect-src without it
		site, socket = siteLive, ""
	default:
		http.NotFound(w, r)
		return
	}
	csp := strings.Join([]string{
		"default-src 'self'",
		"script-src 'self' " + SnippetCSPHash() + " " + h.beckon + " " + h.dead,
		"connect-src 'self' " + h.beckon + socket,
		"style-src 'self' " + h.beckon,
		"img-src 'self' data:",
		"base-uri 'none'",
		"object-src 'none'",
		"require-trusted-types-for 'script'",
		"trusted-types beckon",
	}, "; ")
	w.Header().Set("Content-Security-Policy", csp)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, hostHTML, mode, extra, Snippet(base, site))
}

func TestMessengerInBrowser(t *testing.T) {
	ctx := testkit.Browser(t)
	f := newFakeBeckon(t)
	host := newHostSite(t, f.srv.URL)
	f.origin = host.origin
	f.site(siteBasic, map[string]any{"color": brand, "position": "right", "launcher_text": "Chat with us",
		"z_index": 2147483000, "title": "Acme", "subtitle": "Usually replies in a few minutes",
		"greeting": "Hi there! How can we help you today?", "consent_required": false, "cookie_days": 30})
	f.site(siteConsent, map[string]any{"color": "#0f766e", "position": "left", "launcher_text": "",
		"z_index": 1000, "title": "Acme", "greeting": "Hello!", "consent_required": true, "cookie_days": 30})
	f.site(siteHostile, map[string]any{"color": brand, "position": "right", "launcher_text": "",
		"title": "Acme", "greeting": "Hi! Styles on this page try hard to break me.", "cookie_days": 30})

	t.Run("basic", func(t *testing.T) { testBasic(t, testkit.NewTab(t, ctx), f, host) })
	t.Run("consent", func(t *testing.T) { testConsent(t, testkit.NewTab(t, testkit.BrowserContext(t, ctx)), f, host) })
	t.Run("hostile", func(t *testing.T) { testHostile(t, testkit.NewTab(t, testkit.BrowserContext(t, ctx)), f, host) })
	t.Run("down", func(t *testing.T) { testDown(t, testkit.NewTab(t, testkit.BrowserContext(t, ctx)), host) })
	t.Run("api down", func(t *testing.T) { testAPIDown(t, testkit.NewTab(t, testkit.BrowserContext(t, ctx)), f, host) })
	t.Run("mobile", func(t *testing.T) { testMobile(t, testkit.NewTab(t, testkit.BrowserContext(t, ctx)), host) })
	t.Run("fallback stylesheet", func(t *testing.T) { testFallbackCSS(t, testkit.NewTab(t, testkit.BrowserContext(t, ctx)), f, host) })
}

func testBasic(t *testing.T, b *testkit.Tab, f *fakeBeckon, host *hostSite) {
	pageURL := host.origin + "/basic"
	b.Do("open the page", chromedp.Navigate(pageURL))
	b.Visible(".bk-launcher")

	// hello: sent as a simple request, with the page and the webdriver flag.
	hellos := f.log("hello")
	if len(hellos) != 1 {
		t.Fatalf("%d hellos", len(hellos))
	}
	h := hellos[0]
	if !strings.HasPrefix(h.ContentType, "text/plain") || h.Auth != "" {
		t.Errorf("hello sent with Content-Type %q, Authorization %q", h.ContentType, h.Auth)
	}
	if p, _ := h.Body["page"].(map[string]any); p["url"] != pageURL || p["title"] != "Acme — Pricing" {
		t.Errorf("hello page %v", p)
	}
	if _, ok := h.Body["webdriver"].(bool); !ok || h.Body["consent"] != "" || h.Body["site_id"] != siteBasic {
		t.Errorf("hello body %v", h.Body)
	}

	// The queued calls replay in order, after hello, authenticated with the token.
	testkit.Eventually(t, "the queued calls", func() bool { return len(f.log("consent")) == 1 })
	var order []string
	for _, c := range f.log("") {
		if c.Path != "heartbeat" {
			order = append(order, c.Path)
		}
	}
	if got := strings.Join(order, ","); got != "hello,identify,form,consent" {
		t.Errorf("calls in order %s, want hello,identify,form,consent", got)
	}
	id := f.log("identify")[0]
	if !strings.HasPrefix(id.Auth, "Bearer bkv1.") || id.Body["signature"] != "sig-1" ||
		id.Body["fields"].(map[string]any)["email"] != "ada@acme.example" {
		t.Errorf("identify %+v", id)
	}
	if got := f.log("consent")[0].Body["granted"]; got != true {
		t.Errorf("consent body granted=%v", got)
	}
	_, warns := b.Console()
	if want := []string{`Beckon: unknown command "bogus"`, "Beckon: showExperience is not available yet"}; strings.Join(warns, "|") != strings.Join(want, "|") {
		t.Errorf("warnings %q, want %q", warns, want)
	}

	// The cookie: on the registrable domain, named after the site, and the probe is gone.
	jar := b.Cookies(pageURL)
	st, ok := jar["_bk_state_"+siteBasic]
	if !ok {
		t.Fatalf("no state cookie; cookies %v", jar)
	}
	if _, ok := jar["__bk_domainTest"]; ok {
		t.Error("__bk_domainTest is still there")
	}
	if len(jar) != 1 {
		t.Errorf("cookies %v, want only the state cookie", jar)
	}
	if st.Domain != ".acme.localhost" || st.Path != "/" || st.SameSite != network.CookieSameSiteLax || st.Session {
		t.Errorf("state cookie domain %q path %q samesite %q session %v", st.Domain, st.Path, st.SameSite, st.Session)
	}
	if days := time.Until(time.Unix(int64(st.Expires), 0)).Hours() / 24; days < 29.9 || days > 30.1 {
		t.Errorf("state cookie lives %.1f days, want cookie_days=30", days)
	}
	state := testkit.StateCookie(t, st)
	if tok, _ := state["t"].(string); !strings.HasPrefix(tok, "bkv1.") || state["c"] != "granted" || state["o"] != 0.0 {
		t.Errorf("state %v", state)
	}
	if n := testkit.Eval[int](b, `localStorage.length + sessionStorage.length`); n != 0 {
		t.Errorf("%d items in web storage", n)
	}

	// GA: the identify and form calls carried the same email: one Email Captured.
	if got := testkit.Eval[string](b, `JSON.stringify(window.dataLayer)`); got != `[{"event":"ga_event","category":"Beckon","action":"Email Captured"}]` {
		t.Errorf("dataLayer after identify %s", got)
	}
	if got := testkit.Eval[[]string](b, `window.gtagCalls`); strings.Join(got, "|") != "event Email Captured Beckon" {
		t.Errorf("gtag calls %q", got)
	}

	// The launcher: themed, labelled, at the bottom right; then the panel opens on click.
	if got := testkit.MessengerJS[string](b, ".bk-launcher", `function(){ return getComputedStyle(this).backgroundColor }`); got != "rgb(79, 70, 229)" {
		t.Errorf("launcher colour %s", got)
	}
	if got := b.Text(".bk-launcher"); got != "Chat with us" {
		t.Errorf("launcher text %q", got)
	}
	rect := testkit.MessengerJS[map[string]float64](b, ".bk-launcher", `function(){ const r = this.getBoundingClientRect(); return {right: innerWidth - r.right, bottom: innerHeight - r.bottom, h: r.height} }`)
	if rect["right"] != 20 || rect["bottom"] != 20 || rect["h"] != 60 {
		t.Errorf("launcher at %v", rect)
	}
	b.Hidden(".bk-panel")
	testkit.Screenshot(t, b.Ctx, "messenger-launcher")

	b.Click(".bk-launcher")
	b.Visible(".bk-panel")
	if !b.Focused(".bk-input") {
		t.Error("opening did not focus the message input")
	}
	if got := testkit.MessengerJS[string](b, ".bk-launcher", `function(){ return this.getAttribute('aria-expanded') + ' ' + this.getAttribute('aria-label') }`); got != "true Close chat" {
		t.Errorf("launcher when open: %s", got)
	}
	if got := b.Text(".bk-list"); !strings.Contains(got, "Hi there! How can we help you today?") {
		t.Errorf("greeting: %q", got)
	}
	if got := b.Text(".bk-title"); got != "Acme" {
		t.Errorf("title %q", got)
	}
	testkit.Screenshot(t, b.Ctx, "messenger-open")

	// Send a message with the keyboard. HTML stays text.
	b.Send("<b>Hello</b> — do you integrate with Salesforce?")
	testkit.Eventually(t, "the message post", func() bool { return len(f.log("messages")) == 1 })
	// This site's socket answers 404, as behind a proxy that refuses upgrades: three attempts,
	// then the message went over HTTP.
	if n := f.socketsOf(siteBasic); n != 3 {
		t.Errorf("%d socket attempts before the HTTP fallback, want 3", n)
	}
	testkit.Eventually(t, "the message sent", func() bool { return !strings.Contains(b.Text(".bk-list"), "Sending") })
	post := f.log("messages")[0]
	if post.Body["text"] != "<b>Hello</b> — do you integrate with Salesforce?" || len(post.Body["client_id"].(string)) != 32 {
		t.Errorf("message post %v", post.Body)
	}
	if got := testkit.MessengerJS[int](b, ".bk-list", `function(){ return this.querySelectorAll('b').length }`); got != 0 {
		t.Error("the message was rendered as HTML")
	}
	if got := b.Text(".bk-me .bk-bubble"); !strings.Contains(got, "<b>Hello</b>") {
		t.Errorf("visitor bubble %q", got)
	}
	if v := testkit.Eval[string](b, `document.querySelector('beckon-messenger').shadowRoot === null ? 'closed' : 'open'`); v != "closed" {
		t.Error("the shadow root is reachable from the page")
	}

	// A failing post is retried with the same client_id, and says so meanwhile.
	f.mu.Lock()
	f.failNext = 2
	f.mu.Unlock()
	b.Send("My email is ada@acme.example")
	testkit.Eventually(t, "the retry status", func() bool { return strings.Contains(b.Text(".bk-list"), "Not delivered yet. Retrying") })
	testkit.Eventually(t, "the second message sent", func() bool {
		t := b.Text(".bk-list")
		return !strings.Contains(t, "Retrying") && !strings.Contains(t, "Sending")
	})
	posts := f.log("messages")
	var ids []string
	for _, p := range posts[1:] {
		if p.Method == http.MethodPost {
			ids = append(ids, p.Body["client_id"].(string))
		}
	}
	if len(ids) != 3 || ids[0] != ids[1] || ids[1] != ids[2] {
		t.Errorf("retries sent client ids %v, want the same one three times", ids)
	}

	// Conversation Started once; Email Captured for the chat answer with a new address? The
	// server said fields_captured=[email], so it counts (once per address or chat answer).
	dl := testkit.Eval[[]map[string]string](b, `window.dataLayer`)
	started := 0
	for _, e := range dl {
		if e["action"] == "Conversation Started" && e["event"] == "ga_event" && e["category"] == "Beckon" {
			started++
		}
	}
	if started != 1 {
		t.Errorf("dataLayer %v: %d Conversation Started, want 1", dl, started)
	}

	// A rep's reply arrives by polling and is announced in the log region.
	f.addRepMessage("Hi Ada! Yes — we sync leads and contacts both ways. Want a quick demo?")
	testkit.Eventually(t, "the rep's reply", func() bool { return strings.Contains(b.Text(".bk-list"), "we sync leads") })
	if n := f.socketsOf(siteBasic); n != 3 {
		t.Errorf("%d socket attempts after the fallback, want no more than the 3", n)
	}
	if got := testkit.MessengerJS[string](b, ".bk-list", `function(){ return this.getAttribute('role') + ' ' + this.getAttribute('aria-live') }`); got != "log polite" {
		t.Errorf("message list role/aria-live: %s", got)
	}
	if got := b.Text(".bk-them:last-child .bk-name"); got != "Maya Chen" {
		t.Errorf("rep name %q", got)
	}
	seen := testkit.Eval[[]string](b, `window.seen`)
	want := []string{
		"field captured:identify:email,first_name", "field captured:form:company,email", "open",
		"message:visitor:<b>Hello</b> — do you integrate with Salesforce?",
		"message:visitor:My email is ada@acme.example", "field captured:chat:email",
		"message:rep:Hi Ada! Yes — we sync leads and contacts both ways. Want a quick demo?",
	}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
	testkit.Screenshot(t, b.Ctx, "messenger-conversation")

	// Escape closes and gives the focus back to the launcher.
	b.Do("escape", chromedp.KeyEvent(kb.Escape))
	b.Hidden(".bk-panel")
	if !b.Focused(".bk-launcher") {
		t.Error("closing did not return the focus to the launcher")
	}

	// SPA route change: beckon('page') records the new URL with the old one as referrer.
	testkit.Eval[any](b, `history.pushState({}, '', '/basic/integrations'); document.title = 'Integrations'; beckon('page'); beckon('page')`)
	testkit.Eventually(t, "the page call", func() bool { return len(f.log("page")) == 1 })
	time.Sleep(300 * time.Millisecond)
	pages := f.log("page")
	if len(pages) != 1 || pages[0].Body["url"] != host.origin+"/basic/integrations" || pages[0].Body["referrer"] != pageURL || pages[0].Body["title"] != "Integrations" {
		t.Errorf("page calls %+v", pages)
	}

	// The next page: the cookie's token comes back in hello, the history loads when opened,
	// and pagehide sent leave with the token in the body.
	b.Click(".bk-launcher")
	b.Visible(".bk-panel")
	b.Do("next page", chromedp.Navigate(host.origin+"/pricing"))
	testkit.Eventually(t, "leave", func() bool { return len(f.log("leave")) == 1 })
	if tok, _ := f.log("leave")[0].Body["visitor_token"].(string); tok != state["t"] {
		t.Errorf("leave token %q, want %q", tok, state["t"])
	}
	testkit.Eventually(t, "the second hello", func() bool { return len(f.log("hello")) == 2 })
	if tok := f.log("hello")[1].Body["visitor_token"]; tok != state["t"] {
		t.Errorf("second hello token %v, want %v", tok, state["t"])
	}
	b.Visible(".bk-panel") // it was open when the visitor left the last page
	testkit.Eventually(t, "the history", func() bool { return strings.Contains(b.Text(".bk-list"), "Want a quick demo?") })
	if n := testkit.MessengerJS[int](b, ".bk-list", `function(){ return this.querySelectorAll('.bk-msg').length }`); n != 4 {
		t.Errorf("%d messages after reload, want greeting + 3", n)
	}
	if b.Focused(".bk-input") {
		t.Error("reopening on load stole the focus")
	}

	// A refused identity signature is the integrator's problem: a warning, the visitor stays.
	hellos = f.log("hello")
	testkit.Eval[any](b, `beckon('identify', {email: 'ada@acme.example'}, {signature: 'bad'})`)
	testkit.Eventually(t, "the warning", func() bool {
		_, w := b.Console()
		return len(w) == 3 && w[2] == "Beckon: identify was refused (the signature does not match)"
	})
	if n := len(f.log("hello")); n != len(hellos) {
		t.Errorf("a refused signature caused a new hello")
	}
	// A refused visitor token: one new hello (without it), and the call goes through with the
	// new token, which the cookie keeps.
	testkit.Eval[any](b, `beckon('close')`)
	b.Hidden(".bk-panel")
	forms := len(f.log("form"))
	f.revoke()
	testkit.Eval[any](b, `beckon('saveFormData', {company: 'Acme Corp'})`)
	testkit.Eventually(t, "the form call after a new hello", func() bool { return len(f.log("form")) == forms+2 })
	h3 := f.log("hello")
	if len(h3) != len(hellos)+1 || h3[len(h3)-1].Body["visitor_token"] != nil {
		t.Errorf("hellos after a refused token: %d (was %d), last %v", len(h3), len(hellos), h3[len(h3)-1].Body)
	}
	fc := f.log("form")
	if fc[forms].Auth == fc[forms+1].Auth {
		t.Error("the retry used the refused token")
	}
	if tok := testkit.StateCookie(t, b.Cookies(pageURL)["_bk_state_"+siteBasic])["t"]; "Bearer "+tok.(string) != fc[forms+1].Auth {
		t.Error("the cookie does not hold the new token")
	}

	errs, _ := b.Console()
	if len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
	if v := testkit.Eval[[]string](b, `window.violations`); len(v) > 0 {
		t.Errorf("CSP violations: %q", v)
	}
}

func testConsent(t *testing.T, b *testkit.Tab, f *fakeBeckon, host *hostSite) {
	pageURL := host.origin + "/consent"
	before, identifies := len(f.log("hello")), len(f.log("identify"))
	b.Do("open the page", chromedp.Navigate(pageURL))
	testkit.Eventually(t, "hello", func() bool { return len(f.log("hello")) == before+1 })
	time.Sleep(500 * time.Millisecond)
	if got := f.log("hello")[before].Body["consent"]; got != "" {
		t.Errorf("hello consent %q", got)
	}
	noTrace := func(when string) {
		t.Helper()
		if jar := b.Cookies(pageURL); len(jar) != 0 {
			t.Errorf("%s: cookies %v", when, jar)
		}
		if n := testkit.Eval[int](b, `localStorage.length + sessionStorage.length`); n != 0 {
			t.Errorf("%s: %d items in web storage", when, n)
		}
		if testkit.Eval[bool](b, `!!document.querySelector('beckon-messenger')`) {
			t.Errorf("%s: the messenger shows", when)
		}
	}
	noTrace("before consent")
	if n := len(f.log("identify")); n != identifies {
		t.Errorf("identify sent before consent")
	}
	testkit.Screenshot(t, b.Ctx, "messenger-consent-pending")

	// Consent: hello again with consent granted; the identify held in memory goes out.
	testkit.Eval[any](b, `beckon('consent', true)`)
	testkit.Eventually(t, "hello with consent", func() bool { return len(f.log("hello")) == before+2 })
	if got := f.log("hello")[before+1].Body["consent"]; got != "granted" {
		t.Errorf("second hello consent %q", got)
	}
	testkit.Eventually(t, "the held identify", func() bool { return len(f.log("identify")) == identifies+1 })
	b.Visible(".bk-launcher")
	jar := b.Cookies(pageURL)
	st, ok := jar["_bk_state_"+siteConsent]
	if !ok || len(jar) != 1 {
		t.Fatalf("cookies after consent: %v", jar)
	}
	if s := testkit.StateCookie(t, st); s["c"] != "granted" {
		t.Errorf("state after consent %v", s)
	}
	rect := testkit.MessengerJS[map[string]float64](b, ".bk-launcher", `function(){ const r = this.getBoundingClientRect(); return {left: r.left, w: r.width} }`)
	if rect["left"] != 20 || rect["w"] != 60 {
		t.Errorf("left launcher at %v", rect)
	}
	if got := testkit.MessengerJS[string](b, ".bk-launcher", `function(){ return this.getAttribute('aria-label') }`); got != "Open chat" {
		t.Errorf("icon launcher label %q", got)
	}
	testkit.Screenshot(t, b.Ctx, "messenger-launcher-left")

	// Refusal: the server is told, the cookie goes, the refusal is remembered.
	testkit.Eval[any](b, `beckon('consent', false)`)
	testkit.Eventually(t, "the refusal", func() bool {
		c := f.log("consent")
		return len(c) > 0 && c[len(c)-1].Body["granted"] == false
	})
	testkit.Eventually(t, "the messenger gone", func() bool { return !testkit.Eval[bool](b, `!!document.querySelector('beckon-messenger')`) })
	jar = b.Cookies(pageURL)
	if _, ok := jar["_bk_state_"+siteConsent]; ok {
		t.Error("the state cookie survived the refusal")
	}
	if c, ok := jar["_bk_optout_"+siteConsent]; !ok || c.Value != "1" || len(jar) != 1 {
		t.Errorf("cookies after refusal: %v", jar)
	}
	n := len(f.log("hello"))
	b.Do("reload", chromedp.Reload())
	testkit.Eventually(t, "hello after reload", func() bool { return len(f.log("hello")) == n+1 })
	if got := f.log("hello")[n].Body; got["consent"] != "denied" || got["visitor_token"] != nil {
		t.Errorf("hello after refusal %v", got)
	}
	time.Sleep(300 * time.Millisecond)
	if testkit.Eval[bool](b, `!!document.querySelector('beckon-messenger')`) {
		t.Error("the messenger shows after a refusal")
	}
	// Consent again clears the refusal.
	testkit.Eval[any](b, `beckon('consent', true)`)
	b.Visible(".bk-launcher")
	jar = b.Cookies(pageURL)
	if _, ok := jar["_bk_optout_"+siteConsent]; ok || len(jar) != 1 {
		t.Errorf("cookies after renewed consent %v", jar)
	}
	if errs, _ := b.Console(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
}

func testHostile(t *testing.T, b *testkit.Tab, f *fakeBeckon, host *hostSite) {
	b.Do("open the page", chromedp.Navigate(host.origin+"/hostile"))
	b.Visible(".bk-launcher")
	if got := testkit.MessengerJS[string](b, ".bk-launcher", `function(){ const s = getComputedStyle(this); return s.backgroundColor + ' ' + s.width + ' ' + s.visibility }`); got != "rgb(79, 70, 229) 60px visible" {
		t.Errorf("launcher under hostile CSS: %s", got)
	}
	b.Click(".bk-launcher")
	b.Visible(".bk-panel")
	got := testkit.MessengerJS[map[string]any](b, ".bk-panel", `function(){
		const r = this.getBoundingClientRect(), s = getComputedStyle(this.querySelector('.bk-bubble'));
		return {w: this.offsetWidth, right: innerWidth - r.right, font: s.fontSize, spacing: s.letterSpacing, transform: s.textTransform,
			host: getComputedStyle(this.getRootNode().host).zIndex}
	}`)
	if got["w"] != 384.0 || got["right"] != 20.0 || got["font"] != "15px" || got["spacing"] != "normal" || got["transform"] != "none" || got["host"] != "2147483000" {
		t.Errorf("panel under hostile CSS: %v", got)
	}
	n := len(f.log("messages"))
	b.Send("Still works?")
	testkit.Eventually(t, "the post", func() bool { return len(f.log("messages")) > n })
	testkit.Screenshot(t, b.Ctx, "messenger-hostile-page")
	if errs, _ := b.Console(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
}

// testDown: the snippet names a Beckon server where nothing listens. The page works as without
// it, the API can be called, and our code logs nothing.
func testDown(t *testing.T, b *testkit.Tab, host *hostSite) {
	b.Do("open the page", chromedp.Navigate(host.origin+"/down"))
	b.Do("the page", chromedp.WaitVisible(chromedp.CSS("h1")))
	if !testkit.Eval[bool](b, `window.appLoaded === true && document.readyState === 'complete'`) {
		t.Error("the page did not finish loading")
	}
	queued := testkit.Eval[int](b, `beckon.q.length`)
	testkit.Eval[any](b, `beckon('identify', {email: 'x@y.example'}); beckon('page'); beckon('on', 'open', function(){})`)
	if got := testkit.Eval[int](b, `beckon.q.length`); got != queued+3 {
		t.Errorf("queue length %d, want %d", got, queued+3)
	}
	b.Do("click a link", chromedp.Click(chromedp.CSS("a.cta")))
	b.Do("navigated", chromedp.WaitVisible(chromedp.CSS("#pricing:target")))
	time.Sleep(500 * time.Millisecond)
	errs, warns := b.Console()
	if len(errs)+len(warns) > 0 {
		t.Errorf("console errors %q, warnings %q", errs, warns)
	}
	if testkit.Eval[bool](b, `!!document.querySelector('beckon-messenger')`) {
		t.Error("a messenger without a server")
	}
}

// testAPIDown: the scripts load but /m/v1 answers 503. The messenger retries hello with backoff,
// then gives up, silently and invisibly.
func testAPIDown(t *testing.T, b *testkit.Tab, f *fakeBeckon, host *hostSite) {
	before := len(f.log("hello"))
	b.Do("open the page", chromedp.Navigate(host.origin+"/apidown"))
	testkit.Eventually(t, "a retried hello", func() bool { return len(f.log("hello")) >= before+2 })
	testkit.Eval[any](b, `beckon('identify', {email: 'x@y.example'}); beckon('page')`)
	time.Sleep(300 * time.Millisecond)
	errs, warns := b.Console()
	if len(errs)+len(warns) > 0 {
		t.Errorf("console errors %q, warnings %q", errs, warns)
	}
	if testkit.Eval[bool](b, `!!document.querySelector('beckon-messenger')`) {
		t.Error("a messenger without a server")
	}
	if jar := b.Cookies(host.origin + "/apidown"); len(jar) != 0 {
		t.Errorf("cookies %v", jar)
	}
}

func testMobile(t *testing.T, b *testkit.Tab, host *hostSite) {
	b.Do("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	b.Do("open the page", chromedp.Navigate(host.origin+"/pricing"))
	b.Visible(".bk-launcher")
	testkit.Screenshot(t, b.Ctx, "messenger-mobile-launcher")
	b.Click(".bk-launcher")
	b.Visible(".bk-panel")
	r := testkit.MessengerJS[map[string]float64](b, ".bk-panel", `function(){ return {w: this.offsetWidth, h: this.offsetHeight} }`)
	if r["w"] != 390 || r["h"] != 844 {
		t.Errorf("panel on a phone %v, want the whole screen", r)
	}
	b.Hidden(".bk-launcher")
	testkit.Screenshot(t, b.Ctx, "messenger-mobile-open")
	b.Click(".bk-x")
	b.Visible(".bk-launcher")
}

// testFallbackCSS: in a browser without constructable stylesheets the messenger links the
// stylesheet from the Beckon server, allowed by style-src, and shows nothing until it is there.
func testFallbackCSS(t *testing.T, b *testkit.Tab, f *fakeBeckon, host *hostSite) {
	b.Do("open the page", chromedp.Navigate(host.origin+"/nocss"))
	b.Visible(".bk-launcher")
	if got := testkit.MessengerJS[string](b, ".bk-launcher", `function(){ const s = getComputedStyle(this); return s.backgroundColor + ' ' + s.position + ' ' + s.height }`); got != "rgb(79, 70, 229) fixed 60px" {
		t.Errorf("launcher with the linked stylesheet: %s", got)
	}
	if got := testkit.MessengerJS[string](b, "link", `function(){ return this.getAttribute('href') }`); !strings.HasPrefix(got, f.srv.URL+"/js/messenger.") {
		t.Errorf("stylesheet link %q", got)
	}
	f.mu.Lock()
	n := f.cssGets
	f.mu.Unlock()
	if n != 1 {
		t.Errorf("%d requests for the stylesheet", n)
	}
	if errs, _ := b.Console(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
	if v := testkit.Eval[[]string](b, `window.violations`); len(v) > 0 {
		t.Errorf("CSP violations: %q", v)
	}
}

const hostHTML = `<!doctype html>
<html lang="en" data-mode="%s">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Acme — Pricing</title>
<link rel="stylesheet" href="/site.css">
%s
%s<script src="/app.js"></script>
</head>
<body>
<header class="nav"><a class="logo" href="#">◆ Acme</a><nav><a href="#">Product</a><a href="#pricing">Pricing</a><a href="#">Customers</a><a href="#">Docs</a></nav><a class="btn" href="#">Sign in</a></header>
<main>
<section class="hero">
<h1>Revenue analytics your whole team trusts</h1>
<p>Acme connects your CRM, billing and product data in minutes, so sales and finance finally work from the same numbers.</p>
<p><a class="btn primary cta" href="#pricing">See pricing</a> <a class="btn" href="#">Book a demo</a></p>
</section>
<section id="pricing" class="plans">
<div class="plan"><h2>Starter</h2><p class="price">$49<span>/mo</span></p><ul><li>3 data sources</li><li>Daily sync</li><li>Email support</li></ul></div>
<div class="plan featured"><h2>Growth</h2><p class="price">$199<span>/mo</span></p><ul><li>Unlimited sources</li><li>Hourly sync</li><li>Salesforce &amp; HubSpot</li></ul></div>
<div class="plan"><h2>Enterprise</h2><p class="price">Custom</p><ul><li>SSO &amp; SCIM</li><li>Dedicated CSM</li><li>99.9%% SLA</li></ul></div>
</section>
</main>
</body>
</html>
`

const siteCSS = `
* { box-sizing: border-box; }
html, body { height: 100%; overflow: hidden; }
body { overflow-y: auto; }
body { margin: 0; font: 16px/1.6 Georgia, serif; color: #14213d; background: #fbfaf7; }
.nav { display: flex; align-items: center; gap: 32px; padding: 18px 48px; border-bottom: 1px solid #e8e4da; background: #fff; }
.nav nav { display: flex; gap: 24px; flex: 1; }
.nav a { color: #14213d; text-decoration: none; font-family: Arial, sans-serif; font-size: 15px; }
.logo { font-weight: 700; font-size: 20px !important; }
.hero { max-width: 760px; margin: 72px auto 40px; padding: 0 24px; text-align: center; }
.hero h1 { font-size: 44px; line-height: 1.15; margin: 0 0 16px; }
.hero p { font-size: 19px; color: #4a5568; }
.btn { display: inline-block; padding: 10px 20px; border: 1px solid #14213d; border-radius: 6px; font-family: Arial, sans-serif; }
.btn.primary { background: #fca311; border-color: #fca311; color: #14213d; font-weight: 700; }
.plans { display: flex; gap: 24px; justify-content: center; padding: 24px; flex-wrap: wrap; }
.plan { width: 260px; padding: 28px; background: #fff; border: 1px solid #e8e4da; border-radius: 10px; }
.plan.featured { border: 2px solid #fca311; }
.plan h2 { margin: 0; font-size: 22px; } .price { font-size: 34px; margin: 8px 0; } .price span { font-size: 16px; color: #718096; }
.plan ul { padding-left: 18px; color: #4a5568; }
button { background: hotpink; border: 4px dashed lime; font-size: 30px; padding: 20px; }
div { line-height: 3; }
@media (max-width: 600px) { .nav { padding: 14px 18px; gap: 12px; } .nav nav { display: none; } .hero h1 { font-size: 32px; } }
`

// hostileCSS does its worst to anything in the light DOM, the messenger's host included.
const hostileCSS = `
html > :not(head):not(body), body * { display: none !important; }
* { color: red !important; font: italic 30px/3 serif !important; letter-spacing: 6px !important;
    text-transform: uppercase !important; cursor: wait !important; visibility: hidden; }
button, textarea, div { all: unset !important; display: none !important; }
beckon-messenger { display: none !important; position: static !important; z-index: -1 !important;
    transform: scale(0) !important; opacity: 0 !important; width: 1px !important; }
:root { --bk-c: red !important; --bk-z: -5 !important; --bk-ink: red !important; }
`

const appJS = `(function () {
  var mode = document.documentElement.getAttribute('data-mode');
  window.seen = []; window.violations = []; window.gtagCalls = [];
  addEventListener('securitypolicyviolation', function (e) { violations.push(e.violatedDirective + ' ' + e.blockedURI); });
  window.gtag = function (a, b, c) { gtagCalls.push(a + ' ' + b + ' ' + (c && c.event_category)); };
  beckon('on', 'open', function () { seen.push('open'); });
  beckon('on', 'close', function () { seen.push('close'); });
  beckon('on', 'message', function (m) { seen.push('message:' + m.author + ':' + m.text); });
  beckon('on', 'field captured', function (d) { seen.push('field captured:' + d.source + ':' + d.fields.join(',')); });
  if (mode === 'basic') {
    beckon('identify', {email: 'ada@acme.example', first_name: 'Ada'}, {signature: 'sig-1'});
    beckon('saveFormData', {company: 'Acme Corp', email: 'ada@acme.example'});
    beckon('consent', true);
    beckon('bogus');
    beckon('showExperience', 'demo');
  }
  if (mode === 'consent') beckon('identify', {email: 'eve@acme.example'});
  if (mode === 'nocss') CSSStyleSheet.prototype.replaceSync = undefined; // an older browser
  if (mode === 'hostile') {
    // Scripts too: hide every element added to <html>, with inline important styles.
    new MutationObserver(function (records) {
      records.forEach(function (r) { r.addedNodes.forEach(function (n) {
        if (n.nodeType === 1 && n.tagName !== 'BODY' && n.tagName !== 'HEAD') {
          n.style.setProperty('display', 'none', 'important');
          n.style.setProperty('--bk-z', '-1', 'important');
          n.hidden = true;
        }
      }); });
    }).observe(document.documentElement, {childList: true});
  }
  window.appLoaded = true;
})();
`
