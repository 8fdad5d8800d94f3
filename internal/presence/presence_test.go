package presence_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
	"github.com/beckonhq/beckon/internal/presence"
)

// TestTransitions walks one rep through every transition on one replica: each step's events
// (exactly those, in order), then the state Get reports and whether Available lists the rep.
func TestTransitions(t *testing.T) {
	forEach(t, func(t *testing.T, h *harness) {
		ctx := h.ctx
		s := h.replica("a")
		rec := h.listen(h.ws)
		rep := h.reps[0]
		releases := map[string]func(){}
		connect := func(tab string) func() {
			return func() {
				r, err := s.Connect(ctx, h.ws, rep)
				if err != nil {
					t.Fatal(err)
				}
				releases[tab] = r
			}
		}
		release := func(tab string) func() { return func() { releases[tab]() } }
		advance := func(d time.Duration) func() { return func() { advanceRenewing(t, h, d, s) } }
		active := func() {
			if err := s.Active(ctx, h.ws, rep); err != nil {
				t.Fatal(err)
			}
		}
		sweep := func() {
			if err := s.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
		}
		refresh := func() {
			if err := s.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
		}
		set := func(status string) func() {
			return func() {
				st, err := s.SetStatus(ctx, h.ws, rep, status)
				if err != nil || st.Chosen != status {
					t.Fatalf("SetStatus(%s) = %+v, %v", status, st, err)
				}
			}
		}
		steps := []struct {
			name      string
			do        []func()
			events    []string
			state     string // "status/reason chosen connections"
			available bool
		}{
			{"never seen", nil, nil, "offline/disconnected available 0", false},
			{"first tab: offline → available", []func(){connect("t1")}, []string{"rep0 available/active"}, "available/active available 1", true},
			{"second tab: no change", []func(){connect("t2")}, nil, "available/active available 2", true},
			{"active before the timeout keeps the rep available", []func(){advance(9 * time.Minute), active, advance(9 * time.Minute), refresh, sweep},
				nil, "available/active available 2", true},
			{"idle is visible before any sweep", []func(){advance(time.Minute)}, nil, "away/idle available 2", false},
			{"the sweep publishes idle once", []func(){sweep, sweep}, []string{"rep0 away/idle"}, "away/idle available 2", false},
			{"activity after idle: → available", []func(){advance(time.Second), active}, []string{"rep0 available/active"}, "available/active available 2", true},
			{"throttled activity publishes nothing", []func(){advance(time.Second), active, active}, nil, "available/active available 2", true},
			{"chosen away", []func(){set("away")}, []string{"rep0 away/chosen"}, "away/chosen away 2", false},
			{"chosen away stays chosen when idle", []func(){advance(11 * time.Minute), sweep}, nil, "away/chosen away 2", false},
			{"chosen available", []func(){set("available")}, []string{"rep0 available/chosen"}, "available/chosen available 2", true},
			{"choosing available again publishes nothing", []func(){set("available")}, nil, "available/chosen available 2", true},
			{"one tab closes, twice: no change", []func(){release("t1"), release("t1")}, nil, "available/chosen available 1", true},
			{"last tab closes: → offline", []func(){release("t2"), release("t2")}, []string{"rep0 offline/disconnected"}, "offline/disconnected available 0", false},
			{"choosing while offline publishes the choice", []func(){set("away")}, []string{"rep0 offline/disconnected"}, "offline/disconnected away 0", false},
			{"connecting while chosen away: → away", []func(){connect("t3")}, []string{"rep0 away/chosen"}, "away/chosen away 1", false},
			{"the sweep finds nothing to do", []func(){sweep}, nil, "away/chosen away 1", false},
			{"back to available and closing", []func(){set("available"), release("t3")}, []string{"rep0 available/chosen", "rep0 offline/disconnected"}, "offline/disconnected available 0", false},
		}
		var last time.Time
		for _, step := range steps {
			for _, f := range step.do {
				f()
			}
			evs := rec.take()
			if got := brief(h, evs); !equal(got, step.events) {
				t.Fatalf("%s: events %q, want %q", step.name, got, step.events)
			}
			for _, ev := range evs {
				if !ev.UpdatedAt.After(last) {
					t.Fatalf("%s: event UpdatedAt %v not after the previous %v", step.name, ev.UpdatedAt, last)
				}
				last = ev.UpdatedAt
			}
			st, err := s.Get(ctx, h.ws, rep)
			if err != nil {
				t.Fatal(err)
			}
			if got := stateLine(st); got != step.state {
				t.Fatalf("%s: Get = %q, want %q", step.name, got, step.state)
			}
			if len(evs) > 0 {
				if ev := evs[len(evs)-1]; ev.Status != st.Status || ev.Chosen != st.Chosen || ev.Connections != st.Connections {
					t.Fatalf("%s: last event %+v disagrees with Get %+v", step.name, ev, st)
				}
			}
			av, err := s.Available(ctx, h.ws)
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Contains(av, rep); got != step.available || len(av) > 1 {
				t.Fatalf("%s: Available = %v, want rep listed: %v", step.name, av, step.available)
			}
		}
	})
}

