package web_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/routing"
	"github.com/beckonhq/beckon/internal/testkit"
)

// The routing console's browser tests run the whole wired server (app.New, as `beckon serve`
// does) with the demo workspace: the admin Ada builds routing in the rules editor, simulates it,
// and reads the report and the inbox's "Why this rep?" after visitors were routed for real.

// rcBrowser is a logged-in tab on the wired server, with its helpers.
type rcBrowser struct {
	t   *testing.T
	tab *testkit.Tab
	e   *consoleEnv
}

func rcOpen(t *testing.T, e *consoleEnv, email string) *rcBrowser {
	t.Helper()
	tab := testkit.NewTab(t, testkit.Browser(t))
	tab.Do("log in", chromedp.Navigate(e.base+"/login"), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email), chromedp.SendKeys(chromedp.ID("password"), e.info.AdminPassword))
	if _, err := chromedp.Run(tab.Ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(`main button[type="submit"]`)))); err != nil {
		t.Fatal(err)
	}
	return &rcBrowser{t: t, tab: tab, e: e}
}

// wait polls the JavaScript condition cond until it holds.
func (b *rcBrowser) wait(what, cond string) {
	b.t.Helper()
	testkit.Eventually(b.t, what, func() bool {
		return testkit.Eval[bool](b.tab, `(() => { try { return !!(`+cond+`) } catch (e) { return false } })()`)
	})
}

func (b *rcBrowser) text(sel string) string {
	b.t.Helper()
	return testkit.Eval[string](b.tab, `(document.querySelector(`+quote(sel)+`) || {}).textContent || ''`)
}

// set gives the control sel a value as typing or choosing does: focus, the value, then its input
// and change events.
func (b *rcBrowser) set(sel, value string) {
	b.t.Helper()
	ok := testkit.Eval[bool](b.tab, `(el => { if (!el) return false; el.focus(); el.value = `+quote(value)+`;
		el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true})); return el.value == `+quote(value)+` })(document.querySelector(`+quote(sel)+`))`)
	if !ok {
		b.t.Fatalf("cannot set %s to %q", sel, value)
	}
}

