package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/beckonhq/beckon/internal/chat"
	"github.com/beckonhq/beckon/internal/field"
	"github.com/beckonhq/beckon/internal/liveview"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/visitor"
)

// TestConsoleXSS (SPEC C4): hostile text from visitors — chat messages, names, companies, job
// titles, page titles and campaign names — is shown by the console as text and never runs.
//
// One visitor per payload says hello with the payload as its page title (and, cut, as the
// campaign of its landing URL), gives it as first name, last name, company and job title
// (identify or form), and sends it as a chat message, all through /m/v1 with the demo site's
// Origin, as the messenger does. A rep, logged in in Chromium, watches it arrive in the Inbox
// and Live View (the live path), opens every conversation (the visitor panel too), reloads Live
// View (the snapshot path), reads every conversation as the server renders it with the console's
// scripts blocked, and opens every Visitor 360.
//
// The tabs bypass the console's Content-Security-Policy, so that what matters is the escaping
// alone: were any payload turned into markup, its handler or script would run. A run is caught
// by (1) a trap on window.__xss, which every payload's code assigns (on top, from frames too);
// (2) a JavaScript dialog (alert/confirm/prompt), which a listener records and dismisses;
// (3) a request to a 127.0.0.1 server that payloads load images, styles and frames from;
// (4) uncaught exceptions. A self-check at the start of each tab proves each detector works.
// Every place must also show the payload's text exactly as stored (textContent equality: HTML
// parsed out of it would lose its tags), and the page must hold no inline handler, javascript:
// or data: URL, frame, base, object, inline script or style, and no link but http(s) and mailto.
func TestConsoleXSS(t *testing.T) {
	engines := []string{"sqlite"}
	if os.Getenv(testkit.EnvPostgres) != "" {
		engines = append(engines, "postgres")
	}
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			dbURL := ""
			if engine == "postgres" {
				dbURL = testkit.PostgresURL(t)
			}
			hits := newXSSHits(t)
			ctx := testkit.Browser(t)
			e := startDemo(t, dbURL, visitor.Options{AllowHeadless: true})
			ringLong(t, e)
			testConsoleXSS(t, ctx, e, hits)
		})
	}
}

