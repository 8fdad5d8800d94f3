package bounce

import (
	"net/mail"
	"net/textproto"
	"strings"

	"github.com/beckonhq/beckon/internal/errs"
)

// deliveryStatus reads the body of a message/delivery-status or message/global-delivery-status
// part. Every block naming a Final-Recipient or an Original-Recipient is a recipient's; the
// per-message fields are taken from whichever block has them, since some MTAs merge the blocks.
func deliveryStatus(text string, orig textproto.MIMEHeader) (*Report, error) {
	rep := &Report{Kind: KindDeliveryStatus, OriginalHeaders: orig}
	var rs recipients
	for _, b := range parseBlocks(text) {
		if rep.ReportingMTA == "" {
			rep.ReportingMTA = mtaName(b.get("Reporting-MTA"))
		}
		if rep.EnvelopeID == "" {
			rep.EnvelopeID = clip(strings.ToValidUTF8(b.get("Original-Envelope-Id"), "\uFFFD"), 100)
		}
		final, original := address(b.get("Final-Recipient")), address(b.get("Original-Recipient"))
		addr := final
		if addr == "" {
			addr = original
		}
		if addr == "" {
			continue
		}
		diag := diagnostic(b.get("Diagnostic-Code"))
		rc := Recipient{
			Address:           addr,
			OriginalRecipient: original,
			Action:            word(b.get("Action")),
			Status:            effectiveStatus(b.get("Status"), diag),
			Diagnostic:        diag,
		}
		rc.Class = Classify(rc.Action, rc.Status)
		if err := rs.add(rc); err != nil {
			return nil, err
		}
	}
	if len(rs.list) == 0 {
		return nil, errs.Field(errs.Invalid, "Final-Recipient", "the delivery status notification names no recipient address")
	}
	rep.Recipients = rs.list
	return rep, nil
}

// feedbackReport reads the body of a message/feedback-report part. Its recipients are the
// Original-Rcpt-To fields or, without them, the To of the original message when it names exactly
// one address (with more, a complaint from one would suppress them all).
func feedbackReport(text string, orig textproto.MIMEHeader) (*Report, error) {
	b := parseFields(text)
	rep := &Report{
		Kind:            KindFeedbackReport,
		ReportingMTA:    mtaName(b.get("Reporting-MTA")),
		FeedbackType:    word(b.get("Feedback-Type")),
		OriginalHeaders: orig,
	}
	class := None
	if rep.FeedbackType == "abuse" || rep.FeedbackType == "fraud" {
		class = Complaint
	}
	var rs recipients
	for _, v := range b.all("Original-Rcpt-To") {
		if a := address(v); a != "" {
			if err := rs.add(Recipient{Address: a, Class: class}); err != nil {
				return nil, err
			}
		}
	}
	if len(rs.list) == 0 && orig != nil {
		if a := soleAddress(orig.Values("To")); a != "" {
			_ = rs.add(Recipient{Address: a, Class: class})
		}
	}
	if len(rs.list) == 0 && orig == nil {
		return nil, errs.Field(errs.Invalid, "Original-Rcpt-To", "the feedback report names no recipient and holds no original message")
	}
	rep.Recipients = rs.list
	return rep, nil
}

// soleAddress returns the address of To fields naming exactly one address, lower-cased, or "".
func soleAddress(to []string) string {
	if len(to) != 1 {
		return ""
	}
	list, err := mail.ParseAddressList(clip(to[0], 4096))
	if err != nil {
		if a := cleanAddress(to[0]); a != "" {
			return a
		}
		return ""
	}
	if len(list) != 1 {
		return ""
	}
	return cleanAddress(list[0].Address)
}