func stateLine(st presence.State) string {
	return st.Status + "/" + st.Reason + " " + st.Chosen + " " + strconv.Itoa(st.Connections)
}

// TestActivityStored: a connected rep's activity is stored (LastActiveAt), at most once per
// throttle interval, and connecting counts as activity.
func TestActivityStored(t *testing.T) {
	forEach(t, func(t *testing.T, h *harness) {
		ctx := h.ctx
		s := h.replica("a")
		rep := h.reps[0]
		if _, err := s.Connect(ctx, h.ws, rep); err != nil {
			t.Fatal(err)
		}
		lastActive := func() time.Time {
			st, err := s.Get(ctx, h.ws, rep)
			if err != nil {
				t.Fatal(err)
			}
			return st.LastActiveAt
		}
		if got := lastActive(); !got.Equal(t0) {
			t.Fatalf("after Connect LastActiveAt = %v, want %v", got, t0)
		}
		h.clk.Advance(throttle - time.Second)
		s.Active(ctx, h.ws, rep)
		if got := lastActive(); !got.Equal(t0) {
			t.Fatalf("activity within the throttle was stored: %v", got)
		}
		h.clk.Advance(time.Second)
		s.Active(ctx, h.ws, rep)
		if got, want := lastActive(), t0.Add(throttle); !got.Equal(want) {
			t.Fatalf("activity after the throttle: LastActiveAt = %v, want %v", got, want)
		}

		// A throttle longer than half the idle timeout gives way to half the timeout, so that
		// a rep in steady use never idles.
		h.setIdle(h.ws, 1)
		slow := presence.New(h.d, h.clk, h.newBus(t), presence.Options{Node: "slow", IdleTimeout: h.idle, ActiveThrottle: time.Hour})
		rep = h.reps[1]
		if _, err := slow.Connect(ctx, h.ws, rep); err != nil {
			t.Fatal(err)
		}
		start := h.clk.Now()
		h.clk.Advance(29 * time.Second)
		slow.Active(ctx, h.ws, rep)
		if got := lastActive(); !got.Equal(start) {
			t.Fatalf("activity within half the idle timeout was stored: %v", got)
		}
		h.clk.Advance(time.Second)
		slow.Active(ctx, h.ws, rep)
		if got, want := lastActive(), start.Add(30*time.Second); !got.Equal(want) {
			t.Fatalf("activity at half the idle timeout: LastActiveAt = %v, want %v", got, want)
		}
	})
}

