package web

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/workspace"
)

// consoleClient is a browser-like client of the console: it keeps cookies and does not follow
// redirects, so that tests see each 303.
type consoleClient struct {
	t  *testing.T
	h  *harness
	hc *http.Client
}

// consolePage is one answer of the console.
type consolePage struct {
	status int
	header http.Header
	body   string
}

func newConsoleClient(t *testing.T, h *harness) *consoleClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &consoleClient{t: t, h: h, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *consoleClient) do(req *http.Request) consolePage {
	c.t.Helper()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	p := consolePage{status: resp.StatusCode, header: resp.Header, body: string(b)}
	emailPreview := strings.HasPrefix(req.URL.Path, "/settings/email/templates/") && strings.HasSuffix(req.URL.Path, "/html")
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") && (p.status < 300 || p.status >= 400) && !emailPreview {
		checkConsoleHTML(c.t, req.Method+" "+req.URL.Path, p.body)
	}
	return p
}

func (c *consoleClient) get(path string) consolePage {
	c.t.Helper()
	req, err := http.NewRequest("GET", c.h.srv.URL+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

// post sends a form; header is pairs of header names and values.
func (c *consoleClient) post(path string, form url.Values, header ...string) consolePage {
	c.t.Helper()
	req, err := http.NewRequest("POST", c.h.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return c.do(req)
}

// upload posts a multipart form with the csrf token and one file in field "photo".
func (c *consoleClient) upload(path, filename string, data []byte) consolePage {
	c.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf_token", c.csrf())
	fw, err := mw.CreateFormFile("photo", filename)
	if err != nil {
		c.t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	req, err := http.NewRequest("POST", c.h.srv.URL+path, &buf)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

// login logs in and fails the test unless it works.
func (c *consoleClient) login(email, password string) {
	c.t.Helper()
	p := c.post("/login", url.Values{"email": {email}, "password": {password}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/" {
		c.t.Fatalf("login %s: %d %s\n%s", email, p.status, p.header.Get("Location"), p.body)
	}
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf returns the session's CSRF token, read from a page's forms as a browser would.
func (c *consoleClient) csrf() string {
	c.t.Helper()
	p := c.get("/")
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		c.t.Fatalf("no csrf_token on the home page (%d)", p.status)
	}
	return m[1]
}

// postCSRF sends a form with the session's CSRF token added.
func (c *consoleClient) postCSRF(path string, form url.Values) consolePage {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf_token", c.csrf())
	return c.post(path, form)
}

func wantStatus(t *testing.T, what string, p consolePage, status int) {
	t.Helper()
	if p.status != status {
		t.Fatalf("%s: status %d, want %d\n%s", what, p.status, status, p.body)
	}
}

func wantRedirect(t *testing.T, what string, p consolePage, location string) {
	t.Helper()
	if p.status != http.StatusSeeOther || p.header.Get("Location") != location {
		t.Fatalf("%s: %d to %q, want 303 to %q\n%s", what, p.status, p.header.Get("Location"), location, p.body)
	}
}

func wantBody(t *testing.T, what string, p consolePage, parts ...string) {
	t.Helper()
	for _, s := range parts {
		if !strings.Contains(p.body, s) {
			t.Errorf("%s: the page lacks %q\n%s", what, s, p.body)
		}
	}
}

func wantNoBody(t *testing.T, what string, p consolePage, parts ...string) {
	t.Helper()
	for _, s := range parts {
		if strings.Contains(p.body, s) {
			t.Errorf("%s: the page has %q", what, s)
		}
	}
}

var (
	reControl = regexp.MustCompile(`<(?:input|select|textarea)\b[^>]*>`)
	reID      = regexp.MustCompile(`\sid="([^"]+)"`)
	reHidden  = regexp.MustCompile(`\stype="hidden"|\shidden[\s>]`)
	reForm    = regexp.MustCompile(`(?s)<form\b([^>]*)>(.*?)</form>`)
	reScript  = regexp.MustCompile(`<script\b[^>]*>`)
)

// checkConsoleHTML checks what every console page must be: a full HTML5 document with a title,
// no inline styles or scripts (the CSP forbids them), a label for every visible control, and a
// CSRF token in every form that a signed-in user posts.
func checkConsoleHTML(t *testing.T, what, body string) {
	t.Helper()
	if !strings.HasPrefix(body, "<!doctype html>\n<html lang=\"en\">") {
		t.Errorf("%s: not an HTML5 document: %.60q", what, body)
	}
	if !regexp.MustCompile(`<title>[^<]+</title>`).MatchString(body) || !strings.Contains(body, "</html>") {
		t.Errorf("%s: no title or not complete", what)
	}
	if !strings.Contains(body, "<main") || !strings.Contains(body, "<h1") {
		t.Errorf("%s: no <main> or <h1>", what)
	}
	for _, bad := range []string{" style=", "<style", "javascript:", " onclick=", " onsubmit="} {
		if strings.Contains(body, bad) {
			t.Errorf("%s: inline style or script %q", what, bad)
		}
	}
	for _, s := range reScript.FindAllString(body, -1) {
		if !strings.Contains(s, " src=") {
			t.Errorf("%s: inline script %s", what, s)
		}
	}
	for _, ctl := range reControl.FindAllString(body, -1) {
		if reHidden.MatchString(ctl) {
			continue
		}
		m := reID.FindStringSubmatch(ctl)
		if m == nil {
			if !strings.Contains(ctl, `type="radio"`) { // radios sit inside their <label>
				t.Errorf("%s: control without id and label: %s", what, ctl)
			}
			continue
		}
		if !strings.Contains(body, `for="`+m[1]+`"`) {
			t.Errorf("%s: control without a label: %s", what, ctl)
		}
	}
	for _, f := range reForm.FindAllStringSubmatch(body, -1) {
		attrs, inner := f[1], f[2]
		if strings.Contains(attrs, `method="get"`) {
			continue // a search or filter: it changes nothing, so it needs no CSRF token
		}
		if !strings.Contains(attrs, `method="post"`) {
			t.Errorf("%s: a form that is not POST or GET: <form%s>", what, attrs)
		}
		guest := strings.Contains(attrs, `action="/login"`) || !strings.Contains(attrs, "action=")
		if !guest && !strings.Contains(inner, `name="csrf_token"`) {
			t.Errorf("%s: a form without csrf_token: <form%s>", what, attrs)
		}
	}
}

func TestConsoleLogin(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		c := newConsoleClient(t, h)

		p := c.get("/login")
		wantStatus(t, "login page", p, http.StatusOK)
		wantBody(t, "login page", p, `<title>Log in · Beckon</title>`, `name="email"`, `name="password"`)
		wantRedirect(t, "home, logged out", c.get("/"), "/login")
		wantRedirect(t, "users, logged out", c.get("/users?x=1"), "/login?next=%2Fusers%3Fx%3D1")

		for _, tc := range []struct{ email, password string }{
			{"admin@acme.example", "wrong password 1"},
			{"nobody@acme.example", adminPassword},
			{"", ""},
		} {
			p := c.post("/login", url.Values{"email": {tc.email}, "password": {tc.password}})
			wantStatus(t, "wrong login "+tc.email, p, http.StatusUnauthorized)
			wantBody(t, "wrong login", p, "Wrong email or password.", `value="`+tc.email+`"`)
			wantNoBody(t, "wrong login", p, "locked", "no such user")
		}

		p = c.post("/login", url.Values{"email": {"Admin@Acme.example"}, "password": {adminPassword}, "next": {"/users?x=1"}})
		wantRedirect(t, "login with next", p, "/users?x=1")
		if ck := p.header.Get("Set-Cookie"); !strings.Contains(ck, "beckon_session=bks_") || !strings.Contains(ck, "HttpOnly") ||
			!strings.Contains(ck, "SameSite=Lax") || !strings.Contains(ck, "Expires=") {
			t.Errorf("session cookie: %s", ck)
		}
		p = c.get("/")
		wantStatus(t, "home", p, http.StatusOK)
		wantBody(t, "home", p, "Welcome, Ada", "Acme", `href="/users"`, `href="/settings/profile"`)
		wantRedirect(t, "login page when logged in", c.get("/login?next=/users"), "/users")

		// next must stay on this site.
		c2 := newConsoleClient(t, h)
		for _, next := range []string{"//evil.example/x", "https://evil.example/", `/\evil.example`, "users"} {
			p := c2.post("/login", url.Values{"email": {"admin@acme.example"}, "password": {adminPassword}, "next": {next}})
			wantRedirect(t, "login next="+next, p, "/")
		}

		// Log out: needs the CSRF token; afterwards the session is gone.
		wantStatus(t, "logout without csrf", c.post("/logout", nil), http.StatusForbidden)
		wantStatus(t, "still logged in", c.get("/"), http.StatusOK)
		wantRedirect(t, "logout", c.postCSRF("/logout", nil), "/login")
		wantRedirect(t, "home after logout", c.get("/"), "/login")
		wantBody(t, "login after logout", c.get("/login"), "You have logged out.")
		wantNoBody(t, "flash shown once", c.get("/login"), "You have logged out.")
		// A POST without a session is a 401 page, not a redirect.
		p = c.post("/users/invite", url.Values{"email": {"x@acme.example"}})
		wantStatus(t, "post without session", p, http.StatusUnauthorized)
		wantBody(t, "post without session", p, "Please log in", `href="/login"`)
	})
}

func TestConsoleLockout(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		c := newConsoleClient(t, h)
		for i := range 5 {
			p := c.post("/login", url.Values{"email": {"admin@acme.example"}, "password": {"wrong password " + strconv.Itoa(i)}})
			wantStatus(t, "failure "+strconv.Itoa(i), p, http.StatusUnauthorized)
		}
		p := c.post("/login", url.Values{"email": {"admin@acme.example"}, "password": {adminPassword}})
		wantStatus(t, "locked", p, http.StatusTooManyRequests)
		wantBody(t, "locked", p, "Too many failed attempts for this email address; try again in 30s.")
		if ra, _ := strconv.Atoi(p.header.Get("Retry-After")); ra < 1 || ra > 31 {
			t.Errorf("Retry-After %q", p.header.Get("Retry-After"))
		}
		wantNoBody(t, "locked", p, "Wrong email or password")
	})
}

func TestConsoleLoginChoosesWorkspace(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		ctx := context.Background()
		globex, err := h.wss.Create(ctx, d, workspace.New{Name: "Globex <Corp>", TimeZone: "UTC"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.id.CreateUser(ctx, d, identity.NewUser{WorkspaceID: globex.ID, Email: "admin@acme.example",
			Role: identity.RoleRep, FirstName: "Ada", Password: adminPassword}); err != nil {
			t.Fatal(err)
		}
		c := newConsoleClient(t, h)
		p := c.post("/login", url.Values{"email": {"admin@acme.example"}, "password": {adminPassword}, "next": {"/users"}})
		wantStatus(t, "ambiguous", p, http.StatusOK)
		wantBody(t, "ambiguous", p, "Choose a workspace", `type="radio" name="workspace_id" value="`+h.ws.ID+`"`,
			`value="`+globex.ID+`"`, "Globex &lt;Corp&gt;", `name="password" value="admin password 1"`, `name="next" value="/users"`)
		if strings.Contains(p.header.Get("Set-Cookie"), "beckon_session=bks_") {
			t.Error("a session before the workspace is chosen")
		}
		if cc := p.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q", cc)
		}
		p = c.post("/login", url.Values{"email": {"admin@acme.example"}, "password": {adminPassword}, "next": {"/users"},
			"workspace_id": {globex.ID}})
		wantRedirect(t, "chosen", p, "/users")
		p = c.get("/users")
		wantBody(t, "users of Globex", p, "Globex &lt;Corp&gt;")
		wantNoBody(t, "rep sees no invite form", p, `action="/users/invite"`)
	})
}

func TestConsoleCSRF(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		c := newConsoleClient(t, h)
		c.login("admin@acme.example", adminPassword)
		token := c.csrf()
		invite := func(extra ...string) url.Values {
			v := url.Values{"email": {"eve@acme.example"}, "first_name": {"Eve"}, "role": {"admin"}}
			for i := 0; i+1 < len(extra); i += 2 {
				v.Set(extra[i], extra[i+1])
			}
			return v
		}
		for _, tc := range []struct {
			name   string
			form   url.Values
			header []string
		}{
			{"no token", invite(), nil},
			{"wrong token", invite("csrf_token", "csrf_wrong"), nil},
			{"cross-site", invite("csrf_token", token), []string{"Sec-Fetch-Site", "cross-site"}},
			{"foreign origin", invite("csrf_token", token), []string{"Origin", "https://evil.example"}},
		} {
			p := c.post("/users/invite", tc.form, tc.header...)
			wantStatus(t, tc.name, p, http.StatusForbidden)
			wantBody(t, tc.name, p, "Not allowed")
		}
		users, err := h.id.ListUsers(context.Background(), h.ws.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(users) != 1 || len(h.mail.msgs) != 0 {
			t.Fatalf("a refused request changed something: %d users, %d emails", len(users), len(h.mail.msgs))
		}
		p := c.post("/settings/profile", url.Values{"first_name": {"Mallory"}, "time_zone": {"UTC"}, "csrf_token": {token}},
			"Sec-Fetch-Site", "cross-site")
		wantStatus(t, "cross-site profile", p, http.StatusForbidden)
		if u, _ := h.id.GetUser(context.Background(), h.ws.ID, h.admin.ID); u.FirstName != "Ada" {
			t.Errorf("first name changed to %q", u.FirstName)
		}
		// The same request from the console's own page works.
		wantRedirect(t, "same-site invite", c.post("/users/invite", invite("csrf_token", token), "Sec-Fetch-Site", "same-origin"), "/users")

		// Guest forms are protected by the browser's fetch metadata.
		g := newConsoleClient(t, h)
		p = g.post("/login", url.Values{"email": {"admin@acme.example"}, "password": {adminPassword}}, "Sec-Fetch-Site", "cross-site")
		wantStatus(t, "cross-site login", p, http.StatusForbidden)
		wantRedirect(t, "cross-site login made no session", g.get("/"), "/login")
	})
}

