package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/beckonhq/beckon/internal/email"
	"github.com/beckonhq/beckon/internal/email/address"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/identity"
)

// The admins' email pages (docs/EMAIL.md): the address policy with a box to try an address,
// refused submissions, suppressions and unsubscribes; the history of sent email; template
// previews.

// emailSettingsForm holds the policy as typed, so that a rejected form keeps it.
type emailSettingsForm struct {
	BusinessOnly, CheckMX                    bool
	DomainBurst                              string
	AllowDomains, BlockDomains               string
	AllowAddresses, BlockAddresses, TryEmail string
	LeadAlertsTo                             string
}

type emailSettingsView struct {
	view
	Form         emailSettingsForm
	Errs         fieldErrs
	Try          *address.Result
	Templates    []email.TemplateInfo
	Suppressions []*email.Suppression
	Unsubscribes []*email.Unsubscribe
	Refusals     []refusalRow
	UnsubEmail   string
}

// refusalRow is one line of the refused-submissions table: a reason's count over 30 days.
type refusalRow struct {
	Reason, Label, Sample string
	Count                 int64
}

var emailSettingsFields = []string{"domain_burst", "allow_domains", "block_domains", "allow_addresses", "block_addresses", "lead_alerts_to", "email"}

// emailSettingsRename maps an error's field (a list entry, "block_domains[3]") to its textarea.
func emailSettingsRename(err error) error {
	if e := errs.As(err); e != nil {
		if i := strings.IndexByte(e.Field, '['); i > 0 {
			e2 := *e
			e2.Message = "line " + lineOf(e.Field[i:]) + ": " + e.Message
			e2.Field = e.Field[:i]
			return &e2
		}
	}
	return err
}

// rawLines splits a textarea into its lines, blank ones kept (the list drops them), so that an
// entry's index is its line number minus one; commas are part of entries (a quoted address may
// hold one).
func rawLines(s string) []string {
	if strings.TrimSpace(s) == "" {
		return []string{}
	}
	out := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	return out
}

// lineOf turns "[3]" into "4".
func lineOf(idx string) string {
	n, err := strconv.Atoi(strings.Trim(idx, "[]"))
	if err != nil {
		return idx
	}
	return strconv.Itoa(n + 1)
}

func (c *console) requireAdmin(r *http.Request, what string) error {
	if principalOf(r).User.Role != identity.RoleAdmin {
		return errs.E(errs.Forbidden, "only an admin can %s", what)
	}
	return nil
}

// emailSettingsPageWith is the page after a failed unsubscribe form, keeping what was typed.
func (c *console) emailSettingsPageWith(w http.ResponseWriter, r *http.Request, status int, pageErr string, set func(*emailSettingsView)) error {
	return c.emailSettingsPageView(w, r, status, nil, nil, pageErr, set)
}

func (c *console) emailSettingsPage(w http.ResponseWriter, r *http.Request, status int, form *emailSettingsForm, fe fieldErrs, pageErr string) error {
	return c.emailSettingsPageView(w, r, status, form, fe, pageErr, nil)
}