// ringLong publishes routing that rings the admin for ten minutes: the test's admin never
// accepts, and a ring timing out would have routing's bot speak in every conversation while the
// test reads the inbox, whose rows show each conversation's latest message.
func ringLong(t *testing.T, e *demoEnv) {
	t.Helper()
	ctx := context.Background()
	users, err := e.a.Identity.ListUsers(ctx, e.info.WorkspaceID)
	if err != nil {
		t.Fatal(err)
	}
	admin := ""
	for _, u := range users {
		if u.Email == e.info.AdminEmail {
			admin = u.ID
		}
	}
	cfg := fmt.Sprintf(`{"teams": [{"id": "all", "name": "All", "members": [%q]}], "default": {"kind": "team", "team": "all"}, "ring_seconds": 600}`, admin)
	if _, err := e.a.Routing.SaveDraft(ctx, e.info.WorkspaceID, admin, []byte(cfg)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.Routing.Publish(ctx, e.info.WorkspaceID, admin); err != nil {
		t.Fatal(err)
	}
}

// xssCase is a hostile text.
type xssCase struct {
	name, text string
}

// xssPayloads returns the payloads; hit is a protocol-relative URL ("//127.0.0.1:port") of the
// server that records requests, so that it stays text (the console links only http, https and
// mailto URLs written out in full). The code of payload n assigns top.__xss=n or calls alert(n).
func xssPayloads(hit string) []xssCase {
	b64 := base64.StdEncoding.EncodeToString([]byte(`<script>top.__xss=6</script>`))
	var long strings.Builder
	for i := 0; long.Len() < 1000; i++ {
		fmt.Fprintf(&long, `"'><img src=%s/long/%d onerror=top.__xss=16><svg onload=alert(16)>`, hit, i)
	}
	longText := string([]rune(long.String())[:1000]) // the longest field value allowed
	return []xssCase{
		{"script tag", `<script>top.__xss=1;alert(1)</script>`},
		{"img onerror", `<img src=x onerror="top.__xss=2;alert(2)">`},
		{"svg onload", `<svg/onload=top.__xss=3><animate onbegin=alert(3) attributeName=x dur=1s>`},
		{"iframe srcdoc", `<iframe srcdoc="<script>top.__xss=4</script><img src=` + hit + `/srcdoc>"></iframe>`},
		{"javascript URL", `javascript:top.__xss=5;alert(5)//https://acme.example/`},
		{"data URL", `data:text/html;base64,` + b64 + ` data:image/svg+xml,<svg onload=alert(6)>`},
		{"markdown links", `[Pricing](javascript:top.__xss=7) [Docs](data:text/html,<script>top.__xss=7</script>) ![logo](` + hit + `/md.png) [ok](https://acme.example/pricing)`},
		{"HTML links", `<a href="javascript:top.__xss=8">Pricing</a> <a href='data:text/html,<script>top.__xss=8</script>'>Docs</a> <a href=` + hit + `/a>x</a>`},
		{"double-quote breakout", `"><img src=x onerror=top.__xss=9>" onmouseover="top.__xss=9" autofocus onfocus="top.__xss=9`},
		{"single-quote breakout", `' autofocus onfocus='top.__xss=10' x='' '><svg onload=top.__xss=10>`},
		{"backtick and unquoted", "` onmouseover=top.__xss=11 x=` <div title=x onclick=top.__xss=11 a=b>"},
		{"template syntax", `{{7*7}} ${alert(12)} #{7*7} <%= 7*7 %> [[${7*7}]] {{constructor.constructor('top.__xss=12')()}}`},
		{"CSS injection", `<style>*{background:url(` + hit + `/css)}@import '` + hit + `/import';</style><div style="width:expression(top.__xss=13);background:url('` + hit + `/style')">x</div>`},
		{"RTL override", "\u202e<img src=x onerror=top.__xss=14>gpj.exe \u202dmoc.emca@nimda\u202c"},
		{"zero-width", "jav\u200bascript:top.__xss=15 <scr\u200cipt>top.__xss=15</scr\u200cipt> \ufeff<img\u200b src=x onerror=top.__xss=15> a\u200db"},
		{"very long", longText},
		{"script breakout", `</script><script>top.__xss=17</script><!-- </title><script>alert(17)</script>`},
		{"pre-encoded entities", `&lt;script&gt;top.__xss=18&lt;/script&gt; &#60;img src=x onerror=top.__xss=18&#62; &amp;lt;b&amp;gt; &quot;&#x27;`},
		{"mailto with javascript", `mailto:javascript:alert(19) mailto:ada@acme.example?subject=%3Cscript%3Etop.__xss=19%3C/script%3E&body=javascript:alert(19) mailto:"><img/src=x/onerror=top.__xss=19>@acme.example`},
		{"mutation XSS", `<noscript><p title="</noscript><img src=x onerror=top.__xss=20>"></p></noscript><math><mtext><table><mglyph><style><img src=x onerror=top.__xss=20>`},
		{"base, meta, object, form", `<base href="` + hit + `/"><meta http-equiv="refresh" content="0;url=javascript:top.__xss=21"><object data="javascript:top.__xss=21"></object><embed src="` + hit + `/embed"><form action="javascript:top.__xss=21"><button formaction=javascript:top.__xss=21>go</button></form>`},
		{"escaped and full-width", `\u003cimg src=x onerror=top.__xss=22\u003e ＜script＞top.__xss=22＜/script＞ %3Cscript%3Etop.__xss=22%3C/script%3E \x3csvg onload=alert(22)\x3e`},
	}
}

// xssHits is a server on 127.0.0.1 that records every request: payloads point images, styles,
// frames and a <base> at it, so a request means markup was made of a payload.
type xssHits struct {
	url  string // http://127.0.0.1:port
	mu   sync.Mutex
	hits []string
}

func newXSSHits(t *testing.T) *xssHits {
	h := &xssHits{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.hits = append(h.hits, r.Method+" "+r.URL.String()+" from "+r.Header.Get("Referer"))
		h.mu.Unlock()
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

// take returns the requests so far and forgets them.
func (h *xssHits) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	got := h.hits
	h.hits = nil
	return got
}

// xssVisitor is a visitor of the test and what the console must show of it.
type xssVisitor struct {
	c              xssCase
	n              int // the payload's number (its code assigns top.__xss = n)
	id, token      string
	conv           string
	msg            string // the message as stored
	field          string // first name, last name, company and job title as stored
	refused        bool   // the payload itself was refused as a field value
	name           string // first and last name
	title          string // the page title as stored
	pageURL        string
	campaign       string // utm_campaign as stored
	identifyByForm bool
}

// xssTrap runs in every document of the tabs before the page's scripts: assigning window.__xss
// (the payloads assign top.__xss) is recorded in window.__xssHits.
const xssTrap = `(() => {
  const hits = [];
  Object.defineProperty(window, '__xssHits', { value: hits });
  Object.defineProperty(window, '__xss', { get() { return undefined; }, set(v) { hits.push(String(v)); } });
})();`

// xssAudit lists what the page holds that no console page does by itself: inline handlers,
// javascript:/data:/vbscript: URLs, srcdoc and formaction attributes, frames, objects, <base>,
// <math>, refresh <meta>, inline or foreign scripts, <style> elements, and links that are not
// http(s) or mailto.
const xssAudit = `(() => {
  const bad = [];
  const say = (el, why) => bad.push(why + ': ' + el.outerHTML.slice(0, 160));
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      const n = a.name.toLowerCase(), v = a.value.replace(/[\s\u0000-\u001f]/g, '').toLowerCase();
      if (n.startsWith('on')) say(el, 'handler ' + n);
      if (n == 'srcdoc' || n == 'formaction') say(el, n);
      if (['href', 'src', 'action', 'data', 'xlink:href', 'poster', 'background', 'srcset'].includes(n) && /^(javascript|data|vbscript):/.test(v)) say(el, 'URL in ' + n);
    }
    const tag = el.tagName.toLowerCase();
    if (['iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'base', 'math', 'style', 'portal'].includes(tag)) say(el, 'element');
    if (tag == 'script' && (!el.src || new URL(el.src).origin != location.origin)) say(el, 'script');
    if (tag == 'meta' && el.httpEquiv) say(el, 'meta');
    if (tag == 'img' && new URL(el.src, location.href).origin != location.origin) say(el, 'foreign image');
  }
  for (const a of document.querySelectorAll('a[href], area[href]')) {
    if (!['http:', 'https:', 'mailto:'].includes(a.protocol)) say(a, 'link ' + a.protocol);
  }
  return bad;
})()`

// xssTab is a tab of the rep, with its detectors.
type xssTab struct {
	*testkit.Tab
	t    *testing.T
	hits *xssHits
	// what the payloads are, to name the one that ran
	cases []xssCase

	mu      sync.Mutex
	dialogs []string
}

// newXSSTab prepares the tab of ctx: console recording, the CSP bypassed, the __xss trap in
// every document, and a listener that records and dismisses JavaScript dialogs.
func newXSSTab(t *testing.T, ctx context.Context, hits *xssHits, cases []xssCase) *xssTab {
	t.Helper()
	x := &xssTab{Tab: testkit.NewTab(t, ctx), t: t, hits: hits, cases: cases}
	if err := chromedp.Listen(ctx, func(ev any) {
		d, ok := ev.(*page.EventJavascriptDialogOpening)
		if !ok {
			return
		}
		x.mu.Lock()
		x.dialogs = append(x.dialogs, string(d.Type)+"("+d.Message+") on "+d.URL)
		x.mu.Unlock()
		go chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			return err
		}))
	}); err != nil {
		t.Fatal(err)
	}
	x.Do("bypass the CSP and trap __xss", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: xssTrap})
		return err
	}))
	return x
}

