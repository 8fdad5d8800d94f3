package email_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/email"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/testkit"
)

const wait = 5 * time.Second

// newSender returns an SMTP sender for the test server, plain text as the server speaks it.
func newSender(t *testing.T, srv *testkit.SMTPServer, mod func(*email.SMTPConfig)) email.Sender {
	t.Helper()
	c := email.SMTPConfig{Host: srv.Host, Port: srv.Port, From: "Beckon <beckon@example.test>", TLS: "none", Timeout: wait}
	if mod != nil {
		mod(&c)
	}
	s, err := email.NewSMTP(c)
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	return s
}

func validMessage() email.Message {
	return email.Message{To: []string{"ada@example.com"}, Subject: "Hello", Text: "Hello Ada.\n"}
}

func TestSMTPSendsMultipartWithAttachment(t *testing.T) {
	srv := testkit.NewSMTPServer(t)
	s := newSender(t, srv, nil)

	ics := []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n")
	text := "Hi Ada,\n\nA line long enough to be wrapped by quoted-printable encoding, which folds lines at seventy-six characters = and escapes equals signs.\n\nCafé ☕\n"
	html := "<p>Hi <b>Ada</b>, café ☕</p>"
	m := email.Message{
		To:          []string{"Ada Lovelace <ada@example.com>", "bob@example.org"},
		Subject:     "Déjà vu: you're invited ✓",
		Text:        text,
		HTML:        html,
		ReplyTo:     "Grace <grace@example.com>",
		Attachments: []email.Attachment{{Filename: "invite.ics", ContentType: "text/calendar; method=REQUEST", Data: ics}},
		Headers:     map[string]string{"X-Beckon-Kind": "invite", "List-Unsubscribe": "<https://beckon.example/u/1>"},
	}
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := srv.WaitFor(t, 1, wait)[0]
	if got.Err != nil {
		t.Fatalf("received mail does not parse: %v\n%s", got.Err, got.Data)
	}

	if got.From != "beckon@example.test" {
		t.Errorf("envelope from = %q", got.From)
	}
	if strings.Join(got.To, ",") != "ada@example.com,bob@example.org" {
		t.Errorf("envelope to = %q", got.To)
	}
	from, err := got.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Address != "beckon@example.test" || from[0].Name != "Beckon" {
		t.Errorf("From header = %v (%v)", from, err)
	}
	replyTo, err := got.Header.AddressList("Reply-To")
	if err != nil || len(replyTo) != 1 || replyTo[0].Address != "grace@example.com" {
		t.Errorf("Reply-To header = %v (%v)", replyTo, err)
	}
	if got.Subject != m.Subject {
		t.Errorf("subject = %q, want %q", got.Subject, m.Subject)
	}
	if got.Text != text {
		t.Errorf("text = %q, want %q", got.Text, text)
	}
	if got.HTML != html {
		t.Errorf("html = %q, want %q", got.HTML, html)
	}
	for name, want := range map[string]string{
		"X-Beckon-Kind":    "invite",
		"List-Unsubscribe": "<https://beckon.example/u/1>",
		"Auto-Submitted":   "auto-generated",
		"Mime-Version":     "1.0",
	} {
		if v := got.Header.Get(name); v != want {
			t.Errorf("header %s = %q, want %q", name, v, want)
		}
	}
	if got.Header.Get("Message-Id") == "" || got.Header.Get("Date") == "" {
		t.Errorf("Message-Id or Date missing: %v", got.Header)
	}

	var att *testkit.MailPart
	for i := range got.Parts {
		if got.Parts[i].Disposition == "attachment" {
			if att != nil {
				t.Fatalf("more than one attachment: %+v", got.Parts)
			}
			att = &got.Parts[i]
		}
	}
	if att == nil {
		t.Fatalf("no attachment among %d parts", len(got.Parts))
	}
	if att.Filename != "invite.ics" || att.MediaType != "text/calendar" || att.Params["method"] != "REQUEST" {
		t.Errorf("attachment = %q %q %v", att.Filename, att.MediaType, att.Params)
	}
	if !bytes.Equal(att.Data, ics) {
		t.Errorf("attachment data = %q, want %q", att.Data, ics)
	}
	if got.Auth != "" {
		t.Errorf("authenticated as %q without a user name configured", got.Auth)
	}
}

