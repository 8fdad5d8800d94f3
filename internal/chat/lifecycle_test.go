package chat_test

import (
	"context"
	"encoding/json"
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

var (
	riley = chat.Actor{Kind: "rep", ID: "usr_riley", Name: "Riley Chen"}
	sam   = chat.Actor{Kind: "rep", ID: "usr_sam", Name: "Sam Lee"}
	kim   = chat.Actor{Kind: "rep", ID: "usr_kim", Name: "Kim Park"}
	admin = chat.Actor{Kind: "rep", ID: "usr_admin", Name: "Alex Admin", Admin: true}
)

func visitor(id string) chat.Actor { return chat.Actor{Kind: "visitor", ID: id} }

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

// fx is a Store on a fresh database with two workspaces and a fake clock.
type fx struct {
	d       *db.DB
	s       *chat.Store
	clk     *clock.Fake
	ws, ws2 string
}

func newFx(t *testing.T, d *db.DB, opts ...chat.Options) *fx {
	t.Helper()
	wss := workspace.NewStore(d, clock.System{})
	ws, err := wss.Create(context.Background(), d, workspace.New{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	ws2, err := wss.Create(context.Background(), d, workspace.New{Name: "Other"})
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(t0)
	return &fx{d: d, s: chat.New(d, clk, opts...), clk: clk, ws: ws.ID, ws2: ws2.ID}
}

// open opens a conversation by a visitor's first message.
func (f *fx) open(t *testing.T, visitorID string) *chat.Conversation {
	t.Helper()
	c, _, first, err := f.s.VisitorMessage(context.Background(), f.ws, visitorID, "Hi, anyone there?", "")
	if err != nil || !first {
		t.Fatalf("open for %s: %v (first %v)", visitorID, err, first)
	}
	return c
}

func (f *fx) get(t *testing.T, convID string) *chat.Conversation {
	t.Helper()
	c, err := f.s.Get(context.Background(), f.ws, convID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fx) texts(t *testing.T, convID string) []string {
	t.Helper()
	msgs, err := f.s.MessagesFor(context.Background(), f.ws, convID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i, m := range msgs {
		if m.Seq != int64(i+1) {
			t.Fatalf("message %d has seq %d: not gapless", i, m.Seq)
		}
		out = append(out, m.Author+": "+m.Text)
	}
	return out
}

// R carries a result and its error to ok, which fails the test on the error.
func R[T any](v T, err error) res[T] { return res[T]{v, err} }

type res[T any] struct {
	v   T
	err error
}

func (r res[T]) ok(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

// R2 is R for two results.
func R2[A, B any](a A, b B, err error) res2[A, B] { return res2[A, B]{a, b, err} }

type res2[A, B any] struct {
	a   A
	b   B
	err error
}

func (r res2[A, B]) ok(t *testing.T) (A, B) {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.a, r.b
}

func wantKind(t *testing.T, what string, err error, k errs.Kind, contains string) {
	t.Helper()
	if !errs.Is(err, k) {
		t.Fatalf("%s: err = %v, want kind %s", what, err, k)
	}
	if contains != "" && !strings.Contains(err.Error(), contains) {
		t.Fatalf("%s: err = %q, want it to mention %q", what, err, contains)
	}
}

func TestLifecycle(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFx(t, d)
		c := f.open(t, "vis_a")
		if c.Status != "open" || !c.WaitingSince.Equal(t0) || c.StartedBy != "visitor" || c.AssigneeID != "" || len(c.Participants) != 0 {
			t.Fatalf("opened: %+v", c)
		}

		f.clk.Advance(time.Minute)
		c = R(f.s.Accept(ctx, f.ws, riley, c.ID)).ok(t)
		if c.AssigneeID != riley.ID || !c.WaitingSince.IsZero() || c.LastSeq != 2 || len(c.Participants) != 1 ||
			c.Participants[0].Role != "owner" || c.Participants[0].Name != "Riley Chen" {
			t.Fatalf("accepted: %+v", c)
		}
		// Accepting one's own again changes nothing.
		again := R(f.s.Accept(ctx, f.ws, riley, c.ID)).ok(t)
		if again.LastSeq != 2 {
			t.Fatalf("accept again stored something: %+v", again)
		}

		m := R(f.s.RepMessage(ctx, f.ws, riley, c.ID, " Hello! ", "r1")).ok(t)
		if m.Seq != 3 || m.AuthorName != "Riley Chen" || m.Author != "rep" || m.Text != "Hello!" {
			t.Fatalf("rep message: %+v", m)
		}
		if m2 := R(f.s.RepMessage(ctx, f.ws, riley, c.ID, "Hello!", "r1")).ok(t); m2.ID != m.ID || f.get(t, c.ID).LastSeq != 3 {
			t.Fatalf("retry of r1 stored again: %+v", m2)
		}
		// The same client id of another author is not theirs to replay.
		_, _, err := f.s.VisitorSend(ctx, f.ws, "vis_a", c.ID, "Hello!", "r1")
		wantKind(t, "visitor reusing a rep's client id", err, errs.Conflict, "client_id")

		c = R(f.s.Invite(ctx, f.ws, riley, c.ID, sam)).ok(t)
		if p := c.Participant(sam.ID); p == nil || p.Role != "guest" || !p.Present() {
			t.Fatalf("invited: %+v", c.Participants)
		}
		R(f.s.RepMessage(ctx, f.ws, sam, c.ID, "Sam here", "")).ok(t)
		c = R(f.s.Leave(ctx, f.ws, sam, c.ID)).ok(t)
		if c.IsPresent(sam.ID) || c.Participant(sam.ID).LeftAt.IsZero() {
			t.Fatalf("left: %+v", c.Participants)
		}
		// Riley transfers to Sam: Sam owns it, Riley is gone.
		c = R(f.s.Transfer(ctx, f.ws, riley, c.ID, sam)).ok(t)
		if c.AssigneeID != sam.ID || c.IsPresent(riley.ID) || !c.IsPresent(sam.ID) || c.Participant(sam.ID).Role != "owner" {
			t.Fatalf("transferred: %+v", c)
		}
		_, err = f.s.RepMessage(ctx, f.ws, riley, c.ID, "still here?", "")
		wantKind(t, "former owner writes", err, errs.Forbidden, "accept or join")

		_, vm := R2(f.s.VisitorSend(ctx, f.ws, "vis_a", c.ID, "Thanks", "v2")).ok(t)
		if vm.Author != "visitor" || vm.AuthorName != "" {
			t.Fatalf("visitor send: %+v", vm)
		}

		// Read receipts: clamped to the last message, only forward.
		last := f.get(t, c.ID).LastSeq
		if n := R(f.s.MarkRead(ctx, f.ws, visitor("vis_a"), c.ID, 1000)).ok(t); n != last {
			t.Fatalf("visitor read 1000 = %d, want %d", n, last)
		}
		if n := R(f.s.MarkRead(ctx, f.ws, visitor("vis_a"), c.ID, 2)).ok(t); n != last {
			t.Fatalf("visitor read went back to %d", n)
		}
		if n := R(f.s.MarkRead(ctx, f.ws, sam, c.ID, 3)).ok(t); n != 3 {
			t.Fatalf("sam read = %d", n)
		}
		if n := R(f.s.MarkRead(ctx, f.ws, sam, c.ID, 1)).ok(t); n != 3 {
			t.Fatalf("sam read went back to %d", n)
		}
		got := f.get(t, c.ID)
		if got.VisitorReadSeq != last || got.Participant(sam.ID).ReadSeq != 3 {
			t.Fatalf("stored read: %d %+v", got.VisitorReadSeq, got.Participants)
		}

		f.clk.Advance(time.Minute)
		c = R(f.s.Close(ctx, f.ws, visitor("vis_a"), c.ID)).ok(t)
		if c.Status != "closed" || c.ClosedBy != "visitor" || !c.ClosedAt.Equal(t0.Add(2*time.Minute)) {
			t.Fatalf("closed: %+v", c)
		}
		_, _, err = f.s.VisitorSend(ctx, f.ws, "vis_a", c.ID, "one more", "v3")
		wantKind(t, "send to closed", err, errs.Conflict, "closed")

		// The visitor's next message opens a new conversation; the old one cannot reopen meanwhile.
		c2, _, first, err := f.s.VisitorMessage(ctx, f.ws, "vis_a", "Me again", "")
		if err != nil || !first || c2.ID == c.ID {
			t.Fatalf("new conversation: %v %v", first, err)
		}
		_, err = f.s.Reopen(ctx, f.ws, sam, c.ID)
		wantKind(t, "reopen with another open", err, errs.Conflict, c2.ID)

		c2 = R(f.s.Close(ctx, f.ws, admin, c2.ID)).ok(t)
		if c2.ClosedBy != admin.ID {
			t.Fatalf("closed by admin: %+v", c2)
		}
		c = R(f.s.Reopen(ctx, f.ws, sam, c.ID)).ok(t)
		if c.Status != "open" || !c.ClosedAt.IsZero() || c.ClosedBy != "" || c.AssigneeID != sam.ID {
			t.Fatalf("reopened: %+v", c)
		}
		// An admin reopening a conversation with no owner becomes its owner.
		c2 = R(f.s.Close(ctx, f.ws, admin, c.ID)).ok(t)
		c2b := R(f.s.Reopen(ctx, f.ws, admin, f.get(t, c2.ID).ID)).ok(t)
		if c2b.AssigneeID != sam.ID {
			t.Fatalf("admin reopening an owned conversation took it: %+v", c2b)
		}

		want := []string{
			"visitor: Hi, anyone there?",
			"system: Riley Chen joined the conversation",
			"rep: Hello!",
			"system: Riley Chen invited Sam Lee to the conversation",
			"rep: Sam here",
			"system: Sam Lee left the conversation",
			"system: Riley Chen transferred the conversation to Sam Lee",
			"visitor: Thanks",
			"system: Conversation closed by the visitor",
			"system: Conversation reopened by Sam Lee",
			"system: Conversation closed by Alex Admin",
			"system: Conversation reopened by Alex Admin",
		}
		if got := f.texts(t, c.ID); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("transcript:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

func TestAdminReopenTakesOwnerless(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFx(t, d)
		c := f.open(t, "vis_a")
		R(f.s.Close(ctx, f.ws, visitor("vis_a"), c.ID)).ok(t)
		c = R(f.s.Reopen(ctx, f.ws, admin, c.ID)).ok(t)
		if c.AssigneeID != admin.ID || !c.IsPresent(admin.ID) || c.Participant(admin.ID).Role != "owner" || !c.WaitingSince.IsZero() {
			t.Fatalf("reopened by admin: %+v", c)
		}
	})
}

func TestStart(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFx(t, d)
		c, m, err := f.s.Start(ctx, f.ws, riley, "vis_b", "Can I help you with pricing?", "s1")
		if err != nil || c.StartedBy != "rep" || c.AssigneeID != riley.ID || !c.WaitingSince.IsZero() || !c.IsPresent(riley.ID) ||
			m.Seq != 2 || m.AuthorName != "Riley Chen" {
			t.Fatalf("start: %+v %+v %v", c, m, err)
		}
		// A retry is the same conversation and message.
		c2, m2, err := f.s.Start(ctx, f.ws, riley, "vis_b", "Can I help you with pricing?", "s1")
		if err != nil || c2.ID != c.ID || m2.ID != m.ID {
			t.Fatalf("retry: %v %v", c2, err)
		}
		_, _, err = f.s.Start(ctx, f.ws, sam, "vis_b", "Hello", "s2")
		wantKind(t, "start with one open", err, errs.Conflict, c.ID)
		// The visitor's answer goes to it, which does not wait.
		vc, _, first, err := f.s.VisitorMessage(ctx, f.ws, "vis_b", "Yes please", "")
		if err != nil || first || vc.ID != c.ID || !vc.WaitingSince.IsZero() {
			t.Fatalf("visitor answer: %+v %v %v", vc, first, err)
		}
		want := "system: Riley Chen started the conversation\nrep: Can I help you with pricing?\nvisitor: Yes please"
		if got := strings.Join(f.texts(t, c.ID), "\n"); got != want {
			t.Fatalf("messages:\n%s", got)
		}
		for _, bad := range []struct {
			actor          chat.Actor
			vis, text, cid string
			kind           errs.Kind
			field          string
		}{
			{visitor("vis_c"), "vis_c", "hi", "", errs.Forbidden, ""},
			{riley, "", "hi", "", errs.Invalid, "visitor_id"},
			{riley, "vis_c", " ", "", errs.Invalid, "text"},
			{riley, "vis_c", "hi", "a b", errs.Invalid, "client_id"},
		} {
			_, _, err := f.s.Start(ctx, f.ws, bad.actor, bad.vis, bad.text, bad.cid)
			if !errs.Is(err, bad.kind) || errs.As(err).Field != bad.field {
				t.Errorf("Start(%+v) = %v, want %s on %q", bad, err, bad.kind, bad.field)
			}
		}
		if c, _ := f.s.OpenConversation(ctx, f.ws, "vis_c"); c != nil {
			t.Fatalf("a refused start opened %+v", c)
		}
	})
}

func TestBotMessage(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFx(t, d)
		c := f.open(t, "vis_a")
		m := R(f.s.BotMessage(ctx, f.ws, c.ID, "Beckon Bot", "A rep will be with you shortly.")).ok(t)
		if m.Author != "bot" || m.AuthorName != "Beckon Bot" || m.Seq != 2 {
			t.Fatalf("bot: %+v", m)
		}
		_, err := f.s.BotMessage(ctx, f.ws2, c.ID, "Bot", "x")
		wantKind(t, "bot in another workspace", err, errs.NotFound, "")
		R(f.s.Close(ctx, f.ws, chat.Actor{Kind: "system"}, c.ID)).ok(t)
		_, err = f.s.BotMessage(ctx, f.ws, c.ID, "Bot", "x")
		wantKind(t, "bot to closed", err, errs.Conflict, "closed")
	})
}

// snapshot is everything of a workspace's conversations a refused operation must leave alone.
func (f *fx) snapshot(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, ws := range []string{f.ws, f.ws2} {
		convs := R(f.s.List(context.Background(), ws, chat.Filter{Limit: 200})).ok(t)
		for _, c := range convs {
			msgs := R(f.s.MessagesFor(context.Background(), ws, c.ID, 0, 0)).ok(t)
			j, _ := json.Marshal(struct {
				C *chat.Conversation
				M []*chat.Message
			}{c, msgs})
			b.Write(j)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// TestRefusals: each refused operation returns its kind and changes nothing at all.
func TestRefusals(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFx(t, d)
		// owned: Riley owns it, Sam is a guest. waiting: nobody has it. closed: closed by Riley.
		// other: a conversation of the other workspace.
		owned := f.open(t, "vis_owned")
		R(f.s.Accept(ctx, f.ws, riley, owned.ID)).ok(t)
		R(f.s.Invite(ctx, f.ws, riley, owned.ID, sam)).ok(t)
		waiting := f.open(t, "vis_waiting")
		closed := f.open(t, "vis_closed")
		R(f.s.Accept(ctx, f.ws, riley, closed.ID)).ok(t)
		R(f.s.Close(ctx, f.ws, riley, closed.ID)).ok(t)
		again := f.open(t, "vis_closed") // the closed conversation's visitor has a new open one
		other, _, _, err := f.s.VisitorMessage(ctx, f.ws2, "vis_other", "hello", "")
		if err != nil {
			t.Fatal(err)
		}
		o, w, cl := owned.ID, waiting.ID, closed.ID

		err2 := func(_ any, err error) error { return err }
		err3 := func(_, _ any, err error) error { return err }
		cases := []struct {
			name string
			op   func() error
			kind errs.Kind
			msg  string
		}{
			{"get other workspace", func() error { return err2(f.s.Get(ctx, f.ws, other.ID)) }, errs.NotFound, ""},
			{"get garbage id", func() error { return err2(f.s.Get(ctx, f.ws, "conv_nope")) }, errs.NotFound, ""},
			{"messages other workspace", func() error { return err2(f.s.MessagesFor(ctx, f.ws, other.ID, 0, 0)) }, errs.NotFound, ""},
			{"visitor send not theirs", func() error { return err3(f.s.VisitorSend(ctx, f.ws, "vis_waiting", o, "x", "")) }, errs.NotFound, ""},
			{"visitor send other workspace", func() error { return err3(f.s.VisitorSend(ctx, f.ws, "vis_other", other.ID, "x", "")) }, errs.NotFound, ""},
			{"visitor send closed", func() error { return err3(f.s.VisitorSend(ctx, f.ws, "vis_closed", cl, "x", "")) }, errs.Conflict, "closed"},
			{"visitor send bad text", func() error { return err3(f.s.VisitorSend(ctx, f.ws, "vis_owned", o, "", "")) }, errs.Invalid, "text"},
			{"rep message not participant", func() error { return err2(f.s.RepMessage(ctx, f.ws, kim, o, "x", "")) }, errs.Forbidden, "accept or join"},
			{"rep message admin not participant", func() error { return err2(f.s.RepMessage(ctx, f.ws, admin, o, "x", "")) }, errs.Forbidden, ""},
			{"rep message other workspace", func() error { return err2(f.s.RepMessage(ctx, f.ws2, riley, o, "x", "")) }, errs.NotFound, ""},
			{"rep message closed", func() error { return err2(f.s.RepMessage(ctx, f.ws, riley, cl, "x", "")) }, errs.Conflict, "closed"},
			{"rep message as visitor", func() error { return err2(f.s.RepMessage(ctx, f.ws, visitor("vis_owned"), o, "x", "")) }, errs.Forbidden, ""},
			{"accept taken", func() error { return err2(f.s.Accept(ctx, f.ws, kim, o)) }, errs.Conflict, "already accepted by Riley Chen"},
			{"accept by guest", func() error { return err2(f.s.Accept(ctx, f.ws, sam, o)) }, errs.Conflict, "already accepted by Riley Chen"},
			{"accept closed", func() error { return err2(f.s.Accept(ctx, f.ws, kim, cl)) }, errs.Conflict, "closed"},
			{"accept other workspace", func() error { return err2(f.s.Accept(ctx, f.ws, kim, other.ID)) }, errs.NotFound, ""},
			{"transfer by guest", func() error { return err2(f.s.Transfer(ctx, f.ws, sam, o, kim)) }, errs.Forbidden, "owner or an admin"},
			{"transfer by stranger", func() error { return err2(f.s.Transfer(ctx, f.ws, kim, o, sam)) }, errs.Forbidden, "owner or an admin"},
			{"transfer waiting by rep", func() error { return err2(f.s.Transfer(ctx, f.ws, kim, w, sam)) }, errs.Forbidden, ""},
			{"transfer to self", func() error { return err2(f.s.Transfer(ctx, f.ws, riley, o, riley)) }, errs.Invalid, "yourself"},
			{"transfer to owner", func() error { return err2(f.s.Transfer(ctx, f.ws, admin, o, riley)) }, errs.Conflict, "Riley Chen already owns"},
			{"transfer to visitor", func() error { return err2(f.s.Transfer(ctx, f.ws, riley, o, visitor("vis_x"))) }, errs.Invalid, "to"},
			{"transfer closed", func() error { return err2(f.s.Transfer(ctx, f.ws, riley, cl, sam)) }, errs.Conflict, "closed"},
			{"invite by stranger", func() error { return err2(f.s.Invite(ctx, f.ws, kim, o, kim)) }, errs.Forbidden, ""},
			{"invite present", func() error { return err2(f.s.Invite(ctx, f.ws, riley, o, sam)) }, errs.Conflict, "Sam Lee is already"},
			{"invite closed", func() error { return err2(f.s.Invite(ctx, f.ws, riley, cl, kim)) }, errs.Conflict, "closed"},
			{"leave owner", func() error { return err2(f.s.Leave(ctx, f.ws, riley, o)) }, errs.Conflict, "transfer or close"},
			{"leave stranger", func() error { return err2(f.s.Leave(ctx, f.ws, kim, o)) }, errs.Forbidden, ""},
			{"close by other visitor", func() error { return err2(f.s.Close(ctx, f.ws, visitor("vis_waiting"), o)) }, errs.NotFound, ""},
			{"close by stranger rep", func() error { return err2(f.s.Close(ctx, f.ws, kim, o)) }, errs.Forbidden, ""},
			{"close closed", func() error { return err2(f.s.Close(ctx, f.ws, riley, cl)) }, errs.Conflict, "already closed"},
			{"close other workspace", func() error { return err2(f.s.Close(ctx, f.ws, admin, other.ID)) }, errs.NotFound, ""},
			{"close unknown actor", func() error { return err2(f.s.Close(ctx, f.ws, chat.Actor{Kind: "martian"}, o)) }, errs.Forbidden, ""},
			{"reopen open", func() error { return err2(f.s.Reopen(ctx, f.ws, riley, o)) }, errs.Conflict, "already open"},
			{"reopen by stranger", func() error { return err2(f.s.Reopen(ctx, f.ws, kim, cl)) }, errs.Forbidden, ""},
			{"reopen with another open", func() error { return err2(f.s.Reopen(ctx, f.ws, riley, cl)) }, errs.Conflict, again.ID},
			{"read by stranger rep", func() error { return err2(f.s.MarkRead(ctx, f.ws, kim, o, 1)) }, errs.Forbidden, ""},
			{"read by other visitor", func() error { return err2(f.s.MarkRead(ctx, f.ws, visitor("vis_waiting"), o, 1)) }, errs.NotFound, ""},
			{"read negative", func() error { return err2(f.s.MarkRead(ctx, f.ws, riley, o, -1)) }, errs.Invalid, "seq"},
			{"read other workspace", func() error { return err2(f.s.MarkRead(ctx, f.ws2, riley, o, 1)) }, errs.NotFound, ""},
			{"typing stranger", func() error { return f.s.Typing(ctx, f.ws, kim, o, true) }, errs.Forbidden, ""},
			{"typing other visitor", func() error { return f.s.Typing(ctx, f.ws, visitor("vis_waiting"), o, true) }, errs.NotFound, ""},
			{"typing closed", func() error { return f.s.Typing(ctx, f.ws, riley, cl, true) }, errs.Conflict, "closed"},
			{"start with open", func() error { return err3(f.s.Start(ctx, f.ws, kim, "vis_owned", "hi", "")) }, errs.Conflict, o},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before := f.snapshot(t)
				f.clk.Advance(time.Second)
				err := tc.op()
				wantKind(t, tc.name, err, tc.kind, tc.msg)
				if after := f.snapshot(t); after != before {
					t.Fatalf("a refused %s changed the data:\n%s\n---\n%s", tc.name, before, after)
				}
			})
		}
	})
}

// TestAcceptRace: reps accepting one conversation at once: exactly one wins.
func TestAcceptRace(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFx(t, d)
		for round := range 3 {
			c := f.open(t, fmt.Sprintf("vis_%d", round))
			const n = 8
			var wg sync.WaitGroup
			errc := make(chan error, n)
			start := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, err := f.s.Accept(ctx, f.ws, chat.Actor{Kind: "rep", ID: fmt.Sprintf("usr_%d", i), Name: fmt.Sprintf("Rep %d", i)}, c.ID)
					errc <- err
				}()
			}
			close(start)
			wg.Wait()
			close(errc)
			wins := 0
			for err := range errc {
				switch {
				case err == nil:
					wins++
				case !errs.Is(err, errs.Conflict) || !strings.Contains(err.Error(), "already accepted by Rep "):
					t.Errorf("loser: %v", err)
				}
			}
			got := f.get(t, c.ID)
			if wins != 1 || got.LastSeq != 2 || len(got.Participants) != 1 || got.Participants[0].UserID != got.AssigneeID {
				t.Fatalf("round %d: %d winners, %+v", round, wins, got)
			}
		}
	})
}

