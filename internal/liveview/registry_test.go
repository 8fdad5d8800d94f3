package liveview

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/workspace"
)

func TestNewNeedsBusAndSettings(t *testing.T) {
	b := bus.NewInProcess()
	defer b.Close()
	for _, o := range []Options{{Settings: newSettings().get}, {Bus: b}} {
		if _, err := New(o); !errs.Is(err, errs.Invalid) {
			t.Errorf("New(%+v) = %v, want errs.Invalid", o, err)
		}
	}
}

func TestEnterUpsertAndFields(t *testing.T) {
	f := newFixture(t, Options{})
	rec, _ := f.watch()
	if got := summary(rec.take()); got != "snapshot:" {
		t.Fatalf("first frames = %q, want an empty snapshot", got)
	}
	f.page("vis_a", "vsn_1", "https://acme.example/pricing?x=1", newVisitor, func(e *PageEvent) { e.ConversationID = "conv_1" })
	frames := f.tick(rec)
	if summary(frames) != "upsert:vis_a" {
		t.Fatalf("frames = %q, want upsert:vis_a", summary(frames))
	}
	want := Visitor{ID: "vis_a", SessionID: "vsn_1", PageURL: "https://acme.example/pricing?x=1",
		PageTitle: "Title of https://acme.example/pricing?x=1", StartedAt: t0, LastSeenAt: t0, Country: "DE",
		Device: "desktop", ConversationID: "conv_1", PageViews: 1, Fields: map[string]string{}}
	if got := frames[0].Visitors[0]; !reflect.DeepEqual(got, want) {
		t.Errorf("row =\n%+v\nwant\n%+v", got, want)
	}
	// The frame's JSON is the documented shape.
	m := encode(t, frames[0])
	row := m["visitors"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "session_id", "name", "email", "company", "title", "page_url", "page_title",
		"started_at", "last_seen_at", "country", "device", "target_account", "conversation_id", "returning",
		"page_views", "fields"} {
		if _, ok := row[k]; !ok {
			t.Errorf("row JSON lacks %q: %v", k, row)
		}
	}
	if m["t"] != "live" || m["op"] != "upsert" {
		t.Errorf("frame JSON = %v", m)
	}
	if got := f.tick(rec); len(got) != 0 {
		t.Errorf("a tick without changes sent %q", summary(got))
	}
}

func TestHeartbeatSendsNothingPageChangeSends(t *testing.T) {
	f := newFixture(t, Options{})
	rec, _ := f.watch()
	rec.take()
	f.page("vis_a", "vsn_1", "https://acme.example/", newVisitor)
	f.tick(rec)
	for range 3 {
		f.clk.Advance(60 * time.Second)
		f.seen("vis_a")
		if got := f.tick(rec); len(got) != 0 {
			t.Fatalf("a heartbeat sent %q", summary(got))
		}
	}
	f.clk.Advance(time.Second)
	f.page("vis_a", "vsn_1", "https://acme.example/pricing")
	frames := f.tick(rec)
	if summary(frames) != "upsert:vis_a" {
		t.Fatalf("page change: frames = %q", summary(frames))
	}
	v := frames[0].Visitors[0]
	if v.PageURL != "https://acme.example/pricing" || v.PageViews != 2 || !v.StartedAt.Equal(t0) ||
		!v.LastSeenAt.Equal(t0.Add(181*time.Second)) {
		t.Errorf("after the page change: %+v", v)
	}
	// Three minutes of heartbeats kept the visitor: 2 minutes without one removes them.
	f.clk.Advance(DefaultTimeout - time.Second)
	if got := f.tick(rec); len(got) != 0 {
		t.Fatalf("before the timeout: %q", summary(got))
	}
	f.clk.Advance(time.Second)
	f.reg.tick() // the sweep runs every SweepInterval
	f.clk.Advance(DefaultSweepInterval)
	if got := summary(f.tick(rec)); got != "remove:vis_a" {
		t.Fatalf("after the timeout: %q, want remove:vis_a", got)
	}
}