// typeIn empties the text control sel and types text into it with the keyboard, then leaves it
// (Tab), as an admin does.
func (b *rcBrowser) typeIn(sel, text string) {
	b.t.Helper()
	testkit.Eval[any](b.tab, `(el => { el.focus(); el.value = ''; el.dispatchEvent(new Event('input', {bubbles: true})); null })(document.querySelector(`+quote(sel)+`))`)
	b.tab.Do("type in "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
	testkit.Eval[any](b.tab, `(el => { el.dispatchEvent(new Event('change', {bubbles: true})); null })(document.querySelector(`+quote(sel)+`))`)
}

func (b *rcBrowser) click(sel string) {
	b.t.Helper()
	b.tab.Do("click "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

func (b *rcBrowser) noErrors() {
	b.t.Helper()
	if errs, _ := b.tab.Console(); len(errs) > 0 {
		b.t.Errorf("console errors: %v", errs)
	}
	if testkit.Eval[bool](b.tab, `!!window.__xss || !!document.querySelector('#routing img, #routing b, #routing script, #inbox .why img')`) {
		b.t.Error("text became markup")
	}
}

func rcUser(t *testing.T, e *consoleEnv, email string) *identity.User {
	t.Helper()
	u, err := e.a.Identity.UserByEmail(context.Background(), e.info.WorkspaceID, email)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestRoutingEditorInBrowser: the admin builds a pool of two reps and a rule with a condition in
// the editor, with the keyboard where it matters; a bad country is refused and the message
// stands next to the input at fault, with the edits kept; fixed, the draft saves and publishes.
// A simulation names the rep who would be rung and why the other was skipped.
func TestRoutingEditorInBrowser(t *testing.T) {
	e := startConsoleApp(t)
	ctx := context.Background()
	ws := e.info.WorkspaceID
	riley, sam := rcUser(t, e, "riley@acme.example"), rcUser(t, e, "sam@acme.example")
	b := rcOpen(t, e, e.info.AdminEmail)
	b.tab.Do("routing", chromedp.Navigate(e.base+"/settings/routing"))
	b.wait("the editor", `!document.getElementById('routing-editor').hidden`)
	if got := b.text("#draft-state"); !strings.Contains(got, "Nothing published") {
		t.Errorf("state before anything %q", got)
	}
	if got := b.text(`.mainnav a[aria-current="page"]`); got != "Routing" {
		t.Errorf("menu item %q", got)
	}

	// A pool: its id follows its name (text stays text), two members with weights.
	b.click("#add-pool")
	b.wait("the new pool's name has the focus", `document.activeElement.dataset.path == 'pools[0].name'`)
	b.typeIn(`[data-path="pools[0].name"]`, "Sales <b>EMEA</b>")
	if got := b.text(`[data-path="pools[0].id"]`); got != "Id: sales-b-emea-b" {
		t.Errorf("pool id %q", got)
	}
	member := func(pool int, u *identity.User) string {
		return `#pools > li:nth-child(` + string(rune('1'+pool)) + `) input[type="checkbox"][data-k$=":m:` + u.ID + `"]`
	}
	b.click(member(0, riley))
	b.click(member(0, sam))
	b.wait("weights", `document.querySelector('[data-path="pools[0].members[1].weight"]')`)
	b.typeIn(`[data-path="pools[0].members[0].weight"]`, "2")
	// Broadcast hides the weights.
	b.set(`[data-path="pools[0].strategy"]`, "broadcast")
	b.wait("no weights for broadcast", `!document.querySelector('[data-path="pools[0].members[0].weight"]')`)
	b.set(`[data-path="pools[0].strategy"]`, "round_robin")
	b.wait("weights again", `document.querySelector('[data-path="pools[0].members[0].weight"]').value == '2'`)

	// A rule: name, a condition (country is any of), the pool as its target.
	b.click("#add-rule")
	b.wait("the new rule's name has the focus", `document.activeElement.dataset.path == 'rules[0].name'`)
	b.typeIn(`[data-path="rules[0].name"]`, "German-speaking")
	b.click(`#rules > li:first-child .cond-add button:first-child`)
	b.wait("a condition", `document.querySelector('[data-path="rules[0].when.subject"]')`)
	if got := testkit.Eval[string](b.tab, `document.querySelector('[data-path="rules[0].when.subject"]').value`); got != "geo.country" {
		t.Errorf("the new condition's subject %q", got)
	}
	b.set(`[data-path="rules[0].when.op"]`, "in")
	b.wait("a list of countries", `document.querySelector('input[data-path="rules[0].when.value"]')`)
	b.typeIn(`input[data-path="rules[0].when.value"]`, "DE, AT, XX")
	if got := testkit.Eval[string](b.tab, `document.querySelector('[data-path="rules[0].then.pool"]').value`); got != "sales-b-emea-b" {
		t.Errorf("the rule's pool %q", got)
	}
	// The default is the pool too; the ring lasts long enough for the test.
	b.set(`[data-path="default.kind"]`, "pool")
	b.wait("the default's pool", `document.querySelector('[data-path="default.pool"]')`)
	b.set(`[data-path="default.pool"]`, "sales-b-emea-b")
	b.typeIn("#ring-seconds", "120")

	// A second rule, moved above the first with the keyboard, then deleted.
	b.click("#add-rule")
	b.typeIn(`[data-path="rules[1].name"]`, `<img src=x onerror=window.__xss=1>`)
	testkit.Eval[any](b.tab, `document.querySelector('#rules > li:nth-child(2) button[data-k$=":up"]').focus(); null`)
	enter(b.tab)
	b.wait("moved up", `document.querySelector('[data-path="rules[0].name"]').value.startsWith('<img')`)
	b.wait("the focus on the moved rule", `document.activeElement.dataset.k && document.activeElement.dataset.k.endsWith(':down') && document.activeElement.closest('li').dataset.path == 'rules[0]'`)
	enter(b.tab)
	b.wait("moved back down", `document.querySelector('[data-path="rules[1].name"]').value.startsWith('<img')`)
	testkit.Eval[any](b.tab, `document.querySelector('#rules > li:nth-child(2) button[data-k$=":delete"]').focus(); null`)
	enter(b.tab)
	b.wait("deleted", `document.querySelectorAll('#rules > li').length == 1`)
	if got := b.text("#draft-state"); got != "Unsaved changes" {
		t.Errorf("state with edits %q", got)
	}

	// Save: XX is no country. The message stands next to the countries' input, the edits stay.
	b.click("#save-draft")
	b.wait("the error", `document.querySelector('.routing-field-error')`)
	sel := `input[data-path="rules[0].when.value"]`
	if got := testkit.Eval[string](b.tab, `document.querySelector('`+sel+`').nextElementSibling.textContent`); !strings.HasPrefix(got, `"XX" is not an ISO 3166 country code`) {
		t.Errorf("next to the countries: %q", got)
	}
	if !testkit.Eval[bool](b.tab, `(el => el.getAttribute('aria-invalid') == 'true' && document.activeElement == el && el.value == 'DE, AT, XX')(document.querySelector('`+sel+`'))`) {
		t.Error("the countries' input is not marked invalid, focused and as typed")
	}
	if got := b.text("#routing-banner"); !strings.Contains(got, "not saved") || !strings.Contains(got, "German-speaking") {
		t.Errorf("banner %q", got)
	}
	if d, err := e.a.Routing.GetDraft(ctx, ws); err != nil || d.Unpublished || strings.Contains(string(d.Body), "German") {
		t.Fatalf("a refused draft was stored: %s %v", d.Body, err)
	}
	testkit.Screenshot(t, b.tab.Ctx, "routing-error")

	// Fixed, it saves (normalised: the codes come back as the API keeps them) and publishes.
	b.typeIn(sel, "de at")
	b.wait("the error gone", `!document.querySelector('.routing-field-error')`)
	b.click("#save-draft")
	b.wait("saved", `!document.getElementById('routing-notice').hidden && document.getElementById('routing-notice').textContent.includes('saved')`)
	b.wait("unpublished", `document.getElementById('draft-state').textContent == 'Unpublished changes'`)
	if got := testkit.Eval[string](b.tab, `document.querySelector('`+sel+`').value`); got != "DE, AT" {
		t.Errorf("countries after saving %q", got)
	}
	b.click("#publish")
	b.wait("published", `document.getElementById('routing-notice').textContent.includes('Version 1 is published')`)
	b.wait("in force", `document.getElementById('draft-state').textContent == 'Version 1 is in force'`)
	b.wait("the version listed", `document.querySelector('#versions li') && document.querySelector('#versions li').textContent.includes('Version 1')`)
	vs, err := e.a.Routing.Versions(ctx, ws)
	if err != nil || len(vs) != 1 {
		t.Fatalf("versions %+v %v", vs, err)
	}
	v, err := e.a.Routing.GetVersion(ctx, ws, 1)
	if err != nil {
		t.Fatal(err)
	}
	var cfg routing.Config
	if err := json.Unmarshal(v.Body, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Pools) != 1 || cfg.Pools[0].Name != "Sales <b>EMEA</b>" || len(cfg.Pools[0].Members) != 2 || cfg.Pools[0].Members[0].UserID != riley.ID ||
		cfg.Pools[0].Members[0].Weight != 2 || cfg.Pools[0].Members[1].UserID != sam.ID || cfg.RingSeconds != 120 {
		t.Errorf("published pools %+v, ring %d", cfg.Pools, cfg.RingSeconds)
	}
	if len(cfg.Rules) != 1 || cfg.Rules[0].ID != "german-speaking" || string(cfg.Rules[0].When) != `{"subject":"geo.country","op":"in","value":["DE","AT"]}` ||
		cfg.Rules[0].Then.Pool != "sales-b-emea-b" || cfg.Default.Pool != "sales-b-emea-b" {
		t.Errorf("published rules %+v default %+v", cfg.Rules, cfg.Default)
	}

	// Simulate a visitor from Germany with Riley available and Sam away: Riley is rung, Sam
	// was skipped as away.
	b.set("#sim-country", "DE")
	b.set("#sim-rep-"+riley.ID, "available")
	b.set("#sim-rep-"+sam.ID, "away")
	b.click("#sim-run")
	b.wait("the result", `document.querySelector('#sim-result .decision')`)
	if got := b.text("#sim-result .decision-outcome strong"); got != "Rings Riley Rivera" {
		t.Errorf("outcome %q", got)
	}
	if got := b.text("#sim-result .decision-summary"); !strings.Contains(got, "German-speaking") || !strings.Contains(got, "Riley Rivera") {
		t.Errorf("summary %q", got)
	}
	if got := b.text(`#sim-result tr.candidate[data-user="` + sam.ID + `"]`); !strings.Contains(got, "Sam Sato") || !strings.Contains(got, "skipped: is away") {
		t.Errorf("Sam's row %q", got)
	}
	if got := b.text("#sim-result .trace-target-title"); !strings.Contains(got, "Pool Sales <b>EMEA</b> (round robin)") {
		t.Errorf("target %q", got)
	}
	if got := b.text("#sim-result .trace-rule.matched"); !strings.Contains(got, "German-speaking") || !strings.Contains(got, "Country DE") {
		t.Errorf("the matched rule %q", got)
	}
	// From France the rule does not match: its failing comparison is shown.
	b.set("#sim-country", "FR")
	b.click("#sim-run")
	b.wait("the default", `document.querySelector('#sim-result .decision-summary').textContent.includes('No rule matched')`)
	if got := b.text("#sim-result .trace-step.failing"); !strings.Contains(got, "FR") || !strings.Contains(got, "does not hold") {
		t.Errorf("failing step %q", got)
	}
	testkit.Screenshot(t, b.tab.Ctx, "routing-editor")
	b.noErrors()
}

// TestRoutingReportInBrowser: visitors routed for real through a published pool show in the
// report as one bar per member with the fairness figures, and the inbox explains each one with
// "Why this rep?".
func TestRoutingReportInBrowser(t *testing.T) {
	e := startConsoleApp(t)
	ctx := context.Background()
	ws := e.info.WorkspaceID
	admin, riley, sam := rcUser(t, e, e.info.AdminEmail), rcUser(t, e, "riley@acme.example"), rcUser(t, e, "sam@acme.example")
	cfg := `{"pools": [{"id": "sales", "name": "Sales", "strategy": "round_robin", "members": [{"user_id": "` + riley.ID + `"}, {"user_id": "` + sam.ID + `"}]}],
		"default": {"kind": "pool", "pool": "sales"}, "ring_seconds": 600}`
	if _, err := e.a.Routing.SaveDraft(ctx, ws, admin.ID, []byte(cfg)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.Routing.Publish(ctx, ws, admin.ID); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*identity.User{riley, sam} {
		release, err := e.a.Presence.Connect(ctx, ws, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(release)
		if _, err := e.a.Presence.SetStatus(ctx, ws, u.ID, "available"); err != nil {
			t.Fatal(err)
		}
	}
	var convs []string
	for i, name := range []string{"Grace", "Alan", "Ada", "Linus"} {
		v := e.visitor(t, "Europe/Berlin", map[string]string{"first_name": name})
		convs = append(convs, e.say(t, v, "Hello, question "+string(rune('1'+i))))
	}
	offered := map[string]int{}
	for _, c := range convs {
		recs, err := e.a.Routing.Decisions(ctx, ws, c)
		if err != nil || len(recs) != 1 || recs[0].Outcome != routing.OutcomeOffer || len(recs[0].Offered) != 1 {
			t.Fatalf("conversation %s routed %+v %v", c, recs, err)
		}
		offered[recs[0].Offered[0]]++
	}
	if offered[riley.ID] != 2 || offered[sam.ID] != 2 {
		t.Fatalf("offers %v: round robin should give each two", offered)
	}

	b := rcOpen(t, e, e.info.AdminEmail)
	b.tab.Do("report", chromedp.Navigate(e.base+"/routing/report"))
	b.wait("the chart's bars", `document.querySelectorAll('#report-pools .report-pool[data-pool="sales"] .rchart-bar').length == 2`)
	bars := testkit.Eval[[]string](b.tab, `[...document.querySelectorAll('#report-pools .rchart-bar')].map(r => r.dataset.key + '=' + r.dataset.value + ':' + (+r.getAttribute('width') > 0))`)
	if strings.Join(bars, ",") != riley.ID+"=2:true,"+sam.ID+"=2:true" {
		t.Errorf("bars %v", bars)
	}
	if got := b.text(`.report-pool[data-pool="sales"] .pool-spread`) + " " + b.text(`.report-pool[data-pool="sales"] .pool-gini`); got != "0 0.00" {
		t.Errorf("fairness %q", got)
	}
	if got := b.text("#report-outcomes .stat-offer dd"); got != "4" {
		t.Errorf("offers %q", got)
	}
	if n := testkit.Eval[int](b.tab, `document.querySelectorAll('#report-reps .rchart-bar').length`); n != 2 {
		t.Errorf("%d bars for the reps", n)
	}
	if !testkit.Eval[bool](b.tab, `document.querySelector('#report-pools svg.rchart').getAttribute('role') == 'img' && document.querySelector('#report-pools svg.rchart title').textContent.includes('Sales')`) {
		t.Error("the chart has no accessible name")
	}
	testkit.Screenshot(t, b.tab.Ctx, "routing-report")
	// A period without decisions: zero bars, nothing offered.
	b.set("#period-from", "2020-01-01")
	b.set("#period-to", "2020-01-31")
	b.click("#period-show")
	b.wait("the empty period", `document.querySelector('#report-outcomes .stat-offer dd').textContent == '0' && location.search.includes('from=2020-01-01')`)
	if got := testkit.Eval[[]string](b.tab, `[...document.querySelectorAll('#report-pools .rchart-bar')].map(r => r.dataset.value)`); strings.Join(got, ",") != "0,0" {
		t.Errorf("bars of an empty period %v", got)
	}
	b.noErrors()

	// The inbox explains the first conversation: the summary, and the candidates.
	recs, _ := e.a.Routing.Decisions(ctx, ws, convs[0])
	chosen := "Riley Rivera"
	if recs[0].Offered[0] == sam.ID {
		chosen = "Sam Sato"
	}
	b.tab.Do("inbox", chromedp.Navigate(e.base+"/inbox?stream=waiting&c="+convs[0]))
	b.wait("Why this rep?", `!document.getElementById('why').hidden`)
	if got := b.text("#why summary"); !strings.Contains(got, "Why this rep?") || !strings.Contains(got, "Rings "+chosen) {
		t.Errorf("why summary %q", got)
	}
	b.click("#why summary")
	b.wait("open", `document.getElementById('why').open`)
	if got := b.text("#why .decision-summary"); got != recs[0].Trace.Summary || !strings.Contains(got, chosen) {
		t.Errorf("why %q, want the decision's summary %q", got, recs[0].Trace.Summary)
	}
	if got := b.text("#why .decision-heading"); got != "First routing" {
		t.Errorf("heading %q", got)
	}
	b.click("#why .decision-more summary")
	b.wait("the candidates", `document.querySelectorAll('#why tr.candidate').length == 2`)
	testkit.Screenshot(t, b.tab.Ctx, "routing-why")
	b.noErrors()
}

// TestRoutingImportInBrowser: a configuration imported as JSON — every kind of target, weights,
// nested and negated groups — shows in the editor and comes out of it as it went in, and saves;
// JSON the editor cannot show (unknown shapes, hostile text) is kept as it is, stays text, and the
// server's refusal is shown.
func TestRoutingImportInBrowser(t *testing.T) {
	e := startConsoleApp(t)
	riley, sam, dana := rcUser(t, e, "riley@acme.example"), rcUser(t, e, "sam@acme.example"), rcUser(t, e, "dana@acme.example")
	in := strings.NewReplacer("usr_dana", dana.ID, "usr_sam", sam.ID, "usr_riley", riley.ID).Replace(`{
  "territories": [{"name": "DACH", "countries": ["DE", "AT", "CH"]}],
  "teams": [{"id": "se", "name": "Solution engineers", "members": ["usr_dana", "usr_sam"]}],
  "pools": [
    {"id": "emea", "name": "EMEA sales", "strategy": "round_robin",
     "members": [{"user_id": "usr_dana", "weight": 2}, {"user_id": "usr_sam"}],
     "max_chats": 4, "fallback": {"kind": "pool", "pool": "global"}},
    {"id": "global", "name": "Everyone", "strategy": "least_busy",
     "members": [{"user_id": "usr_dana"}, {"user_id": "usr_sam"}, {"user_id": "usr_riley"}],
     "fallback": {"kind": "capture"}}
  ],
  "rules": [
    {"id": "owner", "name": "Known accounts go to their owner",
     "when": {"subject": "account.owner_present", "op": "is", "value": true},
     "then": {"kind": "owner", "pool": "emea", "fallback": {"kind": "pool", "pool": "emea"}}},
    {"id": "emea-big", "name": "EMEA, 200+ people, on pricing",
     "when": {"all": [
       {"subject": "geo.region", "op": "eq", "value": "EMEA"},
       {"subject": "company.size", "op": "gte", "value": 200},
       {"subject": "session.page_url", "op": "matches", "value": "*/pricing*"}]},
     "then": {"kind": "pool", "pool": "emea"}},
    {"id": "nested", "name": "Not DACH, not paid search or small", "disabled": true,
     "when": {"all": [
       {"not": {"subject": "geo.territory", "op": "in", "value": ["DACH"]}},
       {"not": {"any": [{"subject": "session.utm_source", "op": "in", "value": ["google", "bing"]},
                        {"subject": "company.size", "op": "between", "value": [1, 50]}]}}]},
     "then": {"kind": "team", "team": "se", "fallback": {"kind": "rep", "user": "usr_riley", "fallback": {"kind": "booker"}}}}
  ],
  "default": {"kind": "pool", "pool": "global"},
  "ring_seconds": 45,
  "max_chats": 3,
  "owner_takes_turn": true
}`)
	b := rcOpen(t, e, e.info.AdminEmail)
	b.tab.Do("routing", chromedp.Navigate(e.base+"/settings/routing"))
	b.wait("the editor", `!document.getElementById('routing-editor').hidden`)
	b.click(".json-import summary")
	b.set("#import-json", in)
	b.click("#import-apply")
	b.wait("imported", `document.querySelectorAll('#rules > li').length == 3`)
	if got := testkit.Eval[string](b.tab, `document.querySelector('[data-path="rules[2].when.all[1].not.any[1].value[0]"]').value`); got != "1" {
		t.Errorf("the nested range's low end %q", got)
	}
	if !testkit.Eval[bool](b.tab, `document.querySelector('[data-path="rules[2].when.all[0]"][type="checkbox"]').checked`) {
		t.Error("the negated comparison is not marked Not")
	}
	var want, got map[string]any
	json.Unmarshal([]byte(in), &want)
	b.wait("the JSON view", `document.getElementById('raw-json').textContent.includes('"emea-big"')`)
	raw := testkit.Eval[string](b.tab, `document.getElementById('raw-json').textContent`)
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatalf("the JSON view: %v\n%s", err, raw)
	}
	if w, g := rcJSON(want), rcJSON(got); w != g {
		t.Errorf("the editor changed the configuration:\n got %s\nwant %s", g, w)
	}
	b.click("#save-draft")
	b.wait("saved", `document.getElementById('routing-notice').textContent.includes('saved')`)

	// What the editor cannot show, and hostile text.
	b.set("#import-json", `{"rules": [{"id": "x", "name": "<img src=x onerror=window.__xss=1>", "when": {"weird": [1, "<b>2</b>"]},
		"then": {"kind": "pool", "pool": "<script>window.__xss=2</script>", "fallback": {"kind": "nope"}}}],
		"pools": "not a list", "territories": [null, 1, {"name": "<i>x</i>", "countries": "DE"}], "default": 7}`)
	b.click("#import-apply")
	b.wait("shown", `document.querySelector('#rules .cond-raw') && !document.getElementById('save-draft').disabled`)
	if got := b.text("#rules .cond-raw code"); got != `{"weird":[1,"<b>2</b>"]}` {
		t.Errorf("the condition kept as it is: %q", got)
	}
	if got := testkit.Eval[string](b.tab, `document.querySelector('[data-path="rules[0].name"]').value`); got != "<img src=x onerror=window.__xss=1>" {
		t.Errorf("name %q", got)
	}
	b.click("#save-draft")
	b.wait("refused", `!document.getElementById('routing-banner').hidden && document.querySelector('.routing-field-error')`)
	// Not JSON at all: said next to the text.
	b.set("#import-json", `{"rules": [`)
	b.click("#import-apply")
	b.wait("not JSON", `!document.getElementById('import-error').hidden && document.getElementById('import-json').getAttribute('aria-invalid') == 'true'`)
	b.noErrors()
}

// rcJSON writes a decoded JSON value with sorted keys, for comparing.
func rcJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
