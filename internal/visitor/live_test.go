package visitor_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/visitor"
)

// TestLiveSessions: the sessions open now, seen since the given instant, with the latest page
// view written, one per visitor; by id, merged and foreign visitors find nothing.
func TestLiveSessions(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d, visitor.Options{})
		ctx := context.Background()
		f.clk.Set(t0.Add(-2 * time.Hour))
		ret := f.hello(t, "", "https://acme.example/").VisitorID
		f.clk.Set(t0.Add(-5 * time.Minute))
		stale := f.hello(t, "", "https://acme.example/old").VisitorID
		f.clk.Set(t0)
		f.hello(t, ret, "https://acme.example/back")
		f.clk.Advance(time.Second)
		if _, err := f.svc.PageView(ctx, f.ws, ret, visitor.Page{URL: "https://acme.example/pricing", Title: "Pricing"}); err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(time.Second)
		fresh := f.hello(t, "", "https://acme.example/new")
		if _, err := f.svc.Identify(ctx, nil, f.ws, ret, "ada@acme.example"); err != nil {
			t.Fatal(err)
		}
		f.flush(t)

		list, err := f.svc.LiveSessions(ctx, f.ws, t0.Add(-2*time.Minute), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].VisitorID != fresh.VisitorID || list[1].VisitorID != ret {
			t.Fatalf("LiveSessions = %+v, want the fresh visitor then the returning one (not %s)", list, stale)
		}
		r := list[1]
		if r.Sessions != 2 || r.Email != "ada@acme.example" || r.PageURL != "https://acme.example/pricing" || r.PageTitle != "Pricing" ||
			r.PageViews != 2 || !r.StartedAt.Equal(t0) || !r.LastSeenAt.Equal(t0.Add(time.Second)) || !r.PageAt.Equal(t0.Add(time.Second)) ||
			r.Device != "desktop" || r.Country != "DE" {
			t.Errorf("the returning visitor = %+v", r)
		}
		if l, _ := f.svc.LiveSessions(ctx, f.ws, t0.Add(-2*time.Minute), 1); len(l) != 1 || l[0].VisitorID != fresh.VisitorID {
			t.Errorf("limit 1 = %+v", l)
		}
		by, err := f.svc.LiveSessionsOf(ctx, f.ws, []string{ret, stale, fresh.VisitorID, ret})
		if err != nil || len(by) != 3 {
			t.Errorf("LiveSessionsOf = %+v, %v; want three (an old open session counts by id)", by, err)
		}
		// A visitor that merges into the returning one: its session moves there, and its id
		// finds nothing; the returning visitor is listed once, with its latest session.
		f.clk.Advance(time.Second)
		twin := f.hello(t, "", "https://acme.example/twin").VisitorID
		if to, err := f.svc.Identify(ctx, nil, f.ws, twin, "ada@acme.example"); err != nil || to != ret {
			t.Fatalf("Identify(twin) = %s, %v; want a merge into %s", to, err, ret)
		}
		f.flush(t)
		if by, err := f.svc.LiveSessionsOf(ctx, f.ws, []string{twin}); err != nil || len(by) != 0 {
			t.Errorf("LiveSessionsOf(merged) = %+v, %v", by, err)
		}
		list, err = f.svc.LiveSessions(ctx, f.ws, t0.Add(-2*time.Minute), 0)
		if err != nil || len(list) != 2 || list[0].VisitorID != ret || list[0].PageURL != "https://acme.example/twin" {
			t.Errorf("after the merge, LiveSessions = %+v, %v", list, err)
		}
		other := setup(t, d, visitor.Options{})
		if by, err := other.svc.LiveSessionsOf(ctx, other.ws, []string{ret}); err != nil || len(by) != 0 {
			t.Errorf("another workspace's LiveSessionsOf = %+v, %v", by, err)
		}
		if c := f.svc.Country(netip.Addr{}, "Europe/Berlin"); c != "DE" {
			t.Errorf("Country by zone = %q", c)
		}
	})
}