func (x *xssTab) takeDialogs() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	d := x.dialogs
	x.dialogs = nil
	return d
}

// eval evaluates expr, failing the test on an error.
func xssEval[T any](x *xssTab, expr string) T {
	x.t.Helper()
	return testkit.Eval[T](x.Tab, expr)
}

// wait polls the JavaScript condition cond (exceptions count as false) for up to 10 s.
func (x *xssTab) wait(what, cond string) {
	x.t.Helper()
	testkit.Eventually(x.t, what, func() bool {
		ctx, cancel := context.WithTimeout(x.Ctx, 2*time.Second)
		defer cancel()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { try { return !!(`+cond+`) } catch (e) { return false } })()`))
		return err == nil && ok
	})
}

// selfCheck proves the detectors of the tab work on its current page: an alert is recorded, the
// trap records an assignment, and markup injected on purpose runs its inline handler and loads
// from the hit server (so the CSP is really bypassed and a payload made markup would be caught).
func (x *xssTab) selfCheck(where string) {
	x.t.Helper()
	xssEval[any](x, `(() => {
		top.__xss = 'self-check';
		const d = document.createElement('div');
		d.hidden = true;
		d.innerHTML = '<img src="`+x.hits.url+`/self-check" onerror="top.__xss=\'inline-check\'">';
		document.body.appendChild(d);
		setTimeout(() => { d.remove(); alert('dialog-check'); }, 0);
		return null;
	})()`)
	x.wait(where+": the injected handler ran", `window.__xssHits.includes('inline-check')`)
	if got := xssEval[[]string](x, `window.__xssHits.splice(0)`); !slices.Contains(got, "self-check") {
		x.t.Fatalf("%s: the __xss trap recorded %q", where, got)
	}
	testkit.Eventually(x.t, where+": the dialog recorded", func() bool {
		x.mu.Lock()
		defer x.mu.Unlock()
		return slices.ContainsFunc(x.dialogs, func(d string) bool { return strings.Contains(d, "dialog-check") })
	})
	testkit.Eventually(x.t, where+": the hit server's request", func() bool {
		x.hits.mu.Lock()
		defer x.hits.mu.Unlock()
		return slices.ContainsFunc(x.hits.hits, func(h string) bool { return strings.Contains(h, "/self-check") })
	})
	// The dialog must be dismissed before the page goes on.
	x.wait(where+": the page answers after the dialog", `true`)
	x.takeDialogs()
	x.hits.take()
}

// clean fails the test for anything a payload would do: an assignment of __xss, a dialog, a
// request to the hit server, an exception, or markup the console does not make.
func (x *xssTab) clean(where string) {
	x.t.Helper()
	for _, v := range xssEval[[]string](x, `(window.__xssHits || []).splice(0)`) {
		x.t.Errorf("%s: top.__xss = %s ran (%s)", where, v, x.caseOf(v))
	}
	for _, d := range x.takeDialogs() {
		x.t.Errorf("%s: a dialog opened: %s", where, d)
	}
	for _, h := range x.hits.take() {
		x.t.Errorf("%s: the hit server was asked for %s (by this tab or another)", where, h)
	}
	for _, b := range xssEval[[]string](x, xssAudit) {
		x.t.Errorf("%s: %s", where, b)
	}
	if errs, _ := x.Console(); len(errs) > 0 {
		x.t.Errorf("%s: console errors %q", where, errs)
	}
}

// caseOf names the payload whose number is v.
func (x *xssTab) caseOf(v string) string {
	if n, err := strconv.Atoi(v); err == nil && n >= 1 && n <= len(x.cases) {
		return "payload " + x.cases[n-1].name
	}
	return "unknown payload"
}

// login logs the tab in as the demo admin and waits for the page after the form.
func (x *xssTab) login(e *demoEnv) {
	x.t.Helper()
	x.Do("log in", chromedp.Navigate(e.beckon+"/login"), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), e.info.AdminEmail), chromedp.SendKeys(chromedp.ID("password"), e.info.AdminPassword),
		chromedp.Click(chromedp.CSS(`main button[type="submit"]`)))
	x.wait("logged in", `location.pathname != '/login' && document.readyState == 'complete'`)
}

// xssMessenger posts body to a /m/v1 endpoint as the demo site's page does (with the visitor
// token when token is set) and returns the status and answer. It waits out the messenger's
// per-IP allowance (every visitor of the test comes from 127.0.0.1), a bounded number of times.
func xssMessenger(t *testing.T, e *demoEnv, path, token string, body any) (int, []byte) {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	cl := &http.Client{Timeout: 10 * time.Second}
	for try := 0; ; try++ {
		req, _ := http.NewRequest("POST", e.beckon+path, bytes.NewReader(raw))
		req.Header.Set("Content-Type", "text/plain")
		if token != "" {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("Origin", e.site)
		req.Header.Set("User-Agent", chromeUA)
		res, err := cl.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == http.StatusTooManyRequests && try < 30 {
			wait, _ := strconv.Atoi(res.Header.Get("Retry-After"))
			time.Sleep(time.Duration(min(max(wait, 1), 2)) * 500 * time.Millisecond)
			continue
		}
		return res.StatusCode, out
	}
}

// stripFormat removes the format characters (but the zero-width joiner) that field values may
// not hold.
func stripFormat(s string) string {
	return strings.Map(func(r rune) rune {
		if r != '\u200d' && unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, s)
}

// clipRunes cuts s to n characters.
func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) > n {
		return string([]rune(s)[:n])
	}
	return s
}

// liveClip cuts s as Live View does: to at most liveview.MaxFieldLen bytes, on a character
// boundary.
func liveClip(s string) string {
	n := liveview.MaxFieldLen
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// newXSSVisitor brings payload c (number n) to the console: hello with it as the page title,
// identify or form with it as every name field, and a message with it.
func newXSSVisitor(t *testing.T, e *demoEnv, n int, c xssCase) *xssVisitor {
	t.Helper()
	v := &xssVisitor{c: c, n: n, identifyByForm: n%2 == 0}
	var err error
	if v.msg, err = chat.CheckText(c.text); err != nil {
		t.Fatalf("%s: the payload is not a message: %v", c.name, err)
	}
	v.pageURL = e.site + "/pricing?n=" + strconv.Itoa(n) + "&utm_campaign=" + url.QueryEscape(clipRunes(c.text, 150))
	p, err := visitor.CheckPage(visitor.Page{URL: v.pageURL, Title: c.text})
	if err != nil {
		t.Fatalf("%s: the page: %v", c.name, err)
	}
	v.title, v.campaign = p.Title, visitor.ParseCampaign(v.pageURL).Name

	status, raw := xssMessenger(t, e, "/m/v1/hello", "", map[string]any{"site_id": e.info.SiteID, "time_zone": "Europe/Berlin",
		"language": "en-US", "page": map[string]string{"url": v.pageURL, "title": c.text}})
	var hello struct {
		VisitorID    string `json:"visitor_id"`
		VisitorToken string `json:"visitor_token"`
	}
	if status != http.StatusOK || json.Unmarshal(raw, &hello) != nil || hello.VisitorToken == "" {
		t.Fatalf("%s: hello: %d %s", c.name, status, raw)
	}
	v.id, v.token = hello.VisitorID, hello.VisitorToken

	path := "/m/v1/identify"
	if v.identifyByForm {
		path = "/m/v1/form"
	}
	fields := func(s string) map[string]any {
		return map[string]any{"fields": map[string]string{"first_name": s, "last_name": s, "company": s, "title": s}}
	}
	v.field, err = field.Definition{Key: "company", Type: field.TypeText}.Check(c.text)
	if err != nil {
		// Field values are one line without format characters (RTL overrides, zero-width
		// spaces): the server must refuse the payload, and takes it without them.
		v.refused = true
		if status, raw := xssMessenger(t, e, path, v.token, fields(c.text)); status != http.StatusUnprocessableEntity || !bytes.Contains(raw, []byte(`"code":"invalid"`)) {
			t.Errorf("%s: %s with the payload: %d %s, want 422 invalid", c.name, path, status, raw)
		}
		if v.field, err = (field.Definition{Key: "company", Type: field.TypeText}).Check(stripFormat(c.text)); err != nil {
			t.Fatalf("%s: without format characters: %v", c.name, err)
		}
	}
	if status, raw := xssMessenger(t, e, path, v.token, fields(v.field)); status != http.StatusOK {
		t.Fatalf("%s: %s: %d %s", c.name, path, status, raw)
	}
	v.name = v.field + " " + v.field

	status, raw = xssMessenger(t, e, "/m/v1/messages", v.token, map[string]string{"text": c.text, "client_id": "xss-" + strconv.Itoa(n)})
	var sent struct {
		ConversationID string `json:"conversation_id"`
	}
	if status != http.StatusCreated || json.Unmarshal(raw, &sent) != nil || sent.ConversationID == "" {
		t.Fatalf("%s: message: %d %s", c.name, status, raw)
	}
	v.conv = sent.ConversationID
	return v
}

// The inbox's conversation view and visitor panel, and the conversation's row in the list.
type xssInboxView struct {
	Title      string   `json:"title"`
	Msgs       []string `json:"msgs"`
	MsgEls     []string `json:"msgEls"`
	Links      []string `json:"links"`
	Name       *string  `json:"name"`
	Company    *string  `json:"company"`
	Job        *string  `json:"job"`
	PageTitle  *string  `json:"pageTitle"`
	RowName    *string  `json:"rowName"`
	RowCompany *string  `json:"rowCompany"`
	RowPreview *string  `json:"rowPreview"`
}

// xssInboxJS reads an xssInboxView for conversation %s (a JSON string).
const xssInboxJS = `((conv) => {
  const text = (el) => (el ? el.textContent : null);
  const dd = (label) => {
    for (const dt of document.querySelectorAll('#visitor-fields dt')) if (dt.textContent == label) return dt.nextElementSibling;
    return null;
  };
  const li = document.querySelector('#conv-list li[data-id="' + CSS.escape(conv) + '"]');
  const page = dd('On page') || dd('Last page');
  return {
    title: document.getElementById('conv-title').textContent,
    msgs: [...document.querySelectorAll('#messages .msg-visitor .msg-text')].map((p) => p.textContent),
    msgEls: [...document.querySelectorAll('#messages .msg-text *')].map((el) => el.tagName.toLowerCase() + (el.children.length ? ' with elements' : '')),
    links: [...document.querySelectorAll('#messages .msg-text a[href]')].map((a) => a.protocol),
    name: text(dd('Name')), company: text(dd('Company')), job: text(dd('Title')),
    pageTitle: text(page && page.querySelector('.visitor-page-title')),
    rowName: text(li && li.querySelector('.conv-name')), rowCompany: text(li && li.querySelector('.conv-company')),
    rowPreview: text(li && li.querySelector('.conv-preview')),
  };
})(%s)`

// check compares what the inbox shows of v with what was stored; pageTitle is false where the
// visitor panel shows no page title (the server-rendered panel shows the URL only).
func (got xssInboxView) check(t *testing.T, where string, v *xssVisitor, pageTitle bool) {
	t.Helper()
	eq := func(what string, got *string, want string) {
		t.Helper()
		if got == nil {
			t.Errorf("%s, %s: %s missing", where, v.c.name, what)
		} else if *got != want {
			t.Errorf("%s, %s: %s is %q, want %q", where, v.c.name, what, *got, want)
		}
	}
	eq("the conversation's title", &got.Title, v.name)
	if len(got.Msgs) != 1 || got.Msgs[0] != v.msg {
		t.Errorf("%s, %s: the visitor's messages %q, want [%q]", where, v.c.name, got.Msgs, v.msg)
	}
	for _, el := range got.MsgEls {
		if el != "a" {
			t.Errorf("%s, %s: the message holds <%s>", where, v.c.name, el)
		}
	}
	for _, p := range got.Links {
		if p != "http:" && p != "https:" && p != "mailto:" {
			t.Errorf("%s, %s: a %s link in the message", where, v.c.name, p)
		}
	}
	eq("the panel's name", got.Name, v.name)
	eq("the panel's company", got.Company, v.field)
	eq("the panel's job title", got.Job, v.field)
	if pageTitle {
		eq("the panel's page title", got.PageTitle, v.title)
	}
	eq("the row's name", got.RowName, v.name)
	eq("the row's company", got.RowCompany, v.field)
	eq("the row's preview", got.RowPreview, v.msg)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func testConsoleXSS(t *testing.T, ctx context.Context, e *demoEnv, hits *xssHits) {
	start := time.Now()
	cases := xssPayloads("//" + strings.TrimPrefix(hits.url, "http://"))
	if len(cases) < 15 {
		t.Fatalf("%d payloads", len(cases))
	}

	// The rep's inbox, on line before the visitors come: conversations and alerts arrive live.
	rc := testkit.BrowserContext(t, ctx)
	inbox := newXSSTab(t, rc, hits, cases)
	inbox.login(e)
	inbox.Do("inbox", chromedp.Navigate(e.beckon+"/inbox"), chromedp.WaitVisible(chromedp.ID("conv-list")))
	inbox.wait("the rep socket", `document.getElementById('connection').dataset.state == 'open'`)
	inbox.wait("available", `!document.getElementById('presence').disabled && document.getElementById('presence').value == 'available'`)
	inbox.selfCheck("inbox")

	// Live View in a second tab of the same browser context, tall enough to hold every row.
	lc, closeLive := chromedp.NewContext(rc)
	t.Cleanup(closeLive)
	live := newXSSTab(t, lc, hits, cases)
	live.Do("a tall window", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 1280, Height: 2400, DeviceScaleFactor: 1})
		return err
	}))
	live.Do("live view", chromedp.Navigate(e.beckon+"/live"), chromedp.WaitVisible(chromedp.ID("live-table")))
	live.wait("the live socket", `document.getElementById('connection').dataset.state == 'open'`)
	live.selfCheck("live view")

	// The visitors.
	vs := make([]*xssVisitor, len(cases))
	for i, c := range cases {
		vs[i] = newXSSVisitor(t, e, i+1, c)
	}
	e.flush(t)
	t.Logf("%d visitors with their payloads after %v", len(vs), time.Since(start).Round(time.Millisecond))

	// Inbox, live: every conversation appears in Waiting for Rep with its name, company and
	// message; the alerts show as notes in the page.
	listJS := `[...document.querySelectorAll('#conv-list li[data-id]')].length`
	inbox.wait("every conversation in the list", listJS+` == `+strconv.Itoa(len(vs)))
	for _, v := range vs {
		inbox.wait(v.c.name+": the row", `(() => { const li = document.querySelector('#conv-list li[data-id=`+jsString(v.conv)+`]');
			return li.querySelector('.conv-name').textContent == `+jsString(v.name)+` && li.querySelector('.conv-preview').textContent == `+jsString(v.msg)+` })()`)
	}
	inbox.wait("the alerts", `document.querySelectorAll('#toasts .toast').length > 0`)
	toasts := xssEval[string](inbox, `document.getElementById('toasts').textContent`)
	if !slices.ContainsFunc(vs, func(v *xssVisitor) bool { return strings.Contains(toasts, clipRunes(v.name, 60)) }) {
		t.Errorf("no alert names a visitor: %q", clipRunes(toasts, 500))
	}
	inbox.clean("inbox, as the conversations arrived")

	// Inbox: open each conversation from the list.
	for _, v := range vs {
		inbox.Do("open "+v.c.name, chromedp.Click(chromedp.CSS(`#conv-list li[data-id="`+v.conv+`"] a.conv-item`), chromedp.NodeVisible))
		inbox.wait(v.c.name+": the conversation", `document.getElementById('conv-title').textContent == `+jsString(v.name)+
			` && document.querySelector('#messages .msg-visitor .msg-text') && document.querySelector('#visitor-fields .visitor-page-title')`)
		xssEval[xssInboxView](inbox, fmt.Sprintf(xssInboxJS, jsString(v.conv))).check(t, "inbox", v, true)
		inbox.clean("inbox, " + v.c.name)
	}
	shot := vs[7] // HTML links
	inbox.Do("open "+shot.c.name, chromedp.Click(chromedp.CSS(`#conv-list li[data-id="`+shot.conv+`"] a.conv-item`), chromedp.NodeVisible))
	inbox.wait("the conversation for the screenshot", `document.getElementById('conv-title').textContent == `+jsString(shot.name))
	testkit.Screenshot(t, inbox.Ctx, "xss-inbox")
	// And without the alerts, which cover the visitor panel.
	xssEval[any](inbox, `document.getElementById('toasts').hidden = true; null`)
	testkit.Screenshot(t, inbox.Ctx, "xss-inbox-no-alerts")
	t.Logf("inbox checked after %v", time.Since(start).Round(time.Millisecond))

	// Live View: the deltas as the visitors came, then the snapshot after a reload.
	type liveRow struct {
		Href, Name, Company, Job, Page, URL string
	}
	checkLive := func(where string) {
		t.Helper()
		live.wait(where+": every visitor", `document.querySelectorAll('#live-rows tr.live-row').length == `+strconv.Itoa(len(vs)))
		// The rows fill in as the deltas come: read them until they show every visitor as
		// wanted, for up to 5 s, then report the differences.
		var diffs []string
		for deadline := time.Now().Add(5 * time.Second); ; {
			rows := xssEval[[]liveRow](live, `[...document.querySelectorAll('#live-rows tr.live-row')].map((tr) => ({
				Href: tr.cells[0].querySelector('a.live-name').getAttribute('href'), Name: tr.cells[0].querySelector('a.live-name').textContent,
				Company: tr.cells[1].children[0].textContent, Job: tr.cells[1].children[1].textContent,
				Page: tr.cells[2].children[0].textContent, URL: tr.cells[2].children[1].textContent }))`)
			byHref := map[string]liveRow{}
			for _, r := range rows {
				byHref[r.Href] = r
			}
			diffs = nil
			for _, v := range vs {
				// Live View carries field values cut to liveview.MaxFieldLen bytes.
				f := liveClip(v.field)
				want := liveRow{Href: "/visitors/" + v.id, Name: strings.TrimSpace(f + " " + f), Company: f, Job: f, Page: v.title, URL: v.pageURL}
				if r := byHref[want.Href]; r != want {
					diffs = append(diffs, fmt.Sprintf("%s, %s: the row\n got %+v\nwant %+v", where, v.c.name, r, want))
				}
			}
			if len(diffs) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		for _, d := range diffs {
			t.Error(d)
		}
		live.clean(where)
	}
	checkLive("live view, live")
	live.Do("reload live view", chromedp.Reload())
	live.wait("the live socket after the reload", `document.getElementById('connection').dataset.state == 'open'`)
	checkLive("live view, reloaded")
	testkit.Screenshot(t, live.Ctx, "xss-live-view")
	t.Logf("live view checked after %v", time.Since(start).Round(time.Millisecond))

	// Inbox as the server renders it: a tab whose console scripts are blocked.
	sc, closeStatic := chromedp.NewContext(rc)
	t.Cleanup(closeStatic)
	static := newXSSTab(t, sc, hits, cases)
	static.Do("block the console's scripts", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: []*network.BlockPattern{
			{URLPattern: e.beckon + "/static/*.js", Block: true}}})
		return err
	}))
	for i, v := range vs {
		static.Do("the server's inbox, "+v.c.name, chromedp.Navigate(e.beckon+"/inbox?stream=waiting&c="+url.QueryEscape(v.conv)),
			chromedp.WaitVisible(chromedp.ID("conv-title")))
		if i == 0 {
			static.selfCheck("server-rendered inbox")
			// No script of the console runs: the connection label stays as the server wrote it.
			deadline := time.Now().Add(time.Second)
			for time.Now().Before(deadline) {
				if s := xssEval[string](static, `document.getElementById('connection').dataset.state + ' ' + document.getElementById('presence').disabled`); s != "connecting true" {
					t.Fatalf("the console's script ran in the tab that blocks it: %s", s)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		xssEval[xssInboxView](static, fmt.Sprintf(xssInboxJS, jsString(v.conv))).check(t, "server-rendered inbox", v, false)
		static.clean("server-rendered inbox, " + v.c.name)
	}
	t.Logf("server-rendered inbox checked after %v", time.Since(start).Round(time.Millisecond))

	// Visitor 360 of each visitor, in the inbox's tab (with the console's scripts).
	type v360 struct {
		H1, DocTitle, Lede, Preview string
		First, Last, Company, Job   string
		PageTitles, Campaign        []string
	}
	for i, v := range vs {
		inbox.Do("visitor 360, "+v.c.name, chromedp.Navigate(e.beckon+"/visitors/"+url.PathEscape(v.id)), chromedp.WaitVisible(chromedp.CSS("h1")))
		if i == 0 {
			inbox.selfCheck("visitor 360")
		}
		got := xssEval[v360](inbox, `(() => {
			const text = (s) => { const el = document.querySelector(s); return el ? el.textContent : ''; };
			const field = (label) => {
				for (const th of document.querySelectorAll('table.v360-fields th[scope=row]')) if (th.textContent == label) return th.nextElementSibling.textContent.replace(/^[\n ]+|[\n ]+$/g, '');
				return '';
			};
			return { H1: text('h1'), DocTitle: document.title, Lede: text('.v360-header .lede'), Preview: text('.v360-preview'),
				First: field('First name'), Last: field('Last name'), Company: field('Company'), Job: field('Job title'),
				PageTitles: [...document.querySelectorAll('.pv-title')].map((e) => e.textContent),
				Campaign: [...document.querySelectorAll('ul.utm li')].map((li) => li.textContent) };
		})()`)
		preview := v.msg
		if utf8.RuneCountInString(preview) > 160 {
			preview = clipRunes(preview, 160) + "…"
		}
		want := v360{H1: v.name, DocTitle: v.name + " · Beckon", Lede: v.field + " at " + v.field, Preview: preview,
			First: v.field, Last: v.field, Company: v.field, Job: v.field, PageTitles: []string{v.title}}
		if v.campaign != "" {
			want.Campaign = []string{"Campaign " + v.campaign}
		}
		// The campaign's other parameters (none here) would be listed too.
		got.Campaign = slices.DeleteFunc(got.Campaign, func(s string) bool { return !strings.HasPrefix(s, "Campaign ") })
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("visitor 360, %s:\n got %+v\nwant %+v", v.c.name, got, want)
		}
		inbox.clean("visitor 360, " + v.c.name)
		if v == shot {
			testkit.Screenshot(t, inbox.Ctx, "xss-visitor-360")
		}
	}
	t.Logf("visitor 360 checked after %v", time.Since(start).Round(time.Millisecond))

	// Nothing ran in any tab at any time.
	for _, x := range []*xssTab{inbox, live, static} {
		for _, d := range x.takeDialogs() {
			t.Errorf("a dialog opened: %s", d)
		}
	}
	for _, h := range hits.take() {
		t.Errorf("a request to the hit server: %s", h)
	}
	refused := 0
	for _, v := range vs {
		if v.refused {
			refused++
		}
	}
	t.Logf("%d payloads, each as a message, first and last name, company, job title, page title and campaign; "+
		"%d refused as field values (format characters) and given without them; %v in all",
		len(vs), refused, time.Since(start).Round(time.Millisecond))
}
