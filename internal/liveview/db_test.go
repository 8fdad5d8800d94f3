package liveview

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/field"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/visitor"
	"github.com/beckonhq/beckon/internal/workspace"
)

const uaDesktop = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// dbFixture is a registry reading a real database through the real visitor and field services.
type dbFixture struct {
	*fixture
	d      *db.DB
	wss    *workspace.Store
	svc    *visitor.Service
	fields *field.Store
	other  string // another workspace
}

func newDBFixture(t *testing.T, d *db.DB) *dbFixture { return newDBFixtureOn(t, d, nil) }

// newDBFixtureOn is newDBFixture on bus b (nil: an in-process bus of its own).
func newDBFixtureOn(t *testing.T, d *db.DB, b bus.Bus) *dbFixture {
	t.Helper()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	wss := workspace.NewStore(d, clk)
	ws, err := wss.Create(ctx, d, workspace.New{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := wss.Create(ctx, d, workspace.New{Name: "Other"})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := visitor.New(d, clk, nil, visitor.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(context.Background()) })
	fields := field.NewStore(d, clk)
	f := newFixture(t, Options{Bus: b, Clock: clk, Sessions: svc, Fields: fields,
		Settings: func(ctx context.Context, wsID string) (workspace.Settings, error) {
			w, err := wss.Get(ctx, wsID)
			if err != nil {
				return workspace.Settings{}, err
			}
			return w.Settings, nil
		}})
	f.ws = ws.ID
	return &dbFixture{fixture: f, d: d, wss: wss, svc: svc, fields: fields, other: other.ID}
}

// hello records a page load in workspace ws at the fake clock's time.
func (f *dbFixture) hello(ws, visitorID, url, title string) *visitor.HelloResult {
	f.t.Helper()
	r, err := f.svc.Hello(context.Background(), visitor.HelloInput{WorkspaceID: ws, VisitorID: visitorID,
		Page: visitor.Page{URL: url, Title: title}, TimeZone: "Europe/Berlin", UserAgent: uaDesktop})
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *dbFixture) setFields(visitorID string, values map[string]string) {
	f.t.Helper()
	if _, err := f.fields.Set(context.Background(), nil, f.ws, visitorID, field.SourceAPI, values); err != nil {
		f.t.Fatal(err)
	}
}

func (f *dbFixture) flush() {
	f.t.Helper()
	if err := f.svc.Flush(context.Background()); err != nil {
		f.t.Fatal(err)
	}
}

func (f *dbFixture) configure(block, targets []string) {
	f.t.Helper()
	if _, err := f.wss.Update(context.Background(), f.ws, workspace.Patch{Settings: &workspace.SettingsPatch{
		LiveViewBlock: &block, TargetAccounts: &targets}}); err != nil {
		f.t.Fatal(err)
	}
}

// TestSnapshotFromDatabase: the first watcher of a workspace gets the visitors on its site from
// the database — recent, open, of this workspace, not on a blocked page — with their last page,
// fields, conversation and target-account flag.
func TestSnapshotFromDatabase(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f := newDBFixture(t, d)
		ctx := context.Background()
		// Ada visited two hours ago, and again now: a returning visitor.
		f.clk.Set(t0.Add(-2 * time.Hour))
		ada := f.hello(f.ws, "", "https://acme.example/", "Home").VisitorID
		// Stan was here three minutes ago and never came back.
		f.clk.Set(t0.Add(-3 * time.Minute))
		stan := f.hello(f.ws, "", "https://acme.example/", "Home").VisitorID
		f.clk.Set(t0)
		f.hello(f.ws, ada, "https://acme.example/", "Home")
		f.clk.Advance(time.Second)
		if _, err := f.svc.PageView(ctx, f.ws, ada, visitor.Page{URL: "https://acme.example/pricing", Title: "Pricing"}); err != nil {
			t.Fatal(err)
		}
		f.setFields(ada, map[string]string{"first_name": "Ada", "last_name": "Lovelace", "company": "Globex",
			"email": "ada@globex.com", "industry": "Software"})
		// Bob is on a blocked page; Olga on the other workspace's site.
		bob := f.hello(f.ws, "", "https://acme.example/admin/users", "Admin").VisitorID
		olga := f.hello(f.other, "", "https://acme.example/", "Home").VisitorID
		f.flush()
		f.clk.Advance(30 * time.Second)
		f.configure([]string{"acme.example/admin"}, []string{"globex.com"})

		convs := map[string]string{ada: "conv_ada"}
		f.reg.opt.InConversation = func(_ context.Context, _ string, ids []string) (map[string]string, error) {
			out := map[string]string{}
			for _, id := range ids {
				if c, ok := convs[id]; ok {
					out[id] = c
				}
			}
			return out, nil
		}
		rec, _ := f.watch()
		frames := rec.take()
		if summary(frames) != "snapshot:"+ada {
			t.Fatalf("snapshot = %q, want Ada (%s) only; Stan %s, Bob %s, Olga %s", summary(frames), ada, stan, bob, olga)
		}
		v := frames[0].Visitors[0]
		want := Visitor{ID: ada, Name: "Ada Lovelace", Email: "ada@globex.com", Company: "Globex",
			PageURL: "https://acme.example/pricing", PageTitle: "Pricing", StartedAt: t0, LastSeenAt: t0.Add(time.Second),
			Country: "DE", Device: "desktop", TargetAccount: true, ConversationID: "conv_ada", Returning: true, PageViews: 2}
		v.SessionID = ""
		v.Fields = nil
		if !reflect.DeepEqual(v, want) {
			t.Errorf("Ada =\n%+v\nwant\n%+v", v, want)
		}
		if got := frames[0].Visitors[0].Fields; got["industry"] != "Software" || got["first_name"] != "Ada" {
			t.Errorf("fields = %v", got)
		}
		// The other workspace's registry view holds Olga only.
		snap, err := f.reg.Snapshot(ctx, f.other)
		if err != nil || len(snap) != 1 || snap[0].ID != olga {
			t.Errorf("the other workspace's snapshot = %+v, %v; want Olga only", snap, err)
		}
	})
}

