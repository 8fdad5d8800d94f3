package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/workspace"
)

// The admins' page for chat and Live View: how long a rep may idle before routing skips them
// (C3), which pages never appear in Live View (V5), and which companies are target accounts
// (V5, N1).

// chatSettingsForm holds the settings as typed, so that a rejected form keeps them.
type chatSettingsForm struct {
	IdleMinutes, Block, Targets string
}

type chatSettingsView struct {
	view
	Form chatSettingsForm
	Errs fieldErrs
}

var chatSettingsFields = []string{"idle_minutes", "live_view_block", "target_accounts"}

var chatSettingsRename = map[string]string{
	"settings.idle_minutes": "idle_minutes", "settings.live_view_block": "live_view_block", "settings.target_accounts": "target_accounts",
}

func (c *console) chatSettingsPage(w http.ResponseWriter, r *http.Request, status int, form *chatSettingsForm, fe fieldErrs, pageErr string) error {
	p := principalOf(r)
	if p.User.Role != identity.RoleAdmin {
		return errs.E(errs.Forbidden, "only an admin can change the chat settings")
	}
	if form == nil {
		ws, err := c.s.workspaces.Get(r.Context(), p.WorkspaceID())
		if err != nil {
			return err
		}
		st := ws.Settings
		form = &chatSettingsForm{IdleMinutes: strconv.Itoa(st.IdleMinutes), Block: strings.Join(st.LiveViewBlock, "\n"),
			Targets: strings.Join(st.TargetAccounts, "\n")}
	}
	return c.render(w, r, status, "chatsettings", &chatSettingsView{view: view{Title: "Chat and Live View", Nav: "live", Error: pageErr},
		Form: *form, Errs: fe})
}

func (c *console) chatSettingsForm(w http.ResponseWriter, r *http.Request) error {
	return c.chatSettingsPage(w, r, http.StatusOK, nil, nil, "")
}

// lines splits a textarea into its non-blank lines (commas separate too).
func lines(s string) []string {
	out := []string{}
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// chatSettings saves the idle time, the Live View block list and the target accounts.
func (c *console) chatSettings(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r)
	if p.User.Role != identity.RoleAdmin {
		return errs.E(errs.Forbidden, "only an admin can change the chat settings")
	}
	f := chatSettingsForm{IdleMinutes: r.PostFormValue("idle_minutes"), Block: r.PostFormValue("live_view_block"),
		Targets: r.PostFormValue("target_accounts")}
	fail := func(err error) error {
		status, fe, msg, err := c.formError(r, err, chatSettingsRename, chatSettingsFields...)
		if err != nil {
			return err
		}
		return c.chatSettingsPage(w, r, status, &f, fe, msg)
	}
	idle, err := strconv.Atoi(strings.TrimSpace(f.IdleMinutes))
	if err != nil {
		return fail(errs.Field(errs.Invalid, "idle_minutes", "must be a whole number of minutes"))
	}
	block, targets := lines(f.Block), lines(f.Targets)
	patch := workspace.Patch{Settings: &workspace.SettingsPatch{IdleMinutes: &idle, LiveViewBlock: &block, TargetAccounts: &targets}}
	if _, err := c.s.workspaces.Update(r.Context(), p.WorkspaceID(), patch); err != nil {
		return fail(err)
	}
	return c.redirectFlash(w, r, "/settings/chat", "chat")
}