func TestConsoleUsersPage(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		ctx := context.Background()
		evil, err := h.id.CreateUser(ctx, d, identity.NewUser{WorkspaceID: h.ws.ID, Email: "mal@acme.example", Role: identity.RoleRep,
			FirstName: "<script>alert(1)</script>", LastName: `"><img src=x>`, Password: "mal password 1"})
		if err != nil {
			t.Fatal(err)
		}
		c := newConsoleClient(t, h)
		c.login("admin@acme.example", adminPassword)
		p := c.get("/users")
		wantStatus(t, "users", p, http.StatusOK)
		wantBody(t, "users", p, "<title>Users · Beckon</title>", "Ada Admin", "admin@acme.example", "mal@acme.example",
			"&lt;script&gt;alert(1)&lt;/script&gt; &#34;&gt;&lt;img src=x&gt;", `action="/users/invite"`,
			`action="/users/`+evil.ID+`/deactivate"`, `aria-current="page">Users`, "2 active")
		wantNoBody(t, "users", p, "<script>alert(1)", `"><img src=x>`,
			`action="/users/`+h.admin.ID+`/deactivate"`) // no button to lock oneself out

		// Other users see the team, read only.
		r := newConsoleClient(t, h)
		r.login("mal@acme.example", "mal password 1")
		p = r.get("/users")
		wantStatus(t, "users as rep", p, http.StatusOK)
		wantBody(t, "users as rep", p, "Ada Admin", "Admin")
		wantNoBody(t, "users as rep", p, `action="/users/invite"`, "/deactivate", "/role")
		p = r.postCSRF("/users/"+h.admin.ID+"/deactivate", nil)
		wantStatus(t, "rep deactivates", p, http.StatusForbidden)
		wantBody(t, "rep deactivates", p, "Only an admin can deactivate users.")
		p = r.postCSRF("/users/invite", url.Values{"email": {"x@acme.example"}})
		wantStatus(t, "rep invites", p, http.StatusForbidden)
		wantBody(t, "rep invites", p, "Only an admin can invite users.")
	})
}

