package email_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/email"
	"github.com/beckonhq/beckon/internal/email/address"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/jobs"
	"github.com/beckonhq/beckon/internal/secret"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/workspace"
)

// rig is an outbox on a real SMTP server with its job queue running.
type rig struct {
	d   *db.DB
	srv *testkit.SMTPServer
	q   *jobs.Queue
	out *email.Outbox
	st  *email.Store
	ws  string // a workspace's id
	ws2 string // another's
}

func newRig(t *testing.T, d *db.DB) *rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv := testkit.NewSMTPServer(t)
	sender, err := email.NewSMTP(email.SMTPConfig{Host: srv.Host, Port: srv.Port, From: "beckon@acme.example", TLS: "none"})
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := secret.NewKeyring(bytes.Repeat([]byte{7}, 32))
	q := jobs.New(d, clock.System{}, slog.New(slog.NewTextHandler(io.Discard, nil)), jobs.Options{PollInterval: 20 * time.Millisecond, BackoffBase: 50 * time.Millisecond})
	st := email.NewStore(d, clock.System{}, &address.Validator{})
	r := &rig{d: d, srv: srv, q: q, st: st, out: email.NewOutbox(st, q, sender, keys, "https://chat.acme.example")}
	wss := workspace.NewStore(d, clock.System{})
	for _, p := range []*string{&r.ws, &r.ws2} {
		w, err := wss.Create(ctx, d, workspace.New{Name: "Acme", TimeZone: "UTC"})
		if err != nil {
			t.Fatal(err)
		}
		*p = w.ID
	}
	done := make(chan struct{})
	go func() { q.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// queue queues m for workspace ws and wakes the workers; it returns the message's id.
func (r *rig) queue(t *testing.T, ws string, m email.Message) string {
	t.Helper()
	id, err := r.out.Enqueue(context.Background(), r.d, ws, m)
	if err != nil {
		t.Fatal(err)
	}
	r.q.Notify()
	return id
}

// waitStatus waits until message id has status want and returns it.
func (r *rig) waitStatus(t *testing.T, ws, id, want string) *email.Record {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := r.st.Message(context.Background(), ws, id)
		if err != nil {
			t.Fatal(err)
		}
		if m.Status == want {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %s is %s (%+v), want %s", id, m.Status, m.Events, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOutbox sends through the durable queue to a real SMTP server: the stored payload is sealed,
// the email arrives with its history id and a one-click unsubscribe, and its history says sent.
func TestOutbox(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		r := newRig(t, d)
		ctx := context.Background()
		link := "https://chat.acme.example/activate/inv_secretsecret"
		id := r.queue(t, r.ws, email.Message{To: []string{"Rae <rae@acme.example>"}, Subject: "Welcome", Text: "Join: " + link, Template: "invite"})
		var stored string
		d.QueryRowContext(ctx, `SELECT payload FROM jobs WHERE kind = $1`, email.JobKind).Scan(&stored)
		if strings.Contains(stored, "inv_secret") || strings.Contains(stored, "rae@") || !strings.Contains(stored, "bks1.") {
			t.Fatalf("stored payload is not sealed: %s", stored)
		}
		m := r.srv.WaitFor(t, 1, 10*time.Second)[0]
		if !strings.Contains(m.Text, link) {
			t.Fatalf("delivered %q", m.Text)
		}
		if m.Header.Get(email.HeaderMessageID) != id {
			t.Fatalf("history id header %q, want %s", m.Header.Get(email.HeaderMessageID), id)
		}
		unsub := m.Header.Get("List-Unsubscribe")
		if !strings.HasPrefix(unsub, "<https://chat.acme.example/u/") || m.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
			t.Fatalf("unsubscribe headers %q / %q", unsub, m.Header.Get("List-Unsubscribe-Post"))
		}
		tok := strings.TrimSuffix(strings.TrimPrefix(unsub, "<https://chat.acme.example/u/"), ">")
		if ws, addr, err := r.out.OpenUnsubscribe(tok); err != nil || ws != r.ws || addr != "rae@acme.example" {
			t.Fatalf("unsubscribe token opens to %q %q %v", ws, addr, err)
		}
		if _, _, err := r.out.OpenUnsubscribe(tok[:len(tok)-2] + "xx"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("a tampered token: %v", err)
		}
		rec := r.waitStatus(t, r.ws, id, email.StatusSent)
		if rec.Template != "invite" || rec.To[0] != "rae@acme.example" || rec.SentAt.IsZero() || len(rec.Events) != 2 {
			t.Fatalf("history %+v", rec)
		}
		if _, err := r.st.Message(ctx, r.ws2, id); !errs.Is(err, errs.NotFound) {
			t.Fatalf("another workspace reads the message: %v", err)
		}

		// A 5xx refusal of the message fails the job at once, and the history says why.
		r.srv.RejectNext(550, "Message refused")
		id = r.queue(t, r.ws, email.Message{To: []string{"gone@acme.example"}, Subject: "x", Text: "y"})
		rec = r.waitStatus(t, r.ws, id, email.StatusFailed)
		if rec.Attempts != 1 || !strings.Contains(rec.LastError, "550") {
			t.Fatalf("failed message %+v", rec)
		}
		if st, _ := r.st.Lookup(ctx, r.ws, "gone@acme.example"); st.Suppressed {
			t.Fatal("a refusal of the message (not the address) suppressed the address")
		}

		keys := email.NewOutbox(r.st, jobs.New(d, clock.System{}, slog.Default(), jobs.Options{}), nil, nil, "")
		if err := keys.Queue(ctx, d, r.ws, email.Message{To: []string{"a@acme.example"}, Subject: "x", Text: "y"}); err == nil {
			t.Fatal("queued an email without a key to seal it")
		}
	})
}