func TestLeave(t *testing.T) {
	f := newFixture(t, Options{})
	rec, _ := f.watch()
	rec.take()
	f.page("vis_a", "vsn_1", "https://acme.example/", newVisitor)
	f.page("vis_b", "vsn_2", "https://acme.example/", newVisitor)
	f.tick(rec)

	// a leaves for good; b clicks to another page, whose hello follows the leave.
	f.clk.Advance(time.Second)
	f.leave("vis_a")
	f.leave("vis_b")
	if got := f.tick(rec); len(got) != 0 {
		t.Fatalf("right after the leave: %q (the grace keeps the row)", summary(got))
	}
	f.clk.Advance(800 * time.Millisecond)
	f.page("vis_b", "vsn_2", "https://acme.example/next")
	if got := summary(f.tick(rec)); got != "upsert:vis_b" {
		t.Fatalf("b's next page: %q", got)
	}
	f.clk.Advance(DefaultLeaveGrace)
	frames := f.tick(rec)
	if summary(frames) != "remove:vis_a" {
		t.Fatalf("after the grace: %q, want remove:vis_a", summary(frames))
	}
	if got := encode(t, frames[0]); fmt.Sprint(got["visitors"]) != "[map[id:vis_a]]" {
		t.Errorf("remove frame JSON visitors = %v, want ids only", got["visitors"])
	}
	snap, err := f.reg.Snapshot(context.Background(), f.ws)
	if err != nil || len(snap) != 1 || snap[0].ID != "vis_b" {
		t.Errorf("Snapshot = %v, %v; want vis_b only", snap, err)
	}
}

func TestBlockList(t *testing.T) {
	f := newFixture(t, Options{})
	f.settings.set(func(s *workspace.Settings) { s.LiveViewBlock = []string{"acme.example/admin", "*.internal.example"} })
	f.page("vis_hidden", "vsn_1", "https://acme.example/admin/users", newVisitor)
	f.page("vis_sub", "vsn_2", "https://ops.internal.example/", newVisitor)
	f.page("vis_a", "vsn_3", "https://acme.example/administrators", newVisitor) // not under /admin
	rec, _ := f.watch()
	if got := summary(rec.take()); got != "snapshot:vis_a" {
		t.Fatalf("snapshot = %q, want vis_a only", got)
	}
	// Moving onto a blocked page removes; moving off it shows again.
	f.page("vis_a", "vsn_3", "https://acme.example/admin")
	f.page("vis_hidden", "vsn_1", "https://acme.example/pricing")
	if got := summary(f.tick(rec)); got != "upsert:vis_hidden remove:vis_a" {
		t.Fatalf("frames = %q", got)
	}
	// A blocked visitor's changes send nothing.
	f.page("vis_a", "vsn_3", "https://acme.example/admin/x")
	f.page("vis_sub", "vsn_2", "https://ops.internal.example/y")
	if got := f.tick(rec); len(got) != 0 {
		t.Fatalf("blocked visitors sent %q", summary(got))
	}
	if snap, _ := f.reg.Snapshot(context.Background(), f.ws); len(snap) != 1 || snap[0].ID != "vis_hidden" {
		t.Errorf("Snapshot = %v", snap)
	}
	// An admin blocks /pricing: within SettingsTTL the visitor there disappears.
	f.settings.set(func(s *workspace.Settings) { s.LiveViewBlock = append(s.LiveViewBlock, "acme.example/pricing") })
	if got := f.tick(rec); len(got) != 0 {
		t.Fatalf("before the settings are read again: %q", summary(got))
	}
	f.clk.Advance(DefaultSettingsTTL)
	if got := summary(f.tick(rec)); got != "remove:vis_hidden" {
		t.Fatalf("after the block list changed: %q", got)
	}
	// And unblocking everything shows everyone.
	f.settings.set(func(s *workspace.Settings) { s.LiveViewBlock = nil })
	f.clk.Advance(DefaultSettingsTTL)
	if got := summary(f.tick(rec)); got != "upsert:vis_a,vis_hidden,vis_sub" {
		t.Fatalf("after unblocking: %q", got)
	}
}

func TestTargetAccount(t *testing.T) {
	for _, c := range []struct {
		name   string
		fields map[string]string
		email  string
		want   bool
	}{
		{"email field at a target", map[string]string{"email": "ada@globex.com"}, "", true},
		{"email field at a subdomain of a target", map[string]string{"email": "ada@eu.globex.com"}, "", true},
		{"record email at a target", nil, "ada@globex.com", true},
		{"website field", map[string]string{"website": "https://www.initech.example/about"}, "", true},
		{"company field holding a domain", map[string]string{"company": "initech.example"}, "", true},
		{"company name only", map[string]string{"company": "Globex"}, "", false},
		{"other domain", map[string]string{"email": "ada@globex.com.evil.example"}, "", false},
		{"nothing known", nil, "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			f.settings.set(func(s *workspace.Settings) { s.TargetAccounts = []string{"globex.com", "initech.example"} })
			rec, _ := f.watch()
			rec.take()
			f.page("vis_a", "vsn_1", "https://acme.example/", func(e *PageEvent) { e.NewSession = true })
			f.profile("vis_a", "vsn_1", profile{Started: micro(t0), Seen: micro(t0), Sessions: 2, Email: c.email, Fields: c.fields}, nil)
			frames := f.tick(rec)
			if summary(frames) != "upsert:vis_a" {
				t.Fatalf("frames = %q", summary(frames))
			}
			v := frames[0].Visitors[0]
			if v.TargetAccount != c.want {
				t.Errorf("target_account = %v, want %v (%+v)", v.TargetAccount, c.want, v)
			}
			if !v.Returning {
				t.Error("a visitor with two sessions is not returning")
			}
		})
	}
}