func TestMessagesForAndClientIDs(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFx(t, d)
		c := f.open(t, "vis_a")
		R(f.s.Accept(ctx, f.ws, riley, c.ID)).ok(t)
		// Concurrent retries of one rep message store it once.
		var wg sync.WaitGroup
		ids := make(chan string, 10)
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m, err := f.s.RepMessage(ctx, f.ws, riley, c.ID, "once", "same-id")
				if err != nil {
					t.Error(err)
					return
				}
				ids <- m.ID
			}()
		}
		wg.Wait()
		close(ids)
		one := map[string]bool{}
		for id := range ids {
			one[id] = true
		}
		if len(one) != 1 || f.get(t, c.ID).LastSeq != 3 {
			t.Fatalf("%d distinct messages, last seq %d", len(one), f.get(t, c.ID).LastSeq)
		}
		msgs := R(f.s.MessagesFor(ctx, f.ws, c.ID, 1, 1)).ok(t)
		if len(msgs) != 1 || msgs[0].Seq != 2 || msgs[0].Author != "system" {
			t.Fatalf("after 1 limit 1: %+v", msgs)
		}
		// The visitor's own listing shows the rep's name.
		vm := R(f.s.Messages(ctx, f.ws, "vis_a", c.ID, 2, 0)).ok(t)
		if len(vm) != 1 || vm[0].AuthorName != "Riley Chen" {
			t.Fatalf("visitor listing: %+v", vm)
		}
		j, _ := json.Marshal(vm[0])
		if !strings.Contains(string(j), `"name":"Riley Chen"`) || strings.Contains(string(j), "usr_riley") {
			t.Fatalf("message JSON: %s", j)
		}
	})
}

func TestMergeHookClosesWithState(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFx(t, d)
		from := f.open(t, "vis_from")
		f.open(t, "vis_to")
		if err := f.s.MergeHook(ctx, d, f.ws, "vis_from", "vis_to"); err != nil {
			t.Fatal(err)
		}
		got := f.get(t, from.ID)
		if got.Status != "closed" || got.VisitorID != "vis_to" || got.ClosedBy != "system" || got.ClosedAt.IsZero() || !got.WaitingSince.IsZero() {
			t.Fatalf("merged: %+v", got)
		}
	})
}
