package testkit

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mail is one message received by an SMTPServer, with its MIME structure decoded.
type Mail struct {
	From    string      // envelope sender (MAIL FROM)
	To      []string    // envelope recipients (RCPT TO)
	Data    []byte      // the message exactly as received
	Subject string      // the Subject header, RFC 2047 words decoded
	Text    string      // the first text/plain part that is not an attachment, decoded, "\n" line ends
	HTML    string      // the first text/html part that is not an attachment, decoded, "\n" line ends
	Header  mail.Header // the top-level header
	Parts   []MailPart  // every leaf MIME part in order, attachments included
	Auth    string      // the user name the client authenticated as; "" without AUTH
	// Err is why Data could not be parsed as MIME (the fields above are then partly empty); nil
	// when it parsed.
	Err error
}

// MailPart is one leaf part of a received message. Charsets are not converted: Beckon sends
// UTF-8.
type MailPart struct {
	Header      textproto.MIMEHeader
	MediaType   string            // lower case, "text/calendar"
	Params      map[string]string // Content-Type parameters, "method" → "REQUEST"
	Disposition string            // "attachment", "inline" or ""
	Filename    string            // from Content-Disposition, else the Content-Type name
	Data        []byte            // the body with its transfer encoding undone
}

// SMTPServer is an in-process SMTP server for tests: plain text (no TLS) on 127.0.0.1, AUTH
// PLAIN with any credentials, every message kept in memory.
type SMTPServer struct {
	Addr string // "127.0.0.1:port"
	Host string // "127.0.0.1"
	Port int

	srv *smtp.Server

	mu         sync.Mutex
	mails      []Mail
	changed    chan struct{} // closed and replaced when a mail arrives
	rejectData *smtp.SMTPError
	rejectRcpt *smtp.SMTPError
	rejectMail *smtp.SMTPError
	closed     bool
}

// NewSMTPServer starts an SMTPServer on a free port of 127.0.0.1; it is closed when the test
// ends. Its protocol errors go to t.Log.
func NewSMTPServer(t testing.TB) *SMTPServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testkit: smtp listen: %v", err)
	}
	s := &SMTPServer{Addr: l.Addr().String(), changed: make(chan struct{})}
	host, port, _ := net.SplitHostPort(s.Addr)
	s.Host = host
	s.Port, _ = strconv.Atoi(port)

	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &smtpSession{s: s}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.MaxMessageBytes = 25 << 20
	s.srv.MaxRecipients = 100
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	s.srv.ErrorLog = log.New(&testLogWriter{t: t, s: s}, "testkit smtp: ", 0)

	done := make(chan struct{})
	go func() {
		defer close(done)
		s.srv.Serve(l)
	}()
	t.Cleanup(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.srv.Close()
		<-done
	})
	return s
}

// Mails returns the messages received so far, oldest first.
func (s *SMTPServer) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// WaitFor waits until at least n messages have arrived and returns all of them; it fails the test
// if they have not arrived within timeout.
func (s *SMTPServer) WaitFor(t testing.TB, n int, timeout time.Duration) []Mail {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got := len(s.mails)
		if got >= n {
			mails := append([]Mail(nil), s.mails...)
			s.mu.Unlock()
			return mails
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("testkit: SMTP server received %d mails within %v, want %d", got, timeout, n)
			return nil
		}
	}
}

// RejectNext makes the server answer the next message's end of DATA with code (4xx or 5xx) and
// msg instead of accepting it; the message is then not kept. Later messages are accepted again.
func (s *SMTPServer) RejectNext(code int, msg string) {
	e := rejection(code, msg)
	s.mu.Lock()
	s.rejectData = e
	s.mu.Unlock()
}

// RejectNextRcpt makes the server answer the next RCPT TO with code (4xx or 5xx) and msg.
func (s *SMTPServer) RejectNextRcpt(code int, msg string) {
	e := rejection(code, msg)
	s.mu.Lock()
	s.rejectRcpt = e
	s.mu.Unlock()
}

// RejectNextRcptStatus is RejectNextRcpt with an RFC 3463 enhanced status code, {5, 1, 1} for
// "5.1.1 no such mailbox".
func (s *SMTPServer) RejectNextRcptStatus(code int, status [3]int, msg string) {
	e := rejection(code, msg)
	e.EnhancedCode = smtp.EnhancedCode(status)
	s.mu.Lock()
	s.rejectRcpt = e
	s.mu.Unlock()
}