// TestNoMailToSuppressed: no path mails a suppressed address — to, cc or bcc, suppressed before
// queueing or between queueing and sending, globally or unsubscribed from the workspace.
func TestNoMailToSuppressed(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		r := newRig(t, d)
		ctx := context.Background()
		if err := r.st.Suppress(ctx, "Bounced@Acme.Example", email.ReasonBounce, "5.1.1", "dsn", r.ws, ""); err != nil {
			t.Fatal(err)
		}
		if err := r.st.Unsubscribe(ctx, r.ws, "left@acme.example", "one-click"); err != nil {
			t.Fatal(err)
		}
		_, err := r.out.Enqueue(ctx, d, r.ws, email.Message{To: []string{"bounced@acme.example"}, Subject: "x", Text: "y"})
		if e := errs.As(err); e == nil || e.Kind != errs.Conflict || e.Field != "to" || !strings.Contains(e.Message, "bounce") {
			t.Fatalf("queueing to a suppressed address: %v", err)
		}
		id := r.queue(t, r.ws, email.Message{To: []string{"ok@acme.example", "left@acme.example"},
			Cc: []string{"bounced@acme.example"}, Bcc: []string{"LEFT@acme.example", "bcc@acme.example"}, Subject: "x", Text: "y"})
		m := r.srv.WaitFor(t, 1, 10*time.Second)[0]
		got := strings.Join(m.To, ",")
		if got != "<ok@acme.example>,<bcc@acme.example>" && got != "ok@acme.example,bcc@acme.example" {
			t.Fatalf("envelope recipients %v", m.To)
		}
		rec := r.waitStatus(t, r.ws, id, email.StatusSent)
		if len(rec.Suppressed) != 3 {
			t.Fatalf("left out %v", rec.Suppressed)
		}
		// The unsubscribe is the workspace's: the other workspace still mails the address.
		r.queue(t, r.ws2, email.Message{To: []string{"left@acme.example"}, Subject: "x", Text: "y"})
		r.srv.WaitFor(t, 2, 10*time.Second)

	})
}

