package web

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/field"
	"github.com/beckonhq/beckon/internal/id"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/visitor"
)

// fakeSocketJS replaces the page's WebSocket before any script runs: the page's socket opens at
// once, what it sends is kept in __fake.sent, and the test delivers frames with __fake.push.
const fakeSocketJS = `(() => {
  const sent = [];
  let last = null;
  class FakeSocket {
    constructor(url) {
      this.url = url; this.readyState = 0; last = this;
      setTimeout(() => { this.readyState = 1; this.onopen && this.onopen({}); }, 0);
    }
    send(data) { sent.push(JSON.parse(data)); }
    close() { this.readyState = 3; }
  }
  FakeSocket.CONNECTING = 0; FakeSocket.OPEN = 1; FakeSocket.CLOSING = 2; FakeSocket.CLOSED = 3;
  window.WebSocket = FakeSocket;
  window.__fake = {
    sent,
    push(...frames) { for (const f of frames) last.onmessage({ data: JSON.stringify(f) }); },
    open() { return !!last && last.readyState == 1; },
  };
  window.__frames = () => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)));
})();`

// browserLogin logs the tab in through the login page.
func browserLogin(t *testing.T, tab *testkit.Tab, base, email, password string) {
	t.Helper()
	tab.Do("log in", chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email), chromedp.SendKeys(chromedp.ID("password"), password))
	if _, err := chromedp.Run(tab.Ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(`main button[type="submit"]`)))); err != nil {
		t.Fatalf("log in: %v", err)
	}
}

// withFakeSocket makes every page of the tab use the fake socket.
func withFakeSocket(tab *testkit.Tab) {
	tab.Do("fake socket", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: fakeSocketJS})
		return err
	}))
}

// liveVisitorsJS defines __visitor(i): a plausible Live View row, for both the screenshot and
// the load.
const liveVisitorsJS = `window.__visitor = (i, extra) => {
  const people = [['Ada Lovelace','ada@analytical.example','Analytical Engines','CTO'],['Grace Hopper','grace@cobol.example','Cobol Systems','VP Engineering'],
    ['','','',''],['Katherine Johnson','kj@orbit.example','Orbit Labs','Head of Data'],['','','Globex','' ],['Alan Turing','alan@enigma.example','Enigma Ltd','Founder'],
    ['Margaret Hamilton','mh@apollo.example','Apollo Software','Director of IT'],['','','',''],['Linus Pauling','linus@chem.example','Chem Works','']];
  const pages = [['https://acme.example/pricing','Pricing — Acme'],['https://acme.example/','Acme — the platform for teams'],['https://acme.example/docs/api','API reference'],
    ['https://acme.example/customers','Customer stories'],['https://acme.example/demo','Book a demo'],['https://acme.example/blog/launch','We launched v2']];
  const p = people[i % people.length], pg = pages[(i * 7) % pages.length];
  return Object.assign({
    id: 'vis_' + String(i).padStart(26, '0'), session_id: 'vsn_' + i,
    name: p[0] ? p[0] + (i >= people.length ? ' ' + i : '') : '', email: p[1], company: p[2], title: p[3],
    page_url: pg[0], page_title: pg[1],
    started_at: new Date(Date.now() - (i * 47 + 30) * 1000).toISOString(), last_seen_at: new Date().toISOString(),
    country: ['DE','US','FR','GB','JP','BR','IN'][i % 7], device: i % 4 ? 'desktop' : 'mobile',
    target_account: i % 5 == 1, conversation_id: i % 6 == 3 ? 'conv_' + i : '', returning: i % 2 == 0, page_views: i % 9 + 1, fields: {},
  }, extra || {});
};`

