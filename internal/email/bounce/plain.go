package bounce

import (
	"bufio"
	"net/textproto"
	"strings"
)

// Markers of the plain-text bounces plainBounce understands.
const (
	qmailIntro     = "This is the qmail-send program at "
	qmailFailed    = "I'm afraid I wasn't able to deliver your message to the following addresses."
	qmailCopy      = "--- Below this line is a copy of the message."
	qmailHeaders   = "--- Enclosed are the original headers of the message."
	eximIntro      = "This message was created automatically by mail delivery software."
	eximFailed     = "The following address(es) failed:"
	eximCopyPrefix = "------ This is a copy of the message"
)

// plainBounce reads a plain-text permanent-failure bounce in qmail's or the old Exim format, and
// returns nil for any other text. Its recipients have Action "failed" and the status code of
// their text, or 5.0.0 (Soft) when the text has none. orig is used when the text does not quote
// the original headers itself.
func plainBounce(text string, orig textproto.MIMEHeader) *Report {
	var (
		rep  *Report
		rest string
	)
	if strings.Contains(text, qmailIntro) && strings.Contains(text, qmailFailed) {
		rep, rest = qmailBounce(text)
	} else if strings.Contains(text, eximIntro) && strings.Contains(text, eximFailed) {
		rep, rest = eximBounce(text)
	}
	if rep == nil || len(rep.Recipients) == 0 {
		return nil
	}
	rep.Kind = KindPlainBounce
	rep.OriginalHeaders = orig
	if rest != "" {
		rest = strings.TrimLeft(rest, "\r\n")
		h, _ := readHeaderBlock(bufio.NewReader(strings.NewReader(rest)), MaxHeaderSize)
		if hdr := toMIMEHeader(parseFields(h)); len(hdr) > 0 {
			rep.OriginalHeaders = hdr
		}
	}
	return rep
}

// qmailBounce reads the "<address>:" paragraphs of a qmail-send bounce; rest is what follows its
// copy-of-the-message line.
func qmailBounce(text string) (rep *Report, rest string) {
	rep = &Report{}
	i := strings.Index(text, qmailIntro)
	mta, _, _ := strings.Cut(text[i+len(qmailIntro):], "\n")
	rep.ReportingMTA = clip(strings.TrimSuffix(strings.TrimSpace(mta), "."), 255)
	body := text[strings.Index(text, qmailFailed)+len(qmailFailed):]
	for _, marker := range []string{qmailCopy, qmailHeaders} {
		if j := strings.Index(body, marker); j >= 0 {
			body, rest = body[:j], body[j+len(marker):]
			break
		}
	}
	var rs recipients
	for _, para := range strings.Split(body, "\n\n") {
		para = strings.TrimSpace(para)
		first, diag, _ := strings.Cut(para, "\n")
		first = strings.TrimSpace(first)
		if !strings.HasPrefix(first, "<") || !strings.HasSuffix(first, ">:") {
			continue
		}
		addPlain(&rs, first[:len(first)-1], diag)
	}
	rep.Recipients = rs.list
	return rep, rest
}

// eximBounce reads the address lines (indented by two spaces) and their diagnostic lines
// (indented further) after Exim's "The following address(es) failed:"; rest is what follows its
// copy-of-the-message line.
func eximBounce(text string) (rep *Report, rest string) {
	rep = &Report{}
	body := text[strings.Index(text, eximFailed)+len(eximFailed):]
	if j := strings.Index(body, eximCopyPrefix); j >= 0 {
		body, rest = body[:j], body[j:]
		_, rest, _ = strings.Cut(rest, "\n")
	}
	var (
		rs   recipients
		addr string
		diag strings.Builder
	)
	flush := func() {
		if addr != "" {
			addPlain(&rs, addr, diag.String())
		}
		addr = ""
		diag.Reset()
	}
	for _, line := range strings.Split(body, "\n") {
		switch {
		case strings.HasPrefix(line, "    ") || strings.HasPrefix(line, "\t"):
			if addr != "" {
				diag.WriteString(strings.TrimSpace(line))
				diag.WriteByte(' ')
			}
		case strings.HasPrefix(line, "  ") && len(line) > 2 && line[2] != ' ':
			flush()
			addr, _, _ = strings.Cut(strings.TrimSpace(line), " ")
			addr = strings.TrimSuffix(addr, ":")
		}
	}
	flush()
	rep.Recipients = rs.list
	return rep, rest
}

// addPlain adds a failed recipient of a plain-text bounce; an address that is not an email address
// (an Exim pipe or file delivery) is left out, as are recipients past MaxRecipients.
func addPlain(rs *recipients, addr, diag string) {
	a := cleanAddress(addr)
	if a == "" {
		return
	}
	diag = strings.Join(strings.Fields(diag), " ")
	st, ok := findStatus(diag)
	if !ok {
		st = status{class: 5}
		for s := diag; ; {
			i := strings.Index(s, ": ")
			if i < 0 {
				break
			}
			s = s[i+2:]
			if c := replyClass(s); c != 0 {
				st.class = c
				break
			}
		}
	}
	rc := Recipient{Address: a, Action: "failed", Status: st.String(), Diagnostic: clip(strings.ToValidUTF8(diag, "\uFFFD"), MaxDiagnosticLen)}
	rc.Class = Classify(rc.Action, rc.Status)
	_ = rs.add(rc)
}