func (c *console) emailSettingsPageView(w http.ResponseWriter, r *http.Request, status int, form *emailSettingsForm, fe fieldErrs, pageErr string, set func(*emailSettingsView)) error {
	if err := c.requireAdmin(r, "change the email settings"); err != nil {
		return err
	}
	o, err := c.s.mailer()
	if err != nil {
		return err
	}
	ctx, wsID := r.Context(), principalOf(r).WorkspaceID()
	p, err := o.Store().Policy(ctx, wsID)
	if err != nil {
		return err
	}
	if form == nil {
		form = &emailSettingsForm{BusinessOnly: p.BusinessOnly, CheckMX: p.CheckMX, DomainBurst: strconv.Itoa(p.DomainBurst),
			AllowDomains: strings.Join(p.AllowDomains, "\n"), BlockDomains: strings.Join(p.BlockDomains, "\n"),
			AllowAddresses: strings.Join(p.AllowAddresses, "\n"), BlockAddresses: strings.Join(p.BlockAddresses, "\n"),
			LeadAlertsTo: strings.Join(p.LeadAlertsTo, "\n")}
	}
	v := &emailSettingsView{view: view{Title: "Email", Nav: "email", Error: pageErr}, Form: *form, Errs: fe, Templates: email.TemplateList()}
	if try := strings.TrimSpace(r.URL.Query().Get("try")); try != "" && r.Method == http.MethodGet {
		v.Form.TryEmail = try
		res, err := o.Store().Check(ctx, wsID, try)
		if err != nil {
			return err
		}
		v.Try = &res
	}
	if v.Suppressions, err = o.Store().Suppressions(ctx, wsID, 50, ""); err != nil {
		return err
	}
	if v.Unsubscribes, err = o.Store().Unsubscribes(ctx, wsID, 50, ""); err != nil {
		return err
	}
	if v.Refusals, err = c.s.refusalRows(ctx, wsID); err != nil {
		return err
	}
	if set != nil {
		set(v)
	}
	return c.render(w, r, status, "email_settings", v)
}

func (c *console) emailSettingsForm(w http.ResponseWriter, r *http.Request) error {
	return c.emailSettingsPage(w, r, http.StatusOK, nil, nil, "")
}

// emailSettings saves the policy and its lists.
func (c *console) emailSettings(w http.ResponseWriter, r *http.Request) error {
	if err := c.requireAdmin(r, "change the email settings"); err != nil {
		return err
	}
	o, err := c.s.mailer()
	if err != nil {
		return err
	}
	f := emailSettingsForm{BusinessOnly: r.PostFormValue("business_only") == "on", CheckMX: r.PostFormValue("check_mx") == "on",
		DomainBurst: r.PostFormValue("domain_burst"), AllowDomains: r.PostFormValue("allow_domains"), BlockDomains: r.PostFormValue("block_domains"),
		AllowAddresses: r.PostFormValue("allow_addresses"), BlockAddresses: r.PostFormValue("block_addresses"),
		LeadAlertsTo: r.PostFormValue("lead_alerts_to")}
	fail := func(err error) error {
		status, fe, msg, err := c.formError(r, emailSettingsRename(err), nil, emailSettingsFields...)
		if err != nil {
			return err
		}
		return c.emailSettingsPage(w, r, status, &f, fe, msg)
	}
	burst := 0
	if s := strings.TrimSpace(f.DomainBurst); s != "" {
		if burst, err = strconv.Atoi(s); err != nil {
			return fail(errs.Field(errs.Invalid, "domain_burst", "must be a whole number (0: no limit)"))
		}
	}
	p := email.Policy{BusinessOnly: f.BusinessOnly, CheckMX: f.CheckMX, DomainBurst: burst,
		AllowDomains: rawLines(f.AllowDomains), BlockDomains: rawLines(f.BlockDomains),
		AllowAddresses: rawLines(f.AllowAddresses), BlockAddresses: rawLines(f.BlockAddresses), LeadAlertsTo: rawLines(f.LeadAlertsTo)}
	if _, err := o.Store().SetPolicy(r.Context(), principalOf(r).WorkspaceID(), p); err != nil {
		return fail(err)
	}
	return c.redirectFlash(w, r, "/settings/email", "email")
}

// emailUnsubscribe adds (action "add") or removes (action "remove") an unsubscribe.
func (c *console) emailUnsubscribe(w http.ResponseWriter, r *http.Request) error {
	if err := c.requireAdmin(r, "change unsubscribes"); err != nil {
		return err
	}
	o, err := c.s.mailer()
	if err != nil {
		return err
	}
	addr, wsID := r.PostFormValue("email"), principalOf(r).WorkspaceID()
	switch r.PostFormValue("action") {
	case "remove":
		err = o.Store().Resubscribe(r.Context(), wsID, addr)
	default:
		err = o.Store().Unsubscribe(r.Context(), wsID, addr, "admin")
	}
	if err != nil {
		status, fe, msg, err := c.formError(r, err, nil, "email")
		if err != nil {
			return err
		}
		if msg == "" {
			msg = fe["email"]
		}
		return c.emailSettingsPageWith(w, r, status, msg, func(v *emailSettingsView) { v.UnsubEmail = addr })
	}
	return c.redirectFlash(w, r, "/settings/email#unsubscribes", "unsubscribes")
}

