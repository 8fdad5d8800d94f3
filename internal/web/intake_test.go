package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/chat"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/email"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/testkit"
)

// TestMessengerSpamDefences: what a visitor submits through a form, a chat answer or a
// transcript request meets the workspace's email policy, the gibberish check, the domain-burst
// limit and the honeypot; each refusal says what to do, stores nothing, and is counted for the
// admins.
func TestMessengerSpamDefences(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := visitorHarness(t, d)
		ctx := context.Background()
		if _, err := h.outbox.Store().SetPolicy(ctx, h.ws.ID, email.Policy{BusinessOnly: true, DomainBurst: 3,
			AllowDomains: []string{"partner.example"}}); err != nil {
			t.Fatal(err)
		}
		form := func(tok string, fields map[string]string) response {
			return h.m("POST", "/m/v1/form", tok, map[string]any{"fields": fields}, siteOrigin)
		}
		newVisitor := func() string {
			r := h.hello(t, nil)
			return r.json["visitor_token"].(string)
		}
		tok := newVisitor()
		for _, tc := range []struct {
			name   string
			fields map[string]string
			field  string
			says   string
		}{
			{"personal", map[string]string{"email": "ann@gmail.com"}, "email", "work email"},
			{"disposable", map[string]string{"email": "ann@mailinator.com"}, "email", "disposable"},
			{"syntax", map[string]string{"email": "ann@@acme.example"}, "email", ""},
			{"gibberish name", map[string]string{"email": "ann@acme.example", "first_name": "asdfghjkl"}, "first_name", "real first name"},
			{"gibberish company", map[string]string{"company": "qwertyuiop"}, "company", "real company"},
			{"gibberish address", map[string]string{"email": "asdfghjkl@acme.example"}, "email", "does not look real"},
			{"honeypot", map[string]string{"email": "ann@acme.example", HoneypotField: "http://spam.example"}, "email", "automated"},
		} {
			r := form(tok, tc.fields)
			if r.status != http.StatusUnprocessableEntity || r.errField() != tc.field || !strings.Contains(string(r.body), tc.says) {
				t.Errorf("%s: %d %s", tc.name, r.status, r.body)
			}
		}
		// identify without a signed token is the page's word: screened like a form.
		if r := h.m("POST", "/m/v1/identify", tok, map[string]any{"fields": map[string]string{"email": "ann@mailinator.com"}}, siteOrigin); r.status != 422 || r.errField() != "email" {
			t.Errorf("identify with a disposable address: %d %s", r.status, r.body)
		}
		// Nothing was stored by the refusals.
		if r := form(tok, map[string]string{"email": "Ann@Acme.example", "first_name": "Ann", HoneypotField: ""}); r.status != 200 {
			t.Fatalf("a real submission: %d %s", r.status, r.body)
		}

		// The fourth new address of one unknown domain in ten minutes is refused; an allowed domain
		// and repeats of one address are not counted.
		for i := range 3 {
			if r := form(newVisitor(), map[string]string{"email": fmt.Sprintf("buyer%d@burst.example", i)}); r.status != 200 {
				t.Fatalf("burst %d: %d %s", i, r.status, r.body)
			}
		}
		if r := form(newVisitor(), map[string]string{"email": "buyer0@burst.example"}); r.status != 200 {
			t.Fatalf("a repeat counted: %d %s", r.status, r.body)
		}
		if r := form(newVisitor(), map[string]string{"email": "buyer9@burst.example"}); r.status != 422 || !strings.Contains(string(r.body), "many addresses from burst.example") {
			t.Fatalf("the burst went through: %d %s", r.status, r.body)
		}
		for i := range 5 {
			if r := form(newVisitor(), map[string]string{"email": fmt.Sprintf("p%d@partner.example", i)}); r.status != 200 {
				t.Fatalf("allowed domain %d: %d %s", i, r.status, r.body)
			}
		}

		// A chat answer with a personal address: the message is stored, the address is not, and
		// the bot says why.
		tok = newVisitor()
		r := h.m("POST", "/m/v1/messages", tok, map[string]string{"text": "ann.lee@gmail.com"}, siteOrigin)
		if r.status != http.StatusCreated {
			t.Fatalf("message: %d %s", r.status, r.body)
		}
		if fc, _ := r.json["fields_captured"].([]any); len(fc) != 0 {
			t.Fatalf("captured %v", fc)
		}
		convID, _ := r.json["conversation_id"].(string)
		var said bool
		deadline := time.Now().Add(5 * time.Second)
		for !said && time.Now().Before(deadline) {
			msgs, err := h.chat.MessagesFor(ctx, h.ws.ID, convID, 0, 50)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				if m.Author == chat.KindBot && strings.Contains(m.Text, "work email") {
					said = true
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		if !said {
			t.Fatal("the bot did not say why the address was not taken")
		}

		// A transcript request with the honeypot filled in.
		r = h.m("POST", "/m/v1/transcript", tok, map[string]string{"conversation_id": convID, "email": "ann@acme.example", "hp": "x"}, siteOrigin)
		if r.status != 422 || !strings.Contains(string(r.body), "automated") {
			t.Fatalf("transcript honeypot: %d %s", r.status, r.body)
		}

		reasons, _, err := h.refusals.Summary(ctx, h.ws.ID, 1)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, rc := range reasons {
			got[rc.Reason] = rc.Count
		}
		want := map[string]int64{"email.personal": 2, "email.disposable": 2, "email.syntax.": 0, RefusedGibberish: 3, RefusedHoneypot: 2, RefusedDomainBurst: 1}
		for k, n := range want {
			if k == "email.syntax." {
				continue
			}
			if got[k] != n {
				t.Errorf("refusals %s = %d, want %d (all: %v)", k, got[k], n, got)
			}
		}
		if err := h.refusals.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		again, _, _ := h.refusals.Summary(ctx, h.ws.ID, 1)
		for _, rc := range again {
			if got[rc.Reason] != rc.Count {
				t.Fatalf("after writing: %v, before %v", again, reasons)
			}
		}
	})
}

