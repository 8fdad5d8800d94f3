package visitor_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/visitor"
)

func TestIdentifyAndMerge(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d, visitor.Options{})
		type call struct{ from, to string }
		var hooked []call
		f.svc.OnMerge(func(ctx context.Context, tx db.Queryer, wsID, from, to string) error {
			if wsID != f.ws {
				t.Errorf("hook for workspace %s", wsID)
			}
			// The hook runs inside the merge: it sees the moved sessions.
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM visitor_sessions WHERE visitor_id = $1`, from).Scan(&n); err != nil || n != 0 {
				t.Errorf("hook sees %d sessions left on %s (%v)", n, from, err)
			}
			hooked = append(hooked, call{from, to})
			return nil
		})
		older := f.hello(t, "", "https://acme.example/a")
		f.svc.SetConsent(ctx, f.ws, older.VisitorID, true)
		f.clk.Advance(time.Hour)
		newer := f.hello(t, "", "https://acme.example/b")
		f.svc.SetConsent(ctx, f.ws, newer.VisitorID, false)

		// Identify sets the email, lower case.
		got, err := f.svc.Identify(ctx, nil, f.ws, newer.VisitorID, " Ada@Example.COM ")
		if err != nil || got != newer.VisitorID {
			t.Fatalf("identify: %q, %v", got, err)
		}
		if v, _ := f.svc.Get(ctx, f.ws, newer.VisitorID); v.Email != "ada@example.com" {
			t.Fatalf("email %q", v.Email)
		}
		if got, err := f.svc.Identify(ctx, nil, f.ws, newer.VisitorID, "ada@example.com"); err != nil || got != newer.VisitorID || len(hooked) != 0 {
			t.Fatalf("identify again: %q, %v, hooks %v", got, err, hooked)
		}
		// A page view of the newer visitor waits in the queue while the merge happens.
		f.clk.Advance(time.Minute)
		if _, err := f.svc.PageView(ctx, f.ws, newer.VisitorID, visitor.Page{URL: "https://acme.example/queued"}); err != nil {
			t.Fatal(err)
		}

		// The older visitor gives the same email: one person. The older record survives, even
		// when the newer one asks.
		f.clk.Advance(time.Minute)
		var survivor string
		err = d.InTx(ctx, func(tx *sql.Tx) error {
			survivor, err = f.svc.Identify(ctx, tx, f.ws, older.VisitorID, "ADA@example.com")
			return err
		})
		if err != nil || survivor != older.VisitorID {
			t.Fatalf("merge: %q, %v", survivor, err)
		}
		if len(hooked) != 1 || hooked[0] != (call{newer.VisitorID, older.VisitorID}) {
			t.Fatalf("hooks %v", hooked)
		}
		f.flush(t)
		v, err := f.svc.Get(ctx, f.ws, newer.VisitorID) // a merged id finds the survivor
		if err != nil || v.ID != older.VisitorID || v.Email != "ada@example.com" || v.Sessions != 2 || v.MergedInto != "" ||
			!v.FirstSeenAt.Equal(t0) || !v.LastSeenAt.Equal(t0.Add(time.Hour+time.Minute)) || v.Consent != "denied" {
			t.Fatalf("survivor %+v, %v", v, err)
		}
		var mergedInto string
		d.QueryRowContext(ctx, `SELECT merged_into FROM visitors WHERE id = $1`, newer.VisitorID).Scan(&mergedInto)
		if mergedInto != older.VisitorID {
			t.Fatalf("merged_into %q", mergedInto)
		}
		sessions, err := f.svc.Sessions(ctx, f.ws, newer.VisitorID, 10)
		if err != nil || len(sessions) != 2 || sessions[0].ID != newer.SessionID || sessions[0].VisitorID != older.VisitorID ||
			sessions[0].PageViews != 2 {
			t.Fatalf("sessions %+v, %v", sessions, err)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM page_views WHERE visitor_id = $1`, older.VisitorID); n != 3 {
			t.Fatalf("%d page views on the survivor, want 3 (the queued one included)", n)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM page_views WHERE visitor_id = $1`, newer.VisitorID); n != 0 {
			t.Fatalf("%d page views left on the merged visitor", n)
		}
		// The merged visitor's browser keeps working until it gets a token for the survivor.
		f.clk.Advance(time.Minute)
		if r, err := f.svc.PageView(ctx, f.ws, newer.VisitorID, visitor.Page{URL: "https://acme.example/after"}); err != nil ||
			r.SessionID != newer.SessionID {
			t.Fatalf("page view by the merged id: %+v, %v", r, err)
		}
		h := f.hello(t, newer.VisitorID, "https://acme.example/reload")
		if h.NewVisitor {
			t.Fatalf("hello by the merged id made a visitor: %+v", h)
		}
		f.flush(t)
		if n := f.count(t, `SELECT COUNT(*) FROM page_views WHERE visitor_id = $1`, newer.VisitorID); n != 0 {
			t.Fatalf("%d page views written to the merged visitor", n)
		}
	})
}

// TestMergeChains merges three records of one person in two steps: the chain is flattened and a
// lookup by any id finds the one survivor.
func TestMergeChains(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d, visitor.Options{})
		v1 := f.hello(t, "", "https://acme.example/1").VisitorID
		f.clk.Advance(time.Hour)
		v2 := f.hello(t, "", "https://acme.example/2").VisitorID
		f.clk.Advance(time.Hour)
		v3 := f.hello(t, "", "https://acme.example/3").VisitorID
		mustIdentify := func(vid, email, want string) {
			t.Helper()
			got, err := f.svc.Identify(ctx, nil, f.ws, vid, email)
			if err != nil || got != want {
				t.Fatalf("Identify(%s, %s) = %s, %v; want %s", vid, email, got, err, want)
			}
		}
		mustIdentify(v3, "a@x.example", v3)
		mustIdentify(v2, "a@x.example", v2) // v3 → v2
		mustIdentify(v1, "b@x.example", v1)
		mustIdentify(v3, "b@x.example", v1) // v3 is v2; v2 → v1, and v3 now points at v1
		for _, vid := range []string{v1, v2, v3} {
			v, err := f.svc.Get(ctx, f.ws, vid)
			if err != nil || v.ID != v1 || v.Sessions != 3 || v.Email != "b@x.example" {
				t.Fatalf("Get(%s) = %+v, %v", vid, v, err)
			}
		}
		if n := f.count(t, `SELECT COUNT(*) FROM visitors WHERE merged_into = $1`, v1); n != 2 {
			t.Fatalf("%d visitors point at the survivor, want 2", n)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM visitor_sessions WHERE visitor_id = $1`, v1); n != 3 {
			t.Fatalf("%d sessions on the survivor", n)
		}
	})
}

