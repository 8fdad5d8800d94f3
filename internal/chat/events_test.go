package chat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/chat"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/testkit"
)

// recv is an event as a subscriber saw it, with whether its message was already readable from
// the database when it arrived (it must be: events are published after the commit).
type recv struct {
	subject   string
	ev        chat.Event
	committed bool
}

// collector gathers a subscription's events.
type collector struct {
	mu  sync.Mutex
	got []recv
	ch  chan struct{}
}

func subscribe(t *testing.T, b bus.Bus, subject string, check func(chat.Event) bool) *collector {
	t.Helper()
	c := &collector{ch: make(chan struct{}, 1000)}
	sub, err := b.Subscribe(subject, func(m bus.Msg) {
		var ev chat.Event
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Errorf("event %s: %v", m.Data, err)
			return
		}
		r := recv{subject: m.Subject, ev: ev, committed: true}
		if check != nil {
			r.committed = check(ev)
		}
		c.mu.Lock()
		c.got = append(c.got, r)
		c.mu.Unlock()
		c.ch <- struct{}{}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	return c
}

// wait returns the first n events, failing after a generous bound.
func (c *collector) wait(t *testing.T, n int) []recv {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		if len(c.got) >= n {
			out := append([]recv(nil), c.got...)
			c.mu.Unlock()
			return out
		}
		c.mu.Unlock()
		select {
		case <-c.ch:
		case <-deadline:
			t.Fatalf("waited for %d events, got %d", n, len(c.got))
		}
	}
}

func describe(rs []recv) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.ev.T)
		if r.ev.Kind != "" && r.ev.T == "conv" {
			b.WriteString(":" + r.ev.Kind)
		}
		if r.ev.T == "msg" {
			b.WriteString(":" + r.ev.Msg.Author)
		}
		b.WriteByte(' ')
	}
	return strings.TrimSpace(b.String())
}

func TestEventsAfterCommit(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		b := bus.NewInProcess()
		t.Cleanup(func() { b.Close() })
		f := newFx(t, d, chat.Options{Bus: b})
		committed := func(ev chat.Event) bool {
			if ev.T != "msg" {
				return true
			}
			msgs, err := f.s.MessagesFor(context.Background(), f.ws, ev.Conv, ev.Seq-1, 1)
			return err == nil && len(msgs) == 1 && msgs[0].ID == ev.Msg.ID
		}
		convs := subscribe(t, b, "chat."+f.ws+".*", committed)
		inbox := subscribe(t, b, "inbox."+f.ws, nil)
		visitors := subscribe(t, b, "visitor."+f.ws+".*", nil)
		others := subscribe(t, b, "chat."+f.ws2+".*", nil)

		c := f.open(t, "vis_a")
		R(f.s.Accept(ctx, f.ws, riley, c.ID)).ok(t)
		R(f.s.RepMessage(ctx, f.ws, riley, c.ID, "Hello", "r1")).ok(t)
		R(f.s.RepMessage(ctx, f.ws, riley, c.ID, "Hello", "r1")).ok(t) // a retry publishes nothing
		if err := f.s.Typing(ctx, f.ws, visitor("vis_a"), c.ID, true); err != nil {
			t.Fatal(err)
		}
		R(f.s.MarkRead(ctx, f.ws, visitor("vis_a"), c.ID, 3)).ok(t)
		R(f.s.MarkRead(ctx, f.ws, visitor("vis_a"), c.ID, 2)).ok(t) // no move, no event
		R(f.s.Close(ctx, f.ws, riley, c.ID)).ok(t)

		got := convs.wait(t, 10)
		want := "msg:visitor conv:conversation.started conv:conversation.waiting msg:system conv:conversation.accepted msg:rep typing read msg:system conv:conversation.closed"
		if describe(got) != want {
			t.Fatalf("events:\n%s\nwant\n%s", describe(got), want)
		}
		var seq int64
		for _, r := range got {
			if r.subject != "chat."+f.ws+"."+c.ID || r.ev.Conv != c.ID || r.ev.Visitor != "vis_a" {
				t.Fatalf("event on %s: %+v", r.subject, r.ev)
			}
			if !r.committed {
				t.Fatalf("seq %d was published before its commit", r.ev.Seq)
			}
			if r.ev.T == "msg" {
				if r.ev.Seq != seq+1 || r.ev.Msg.Seq != r.ev.Seq || r.ev.Kind != "message.created" {
					t.Fatalf("message events out of order: %d after %d", r.ev.Seq, seq)
				}
				seq = r.ev.Seq
			}
		}
		if ev := got[3].ev; ev.Msg.Text != "Riley Chen joined the conversation" {
			t.Fatalf("system message event: %+v", ev.Msg)
		}
		if ev := got[4].ev; ev.State == nil || ev.State.AssigneeID != riley.ID || len(ev.State.Participants) != 1 || ev.State.LastSeq != 2 {
			t.Fatalf("accepted state: %+v", ev.State)
		}
		if ev := got[6].ev; ev.T != "typing" || !ev.On || ev.Author != "visitor" {
			t.Fatalf("typing: %+v", ev)
		}
		if ev := got[7].ev; ev.Author != "visitor" || ev.Seq != 3 {
			t.Fatalf("read: %+v", ev)
		}
		if ev := got[9].ev; ev.State.Status != "closed" || ev.State.ClosedBy != riley.ID {
			t.Fatalf("closed state: %+v", ev.State)
		}
		// The inbox gets every conv event; the visitor's subject only the creation.
		if in := describe(inbox.wait(t, 4)); in != "conv:conversation.started conv:conversation.waiting conv:conversation.accepted conv:conversation.closed" {
			t.Fatalf("inbox: %s", in)
		}
		if v := visitors.wait(t, 1); v[0].subject != "visitor."+f.ws+".vis_a" || v[0].ev.Kind != "conversation.started" {
			t.Fatalf("visitor subject: %+v", v)
		}

		// A rep-started conversation and a reopened one tell the visitor's subject.
		c2, _ := R2(f.s.Start(ctx, f.ws, sam, "vis_b", "Hi there", "")).ok(t)
		R(f.s.Close(ctx, f.ws, sam, c2.ID)).ok(t)
		R(f.s.Reopen(ctx, f.ws, sam, c2.ID)).ok(t)
		v := visitors.wait(t, 3)
		if v[1].subject != "visitor."+f.ws+".vis_b" || v[1].ev.Kind != "conversation.started" || v[1].ev.State.StartedBy != "rep" ||
			v[2].ev.Kind != "conversation.reopened" {
			t.Fatalf("visitor subject: %s", describe(v))
		}
		// Check the last event of this run arrived before looking for strays.
		convs.wait(t, 10+6)
		others.mu.Lock()
		defer others.mu.Unlock()
		if len(others.got) != 0 {
			t.Fatalf("another workspace's subject got %d events", len(others.got))
		}
	})
}