// TestIdleTimeoutPerWorkspace: each workspace's own idle timeout decides when its reps idle, and
// a timeout lengthened after a rep idled makes them available again at the next sweep.
func TestIdleTimeoutPerWorkspace(t *testing.T) {
	forEach(t, func(t *testing.T, h *harness) {
		ctx := h.ctx
		s := h.replica("a")
		rec, rec2 := h.listen(h.ws), h.listen(h.ws2)
		h.setIdle(h.ws2, 3)
		for _, c := range []struct{ ws, user string }{{h.ws, h.reps[0]}, {h.ws2, h.other}} {
			if _, err := s.Connect(ctx, c.ws, c.user); err != nil {
				t.Fatal(err)
			}
		}
		rec.take()
		rec2.take()
		step := func(name string, d time.Duration, want, want2 []string) {
			t.Helper()
			advanceRenewing(t, h, d, s)
			if err := s.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			if got, got2 := brief(h, rec.take()), brief(h, rec2.take()); !equal(got, want) || !equal(got2, want2) {
				t.Fatalf("%s: events %q and %q, want %q and %q", name, got, got2, want, want2)
			}
		}
		step("before Globex's 3 minutes", 3*time.Minute-time.Second, nil, nil)
		step("at Globex's 3 minutes", time.Second, nil, []string{"other away/idle"})
		step("before Acme's default 10 minutes", 7*time.Minute-time.Second, nil, nil)
		step("at Acme's 10 minutes", time.Second, []string{"rep0 away/idle"}, nil)
		h.setIdle(h.ws, 20)
		step("Acme lengthens its timeout to 20 minutes", 0, []string{"rep0 available/active"}, nil)
		h.setIdle(h.ws, 5)
		step("and shortens it to 5", 0, []string{"rep0 away/idle"}, nil)
	})
}

