package email_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/email"
	"github.com/beckonhq/beckon/internal/jobs"
	"github.com/beckonhq/beckon/internal/secret"
	"github.com/beckonhq/beckon/internal/testkit"
)

// TestOutbox sends through the durable queue to a real SMTP server: the stored payload is sealed,
// the email arrives, and a 5xx refusal fails the job without retries.
func TestOutbox(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		srv := testkit.NewSMTPServer(t)
		sender, err := email.NewSMTP(email.SMTPConfig{Host: srv.Host, Port: srv.Port, From: "beckon@acme.example", TLS: "none"})
		if err != nil {
			t.Fatal(err)
		}
		keys, _ := secret.NewKeyring(bytes.Repeat([]byte{7}, 32))
		q := jobs.New(d, clock.System{}, slog.New(slog.NewTextHandler(io.Discard, nil)), jobs.Options{PollInterval: 20 * time.Millisecond})
		out := email.NewOutbox(q, sender, keys)
		done := make(chan struct{})
		go func() { q.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()

		link := "https://chat.acme.example/activate/inv_secretsecret"
		if err := out.Queue(ctx, d, "ws_1", email.Message{To: []string{"rae@acme.example"}, Subject: "Welcome", Text: "Join: " + link}); err != nil {
			t.Fatal(err)
		}
		var stored string
		d.QueryRowContext(ctx, `SELECT payload FROM jobs WHERE kind = $1`, email.JobKind).Scan(&stored)
		if strings.Contains(stored, "inv_secret") || strings.Contains(stored, "rae@") || !strings.Contains(stored, "bks1.") {
			t.Fatalf("stored payload is not sealed: %s", stored)
		}
		q.Notify()
		m := srv.WaitFor(t, 1, 10*time.Second)[0]
		if !strings.Contains(m.Text, link) {
			t.Fatalf("delivered %q", m.Text)
		}

		srv.RejectNext(550, "No such mailbox")
		if err := out.Queue(ctx, d, "ws_1", email.Message{To: []string{"gone@acme.example"}, Subject: "x", Text: "y"}); err != nil {
			t.Fatal(err)
		}
		q.Notify()
		deadline := time.Now().Add(10 * time.Second)
		for {
			failed, _ := q.List(ctx, "ws_1", jobs.Failed, 10, "")
			if len(failed) == 1 {
				if failed[0].Attempts != 1 || !strings.Contains(failed[0].LastError, "550") {
					t.Fatalf("failed job %+v", failed[0])
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("a 5xx refusal did not fail the job")
			}
			time.Sleep(20 * time.Millisecond)
		}

		if err := email.NewOutbox(jobs.New(d, clock.System{}, slog.Default(), jobs.Options{}), sender, nil).Queue(ctx, d, "ws_1",
			email.Message{To: []string{"a@acme.example"}, Subject: "x", Text: "y"}); err == nil {
			t.Fatal("queued an email without a key to seal it")
		}
	})
}
