package chat_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/chat"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/email"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/testkit"
)

// fakeMailer records what is queued, and fails when told to.
type fakeMailer struct {
	queued []queued
	fail   error
}

type queued struct {
	ws  string
	m   email.Message
	inT bool
}

func (f *fakeMailer) Queue(ctx context.Context, tx db.Queryer, wsID string, m email.Message) error {
	if f.fail != nil {
		return f.fail
	}
	if err := m.Validate(); err != nil {
		return err
	}
	_, isDB := tx.(*db.DB)
	f.queued = append(f.queued, queued{ws: wsID, m: m, inT: tx != nil && !isDB})
	return nil
}

func TestEmailTranscript(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		mailer := &fakeMailer{}
		paris, err := time.LoadLocation("Europe/Paris")
		if err != nil {
			t.Fatal(err)
		}
		f := newFx(t, d, chat.Options{Mailer: mailer, Workspace: func(_ context.Context, wsID string) (string, *time.Location, error) {
			return "Acme & Co", paris, nil
		}})
		c, _, _, err := f.s.VisitorMessage(ctx, f.ws, "vis_a", "<script>alert(1)</script> & hi\nsecond line", "")
		if err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(90 * time.Second)
		R(f.s.Accept(ctx, f.ws, riley, c.ID)).ok(t)
		R(f.s.RepMessage(ctx, f.ws, riley, c.ID, "Happy to help", "")).ok(t)
		R(f.s.BotMessage(ctx, f.ws, c.ID, "Beckon Bot", "Rate us!")).ok(t)

		if err := f.s.EmailTranscript(ctx, f.ws, riley, c.ID, "Ada <ada@example.com>"); err != nil {
			t.Fatal(err)
		}
		if len(mailer.queued) != 1 {
			t.Fatalf("queued %d", len(mailer.queued))
		}
		q := mailer.queued[0]
		m := q.m
		if q.ws != f.ws || !q.inT || len(m.To) != 1 || m.To[0] != "ada@example.com" || m.Subject != "Your conversation with Acme & Co" {
			t.Fatalf("queued: %+v %+v", q, m)
		}
		// 09:00 UTC in November is 10:00 in Paris.
		for _, want := range []string{
			"started Sat, 21 Nov 2026 10:00 (times in Europe/Paris)",
			"[21 Nov 10:00] Visitor: <script>alert(1)</script> & hi\nsecond line",
			"[21 Nov 10:01] * Riley Chen joined the conversation",
			"[21 Nov 10:01] Riley Chen: Happy to help",
			"[21 Nov 10:01] Beckon Bot: Rate us!",
		} {
			if !strings.Contains(m.Text, want) {
				t.Errorf("text lacks %q:\n%s", want, m.Text)
			}
		}
		if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; hi") ||
			!strings.Contains(m.HTML, "Riley Chen joined the conversation") || !strings.Contains(m.HTML, "Acme &amp; Co") {
			t.Errorf("html:\n%s", m.HTML)
		}
		if got := f.get(t, c.ID); got.TranscriptsSent != 1 {
			t.Fatalf("transcripts sent = %d", got.TranscriptsSent)
		}

		// The visitor may ask for it too, to one address only; then the limit.
		err = f.s.EmailTranscript(ctx, f.ws, visitor("vis_a"), c.ID, "ada@example.com")
		if err != nil {
			t.Fatal(err)
		}
		err = f.s.EmailTranscript(ctx, f.ws, visitor("vis_a"), c.ID, "someone.else@example.com")
		wantKind(t, "a second address", err, errs.Conflict, "email")
		for i := 3; i <= chat.MaxTranscripts; i++ {
			if err := f.s.EmailTranscript(ctx, f.ws, visitor("vis_a"), c.ID, "ada@example.com"); err != nil {
				t.Fatal(err)
			}
		}
		err = f.s.EmailTranscript(ctx, f.ws, riley, c.ID, "ada@example.com")
		wantKind(t, "sixth transcript", err, errs.TooMany, "")

		c2 := f.open(t, "vis_b")
		for _, bad := range []struct {
			name string
			by   chat.Actor
			conv string
			to   string
			kind errs.Kind
		}{
			{"bad address", riley, c2.ID, "not an address", errs.Invalid},
			{"empty address", riley, c2.ID, "", errs.Invalid},
			{"header injection", riley, c2.ID, "a@example.com\r\nBcc: b@example.com", errs.Invalid},
			{"not a participant", kim, c2.ID, "a@example.com", errs.Forbidden},
			{"another visitor", visitor("vis_a"), c2.ID, "a@example.com", errs.NotFound},
			{"visitor before any rep joined", visitor("vis_b"), c2.ID, "a@example.com", errs.Forbidden},
			{"other workspace", admin, "conv_aaaaaaaaaaaaaaaaaaaaaaaaaa", "a@example.com", errs.NotFound},
		} {
			err := f.s.EmailTranscript(ctx, f.ws, bad.by, bad.conv, bad.to)
			if !errs.Is(err, bad.kind) {
				t.Errorf("%s: %v, want %s", bad.name, err, bad.kind)
			}
			if bad.kind == errs.Invalid && errs.As(err).Field != "email" {
				t.Errorf("%s: field %q", bad.name, errs.As(err).Field)
			}
		}
		// An admin may; a mailer failure rolls the count back.
		mailer.fail = errors.New("queue down")
		if err := f.s.EmailTranscript(ctx, f.ws, admin, c2.ID, "a@example.com"); err == nil {
			t.Fatal("a failing mailer succeeded")
		}
		if got := f.get(t, c2.ID); got.TranscriptsSent != 0 {
			t.Fatalf("count after a failed queue: %d", got.TranscriptsSent)
		}
		mailer.fail = nil
		if err := f.s.EmailTranscript(ctx, f.ws, admin, c2.ID, "a@example.com"); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(mailer.queued[len(mailer.queued)-1].m.Text, "Visitor: Hi, anyone there?") {
			t.Fatalf("second conversation transcript: %s", mailer.queued[len(mailer.queued)-1].m.Text)
		}
	})
}

func TestEmailTranscriptWithoutMailer(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f := newFx(t, d)
		c := f.open(t, "vis_a")
		err := f.s.EmailTranscript(context.Background(), f.ws, visitor("vis_a"), c.ID, "a@example.com")
		wantKind(t, "no mailer", err, errs.Unavailable, "")
	})
}
