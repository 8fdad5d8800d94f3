package email

import (
	"context"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
)

// logSender writes messages to a log instead of sending them.
type logSender struct{ log *slog.Logger }

// NewLogSender returns a Sender for running without an SMTP server (`beckon demo`): Send
// validates the message like any Sender (returning its errs.Invalid error) and then logs the
// recipients, the subject and the text body at level Info, with each web link in the text also
// as an attribute of its own ("link", "link_2", …) so a person can open an activation link
// straight from the terminal. Nothing is delivered. A nil log means slog.Default().
func NewLogSender(log *slog.Logger) Sender {
	if log == nil {
		log = slog.Default()
	}
	return logSender{log: log}
}

// linkPattern finds web links in a text body.
var linkPattern = regexp.MustCompile(`https?://[^\s<>"]+`)

// Send validates m and logs it.
func (s logSender) Send(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	attrs := []slog.Attr{
		slog.String("to", strings.Join(m.To, ", ")),
		slog.String("subject", m.Subject),
	}
	if len(m.Cc) > 0 {
		attrs = append(attrs, slog.String("cc", strings.Join(m.Cc, ", ")))
	}
	if len(m.Bcc) > 0 {
		attrs = append(attrs, slog.String("bcc", strings.Join(m.Bcc, ", ")))
	}
	for i, link := range linkPattern.FindAllString(m.Text, -1) {
		key := "link"
		if i > 0 {
			key += "_" + strconv.Itoa(i+1)
		}
		attrs = append(attrs, slog.String(key, strings.TrimRight(link, ".,;:!?)]}'")))
	}
	if len(m.Attachments) > 0 {
		names := make([]string, len(m.Attachments))
		for i, a := range m.Attachments {
			names[i] = a.Filename
		}
		attrs = append(attrs, slog.String("attachments", strings.Join(names, ", ")))
	}
	attrs = append(attrs, slog.String("text", m.Text))
	s.log.LogAttrs(ctx, slog.LevelInfo, "email not sent: no SMTP server configured; logged instead", attrs...)
	return nil
}