// advanceRenewing moves the clock by d in ticks, renewing the leases of every replica in live at
// each tick, as their Run does.
func advanceRenewing(t *testing.T, h *harness, d time.Duration, live ...*presence.Service) {
	t.Helper()
	for d > 0 {
		step := min(d, tick)
		h.clk.Advance(step)
		d -= step
		for _, s := range live {
			if err := s.Refresh(h.ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestReplicas: two replicas sharing the database and bus behave as one.
func TestReplicas(t *testing.T) {
	forEach(t, func(t *testing.T, h *harness) {
		ctx := h.ctx
		a, b := h.replica("a"), h.replica("b")
		rec := h.listen(h.ws)
		rep := h.reps[0]

		relA, err := a.Connect(ctx, h.ws, rep)
		if err != nil {
			t.Fatal(err)
		}
		if got := brief(h, rec.take()); !equal(got, []string{"rep0 available/active"}) {
			t.Fatalf("connect on A: %q", got)
		}
		for _, s := range []*presence.Service{a, b} {
			if av, err := s.Available(ctx, h.ws); err != nil || !equal(av, []string{rep}) {
				t.Fatalf("Available = %v, %v; want the rep connected on A", av, err)
			}
		}
		relB, err := b.Connect(ctx, h.ws, rep)
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := a.Get(ctx, h.ws, rep); st.Connections != 2 {
			t.Fatalf("connections on two replicas: %+v", st)
		}
		relA()
		if got := brief(h, rec.take()); len(got) != 0 {
			t.Fatalf("closing A's tab while B's is open: %q", got)
		}
		// Activity idles and returns across replicas: idle found by A's sweep, activity on B.
		advanceRenewing(t, h, 10*time.Minute, b)
		if err := a.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if err := b.Active(ctx, h.ws, rep); err != nil {
			t.Fatal(err)
		}
		if got := brief(h, rec.take()); !equal(got, []string{"rep0 away/idle", "rep0 available/active"}) {
			t.Fatalf("idle and back: %q", got)
		}
		relB()
		if got := brief(h, rec.take()); !equal(got, []string{"rep0 offline/disconnected"}) {
			t.Fatalf("closing the last tab: %q", got)
		}
	})
}

// TestCrashedReplica: a replica that stops without releasing its sockets (a crash) stops counting
// once its lease lapses; the other replica's sweep publishes the rep offline, once.
func TestCrashedReplica(t *testing.T) {
	forEach(t, func(t *testing.T, h *harness) {
		ctx := h.ctx
		a, b := h.replica("a"), h.replica("b")
		rec := h.listen(h.ws)
		rep, stays := h.reps[0], h.reps[1]
		if _, err := a.Connect(ctx, h.ws, rep); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Connect(ctx, h.ws, stays); err != nil {
			t.Fatal(err)
		}
		rec.take()
		// A renews while it lives: past one lease, still there.
		advanceRenewing(t, h, 2*lease, a, b)
		if err := b.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if got := brief(h, rec.take()); len(got) != 0 {
			t.Fatalf("a live replica's rep changed: %q", got)
		}
		// A crashes: nothing renews its rows.
		advanceRenewing(t, h, lease, b)
		if st, _ := b.Get(ctx, h.ws, rep); st.Status != presence.StatusOffline || st.Connections != 0 {
			t.Fatalf("Get after A's lease lapsed: %+v", st)
		}
		if av, _ := b.Available(ctx, h.ws); !equal(av, []string{stays}) {
			t.Fatalf("Available after A's lease lapsed = %v, want only the rep on B", av)
		}
		if got := brief(h, rec.take()); len(got) != 0 {
			t.Fatalf("events before any sweep: %q", got)
		}
		for range 3 {
			if err := b.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if got := brief(h, rec.take()); !equal(got, []string{"rep0 offline/disconnected"}) {
			t.Fatalf("B's sweeps after A's crash: %q", got)
		}
		var n int
		if err := h.d.QueryRowContext(ctx, `SELECT COUNT(*) FROM presence_connections WHERE node = 'a'`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("A's lapsed rows: %d, %v", n, err)
		}

		// A was only cut off, not dead: its next renewal writes its rows again and the rep returns.
		if err := a.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if got := brief(h, rec.take()); !equal(got, []string{"rep0 available/active"}) {
			t.Fatalf("A back: %q", got)
		}
	})
}

// TestRun drives Run with a real ticker: B's Run finds A's crash, and A's graceful stop removes its
// sockets, publishing the rep offline, and refuses new ones.
func TestRun(t *testing.T) {
	forEach(t, func(t *testing.T, h *harness) {
		ctx := h.ctx
		mk := func(node string, lease time.Duration) *presence.Service {
			b := h.newBus(t)
			h.buses = append(h.buses, b)
			return presence.New(h.d, h.clk, b, presence.Options{Node: node, IdleTimeout: h.idle, Lease: lease, Tick: 5 * time.Millisecond})
		}
		// C's lease is long, so that moving the clock past A's lease cannot lapse C's between two
		// of its renewals.
		a, b, c := mk("a", lease), mk("b", lease), mk("c", time.Hour)
		rec := h.listen(h.ws)
		if _, err := a.Connect(ctx, h.ws, h.reps[0]); err != nil {
			t.Fatal(err)
		}
		if rel, err := c.Connect(ctx, h.ws, h.reps[1]); err != nil {
			t.Fatal(err)
		} else {
			defer rel() // after c stopped: must do nothing
		}
		rec.take()

		runCtx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		runs := map[string]*presence.Service{"b": b, "c": c}
		errc := make(chan error, len(runs))
		for _, s := range runs {
			wg.Go(func() { errc <- s.Run(runCtx) })
		}
		// A never runs (it crashed after connecting); its lease lapses.
		h.clk.Advance(lease)
		if got := brief(h, []presence.State{rec.wait()}); !equal(got, []string{"rep0 offline/disconnected"}) {
			t.Fatalf("after A's lease: %q", got)
		}
		// C's Run keeps renewing: its rep is still available.
		if st, _ := b.Get(ctx, h.ws, h.reps[1]); st.Status != presence.StatusAvailable {
			t.Fatalf("C's rep while C runs: %+v", st)
		}
		stop()
		wg.Wait()
		close(errc)
		for err := range errc {
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
		}
		evs := rec.take()
		if got := brief(h, evs); !equal(got, []string{"rep1 offline/disconnected"}) {
			t.Fatalf("after C stopped: %q", got)
		}
		if _, err := c.Connect(ctx, h.ws, h.reps[2]); !errs.Is(err, errs.Unavailable) {
			t.Fatalf("Connect after Run returned: %v, want unavailable", err)
		}
		if err := c.Run(ctx); err == nil {
			t.Fatal("Run after it returned did not fail")
		}
		var n int
		if err := h.d.QueryRowContext(ctx, `SELECT COUNT(*) FROM presence_connections WHERE node = 'c'`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("C's rows after it stopped: %d, %v", n, err)
		}
	})
}

// TestConcurrentSweeps: many replicas sweeping at once publish each transition exactly once, for
// a crashed replica's reps going offline and for reps idling.
func TestConcurrentSweeps(t *testing.T) {
	forEach(t, func(t *testing.T, h *harness) {
		ctx := h.ctx
		crashed, keeper := h.replica("crashed"), h.replica("keeper")
		var sweepers []*presence.Service
		for _, n := range []string{"s1", "s2", "s3", "s4"} {
			sweepers = append(sweepers, h.replica(n))
		}
		rec := h.listen(h.ws)
		half := len(h.reps) / 2
		for i, rep := range h.reps {
			s := crashed
			if i >= half {
				s = keeper
			}
			if _, err := s.Connect(ctx, h.ws, rep); err != nil {
				t.Fatal(err)
			}
		}
		rec.take()
		sweepAll := func() {
			var wg sync.WaitGroup
			for _, s := range sweepers {
				for range 2 {
					wg.Go(func() {
						if err := s.Sweep(ctx); err != nil {
							t.Error(err)
						}
					})
				}
			}
			wg.Wait()
		}
		expect := func(reps []string, want string) {
			t.Helper()
			got, wantN := map[string]int{}, map[string]int{}
			for _, ev := range rec.take() {
				got[ev.UserID+" "+ev.Status+"/"+ev.Reason]++
			}
			for _, r := range reps {
				wantN[r+" "+want] = 1
			}
			if !maps.Equal(got, wantN) {
				t.Fatalf("events %v, want %v", got, wantN)
			}
		}
		// The crashed replica's reps: offline once each. The keeper renews its own.
		advanceRenewing(t, h, lease, keeper)
		sweepAll()
		expect(h.reps[:half], "offline/disconnected")
		// The keeper's reps idle: away once each.
		advanceRenewing(t, h, 10*time.Minute, keeper)
		sweepAll()
		expect(h.reps[half:], "away/idle")
	})
}

// TestOtherWorkspace: a rep of another workspace never appears in this one's lists, availability
// or events.
func TestOtherWorkspace(t *testing.T) {
	forEach(t, func(t *testing.T, h *harness) {
		ctx := h.ctx
		s := h.replica("a")
		rec := h.listen(h.ws)
		if _, err := s.Connect(ctx, h.ws2, h.other); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Connect(ctx, h.ws, h.reps[0]); err != nil {
			t.Fatal(err)
		}
		if got := brief(h, rec.take()); !equal(got, []string{"rep0 available/active"}) {
			t.Fatalf("events of Acme: %q", got)
		}
		list, err := s.List(ctx, h.ws)
		if err != nil || len(list) != 1 || list[0].UserID != h.reps[0] {
			t.Fatalf("List(Acme) = %+v, %v", list, err)
		}
		if av, err := s.Available(ctx, h.ws); err != nil || !equal(av, []string{h.reps[0]}) {
			t.Fatalf("Available(Acme) = %v, %v", av, err)
		}
		if st, err := s.Get(ctx, h.ws, h.other); err != nil || st.Status != presence.StatusOffline || st.Connections != 0 {
			t.Fatalf("Get(Acme, Globex's rep) = %+v, %v", st, err)
		}
		if av, err := s.Available(ctx, h.ws2); err != nil || !equal(av, []string{h.other}) {
			t.Fatalf("Available(Globex) = %v, %v", av, err)
		}
	})
}

// TestInvalidInput: a bad status is invalid; ids no workspace or user can have, and users that do
// not exist, are not found.
func TestInvalidInput(t *testing.T) {
	forEach(t, func(t *testing.T, h *harness) {
		ctx := h.ctx
		s := h.replica("a")
		rep := h.reps[0]
		for _, st := range []string{"", "busy", "AWAY", "offline", " available", "available\x00"} {
			_, err := s.SetStatus(ctx, h.ws, rep, st)
			if e := errs.As(err); e == nil || e.Kind != errs.Invalid || e.Field != "status" {
				t.Errorf("SetStatus(%q) = %v, want invalid status", st, err)
			}
		}
		missing := id.New("usr")
		for _, c := range []struct{ ws, user string }{
			{"", rep}, {"ws_nope", rep}, {"x.y", rep}, {h.ws, ""}, {h.ws, "usr_x"}, {h.ws, "usr_a.b"},
			{h.ws, missing}, {id.New("ws"), rep},
		} {
			_, err := s.Connect(ctx, c.ws, c.user)
			if !errs.Is(err, errs.NotFound) {
				t.Errorf("Connect(%q, %q) = %v, want not found", c.ws, c.user, err)
			}
			if err := s.Active(ctx, c.ws, c.user); !errs.Is(err, errs.NotFound) {
				t.Errorf("Active(%q, %q) = %v, want not found", c.ws, c.user, err)
			}
			if _, err := s.SetStatus(ctx, c.ws, c.user, "away"); !errs.Is(err, errs.NotFound) {
				t.Errorf("SetStatus(%q, %q) = %v, want not found", c.ws, c.user, err)
			}
		}
		for _, ws := range []string{"", "ws_nope", "presence.>"} {
			if _, err := s.List(ctx, ws); !errs.Is(err, errs.NotFound) {
				t.Errorf("List(%q) = %v", ws, err)
			}
			if _, err := s.Available(ctx, ws); !errs.Is(err, errs.NotFound) {
				t.Errorf("Available(%q) = %v", ws, err)
			}
			if _, err := s.Get(ctx, ws, rep); !errs.Is(err, errs.NotFound) {
				t.Errorf("Get(%q) = %v", ws, err)
			}
		}
		// Nothing was counted for the refused connections.
		if st, _ := s.Get(ctx, h.ws, rep); st.Connections != 0 {
			t.Fatalf("refused connections counted: %+v", st)
		}
		if err := s.Refresh(ctx); err != nil {
			t.Fatalf("Refresh after refused connections: %v", err)
		}
	})
}

// TestEventJSON: events carry the documented field names.
func TestEventJSON(t *testing.T) {
	forEach(t, func(t *testing.T, h *harness) {
		s := h.replica("a")
		rec := h.listen(h.ws)
		if _, err := s.Connect(h.ctx, h.ws, h.reps[0]); err != nil {
			t.Fatal(err)
		}
		m := rec.next()
		var raw map[string]any
		if err := json.Unmarshal(m.Data, &raw); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"user_id", "chosen", "status", "reason", "connections", "last_active_at", "updated_at"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("event %s lacks %q", m.Data, k)
			}
		}
		if m.Subject != "presence."+h.ws || raw["status"] != "available" || raw["connections"] != float64(1) {
			t.Errorf("event on %s: %s", m.Subject, m.Data)
		}
	})
}

// TestClockBackwards: UpdatedAt keeps increasing even when a replica's clock is behind.
func TestClockBackwards(t *testing.T) {
	forEach(t, func(t *testing.T, h *harness) {
		s := h.replica("a")
		rec := h.listen(h.ws)
		rel, err := s.Connect(h.ctx, h.ws, h.reps[0])
		if err != nil {
			t.Fatal(err)
		}
		h.clk.Set(t0.Add(-time.Hour))
		if _, err := s.SetStatus(h.ctx, h.ws, h.reps[0], "away"); err != nil {
			t.Fatal(err)
		}
		rel()
		evs := rec.take()
		if len(evs) != 3 {
			t.Fatalf("events: %q", brief(h, evs))
		}
		for i := 1; i < len(evs); i++ {
			if !evs[i].UpdatedAt.After(evs[i-1].UpdatedAt) {
				t.Fatalf("UpdatedAt not increasing: %v then %v", evs[i-1].UpdatedAt, evs[i].UpdatedAt)
			}
		}
	})
}