// RejectNextMailStatus makes the server refuse the next MAIL FROM (the sender) with code, an
// enhanced status and msg.
func (s *SMTPServer) RejectNextMailStatus(code int, status [3]int, msg string) {
	e := rejection(code, msg)
	e.EnhancedCode = smtp.EnhancedCode(status)
	s.mu.Lock()
	s.rejectMail = e
	s.mu.Unlock()
}

func rejection(code int, msg string) *smtp.SMTPError {
	if code < 400 || code > 599 {
		panic(fmt.Sprintf("testkit: SMTP rejection code %d is not 4xx or 5xx", code))
	}
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: msg}
}

// take returns and clears a pending rejection.
func (s *SMTPServer) take(p **smtp.SMTPError) *smtp.SMTPError {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := *p
	*p = nil
	return e
}

func (s *SMTPServer) add(m Mail) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mails = append(s.mails, m)
	close(s.changed)
	s.changed = make(chan struct{})
}

// testLogWriter sends the server's error log to the test's log until the server is closed.
type testLogWriter struct {
	t testing.TB
	s *SMTPServer
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if !w.s.closed {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// smtpSession is one client connection.
type smtpSession struct {
	s    *SMTPServer
	auth string
	from string
	to   []string
}

func (ss *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		ss.auth = username
		return nil
	}), nil
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if e := ss.s.take(&ss.s.rejectMail); e != nil {
		return e
	}
	ss.from = from
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if e := ss.s.take(&ss.s.rejectRcpt); e != nil {
		return e
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if e := ss.s.take(&ss.s.rejectData); e != nil {
		return e
	}
	m := Mail{From: ss.from, To: append([]string(nil), ss.to...), Data: data, Auth: ss.auth}
	parseMail(&m)
	ss.s.add(m)
	return nil
}

func (ss *smtpSession) Reset() {
	ss.from = ""
	ss.to = nil
}

func (ss *smtpSession) Logout() error { return nil }

// parseMail fills m's decoded fields from m.Data.
func parseMail(m *Mail) {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		m.Err = err
		return
	}
	m.Header = msg.Header
	dec := new(mime.WordDecoder)
	m.Subject = msg.Header.Get("Subject")
	if s, err := dec.DecodeHeader(m.Subject); err == nil {
		m.Subject = s
	}
	m.Parts, m.Err = leafParts(textproto.MIMEHeader(msg.Header), msg.Body, 0)
	for _, p := range m.Parts {
		if p.Disposition == "attachment" {
			continue
		}
		body := strings.ReplaceAll(string(p.Data), "\r\n", "\n")
		switch {
		case p.MediaType == "text/plain" && m.Text == "":
			m.Text = body
		case p.MediaType == "text/html" && m.HTML == "":
			m.HTML = body
		}
	}
}

// leafParts walks a MIME entity and returns its leaf parts, transfer encodings undone.
func leafParts(h textproto.MIMEHeader, body io.Reader, depth int) ([]MailPart, error) {
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain; charset=us-ascii"
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, fmt.Errorf("content-type %q: %w", ct, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		if depth >= 10 {
			return nil, errors.New("multipart nested too deep")
		}
		if params["boundary"] == "" {
			return nil, fmt.Errorf("%s without a boundary", mediaType)
		}
		mr := multipart.NewReader(body, params["boundary"])
		var out []MailPart
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return out, nil
			}
			if err != nil {
				return out, fmt.Errorf("%s: %w", mediaType, err)
			}
			sub, err := leafParts(p.Header, p, depth+1)
			out = append(out, sub...)
			if err != nil {
				return out, err
			}
		}
	}

	part := MailPart{Header: h, MediaType: mediaType, Params: params}
	var r io.Reader = body
	switch cte := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))); cte {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body)
	case "", "7bit", "8bit", "binary":
	default:
		return []MailPart{part}, fmt.Errorf("unknown Content-Transfer-Encoding %q", cte)
	}
	if part.Data, err = io.ReadAll(r); err != nil {
		return []MailPart{part}, fmt.Errorf("%s body: %w", mediaType, err)
	}
	dec := new(mime.WordDecoder)
	if d, dparams, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil {
		part.Disposition = d
		part.Filename = dparams["filename"]
	}
	if part.Filename == "" {
		part.Filename = params["name"]
	}
	if f, err := dec.DecodeHeader(part.Filename); err == nil {
		part.Filename = f
	}
	return []MailPart{part}, nil
}