// TestLiveViewInBrowser drives Live View in Chromium with a fake socket: the snapshot, upserts
// and removals, the filters, the chat dialog; then feeds 5,000 visitors and measures the time
// the page spends per update batch.
func TestLiveViewInBrowser(t *testing.T) {
	ctx := testkit.Browser(t)
	h := newHarness(t, testkit.SQLite(t))
	tab := testkit.NewTab(t, ctx)
	withFakeSocket(tab)
	browserLogin(t, tab, h.srv.URL, "admin@acme.example", adminPassword)
	tab.Do("live view", chromedp.Navigate(h.srv.URL+"/live"), chromedp.WaitVisible(chromedp.ID("live-table")))
	testkit.Eventually(t, "live on", func() bool {
		return testkit.Eval[bool](tab, `__fake.sent.some(f => f.t == 'live' && f.on === true)`)
	})
	await := func(what, js string) {
		t.Helper()
		if _, err := chromedp.Run(tab.Ctx, chromedp.Evaluate[any](`(async () => { `+js+`; await __frames(); return null })()`, chromedp.EvalAwaitPromise)); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		return testkit.Eval[string](tab, `(document.querySelector(`+jsString(sel)+`) || {}).textContent || ''`)
	}
	testkit.Eval[any](tab, liveVisitorsJS+"; null")

	// A small snapshot, as a rep sees it.
	await("snapshot", `__fake.push({t:'live', op:'snapshot', visitors: Array.from({length: 24}, (_, i) => __visitor(i))})`)
	if got := text("#live-count"); got != "24 visitors on the site" {
		t.Errorf("count %q", got)
	}
	// The rows in view and a few more are drawn, not all 24.
	if n := testkit.Eval[int](tab, `document.querySelectorAll('#live-rows tr.live-row').length`); n < 7 || n >= 24 {
		t.Errorf("%d rows drawn of 24", n)
	}
	first := text("#live-rows tr.live-row .live-name")
	if first != "Ada Lovelace" {
		t.Errorf("first row %q (newest arrival first)", first)
	}
	if got := text("#live-rows tr.live-row:nth-child(4) .live-name"); got != "Visitor from France" {
		t.Errorf("anonymous row named %q", got)
	}
	testkit.Screenshot(t, tab.Ctx, "live-view")

	// The server says the rep is away because idle: the status says so; a colleague's presence
	// changes nothing here.
	await("idle", `__fake.push({t:'presence', state:{user_id:'usr_someone_else', status:'offline', reason:'disconnected'}}, {t:'presence', state:{user_id:`+jsString(h.admin.ID)+`, status:'away', reason:'idle', chosen:'available'}})`)
	if got := text("#presence-note"); got != "Away while idle: back when you use the console" {
		t.Errorf("idle note %q", got)
	}
	if got := testkit.Eval[string](tab, `document.getElementById('presence-dot').dataset.status + ' ' + document.getElementById('presence').value`); got != "away available" {
		t.Errorf("idle dot and choice %q", got)
	}
	// No input on this page yet: no activity frame.
	if n := testkit.Eval[int](tab, `__fake.sent.filter(f => f.t == 'active').length`); n != 0 {
		t.Errorf("%d active frames before any input", n)
	}

	// An upsert changes a drawn row in place; a removal takes one away; a new arrival comes first.
	testkit.Eval[any](tab, `window.__row = document.querySelector('#live-rows tr.live-row'); null`)
	await("upsert", `__fake.push({t:'live', op:'upsert', visitors:[__visitor(0, {page_title: 'Security — Acme', page_views: 12})]})`)
	if !testkit.Eval[bool](tab, `window.__row === document.querySelector('#live-rows tr.live-row') && __row.querySelector('.live-page').textContent.includes('Security — Acme')`) {
		t.Error("the upsert did not update the row in place")
	}
	await("remove and arrive", `__fake.push({t:'live', op:'remove', visitors:[{id: __visitor(1).id}]}, {t:'live', op:'upsert', visitors:[__visitor(100, {name: 'Newcomer', started_at: new Date().toISOString()})]})`)
	if got := text("#live-count"); got != "24 visitors on the site" {
		t.Errorf("after remove and arrival: %q", got)
	}
	if got := text("#live-rows tr.live-row .live-name"); got != "Newcomer" {
		t.Errorf("first row after an arrival %q", got)
	}
	if testkit.Eval[bool](tab, `[...document.querySelectorAll('.live-name')].some(a => a.textContent == 'Grace Hopper')`) {
		t.Error("the removed visitor is still shown")
	}
	// Hostile text stays text; a page URL is no markup either.
	await("hostile", `__fake.push({t:'live', op:'upsert', visitors:[__visitor(101, {name: '<img src=x onerror=window.__xss=1>', company: '<b>x</b>', page_title: '<script>window.__xss=2</script>', started_at: new Date().toISOString()})]})`)
	if testkit.Eval[bool](tab, `!!window.__xss || !!document.querySelector('#live-rows img, #live-rows b, #live-rows script')`) {
		t.Error("visitor text became markup")
	}
	if got := text("#live-rows tr.live-row .live-name"); got != "<img src=x onerror=window.__xss=1>" {
		t.Errorf("hostile name shown as %q", got)
	}

	// Filters: target accounts only, then a search.
	tab.Do("target filter", chromedp.Click(chromedp.ID("filter-target")))
	testkit.Eventually(t, "target filter", func() bool { return strings.HasPrefix(text("#live-count"), "5 of 25") })
	if !testkit.Eval[bool](tab, `[...document.querySelectorAll('#live-rows tr.live-row')].every(tr => tr.querySelector('.badge.target'))`) {
		t.Error("a row without the target badge passed the filter")
	}
	tab.Do("no target filter", chromedp.Click(chromedp.ID("filter-target")), chromedp.SendKeys(chromedp.ID("filter-search"), "cobol"))
	testkit.Eventually(t, "search", func() bool { return strings.HasPrefix(text("#live-count"), "3 of 25") })
	testkit.Eval[any](tab, `(s => { s.value = ''; s.dispatchEvent(new Event('input')) })(document.getElementById('filter-search')); null`)
	testkit.Eventually(t, "search cleared", func() bool { return text("#live-count") == "25 visitors on the site" })
	// Clicks and keys: the rep is active, which one frame says (at most one every 30 s).
	if n := testkit.Eval[int](tab, `__fake.sent.filter(f => f.t == 'active').length`); n != 1 {
		t.Errorf("%d active frames after clicks and keys, want 1", n)
	}

	// Chat opens a dialog to write the first message.
	tab.Do("chat", chromedp.Click(chromedp.CSS(`#live-rows tr.live-row:nth-child(3) button.live-chat`)), chromedp.WaitVisible(chromedp.ID("chat-text")))
	if got := text("#chat-title"); !strings.HasPrefix(got, "Chat with ") {
		t.Errorf("chat dialog title %q", got)
	}
	testkit.Screenshot(t, tab.Ctx, "live-view-chat")
	tab.Do("cancel chat", chromedp.Click(chromedp.ID("chat-cancel")))

	// Load: 5,000 visitors, then 200 batches, each an upsert of 50 (new pages), the removal of 5
	// and the arrival of 5, delivered together and drawn in one animation frame.
	perf := testkit.Eval[map[string]float64](tab, `(() => {
	  performance.clearMeasures('beckon-live-batch');
	  const t0 = performance.now();
	  __fake.push({t:'live', op:'snapshot', visitors: Array.from({length: 5000}, (_, i) => __visitor(i))});
	  return {push: performance.now() - t0};
	})()`)
	await("5000 drawn", ``)
	if got := text("#live-count"); got != "5000 visitors on the site" {
		t.Fatalf("count after 5,000: %q", got)
	}
	drawn := testkit.Eval[int](tab, `document.querySelectorAll('#live-rows tr.live-row').length`)
	if drawn == 0 || drawn > 120 {
		t.Errorf("%d rows in the DOM for 5,000 visitors: the table is not windowed", drawn)
	}
	snapshot := testkit.Eval[float64](tab, `performance.getEntriesByName('beckon-live-batch').pop().duration`)
	res, err := chromedp.Run(tab.Ctx, chromedp.Evaluate[map[string]any](`(async () => {
	  performance.clearMeasures('beckon-live-batch');
	  const walls = [];
	  let next = 5000;
	  for (let b = 0; b < 200; b++) {
	    const t0 = performance.now();
	    const up = Array.from({length: 50}, (_, k) => __visitor((b * 53 + k * 97) % 5000, {page_title: 'Batch ' + b, page_views: b}));
	    const gone = Array.from({length: 5}, (_, k) => ({id: __visitor((b * 31 + k * 1009) % 5000).id}));
	    const fresh = Array.from({length: 5}, () => __visitor(next++, {started_at: new Date().toISOString()}));
	    __fake.push({t:'live', op:'upsert', visitors: up}, {t:'live', op:'remove', visitors: gone}, {t:'live', op:'upsert', visitors: fresh});
	    await __frames();
	    walls.push(performance.now() - t0);
	  }
	  const batches = performance.getEntriesByName('beckon-live-batch').map(e => e.duration);
	  return {batches, walls};
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	batches, walls := floats(res["batches"]), floats(res["walls"])
	if len(batches) < 190 {
		t.Fatalf("%d batches measured, want about 200", len(batches))
	}
	// Scrolled to the middle, the rows in view are drawn.
	await("scroll", `document.getElementById('live-scroll').scrollTop = 120000`)
	if idx := testkit.Eval[int](tab, `+document.querySelector('#live-rows tr.live-row').getAttribute('aria-rowindex')`); idx < 1000 || idx > 3000 {
		t.Errorf("after scrolling to 120,000 px the first drawn row is %d", idx)
	}
	t.Logf("Live View, 5,000 visitors: snapshot pushed in %.1f ms, applied and drawn in %.1f ms; %d rows in the DOM", perf["push"], snapshot, drawn)
	t.Logf("update batches (50 upserts + 5 removals + 5 arrivals): script %s; batch to second frame %s", stats(batches), stats(walls))
	if errs, _ := tab.Console(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}

func floats(v any) []float64 {
	a, _ := v.([]any)
	out := make([]float64, 0, len(a))
	for _, x := range a {
		if f, ok := x.(float64); ok {
			out = append(out, f)
		}
	}
	return out
}

// stats summarises durations in milliseconds: median, 95th percentile, max.
func stats(ms []float64) string {
	if len(ms) == 0 {
		return "none"
	}
	s := append([]float64(nil), ms...)
	sort.Float64s(s)
	q := func(p float64) float64 { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return fmt.Sprintf("median %.2f ms, p95 %.2f ms, max %.2f ms (n=%d)", q(0.5), q(0.95), s[len(s)-1], len(s))
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}

// TestVisitor360InBrowser shows a visitor with fields from several sources, a verified email,
// sessions with campaigns and page views, and a conversation, and saves the screenshot.
func TestVisitor360InBrowser(t *testing.T) {
	ctx := testkit.Browser(t)
	h := newHarness(t, testkit.SQLite(t))
	bg := context.Background()
	v := h.newVisitor(h.ws.ID, "https://acme.example/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=fall-launch", "Pricing — Acme")
	for _, p := range []visitor.Page{{URL: "https://acme.example/customers", Title: "Customer stories"}, {URL: "https://acme.example/security", Title: "Security — Acme"}} {
		if _, err := h.visitors.PageView(bg, h.ws.ID, v.VisitorID, p); err != nil {
			t.Fatal(err)
		}
	}
	// Two earlier visits, a day and a week ago.
	for i, ago := range []time.Duration{24 * time.Hour, 7 * 24 * time.Hour} {
		start := time.Now().Add(-ago)
		sid := id.New("vsn")
		if _, err := h.d.ExecContext(bg, `INSERT INTO visitor_sessions (id, workspace_id, visitor_id, started_at, last_activity_at,
			last_seen_at, ended_at, landing_url, referrer, utm_source, device, country, language, time_zone, page_views)
			VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, 'desktop', 'DE', 'de-DE', 'Europe/Berlin', 2)`,
			sid, h.ws.ID, v.VisitorID, db.Micro(start), db.Micro(start.Add(6*time.Minute)), db.Micro(start.Add(11*time.Minute)),
			"https://acme.example/blog/launch", "https://www.google.com/", []string{"google", ""}[i]); err != nil {
			t.Fatal(err)
		}
		for k, p := range []string{"https://acme.example/blog/launch", "https://acme.example/"} {
			if _, err := h.d.ExecContext(bg, `INSERT INTO page_views (id, workspace_id, visitor_id, session_id, url, title, at)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, id.New("pv"), h.ws.ID, v.VisitorID, sid, p, []string{"We launched v2", "Acme"}[k],
				db.Micro(start.Add(time.Duration(k)*5*time.Minute))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := h.d.ExecContext(bg, `UPDATE visitors SET sessions_count = 3 WHERE id = $1`, v.VisitorID); err != nil {
		t.Fatal(err)
	}
	h.setFields(h.ws.ID, v.VisitorID, field.SourceVisitor, map[string]string{"first_name": "Ada", "last_name": "Lovelace", "company": "Analytical Engines"})
	h.setFields(h.ws.ID, v.VisitorID, field.SourceForm, map[string]string{"title": "CTO", "company": "Analytical Engines Ltd", "company_size": "51-200"})
	if _, err := h.visitors.Identify(bg, nil, h.ws.ID, v.VisitorID, "ada@analytical.example"); err != nil {
		t.Fatal(err)
	}
	h.setFields(h.ws.ID, v.VisitorID, field.SourceAPI, map[string]string{"email": "ada@analytical.example"})
	if _, _, _, err := h.chat.VisitorMessage(bg, h.ws.ID, v.VisitorID, "Hi! Does the Team plan include SSO? https://acme.example/pricing", "c1"); err != nil {
		t.Fatal(err)
	}
	tab := testkit.NewTab(t, ctx)
	browserLogin(t, tab, h.srv.URL, "admin@acme.example", adminPassword)
	tab.Do("visitor 360", chromedp.Navigate(h.srv.URL+"/visitors/"+v.VisitorID), chromedp.WaitVisible(chromedp.ID("sessions-heading")))
	if got := testkit.Eval[string](tab, `document.querySelector('h1').textContent`); got != "Ada Lovelace" {
		t.Errorf("heading %q", got)
	}
	if n := testkit.Eval[int](tab, `document.querySelectorAll('article.session').length`); n != 3 {
		t.Errorf("%d sessions shown, want 3", n)
	}
	testkit.Screenshot(t, tab.Ctx, "visitor-360")
	if errs, _ := tab.Console(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}
