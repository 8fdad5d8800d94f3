package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/field"
	"github.com/beckonhq/beckon/internal/id"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/visitor"
	"github.com/beckonhq/beckon/internal/workspace"
)

const uaDesktop = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// Hostile text a visitor can send: none of it may ever reach a page as markup.
const (
	hostileName    = `<img src=x onerror=alert(1)>`
	hostileCompany = `"><script>alert(2)</script>`
	hostileTitle   = `</title><script>alert(3)</script>`
	hostileMessage = `<b>hi</b><script>alert(4)</script> see https://example.com/x?a=1&b=<i>`
)

// newVisitor records a page load of a new visitor of workspace wsID and writes it.
func (h *harness) newVisitor(wsID, url, title string) *visitor.HelloResult {
	h.t.Helper()
	ctx := context.Background()
	r, err := h.visitors.Hello(ctx, visitor.HelloInput{WorkspaceID: wsID, Page: visitor.Page{URL: url, Title: title},
		TimeZone: "Europe/Berlin", Language: "de-DE", UserAgent: uaDesktop})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.visitors.Flush(ctx); err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *harness) setFields(wsID, visitorID string, src field.Source, vals map[string]string) {
	h.t.Helper()
	if _, err := h.fields.Set(context.Background(), nil, wsID, visitorID, src, vals); err != nil {
		h.t.Fatal(err)
	}
}

// checkEscaped fails when a page holds any of the hostile strings as markup.
func checkEscaped(t *testing.T, what, body string) {
	t.Helper()
	for _, bad := range []string{"<img src=x", "<script>alert", "<b>hi</b>", "</title><script>", `"><script>`} {
		if strings.Contains(body, bad) {
			t.Errorf("%s: hostile text rendered as markup: %q", what, bad)
		}
	}
}

