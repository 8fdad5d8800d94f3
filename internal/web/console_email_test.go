package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/email"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/testkit"
)

// TestConsoleEmail: an admin saves the address policy (a bad line is pointed at), tries an
// address, adds and removes an unsubscribe, reads the history of sent email and previews the
// templates; the refusals table shows what the defences refused; reps may not.
func TestConsoleEmail(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d)
		ctx := context.Background()
		c := newConsoleClient(t, h)
		c.login("admin@acme.example", adminPassword)
		p := c.get("/settings/email")
		wantStatus(t, "email settings", p, 200)
		wantBody(t, "email settings", p, `name="business_only"`, `name="block_domains"`, `href="/settings/email/templates/invite"`, "Nothing refused.")
		checkConsoleHTML(t, "email settings", p.body)

		p = c.postCSRF("/settings/email", url.Values{"block_domains": {"ok.example\n\nnot a domain!"}, "domain_burst": {"5"}})
		wantStatus(t, "bad line", p, 422)
		wantBody(t, "bad line", p, `id="block_domains-error"`, "Line 3: ")
		p = c.postCSRF("/settings/email", url.Values{"domain_burst": {"many"}})
		wantStatus(t, "bad burst", p, 422)
		wantBody(t, "bad burst", p, `id="domain_burst-error"`)
		p = c.postCSRF("/settings/email", url.Values{"business_only": {"on"}, "block_domains": {"Competitor.example"},
			"allow_addresses": {"Founder@Gmail.com"}, "domain_burst": {"3"}})
		wantRedirect(t, "save", p, "/settings/email")
		pol, err := h.outbox.Store().Policy(ctx, h.ws.ID)
		if err != nil || !pol.BusinessOnly || pol.DomainBurst != 3 || pol.BlockDomains[0] != "competitor.example" || pol.AllowAddresses[0] != "founder@gmail.com" {
			t.Fatalf("saved %+v %v", pol, err)
		}
		p = c.get("/settings/email?try=" + url.QueryEscape("ann@gmail.com"))
		wantBody(t, "try personal", p, "Refused", "<code>personal</code>")
		p = c.get("/settings/email?try=" + url.QueryEscape("founder@gmail.com"))
		wantBody(t, "try allowed", p, "Accepted", "founder@gmail.com")

		p = c.postCSRF("/settings/email/unsubscribes", url.Values{"email": {"Left@Acme.example"}, "action": {"add"}})
		wantRedirect(t, "unsubscribe", p, "/settings/email#unsubscribes")
		wantBody(t, "unsubscribed listed", c.get("/settings/email"), "left@acme.example")
		p = c.postCSRF("/settings/email/unsubscribes", url.Values{"email": {"nope"}, "action": {"add"}})
		wantStatus(t, "bad unsubscribe", p, 422)
		p = c.postCSRF("/settings/email/unsubscribes", url.Values{"email": {"left@acme.example"}, "action": {"remove"}})
		wantRedirect(t, "resubscribe", p, "/settings/email#unsubscribes")
		if st, _ := h.outbox.Store().Lookup(ctx, h.ws.ID, "left@acme.example"); st.Unsubscribed {
			t.Fatal("still unsubscribed")
		}

		h.refusals.Count(h.ws.ID, RefusedHoneypot, "")
		h.refusals.Count(h.ws.ID, "email.disposable", "…@mailinator.com")
		wantBody(t, "refusals", c.get("/settings/email"), "Hidden form field filled in", "Disposable email address", "…@mailinator.com")

		id, err := h.outbox.Enqueue(ctx, d, h.ws.ID, email.Message{To: []string{"ann@acme.example"}, Subject: "Your <transcript>", Text: "hi", Template: "transcript"})
		if err != nil {
			t.Fatal(err)
		}
		p = c.get("/email")
		wantStatus(t, "log", p, 200)
		wantBody(t, "log", p, "ann@acme.example", "Your &lt;transcript&gt;", `href="/email/`+id+`"`, "queued")
		checkConsoleHTML(t, "log", p.body)
		wantBody(t, "log filtered", c.get("/email?status=sent"), "No email yet matching this filter")
		wantBody(t, "log bad status", c.get("/email?status=nope"), "not a message status")
		p = c.get("/email/" + id)
		wantStatus(t, "message", p, 200)
		wantBody(t, "message", p, "Your &lt;transcript&gt;", "ann@acme.example", "<strong>queued</strong>")
		wantStatus(t, "unknown message", c.get("/email/em_nope"), 404)

		p = c.get("/settings/email/templates/transcript")
		wantStatus(t, "template", p, 200)
		wantBody(t, "template", p, `<iframe class="email-preview"`, `sandbox`, "Here is the transcript", "Do you integrate with Salesforce?")
		p = c.get("/settings/email/templates/transcript/html")
		wantStatus(t, "template html", p, 200)
		if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") || strings.Contains(csp, "script-src") {
			t.Fatalf("preview CSP %q", csp)
		}
		wantStatus(t, "unknown template", c.get("/settings/email/templates/nope"), 404)

		h.id.CreateUser(ctx, d, identity.NewUser{WorkspaceID: h.ws.ID, Email: "riley@acme.example", Role: identity.RoleRep, Password: "user password 1"})
		rc := newConsoleClient(t, h)
		rc.login("riley@acme.example", "user password 1")
		for _, path := range []string{"/settings/email", "/email", "/email/" + id, "/settings/email/templates/invite"} {
			wantStatus(t, "rep "+path, rc.get(path), http.StatusForbidden)
		}
	})
}
