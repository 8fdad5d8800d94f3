// Package email is Beckon's email layer (E1–E3): the address policy of each workspace (the
// validator of internal/email/address with the workspace's allow and block lists, "business email
// only" and the MX check), the global suppression list and each workspace's unsubscribes, the
// templates, and sending as durable jobs with a history per message.
//
// A Message is validated before anything touches the network (recipients, header injection,
// lengths), then handed to a Sender: NewSMTP delivers it through a real SMTP server, NewLogSender
// only logs it (for `beckon demo` without SMTP). Render fills the embedded templates in
// templates/ to produce a message's subject and bodies. Outbox queues messages as jobs, leaving
// out suppressed recipients both when queued and when sent.
package email

import (
	"context"
	"mime"
	"net/mail"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/errs"
)

// Limits of a Message, enforced by Validate.
const (
	MaxSubjectLen  = 998 // characters; RFC 5322's line limit
	MaxRecipients  = 50
	MaxHeaderCount = 20
)

// Attachment is a file sent with a Message, e.g. an iCalendar invite with ContentType
// "text/calendar; method=REQUEST".
type Attachment struct {
	Filename    string
	ContentType string // a media type with optional parameters; empty means application/octet-stream
	Data        []byte
}

// Message is one email to send. Text is always sent; HTML, when set, is its alternative.
type Message struct {
	To          []string // addresses, "ada@example.com" or "Ada <ada@example.com>"
	Cc          []string // optional, like To
	Bcc         []string // optional, like To; never written in a header
	Subject     string
	Text        string
	HTML        string
	ReplyTo     string // optional address
	Attachments []Attachment
	// Headers are extra header fields, e.g. "List-Unsubscribe". The fields the sender writes
	// itself (From, To, Subject, Content-Type, …) cannot be set here.
	Headers map[string]string
	// Template names the template the message was rendered from ("invite"), for its history;
	// it is not sent.
	Template string `json:",omitempty"`
}

// Recipients returns every recipient of m: To, then Cc, then Bcc.
func (m Message) Recipients() []string {
	out := make([]string, 0, len(m.To)+len(m.Cc)+len(m.Bcc))
	out = append(out, m.To...)
	out = append(out, m.Cc...)
	return append(out, m.Bcc...)
}

// Sender delivers messages. Send validates m first and returns an errs.Invalid error naming the
// field at fault without touching the network; see the implementations for the other errors.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// reservedHeaders are written by the sender or the MIME writer; a caller may not set them.
var reservedHeaders = map[string]bool{
	"From": true, "Sender": true, "To": true, "Cc": true, "Bcc": true, "Reply-To": true,
	"Subject": true, "Date": true, "Message-Id": true, "Return-Path": true,
	"Mime-Version": true, "Content-Type": true, "Content-Transfer-Encoding": true,
	"Content-Disposition": true,
}