// rawGet fetches a page with c's cookies but without checkConsoleHTML, for pages whose visitor
// text (which the check would mistake for markup) is the point of the test.
func (c *consoleClient) rawGet(path string) consolePage {
	c.t.Helper()
	req, err := http.NewRequest("GET", c.h.srv.URL+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return consolePage{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func loggedIn(t *testing.T, h *harness, email, password string) *consoleClient {
	t.Helper()
	c := newConsoleClient(t, h)
	c.login(email, password)
	return c
}

// TestConsoleLivePagesAccess: reps and admins get the inbox, Live View and Visitor 360;
// meetings-only users never receive chats, so the menu hides them and the pages are 403; logged
// out, the pages lead to the login.
func TestConsoleLivePagesAccess(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		v := h.newVisitor(h.ws.ID, "https://acme.example/", "Home")
		h.userWithToken(h.ws.ID, "rep@acme.example", identity.RoleRep, "users:read")
		h.userWithToken(h.ws.ID, "meet@acme.example", identity.RoleMeetingsOnly, "users:read")
		pages := []string{"/inbox", "/inbox?stream=closed", "/live", "/visitors/" + v.VisitorID, "/visitors/cards?ids=" + v.VisitorID}

		out := newConsoleClient(t, h)
		for _, p := range pages {
			if got := out.get(p); got.status != http.StatusSeeOther || !strings.HasPrefix(got.header.Get("Location"), "/login?next=") {
				t.Errorf("logged out %s: %d to %q", p, got.status, got.header.Get("Location"))
			}
		}
		for _, u := range []struct{ email, password string }{{"admin@acme.example", adminPassword}, {"rep@acme.example", "user password 1"}} {
			c := loggedIn(t, h, u.email, u.password)
			home := c.get("/")
			wantBody(t, u.email+" home", home, `<a href="/inbox">Inbox</a>`, `<a href="/live">Live View</a>`)
			for _, p := range pages {
				if got := c.get(p); got.status != http.StatusOK {
					t.Errorf("%s %s: %d\n%s", u.email, p, got.status, got.body)
				}
			}
			wantBody(t, "inbox nav", c.get("/inbox"), `<a href="/inbox" aria-current="page">Inbox</a>`, `src="/static/inbox.js?v=`)
			wantBody(t, "live nav", c.get("/live"), `<a href="/live" aria-current="page">Live View</a>`, `src="/static/live.js?v=`)
		}
		m := loggedIn(t, h, "meet@acme.example", "user password 1")
		wantNoBody(t, "meetings-only home", m.get("/"), `href="/inbox"`, `href="/live"`)
		for _, p := range pages {
			got := m.get(p)
			wantStatus(t, "meetings-only "+p, got, http.StatusForbidden)
			if strings.Contains(got.body, "vis_") && strings.Contains(p, "cards") {
				t.Errorf("meetings-only cards leak: %s", got.body)
			}
		}
	})
}

// TestVisitor360 renders a visitor's page: fields with their sources, the identity, sessions
// with page views (paged), conversations; hostile visitor text stays text; a merged visitor's id
// redirects to the survivor; another workspace's visitor is not found.
func TestVisitor360(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		ctx := context.Background()
		v := h.newVisitor(h.ws.ID, "https://acme.example/pricing?utm_source=news&utm_campaign=fall", hostileTitle)
		h.setFields(h.ws.ID, v.VisitorID, field.SourceForm, map[string]string{"first_name": hostileName, "company": hostileCompany, "title": "CTO"})
		h.setFields(h.ws.ID, v.VisitorID, field.SourceRep, map[string]string{"company": "Initech"})
		if _, _, _, err := h.chat.VisitorMessage(ctx, h.ws.ID, v.VisitorID, hostileMessage, "c1"); err != nil {
			t.Fatal(err)
		}
		c := loggedIn(t, h, "admin@acme.example", adminPassword)

		p := c.rawGet("/visitors/" + v.VisitorID)
		wantStatus(t, "visitor 360", p, http.StatusOK)
		checkEscaped(t, "visitor 360", p.body)
		wantBody(t, "visitor 360", p,
			"&lt;img src=x onerror=alert(1)&gt;",           // the name, escaped
			"<span class=\"badge active\">On the site now", // the open session
			"Initech", "CTO", "2 sources", // the rep's company wins over the form's, both listed
			"Anonymous: no email address yet",
			"utm_source", "Landing page", "news", "fall",
			"&lt;/title&gt;&lt;script&gt;alert(3)&lt;/script&gt;", // the page title
			`href="https://acme.example/pricing?utm_source=news&amp;utm_campaign=fall" rel="noopener noreferrer nofollow" target="_blank"`,
			"Waiting for a rep",
			"&lt;b&gt;hi&lt;/b&gt;", // the conversation's preview
		)
		wantNoBody(t, "visitor 360", p, "Not verified", "Verified</span>")

		// With an unproven email, then a proven one.
		if _, err := h.visitors.Claim(ctx, nil, h.ws.ID, v.VisitorID, "eve@example.com"); err != nil {
			t.Fatal(err)
		}
		wantBody(t, "claimed email", c.rawGet("/visitors/"+v.VisitorID), "eve@example.com", "Not verified")
		if _, err := h.visitors.Identify(ctx, nil, h.ws.ID, v.VisitorID, "eve@example.com"); err != nil {
			t.Fatal(err)
		}
		page := c.rawGet("/visitors/" + v.VisitorID)
		wantBody(t, "proven email", page, `<span class="badge active">Verified</span>`)
		wantNoBody(t, "proven email", page, "Not verified")

		// A merged visitor's id leads to the survivor.
		other := h.newVisitor(h.ws.ID, "https://acme.example/b", "B")
		survivor, err := h.visitors.Identify(ctx, nil, h.ws.ID, other.VisitorID, "eve@example.com")
		if err != nil || survivor != v.VisitorID {
			t.Fatalf("merge: %s, %v", survivor, err)
		}
		wantRedirect(t, "merged visitor", c.get("/visitors/"+other.VisitorID), "/visitors/"+v.VisitorID)

		// Not found: another workspace's visitor, an unknown id, garbage; a bad cursor is invalid.
		globex, err := h.wss.Create(ctx, d, workspace.New{Name: "Globex", TimeZone: "UTC"})
		if err != nil {
			t.Fatal(err)
		}
		g := h.newVisitor(globex.ID, "https://globex.example/", "Globex")
		for _, path := range []string{"/visitors/" + g.VisitorID, "/visitors/" + id.New("vis"), "/visitors/nope"} {
			wantStatus(t, path, c.get(path), http.StatusNotFound)
		}
		wantStatus(t, "bad cursor", c.get("/visitors/"+v.VisitorID+"?before=nope"), http.StatusUnprocessableEntity)

		// Paging: 12 more sessions, an hour apart; the first page shows 10 and leads to older ones.
		base := time.Now().Add(-24 * time.Hour)
		for i := range 12 {
			at := db.Micro(base.Add(time.Duration(i) * time.Hour))
			if _, err := d.ExecContext(ctx, `INSERT INTO visitor_sessions (id, workspace_id, visitor_id, started_at, last_activity_at,
				last_seen_at, ended_at, landing_url, device, country) VALUES ($1, $2, $3, $4, $4, $4, $5, $6, 'desktop', 'FR')`,
				id.New("vsn"), h.ws.ID, v.VisitorID, at, at+60_000_000, fmt.Sprintf("https://acme.example/old/%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		first := c.get("/visitors/" + v.VisitorID)
		if n := strings.Count(first.body, `<article class="card session"`); n != 10 {
			t.Errorf("first page: %d sessions, want 10", n)
		}
		older := regexp.MustCompile(`href="(/visitors/[^"]+\?before=[^"]+)">Older sessions`).FindStringSubmatch(first.body)
		if older == nil {
			t.Fatalf("no link to older sessions:\n%s", first.body)
		}
		second := c.get(strings.ReplaceAll(older[1], "&amp;", "&"))
		wantStatus(t, "older sessions", second, http.StatusOK)
		// 14 sessions in all (the two real ones and 12 inserted): 4 on the second page.
		if n := strings.Count(second.body, `<article class="card session"`); n != 4 {
			t.Errorf("second page: %d sessions, want 4", n)
		}
		wantBody(t, "second page", second, "https://acme.example/old/0", `href="/visitors/`+v.VisitorID+`">Newest sessions`)
		wantNoBody(t, "second page", second, "Older sessions")
		// Meetings and CRM sections only come with data, which does not exist yet.
		wantNoBody(t, "visitor 360", first, "Meetings", "CRM record")
	})
}

// TestInboxPage renders the inbox from the server: the streams with counts, the chosen stream's
// conversations, the open conversation's messages and the visitor beside it, all escaped.
func TestInboxPage(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		ctx := context.Background()
		v := h.newVisitor(h.ws.ID, "https://acme.example/pricing", "Pricing")
		h.setFields(h.ws.ID, v.VisitorID, field.SourceForm, map[string]string{"first_name": hostileName, "company": hostileCompany})
		conv, _, _, err := h.chat.VisitorMessage(ctx, h.ws.ID, v.VisitorID, hostileMessage, "c1")
		if err != nil {
			t.Fatal(err)
		}
		anon := h.newVisitor(h.ws.ID, "https://acme.example/", "Home")
		if _, _, _, err := h.chat.VisitorMessage(ctx, h.ws.ID, anon.VisitorID, "hello?", "c2"); err != nil {
			t.Fatal(err)
		}
		c := loggedIn(t, h, "admin@acme.example", adminPassword)

		p := c.rawGet("/inbox")
		wantStatus(t, "inbox", p, http.StatusOK)
		checkEscaped(t, "inbox", p.body)
		wantBody(t, "inbox", p,
			`data-stream="waiting" aria-current="page"`, // nothing of mine: Waiting for Rep first
			`<span class="stream-label">Waiting for Rep</span> <span class="count">2</span>`,
			`<span class="stream-label">My conversations</span> <span class="count">0</span>`,
			`data-id="`+conv.ID+`"`, "&lt;img src=x onerror=alert(1)&gt;", "Visitor from Germany",
			`data-kind="waiting"`, `data-user="`+h.admin.ID+`"`)
		wantNoBody(t, "inbox", p, `id="conv" class="conv">`) // no conversation open

		open := c.rawGet("/inbox?stream=waiting&c=" + conv.ID)
		wantStatus(t, "open conversation", open, http.StatusOK)
		checkEscaped(t, "open conversation", open.body)
		wantBody(t, "open conversation", open,
			`data-conv="`+conv.ID+`"`, `<li class="msg msg-visitor" data-seq="1">`,
			"&lt;b&gt;hi&lt;/b&gt;&lt;script&gt;alert(4)&lt;/script&gt;",
			"Waiting for a rep for", `href="/visitors/`+v.VisitorID+`"`, `&#34;&gt;&lt;script&gt;alert(2)&lt;/script&gt;`)

		// The page without hostile text passes the console's HTML checks.
		wantStatus(t, "closed stream", c.get("/inbox?stream=closed"), http.StatusOK)
		wantStatus(t, "live stream", c.get("/inbox?stream=live"), http.StatusOK)
		wantStatus(t, "bad stream", c.get("/inbox?stream=everything"), http.StatusUnprocessableEntity)
		wantStatus(t, "unknown conversation", c.get("/inbox?c="+id.New("conv")), http.StatusNotFound)

		globex, err := h.wss.Create(ctx, d, workspace.New{Name: "Globex", TimeZone: "UTC"})
		if err != nil {
			t.Fatal(err)
		}
		g := h.newVisitor(globex.ID, "https://globex.example/", "Globex")
		gconv, _, _, err := h.chat.VisitorMessage(ctx, globex.ID, g.VisitorID, "secret", "c3")
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "another workspace's conversation", c.get("/inbox?c="+gconv.ID), http.StatusNotFound)
		wantNoBody(t, "another workspace", c.rawGet("/inbox"), gconv.ID, "secret")
	})
}