// TestLeadAlert: a visitor who leaves their email address in a conversation nobody answered makes
// Beckon email the workspace's lead alert addresses, once, with a link to the conversation; not
// when the workspace has none, nor when a rep has joined.
func TestLeadAlert(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		h := visitorHarness(t, d)
		ctx := context.Background()
		leads := func() []*email.Record {
			l, err := h.outbox.Store().Messages(ctx, h.ws.ID, email.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			var out []*email.Record
			for _, m := range l {
				if m.Template == "lead" {
					out = append(out, m)
				}
			}
			return out
		}
		say := func(tok, text string) response {
			r := h.m("POST", "/m/v1/messages", tok, map[string]string{"text": text}, siteOrigin)
			if r.status != http.StatusCreated {
				t.Fatalf("message: %d %s", r.status, r.body)
			}
			return r
		}
		tok := h.hello(t, nil).json["visitor_token"].(string)
		say(tok, "Do you have a plan for 50 seats?")
		say(tok, "ann@globex.example")
		if n := len(leads()); n != 0 {
			t.Fatalf("%d lead alerts without addresses to send them to", n)
		}
		if _, err := h.outbox.Store().SetPolicy(ctx, h.ws.ID, email.Policy{LeadAlertsTo: []string{"Sales@Acme.example"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.outbox.Store().SetPolicy(ctx, h.ws.ID, email.Policy{LeadAlertsTo: []string{"acme.example"}}); !errs.Is(err, errs.Invalid) || errs.As(err).Field != "lead_alerts_to[0]" {
			t.Fatalf("a domain as a lead address: %v", err)
		}
		tok = h.hello(t, nil).json["visitor_token"].(string)
		r := say(tok, "Do you have a plan for 50 seats?")
		conv := r.json["conversation_id"].(string)
		say(tok, "bob@globex.example")
		say(tok, "bob@globex.example") // the same again: no second alert
		l := leads()
		if len(l) != 1 || l[0].To[0] != "sales@acme.example" || !strings.Contains(l[0].Subject, "bob@globex.example") {
			t.Fatalf("lead alerts %+v", l)
		}
		// The job sends it: its text has the first message and the link.
		jctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { h.s.jobs.Run(jctx); close(done) }()
		sent := h.emails.wait(t, 1)
		stop()
		<-done
		if !strings.Contains(sent.Text, "50 seats") || !strings.Contains(sent.Text, "/inbox?c="+conv+"&stream=waiting") {
			t.Fatalf("lead email text %q", sent.Text)
		}

		// A conversation a rep joined sends none.
		tok = h.hello(t, nil).json["visitor_token"].(string)
		r = say(tok, "Hello?")
		conv = r.json["conversation_id"].(string)
		if _, err := h.chat.Accept(ctx, h.ws.ID, chat.Actor{Kind: chat.KindRep, ID: h.admin.ID, Name: "Ada"}, conv); err != nil {
			t.Fatal(err)
		}
		say(tok, "carl@globex.example")
		if n := len(leads()); n != 1 {
			t.Fatalf("%d lead alerts after a rep answered", n)
		}
	})
}
