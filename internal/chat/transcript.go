package chat

import (
	"context"
	"strings"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/email"
	"github.com/beckonhq/beckon/internal/errs"
)

// Mailer queues an email in the caller's transaction; *email.Outbox is one.
type Mailer interface {
	Queue(ctx context.Context, tx db.Queryer, workspaceID string, m email.Message) error
}

// MaxTranscripts is how many transcripts can be emailed for one conversation.
const MaxTranscripts = 5

// TranscriptData fills the email template "transcript" (defined by the email package, which
// owns the templates and their data).
type TranscriptData = email.TranscriptData

// TranscriptLine is one message of a transcript.
type TranscriptLine = email.TranscriptLine

// EmailTranscript queues an email to `to` with every message of the conversation, each with its
// time (in the workspace's time zone, from Options.Workspace) and author, in the same
// transaction that counts it. by is the visitor whose conversation it is, or a present
// participant or an admin. It returns errs.Invalid about "email" for a bad address,
// errs.NotFound for another visitor's, an unknown or another workspace's conversation,
// errs.Forbidden for a rep who is not a participant, errs.TooMany after MaxTranscripts
// transcripts, and errs.Unavailable when no mailer is configured (or the mailer's own errors).
func (s *Store) EmailTranscript(ctx context.Context, wsID string, by Actor, convID, to string) error {
	key, err := email.Key(to) // "Ann <ann@acme.example>" too, as a rep may paste it
	if err != nil {
		return err // errs.Invalid about "email", saying what is wrong
	}
	addr := struct{ Address string }{key}
	if s.opt.Mailer == nil {
		return errs.E(errs.Unavailable, "email is not configured on this server")
	}
	name, loc := "", time.UTC
	if s.opt.Workspace != nil {
		n, l, err := s.opt.Workspace(ctx, wsID)
		if err != nil {
			return errs.Op("chat.EmailTranscript", err)
		}
		name = n
		if l != nil {
			loc = l
		}
	}
	err = s.inConv(ctx, wsID, convID, func(t *txn, c *Conversation) error {
		switch by.Kind {
		case KindVisitor:
			if by.ID == "" || c.VisitorID != by.ID {
				return errNoConv()
			}
			// A visitor's transcript goes out only once a rep has taken part (a stranger alone with
			// the bot cannot make the workspace mail their text), and only ever to one address.
			if len(c.Participants) == 0 {
				return errs.E(errs.Forbidden, "a transcript can be emailed once someone from the team has joined the conversation")
			}
			var fixed string
			if err := t.tx.QueryRowContext(t.ctx, `SELECT transcript_to FROM conversations WHERE id = $1`, c.ID).Scan(&fixed); err != nil {
				return err
			}
			if fixed != "" && !strings.EqualFold(fixed, addr.Address) {
				return errs.Field(errs.Conflict, "email", "this conversation's transcripts go to the address asked for first")
			}
			if fixed == "" {
				if _, err := t.tx.ExecContext(t.ctx, `UPDATE conversations SET transcript_to = $1 WHERE id = $2`, addr.Address, c.ID); err != nil {
					return err
				}
			}
		case KindRep:
			if by.ID == "" || (!c.IsPresent(by.ID) && !by.Admin) {
				return errs.E(errs.Forbidden, "only the conversation's participants or an admin can email its transcript")
			}
		default:
			return errs.E(errs.Forbidden, "only the visitor or a rep can email a transcript")
		}
		if c.TranscriptsSent >= MaxTranscripts {
			return errs.E(errs.TooMany, "at most %d transcripts can be emailed for a conversation", MaxTranscripts)
		}
		msgs, err := db.All(t.ctx, t.tx, scanMsg, `SELECT `+msgCols+` FROM messages WHERE conversation_id = $1 ORDER BY seq`, c.ID)
		if err != nil {
			return err
		}
		m, err := renderTranscript(name, loc, c, msgs)
		if err != nil {
			return err
		}
		m.To = []string{addr.Address}
		if err := s.opt.Mailer.Queue(t.ctx, t.tx, wsID, m); err != nil {
			return err
		}
		_, err = t.tx.ExecContext(t.ctx, `UPDATE conversations SET transcripts_sent = transcripts_sent + 1 WHERE id = $1`, c.ID)
		return err
	})
	return errs.Op("chat.EmailTranscript", err)
}

// renderTranscript fills the "transcript" template.
func renderTranscript(wsName string, loc *time.Location, c *Conversation, msgs []*Message) (email.Message, error) {
	d := TranscriptData{WorkspaceName: wsName, StartedAt: c.CreatedAt.In(loc).Format("Mon, 2 Jan 2006 15:04"), TimeZone: loc.String()}
	for _, m := range msgs {
		l := TranscriptLine{At: m.CreatedAt.In(loc).Format("2 Jan 15:04"), Text: m.Text}
		switch m.Author {
		case KindVisitor:
			l.Author = "Visitor"
		case KindRep:
			l.Author = m.AuthorName
			if l.Author == "" {
				l.Author = "Rep"
			}
		case KindBot:
			l.Author = m.AuthorName
			if l.Author == "" {
				l.Author = "Bot"
			}
		default:
			l.System = true
		}
		d.Lines = append(d.Lines, l)
	}
	subject, text, html, err := email.Render("transcript", d)
	if err != nil {
		return email.Message{}, err
	}
	return email.Message{Subject: subject, Text: text, HTML: html, Template: "transcript"}, nil
}
