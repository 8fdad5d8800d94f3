package visitor_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/visitor"
	"github.com/beckonhq/beckon/internal/workspace"
)

// TestHistory pages through a visitor's sessions, newest first, with their page views, and
// checks the cursor, the limits, merges, the proven email and workspace scoping.
func TestHistory(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d, visitor.Options{})
		// Three sessions, ten minutes apart (the 5-minute rule ends each): session i has i+1
		// page views.
		first := f.hello(t, "", "https://acme.example/s0/p0")
		vid := first.VisitorID
		var sessions []string
		for i := range 3 {
			if i > 0 {
				f.clk.Advance(10 * time.Minute)
				sessions = append(sessions, f.hello(t, vid, fmt.Sprintf("https://acme.example/s%d/p0", i)).SessionID)
			} else {
				sessions = append(sessions, first.SessionID)
			}
			for p := 1; p <= i; p++ {
				f.clk.Advance(time.Second)
				if _, err := f.svc.PageView(ctx, f.ws, vid, visitor.Page{URL: fmt.Sprintf("https://acme.example/s%d/p%d", i, p), Title: "P"}); err != nil {
					t.Fatal(err)
				}
			}
		}
		f.flush(t)

		h, err := f.svc.History(ctx, f.ws, vid, visitor.HistoryQuery{Sessions: 2, Views: 2})
		if err != nil {
			t.Fatal(err)
		}
		if h.Visitor.ID != vid || h.EmailVerified || len(h.Sessions) != 2 || h.Next == "" {
			t.Fatalf("first page: visitor %s verified %v, %d sessions, next %q", h.Visitor.ID, h.EmailVerified, len(h.Sessions), h.Next)
		}
		if h.Sessions[0].ID != sessions[2] || h.Sessions[1].ID != sessions[1] {
			t.Errorf("first page sessions %s, %s; want %s, %s (newest first)", h.Sessions[0].ID, h.Sessions[1].ID, sessions[2], sessions[1])
		}
		newest := h.Sessions[0]
		if len(newest.Views) != 2 || newest.MoreViews != 1 || newest.Views[0].URL != "https://acme.example/s2/p2" ||
			newest.Views[1].URL != "https://acme.example/s2/p1" {
			t.Errorf("newest session views %+v, more %d; want p2, p1 and 1 more", newest.Views, newest.MoreViews)
		}
		if newest.LandingURL != "https://acme.example/s2/p0" || newest.Country == "" || newest.Device != "desktop" {
			t.Errorf("newest session attributes: %+v", newest.Session)
		}
		h2, err := f.svc.History(ctx, f.ws, vid, visitor.HistoryQuery{Sessions: 2, Views: 2, Before: h.Next})
		if err != nil {
			t.Fatal(err)
		}
		if len(h2.Sessions) != 1 || h2.Sessions[0].ID != sessions[0] || h2.Next != "" {
			t.Fatalf("second page: %d sessions, next %q", len(h2.Sessions), h2.Next)
		}
		if v := h2.Sessions[0].Views; len(v) != 1 || v[0].URL != "https://acme.example/s0/p0" || h2.Sessions[0].MoreViews != 0 {
			t.Errorf("oldest session views %+v", v)
		}
		// Defaults: everything on one page.
		all, err := f.svc.History(ctx, f.ws, vid, visitor.HistoryQuery{})
		if err != nil || len(all.Sessions) != 3 || all.Next != "" || len(all.Sessions[0].Views) != 3 {
			t.Fatalf("defaults: %v, %+v", err, all)
		}

		// Bad cursors, unknown visitors, another workspace.
		for _, bad := range []string{"x", "12.vsn_nope", ".vsn_x", "-1." + sessions[0], "99999999999999999999." + sessions[0], "1." + vid} {
			if _, err := f.svc.History(ctx, f.ws, vid, visitor.HistoryQuery{Before: bad}); !errs.Is(err, errs.Invalid) || errs.As(err).Field != "before" {
				t.Errorf("cursor %q: %v, want invalid before", bad, err)
			}
		}
		other, err := workspace.NewStore(d, f.clk).Create(ctx, d, workspace.New{Name: "Globex"})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ ws, id string }{{other.ID, vid}, {f.ws, "vis_nope"}, {f.ws, "nope"}, {f.ws, sessions[0]}} {
			if _, err := f.svc.History(ctx, c.ws, c.id, visitor.HistoryQuery{}); !errs.Is(err, errs.NotFound) {
				t.Errorf("History(%s, %s): %v, want not found", c.ws, c.id, err)
			}
		}

		// A proven email; a merge: the merged id gives the survivor's history with both visitors'
		// sessions.
		f.clk.Advance(10 * time.Minute)
		later := f.hello(t, "", "https://acme.example/other")
		f.flush(t)
		if _, err := f.svc.Identify(ctx, nil, f.ws, vid, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		survivor, err := f.svc.Identify(ctx, nil, f.ws, later.VisitorID, "ada@example.com")
		if err != nil || survivor != vid {
			t.Fatalf("merge: %s, %v; want %s", survivor, err, vid)
		}
		m, err := f.svc.History(ctx, f.ws, later.VisitorID, visitor.HistoryQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if m.Visitor.ID != vid || !m.EmailVerified || len(m.Sessions) != 4 || m.Sessions[0].ID != later.SessionID {
			t.Errorf("after merge: visitor %s verified %v, %d sessions", m.Visitor.ID, m.EmailVerified, len(m.Sessions))
		}
	})
}

