package web

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/testkit"
)

func TestConsoleMessengerSettings(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		c := newConsoleClient(t, h)
		c.login("admin@acme.example", adminPassword)
		p := c.get("/settings/messenger")
		wantStatus(t, "messenger page", p, http.StatusOK)
		checkConsoleHTML(t, "messenger page", p.body)
		wantBody(t, "messenger page", p, h.ws.SiteID, html.EscapeString(`<script async src="`+h.srv.URL+`/js/beckon.js?v=`), "Chat with us", `aria-current="page"`)

		form := url.Values{"origins": {"https://www.acme.example\nnot an origin"}, "color": {"#ff8800"}, "position": {"left"},
			"launcher_text": {"Questions?"}, "greeting": {"Hello there"}, "z_index": {"1000"}, "cookie_days": {"30"}}
		bad := c.postCSRF("/settings/messenger", form)
		wantStatus(t, "bad origin", bad, http.StatusUnprocessableEntity)
		wantBody(t, "bad origin", bad, `id="origins-error"`, "Questions?", "#ff8800")

		form.Set("origins", "https://www.acme.example\n\nhttps://*.acme.example")
		form.Set("consent_required", "on")
		wantRedirect(t, "save", c.postCSRF("/settings/messenger", form), "/settings/messenger")
		ws, _ := h.wss.Get(context.Background(), h.ws.ID)
		if len(ws.AllowedOrigins) != 2 || ws.Settings.Messenger.Color != "#ff8800" || ws.Settings.Messenger.Position != "left" ||
			ws.Settings.CookieDays != 30 || !ws.Settings.ConsentRequired || ws.Settings.Messenger.ZIndex != 1000 {
			t.Fatalf("saved %+v %+v", ws.AllowedOrigins, ws.Settings)
		}
		// Verification cannot be switched on before a secret exists; then it can.
		form.Set("identity_verification", "on")
		noSecret := c.postCSRF("/settings/messenger", form)
		wantStatus(t, "verification without secret", noSecret, http.StatusConflict)
		wantBody(t, "verification without secret", noSecret, `id="identity_verification-error"`)
		sec := c.postCSRF("/settings/messenger/identity-secret", nil)
		wantStatus(t, "new secret", sec, http.StatusOK)
		wantBody(t, "new secret", sec, `id="new_secret"`, "it will not be shown again")
		wantRedirect(t, "switch on", c.postCSRF("/settings/messenger", form), "/settings/messenger")
		if again := c.get("/settings/messenger"); !strings.Contains(again.body, "A secret exists") || strings.Contains(again.body, `id="new_secret"`) {
			t.Fatal("the secret is shown again or not reported")
		}

		// Reps may not see or change it.
		h.id.CreateUser(context.Background(), d, identity.NewUser{WorkspaceID: h.ws.ID, Email: "rep@acme.example", Role: identity.RoleRep, Password: "rep password 1"})
		rc := newConsoleClient(t, h)
		rc.login("rep@acme.example", "rep password 1")
		wantStatus(t, "rep", rc.get("/settings/messenger"), http.StatusForbidden)
		wantStatus(t, "rep post", rc.postCSRF("/settings/messenger", form), http.StatusForbidden)
	})
}

func TestConsoleChatSettings(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		c := newConsoleClient(t, h)
		c.login("admin@acme.example", adminPassword)
		p := c.get("/settings/chat")
		wantStatus(t, "chat settings", p, 200)
		wantBody(t, "chat settings", p, `name="idle_minutes"`, `value="10"`, `name="live_view_block"`, `name="target_accounts"`)
		checkConsoleHTML(t, "chat settings", p.body)
		for _, bad := range []struct{ idle, block, targets, field string }{
			{"0", "", "", "idle_minutes"},
			{"ten", "", "", "idle_minutes"},
			{"10", "not a host!", "", "live_view_block"},
			{"10", "", "nodomain", "target_accounts"},
		} {
			p := c.postCSRF("/settings/chat", url.Values{"idle_minutes": {bad.idle}, "live_view_block": {bad.block}, "target_accounts": {bad.targets}})
			wantStatus(t, "bad "+bad.field, p, 422)
			wantBody(t, "bad "+bad.field, p, `id="`+bad.field+`-error"`)
		}
		p = c.postCSRF("/settings/chat", url.Values{"idle_minutes": {"15"}, "live_view_block": {"https://careers.acme.example/jobs?x=1\n*.internal.acme.example"},
			"target_accounts": {"Globex.com, ada@initech.example"}})
		wantRedirect(t, "save", p, "/settings/chat")
		ws, err := h.wss.Get(context.Background(), h.ws.ID)
		if err != nil {
			t.Fatal(err)
		}
		st := ws.Settings
		if st.IdleMinutes != 15 || strings.Join(st.LiveViewBlock, " ") != "careers.acme.example/jobs *.internal.acme.example" ||
			strings.Join(st.TargetAccounts, " ") != "globex.com initech.example" {
			t.Fatalf("saved %+v", st)
		}
		// Reps may not.
		h.id.CreateUser(context.Background(), d, identity.NewUser{WorkspaceID: h.ws.ID, Email: "riley@acme.example", Role: identity.RoleRep, Password: "user password 1"})
		rc := newConsoleClient(t, h)
		rc.login("riley@acme.example", "user password 1")
		wantStatus(t, "rep", rc.get("/settings/chat"), 403)
	})
}