func TestProfileFillsTheRow(t *testing.T) {
	f := newFixture(t, Options{})
	rec, _ := f.watch()
	rec.take()
	f.page("vis_a", "vsn_1", "https://acme.example/live", func(e *PageEvent) {}) // an open session this registry did not see start
	started := t0.Add(-10 * time.Minute)
	conv := "conv_9"
	long := strings.Repeat("é", 400)
	f.profile("vis_a", "vsn_1", profile{Started: micro(started), Seen: micro(t0.Add(-time.Second)), PageAt: micro(t0.Add(-time.Minute)),
		URL: "https://acme.example/older", Title: "Older", Country: "FR", Device: "mobile", PageViews: 7, Sessions: 1,
		Email: "ada@acme.example", Fields: map[string]string{"first_name": "Ada", "last_name": "Lovelace", "company": "Acme",
			"title": "CTO", "email": "ada@work.example", "notes": long}}, &conv)
	frames := f.tick(rec)
	if summary(frames) != "upsert:vis_a" {
		t.Fatalf("frames = %q", summary(frames))
	}
	v := frames[0].Visitors[0]
	// The live page is newer than the database's; the database knows the start and the count.
	if v.PageURL != "https://acme.example/live" || !v.StartedAt.Equal(started) || v.PageViews != 7 || v.Country != "FR" ||
		v.Device != "mobile" || v.Name != "Ada Lovelace" || v.Email != "ada@work.example" || v.Company != "Acme" ||
		v.Title != "CTO" || v.ConversationID != "conv_9" || v.Returning {
		t.Errorf("row = %+v", v)
	}
	if n := len(v.Fields["notes"]); n > MaxFieldLen || n < MaxFieldLen-1 || !strings.HasPrefix(long, v.Fields["notes"]) {
		t.Errorf("a long value is %d bytes, want it cut to about %d on a character boundary", n, MaxFieldLen)
	}
	// Conversations close through the chat's events, applied locally.
	f.reg.ConversationChanged(f.ws, "vis_a", "conv_other", false)
	if got := f.tick(rec); len(got) != 0 {
		t.Errorf("closing another conversation sent %q", summary(got))
	}
	f.reg.ConversationChanged(f.ws, "vis_a", "conv_9", false)
	if frames := f.tick(rec); summary(frames) != "upsert:vis_a" || frames[0].Visitors[0].ConversationID != "" {
		t.Errorf("closing the conversation: %q", summary(frames))
	}
}

func TestLeftVisitorNotBroughtBackByOlderProfile(t *testing.T) {
	f := newFixture(t, Options{})
	rec, _ := f.watch()
	rec.take()
	f.page("vis_a", "vsn_1", "https://acme.example/", newVisitor)
	f.clk.Advance(time.Second)
	f.leave("vis_a")
	f.clk.Advance(DefaultLeaveGrace)
	// Never sent, so nothing to remove: the watcher saw nothing of the visit.
	if got := f.tick(rec); len(got) != 0 {
		t.Fatalf("a visit that began and ended between two ticks sent %q", summary(got))
	}
	// A database read from before the leave arrives late: it must not resurrect the visitor.
	f.profile("vis_a", "vsn_1", profile{Started: micro(t0), Seen: micro(t0), Sessions: 1}, nil)
	if got := f.tick(rec); len(got) != 0 {
		t.Fatalf("an older profile brought the visitor back: %q", summary(got))
	}
	// A heartbeat from another tab, later, does (through the profile its registry publishes).
	f.profile("vis_a", "vsn_1", profile{Started: micro(t0), Seen: micro(f.clk.Now()), Sessions: 1}, nil)
	if got := summary(f.tick(rec)); got != "upsert:vis_a" {
		t.Fatalf("a newer profile: %q, want upsert", got)
	}
}