func TestIdentifyErrors(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d, visitor.Options{})
		a := f.hello(t, "", "https://acme.example/").VisitorID
		b := f.hello(t, "", "https://acme.example/").VisitorID
		if _, err := f.svc.Identify(ctx, nil, f.ws, a, "not an email"); !errs.Is(err, errs.Invalid) {
			t.Fatalf("bad email: %v", err)
		}
		if _, err := f.svc.Identify(ctx, nil, f.ws, "vis_nope", "a@b.co"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("unknown visitor: %v", err)
		}
		// A failing hook aborts the merge: nothing changes.
		f.svc.Identify(ctx, nil, f.ws, a, "same@b.co")
		boom := errors.New("boom")
		f.svc.OnMerge(func(context.Context, db.Queryer, string, string, string) error { return boom })
		if _, err := f.svc.Identify(ctx, nil, f.ws, b, "same@b.co"); !errors.Is(err, boom) {
			t.Fatalf("hook error: %v", err)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM visitors WHERE merged_into <> ''`); n != 0 {
			t.Fatalf("%d visitors merged despite the hook's error", n)
		}
		if vb, _ := f.svc.Get(ctx, f.ws, b); vb.ID != b || vb.Email != "" {
			t.Fatalf("visitor b changed: %+v", vb)
		}
	})
}

// TestConcurrentIdentifies identifies two visitors with one email at the same moment, many times:
// each time exactly one record survives and the other points at it.
func TestConcurrentIdentifies(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d, visitor.Options{})
		for round := range 10 {
			a := f.hello(t, "", "https://acme.example/").VisitorID
			f.clk.Advance(time.Second)
			b := f.hello(t, "", "https://acme.example/").VisitorID
			email := fmt.Sprintf("person%d@acme.example", round)
			var wg sync.WaitGroup
			survivors := make([]string, 2)
			failures := make([]error, 2)
			start := make(chan struct{})
			for i, vid := range []string{a, b} {
				wg.Go(func() {
					<-start
					failures[i] = d.InTx(ctx, func(tx *sql.Tx) error {
						var err error
						survivors[i], err = f.svc.Identify(ctx, tx, f.ws, vid, email)
						return err
					})
				})
			}
			close(start)
			wg.Wait()
			for _, err := range failures {
				if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
			}
			if n := f.count(t, `SELECT COUNT(*) FROM visitors WHERE email = $1 AND merged_into = ''`, email); n != 1 {
				t.Fatalf("round %d: %d live visitors with the email", round, n)
			}
			// The first to identify keeps its id; the second gets the survivor's, the older one.
			if survivors[0] != a && survivors[1] != a {
				t.Fatalf("round %d: survivors %v, want %s", round, survivors, a)
			}
			var merged string
			d.QueryRowContext(ctx, `SELECT merged_into FROM visitors WHERE id = $1`, b).Scan(&merged)
			if merged != a {
				t.Fatalf("round %d: %s merged into %q, want %s", round, b, merged, a)
			}
		}
	})
}

// TestMergesDuringWrites merges visitors while their page views are being queued and written:
// afterwards no page view or session belongs to a merged visitor, and none was lost.
func TestMergesDuringWrites(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d, visitor.Options{BatchSize: 7})
		const people, views = 6, 20
		var ids []string
		for range 2 * people {
			ids = append(ids, f.hello(t, "", "https://acme.example/").VisitorID)
		}
		var wg sync.WaitGroup
		fail := make(chan error, 4*people)
		for i, vid := range ids {
			wg.Go(func() {
				for j := range views {
					if _, err := f.svc.PageView(ctx, f.ws, vid, visitor.Page{URL: fmt.Sprintf("https://acme.example/%d/%d", i, j)}); err != nil {
						fail <- err
						return
					}
				}
			})
		}
		wg.Go(func() {
			for range 2 * views {
				if err := f.svc.Flush(ctx); err != nil {
					fail <- err
					return
				}
			}
		})
		for p := range people {
			for _, vid := range []string{ids[2*p], ids[2*p+1]} {
				wg.Go(func() {
					if _, err := f.svc.Identify(ctx, nil, f.ws, vid, fmt.Sprintf("p%d@acme.example", p)); err != nil {
						fail <- err
					}
				})
			}
		}
		wg.Wait()
		close(fail)
		for err := range fail {
			t.Fatal(err)
		}
		f.flush(t)
		if n := f.count(t, `SELECT COUNT(*) FROM visitors WHERE merged_into = ''`); n != people {
			t.Fatalf("%d live visitors, want %d", n, people)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM page_views p JOIN visitors v ON v.id = p.visitor_id WHERE v.merged_into <> ''`); n != 0 {
			t.Fatalf("%d page views of merged visitors", n)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM visitor_sessions s JOIN visitors v ON v.id = s.visitor_id WHERE v.merged_into <> ''`); n != 0 {
			t.Fatalf("%d sessions of merged visitors", n)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM page_views`); n != 2*people*(views+1) {
			t.Fatalf("%d page views, want %d", n, 2*people*(views+1))
		}
		if n := f.count(t, `SELECT SUM(page_views) FROM visitor_sessions`); n != 2*people*(views+1) {
			t.Fatalf("sessions count %d page views, want %d", n, 2*people*(views+1))
		}
	})
}
