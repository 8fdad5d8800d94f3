package web

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/beckonhq/beckon/internal/email"
	"github.com/beckonhq/beckon/internal/email/address"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/notify"
	"github.com/beckonhq/beckon/internal/spam"
)

// The email layer's API (E1–E3, docs/EMAIL.md): validating an address, the workspace's address
// policy, suppressions and unsubscribes, the history of sent email and the templates.

// mailer returns the outbox, or errs.Unavailable when the server was built without one.
func (s *Server) mailer() (*email.Outbox, error) {
	if s.deps.Email == nil {
		return nil, errs.E(errs.Unavailable, "email is not configured on this server")
	}
	return s.deps.Email, nil
}

// apiValidateEmail checks one address against the workspace's policy: POST {"email": "…"}.
func (s *Server) apiValidateEmail(w http.ResponseWriter, r *http.Request) error {
	o, err := s.mailer()
	if err != nil {
		return err
	}
	var in struct {
		Email *string `json:"email"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if in.Email == nil {
		return errs.Field(errs.Invalid, "email", "is required")
	}
	res, err := o.Store().Check(r.Context(), principalOf(r).WorkspaceID(), *in.Email)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) apiGetEmailPolicy(w http.ResponseWriter, r *http.Request) error {
	o, err := s.mailer()
	if err != nil {
		return err
	}
	p, err := o.Store().Policy(r.Context(), principalOf(r).WorkspaceID())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// apiPutEmailPolicy replaces the policy and its lists; fields left out are off or empty.
func (s *Server) apiPutEmailPolicy(w http.ResponseWriter, r *http.Request) error {
	o, err := s.mailer()
	if err != nil {
		return err
	}
	var in email.Policy
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	in.UpdatedAt = time.Time{}
	p, err := o.Store().SetPolicy(r.Context(), principalOf(r).WorkspaceID(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// apiEmailStatus tells whether the workspace's mail to ?email= is suppressed or unsubscribed.
func (s *Server) apiEmailStatus(w http.ResponseWriter, r *http.Request) error {
	o, err := s.mailer()
	if err != nil {
		return err
	}
	st, err := o.Store().Lookup(r.Context(), principalOf(r).WorkspaceID(), r.URL.Query().Get("email"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// listLimit reads ?limit= (1..max, default def).
func listLimit(r *http.Request, def, max int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, errs.Field(errs.Invalid, "limit", "must be a whole number from 1 to %d", max)
	}
	return n, nil
}

// apiListSuppressions lists the global suppressions caused by this workspace's mail.
func (s *Server) apiListSuppressions(w http.ResponseWriter, r *http.Request) error {
	o, err := s.mailer()
	if err != nil {
		return err
	}
	return listPaged(w, r, func(limit int, cursor string) ([]*email.Suppression, error) {
		return o.Store().Suppressions(r.Context(), principalOf(r).WorkspaceID(), limit, cursor)
	})
}

func (s *Server) apiListUnsubscribes(w http.ResponseWriter, r *http.Request) error {
	o, err := s.mailer()
	if err != nil {
		return err
	}
	return listPaged(w, r, func(limit int, cursor string) ([]*email.Unsubscribe, error) {
		return o.Store().Unsubscribes(r.Context(), principalOf(r).WorkspaceID(), limit, cursor)
	})
}

// listPaged answers a list paged by cursor: ?limit= (1..email.MaxListed, default 100) and
// ?cursor= (the next_cursor of the previous page).
func listPaged[T interface{ Cursor() string }](w http.ResponseWriter, r *http.Request, fetch func(limit int, cursor string) ([]T, error)) error {
	limit, err := listLimit(r, 100, email.MaxListed)
	if err != nil {
		return err
	}
	l, err := fetch(limit+1, r.URL.Query().Get("cursor"))
	if err != nil {
		return err
	}
	out := list[T]{Data: l}
	if len(l) > limit {
		out.Data = l[:limit]
		out.NextCursor = l[limit-1].Cursor()
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// apiAddUnsubscribe records an unsubscribe an admin was asked for: POST {"email": "…"}.
func (s *Server) apiAddUnsubscribe(w http.ResponseWriter, r *http.Request) error {
	o, err := s.mailer()
	if err != nil {
		return err
	}
	var in struct {
		Email string `json:"email"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	wsID := principalOf(r).WorkspaceID()
	if err := o.Store().Unsubscribe(r.Context(), wsID, in.Email, "admin"); err != nil {
		return err
	}
	st, err := o.Store().Lookup(r.Context(), wsID, in.Email)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// apiDeleteUnsubscribe lets the workspace mail an address again (the person asked).
func (s *Server) apiDeleteUnsubscribe(w http.ResponseWriter, r *http.Request) error {
	o, err := s.mailer()
	if err != nil {
		return err
	}
	if err := o.Store().Resubscribe(r.Context(), principalOf(r).WorkspaceID(), r.PathValue("email")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiListEmails lists the history of sent email: ?status=&to=&limit=&cursor=.
func (s *Server) apiListEmails(w http.ResponseWriter, r *http.Request) error {
	o, err := s.mailer()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	return listPaged(w, r, func(limit int, cursor string) ([]*email.Record, error) {
		return o.Store().Messages(r.Context(), principalOf(r).WorkspaceID(),
			email.Filter{Status: q.Get("status"), To: q.Get("to"), Cursor: cursor, Limit: limit})
	})
}

func (s *Server) apiGetEmail(w http.ResponseWriter, r *http.Request) error {
	o, err := s.mailer()
	if err != nil {
		return err
	}
	m, err := o.Store().Message(r.Context(), principalOf(r).WorkspaceID(), pathID(r, "id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

func (s *Server) apiListEmailTemplates(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, list[email.TemplateInfo]{Data: email.TemplateList()})
	return nil
}

// apiPreviewEmailTemplate renders a template with sample data.
func (s *Server) apiPreviewEmailTemplate(w http.ResponseWriter, r *http.Request) error {
	subject, text, html, err := email.Preview(pathID(r, "name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"subject": subject, "text": text, "html": html})
	return nil
}

// The public side: one-click unsubscribe (RFC 8058) and the bounce webhooks.

// unsubscribePage answers the link in an email's List-Unsubscribe header and footer: a page
// with one button. Nothing changes on GET, since mail scanners follow links.
func (c *console) unsubscribePage(w http.ResponseWriter, r *http.Request) error {
	o, err := c.s.mailer()
	if err != nil {
		return err
	}
	wsID, addr, err := c.openUnsubscribe(r, o)
	if err != nil {
		return err
	}
	ws, err := c.s.workspaces.Get(r.Context(), wsID)
	if err != nil {
		return err
	}
	st, err := o.Store().Lookup(r.Context(), wsID, addr)
	if err != nil {
		return err
	}
	return c.render(w, r, http.StatusOK, "unsubscribe", &unsubscribeView{view: view{Title: "Unsubscribe"},
		Workspace: ws.Name, Email: addr, Done: st.Unsubscribed})
}

// openUnsubscribe opens the token of an unsubscribe link. Only a token that does not open spends
// the client's guest allowance: mail providers post many real unsubscribes from a few addresses,
// and none of them may be refused, while guessing tokens is slowed down.
func (c *console) openUnsubscribe(r *http.Request, o *email.Outbox) (wsID, addr string, err error) {
	wsID, addr, err = o.OpenUnsubscribe(r.PathValue("token"))
	if err != nil {
		if lerr := c.guestLimit(r); lerr != nil {
			return "", "", lerr
		}
	}
	return wsID, addr, err
}

// unsubscribeView is the page of an unsubscribe link.
type unsubscribeView struct {
	view
	Workspace string
	Email     string
	Done      bool
}

// unsubscribe takes the POST of a mail client's one-click unsubscribe (body
// "List-Unsubscribe=One-Click", RFC 8058) or of the page's button. It needs no session, CSRF
// token or same origin (webmail may post from its own pages): the sealed token in the path is the
// authority, and it only ever unsubscribes.
func (c *console) unsubscribe(w http.ResponseWriter, r *http.Request) error {
	o, err := c.s.mailer()
	if err != nil {
		return err
	}
	wsID, addr, err := c.openUnsubscribe(r, o)
	if err != nil {
		return err
	}
	source := "link"
	if err := r.ParseMultipartForm(4 << 10); err != nil && err != http.ErrNotMultipart {
		return errs.E(errs.Malformed, "the form could not be read")
	}
	if r.PostFormValue("List-Unsubscribe") == "One-Click" {
		source = "one-click"
	}
	if err := o.Store().Unsubscribe(r.Context(), wsID, addr, source); err != nil {
		return err
	}
	if source == "one-click" {
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "unsubscribed\n")
		return nil
	}
	ws, err := c.s.workspaces.Get(r.Context(), wsID)
	if err != nil {
		return err
	}
	return c.render(w, r, http.StatusOK, "unsubscribe", &unsubscribeView{view: view{Title: "Unsubscribed"},
		Workspace: ws.Name, Email: addr, Done: true})
}

// emailEvent is one event of the signed bounce webhook.
type emailEvent struct {
	Type       string `json:"type"` // "bounce" (hard), "soft_bounce", "complaint"
	Email      string `json:"email"`
	Status     string `json:"status,omitempty"` // RFC 3463, e.g. "5.1.1"
	Diagnostic string `json:"diagnostic,omitempty"`
	MessageID  string `json:"message_id,omitempty"` // the X-Beckon-Message-Id of the mail, when known
}

// MaxEmailEvents is the most events one webhook call may carry.
const MaxEmailEvents = 1000

// emailEvents takes bounces and complaints from a mail provider or relay: a JSON body
// {"events": [...]} signed like Beckon's own webhooks (Beckon-Signature with the server's
// email webhook secret). Hard bounces and complaints go on the global suppression list.
func (s *Server) emailEvents(w http.ResponseWriter, r *http.Request) error {
	o, _, err := s.signedEmailHook(r)
	if err != nil {
		return err
	}
	var in struct {
		Events []emailEvent `json:"events"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if len(in.Events) > MaxEmailEvents {
		return errs.Field(errs.Invalid, "events", "at most %d events at once", MaxEmailEvents)
	}
	for i, e := range in.Events {
		switch e.Type {
		case "bounce", "soft_bounce", "complaint":
		default:
			return errs.Field(errs.Invalid, "events["+strconv.Itoa(i)+"].type", "%q: want bounce, soft_bounce or complaint", e.Type)
		}
		if _, err := email.Key(e.Email); err != nil {
			return errs.Field(errs.Invalid, "events["+strconv.Itoa(i)+"].email", "is not an email address")
		}
	}
	n := 0
	for _, e := range in.Events {
		applied, err := o.ApplyBounce(r.Context(), email.Bounce{Kind: bounceKind(e.Type), Address: e.Email, Status: e.Status,
			Diagnostic: e.Diagnostic, MessageID: e.MessageID, Source: "webhook"})
		if err != nil {
			return err
		}
		if applied {
			n++
		}
	}
	writeJSON(w, http.StatusOK, map[string]int{"received": len(in.Events), "suppressed": n})
	return nil
}

func bounceKind(t string) string {
	switch t {
	case "bounce":
		return email.BounceHard
	case "complaint":
		return email.BounceComplaint
	}
	return email.BounceSoft
}

// emailDSN takes one raw bounce or complaint message (RFC 3464 delivery status notification or
// RFC 5965 feedback report, Content-Type message/rfc822), signed like emailEvents: for a relay
// or mail provider that forwards bounces over HTTP.
func (s *Server) emailDSN(w http.ResponseWriter, r *http.Request) error {
	o, body, err := s.signedEmailHook(r)
	if err != nil {
		return err
	}
	res, err := o.ApplyReport(r.Context(), bytes.NewReader(body), "dsn")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// signedEmailHook reads a bounce webhook's body and checks its signature.
func (s *Server) signedEmailHook(r *http.Request) (*email.Outbox, []byte, error) {
	o, err := s.mailer()
	if err != nil {
		return nil, nil, err
	}
	if len(s.deps.EmailWebhookSecret) == 0 {
		return nil, nil, errs.E(errs.NotFound, "the email webhook is not configured on this server (BECKON_EMAIL_WEBHOOK_SECRET)")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, nil, jsonError(err)
	}
	if err := notify.Verify(r.Header.Get(notify.HeaderSignature), body, s.deps.EmailWebhookSecret, s.clock.Now(), 5*time.Minute); err != nil {
		return nil, nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return o, body, nil
}

// refusalLabels are the words admins read for each refusal reason.
var refusalLabels = map[string]string{
	RefusedHoneypot:    "Hidden form field filled in (a bot)",
	RefusedGibberish:   "Name or address looks like keyboard mashing",
	RefusedDomainBurst: "Too many new addresses from one domain",
	RefusedRateIP:      "Too many requests from one network address",
	RefusedRateVisitor: "Too many requests from one visitor",
}

// refusalLabel names a reason, including the email validator's ("email.disposable").
func refusalLabel(reason string) string {
	if l, ok := refusalLabels[reason]; ok {
		return l
	}
	if code, ok := strings.CutPrefix(reason, "email."); ok {
		switch code {
		case address.ReasonPersonal:
			return "Personal email address where business email is required"
		case address.ReasonDisposable:
			return "Disposable email address"
		case address.ReasonBlockedDomain, address.ReasonBlockedAddress:
			return "Email address on the block list"
		case string(address.MXNotFound), string(address.MXNull):
			return "Email domain receives no mail"
		}
		return "Invalid email address"
	}
	return reason
}

// refusalRows is the console's table of refusals over 30 days.
func (s *Server) refusalRows(ctx context.Context, wsID string) ([]refusalRow, error) {
	if s.deps.Refusals == nil {
		return nil, nil
	}
	reasons, _, err := s.deps.Refusals.Summary(ctx, wsID, 30)
	if err != nil {
		return nil, err
	}
	out := make([]refusalRow, 0, len(reasons))
	for _, r := range reasons {
		sample := r.LastAt.Format("2 Jan 15:04 MST")
		if r.LastSample != "" {
			sample += " · " + r.LastSample
		}
		out = append(out, refusalRow{Reason: r.Reason, Label: refusalLabel(r.Reason), Count: r.Count, Sample: sample})
	}
	return out, nil
}

// apiSpamRefusals answers the refusals of the last ?days= days (default 30): per reason and per day.
func (s *Server) apiSpamRefusals(w http.ResponseWriter, r *http.Request) error {
	days := 30
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 366 {
			return errs.Field(errs.Invalid, "days", "must be a whole number from 1 to 366")
		}
		days = n
	}
	if s.deps.Refusals == nil {
		return errs.E(errs.Unavailable, "refusal counts are not kept on this server")
	}
	reasons, perDay, err := s.deps.Refusals.Summary(r.Context(), principalOf(r).WorkspaceID(), days)
	if err != nil {
		return err
	}
	type reasonOut struct {
		spam.ReasonCount
		Label string `json:"label"`
	}
	out := make([]reasonOut, len(reasons))
	for i, rc := range reasons {
		out[i] = reasonOut{ReasonCount: rc, Label: refusalLabel(rc.Reason)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"days": days, "reasons": out, "per_day": perDay})
	return nil
}
