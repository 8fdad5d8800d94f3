package web

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/routing"
	"github.com/beckonhq/beckon/internal/testkit"
)

// rcWireRouting gives the harness's server a routing service over its own database, users and
// fields, as internal/app wires it (every rep offline: the page tests route nobody).
func rcWireRouting(h *harness) *routing.Service {
	h.t.Helper()
	env := func(ctx context.Context, wsID string) (routing.Env, error) {
		env := routing.Env{Users: map[string]routing.UserInfo{}}
		defs, err := h.fields.List(ctx, wsID)
		if err != nil {
			return env, err
		}
		for _, d := range defs {
			env.Fields = append(env.Fields, routing.FieldDef{Key: d.Key, Label: d.Label, Type: string(d.Type), Options: d.Options})
		}
		users, err := h.id.ListUsers(ctx, wsID)
		if err != nil {
			return env, err
		}
		for _, u := range users {
			env.Users[u.ID] = routing.UserInfo{Name: u.Name(), Role: string(u.Role), Active: u.Active}
		}
		return env, nil
	}
	svc := routing.New(routing.Options{DB: h.d, Clock: h.clk, Env: env,
		Reps: func(ctx context.Context, wsID string) (map[string]routing.RepState, error) {
			users, err := h.id.ListUsers(ctx, wsID)
			if err != nil {
				return nil, err
			}
			out := map[string]routing.RepState{}
			for _, u := range users {
				out[u.ID] = routing.RepState{Name: u.Name(), Status: routing.StatusOffline, Active: u.Active, Role: string(u.Role)}
			}
			return out, nil
		},
		Visitor: func(context.Context, string, string) (*routing.Visitor, string, error) {
			return &routing.Visitor{}, "", nil
		},
		Waiting: func(context.Context, string, string) (bool, error) { return false, nil },
	})
	h.s.deps.Routing = svc // before any request reaches the server
	return svc
}