var activationLink = regexp.MustCompile(`https?://\S+/activate/[a-z0-9_]+`)

// lastActivationPath is the path of the activation link in the last queued email to to.
func lastActivationPath(t *testing.T, h *harness, to string) string {
	t.Helper()
	m := h.mail.last()
	if len(m.To) != 1 || m.To[0] != to {
		t.Fatalf("last email to %v, want %s", m.To, to)
	}
	link := activationLink.FindString(m.Text)
	if link == "" {
		t.Fatalf("no activation link in %q", m.Text)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path
}

func TestConsoleInviteAndActivate(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		ctx := context.Background()
		c := newConsoleClient(t, h)
		c.login("admin@acme.example", adminPassword)

		// Bad input keeps what was typed and says what is wrong next to the field.
		p := c.postCSRF("/users/invite", url.Values{"email": {"not an email"}, "first_name": {"Bea"}, "role": {"rep"}})
		wantStatus(t, "bad email", p, http.StatusUnprocessableEntity)
		wantBody(t, "bad email", p, `id="email-error"`, "cannot contain spaces", `value="Bea"`, `aria-invalid="true"`)

		p = c.postCSRF("/users/invite", url.Values{"email": {"Bea@Acme.example"}, "first_name": {"Bea"}, "last_name": {"Bell"},
			"role": {"meetings_only"}})
		wantRedirect(t, "invite", p, "/users")
		u, err := h.id.UserByEmail(ctx, h.ws.ID, "bea@acme.example")
		if err != nil {
			t.Fatal(err)
		}
		if u.Status != "invited" || u.Role != identity.RoleMeetingsOnly || u.FirstName != "Bea" || u.LastName != "Bell" {
			t.Errorf("invited user %+v", u)
		}
		first := lastActivationPath(t, h, "bea@acme.example")
		p = c.get("/users")
		wantBody(t, "after invite", p, "Invitation sent.", "Bea Bell", `<span class="badge invited">Invited</span>`,
			`action="/users/`+u.ID+`/resend-invite"`, "1 invited")

		p = c.postCSRF("/users/invite", url.Values{"email": {"bea@acme.example"}, "first_name": {"Beatrice"}, "role": {"rep"}})
		wantStatus(t, "duplicate", p, http.StatusConflict)
		wantBody(t, "duplicate", p, "bea@acme.example is already a user of this workspace.", `value="Beatrice"`)

		// Resending voids the first link.
		wantRedirect(t, "resend", c.postCSRF("/users/"+u.ID+"/resend-invite", nil), "/users")
		wantBody(t, "after resend", c.get("/users"), "A new invitation is on its way.")
		link := lastActivationPath(t, h, "bea@acme.example")
		if link == first {
			t.Fatal("resend reused the link")
		}
		b := newConsoleClient(t, h)
		p = b.get(first)
		wantStatus(t, "replaced link", p, http.StatusNotFound)
		wantBody(t, "replaced link", p, "This link can’t be used", "replaced by a newer invitation")
		wantStatus(t, "unknown link", b.get("/activate/inv_nope"), http.StatusNotFound)

		p = b.get(link)
		wantStatus(t, "activation page", p, http.StatusOK)
		wantBody(t, "activation page", p, "<title>Join Acme · Beckon</title>", "<h1>Join Acme</h1>", "bea@acme.example",
			"At least 10 characters", `minlength="10"`)
		p = b.post(link, url.Values{"password": {"short"}, "confirm_password": {"short"}})
		wantStatus(t, "short password", p, http.StatusUnprocessableEntity)
		wantBody(t, "short password", p, `id="password-error"`, "Must be at least 10 characters.")
		p = b.post(link, url.Values{"password": {"bea password 1"}, "confirm_password": {"bea password 2"}})
		wantStatus(t, "mismatch", p, http.StatusUnprocessableEntity)
		wantBody(t, "mismatch", p, `id="confirm_password-error"`, "The two passwords are different.")
		p = b.post(link, url.Values{"password": {"bea password 1"}, "confirm_password": {"bea password 1"}}, "Sec-Fetch-Site", "cross-site")
		wantStatus(t, "cross-site activation", p, http.StatusForbidden)

		wantRedirect(t, "activate", b.post(link, url.Values{"password": {"bea password 1"}, "confirm_password": {"bea password 1"}}), "/")
		p = b.get("/")
		wantStatus(t, "home after activation", p, http.StatusOK)
		wantBody(t, "home after activation", p, "Welcome, Bea", "Your account is ready.")
		p = b.get(link)
		wantStatus(t, "used link", p, http.StatusNotFound)
		wantBody(t, "used link", p, "it was used already")
		newConsoleClient(t, h).login("bea@acme.example", "bea password 1")
		wantBody(t, "after activation", c.get("/users"), "Bea Bell", `<span class="badge active">Active</span>`)
	})
}

