package bounce

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/beckonhq/beckon/internal/errs"
)

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// want is what a sample's report must say; OriginalHeaders is checked through beckonID.
type want struct {
	kind, mta, envelopeID, feedbackType, messageID, beckonID string
	recipients                                               []Recipient
}

func TestParseSamples(t *testing.T) {
	tests := []struct {
		file string
		want want
	}{
		{"postfix.eml", want{
			kind: KindDeliveryStatus, mta: "smtp.beckon.test",
			messageID: "em_01hr2k7p4x.1709294400@beckon.test", beckonID: "em_01hr2k7p4x",
			recipients: []Recipient{{
				Address: "nobody@example.com", OriginalRecipient: "nobody@example.com", Action: "failed", Status: "5.1.1",
				Diagnostic: "550 5.1.1 <Nobody@Example.com>: Recipient address rejected: User unknown in virtual mailbox table",
				Class:      Hard,
			}},
		}},
		{"exim.eml", want{ // Status 5.0.0, the precise code is in the Diagnostic-Code
			kind: KindDeliveryStatus, mta: "relay.example.org",
			messageID: "em_01hr2k9zq1.1709294400@beckon.test", beckonID: "em_01hr2k9zq1",
			recipients: []Recipient{{
				Address: "ghost@example.org", Action: "failed", Status: "5.1.1",
				Diagnostic: "550 5.1.1 <ghost@example.org>: Recipient address rejected: User unknown", Class: Hard,
			}},
		}},
		{"sendmail.eml", want{
			kind: KindDeliveryStatus, mta: "mail.example.net",
			messageID: "em_01hr2kb3ws.1709294400@beckon.test", beckonID: "em_01hr2kb3ws",
			recipients: []Recipient{{
				Address: "jdoe@example.net", Action: "failed", Status: "5.1.1",
				Diagnostic: "550 5.1.1 <jdoe@example.net>... User unknown", Class: Hard,
			}},
		}},
		{"exchange.eml", want{
			kind: KindDeliveryStatus, mta: "BN8PR12MB3456.namprd12.prod.outlook.com",
			messageID: "em_01hr2kcm8f.1709294400@beckon.test", beckonID: "em_01hr2kcm8f",
			recipients: []Recipient{{
				Address: "ghost.user@contoso.com", OriginalRecipient: "ghost.user@contoso.com", Action: "failed", Status: "5.1.10",
				Diagnostic: "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", Class: Hard,
			}},
		}},
		{"gmail.eml", want{ // quoted-printable status part, a multi-line reply folded in the Diagnostic-Code
			kind: KindDeliveryStatus, mta: "googlemail.com",
			messageID: "em_01hr2kdx5b.1709294400@beckon.test", beckonID: "em_01hr2kdx5b",
			recipients: []Recipient{{
				Address: "no.such.person.4821@gmail.com", Action: "failed", Status: "5.1.1",
				Diagnostic: "550-5.1.1 The email account that you tried to reach does not exist. Please try " +
					"550-5.1.1 double-checking the recipient's email address for typos or " +
					"550-5.1.1 unnecessary spaces. For more information, go to " +
					"550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a640c23a62f3a-a44.2 - gsmtp",
				Class: Hard,
			}},
		}},
		{"arf-yahoo.eml", want{
			kind: KindFeedbackReport, feedbackType: "abuse",
			messageID: "em_01hr2kf0aa.1709294400@beckon.test", beckonID: "em_01hr2kf0aa",
			recipients: []Recipient{{Address: "complainer.42@yahoo.com", Class: Complaint}},
		}},
		{"arf-outlook.eml", want{ // no Original-Rcpt-To: the original's sole To
			kind: KindFeedbackReport, feedbackType: "abuse",
			messageID: "em_01hr2kg7nd.1709294400@beckon.test", beckonID: "em_01hr2kg7nd",
			recipients: []Recipient{{Address: "angry.visitor@outlook.com", Class: Complaint}},
		}},
		{"delayed.eml", want{
			kind: KindDeliveryStatus, mta: "smtp.beckon.test",
			messageID: "em_01hr2kh2c0.1709294400@beckon.test", beckonID: "em_01hr2kh2c0",
			recipients: []Recipient{{
				Address: "visitor@slow.example", OriginalRecipient: "visitor@slow.example", Action: "delayed", Status: "4.4.1",
				Diagnostic: "connect to mx.slow.example[192.0.2.30]:25: Connection timed out", Class: Soft,
			}},
		}},
		{"delivered.eml", want{
			kind: KindDeliveryStatus, mta: "smtp.beckon.test", envelopeID: "em_01hr2kjq3v",
			messageID: "em_01hr2kjq3v.1709294400@beckon.test", beckonID: "em_01hr2kjq3v",
			recipients: []Recipient{{
				Address: "rep@customer.example", OriginalRecipient: "rep@customer.example", Action: "relayed", Status: "2.0.0",
				Diagnostic: "250 2.0.0 Ok: queued as 4TmZ3x1kLz", Class: None,
			}},
		}},
		{"multi.eml", want{
			kind: KindDeliveryStatus, mta: "relay.partner.example", envelopeID: "em_01hr2kmw77",
			messageID: "em_01hr2kmw77.1709294400@beckon.test", beckonID: "em_01hr2kmw77",
			recipients: []Recipient{
				{Address: "gone@partner.example", Action: "failed", Status: "5.1.1", Diagnostic: "550 5.1.1 gone@partner.example: no such user here", Class: Hard},
				{Address: "full@partner.example", Action: "failed", Status: "5.2.2", Diagnostic: "552 5.2.2 full@partner.example: mailbox over quota", Class: Soft},
				{Address: "blocked@partner.example", Action: "failed", Status: "5.7.1", Diagnostic: "550 5.7.1 Message rejected as spam by content filter", Class: Soft},
				{Address: "later@partner.example", Action: "delayed", Status: "4.2.2", Diagnostic: "452 4.2.2 later@partner.example: mailbox full, try again later", Class: Soft},
				// Reported twice (delayed, then failed): one entry, the more severe, in the first place.
				{Address: "dup@partner.example", Action: "failed", Status: "5.1.1", Class: Hard},
				// Final-Recipient is not an email address: the Original-Recipient stands in.
				{Address: "alias@partner.example", OriginalRecipient: "alias@partner.example", Action: "failed", Status: "5.2.1", Diagnostic: "mailbox disabled", Class: Hard},
				{Address: "list@partner.example", Action: "expanded", Status: "2.0.0", Class: None},
				// No Action: the status decides.
				{Address: "nodomain@typo.example", Status: "5.1.2", Class: Hard},
			},
		}},
		{"utf8.eml", want{
			kind: KindDeliveryStatus, mta: "mx.bücher.example",
			messageID: "em_01hr2kp5rt.1709294400@beckon.test", beckonID: "em_01hr2kp5rt",
			recipients: []Recipient{{
				Address: "jürgen@bücher.example", OriginalRecipient: "jürgen@bücher.example", Action: "failed", Status: "5.1.1",
				Diagnostic: "550 5.1.1 Benutzer unbekannt: jürgen@bücher.example", Class: Hard,
			}},
		}},
		{"forwarded-nested.eml", want{ // multipart/mixed > multipart/report, base64 status, QP headers
			kind: KindDeliveryStatus, mta: "mx01.mailhost.example",
			messageID: "em_01hr2kqb2m.1709294400@beckon.test", beckonID: "em_01hr2kqb2m",
			recipients: []Recipient{{
				Address: "old.employee@customer-corp.example", Action: "failed", Status: "5.1.6",
				Diagnostic: "550 5.1.6 old.employee@customer-corp.example has left the company", Class: Hard,
			}},
		}},
		{"forwarded-attached.eml", want{ // multipart/mixed > message/rfc822 > multipart/report
			kind: KindDeliveryStatus, mta: "mx.shop.example",
			messageID: "em_01hr2kr9ye.1709294400@beckon.test", beckonID: "em_01hr2kr9ye",
			recipients: []Recipient{{
				Address: "buyer@shop.example", Action: "failed", Status: "5.1.1",
				Diagnostic: "550 5.1.1 <buyer@shop.example>: Recipient address rejected: User unknown in local recipient table", Class: Hard,
			}},
		}},
		{"qmail.eml", want{
			kind: KindPlainBounce, mta: "mail.oldhost.example",
			messageID: "em_01hr2ks4gh.1709294400@beckon.test", beckonID: "em_01hr2ks4gh",
			recipients: []Recipient{
				{Address: "nobody@oldhost.example", Action: "failed", Status: "5.1.1", Diagnostic: "Sorry, no mailbox here by that name. (#5.1.1)", Class: Hard},
				{Address: "full@oldhost.example", Action: "failed", Status: "5.2.2", Diagnostic: "192.0.2.60 does not like recipient. Remote host said: 552 5.2.2 <full@oldhost.example>: Mailbox full Giving up on 192.0.2.60.", Class: Soft},
				{Address: "gone@elsewhere.example", Action: "failed", Status: "5.0.0", Diagnostic: "192.0.2.61 does not like recipient. Remote host said: 550 Requested action not taken: mailbox unavailable Giving up on 192.0.2.61.", Class: Soft},
			},
		}},
		{"exim-plain.eml", want{
			kind:      KindPlainBounce,
			messageID: "em_01hr2kt0vw.1709294400@beckon.test", beckonID: "em_01hr2kt0vw",
			recipients: []Recipient{
				{Address: "missing@legacy.example", Action: "failed", Status: "5.1.1", Diagnostic: "SMTP error from remote mail server after RCPT TO:<missing@legacy.example>: host mx.legacy.example [192.0.2.70]: 550 5.1.1 <missing@legacy.example>: Recipient address rejected: User unknown in local recipient table", Class: Hard},
				{Address: "quota@legacy.example", Action: "failed", Status: "5.0.0", Diagnostic: "host mx.legacy.example [192.0.2.70]: 552 Mailbox quota exceeded", Class: Soft},
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := readSample(t, tt.file)
			// The same report whatever the line endings.
			crlf := bytes.ReplaceAll(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
			lf := bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
			for name, in := range map[string][]byte{"as is": data, "CRLF": crlf, "LF": lf} {
				rep, err := Parse(bytes.NewReader(in))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				got := want{
					kind: rep.Kind, mta: rep.ReportingMTA, envelopeID: rep.EnvelopeID, feedbackType: rep.FeedbackType,
					messageID: rep.OriginalMessageID, beckonID: rep.OriginalHeaders.Get("X-Beckon-Message-Id"),
					recipients: rep.Recipients,
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("%s:\n got %+v\nwant %+v", name, got, tt.want)
				}
			}
		})
	}
}

// dsn builds a multipart/report message around a delivery-status body.
func dsn(status string) string {
	return "From: mailer-daemon@mx.example\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n" +
		"--b\nContent-Type: text/plain\n\nfailed\n--b\nContent-Type: message/delivery-status\n\n" + status + "\n--b--\n"
}

func TestParseVariants(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want []Recipient
	}{
		{"a report that is the whole message",
			"Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1\n",
			[]Recipient{{Address: "a@example.com", Action: "failed", Status: "5.1.1", Class: Hard}}},
		{"one block for everything",
			dsn("Reporting-MTA: dns; mx.example\nFinal-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1"),
			[]Recipient{{Address: "a@example.com", Action: "failed", Status: "5.1.1", Class: Hard}}},
		{"no type, angle brackets, space around the colon",
			dsn("Reporting-MTA: dns; mx.example\n\nFinal-Recipient : <A@Example.COM>\nAction : Failed\nStatus : 5.1.2"),
			[]Recipient{{Address: "a@example.com", Action: "failed", Status: "5.1.2", Class: Hard}}},
		{"whitespace-only lines separate blocks",
			dsn("Reporting-MTA: dns; mx.example\n   \nFinal-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1\n\t\nFinal-Recipient: rfc822; b@example.com\nAction: delayed\nStatus: 4.0.0"),
			[]Recipient{{Address: "a@example.com", Action: "failed", Status: "5.1.1", Class: Hard}, {Address: "b@example.com", Action: "delayed", Status: "4.0.0", Class: Soft}}},
		{"status missing, code in the diagnostic",
			dsn("Final-Recipient: rfc822; a@example.com\nAction: failed\nDiagnostic-Code: smtp; 550 5.1.1 no such user"),
			[]Recipient{{Address: "a@example.com", Action: "failed", Status: "5.1.1", Diagnostic: "550 5.1.1 no such user", Class: Hard}}},
		{"status missing, only a reply code",
			dsn("Final-Recipient: rfc822; a@example.com\nAction: failed\nDiagnostic-Code: smtp; 550 no such user"),
			[]Recipient{{Address: "a@example.com", Action: "failed", Status: "5.0.0", Diagnostic: "550 no such user", Class: Soft}}},
		{"a 5.0.0 status is not refined by a 4.x.x diagnostic",
			dsn("Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.0.0\nDiagnostic-Code: smtp; 452 4.2.2 full"),
			[]Recipient{{Address: "a@example.com", Action: "failed", Status: "5.0.0", Diagnostic: "452 4.2.2 full", Class: Soft}}},
		{"an unreadable Status",
			dsn("Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: permanent"),
			[]Recipient{{Address: "a@example.com", Action: "failed", Class: Soft}}},
		{"an address that is not an email address is left out",
			dsn("Final-Recipient: x400; c=US;a=;p=Example;o=Mail;s=Doe\nAction: failed\nStatus: 5.1.1\n\nFinal-Recipient: rfc822; b@example.com\nAction: failed\nStatus: 5.1.1"),
			[]Recipient{{Address: "b@example.com", Action: "failed", Status: "5.1.1", Class: Hard}}},
		{"a long diagnostic is cut",
			dsn("Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; " + strings.Repeat("é", 600)),
			[]Recipient{{Address: "a@example.com", Action: "failed", Status: "5.1.1", Diagnostic: strings.Repeat("é", 500), Class: Hard}}},
		{"a Content-Type whose parameters do not parse still gives its boundary",
			"Content-Type: multipart/report; report-type=delivery-status; boundary=b; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1\n--b--\n",
			[]Recipient{{Address: "a@example.com", Action: "failed", Status: "5.1.1", Class: Hard}}},
		{"a part without its closing boundary",
			"Content-Type: multipart/report; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1\n",
			[]Recipient{{Address: "a@example.com", Action: "failed", Status: "5.1.1", Class: Hard}}},
		{"base64 with stray spaces",
			"Content-Type: message/delivery-status\nContent-Transfer-Encoding: BASE64\n\n" +
				"RmluYWwtUmVjaXBpZW50OiByZmM4MjI7 IGFAZXhhbXBsZS5jb20KQWN0aW9uOiBmYWlsZWQKU3RhdHVzOiA1LjEuMQo=\n",
			[]Recipient{{Address: "a@example.com", Action: "failed", Status: "5.1.1", Class: Hard}}},
		{"an mbox From line before the header",
			"From mailer-daemon@mx.example Fri Mar  1 12:00:00 2024\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1\n",
			[]Recipient{{Address: "a@example.com", Action: "failed", Status: "5.1.1", Class: Hard}}},
		{"ARF: several Original-Rcpt-To, fraud",
			"Content-Type: multipart/report; report-type=feedback-report; boundary=b\n\n--b\nContent-Type: message/feedback-report\n\nFeedback-Type: Fraud\nOriginal-Rcpt-To: a@example.com\nOriginal-Rcpt-To: <B@example.com>\nOriginal-Rcpt-To: a@example.com\n--b--\n",
			[]Recipient{{Address: "a@example.com", Class: Complaint}, {Address: "b@example.com", Class: Complaint}}},
		{"ARF: not-spam is no complaint",
			"Content-Type: message/feedback-report\n\nFeedback-Type: not-spam\nOriginal-Rcpt-To: a@example.com\n",
			[]Recipient{{Address: "a@example.com", Class: None}}},
		{"ARF: an original To with several addresses names no one",
			"Content-Type: multipart/report; report-type=feedback-report; boundary=b\n\n--b\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n--b\nContent-Type: text/rfc822-headers\n\nTo: a@example.com, b@example.com\nX-Beckon-Message-Id: em_1\n--b--\n",
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Parse(strings.NewReader(tt.msg))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(rep.Recipients, tt.want) {
				t.Errorf("got  %+v\nwant %+v", rep.Recipients, tt.want)
			}
		})
	}
}

