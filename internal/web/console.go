package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/identity"
)

// The console is Beckon's server-rendered web UI for admins and reps: html/template pages
// (templates/), one stylesheet and one small progressive-enhancement script (static/), all
// embedded in the binary. Every page works without JavaScript, and the CSP (consoleCSP) forbids
// inline scripts and styles. The handlers live in console_auth.go (login, logout, activation),
// console_profile.go (home, profile, photo, password) and console_users.go (the team).

//go:embed templates/*.html
var consoleTemplates embed.FS

//go:embed static
var consoleStatic embed.FS

// console renders the pages and serves the static files of the console.
type console struct {
	s      *Server
	pages  map[string]*template.Template
	assets map[string]staticFile
	guests *limiter // login and activation attempts per client IP
}

// Guest attempts (logins, activations) allowed per client IP: bursts of GuestBurst, then
// GuestPerMinute a minute.
const (
	GuestBurst     = 20
	GuestPerMinute = 10
)

// staticFile is one embedded static file with its content hash, for cache-busting URLs.
type staticFile struct {
	data  []byte
	hash  string
	ctype string
}

// consolePages are the page templates; each is parsed together with layout.html.
var consolePages = []string{"login", "activate", "home", "profile", "users", "messenger", "error", "inbox", "live", "visitor", "alerts", "channels", "chatsettings", "routing", "routing_report", "unsubscribe", "email_settings", "email_log", "email_message", "email_template"}

// newConsole parses the embedded templates and hashes the static files. Both are compiled into
// the binary, so a failure is a programming error that every test run finds: it panics.
func newConsole(s *Server) *console {
	c := &console{s: s, pages: map[string]*template.Template{}, assets: map[string]staticFile{}, guests: newLimiter(s.deps.Bus, s.log, "guests", GuestPerMinute, GuestBurst)}
	err := fs.WalkDir(consoleStatic, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := consoleStatic.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		c.assets[strings.TrimPrefix(p, "static/")] = staticFile{data: data, hash: hex.EncodeToString(sum[:6]), ctype: ct}
		return nil
	})
	if err != nil {
		panic("console: static files: " + err.Error())
	}
	funcs := template.FuncMap{
		"asset":     c.assetURL,
		"sentence":  sentence,
		"roleLabel": roleLabel,
		"initials":  initials,
		"firstName": firstName,
		"photoURL":  photoURL,
		"isSelf":    func(a, b *identity.User) bool { return a != nil && b != nil && a.ID == b.ID },
	}
	for _, name := range consolePages {
		t, err := template.New(name).Funcs(funcs).ParseFS(consoleTemplates, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			panic("console: templates: " + err.Error())
		}
		c.pages[name] = t
	}
	return c
}

// assetURL is the URL of a static file with its content hash, so that it can be cached forever.
func (c *console) assetURL(name string) (string, error) {
	a, ok := c.assets[name]
	if !ok {
		return "", fmt.Errorf("console: no static file %q", name)
	}
	return "/static/" + name + "?v=" + a.hash, nil
}