func TestMerge(t *testing.T) {
	f := newFixture(t, Options{})
	rec, _ := f.watch()
	rec.take()
	f.page("vis_old", "vsn_1", "https://acme.example/", newVisitor)
	f.tick(rec)
	f.reg.Changed(context.Background(), f.ws, "vis_new", "vis_old")
	f.sent++
	f.sync()
	frames := f.tick(rec)
	if got := summary(frames); got != "upsert:vis_new remove:vis_old" {
		t.Fatalf("frames = %q", got)
	}
	if v := frames[0].Visitors[0]; v.SessionID != "vsn_1" || v.PageURL != "https://acme.example/" {
		t.Errorf("the survivor's row = %+v", v)
	}
	// A heartbeat naming the merged id (an old token) counts for the survivor.
	f.clk.Advance(100 * time.Second)
	f.seen("vis_old")
	f.clk.Advance(30 * time.Second)
	f.reg.tick()
	f.clk.Advance(DefaultSweepInterval)
	if got := f.tick(rec); len(got) != 0 {
		t.Errorf("the survivor timed out despite the heartbeat under its old id: %q", summary(got))
	}
}

func TestFramesAreBatched(t *testing.T) {
	f := newFixture(t, Options{})
	for i := range 450 {
		f.reg.Page(context.Background(), f.ws, PageEvent{VisitorID: fmt.Sprintf("vis_%03d", i), SessionID: "vsn", URL: "https://acme.example/", NewVisitor: true})
	}
	f.sent += 450
	f.sync()
	rec, _ := f.watch()
	frames := rec.take()
	if len(frames) != 3 || frames[0].Op != OpSnapshot || frames[1].Op != OpUpsert || frames[2].Op != OpUpsert ||
		len(frames[0].Visitors) != 200 || len(frames[1].Visitors) != 200 || len(frames[2].Visitors) != 50 {
		t.Fatalf("snapshot of 450: %d frames", len(frames))
	}
	for i := range 450 {
		f.reg.Page(context.Background(), f.ws, PageEvent{VisitorID: fmt.Sprintf("vis_%03d", i), SessionID: "vsn", URL: "https://acme.example/b"})
	}
	f.sent += 450
	f.sync()
	frames = f.tick(rec)
	if len(frames) != 3 || len(frames[0].Visitors)+len(frames[1].Visitors)+len(frames[2].Visitors) != 450 {
		t.Fatalf("450 changes: %d frames", len(frames))
	}
	for _, fr := range frames {
		if fr.Op != OpUpsert || len(fr.Visitors) > FrameSize {
			t.Errorf("frame %s of %d visitors", fr.Op, len(fr.Visitors))
		}
	}
}

// TestCoalescing: 1,000 page changes of one visitor within one flush interval give one upsert,
// with the last page, on the fake clock; and with the real ticker, at most one frame per interval.
func TestCoalescing(t *testing.T) {
	f := newFixture(t, Options{})
	rec, _ := f.watch()
	rec.take()
	for i := range 1000 {
		f.clk.Advance(250 * time.Microsecond)
		f.reg.Page(context.Background(), f.ws, PageEvent{VisitorID: "vis_a", SessionID: "vsn_1", URL: fmt.Sprintf("https://acme.example/%d", i)})
	}
	f.sent += 1000
	f.sync()
	frames := f.tick(rec)
	if summary(frames) != "upsert:vis_a" || frames[0].Visitors[0].PageURL != "https://acme.example/999" ||
		frames[0].Visitors[0].PageViews != 1000 {
		t.Fatalf("frames = %q", summary(frames))
	}

	t.Run("real ticker", func(t *testing.T) {
		b := bus.NewInProcess()
		defer b.Close()
		applied := newCounter()
		reg, err := New(Options{Bus: b, Settings: newSettings().get, onApply: applied.inc})
		if err != nil {
			t.Fatal(err)
		}
		defer reg.Close()
		got := make(chan Frame, 1000)
		stop, err := reg.Watch(context.Background(), f.ws, func(fr Frame) { got <- fr })
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		<-got // the snapshot
		start := time.Now()
		for i := range 1000 {
			reg.Page(context.Background(), f.ws, PageEvent{VisitorID: "vis_a", SessionID: "vsn_1", URL: fmt.Sprintf("https://acme.example/%d", i)})
		}
		applied.wait(t, f.ws, 1000)
		elapsed := time.Since(start)
		// The last change reaches the watcher within a few intervals.
		deadline := time.After(10 * time.Second)
		n := 0
		for last := ""; last != "https://acme.example/999"; {
			select {
			case fr := <-got:
				n++
				if fr.Op != OpUpsert || len(fr.Visitors) != 1 {
					t.Fatalf("frame %s of %d visitors", fr.Op, len(fr.Visitors))
				}
				last = fr.Visitors[0].PageURL
			case <-deadline:
				t.Fatalf("the last page never arrived (%d frames)", n)
			}
		}
		if most := int(elapsed/DefaultFlushInterval) + 3; n > most {
			t.Errorf("%d frames for 1,000 changes in %v; want at most %d (one per %v)", n, elapsed, most, DefaultFlushInterval)
		}
		t.Logf("1,000 page changes in %v → %d frames", elapsed, n)
	})
}