// nest wraps a delivery status notification in n levels of multipart/mixed.
func nest(n int) string {
	msg := dsn("Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1")
	_, body, _ := strings.Cut(msg, "\n\n")
	ct := "multipart/report; report-type=delivery-status; boundary=b"
	for i := range n {
		b := fmt.Sprintf("n%d", i)
		body = "--" + b + "\nContent-Type: " + ct + "\n\n" + body + "\n--" + b + "--\n"
		ct = "multipart/mixed; boundary=" + b
	}
	return "Content-Type: " + ct + "\n\n" + body
}

// manyParts is a multipart/mixed of n text parts and then a delivery-status part.
func manyParts(n int) string {
	var b strings.Builder
	b.WriteString("Content-Type: multipart/mixed; boundary=b\n\n")
	for range n {
		b.WriteString("--b\nContent-Type: text/plain\n\nhello\n")
	}
	b.WriteString("--b\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1\n--b--\n")
	return b.String()
}

func TestParseLimits(t *testing.T) {
	for _, tt := range []struct {
		name string
		msg  string
		kind errs.Kind // 0 (Internal) for no error
	}{
		{"nested to the limit", nest(MaxDepth - 1), 0},
		{"nested too deep", nest(MaxDepth), errs.Invalid},
		{"parts up to the limit", manyParts(MaxParts - 1), 0},
		{"too many parts", manyParts(MaxParts), errs.TooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Parse(strings.NewReader(tt.msg))
			if tt.kind == 0 {
				if err != nil || len(rep.Recipients) != 1 {
					t.Fatalf("Parse = %+v, %v; want one recipient", rep, err)
				}
				return
			}
			if errs.KindOf(err) != tt.kind {
				t.Fatalf("Parse error = %v (%v), want kind %v", err, errs.KindOf(err), tt.kind)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	var manyRecipients strings.Builder
	for i := range MaxRecipients + 1 {
		fmt.Fprintf(&manyRecipients, "Final-Recipient: rfc822; r%d@example.com\nAction: failed\nStatus: 5.1.1\n\n", i)
	}
	tests := []struct {
		name  string
		r     func() *strings.Reader
		kind  errs.Kind
		field string
	}{
		{"empty", func() *strings.Reader { return strings.NewReader("") }, errs.Malformed, ""},
		{"blank", func() *strings.Reader { return strings.NewReader(" \r\n\n") }, errs.Malformed, ""},
		{"no header", func() *strings.Reader { return strings.NewReader("\nbody only\n") }, errs.Malformed, ""},
		{"header too long", func() *strings.Reader {
			return strings.NewReader("X-Long: " + strings.Repeat("a", MaxHeaderSize) + "\n\nbody")
		}, errs.Malformed, ""},
		{"too large", func() *strings.Reader {
			return strings.NewReader("Subject: x\n\n" + strings.Repeat("a", MaxMessageSize))
		}, errs.TooLarge, ""},
		{"an ordinary message", func() *strings.Reader {
			return strings.NewReader(string(readSample(t, "autoreply.eml")))
		}, errs.Invalid, "Content-Type"},
		{"a multipart without a report", func() *strings.Reader {
			return strings.NewReader("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n--b--\n")
		}, errs.Invalid, "Content-Type"},
		{"a DSN without recipients", func() *strings.Reader {
			return strings.NewReader(dsn("Reporting-MTA: dns; mx.example\n\nAction: failed\nStatus: 5.1.1"))
		}, errs.Invalid, "Final-Recipient"},
		{"an ARF report without recipient nor original", func() *strings.Reader {
			return strings.NewReader("Content-Type: message/feedback-report\n\nFeedback-Type: abuse\n")
		}, errs.Invalid, "Original-Rcpt-To"},
		{"too many recipients", func() *strings.Reader {
			return strings.NewReader(dsn(manyRecipients.String()))
		}, errs.TooLarge, ""},
		{"a report part too large", func() *strings.Reader {
			return strings.NewReader("Content-Type: message/delivery-status\n\n" + strings.Repeat("X-Pad: a\n", MaxReportPartSize/9+1))
		}, errs.TooLarge, "Content-Type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Parse(tt.r())
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", rep)
			}
			e := errs.As(err)
			if e == nil || e.Kind != tt.kind || e.Field != tt.field {
				t.Fatalf("Parse error = %#v, want kind %v field %q", err, tt.kind, tt.field)
			}
		})
	}

	boom := errors.New("connection reset")
	_, err := Parse(iotest.ErrReader(boom))
	if !errors.Is(err, boom) || errs.KindOf(err) != errs.Internal {
		t.Errorf("Parse of a failing reader = %v, want an Internal error wrapping the cause", err)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		action, status string
		want           Class
	}{
		{"failed", "5.1.1", Hard},
		{"failed", "5.1.2", Hard},
		{"failed", "5.1.3", Hard},
		{"failed", "5.1.4", Hard},
		{"failed", "5.1.6", Hard},
		{"failed", "5.1.10", Hard},
		{"failed", "5.2.1", Hard},
		{"failed", "5.7.17", Hard},
		{"failed", "5.7.18", Hard},
		{" FAILED ", " 5.1.1 ", Hard},
		{"failed", "5.1.0", Soft},
		{"failed", "5.1.7", Soft}, // the sender's address
		{"failed", "5.1.8", Soft},
		{"failed", "5.1.11", Soft},
		{"failed", "5.0.0", Soft},
		{"failed", "5.2.2", Soft}, // mailbox full
		{"failed", "5.2.3", Soft},
		{"failed", "5.3.4", Soft}, // message too big
		{"failed", "5.4.4", Soft},
		{"failed", "5.5.0", Soft},
		{"failed", "5.6.0", Soft},
		{"failed", "5.7.1", Soft}, // policy
		{"failed", "5.7.26", Soft},
		{"failed", "4.1.1", Soft},
		{"failed", "2.0.0", Soft},
		{"failed", "", Soft},
		{"failed", "5.1", Soft},
		{"delayed", "5.1.1", Soft},
		{"delayed", "", Soft},
		{"delivered", "2.0.0", None},
		{"relayed", "5.1.1", None},
		{"expanded", "2.0.0", None},
		{"", "5.1.1", Hard},
		{"", "5.7.1", Soft},
		{"", "4.4.1", Soft},
		{"", "2.1.5", None},
		{"", "", None},
		{"bogus", "5.1.1", Hard},
		{"bogus", "x", None},
	}
	for _, tt := range tests {
		if got := Classify(tt.action, tt.status); got != tt.want {
			t.Errorf("Classify(%q, %q) = %v, want %v", tt.action, tt.status, got, tt.want)
		}
	}
}

func TestClass(t *testing.T) {
	tests := []struct {
		c        Class
		name     string
		suppress bool
	}{
		{None, "none", false}, {Soft, "soft", false}, {Hard, "hard", true}, {Complaint, "complaint", true}, {Class(9), "Class(9)", false},
	}
	for _, tt := range tests {
		text, _ := tt.c.MarshalText()
		if tt.c.String() != tt.name || string(text) != tt.name || tt.c.Suppress() != tt.suppress {
			t.Errorf("%d: String %q, MarshalText %q, Suppress %v; want %q, %v", int(tt.c), tt.c.String(), text, tt.c.Suppress(), tt.name, tt.suppress)
		}
	}
}
