package web

import (
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/widget"
	"github.com/beckonhq/beckon/internal/workspace"
)

// messengerForm holds the messenger settings as typed, so that a rejected form keeps them.
type messengerForm struct {
	Origins, Color, Position, LauncherText, Greeting, ZIndex, CookieDays string
	ConsentRequired, IdentityVerification                                bool
}

// messengerView is the admins' page for installing and shaping the messenger.
type messengerView struct {
	view
	Form      messengerForm
	Errs      fieldErrs
	Snippet   string
	CSPHash   template.HTML
	SiteID    string
	HasSecret bool
	NewSecret string // shown once, right after it was made
}

var messengerFields = []string{"origins", "color", "position", "launcher_text", "greeting", "z_index", "cookie_days", "identity_verification"}

// messengerRename maps the domain's field names to the form's.
var messengerRename = map[string]string{
	"settings.messenger.color": "color", "settings.messenger.position": "position",
	"settings.messenger.launcher_text": "launcher_text", "settings.messenger.greeting": "greeting",
	"settings.messenger.z_index": "z_index", "settings.cookie_days": "cookie_days",
	"settings.identity_verification": "identity_verification", "allowed_origins": "origins",
}

func (c *console) messengerPage(w http.ResponseWriter, r *http.Request, status int, form *messengerForm, fe fieldErrs, pageErr, newSecret string) error {
	p := principalOf(r)
	if p.User.Role != identity.RoleAdmin {
		return errs.E(errs.Forbidden, "only an admin can change the messenger")
	}
	ws, err := c.s.workspaces.Get(r.Context(), p.WorkspaceID())
	if err != nil {
		return err
	}
	if form == nil {
		st := ws.Settings
		form = &messengerForm{Origins: strings.Join(ws.AllowedOrigins, "\n"), Color: st.Messenger.Color, Position: st.Messenger.Position,
			LauncherText: st.Messenger.LauncherText, Greeting: st.Messenger.Greeting, ZIndex: strconv.Itoa(st.Messenger.ZIndex),
			CookieDays: strconv.Itoa(st.CookieDays), ConsentRequired: st.ConsentRequired, IdentityVerification: st.IdentityVerification}
	}
	v := &messengerView{view: view{Title: "Messenger", Nav: "messenger", Error: pageErr}, Form: *form, Errs: fe,
		Snippet: widget.Snippet(c.s.baseURL, ws.SiteID), CSPHash: template.HTML(widget.SnippetCSPHash()), SiteID: ws.SiteID,
		HasSecret: ws.HasIdentitySecret, NewSecret: newSecret}
	return c.render(w, r, status, "messenger", v)
}

func (c *console) messengerForm(w http.ResponseWriter, r *http.Request) error {
	return c.messengerPage(w, r, http.StatusOK, nil, nil, "", "")
}

// messenger saves the messenger's settings and allowed origins.
func (c *console) messenger(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r)
	if p.User.Role != identity.RoleAdmin {
		return errs.E(errs.Forbidden, "only an admin can change the messenger")
	}
	f := messengerForm{Origins: r.PostFormValue("origins"), Color: r.PostFormValue("color"), Position: r.PostFormValue("position"),
		LauncherText: r.PostFormValue("launcher_text"), Greeting: r.PostFormValue("greeting"), ZIndex: r.PostFormValue("z_index"),
		CookieDays: r.PostFormValue("cookie_days"), ConsentRequired: r.PostFormValue("consent_required") == "on",
		IdentityVerification: r.PostFormValue("identity_verification") == "on"}
	fail := func(err error) error {
		status, fe, msg, err := c.formError(r, err, messengerRename, messengerFields...)
		if err != nil {
			return err
		}
		return c.messengerPage(w, r, status, &f, fe, msg, "")
	}
	z, err := strconv.Atoi(strings.TrimSpace(f.ZIndex))
	if err != nil {
		return fail(errs.Field(errs.Invalid, "z_index", "must be a whole number"))
	}
	days, err := strconv.Atoi(strings.TrimSpace(f.CookieDays))
	if err != nil {
		return fail(errs.Field(errs.Invalid, "cookie_days", "must be a whole number of days"))
	}
	origins := []string{}
	for _, line := range strings.Split(f.Origins, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			origins = append(origins, line)
		}
	}
	patch := workspace.Patch{AllowedOrigins: &origins, Settings: &workspace.SettingsPatch{
		ConsentRequired: &f.ConsentRequired, CookieDays: &days, IdentityVerification: &f.IdentityVerification}}
	patch.Settings.Messenger = &struct {
		Color        *string `json:"color"`
		Position     *string `json:"position"`
		LauncherText *string `json:"launcher_text"`
		ZIndex       *int    `json:"z_index"`
		Greeting     *string `json:"greeting"`
	}{Color: &f.Color, Position: &f.Position, LauncherText: &f.LauncherText, ZIndex: &z, Greeting: &f.Greeting}
	if _, err := c.s.workspaces.Update(r.Context(), p.WorkspaceID(), patch); err != nil {
		if e := errs.As(err); e != nil && strings.HasPrefix(e.Field, "allowed_origins") {
			e2 := *e
			e2.Field = "origins"
			return fail(&e2)
		}
		return fail(err)
	}
	return c.redirectFlash(w, r, "/settings/messenger", "messenger")
}

// identitySecret makes a new identity-verification secret and shows it once.
func (c *console) identitySecret(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r)
	if p.User.Role != identity.RoleAdmin {
		return errs.E(errs.Forbidden, "only an admin can change the messenger")
	}
	sec, err := c.s.workspaces.RotateIdentitySecret(r.Context(), p.WorkspaceID(), c.s.secrets)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return c.messengerPage(w, r, http.StatusOK, nil, nil, "", sec)
}