// TestPublishFailureIsLogged: a bus that refuses never fails the operation.
func TestPublishFailureIsLogged(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		b := bus.NewInProcess()
		b.Close()
		var logs bytes.Buffer
		var mu sync.Mutex
		f := newFx(t, d, chat.Options{Bus: b, Log: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))})
		c := f.open(t, "vis_a")
		if c.LastSeq != 1 {
			t.Fatalf("conversation: %+v", c)
		}
		mu.Lock()
		defer mu.Unlock()
		if !strings.Contains(logs.String(), "publishing an event failed") {
			t.Fatalf("logs: %s", logs.String())
		}
	})
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestOnEvent(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		b := bus.NewInProcess()
		t.Cleanup(func() { b.Close() })
		f := newFx(t, d, chat.Options{Bus: b})
		var kinds []string
		boom := errors.New("webhook store failed")
		failOn := ""
		f.s.OnEvent(func(ctx context.Context, tx db.Queryer, ev chat.Event) error {
			if ev.Kind == failOn {
				return boom
			}
			// The hook runs inside the transaction: it sees the message not yet committed.
			if ev.T == "msg" {
				var n int
				if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages WHERE id = $1`, ev.Msg.ID).Scan(&n); err != nil || n != 1 {
					return errors.New("the hook does not see its message")
				}
			}
			kinds = append(kinds, ev.Kind)
			return nil
		})
		inbox := subscribe(t, b, "inbox."+f.ws, nil)
		c := f.open(t, "vis_a")
		R(f.s.Accept(ctx, f.ws, riley, c.ID)).ok(t)
		R(f.s.Invite(ctx, f.ws, riley, c.ID, sam)).ok(t)
		R(f.s.Leave(ctx, f.ws, sam, c.ID)).ok(t)
		R(f.s.Transfer(ctx, f.ws, riley, c.ID, sam)).ok(t)
		R(f.s.Close(ctx, f.ws, sam, c.ID)).ok(t)
		R(f.s.Reopen(ctx, f.ws, sam, c.ID)).ok(t)
		if err := f.s.Typing(ctx, f.ws, sam, c.ID, true); err != nil {
			t.Fatal(err)
		}
		R(f.s.MarkRead(ctx, f.ws, sam, c.ID, 2)).ok(t)
		want := "message.created conversation.started conversation.waiting " +
			"message.created conversation.accepted message.created conversation.joined message.created conversation.left " +
			"message.created conversation.transferred message.created conversation.closed message.created conversation.reopened"
		if got := strings.Join(kinds, " "); got != want {
			t.Fatalf("hooked kinds:\n%s\nwant\n%s", got, want)
		}
		n := len(inbox.wait(t, 8))

		// A failing hook rolls the operation back, and nothing is published.
		failOn = "conversation.closed"
		before := f.snapshot(t)
		_, err := f.s.Close(ctx, f.ws, sam, c.ID)
		if !errors.Is(err, boom) {
			t.Fatalf("close with a failing hook: %v", err)
		}
		if after := f.snapshot(t); after != before {
			t.Fatalf("a rolled back close changed:\n%s\n%s", before, after)
		}
		failOn = "message.created"
		_, err = f.s.RepMessage(ctx, f.ws, sam, c.ID, "lost", "")
		if !errors.Is(err, boom) || f.snapshot(t) != before {
			t.Fatalf("message with a failing hook: %v", err)
		}
		_, _, _, err = f.s.VisitorMessage(ctx, f.ws, "vis_new", "hello", "")
		if !errors.Is(err, boom) {
			t.Fatalf("visitor message with a failing hook: %v", err)
		}
		if c, _ := f.s.OpenConversation(ctx, f.ws, "vis_new"); c != nil {
			t.Fatalf("a rolled back first message left %+v", c)
		}
		// A later event proves nothing else reached the inbox in between.
		failOn = ""
		R(f.s.Close(ctx, f.ws, sam, c.ID)).ok(t)
		got := inbox.wait(t, n+1)
		if len(got) != n+1 || got[n].ev.Kind != "conversation.closed" {
			t.Fatalf("inbox after the rollbacks: %s", describe(got[n-1:]))
		}
	})
}

// TestHookErrorKind: a hook's classified error reaches the caller with its kind.
func TestHookErrorKind(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f := newFx(t, d)
		f.s.OnEvent(func(context.Context, db.Queryer, chat.Event) error {
			return errs.E(errs.Unavailable, "webhooks are paused")
		})
		_, _, _, err := f.s.VisitorMessage(context.Background(), f.ws, "vis_a", "hi", "")
		wantKind(t, "hook error", err, errs.Unavailable, "paused")
		var n int
		if err := d.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM messages`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d messages stored: %v", n, err)
		}
	})
}