func TestSMTPAuthenticatesWhenUsernameSet(t *testing.T) {
	srv := testkit.NewSMTPServer(t)
	s := newSender(t, srv, func(c *email.SMTPConfig) { c.Username, c.Password = "beckon", "s3cret" })
	if err := s.Send(context.Background(), validMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := srv.WaitFor(t, 1, wait)[0]; got.Auth != "beckon" {
		t.Errorf("authenticated as %q, want beckon", got.Auth)
	}
}

// countingListener accepts connections and counts them, answering nothing.
func countingListener(t *testing.T) (host string, port int, accepted *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int32)
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conns = append(conns, c) // held open and silent until the test ends
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	a := l.Addr().(*net.TCPAddr)
	return "127.0.0.1", a.Port, accepted
}

func TestSendRefusesBadMessagesBeforeConnecting(t *testing.T) {
	host, port, accepted := countingListener(t)
	smtpSender, err := email.NewSMTP(email.SMTPConfig{Host: host, Port: port, From: "beckon@example.test", TLS: "none", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	senders := map[string]email.Sender{"smtp": smtpSender, "log": email.NewLogSender(nil)}

	long := strings.Repeat("é", email.MaxSubjectLen+1)
	tests := []struct {
		name  string
		mod   func(*email.Message)
		field string
	}{
		{"no recipient", func(m *email.Message) { m.To = nil }, "to"},
		{"empty recipient", func(m *email.Message) { m.To = []string{""} }, "to[0]"},
		{"no at sign", func(m *email.Message) { m.To = []string{"ada.example.com"} }, "to[0]"},
		{"second recipient bad", func(m *email.Message) { m.To = []string{"ada@example.com", "bob@"} }, "to[1]"},
		{"two addresses in one", func(m *email.Message) { m.To = []string{"a@example.com, b@example.com"} }, "to[0]"},
		{"recipient with injected header", func(m *email.Message) { m.To = []string{"ada@example.com\r\nBcc: eve@example.com"} }, "to[0]"},
		{"bad cc", func(m *email.Message) { m.Cc = []string{"nope"} }, "cc[0]"},
		{"bad bcc", func(m *email.Message) { m.Bcc = []string{"ok@example.com", "a@b@c"} }, "bcc[1]"},
		{"too many recipients", func(m *email.Message) {
			m.To = nil
			for range email.MaxRecipients + 1 {
				m.To = append(m.To, "x@example.com")
			}
		}, "to"},
		{"bad reply-to", func(m *email.Message) { m.ReplyTo = "not an address" }, "reply_to"},
		{"subject with CRLF", func(m *email.Message) { m.Subject = "Hi\r\nBcc: eve@example.com" }, "subject"},
		{"subject with LF", func(m *email.Message) { m.Subject = "Hi\nBcc: eve@example.com" }, "subject"},
		{"subject with CR", func(m *email.Message) { m.Subject = "Hi\rthere" }, "subject"},
		{"subject too long", func(m *email.Message) { m.Subject = long }, "subject"},
		{"subject not UTF-8", func(m *email.Message) { m.Subject = "caf\xe9" }, "subject"},
		{"no text", func(m *email.Message) { m.Text = " \n" }, "text"},
		{"header value with CRLF", func(m *email.Message) {
			m.Headers = map[string]string{"X-Kind": "a\r\nBcc: eve@example.com"}
		}, "headers"},
		{"header value with LF", func(m *email.Message) { m.Headers = map[string]string{"X-Kind": "a\nb"} }, "headers"},
		{"header name with colon", func(m *email.Message) { m.Headers = map[string]string{"X-A: b\r\nBcc": "c"} }, "headers"},
		{"header name with space", func(m *email.Message) { m.Headers = map[string]string{"X Kind": "a"} }, "headers"},
		{"empty header name", func(m *email.Message) { m.Headers = map[string]string{"": "a"} }, "headers"},
		{"reserved header", func(m *email.Message) { m.Headers = map[string]string{"bcc": "eve@example.com"} }, "headers"},
		{"reserved content-type", func(m *email.Message) { m.Headers = map[string]string{"Content-Type": "text/html"} }, "headers"},
		{"attachment without name", func(m *email.Message) { m.Attachments = []email.Attachment{{Data: []byte("x")}} }, "attachments[0].filename"},
		{"attachment name with CRLF", func(m *email.Message) {
			m.Attachments = []email.Attachment{{Filename: "a\r\nb.txt", Data: []byte("x")}}
		}, "attachments[0].filename"},
		{"attachment bad type", func(m *email.Message) {
			m.Attachments = []email.Attachment{{Filename: "a.ics", ContentType: "text/calendar; method", Data: []byte("x")}}
		}, "attachments[0].content_type"},
		{"attachment type with CRLF", func(m *email.Message) {
			m.Attachments = []email.Attachment{{Filename: "a.ics", ContentType: "text/plain\r\nBcc: eve@example.com"}}
		}, "attachments[0].content_type"},
	}
	for _, tt := range tests {
		for sname, s := range senders {
			t.Run(tt.name+"/"+sname, func(t *testing.T) {
				m := validMessage()
				tt.mod(&m)
				err := s.Send(context.Background(), m)
				if !errs.Is(err, errs.Invalid) {
					t.Fatalf("err = %v (kind %v), want invalid", err, errs.KindOf(err))
				}
				if e := errs.As(err); e.Field != tt.field {
					t.Errorf("field = %q, want %q (%v)", e.Field, tt.field, err)
				}
				if email.Permanent(err) {
					t.Errorf("Permanent(%v) = true for a validation error", err)
				}
			})
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("%d connections were made for messages that should have been refused", n)
	}
}

func TestValidateAcceptsGoodMessages(t *testing.T) {
	for name, m := range map[string]email.Message{
		"plain":        validMessage(),
		"display name": {To: []string{`"Lovelace, Ada" <ada@example.com>`}, Subject: "", Text: "x"},
		"max subject":  {To: []string{"a@example.com"}, Subject: strings.Repeat("é", email.MaxSubjectLen), Text: "x"},
		"extras": {To: []string{"a@example.com"}, Text: "x", ReplyTo: "r@example.com",
			Headers:     map[string]string{"X-Kind": "invite", "Auto-Submitted": "auto-replied"},
			Attachments: []email.Attachment{{Filename: "a.bin"}}},
	} {
		if err := m.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestSMTPRejections(t *testing.T) {
	tests := []struct {
		name      string
		reject    func(*testkit.SMTPServer)
		permanent bool
		kind      errs.Kind
	}{
		{"550 after DATA", func(s *testkit.SMTPServer) { s.RejectNext(550, "Message refused as spam") }, true, errs.Invalid},
		{"554 after DATA", func(s *testkit.SMTPServer) { s.RejectNext(554, "Transaction failed") }, true, errs.Invalid},
		{"451 after DATA", func(s *testkit.SMTPServer) { s.RejectNext(451, "Try again later") }, false, errs.Unavailable},
		{"550 to RCPT", func(s *testkit.SMTPServer) { s.RejectNextRcpt(550, "No such user") }, true, errs.Invalid},
		{"450 to RCPT", func(s *testkit.SMTPServer) { s.RejectNextRcpt(450, "Mailbox busy") }, false, errs.Unavailable},
		{"452 to RCPT", func(s *testkit.SMTPServer) { s.RejectNextRcpt(452, "Insufficient storage") }, false, errs.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testkit.NewSMTPServer(t)
			s := newSender(t, srv, nil)
			tt.reject(srv)
			err := s.Send(context.Background(), validMessage())
			if err == nil {
				t.Fatal("Send succeeded despite the rejection")
			}
			if got := email.Permanent(err); got != tt.permanent {
				t.Errorf("Permanent(%v) = %v, want %v", err, got, tt.permanent)
			}
			if k := errs.KindOf(err); k != tt.kind {
				t.Errorf("kind = %v, want %v (%v)", k, tt.kind, err)
			}
			if n := len(srv.Mails()); n != 0 {
				t.Errorf("%d mails kept after a rejection", n)
			}
			// The rejection was for one message only.
			if err := s.Send(context.Background(), validMessage()); err != nil {
				t.Fatalf("second Send: %v", err)
			}
			srv.WaitFor(t, 1, wait)
		})
	}
}

func TestSMTPNetworkFailuresAreNotPermanent(t *testing.T) {
	// A port nobody listens on: take a free one and close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	silentHost, silentPort, _ := countingListener(t)
	plain := testkit.NewSMTPServer(t)

	tests := []struct {
		name string
		cfg  email.SMTPConfig
		want string // in the error text
	}{
		{"connection refused", email.SMTPConfig{Host: "127.0.0.1", Port: closedPort, TLS: "none", Timeout: wait}, "refused"},
		{"server never answers", email.SMTPConfig{Host: silentHost, Port: silentPort, TLS: "none", Timeout: 200 * time.Millisecond}, "timeout"},
		{"STARTTLS required but not offered", email.SMTPConfig{Host: plain.Host, Port: plain.Port, TLS: "starttls", Timeout: wait}, "STARTTLS"},
		{"implicit TLS to a plain server", email.SMTPConfig{Host: plain.Host, Port: plain.Port, TLS: "tls", Timeout: wait}, "tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.From = "beckon@example.test"
			s, err := email.NewSMTP(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = s.Send(context.Background(), validMessage())
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if email.Permanent(err) {
				t.Errorf("Permanent(%v) = true", err)
			}
			if !errs.Is(err, errs.Unavailable) {
				t.Errorf("kind = %v, want unavailable (%v)", errs.KindOf(err), err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if d := time.Since(start); d > wait {
				t.Errorf("Send took %v", d)
			}
		})
	}
	if n := len(plain.Mails()); n != 0 {
		t.Errorf("%d mails delivered without the TLS the sender demanded", n)
	}
}

func TestSMTPSendStopsWhenContextEnds(t *testing.T) {
	host, port, _ := countingListener(t)
	s, err := email.NewSMTP(email.SMTPConfig{Host: host, Port: port, From: "beckon@example.test", TLS: "none", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = s.Send(ctx, validMessage())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want one wrapping context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Send returned after %v, long after its context ended", d)
	}
	if email.Permanent(err) {
		t.Error("a cancelled send is Permanent")
	}
}

func TestNewSMTPChecksConfig(t *testing.T) {
	good := email.SMTPConfig{Host: "smtp.example.com", Port: 587, From: "Beckon <beckon@example.com>", TLS: "starttls"}
	tests := []struct {
		name  string
		mod   func(*email.SMTPConfig)
		field string // "" when valid
	}{
		{"valid", func(*email.SMTPConfig) {}, ""},
		{"valid tls with auth", func(c *email.SMTPConfig) { c.TLS, c.Port, c.Username, c.Password = "tls", 465, "u", "p" }, ""},
		{"valid none", func(c *email.SMTPConfig) { c.TLS, c.From = "none", "beckon@localhost" }, ""},
		{"no host", func(c *email.SMTPConfig) { c.Host = " " }, "smtp_host"},
		{"port 0", func(c *email.SMTPConfig) { c.Port = 0 }, "smtp_port"},
		{"port too big", func(c *email.SMTPConfig) { c.Port = 70000 }, "smtp_port"},
		{"no from", func(c *email.SMTPConfig) { c.From = "" }, "smtp_from"},
		{"bad from", func(c *email.SMTPConfig) { c.From = "Beckon" }, "smtp_from"},
		{"from with CRLF", func(c *email.SMTPConfig) { c.From = "beckon@example.com\r\nBcc: eve@example.com" }, "smtp_from"},
		{"unknown tls", func(c *email.SMTPConfig) { c.TLS = "ssl" }, "smtp_tls"},
		{"empty tls", func(c *email.SMTPConfig) { c.TLS = "" }, "smtp_tls"},
		{"negative timeout", func(c *email.SMTPConfig) { c.Timeout = -time.Second }, "smtp_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.mod(&c)
			s, err := email.NewSMTP(c)
			if tt.field == "" {
				if err != nil || s == nil {
					t.Fatalf("NewSMTP = %v, %v", s, err)
				}
				return
			}
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("err = %v, want invalid", err)
			}
			if f := errs.As(err).Field; f != tt.field {
				t.Errorf("field = %q, want %q", f, tt.field)
			}
		})
	}
}

func TestPermanentOfOtherErrors(t *testing.T) {
	for _, err := range []error{nil, errors.New("550 looks like a reply but is not one"), context.Canceled, errs.E(errs.Invalid, "x")} {
		if email.Permanent(err) {
			t.Errorf("Permanent(%v) = true", err)
		}
	}
}
