package bounce

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/textproto"
	"strings"

	"github.com/beckonhq/beckon/internal/errs"
)

// Limits of Parse. They keep its time and memory proportional to MaxMessageSize whatever a
// stranger sends.
const (
	MaxMessageSize    = 10 << 20  // bytes of the whole message
	MaxParts          = 20        // MIME parts looked at, all levels together
	MaxDepth          = 5         // levels of nested multiparts and forwarded messages
	MaxRecipients     = 500       // recipients in one report
	MaxReportPartSize = 1 << 20   // bytes of the decoded delivery-status or feedback-report part
	MaxHeaderSize     = 256 << 10 // bytes of the message's header; an original's header is cut there
	MaxDiagnosticLen  = 1000      // bytes kept of a Diagnostic-Code; longer ones are cut
)

// Report kinds.
const (
	KindDeliveryStatus = "delivery-status" // an RFC 3464 or RFC 6533 delivery status notification
	KindFeedbackReport = "feedback-report" // an RFC 5965 (ARF) feedback report: a complaint
	KindPlainBounce    = "plain-bounce"    // a plain-text qmail or Exim bounce, read heuristically
)

// Report is what one bounce or complaint message says.
type Report struct {
	// Kind is KindDeliveryStatus, KindFeedbackReport or KindPlainBounce.
	Kind string
	// ReportingMTA is the host that wrote the report (its Reporting-MTA field without the "dns;"
	// type), empty when the report does not say.
	ReportingMTA string
	// EnvelopeID is the Original-Envelope-Id of a delivery status notification (the ENVID the
	// sender gave), as the report writes it; empty when none.
	EnvelopeID string
	// Recipients are the addresses the report is about, in the report's order, one per address.
	// A feedback report may have none when the provider redacted the recipient; the original
	// headers then tell which message it is about.
	Recipients []Recipient
	// OriginalMessageID is the Message-ID of the original message, without angle brackets; empty
	// when the report does not return its headers.
	OriginalMessageID string
	// OriginalHeaders are the header fields of the original message, from the report's
	// text/rfc822-headers, message/rfc822, message/global-headers or message/global part (for a
	// plain-text bounce, from the copy of the message it quotes), unfolded but otherwise as
	// written (no RFC 2047 decoding); nil when the report returns none. Beckon puts
	// X-Beckon-Message-Id on every email it sends.
	OriginalHeaders textproto.MIMEHeader
	// FeedbackType is a feedback report's Feedback-Type, lower-cased: "abuse", "fraud", "other",
	// "virus", "not-spam", "auth-failure"; empty for the other kinds.
	FeedbackType string
}

// Recipient is one address a report is about.
type Recipient struct {
	// Address is the address, lower-cased and trimmed: a delivery status notification's
	// Final-Recipient, or its Original-Recipient when the final one is missing or not an email
	// address; a feedback report's Original-Rcpt-To, or the To of the original message when that
	// names exactly one address; the address a plain-text bounce names.
	Address string
	// OriginalRecipient is the Original-Recipient of a delivery status notification (the address
	// the sender used, before forwarding), lower-cased; empty when the report does not give it.
	OriginalRecipient string
	// Action is the lower-cased Action field: "failed", "delayed", "delivered", "relayed" or
	// "expanded"; empty for feedback reports.
	Action string
	// Status is the enhanced status code, e.g. "5.1.1": the Status field, or the more precise
	// code of the Diagnostic-Code when the Status field is missing or only says X.0.0 (see
	// Classify). Empty when neither gives one.
	Status string
	// Diagnostic is the Diagnostic-Code, unfolded and without its "smtp;" type, cut to
	// MaxDiagnosticLen bytes; for a plain-text bounce, the text about this recipient.
	Diagnostic string
	// Class says what the report means for the address.
	Class Class
}

// Class is what a report means for an address. Classes are ordered: a later one is more severe.
type Class int

// Classes of a recipient.
const (
	None      Class = iota // delivered, relayed or expanded; or a feedback type that is not a complaint
	Soft                   // a temporary failure, or a permanent one that is not about the address
	Hard                   // the address will never work: suppress it
	Complaint              // the recipient reported the message as abuse or fraud: suppress it
)

var classNames = [...]string{None: "none", Soft: "soft", Hard: "hard", Complaint: "complaint"}

