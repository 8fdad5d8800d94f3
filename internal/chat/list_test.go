package chat_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/chat"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/testkit"
)

func ids(cs []*chat.Conversation) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.VisitorID)
	}
	return strings.Join(out, " ")
}

func TestListAndCounts(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFx(t, d)
		step := func() { f.clk.Advance(time.Minute) }
		f.open(t, "vis_w1")
		step()
		f.open(t, "vis_w2")
		step()
		mine1 := f.open(t, "vis_m1")
		R(f.s.Accept(ctx, f.ws, riley, mine1.ID)).ok(t)
		step()
		guest := f.open(t, "vis_g")
		R(f.s.Accept(ctx, f.ws, sam, guest.ID)).ok(t)
		step()
		R(f.s.Invite(ctx, f.ws, sam, guest.ID, riley)).ok(t)
		step()
		cl1 := f.open(t, "vis_c1")
		R(f.s.Close(ctx, f.ws, visitor("vis_c1"), cl1.ID)).ok(t)
		step()
		cl2 := f.open(t, "vis_c2")
		R(f.s.Accept(ctx, f.ws, riley, cl2.ID)).ok(t)
		R(f.s.Close(ctx, f.ws, riley, cl2.ID)).ok(t)
		step()
		// Activity moves mine1 to the top of its streams; the waiting stream stays oldest first.
		R(f.s.RepMessage(ctx, f.ws, riley, mine1.ID, "latest", "")).ok(t)
		step()
		f.s.VisitorMessage(ctx, f.ws, "vis_w1", "still there?", "")
		f.s.VisitorMessage(ctx, f.ws2, "vis_elsewhere", "other workspace", "")

		for _, tc := range []struct {
			f    chat.Filter
			want string
		}{
			{chat.Filter{Stream: "waiting"}, "vis_w1 vis_w2"},
			{chat.Filter{Stream: "mine", UserID: riley.ID}, "vis_m1 vis_g"},
			{chat.Filter{Stream: "mine", UserID: sam.ID}, "vis_g"},
			{chat.Filter{Stream: "live"}, "vis_m1 vis_g"},
			{chat.Filter{Stream: "closed"}, "vis_c2 vis_c1"},
			{chat.Filter{Stream: "all"}, "vis_w1 vis_m1 vis_c2 vis_c1 vis_g vis_w2"},
			{chat.Filter{}, "vis_w1 vis_m1 vis_c2 vis_c1 vis_g vis_w2"},
			{chat.Filter{Stream: "closed", VisitorID: "vis_c1"}, "vis_c1"},
			{chat.Filter{VisitorID: "vis_m1"}, "vis_m1"},
			{chat.Filter{Stream: "waiting", Limit: 1}, "vis_w1"},
		} {
			got := R(f.s.List(ctx, f.ws, tc.f)).ok(t)
			if ids(got) != tc.want {
				t.Errorf("List(%+v) = %s, want %s", tc.f, ids(got), tc.want)
			}
		}
		all := R(f.s.List(ctx, f.ws, chat.Filter{})).ok(t)
		byVisitor := map[string]*chat.Conversation{}
		for _, c := range all {
			byVisitor[c.VisitorID] = c
			if c.LastMessage == nil || c.LastMessage.Seq != c.LastSeq {
				t.Fatalf("%s: last message %+v, last seq %d", c.VisitorID, c.LastMessage, c.LastSeq)
			}
		}
		if m := byVisitor["vis_m1"].LastMessage; m.Text != "latest" || m.AuthorName != "Riley Chen" {
			t.Fatalf("preview: %+v", m)
		}
		if g := byVisitor["vis_g"]; len(g.Participants) != 2 || g.Participants[0].UserID != sam.ID {
			t.Fatalf("participants: %+v", g.Participants)
		}

		// Paging: pages of 2 cover every conversation once, in order, on every stream.
		for _, stream := range []string{"all", "waiting", "closed", "live"} {
			full := R(f.s.List(ctx, f.ws, chat.Filter{Stream: stream})).ok(t)
			var paged []*chat.Conversation
			before := ""
			for range 10 {
				page := R(f.s.List(ctx, f.ws, chat.Filter{Stream: stream, Limit: 2, Before: before})).ok(t)
				paged = append(paged, page...)
				if len(page) < 2 {
					break
				}
				before = chat.Cursor(stream, page[len(page)-1])
			}
			if ids(paged) != ids(full) {
				t.Errorf("%s paged: %s, want %s", stream, ids(paged), ids(full))
			}
		}

		for _, bad := range []struct {
			f     chat.Filter
			field string
		}{
			{chat.Filter{Stream: "spam"}, "stream"},
			{chat.Filter{Stream: "mine"}, "user_id"},
			{chat.Filter{Before: "not a cursor"}, "before"},
			{chat.Filter{Before: "MTIzLmNvbnZfeA"}, "before"}, // "123.conv_x"
		} {
			_, err := f.s.List(ctx, f.ws, bad.f)
			if !errs.Is(err, errs.Invalid) || errs.As(err).Field != bad.field {
				t.Errorf("List(%+v) = %v, want invalid %s", bad.f, err, bad.field)
			}
		}
		if got := R(f.s.List(ctx, f.ws2, chat.Filter{})).ok(t); ids(got) != "vis_elsewhere" {
			t.Fatalf("other workspace lists %s", ids(got))
		}

		counts := R(f.s.Counts(ctx, f.ws, riley.ID)).ok(t)
		want := map[string]int{"waiting": 2, "mine": 2, "live": 2, "closed": 2, "all": 6}
		for k, v := range want {
			if counts[k] != v {
				t.Errorf("counts = %v, want %v", counts, want)
				break
			}
		}
		if c := R(f.s.Counts(ctx, f.ws, kim.ID)).ok(t); c["mine"] != 0 || c["waiting"] != 2 {
			t.Errorf("kim's counts = %v", c)
		}
		if c := R(f.s.Counts(ctx, f.ws2, riley.ID)).ok(t); c["all"] != 1 || c["mine"] != 0 {
			t.Errorf("other workspace's counts = %v", c)
		}
	})
}

// TestPagingTies: conversations with the same sort key page by id, each once.
func TestPagingTies(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFx(t, d)
		for _, v := range []string{"vis_1", "vis_2", "vis_3", "vis_4", "vis_5"} {
			f.open(t, v) // all at the same instant
		}
		for _, stream := range []string{"all", "waiting"} {
			full := R(f.s.List(ctx, f.ws, chat.Filter{Stream: stream})).ok(t)
			var paged []*chat.Conversation
			before := ""
			for range 10 {
				page := R(f.s.List(ctx, f.ws, chat.Filter{Stream: stream, Limit: 2, Before: before})).ok(t)
				paged = append(paged, page...)
				if len(page) < 2 {
					break
				}
				before = chat.Cursor(stream, page[len(page)-1])
			}
			if len(full) != 5 || ids(paged) != ids(full) {
				t.Errorf("%s paged: %s, want %s", stream, ids(paged), ids(full))
			}
		}
	})
}
