package email

import (
	"context"
	"io"
	"strings"

	"github.com/beckonhq/beckon/internal/email/bounce"
	"github.com/beckonhq/beckon/internal/errs"
)

// Kinds of a Bounce.
const (
	BounceHard      = "hard"      // the address will never take mail: suppressed
	BounceSoft      = "soft"      // a passing failure (mailbox full, greylisting): recorded only
	BounceComplaint = "complaint" // the recipient reported the mail as spam: suppressed
)

// Bounce is one failed delivery or complaint reported after the mail server took a message.
type Bounce struct {
	Kind       string // BounceHard, BounceSoft or BounceComplaint
	Address    string
	Status     string // RFC 3463, "5.1.1"; may be empty
	Diagnostic string
	MessageID  string // the message's X-Beckon-Message-Id ("em_…"); may be empty
	Source     string // "dsn", "webhook", "smtp"
}

// ApplyBounce records b: a hard bounce or a complaint puts the address on the global
// suppression list (idempotently), and the message it names, when known, gets a "bounced" or
// "complained" event. It reports whether the address was suppressed. It returns errs.Invalid for
// a bad address or kind.
func (o *Outbox) ApplyBounce(ctx context.Context, b Bounce) (suppressed bool, err error) {
	if _, err := Key(b.Address); err != nil {
		return false, err
	}
	detail := strings.TrimSpace(strings.Join(nonEmpty(b.Status, b.Diagnostic), " "))
	wsID := ""
	if b.MessageID != "" {
		kind := StatusBounced
		if b.Kind == BounceComplaint {
			kind = StatusComplained
		}
		if b.Kind == BounceSoft {
			kind = "soft_bounce"
		}
		ev := b.Address
		if detail != "" {
			ev += ": " + detail
		}
		if kind == "soft_bounce" {
			wsID, err = o.st.noteEvent(ctx, b.MessageID, kind, ev)
		} else {
			wsID, err = o.st.MarkBounced(ctx, b.MessageID, kind, ev)
		}
		if err != nil && errs.KindOf(err) != errs.NotFound {
			return false, err
		}
	}
	switch b.Kind {
	case BounceHard:
		return true, o.st.Suppress(ctx, b.Address, ReasonBounce, detail, b.Source, wsID, b.MessageID)
	case BounceComplaint:
		return true, o.st.Suppress(ctx, b.Address, ReasonComplaint, detail, b.Source, wsID, b.MessageID)
	case BounceSoft:
		return false, nil
	}
	return false, errs.Field(errs.Invalid, "kind", "%q: want hard, soft or complaint", b.Kind)
}

// ReportResult says what ApplyReport did with one report.
type ReportResult struct {
	Report     string   `json:"report"` // "delivery-status", "feedback-report" or "plain-bounce"
	MessageID  string   `json:"message_id,omitempty"`
	Suppressed []string `json:"suppressed"`
	Soft       []string `json:"soft"`
	// Ignored are the recipients the report does not act on: delivered or relayed, not an
	// address, or not a recipient of the message the report names (anyone can write a bounce,
	// so a report suppresses only addresses Beckon really mailed in that message).
	Ignored []string `json:"ignored"`
}

// ApplyReport parses one bounce or complaint message (an RFC 3464 delivery status notification,
// an RFC 5965 feedback report, or a plain-text bounce of a common MTA) and applies each
// recipient's outcome with ApplyBounce. A report acts only on recipients of the message it names
// by its X-Beckon-Message-Id header (quoted in the report's copy of the original headers); a
// complaint whose provider redacted the recipient applies to the message's only recipient. It
// returns the errors of bounce.Parse for a message it cannot read: errs.Malformed,
// errs.TooLarge, errs.Invalid (not a report, or a report that names nobody).
func (o *Outbox) ApplyReport(ctx context.Context, r io.Reader, source string) (*ReportResult, error) {
	rep, err := bounce.Parse(r)
	if err != nil {
		return nil, err
	}
	mid := strings.TrimSpace(rep.OriginalHeaders.Get(HeaderMessageID))
	out := &ReportResult{Report: rep.Kind, MessageID: mid, Suppressed: []string{}, Soft: []string{}, Ignored: []string{}}
	sent, err := o.st.recipientsOf(ctx, mid)
	if err != nil {
		return nil, err
	}
	recipients := rep.Recipients
	if len(recipients) == 0 && rep.Kind == bounce.KindFeedbackReport && len(sent) == 1 {
		for a := range sent {
			recipients = []bounce.Recipient{{Address: a, Class: bounce.Complaint}}
		}
	}
	for _, rc := range recipients {
		addr := rc.Address
		if !sent[keyOrEmpty(addr)] {
			if rc.OriginalRecipient != "" && sent[keyOrEmpty(rc.OriginalRecipient)] {
				addr = rc.OriginalRecipient // forwarded: the address Beckon used
			} else {
				out.Ignored = append(out.Ignored, rc.Address)
				continue
			}
		}
		kind := ""
		switch rc.Class {
		case bounce.Hard:
			kind = BounceHard
		case bounce.Soft:
			kind = BounceSoft
		case bounce.Complaint:
			kind = BounceComplaint
		}
		if kind == "" {
			out.Ignored = append(out.Ignored, addr)
			continue
		}
		diag := rc.Diagnostic
		if rep.FeedbackType != "" {
			diag = strings.TrimSpace("feedback: " + rep.FeedbackType + " " + diag)
		}
		sup, err := o.ApplyBounce(ctx, Bounce{Kind: kind, Address: addr, Status: rc.Status, Diagnostic: diag, MessageID: mid, Source: source})
		switch {
		case errs.KindOf(err) == errs.Invalid:
			out.Ignored = append(out.Ignored, addr)
		case err != nil:
			return nil, err
		case sup:
			out.Suppressed = append(out.Suppressed, addr)
		default:
			out.Soft = append(out.Soft, addr)
		}
	}
	return out, nil
}

func keyOrEmpty(a string) string {
	k, err := Key(a)
	if err != nil {
		return ""
	}
	return k
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// MaxReportSize is the largest bounce or complaint message ApplyReport reads.
const MaxReportSize = bounce.MaxMessageSize
