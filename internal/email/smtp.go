package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/beckonhq/beckon/internal/email/bounce"
	"github.com/beckonhq/beckon/internal/errs"
)

// DefaultTimeout bounds connecting to the SMTP server and each exchange with it when
// SMTPConfig.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// SMTPConfig says how to reach the SMTP server; its fields mirror config.Config's SMTP settings.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string // empty: no SMTP AUTH
	Password string
	From     string // the sender, "Beckon <beckon@example.com>"
	// TLS is "starttls" (STARTTLS is mandatory: a server without it is an error), "tls" (implicit
	// TLS, usually port 465) or "none" (plain text; for a relay on localhost or a test server).
	TLS     string
	Timeout time.Duration // for connecting and for each exchange; 0 means DefaultTimeout
}

// smtpSender sends each message over a connection of its own.
type smtpSender struct {
	host      string
	port      int
	from      string
	implicit  bool // "tls": TLS from the first byte
	tlsConfig *tls.Config
	timeout   time.Duration
	opts      []mail.Option
}

// NewSMTP returns a Sender that delivers through the SMTP server c describes. It checks c (host,
// port, From address, TLS mode) and returns an errs.Invalid error naming the bad setting; it does
// not connect until Send.
//
// SMTP AUTH is used only when c.Username is set: PLAIN or LOGIN, whichever the server offers, and
// only over TLS or to a server on localhost, so a password never crosses a network in clear.
//
// Send returns an errs.Invalid error for a message that fails Validate, before any network call.
// When the server refuses the message with a 5xx reply it returns an errs.Invalid error for
// which Permanent is true; every other failure (4xx replies, network errors, timeouts, TLS or
// authentication problems) is an errs.Unavailable error worth retrying later. If ctx ends during
// Send, the connection is closed and the error wraps ctx.Err().
func NewSMTP(c SMTPConfig) (Sender, error) {
	host := strings.TrimSpace(c.Host)
	if host == "" {
		return nil, errs.Field(errs.Invalid, "smtp_host", "is required")
	}
	if c.Port < 1 || c.Port > 65535 {
		return nil, errs.Field(errs.Invalid, "smtp_port", "%d is not a port number", c.Port)
	}
	if strings.TrimSpace(c.From) == "" {
		return nil, errs.Field(errs.Invalid, "smtp_from", "a sender address is required")
	}
	if err := checkAddress(c.From); err != nil {
		return nil, &errs.Error{Kind: errs.Invalid, Field: "smtp_from", Message: fmt.Sprintf("%q is not a valid email address", c.From), Err: err}
	}
	if c.Timeout < 0 {
		return nil, errs.Field(errs.Invalid, "smtp_timeout", "must not be negative")
	}
	s := &smtpSender{
		host:      host,
		port:      c.Port,
		from:      c.From,
		timeout:   c.Timeout,
		tlsConfig: &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12},
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	s.opts = []mail.Option{mail.WithPort(c.Port), mail.WithTimeout(s.timeout)}
	switch c.TLS {
	case "starttls":
		s.opts = append(s.opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case "tls":
		// The dialer below does the TLS handshake; go-mail must not try STARTTLS on top.
		s.implicit = true
		s.opts = append(s.opts, mail.WithSSL(), mail.WithTLSPolicy(mail.NoTLS))
	case "none":
		s.opts = append(s.opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		return nil, errs.Field(errs.Invalid, "smtp_tls", "%q: want starttls, tls or none", c.TLS)
	}
	if c.Username != "" {
		s.opts = append(s.opts,
			mail.WithOpportunisticSMTPAuth(mail.SMTPAuthPlain, mail.SMTPAuthLogin),
			mail.WithUsername(c.Username), mail.WithPassword(c.Password))
	}
	return s, nil
}

// Send validates m, then delivers it in one SMTP session. See NewSMTP for the errors.
func (s *smtpSender) Send(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	msg, err := s.build(m)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("email: send: %w", err)
	}

	// Close the connection when ctx ends, so a hung server cannot hold Send past its caller.
	var (
		mu    sync.Mutex
		stops []func() bool
	)
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, stop := range stops {
			stop()
		}
	}()
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		d := &net.Dialer{}
		var conn net.Conn
		var err error
		if s.implicit {
			conn, err = (&tls.Dialer{NetDialer: d, Config: s.tlsConfig.Clone()}).DialContext(dctx, network, addr)
		} else {
			conn, err = d.DialContext(dctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		mu.Lock()
		stops = append(stops, stop)
		mu.Unlock()
		return conn, nil
	}

	opts := append([]mail.Option{mail.WithDialContextFunc(dial)}, s.opts...)
	client, err := mail.NewClient(s.host, opts...)
	if err != nil {
		return fmt.Errorf("email: smtp client: %w", err)
	}
	if err := client.SetTLSConfig(s.tlsConfig.Clone()); err != nil {
		return fmt.Errorf("email: smtp client: %w", err)
	}
	err = client.DialAndSendWithContext(ctx, msg)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("email: send: %w: %w", ctx.Err(), err)
	case Permanent(err):
		return errs.Wrap(errs.Invalid, err, "the mail server refused the message")
	default:
		return errs.Wrap(errs.Unavailable, err, "the mail server could not take the message; try again later")
	}
}