// TestSuppressedBetweenQueueAndSend: an address that bounces after a message to it was queued
// gets nothing: the job checks again.
func TestSuppressedBetweenQueueAndSend(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		srv := testkit.NewSMTPServer(t)
		sender, _ := email.NewSMTP(email.SMTPConfig{Host: srv.Host, Port: srv.Port, From: "beckon@acme.example", TLS: "none"})
		keys, _ := secret.NewKeyring(bytes.Repeat([]byte{7}, 32))
		q := jobs.New(d, clock.System{}, slog.New(slog.NewTextHandler(io.Discard, nil)), jobs.Options{PollInterval: 20 * time.Millisecond})
		st := email.NewStore(d, clock.System{}, nil)
		out := email.NewOutbox(st, q, sender, keys, "")
		ctx, cancel := context.WithCancel(context.Background())
		w, _ := workspace.NewStore(d, clock.System{}).Create(ctx, d, workspace.New{Name: "Acme", TimeZone: "UTC"})
		id, err := out.Enqueue(ctx, d, w.ID, email.Message{To: []string{"later@acme.example"}, Subject: "x", Text: "y"})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Suppress(ctx, "later@acme.example", email.ReasonComplaint, "", "webhook", "", ""); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { q.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		deadline := time.Now().Add(10 * time.Second)
		for {
			m, _ := st.Message(ctx, w.ID, id)
			if m != nil && m.Status == email.StatusSuppressed {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("message %+v", m)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if n := len(srv.Mails()); n != 0 {
			t.Fatalf("%d mails sent to an address suppressed before sending", n)
		}
	})
}

// TestSuppressConcurrently: adding an address from many goroutines at once is idempotent on
// both engines — one row, no error, the first reason kept.
func TestSuppressConcurrently(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		st := email.NewStore(d, clock.System{}, nil)
		ctx := context.Background()
		var wg sync.WaitGroup
		errc := make(chan error, 100)
		for i := range 50 {
			wg.Add(2)
			go func() {
				defer wg.Done()
				errc <- st.Suppress(ctx, "same@acme.example", email.ReasonBounce, fmt.Sprint(i), "dsn", "", "")
			}()
			go func() {
				defer wg.Done()
				errc <- st.Suppress(ctx, "SAME@acme.example", email.ReasonComplaint, "", "webhook", "", "")
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			if err != nil {
				t.Fatal(err)
			}
		}
		var n int
		d.QueryRowContext(ctx, `SELECT COUNT(*) FROM email_suppressions WHERE address = 'same@acme.example'`).Scan(&n)
		if n != 1 {
			t.Fatalf("%d rows", n)
		}
		if err := st.Suppress(ctx, "not an address", email.ReasonBounce, "", "", "", ""); !errs.Is(err, errs.Invalid) {
			t.Fatalf("bad address: %v", err)
		}
		if err := st.Suppress(ctx, "a@acme.example", "spam", "", "", "", ""); !errs.Is(err, errs.Invalid) {
			t.Fatalf("bad reason: %v", err)
		}
	})
}

// TestHardBounceAtRCPT: a relay that refuses the recipient with 5.1.1 suppresses the address;
// 5.7.1 (a policy refusal) does not.
func TestHardBounceAtRCPT(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		r := newRig(t, d)
		ctx := context.Background()
		r.srv.RejectNextRcptStatus(550, [3]int{5, 1, 1}, "No such user")
		id := r.queue(t, r.ws, email.Message{To: []string{"nobody@acme.example"}, Subject: "x", Text: "y"})
		r.waitStatus(t, r.ws, id, email.StatusFailed)
		st, err := r.st.Lookup(ctx, r.ws, "nobody@acme.example")
		if err != nil || !st.Suppressed || st.Suppression.Reason != email.ReasonBounce || st.Suppression.Source != "smtp" {
			t.Fatalf("after a 5.1.1: %+v %v", st, err)
		}
		for i, c := range []struct {
			mail   bool
			status [3]int
		}{
			{false, [3]int{5, 7, 1}}, // relaying denied: a policy, not the address
			{false, [3]int{5, 1, 8}}, // the sender's domain is bad, reported at RCPT
			{true, [3]int{5, 1, 8}},  // MAIL FROM refused: a misconfigured sender, not the recipient
			{true, [3]int{5, 1, 1}},
		} {
			if c.mail {
				r.srv.RejectNextMailStatus(553, c.status, "Sender address rejected")
			} else {
				r.srv.RejectNextRcptStatus(550, c.status, "Refused")
			}
			to := fmt.Sprintf("fine%d@acme.example", i)
			id = r.queue(t, r.ws, email.Message{To: []string{to}, Subject: "x", Text: "y"})
			r.waitStatus(t, r.ws, id, email.StatusFailed)
			if st, _ := r.st.Lookup(ctx, r.ws, to); st.Suppressed {
				t.Fatalf("case %d (%+v) suppressed the recipient", i, c)
			}
		}
	})
}

// dsn writes a delivery status notification about rcpt for the message whose history id is mid.
func dsn(rcpt, status, mid string) string {
	return "From: MAILER-DAEMON@mx.acme.example\r\nTo: bounces@acme.example\r\nSubject: Undelivered Mail\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n" +
		"--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.acme.example\r\n\r\n" +
		"Final-Recipient: rfc822; " + rcpt + "\r\nAction: failed\r\nStatus: " + status + "\r\nDiagnostic-Code: smtp; 550 " + status + " User unknown\r\n\r\n" +
		"--b1\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: beckon@acme.example\r\nTo: " + rcpt + "\r\nSubject: x\r\n" +
		email.HeaderMessageID + ": " + mid + "\r\n\r\n--b1--\r\n"
}