func TestStopEndsDeltasAndTheGoroutine(t *testing.T) {
	f := newFixture(t, Options{})
	rec, stop := f.watch()
	rec.take()
	other, _ := f.watch()
	other.take()
	stop()
	stop() // twice is fine
	f.page("vis_a", "vsn_1", "https://acme.example/", newVisitor)
	f.reg.tick()
	if got := rec.take(); len(got) != 0 {
		t.Errorf("a stopped watcher got %q", summary(got))
	}
	if got := summary(other.take()); got != "upsert:vis_a" {
		t.Errorf("the other watcher got %q", got)
	}
}

func TestWatchNeedsSettings(t *testing.T) {
	f := newFixture(t, Options{})
	f.settings.err = errs.E(errs.Unavailable, "database down")
	if _, err := f.reg.Watch(context.Background(), f.ws, func(Frame) {}); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("Watch without settings = %v, want errs.Unavailable", err)
	}
	if _, err := f.reg.Watch(context.Background(), f.ws, nil); !errs.Is(err, errs.Invalid) {
		t.Errorf("Watch without send = %v, want errs.Invalid", err)
	}
	f.settings.err = nil
	f.clk.Advance(DefaultSettingsTTL)
	if _, err := f.reg.Watch(context.Background(), f.ws, func(Frame) {}); err != nil {
		t.Errorf("Watch once the settings read = %v", err)
	}
	f.reg.Close()
	if _, err := f.reg.Watch(context.Background(), f.ws, func(Frame) {}); !errs.Is(err, errs.Unavailable) {
		t.Errorf("Watch after Close = %v, want errs.Unavailable", err)
	}
}

func TestNilRegistryIsANoOp(t *testing.T) {
	var r *Registry
	r.Page(context.Background(), "ws_x", PageEvent{VisitorID: "vis_a"})
	r.Seen(context.Background(), "ws_x", "vis_a")
	r.Leave(context.Background(), "ws_x", "vis_a")
	r.Changed(context.Background(), "ws_x", "vis_a", "")
	r.ConversationChanged("ws_x", "vis_a", "conv", true)
	if err := r.Close(); err != nil {
		t.Error(err)
	}
}

func TestSpacesAreForgotten(t *testing.T) {
	f := newFixture(t, Options{})
	f.page("vis_a", "vsn_1", "https://acme.example/", newVisitor)
	f.clk.Advance(2 * DefaultTimeout)
	f.seen("vis_unknown") // any delta sweeps the space when due; tombstones last Timeout
	f.clk.Advance(DefaultTimeout)
	f.seen("vis_unknown")
	f.reg.mu.Lock()
	n := len(f.reg.spaces)
	f.reg.mu.Unlock()
	if n != 0 {
		t.Errorf("%d spaces kept after every visitor left", n)
	}
}

func TestLateDeltaOfAnEarlierSession(t *testing.T) {
	f := newFixture(t, Options{})
	rec, _ := f.watch()
	rec.take()
	late := micro(f.clk.Now())
	f.clk.Advance(time.Second)
	f.page("vis_a", "vsn_2", "https://acme.example/new-session", newVisitor)
	// Another replica's page view of the previous session, published before but applied after.
	f.reg.publish(context.Background(), f.ws, &delta{Op: opPage, V: "vis_a", S: "vsn_1", At: late, URL: "https://acme.example/old"})
	f.sent++
	f.sync()
	frames := f.tick(rec)
	if summary(frames) != "upsert:vis_a" || frames[0].Visitors[0].SessionID != "vsn_2" ||
		frames[0].Visitors[0].PageURL != "https://acme.example/new-session" {
		t.Fatalf("frames = %q %+v", summary(frames), frames)
	}
}