// static serves an embedded static file. With the current content hash in ?v= it may be cached
// for a year; without it, the browser revalidates by ETag.
func (c *console) static(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("file")
	a, ok := c.assets[name]
	if !ok {
		return errs.NotFoundf("no such file")
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", `"`+a.hash+`"`)
	if r.URL.Query().Get("v") == a.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, no-cache")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.data))
	return nil
}

// view is what every page shows around its content: the signed-in user and workspace (nil and
// empty on guest pages), the CSRF token for forms, and a one-time message.
type view struct {
	Title         string
	Nav           string // the main-menu item of the page: "home", "users", "profile"
	User          *identity.User
	Admin         bool
	WorkspaceName string
	CSRF          string
	Flash         string // a success message, shown once
	Error         string // a message about the whole page
}

func (v *view) base() *view { return v }

// pageData is the data of a page: a struct embedding view.
type pageData interface{ base() *view }

// fieldErrs holds the error message of each form field at fault, by field name.
type fieldErrs map[string]string

// render writes page name with status. It fills in the signed-in user and the pending flash
// message. The page is built in memory first, so that a template error becomes a clean 500.
func (c *console) render(w http.ResponseWriter, r *http.Request, status int, name string, data pageData) error {
	t, ok := c.pages[name]
	if !ok {
		return fmt.Errorf("console: no page %q", name)
	}
	v := data.base()
	if p := principalOf(r); p != nil && p.Session != nil {
		v.User, v.CSRF, v.Admin = p.User, p.Session.CSRFToken, p.User.Role == identity.RoleAdmin
		if c.s.workspaces != nil {
			if ws, err := c.s.workspaces.Get(r.Context(), p.WorkspaceID()); err == nil {
				v.WorkspaceName = ws.Name
			}
		}
	}
	if v.Flash == "" && r.Method == http.MethodGet {
		v.Flash = c.takeFlash(w, r)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("console: render %s: %w", name, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	buf.WriteTo(w)
	return nil
}

// errorView is the data of the error page.
type errorView struct {
	view
	Status    int
	Heading   string
	Message   string
	RequestID string
}

// error answers err as an HTML page with the status of its kind and a message safe to show.
func (c *console) error(w http.ResponseWriter, r *http.Request, err error) {
	if c.photoTooLarge(w, r, err) {
		return
	}
	status, body := c.s.classify(r, err)
	if e := errs.As(err); e != nil && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	if principalOf(r) == nil && r.Method == http.MethodGet {
		// An unmatched path or a guest page: show the signed-in user's menu if there is one.
		if p, err := c.s.authenticate(r); err == nil && p != nil && p.Session != nil {
			r = r.WithContext(context.WithValue(r.Context(), keyPrincipal, p))
		}
	}
	v := &errorView{view: view{Title: errorHeading(status)}, Status: status, Heading: errorHeading(status), Message: body.Message}
	if status == http.StatusInternalServerError {
		v.Message = "Something went wrong on our side. Please try again in a moment."
		v.RequestID = body.RequestID
	}
	if rerr := c.render(w, r, status, "error", v); rerr != nil {
		c.s.log.ErrorContext(r.Context(), "console: error page", "err", rerr.Error(), "request_id", requestID(r.Context()))
		http.Error(w, body.Message, status)
	}
}

// photoTooLarge answers an oversized photo upload with the profile page and a message next to
// the photo field. The form cannot be read past the body limit, so checkCSRF reports it before
// the handler runs.
func (c *console) photoTooLarge(w http.ResponseWriter, r *http.Request, err error) bool {
	p := principalOf(r)
	if p == nil || p.Session == nil || r.Method != http.MethodPost || r.URL.Path != "/settings/photo" || !errs.Is(err, errs.TooLarge) {
		return false
	}
	fe := fieldErrs{"photo": "Must be at most 2 MB. Choose a smaller image."}
	if rerr := c.profilePage(w, r, http.StatusRequestEntityTooLarge, nil, fe, "That photo is too large."); rerr != nil {
		return false
	}
	return true
}

func errorHeading(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "Please log in"
	case http.StatusForbidden:
		return "Not allowed"
	case http.StatusNotFound:
		return "Page not found"
	case http.StatusConflict:
		return "That can’t be done right now"
	case http.StatusRequestEntityTooLarge:
		return "That is too large"
	case http.StatusTooManyRequests:
		return "Too many attempts"
	case http.StatusServiceUnavailable:
		return "Temporarily unavailable"
	case http.StatusInternalServerError:
		return "Something went wrong"
	}
	return http.StatusText(status)
}

// toLogin answers a console request without a valid session: a page request goes to the login
// page, which comes back here after login; any other request gets a 401 page.
func (c *console) toLogin(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(c.s.sessionCookie()); err == nil && ck.Value != "" {
		c.s.setSessionCookie(w, "", time.Time{}) // stale or revoked: forget it
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		target := "/login"
		if next := r.URL.RequestURI(); next != "/" {
			target += "?next=" + url.QueryEscape(next)
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	c.error(w, r, errs.E(errs.Unauthenticated, "your session has ended; log in again and repeat what you were doing"))
}

// flashCookie names the cookie that carries a one-time message across a redirect.
func (c *console) flashCookie() string {
	if c.s.secureCookies {
		return "__Host-beckon_flash"
	}
	return "beckon_flash"
}

// flashes are the one-time messages, by code: the cookie carries only a code, so nobody can make
// the console show a text of their choosing.
var flashes = map[string]string{
	"logged_out":   "You have logged out.",
	"welcome":      "Your account is ready. Welcome aboard!",
	"profile":      "Your profile is saved.",
	"photo":        "Your photo is updated.",
	"password":     "Your password is changed. Your other sessions were logged out.",
	"invited":      "Invitation sent. The link in it works for 7 days.",
	"role":         "Role changed.",
	"deactivated":  "User deactivated. Their sessions and API tokens no longer work.",
	"reactivated":  "User reactivated.",
	"resent":       "A new invitation is on its way. Earlier links no longer work.",
	"messenger":    "Messenger settings saved. Visitors see them on their next page.",
	"chat":         "Chat and Live View settings saved.",
	"email":        "Email settings saved.",
	"unsubscribes": "Unsubscribes updated.",
}

// redirectFlash redirects (303) to target and leaves the flash message code for the next page.
func (c *console) redirectFlash(w http.ResponseWriter, r *http.Request, target, code string) error {
	http.SetCookie(w, &http.Cookie{Name: c.flashCookie(), Value: code, Path: "/", MaxAge: 60, HttpOnly: true,
		Secure: c.s.secureCookies, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}

// takeFlash returns the pending flash message, if any, and clears it.
func (c *console) takeFlash(w http.ResponseWriter, r *http.Request) string {
	ck, err := r.Cookie(c.flashCookie())
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: c.flashCookie(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: c.s.secureCookies, SameSite: http.SameSiteLaxMode})
	return flashes[ck.Value]
}

// formError sorts a failed form's error: an internal error is returned as is (for the error
// page); otherwise its status, and its message either under the field it names (when the form
// has that field; rename maps domain field names to form field names) or for the whole page.
func (c *console) formError(r *http.Request, err error, rename map[string]string, fields ...string) (status int, fe fieldErrs, page string, _ error) {
	e := errs.As(err)
	if e == nil || e.Kind == errs.Internal {
		return 0, nil, "", err
	}
	status, body := c.s.classify(r, err)
	fe = fieldErrs{}
	f := e.Field
	if to, ok := rename[f]; ok {
		f = to
	}
	for _, name := range fields {
		if f != "" && f == name {
			fe[f] = sentence(e.Message)
			return status, fe, "Please correct the highlighted field.", nil
		}
	}
	return status, fe, sentence(body.Message), nil
}

// sentence starts a message with a capital letter (unless it starts with an email address) and
// ends it with a full stop.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	if first, _, _ := strings.Cut(s, " "); !strings.Contains(first, "@") { // keep an email address as it is
		r, n := utf8.DecodeRuneInString(s)
		s = string(unicode.ToUpper(r)) + s[n:]
	}
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "!") && !strings.HasSuffix(s, "?") {
		s += "."
	}
	return s
}

func roleLabel(r identity.Role) string {
	switch r {
	case identity.RoleAdmin:
		return "Admin"
	case identity.RoleRep:
		return "Rep"
	case identity.RoleMeetingsOnly:
		return "Meetings only"
	}
	return string(r)
}

// initials are the one or two letters of a user's avatar when they have no photo.
func initials(u *identity.User) string {
	var out []rune
	for _, part := range []string{u.FirstName, u.LastName} {
		if r, _ := utf8.DecodeRuneInString(strings.TrimSpace(part)); r != utf8.RuneError {
			out = append(out, unicode.ToUpper(r))
		}
	}
	if len(out) == 0 {
		r, _ := utf8.DecodeRuneInString(u.Email)
		out = append(out, unicode.ToUpper(r))
	}
	return string(out)
}

// firstName is how the console greets a user.
func firstName(u *identity.User) string {
	if n := strings.TrimSpace(u.FirstName); n != "" {
		return n
	}
	return u.Name()
}

// photoURL is the URL of a user's photo, changing whenever the user changes.
func photoURL(u *identity.User) string {
	return "/users/" + u.ID + "/photo?v=" + strconv.FormatInt(u.UpdatedAt.UnixMilli(), 36)
}