// build turns a validated Message into a go-mail message.
func (s *smtpSender) build(m Message) (*mail.Msg, error) {
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	if err := msg.From(s.from); err != nil {
		return nil, errs.Wrap(errs.Invalid, err, "invalid sender address")
	}
	if err := msg.To(m.To...); err != nil {
		return nil, &errs.Error{Kind: errs.Invalid, Field: "to", Message: "invalid recipient address", Err: err}
	}
	if len(m.Cc) > 0 {
		if err := msg.Cc(m.Cc...); err != nil {
			return nil, &errs.Error{Kind: errs.Invalid, Field: "cc", Message: "invalid recipient address", Err: err}
		}
	}
	if len(m.Bcc) > 0 {
		if err := msg.Bcc(m.Bcc...); err != nil {
			return nil, &errs.Error{Kind: errs.Invalid, Field: "bcc", Message: "invalid recipient address", Err: err}
		}
	}
	if m.ReplyTo != "" {
		if err := msg.ReplyTo(m.ReplyTo); err != nil {
			return nil, &errs.Error{Kind: errs.Invalid, Field: "reply_to", Message: "is not a valid email address", Err: err}
		}
	}
	msg.Subject(m.Subject)
	// Keep out-of-office replies and other autoresponders away from the sender (RFC 3834).
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	for name, value := range m.Headers {
		msg.SetGenHeader(mail.Header(name), value)
	}
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}
	for i, a := range m.Attachments {
		ct := a.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		err := msg.AttachReader(a.Filename, bytes.NewReader(a.Data), mail.WithFileContentType(mail.ContentType(ct)))
		if err != nil {
			return nil, fmt.Errorf("email: attachment %d: %w", i, err)
		}
	}
	return msg, nil
}

// Permanent reports whether err carries an SMTP 5xx reply to the mail transaction (MAIL, RCPT or
// DATA): the server refused the address or the message, and sending it again will not help. It
// is false for 4xx replies, network errors, timeouts, TLS and authentication failures, and nil.
func Permanent(err error) bool {
	var se *mail.SendError
	if !errors.As(err, &se) {
		return false
	}
	return se.ErrorCode() >= 500 && se.ErrorCode() <= 599
}

// BadMailbox reports whether err is the mail server refusing a recipient address itself at RCPT
// TO: an RFC 3463 status that bounce.Classify calls hard (5.1.1 no such mailbox, 5.1.2 bad
// domain, 5.1.10 null MX, …), or a bare 550/551/553 without an enhanced status. A refusal of the
// sender (MAIL FROM: a misconfigured BECKON_SMTP_FROM), of the message (DATA) or by policy is not:
// the address may work.
func BadMailbox(err error) bool {
	var se *mail.SendError
	if !errors.As(err, &se) || se.Reason != mail.ErrSMTPRcptTo || se.ErrorCode() < 500 || se.ErrorCode() > 599 {
		return false
	}
	if st := se.EnhancedStatusCode(); st != "" {
		return bounce.Classify("failed", st) == bounce.Hard
	}
	return se.ErrorCode() == 550 || se.ErrorCode() == 551 || se.ErrorCode() == 553
}