// TestHydrate: a returning visitor's new session, met by the registry that handled it, is read
// from the database and published as a profile; a change of fields is read again.
func TestHydrate(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f := newDBFixture(t, d)
		ctx := context.Background()
		f.clk.Set(t0.Add(-2 * time.Hour))
		grace := f.hello(f.ws, "", "https://acme.example/", "Home").VisitorID
		f.setFields(grace, map[string]string{"first_name": "Grace", "email": "grace@initech.example"})
		f.flush()
		f.clk.Set(t0)
		f.configure(nil, []string{"initech.example"})
		rec, _ := f.watch()
		if got := summary(rec.take()); got != "snapshot:" {
			t.Fatalf("snapshot = %q, want none (Grace's session is two hours old)", got)
		}

		res := f.hello(f.ws, grace, "https://acme.example/docs", "Docs")
		if !res.NewSession {
			t.Fatal("the second visit did not start a session")
		}
		f.reg.Page(ctx, f.ws, PageEvent{VisitorID: res.VisitorID, SessionID: res.SessionID, URL: "https://acme.example/docs",
			Title: "Docs", NewSession: true, Country: "DE", Device: "desktop"})
		f.sent++
		f.sync()
		f.reg.hyd.wait()
		f.sent++ // the profile it published
		f.sync()
		frames := f.tick(rec)
		if summary(frames) != "upsert:"+grace {
			t.Fatalf("frames = %q", summary(frames))
		}
		v := frames[0].Visitors[0]
		if v.Name != "Grace" || v.Email != "grace@initech.example" || !v.TargetAccount || !v.Returning || v.PageViews != 1 ||
			v.PageURL != "https://acme.example/docs" || !v.StartedAt.Equal(t0) || v.SessionID != res.SessionID {
			t.Errorf("Grace = %+v", v)
		}

		// She tells her job title through a form: Changed reads her fields again.
		f.clk.Advance(time.Second)
		f.setFields(grace, map[string]string{"title": "Admiral"})
		f.reg.Changed(ctx, f.ws, grace, grace)
		f.sent++
		f.sync()
		f.reg.hyd.wait()
		f.sent++
		f.sync()
		frames = f.tick(rec)
		if summary(frames) != "upsert:"+grace || frames[0].Visitors[0].Title != "Admiral" {
			t.Fatalf("after Changed: %q %+v", summary(frames), frames)
		}

		// A heartbeat of a visitor this registry never met (it started after their page loaded)
		// brings them in, read from the database.
		f.clk.Advance(time.Second)
		newcomer := f.hello(f.ws, "", "https://acme.example/blog", "Blog").VisitorID
		f.flush()
		f.reg.Seen(ctx, f.ws, newcomer)
		f.sent++
		f.sync()
		f.reg.hyd.wait()
		f.sent++
		f.sync()
		frames = f.tick(rec)
		if summary(frames) != "upsert:"+newcomer || frames[0].Visitors[0].PageURL != "https://acme.example/blog" {
			t.Fatalf("after the newcomer's heartbeat: %q", summary(frames))
		}
	})
}

// TestLiveSessionsScoped: the queries name the workspace: another workspace's visitor ids find
// nothing.
func TestLiveSessionsScoped(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f := newDBFixture(t, d)
		ctx := context.Background()
		mine := f.hello(f.ws, "", "https://acme.example/", "Home").VisitorID
		theirs := f.hello(f.other, "", "https://other.example/", "Home").VisitorID
		f.setFields(mine, map[string]string{"company": "Acme"})
		if _, err := f.fields.Set(ctx, nil, f.other, theirs, field.SourceAPI, map[string]string{"company": "Other"}); err != nil {
			t.Fatal(err)
		}
		list, err := f.svc.LiveSessionsOf(ctx, f.ws, []string{mine, theirs, "vis_nonsense", "not an id"})
		if err != nil || len(list) != 1 || list[0].VisitorID != mine {
			t.Errorf("LiveSessionsOf = %+v, %v; want %s only", list, err, mine)
		}
		vals, err := f.fields.EffectiveValues(ctx, f.ws, []string{mine, theirs})
		if err != nil || len(vals) != 1 || vals[mine]["company"] != "Acme" {
			t.Errorf("EffectiveValues = %v, %v", vals, err)
		}
		all, err := f.svc.LiveSessions(ctx, f.ws, t0.Add(-time.Minute), 0)
		if err != nil || len(all) != 1 || all[0].VisitorID != mine {
			t.Errorf("LiveSessions = %+v, %v", all, err)
		}
	})
}