func TestConsoleUserActions(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		ctx := context.Background()
		rep, err := h.id.CreateUser(ctx, d, identity.NewUser{WorkspaceID: h.ws.ID, Email: "rep@acme.example", Role: identity.RoleRep,
			FirstName: "Rae", Password: "rep password 1"})
		if err != nil {
			t.Fatal(err)
		}
		c := newConsoleClient(t, h)
		c.login("admin@acme.example", adminPassword)
		status := func() (identity.Role, string) {
			u, err := h.id.GetUser(ctx, h.ws.ID, rep.ID)
			if err != nil {
				t.Fatal(err)
			}
			return u.Role, u.Status
		}

		wantRedirect(t, "role", c.postCSRF("/users/"+rep.ID+"/role", url.Values{"role": {"meetings_only"}}), "/users")
		if role, _ := status(); role != identity.RoleMeetingsOnly {
			t.Errorf("role %s", role)
		}
		wantBody(t, "after role", c.get("/users"), "Role changed.")
		p := c.postCSRF("/users/"+rep.ID+"/role", url.Values{"role": {"king"}})
		wantStatus(t, "bad role", p, http.StatusUnprocessableEntity)
		wantBody(t, "bad role", p, "Role: &#34;king&#34; is not a role")

		p = c.postCSRF("/users/"+h.admin.ID+"/role", url.Values{"role": {"rep"}})
		wantStatus(t, "demote the last admin", p, http.StatusConflict)
		wantBody(t, "demote the last admin", p, "admin@acme.example is the last active admin of this workspace", "Ada Admin")
		p = c.postCSRF("/users/"+h.admin.ID+"/deactivate", nil)
		wantStatus(t, "deactivate the last admin", p, http.StatusConflict)
		wantStatus(t, "no such user", c.postCSRF("/users/usr_nope/deactivate", nil), http.StatusNotFound)

		wantRedirect(t, "deactivate", c.postCSRF("/users/"+rep.ID+"/deactivate", nil), "/users")
		if _, st := status(); st != "deactivated" {
			t.Errorf("status %s", st)
		}
		p = c.get("/users")
		wantBody(t, "after deactivate", p, "User deactivated.", `<span class="badge deactivated">Deactivated</span>`,
			`action="/users/`+rep.ID+`/reactivate"`)
		wantStatus(t, "deactivated login", newConsoleClient(t, h).post("/login",
			url.Values{"email": {"rep@acme.example"}, "password": {"rep password 1"}}), http.StatusUnauthorized)

		wantRedirect(t, "reactivate", c.postCSRF("/users/"+rep.ID+"/reactivate", nil), "/users")
		if _, st := status(); st != "active" {
			t.Errorf("status %s", st)
		}
		p = c.postCSRF("/users/"+rep.ID+"/resend-invite", nil)
		wantStatus(t, "resend to an active user", p, http.StatusConflict)
		wantBody(t, "resend to an active user", p, "has already activated their account")
	})
}