// emailLogView is the history of sent email.
type emailLogView struct {
	view
	Status, To string
	Statuses   []string
	Messages   []*email.Record
	Next       string
}

// emailLog lists sent email, newest first: ?status=&to=&cursor=.
func (c *console) emailLog(w http.ResponseWriter, r *http.Request) error {
	if err := c.requireAdmin(r, "see the email history"); err != nil {
		return err
	}
	o, err := c.s.mailer()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	v := &emailLogView{view: view{Title: "Sent email", Nav: "email"}, Status: q.Get("status"), To: strings.TrimSpace(q.Get("to")),
		Statuses: []string{email.StatusQueued, email.StatusRetrying, email.StatusSent, email.StatusFailed, email.StatusSuppressed, email.StatusBounced, email.StatusComplained}}
	const per = 50
	l, err := o.Store().Messages(r.Context(), principalOf(r).WorkspaceID(), email.Filter{Status: v.Status, To: v.To, Cursor: q.Get("cursor"), Limit: per + 1})
	if e := errs.As(err); e != nil && e.Kind == errs.Invalid {
		v.Error = sentence(e.Field) + " " + e.Message
		l, err = nil, nil
	}
	if err != nil {
		return err
	}
	if len(l) > per {
		l, v.Next = l[:per], l[per-1].Cursor()
	}
	v.Messages = l
	return c.render(w, r, http.StatusOK, "email_log", v)
}

type emailMessageView struct {
	view
	Message *email.Record
}

func (c *console) emailMessage(w http.ResponseWriter, r *http.Request) error {
	if err := c.requireAdmin(r, "see the email history"); err != nil {
		return err
	}
	o, err := c.s.mailer()
	if err != nil {
		return err
	}
	m, err := o.Store().Message(r.Context(), principalOf(r).WorkspaceID(), pathID(r, "id"))
	if err != nil {
		return err
	}
	return c.render(w, r, http.StatusOK, "email_message", &emailMessageView{view: view{Title: m.Subject, Nav: "email"}, Message: m})
}

type emailTemplateView struct {
	view
	Info                email.TemplateInfo
	Subject, Text, HTML string
	Templates           []email.TemplateInfo
}

// emailTemplate previews a template with sample data: the HTML part in a sandboxed frame (no
// scripts, no same origin), the text part as text.
func (c *console) emailTemplate(w http.ResponseWriter, r *http.Request) error {
	if err := c.requireAdmin(r, "preview email templates"); err != nil {
		return err
	}
	name := pathID(r, "name")
	subject, text, html, err := email.Preview(name)
	if err != nil {
		return err
	}
	v := &emailTemplateView{view: view{Title: "Email template: " + name, Nav: "email"}, Subject: subject, Text: text, HTML: html, Templates: email.TemplateList()}
	for _, t := range v.Templates {
		if t.Name == name {
			v.Info = t
		}
	}
	return c.render(w, r, http.StatusOK, "email_template", v)
}

// emailTemplateHTML serves a template's HTML part for the preview frame, under a policy of its
// own: inline styles (as emails have) but no script, no requests, framed only by the console.
func (c *console) emailTemplateHTML(w http.ResponseWriter, r *http.Request) error {
	if err := c.requireAdmin(r, "preview email templates"); err != nil {
		return err
	}
	_, _, html, err := email.Preview(pathID(r, "name"))
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.Write([]byte(html))
	return nil
}