// TestApplyReport: a DSN about a message Beckon sent suppresses its recipient and marks the
// message bounced; a DSN naming an address the message did not go to, or no message, changes
// nothing; a soft bounce is recorded without suppressing.
func TestApplyReport(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		r := newRig(t, d)
		ctx := context.Background()
		id := r.queue(t, r.ws, email.Message{To: []string{"ann@acme.example"}, Subject: "x", Text: "y"})
		r.waitStatus(t, r.ws, id, email.StatusSent)

		res, err := r.out.ApplyReport(ctx, strings.NewReader(dsn("someone-else@acme.example", "5.1.1", id)), "dsn")
		if err != nil || len(res.Suppressed) != 0 || len(res.Ignored) != 1 {
			t.Fatalf("a forged DSN: %+v %v", res, err)
		}
		res, err = r.out.ApplyReport(ctx, strings.NewReader(dsn("ann@acme.example", "5.1.1", "em_unknown")), "dsn")
		if err != nil || len(res.Suppressed) != 0 {
			t.Fatalf("a DSN about no message: %+v %v", res, err)
		}
		res, err = r.out.ApplyReport(ctx, strings.NewReader(dsn("ann@acme.example", "4.2.2", id)), "dsn")
		if err != nil || len(res.Soft) != 1 || len(res.Suppressed) != 0 {
			t.Fatalf("a soft bounce: %+v %v", res, err)
		}
		res, err = r.out.ApplyReport(ctx, strings.NewReader(dsn("Ann@Acme.example", "5.1.1", id)), "dsn")
		if err != nil || len(res.Suppressed) != 1 {
			t.Fatalf("a hard bounce: %+v %v", res, err)
		}
		rec := r.waitStatus(t, r.ws, id, email.StatusBounced)
		if kinds := fmt.Sprint(eventKinds(rec)); kinds != "[queued sent soft_bounce bounced]" {
			t.Fatalf("events %s", kinds)
		}
		list, err := r.st.Suppressions(ctx, r.ws, 10, "")
		if err != nil || len(list) != 1 || list[0].Address != "ann@acme.example" || list[0].MessageID != id {
			t.Fatalf("the workspace's suppressions: %+v %v", list, err)
		}
		if other, _ := r.st.Suppressions(ctx, r.ws2, 10, ""); len(other) != 0 {
			t.Fatalf("another workspace sees %+v", other)
		}
		// Another workspace learns that mail to the address is suppressed, not what r.ws's mail
		// taught; the operator ("") sees it all.
		if st, _ := r.st.Lookup(ctx, r.ws2, "ann@acme.example"); !st.Suppressed || st.Suppression.Reason != email.ReasonOther ||
			st.Suppression.Detail != "" || st.Suppression.MessageID != "" {
			t.Fatalf("another workspace's lookup: %+v", st.Suppression)
		}
		if st, _ := r.st.Lookup(ctx, "", "ann@acme.example"); st.Suppression.Reason != email.ReasonBounce || st.Suppression.MessageID != id {
			t.Fatalf("the operator's lookup: %+v", st.Suppression)
		}
		if _, err := r.out.Enqueue(ctx, d, r.ws2, email.Message{To: []string{"ann@acme.example"}, Subject: "x", Text: "y"}); err == nil ||
			strings.Contains(err.Error(), "bounce") {
			t.Fatalf("another workspace queueing to the address: %v", err)
		}
		if _, err := r.out.ApplyReport(ctx, strings.NewReader("Subject: hi\r\n\r\nhello"), "dsn"); err == nil {
			t.Fatal("a message that is no report was taken")
		}
	})
}

func eventKinds(r *email.Record) []string {
	var out []string
	for _, e := range r.Events {
		out = append(out, e.Kind)
	}
	return out
}