func TestConsoleProfile(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		ctx := context.Background()
		c := newConsoleClient(t, h)
		c.login("admin@acme.example", adminPassword)

		p := c.get("/settings/profile")
		wantStatus(t, "profile", p, http.StatusOK)
		wantBody(t, "profile", p, `value="Ada"`, `value="Admin"`, "<option selected>America/New_York</option>",
			"<option>Europe/Berlin</option>", `enctype="multipart/form-data"`, `accept="image/png,image/jpeg"`, `name="photo"`)

		form := url.Values{"first_name": {"Ada"}, "last_name": {"Lovelace"}, "job_title": {"Head of Sales"},
			"phone": {"+1 555 0100"}, "time_zone": {"Mars/Olympus"}}
		p = c.postCSRF("/settings/profile", form)
		wantStatus(t, "bad time zone", p, http.StatusUnprocessableEntity)
		wantBody(t, "bad time zone", p, `value="Lovelace"`, `value="Head of Sales"`, `value="&#43;1 555 0100"`,
			"<option selected>Mars/Olympus</option>", `id="time_zone-error"`, "is not an IANA time zone")
		if u, _ := h.id.GetUser(ctx, h.ws.ID, h.admin.ID); u.LastName != "Admin" || u.JobTitle != "" {
			t.Errorf("a rejected form changed the user: %+v", u)
		}

		form.Set("time_zone", "Europe/Berlin")
		form.Set("phone", "call me")
		p = c.postCSRF("/settings/profile", form)
		wantStatus(t, "bad phone", p, http.StatusUnprocessableEntity)
		wantBody(t, "bad phone", p, `id="phone-error"`, `value="call me"`, "<option selected>Europe/Berlin</option>")

		form.Set("phone", "+1 555 0100")
		wantRedirect(t, "save", c.postCSRF("/settings/profile", form), "/settings/profile")
		p = c.get("/settings/profile")
		wantBody(t, "saved", p, "Your profile is saved.", `value="Lovelace"`, "<option selected>Europe/Berlin</option>")
		if u, _ := h.id.GetUser(ctx, h.ws.ID, h.admin.ID); u.LastName != "Lovelace" || u.JobTitle != "Head of Sales" ||
			u.Phone != "+1 555 0100" || u.TimeZone != "Europe/Berlin" {
			t.Errorf("saved user %+v", u)
		}

		// Password.
		p = c.postCSRF("/settings/password", url.Values{"current_password": {"not it at all"}, "new_password": {"new password 12"},
			"confirm_password": {"new password 12"}})
		wantStatus(t, "wrong current password", p, http.StatusUnauthorized)
		wantBody(t, "wrong current password", p, `id="current_password-error"`, "Is not your current password.")
		p = c.postCSRF("/settings/password", url.Values{"current_password": {adminPassword}, "new_password": {"new password 12"},
			"confirm_password": {"new password 13"}})
		wantStatus(t, "mismatch", p, http.StatusUnprocessableEntity)
		wantBody(t, "mismatch", p, `id="confirm_password-error"`)
		p = c.postCSRF("/settings/password", url.Values{"current_password": {adminPassword}, "new_password": {"short"},
			"confirm_password": {"short"}})
		wantStatus(t, "short", p, http.StatusUnprocessableEntity)
		wantBody(t, "short", p, `id="new_password-error"`, "Must be at least 10 characters.")

		other := newConsoleClient(t, h)
		other.login("admin@acme.example", adminPassword)
		wantRedirect(t, "change password", c.postCSRF("/settings/password", url.Values{"current_password": {adminPassword},
			"new_password": {"new password 12"}, "confirm_password": {"new password 12"}}), "/settings/profile")
		wantBody(t, "changed", c.get("/settings/profile"), "Your password is changed.")
		wantRedirect(t, "the other session ended", other.get("/"), "/login")
		newConsoleClient(t, h).login("admin@acme.example", "new password 12")
	})
}

func testPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for x := range 8 {
		for y := range 8 {
			img.Set(x, y, color.RGBA{R: 52, G: 81, B: 209, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestConsolePhoto(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		c := newConsoleClient(t, h)
		c.login("admin@acme.example", adminPassword)
		photoPath := "/users/" + h.admin.ID + "/photo"
		wantStatus(t, "no photo yet", c.get(photoPath), http.StatusNotFound)

		p := c.upload("/settings/photo", "notes.png", []byte("this is not an image"))
		wantStatus(t, "not an image", p, http.StatusUnprocessableEntity)
		wantBody(t, "not an image", p, `id="photo-error"`, "Must be a JPG or PNG image.")
		p = c.upload("/settings/photo", "broken.png", []byte("\x89PNG\r\n\x1a\nbroken"))
		wantStatus(t, "broken png", p, http.StatusUnprocessableEntity)
		wantBody(t, "broken png", p, "Is not a readable png image.")

		p = c.upload("/settings/photo", "huge.png", bytes.Repeat([]byte("x"), identity.MaxPhotoBytes+100<<10))
		wantStatus(t, "huge", p, http.StatusRequestEntityTooLarge)
		wantBody(t, "huge", p, `id="photo-error"`, "Must be at most 2 MB.")

		pic := testPNG(t)
		wantRedirect(t, "upload", c.upload("/settings/photo", "me.png", pic), "/settings/profile")
		p = c.get("/settings/profile")
		wantBody(t, "after upload", p, "Your photo is updated.", `src="`+photoPath+"?v=", "Replace your photo")
		p = c.get(photoPath)
		wantStatus(t, "photo", p, http.StatusOK)
		if p.header.Get("Content-Type") != "image/png" || p.body != string(pic) {
			t.Errorf("photo: %s, %d bytes", p.header.Get("Content-Type"), len(p.body))
		}
		wantBody(t, "users with photo", c.get("/users"), `<img class="avatar" src="`+photoPath+"?v=")
		wantRedirect(t, "photo, logged out", newConsoleClient(t, h).get(photoPath), "/login?next="+url.QueryEscape(photoPath))
	})
}

func TestConsolePagesAndStatic(t *testing.T) {
	h := newHarness(t, testkit.SQLite(t))
	c := newConsoleClient(t, h)
	p := c.get("/no/such/page")
	wantStatus(t, "unknown page", p, http.StatusNotFound)
	wantBody(t, "unknown page", p, "Page not found", "Error 404")
	if csp := p.header.Get("Content-Security-Policy"); csp != consoleCSP {
		t.Errorf("CSP %q", csp)
	}

	login := c.get("/login")
	css := regexp.MustCompile(`href="(/static/console\.css\?v=[0-9a-f]+)"`).FindStringSubmatch(login.body)
	js := regexp.MustCompile(`src="(/static/console\.js\?v=[0-9a-f]+)"`).FindStringSubmatch(login.body)
	if css == nil || js == nil {
		t.Fatalf("no versioned assets on the login page")
	}
	p = c.get(css[1])
	wantStatus(t, "css", p, http.StatusOK)
	if p.header.Get("Content-Type") != "text/css; charset=utf-8" || p.header.Get("Cache-Control") != "public, max-age=31536000, immutable" ||
		!strings.Contains(p.body, "prefers-color-scheme: dark") {
		t.Errorf("css: %v", p.header)
	}
	p = c.get(js[1])
	if p.status != http.StatusOK || !strings.Contains(p.header.Get("Content-Type"), "javascript") {
		t.Errorf("js: %d %v", p.status, p.header)
	}
	p = c.get("/static/console.css")
	if p.header.Get("Cache-Control") != "public, no-cache" || p.header.Get("ETag") == "" {
		t.Errorf("unversioned css: %v", p.header)
	}
	req, _ := http.NewRequest("GET", h.srv.URL+"/static/console.css", nil)
	req.Header.Set("If-None-Match", p.header.Get("ETag"))
	if p := c.do(req); p.status != http.StatusNotModified {
		t.Errorf("revalidation: %d", p.status)
	}
	wantStatus(t, "unknown static file", c.get("/static/nope.css"), http.StatusNotFound)
	if p := c.get("/static/../templates/layout.html"); p.status == http.StatusOK || strings.Contains(p.body, "{{define") {
		t.Errorf("static traversal: %d", p.status)
	}
}