// TestSummaries reads visitors' latest sessions in bulk: the latest page, whether the session is
// open, the proven email; merged, unknown and other workspaces' ids are left out.
func TestSummaries(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d, visitor.Options{})
		a := f.hello(t, "", "https://acme.example/a")
		f.clk.Advance(time.Second)
		if _, err := f.svc.PageView(ctx, f.ws, a.VisitorID, visitor.Page{URL: "https://acme.example/pricing", Title: "Pricing"}); err != nil {
			t.Fatal(err)
		}
		b := f.hello(t, "", "https://acme.example/b")
		f.flush(t)
		if _, err := f.svc.Identify(ctx, nil, f.ws, a.VisitorID, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		other, err := workspace.NewStore(d, f.clk).Create(ctx, d, workspace.New{Name: "Globex"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.svc.Summaries(ctx, f.ws, []string{a.VisitorID, b.VisitorID, "vis_nope", "garbage"})
		if err != nil {
			t.Fatal(err)
		}
		sa, sb := got[a.VisitorID], got[b.VisitorID]
		if len(got) != 2 || sa.Email != "ada@example.com" || !sa.EmailVerified || sa.PageURL != "https://acme.example/pricing" ||
			sa.PageTitle != "Pricing" || !sa.SessionOpen || sa.Country != "DE" || sa.SessionID != a.SessionID {
			t.Errorf("summaries %+v", got)
		}
		if sb.EmailVerified || sb.PageURL != "https://acme.example/b" || !sb.SessionOpen {
			t.Errorf("b: %+v", sb)
		}
		// Five minutes of silence end the sessions.
		f.clk.Advance(6 * time.Minute)
		got, _ = f.svc.Summaries(ctx, f.ws, []string{a.VisitorID})
		if got[a.VisitorID].SessionOpen {
			t.Errorf("after 6 minutes: %+v", got[a.VisitorID])
		}
		if got, err := f.svc.Summaries(ctx, other.ID, []string{a.VisitorID, b.VisitorID}); err != nil || len(got) != 0 {
			t.Errorf("another workspace: %v, %+v", err, got)
		}
		// b merges into a: b's id is left out.
		if _, err := f.svc.Identify(ctx, nil, f.ws, b.VisitorID, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.svc.Summaries(ctx, f.ws, []string{b.VisitorID}); len(got) != 0 {
			t.Errorf("merged: %+v", got)
		}
		if got, err := f.svc.Summaries(ctx, f.ws, nil); err != nil || len(got) != 0 {
			t.Errorf("none: %v %+v", err, got)
		}
	})
}