// Validate checks m before sending: one to MaxRecipients valid recipient addresses, a valid
// Reply-To when set, a subject without line breaks of at most MaxSubjectLen characters, a text
// body, at most MaxHeaderCount extra headers named with letters, digits and hyphens, not ones the
// sender writes, whose values have no line breaks and at most MaxSubjectLen characters, and
// attachments with a filename and a valid media type. It returns an errs.Invalid error naming
// the field at fault.
func (m Message) Validate() error {
	if len(m.To) == 0 {
		return errs.Field(errs.Invalid, "to", "at least one recipient is required")
	}
	if n := len(m.To) + len(m.Cc) + len(m.Bcc); n > MaxRecipients {
		return errs.Field(errs.Invalid, "to", "at most %d recipients are allowed (to, cc and bcc together); this message has %d", MaxRecipients, n)
	}
	for _, l := range []struct {
		field string
		addrs []string
	}{{"to", m.To}, {"cc", m.Cc}, {"bcc", m.Bcc}} {
		for i, to := range l.addrs {
			if err := checkAddress(to); err != nil {
				return &errs.Error{Kind: errs.Invalid, Field: l.field + "[" + strconv.Itoa(i) + "]", Message: "is not a valid email address", Err: err}
			}
		}
	}
	if m.ReplyTo != "" {
		if err := checkAddress(m.ReplyTo); err != nil {
			return &errs.Error{Kind: errs.Invalid, Field: "reply_to", Message: "is not a valid email address", Err: err}
		}
	}
	if hasBreak(m.Subject) {
		return errs.Field(errs.Invalid, "subject", "must not contain line breaks")
	}
	if n := utf8.RuneCountInString(m.Subject); n > MaxSubjectLen {
		return errs.Field(errs.Invalid, "subject", "is %d characters long; the limit is %d", n, MaxSubjectLen)
	}
	if !utf8.ValidString(m.Subject) {
		return errs.Field(errs.Invalid, "subject", "is not valid UTF-8")
	}
	if strings.TrimSpace(m.Text) == "" {
		return errs.Field(errs.Invalid, "text", "a plain-text body is required")
	}
	if len(m.Headers) > MaxHeaderCount {
		return errs.Field(errs.Invalid, "headers", "at most %d extra headers are allowed", MaxHeaderCount)
	}
	for name, value := range m.Headers {
		if !validHeaderName(name) {
			return errs.Field(errs.Invalid, "headers", "%q is not a valid header name", name)
		}
		if reservedHeaders[canonicalHeader(name)] {
			return errs.Field(errs.Invalid, "headers", "%s is set by the sender and cannot be overridden", name)
		}
		if hasBreak(value) || !utf8.ValidString(value) {
			return errs.Field(errs.Invalid, "headers", "the value of %s must be valid UTF-8 without line breaks", name)
		}
		if n := utf8.RuneCountInString(value); n > MaxSubjectLen {
			return errs.Field(errs.Invalid, "headers", "the value of %s is %d characters long; the limit is %d", name, n, MaxSubjectLen)
		}
	}
	for i, a := range m.Attachments {
		field := "attachments[" + strconv.Itoa(i) + "]"
		if strings.TrimSpace(a.Filename) == "" {
			return errs.Field(errs.Invalid, field+".filename", "is required")
		}
		if hasBreak(a.Filename) || !utf8.ValidString(a.Filename) {
			return errs.Field(errs.Invalid, field+".filename", "must be valid UTF-8 without line breaks")
		}
		if a.ContentType != "" {
			if hasBreak(a.ContentType) {
				return errs.Field(errs.Invalid, field+".content_type", "must not contain line breaks")
			}
			if _, _, err := mime.ParseMediaType(a.ContentType); err != nil {
				return &errs.Error{Kind: errs.Invalid, Field: field + ".content_type", Message: "is not a valid media type", Err: err}
			}
		}
	}
	return nil
}

// checkAddress accepts one RFC 5322 address, with or without a display name.
func checkAddress(s string) error {
	if hasBreak(s) {
		return errs.E(errs.Invalid, "contains a line break")
	}
	_, err := mail.ParseAddress(s)
	return err
}

// hasBreak reports whether s holds a character that would end a header line (CR, LF) or a NUL.
func hasBreak(s string) bool { return strings.ContainsAny(s, "\r\n\x00") }

// validHeaderName reports whether name is a header field name of letters, digits and hyphens,
// like every field a caller needs (X-…, List-Unsubscribe, Auto-Submitted). RFC 5322 allows more,
// but common parsers do not.
func validHeaderName(name string) bool {
	if name == "" || len(name) > 76 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// canonicalHeader returns name in canonical form, "content-type" → "Content-Type".
func canonicalHeader(name string) string {
	b := []byte(strings.ToLower(name))
	upper := true
	for i, c := range b {
		if upper && 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		upper = c == '-'
	}
	return string(b)
}
