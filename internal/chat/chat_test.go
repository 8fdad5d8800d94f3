package chat_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/chat"
	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/workspace"
)

func setup(t *testing.T, d *db.DB) (*chat.Store, string) {
	ws, err := workspace.NewStore(d, clock.System{}).Create(context.Background(), d, workspace.New{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	return chat.New(d, clock.NewFake(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))), ws.ID
}

func TestVisitorMessages(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, ws := setup(t, d)
		c, m, first, err := s.VisitorMessage(ctx, ws, "vis_a", "  Hello\nthere  ", "c1")
		if err != nil || !first || m.Seq != 1 || m.Text != "Hello\nthere" || m.Author != "visitor" {
			t.Fatalf("first message: %+v %+v %v %v", c, m, first, err)
		}
		// A retry with the same client id is the same message.
		_, again, first2, err := s.VisitorMessage(ctx, ws, "vis_a", "Hello\nthere", "c1")
		if err != nil || first2 || again.ID != m.ID {
			t.Fatalf("retry: %+v %v %v", again, first2, err)
		}
		_, m2, first3, _ := s.VisitorMessage(ctx, ws, "vis_a", "Second", "c2")
		if first3 || m2.Seq != 2 {
			t.Fatalf("second: %+v %v", m2, first3)
		}
		msgs, err := s.Messages(ctx, ws, "vis_a", c.ID, 1, 0)
		if err != nil || len(msgs) != 1 || msgs[0].Text != "Second" {
			t.Fatalf("after 1: %+v %v", msgs, err)
		}
		if _, err := s.Messages(ctx, ws, "vis_b", c.ID, 0, 0); !errs.Is(err, errs.NotFound) {
			t.Fatalf("another visitor read the conversation: %v", err)
		}
		if _, err := s.Messages(ctx, "ws_other", "vis_a", c.ID, 0, 0); !errs.Is(err, errs.NotFound) {
			t.Fatalf("another workspace read the conversation: %v", err)
		}
		for _, bad := range []struct{ text, client, field string }{
			{"   ", "", "text"}, {strings.Repeat("x", chat.MaxTextLen+1), "", "text"}, {"a\x00b", "", "text"},
			{"ok", "has space", "client_id"}, {"ok", strings.Repeat("k", 65), "client_id"},
		} {
			if _, _, _, err := s.VisitorMessage(ctx, ws, "vis_a", bad.text, bad.client); errs.As(err) == nil || errs.As(err).Field != bad.field {
				t.Errorf("VisitorMessage(%q, %q) = %v, want an error on %s", bad.text, bad.client, err, bad.field)
			}
		}
	})
}

// TestSequenceUnderConcurrency: 40 messages sent at once from one visitor get sequence numbers
// 1..40, gapless and unique, in one conversation.
func TestSequenceUnderConcurrency(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, ws := setup(t, d)
		var wg sync.WaitGroup
		seqs := make(chan int64, 40)
		convs := make(chan string, 40)
		for i := 0; i < 40; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, m, _, err := s.VisitorMessage(ctx, ws, "vis_a", fmt.Sprintf("m%d", i), fmt.Sprintf("c%d", i))
				if err != nil {
					t.Error(err)
					return
				}
				seqs <- m.Seq
				convs <- c.ID
			}()
		}
		wg.Wait()
		close(seqs)
		close(convs)
		seen := map[int64]bool{}
		for q := range seqs {
			seen[q] = true
		}
		one := map[string]bool{}
		for c := range convs {
			one[c] = true
		}
		if len(seen) != 40 || !seen[1] || !seen[40] || len(one) != 1 {
			t.Fatalf("%d distinct seqs, %d conversations", len(seen), len(one))
		}
	})
}