// String returns the class's name: "none", "soft", "hard" or "complaint".
func (c Class) String() string {
	if c >= 0 && int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// MarshalText encodes the class as its name, so JSON shows "hard" rather than 2.
func (c Class) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// Suppress reports whether an address of this class belongs on the global suppression list
// (Hard and Complaint).
func (c Class) Suppress() bool { return c == Hard || c == Complaint }

// Parse reads one whole RFC 5322 message, a bounce or a complaint, and returns what it reports.
// It returns errs.TooLarge for a message over MaxMessageSize, more than MaxRecipients recipients
// or a report part over MaxReportPartSize; errs.Malformed for an empty message, one without a
// header or with a header over MaxHeaderSize; errs.Invalid naming the field at fault when the message is not a report Parse
// understands ("Content-Type") or names no recipient ("Final-Recipient", "Original-Rcpt-To"); and
// an Internal error when r fails.
func Parse(r io.Reader) (*Report, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxMessageSize+1))
	if err != nil {
		return nil, fmt.Errorf("bounce.Parse: read: %w", err)
	}
	if len(data) > MaxMessageSize {
		return nil, errs.E(errs.TooLarge, "the message is larger than %d bytes", MaxMessageSize)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errs.E(errs.Malformed, "the message is empty")
	}
	data = crlfToLF(data)
	br := bufio.NewReader(bytes.NewReader(data))
	text, truncated := readHeaderBlock(br, MaxHeaderSize)
	if truncated {
		return nil, errs.E(errs.Malformed, "the message's header is longer than %d bytes", MaxHeaderSize)
	}
	h := toMIMEHeader(parseFields(text))
	if len(h) == 0 {
		return nil, errs.E(errs.Malformed, "the message has no header fields")
	}

	w := &walker{reportContainer: -1}
	if _, err := w.entity(h, br, 0, -1, false); err != nil {
		return nil, err
	}
	var rep *Report
	switch w.kind {
	case KindDeliveryStatus:
		rep, err = deliveryStatus(w.report, w.orig)
	case KindFeedbackReport:
		rep, err = feedbackReport(w.report, w.orig)
	default:
		for _, t := range w.texts {
			if rep = plainBounce(t, w.firstOrig); rep != nil {
				break
			}
		}
		if rep == nil {
			if w.tooManyParts {
				return nil, errs.Field(errs.TooLarge, "Content-Type",
					"the message has more than %d MIME parts and no report among them", MaxParts)
			}
			return nil, errs.Field(errs.Invalid, "Content-Type",
				"the message is neither a delivery status notification (RFC 3464) nor a feedback report (RFC 5965)")
		}
	}
	if err != nil {
		return nil, err
	}
	if rep.OriginalHeaders != nil {
		rep.OriginalMessageID = messageID(rep.OriginalHeaders.Get("Message-Id"))
	}
	return rep, nil
}

// Classify returns the class of a recipient whose Action field is action and whose enhanced status
// code is status (e.g. "failed", "5.1.1"); the package documentation has the table. Both are
// compared without regard to case and surrounding space; an unreadable status counts as none.
// Senders can use it for the reply to a refused RCPT TO as well ("failed" and the reply's code).
func Classify(action, status string) Class {
	st, ok := parseStatus(strings.TrimSpace(status))
	switch strings.ToLower(strings.TrimSpace(action)) {
	case "delivered", "relayed", "expanded":
		return None
	case "delayed":
		return Soft
	case "failed":
		if ok && st.class == 5 && hardStatus[st.key()] {
			return Hard
		}
		return Soft
	}
	if !ok {
		return None
	}
	switch st.class {
	case 5:
		if hardStatus[st.key()] {
			return Hard
		}
		return Soft
	case 4:
		return Soft
	}
	return None
}

// hardStatus holds the subject.detail of the permanent failures that mean the address itself will
// never work; see the package documentation.
var hardStatus = map[int]bool{
	1*1000 + 1:  true, // bad destination mailbox
	1*1000 + 2:  true, // bad destination system
	1*1000 + 3:  true, // bad destination mailbox address syntax
	1*1000 + 4:  true, // destination mailbox address ambiguous
	1*1000 + 6:  true, // mailbox moved, no forwarding address
	1*1000 + 10: true, // null MX
	2*1000 + 1:  true, // mailbox disabled
	7*1000 + 17: true, // mailbox owner has changed
	7*1000 + 18: true, // domain owner has changed
}

// recipients collects a report's recipients, one per address, in the report's order.
type recipients struct {
	list []Recipient
	at   map[string]int
}

// add adds rc unless its address is already there; then the more severe of the two entries wins,
// in the first one's place. It returns errs.TooLarge past MaxRecipients addresses.
func (rs *recipients) add(rc Recipient) error {
	if rs.at == nil {
		rs.at = map[string]int{}
	}
	if i, ok := rs.at[rc.Address]; ok {
		if rc.Class > rs.list[i].Class {
			rs.list[i] = rc
		}
		return nil
	}
	if len(rs.list) >= MaxRecipients {
		return errs.E(errs.TooLarge, "the report names more than %d recipients", MaxRecipients)
	}
	rs.at[rc.Address] = len(rs.list)
	rs.list = append(rs.list, rc)
	return nil
}

// messageID returns a Message-ID field's value without comments, space and angle brackets.
func messageID(v string) string {
	v = strings.TrimSpace(stripComments(v))
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			v = v[i+1 : i+j]
		}
	}
	return clip(strings.TrimSpace(v), 998)
}

// crlfToLF turns every CRLF of b into LF, in place.
func crlfToLF(b []byte) []byte {
	j := 0
	for i := 0; i < len(b); i++ {
		if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
			continue
		}
		b[j] = b[i]
		j++
	}
	return b[:j]
}