func TestLastSeqs(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, ws := setup(t, d)
		a, _, _, err := s.VisitorMessage(ctx, ws, "vis_a", "one", "")
		if err != nil {
			t.Fatal(err)
		}
		s.VisitorMessage(ctx, ws, "vis_a", "two", "")
		b, _, _, _ := s.VisitorMessage(ctx, ws, "vis_b", "one", "")
		got, err := s.LastSeqs(ctx, ws, []string{a.ID, b.ID, "conv_unknown"})
		if err != nil || len(got) != 2 || got[a.ID] != 2 || got[b.ID] != 1 {
			t.Fatalf("LastSeqs = %v, %v", got, err)
		}
		if got, err := s.LastSeqs(ctx, "ws_other", []string{a.ID}); err != nil || len(got) != 0 {
			t.Fatalf("another workspace saw %v, %v", got, err)
		}
	})
}

func TestOpenConversations(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, ws := setup(t, d)
		a, _, _, err := s.VisitorMessage(ctx, ws, "vis_a", "one", "")
		if err != nil {
			t.Fatal(err)
		}
		b, _, _, _ := s.VisitorMessage(ctx, ws, "vis_b", "one", "")
		if _, err := s.Close(ctx, ws, chat.Actor{Kind: chat.KindVisitor, ID: "vis_b"}, b.ID); err != nil {
			t.Fatal(err)
		}
		ids := []string{"vis_a", "vis_b", "vis_none"}
		for i := 0; i < 600; i++ { // more than one query's worth
			ids = append(ids, fmt.Sprintf("vis_x%d", i))
		}
		got, err := s.OpenConversations(ctx, ws, ids)
		if err != nil || len(got) != 1 || got["vis_a"] != a.ID {
			t.Fatalf("OpenConversations = %v, %v; want only vis_a's open one", got, err)
		}
		if got, err := s.OpenConversations(ctx, "ws_other", []string{"vis_a"}); err != nil || len(got) != 0 {
			t.Fatalf("another workspace saw %v, %v", got, err)
		}
	})
}