// TestPolicy: the lists are normalized and checked with errors naming the entry, Check applies
// them, and the history lists and pages by status and recipient.
func TestPolicy(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		r := newRig(t, d)
		ctx := context.Background()
		_, err := r.st.SetPolicy(ctx, r.ws, email.Policy{BlockDomains: []string{"ok.example", "not a domain"}})
		if e := errs.As(err); e == nil || e.Field != "block_domains[1]" {
			t.Fatalf("bad entry: %v", err)
		}
		_, err = r.st.SetPolicy(ctx, r.ws, email.Policy{AllowAddresses: []string{"example.com"}})
		if e := errs.As(err); e == nil || e.Field != "allow_addresses[0]" {
			t.Fatalf("a domain in the address list: %v", err)
		}
		if _, err := r.st.SetPolicy(ctx, r.ws, email.Policy{DomainBurst: -1}); !errs.Is(err, errs.Invalid) {
			t.Fatalf("negative burst: %v", err)
		}
		p, err := r.st.SetPolicy(ctx, r.ws, email.Policy{BusinessOnly: true, BlockDomains: []string{"Competitor.Example", "*.evil.example"},
			AllowAddresses: []string{"Founder@Gmail.com"}, DomainBurst: 5})
		if err != nil || p.BlockDomains[0] != "competitor.example" || p.AllowAddresses[0] != "founder@gmail.com" {
			t.Fatalf("%+v %v", p, err)
		}
		for _, tc := range []struct {
			in    string
			valid bool
			code  string
		}{
			{"ann@acme.example", true, ""},
			{"ann@gmail.com", false, address.ReasonPersonal},
			{"founder@gmail.com", true, address.ReasonAllowedAddress},
			{"x@sub.evil.example", false, address.ReasonBlockedDomain},
			{"x@competitor.example", false, address.ReasonBlockedDomain},
			{"x@mailinator.com", false, address.ReasonDisposable},
			{"not an address", false, ""},
		} {
			res, err := r.st.Check(ctx, r.ws, tc.in)
			if err != nil || res.Valid != tc.valid || (tc.code != "" && (len(res.Reasons) == 0 || res.Reasons[0].Code != tc.code)) {
				t.Errorf("%s: %+v %v", tc.in, res, err)
			}
		}
		// The other workspace has its own (default) policy.
		if res, _ := r.st.Check(ctx, r.ws2, "ann@gmail.com"); !res.Valid {
			t.Fatalf("another workspace's policy applied: %+v", res)
		}

		for i := range 5 {
			r.queue(t, r.ws, email.Message{To: []string{fmt.Sprintf("p%d@acme.example", i)}, Subject: "x", Text: "y"})
		}
		r.srv.WaitFor(t, 5, 10*time.Second)
		page1, err := r.st.Messages(ctx, r.ws, email.Filter{Limit: 3})
		if err != nil || len(page1) != 3 {
			t.Fatalf("page 1: %d %v", len(page1), err)
		}
		page2, err := r.st.Messages(ctx, r.ws, email.Filter{Limit: 3, Cursor: page1[2].Cursor()})
		if err != nil || len(page2) != 2 || page2[0].ID == page1[2].ID {
			t.Fatalf("page 2: %d %v", len(page2), err)
		}
		one, err := r.st.Messages(ctx, r.ws, email.Filter{To: "P3@acme.example"})
		if err != nil || len(one) != 1 || one[0].To[0] != "p3@acme.example" {
			t.Fatalf("by recipient: %+v %v", one, err)
		}
		if _, err := r.st.Messages(ctx, r.ws, email.Filter{Status: "nope"}); !errs.Is(err, errs.Invalid) {
			t.Fatalf("bad status: %v", err)
		}
		if _, err := r.st.Messages(ctx, r.ws, email.Filter{Cursor: "x"}); !errs.Is(err, errs.Invalid) {
			t.Fatalf("bad cursor: %v", err)
		}
		if l, _ := r.st.Messages(ctx, r.ws2, email.Filter{}); len(l) != 0 {
			t.Fatalf("another workspace lists %d", len(l))
		}
	})
}

// TestInternationalRecipient: an address with an internationalised domain is stored in its
// Unicode form and travels with the domain in punycode.
func TestInternationalRecipient(t *testing.T) {
	r := newRig(t, testkit.SQLite(t))
	id := r.queue(t, r.ws, email.Message{To: []string{"Jürgen <info@Bücher.de>"}, Subject: "x", Text: "y"})
	m := r.srv.WaitFor(t, 1, 10*time.Second)[0]
	if len(m.To) != 1 || !strings.Contains(m.To[0], "info@xn--bcher-kva.de") {
		t.Fatalf("envelope %v", m.To)
	}
	rec := r.waitStatus(t, r.ws, id, email.StatusSent)
	if rec.To[0] != "info@bücher.de" {
		t.Fatalf("history %v", rec.To)
	}
}