// TestRoutingPages: the rules editor and the report are for admins: a visitor of the console
// logs in first, reps and meetings-only users get the 403 page, admins the page with its script
// under the console's CSP; a server without routing says so.
func TestRoutingPages(t *testing.T) {
	h := newHarness(t, testkit.SQLite(t))

	admin := newConsoleClient(t, h)
	admin.login("admin@acme.example", adminPassword)
	p := admin.get("/settings/routing")
	wantStatus(t, "without routing", p, http.StatusServiceUnavailable)
	wantBody(t, "without routing", p, "Routing is not available on this server.")

	rcWireRouting(h)
	anon := newConsoleClient(t, h)
	for _, path := range []string{"/settings/routing", "/routing/report"} {
		if p := anon.get(path); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/login") {
			t.Errorf("%s without a session: %d to %q, want a redirect to the login page", path, p.status, p.header.Get("Location"))
		}
	}

	h.userWithToken(h.ws.ID, "rep@acme.example", identity.RoleRep, string(identity.ScopeProfileWrite))
	h.userWithToken(h.ws.ID, "meet@acme.example", identity.RoleMeetingsOnly, string(identity.ScopeProfileWrite))
	for _, email := range []string{"rep@acme.example", "meet@acme.example"} {
		c := newConsoleClient(t, h)
		c.login(email, "user password 1")
		for _, path := range []string{"/settings/routing", "/routing/report"} {
			p := c.get(path)
			wantStatus(t, email+" "+path, p, http.StatusForbidden)
			wantBody(t, email+" "+path, p, "Not allowed", "Only an admin can see and change routing.")
			wantNoBody(t, email+" "+path, p, "routing.js")
		}
		wantNoBody(t, email+" menu", c.get("/"), `href="/settings/routing"`)
	}

	wantBody(t, "the admin's menu", admin.get("/"), `<a href="/settings/routing">Routing</a>`)

	p = admin.get("/settings/routing")
	wantStatus(t, "editor", p, http.StatusOK)
	if csp := p.header.Get("Content-Security-Policy"); csp != consoleCSP {
		t.Errorf("editor CSP %q", csp)
	}
	wantBody(t, "editor", p, `<h1>Routing</h1>`, `id="routing"`, `data-csrf="`, `<a href="/settings/routing" aria-current="page">Routing</a>`,
		`id="rules"`, `id="pools"`, `id="save-draft"`, `id="publish"`, `id="sim-form"`, `id="replay-form"`, `id="versions"`, `id="raw-json"`,
		`<option value="DE">Germany</option>`, `href="/routing/report"`)
	js := regexp.MustCompile(`<script src="(/static/routing\.js\?v=[0-9a-f]+)" defer></script>`).FindStringSubmatch(p.body)
	if js == nil {
		t.Fatal("the editor does not load routing.js")
	}
	if s := admin.get(js[1]); s.status != http.StatusOK || !strings.Contains(s.header.Get("Content-Type"), "javascript") || !strings.Contains(s.body, "/api/v1/routing/config") {
		t.Errorf("routing.js: %d %s", s.status, s.header.Get("Content-Type"))
	}
	// Every country routing accepts is offered once, by name.
	if n := strings.Count(p.body, `<option value="`); n < 240 {
		t.Errorf("the simulate form offers %d options; want every country", n)
	}

	p = admin.get("/routing/report")
	wantStatus(t, "report", p, http.StatusOK)
	if csp := p.header.Get("Content-Security-Policy"); csp != consoleCSP {
		t.Errorf("report CSP %q", csp)
	}
	wantBody(t, "report", p, `<h1>Routing report</h1>`, `id="period-from" type="date" value=""`, `id="report-pools"`, `id="report-reps"`)
	js = regexp.MustCompile(`<script src="(/static/routing_report\.js\?v=[0-9a-f]+)" defer></script>`).FindStringSubmatch(p.body)
	if js == nil {
		t.Fatal("the report does not load routing_report.js")
	}
	if s := admin.get(js[1]); s.status != http.StatusOK || !strings.Contains(s.body, "/api/v1/routing/report") {
		t.Errorf("routing_report.js: %d", s.status)
	}

	// The period in the URL fills the form; what is not a date is left out.
	for _, c := range []struct{ query, from, to string }{
		{"?from=2026-10-01&to=2026-10-31", "2026-10-01", "2026-10-31"},
		{"?from=yesterday&to=2026-13-40", "", ""},
		{`?from="><script>alert(1)</script>`, "", ""},
	} {
		p := admin.get("/routing/report" + strings.ReplaceAll(c.query, `"`, "%22"))
		wantStatus(t, "report "+c.query, p, http.StatusOK)
		wantBody(t, "report "+c.query, p, `id="period-from" type="date" value="`+c.from+`"`, `id="period-to" type="date" value="`+c.to+`"`)
		wantNoBody(t, "report "+c.query, p, "<script>alert")
	}

	// The inbox has the "Why this rep?" panel for the script to fill.
	wantBody(t, "inbox", admin.get("/inbox"), `<details id="why" class="why" hidden>`, `id="why-body"`)
}

// TestRoutingCountries: the editor offers every country routing conditions accept, sorted by
// name, each once.
func TestRoutingCountries(t *testing.T) {
	cs := routingCountries()
	if len(cs) < 240 || len(cs) > 260 {
		t.Fatalf("%d countries", len(cs))
	}
	seen := map[string]bool{}
	for i, c := range cs {
		if len(c.Code) != 2 || c.Name == "" || seen[c.Code] {
			t.Errorf("country %d: %+v", i, c)
		}
		seen[c.Code] = true
		if i > 0 && cs[i-1].Name > c.Name {
			t.Errorf("%q before %q: not sorted by name", cs[i-1].Name, c.Name)
		}
	}
	for _, code := range []string{"DE", "US", "JP", "BR", "ZA"} {
		if !seen[code] {
			t.Errorf("%s missing", code)
		}
	}
}

// FuzzReportDay: whatever the URL holds, the report's period is a real day written YYYY-MM-DD,
// or nothing.
func FuzzReportDay(f *testing.F) {
	for _, s := range []string{"2026-10-01", "2026-02-29", "2028-02-29", "2026-13-01", "2026-1-1", "yesterday", "", "2026-10-01T00:00:00Z",
		"+2026-10-01", "２０２６-10-01", "2026-10-01\x00", `"><script>`, "0000-01-01", "9999-12-31"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := reportDay(s)
		if got == "" {
			return
		}
		if got != s || !regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`).MatchString(got) {
			t.Fatalf("reportDay(%q) = %q", s, got)
		}
		d, err := time.Parse(time.DateOnly, got)
		if err != nil || d.Format(time.DateOnly) != got {
			t.Fatalf("reportDay(%q) = %q, not a day (%v)", s, got, err)
		}
	})
}
