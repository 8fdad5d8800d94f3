// Package bounce reads the reports mail systems send back about Beckon's email: delivery status
// notifications (bounces, RFC 3464 inside an RFC 6522 multipart/report, and their internationalised
// form, RFC 6533) and abuse complaints (ARF feedback reports, RFC 5965), and classifies each
// recipient as a Hard bounce, a Soft bounce, a Complaint or None (delivered, relayed, expanded).
//
// Parse is a pure parser: it reads one whole RFC 5322 message and returns a Report; storing the
// result, the suppression list and the endpoints that receive the reports live elsewhere. A Report
// carries the headers of the original message (from its text/rfc822-headers or message/rfc822
// part), so a caller correlates it with the email Beckon sent through the X-Beckon-Message-Id or
// Message-ID header.
//
// Parse does not authenticate anything: anyone can send a message that looks like a bounce. Before
// suppressing an address, a caller should check that the report's original headers name a message
// Beckon really sent to that address.
//
// # What Parse understands
//
// The report may be the whole message or sit anywhere in it, nested in multiparts (a provider that
// forwards a bounce wraps it in multipart/mixed) or in a forwarded message/rfc822, up to MaxDepth
// levels and MaxParts MIME parts. Parts may be base64 or quoted-printable; lines may end in CRLF
// or LF. Status fields are header-like blocks separated by blank lines, possibly folded, with
// comments in parentheses, in any letter case; addresses carry their address type ("rfc822;" or
// "utf-8;" with RFC 6533 \x{…} escapes) and are returned lower-cased and trimmed, one Recipient
// per address.
//
// When the message holds no standard report, Parse falls back to the two plain-text bounce formats
// still seen in practice, qmail's ("Hi. This is the qmail-send program at …") and the old Exim
// one ("The following address(es) failed:"), and returns a Report of KindPlainBounce. Other
// non-standard bounces are refused with errs.Invalid.
//
// # Classification
//
// Classify maps a recipient's Action and Status to a Class:
//
//	Action                           Status            Class
//	delivered, relayed, expanded     any               None
//	delayed                          any               Soft
//	failed (or none, by the status)  4.x.x             Soft
//	failed (or none, by the status)  5.x.x, see below  Hard or Soft
//	none                             none or 2.x.x     None
//
// A permanent failure (5.x.x) is Hard only when the status says that the address itself will
// never work:
//
//	5.1.1   bad destination mailbox (no such user)
//	5.1.2   bad destination system (no such domain)
//	5.1.3   bad destination mailbox address syntax
//	5.1.4   destination mailbox address ambiguous
//	5.1.6   destination mailbox has moved, no forwarding address
//	5.1.10  recipient address has a null MX (RFC 7505; Microsoft 365 also uses it for "recipient not found")
//	5.2.1   mailbox disabled, not accepting messages
//	5.7.17  mailbox owner has changed (RFC 7293)
//	5.7.18  domain owner has changed (RFC 7293)
//
// Every other 5.x.x is Soft, because it is about the message, the sender or the path rather than
// the address: 5.0.0 (undefined), 5.1.0, 5.1.7, 5.1.8 and 5.1.11 (the sender's address), 5.2.2
// (mailbox full), 5.2.3 and 5.3.4 (message too big), 5.3.x (the receiving system), 5.4.x (routing,
// including 5.4.4 which is also used for transient DNS failures), 5.5.x (protocol), 5.6.x
// (content) and 5.7.x (policy, spam and authentication blocks, which usually mean that Beckon's
// mail or IP is refused, not that the address is dead). A store should escalate repeated Soft
// bounces of one address on its own.
//
// When the Status field is missing or only says X.0.0 and the Diagnostic-Code holds a more precise
// enhanced code of the same class (Exim always writes "Status: 5.0.0" and puts the receiving
// server's "550 5.1.1 …" in the Diagnostic-Code), the more precise code is used; without any
// enhanced code, the SMTP reply code of the Diagnostic-Code gives X.0.0.
//
// A feedback report's recipients are Complaint for the feedback types abuse and fraud, and None
// for the others (not-spam, virus, auth-failure, other).
//
// # Errors
//
// Parse returns errs.TooLarge for a message over MaxMessageSize (or a report with more than
// MaxRecipients recipients, or a status part over MaxReportPartSize), errs.Malformed for an empty
// message or one without a readable header, and errs.Invalid naming the field at fault ("Content-Type",
// "Final-Recipient", "Original-Rcpt-To") for a message that is not a report Parse understands or a
// report that names no recipient.
package bounce