// TestVisitorCards answers the inbox's visitor cards: only the workspace's live visitors, their
// fields and latest page, and a bounded number per request.
func TestVisitorCards(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		ctx := context.Background()
		v := h.newVisitor(h.ws.ID, "https://acme.example/pricing", "Pricing")
		h.setFields(h.ws.ID, v.VisitorID, field.SourceForm, map[string]string{"first_name": "Ada", "last_name": "Lovelace",
			"company": hostileCompany, "title": "CTO", "email": "ada@example.com"})
		anon := h.newVisitor(h.ws.ID, "https://acme.example/", "Home")
		globex, err := h.wss.Create(ctx, d, workspace.New{Name: "Globex", TimeZone: "UTC"})
		if err != nil {
			t.Fatal(err)
		}
		g := h.newVisitor(globex.ID, "https://globex.example/", "Globex")
		c := loggedIn(t, h, "admin@acme.example", adminPassword)

		get := func(ids string) (int, map[string]visitorCard) {
			t.Helper()
			p := c.get("/visitors/cards?ids=" + ids)
			var out struct {
				Cards map[string]visitorCard `json:"cards"`
			}
			if p.status == http.StatusOK {
				if err := json.Unmarshal([]byte(p.body), &out); err != nil {
					t.Fatalf("cards: %v\n%s", err, p.body)
				}
				if ct := p.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("cards content type %q", ct)
				}
			}
			return p.status, out.Cards
		}
		status, cards := get(strings.Join([]string{v.VisitorID, anon.VisitorID, g.VisitorID, "vis_nope", v.VisitorID}, ","))
		if status != http.StatusOK || len(cards) != 2 {
			t.Fatalf("cards: %d %+v", status, cards)
		}
		want := visitorCard{ID: v.VisitorID, Name: "Ada Lovelace", Email: "ada@example.com", Company: hostileCompany, Title: "CTO",
			Country: "DE", CountryName: "Germany", PageURL: "https://acme.example/pricing", PageTitle: "Pricing", OnSite: true, URL: "/visitors/" + v.VisitorID}
		if cards[v.VisitorID] != want {
			t.Errorf("card\n got %+v\nwant %+v", cards[v.VisitorID], want)
		}
		if a := cards[anon.VisitorID]; a.Name != "" || a.Country != "DE" || !a.OnSite {
			t.Errorf("anonymous card %+v", a)
		}
		if status, cards := get(""); status != http.StatusOK || len(cards) != 0 {
			t.Errorf("no ids: %d %+v", status, cards)
		}
		many := make([]string, maxCards+1)
		for i := range many {
			many[i] = id.New("vis")
		}
		if status, _ := get(strings.Join(many, ",")); status != http.StatusUnprocessableEntity {
			t.Errorf("%d ids: %d", len(many), status)
		}
	})
}
