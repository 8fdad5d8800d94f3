package routing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/jobs"
	"github.com/beckonhq/beckon/internal/routing"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/workspace"
)

// world is a workspace with reps whose state a test sets, around a routing Service on a real
// database.
type world struct {
	t      *testing.T
	d      *db.DB
	ws     string
	clk    *clock.Fake
	svc    *routing.Service
	q      *jobs.Queue
	mu     sync.Mutex
	reps   map[string]routing.RepState
	ended  map[string]bool // conversations no longer waiting
	offers []routing.Offer
	// onWaiting runs when the ring job asks whether a conversation still waits (a rep's accept
	// landing right then, in a test).
	onWaiting func(convID string)
}

func newWorld(t *testing.T, d *db.DB, reps ...string) *world {
	t.Helper()
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))
	w, err := workspace.NewStore(d, clk).Create(ctx, d, workspace.New{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	wd := &world{t: t, d: d, ws: w.ID, clk: clk, reps: map[string]routing.RepState{}, ended: map[string]bool{}}
	for _, r := range reps {
		wd.reps[r] = routing.RepState{Name: "Rep " + r, Status: routing.StatusAvailable, Active: true, Role: routing.RoleRep}
	}
	wd.q = jobs.New(d, clk, slog.New(slog.NewTextHandler(io.Discard, nil)), jobs.Options{PollInterval: 20 * time.Millisecond})
	wd.svc = wd.service(d, wd.q)
	return wd
}

// service builds a Service on d (another connection pool: another replica) sharing the world.
func (w *world) service(d *db.DB, q *jobs.Queue) *routing.Service {
	return routing.New(routing.Options{DB: d, Clock: w.clk, Jobs: q,
		Env: func(ctx context.Context, wsID string) (routing.Env, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			env := routing.Env{Users: map[string]routing.UserInfo{},
				Fields: []routing.FieldDef{{Key: "email", Label: "Email", Type: "email"}, {Key: "company_size", Label: "Company size", Type: "text"}}}
			for id, r := range w.reps {
				env.Users[id] = routing.UserInfo{Name: r.Name, Role: r.Role, Active: r.Active}
			}
			return env, nil
		},
		Reps: func(ctx context.Context, wsID string) (map[string]routing.RepState, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			out := make(map[string]routing.RepState, len(w.reps))
			for k, v := range w.reps {
				out[k] = v
			}
			return out, nil
		},
		Visitor: func(ctx context.Context, wsID, visitorID string) (*routing.Visitor, string, error) {
			return &routing.Visitor{Fields: map[string]string{"email": visitorID + "@example.com"}, Country: "DE"}, "", nil
		},
		Waiting: func(ctx context.Context, wsID, convID string) (bool, error) {
			w.mu.Lock()
			hook := w.onWaiting
			waiting := !w.ended[convID]
			w.mu.Unlock()
			if hook != nil {
				hook(convID)
			}
			return waiting, nil
		},
		OnOffer: func(ctx context.Context, o routing.Offer) {
			w.mu.Lock()
			w.offers = append(w.offers, o)
			w.mu.Unlock()
		}})
}

func (w *world) publish(cfg string) {
	w.t.Helper()
	ctx := context.Background()
	if _, err := w.svc.SaveDraft(ctx, w.ws, "usr_admin", []byte(cfg)); err != nil {
		w.t.Fatalf("save draft: %v", err)
	}
	if _, err := w.svc.Publish(ctx, w.ws, "usr_admin"); err != nil {
		w.t.Fatalf("publish: %v", err)
	}
}

func (w *world) set(rep string, f func(*routing.RepState)) {
	w.mu.Lock()
	r := w.reps[rep]
	f(&r)
	w.reps[rep] = r
	w.mu.Unlock()
}

const poolConfig = `{"pools": [{"id": "sales", "name": "Sales", "strategy": "round_robin",
	"members": [{"user_id": "a"}, {"user_id": "b"}, {"user_id": "c"}]}],
	"default": {"kind": "pool", "pool": "sales"}, "ring_seconds": 30, "max_chats": 50}`

// Round robin through the service: every turn stored, numbered, and the rotation even.
func TestRouteRoundRobin(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, "a", "b", "c")
		w.publish(poolConfig)
		ctx := context.Background()
		counts := map[string]int{}
		for i := range 30 {
			o, err := w.svc.Route(ctx, w.ws, fmt.Sprintf("conv_%d", i), fmt.Sprintf("vis_%d", i))
			if err != nil {
				t.Fatal(err)
			}
			if o.Decision.Outcome != routing.OutcomeOffer || len(o.Decision.Offer) != 1 {
				t.Fatalf("decision %d: %+v", i, o.Decision)
			}
			counts[o.Decision.Offer[0]]++
			recs, err := w.svc.Decisions(ctx, w.ws, fmt.Sprintf("conv_%d", i))
			if err != nil || len(recs) != 1 {
				t.Fatalf("decisions of conv_%d: %v, %v", i, recs, err)
			}
			if recs[0].Turn != int64(i+1) || recs[0].Version != 1 || recs[0].Trace.Summary == "" {
				t.Fatalf("record %d: turn %d version %d summary %q", i, recs[0].Turn, recs[0].Version, recs[0].Trace.Summary)
			}
		}
		if counts["a"] != 10 || counts["b"] != 10 || counts["c"] != 10 {
			t.Fatalf("counts %v, want 10 each", counts)
		}
		// Another workspace sees none of it.
		other := newWorld(t, d, "a")
		if recs, _ := other.svc.Decisions(ctx, other.ws, "conv_1"); len(recs) != 0 {
			t.Fatalf("another workspace reads %d decisions", len(recs))
		}
	})
}

// Two replicas (two connection pools, one database) assigning turns of one pool at once never
// give the same turn twice, and the rotation stays even (R2).
func TestTwoReplicasNeverGiveTheSameTurn(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		d := testkit.SQLite(t)
		d2, err := db.OpenSQLite(context.Background(), d.Path)
		if err != nil {
			t.Fatal(err)
		}
		defer d2.Close()
		twoReplicas(t, d, d2)
	})
	t.Run("postgres", func(t *testing.T) {
		url := testkit.PostgresURL(t)
		d, err := db.Open(context.Background(), url, "")
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if _, err := d.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		d2, err := db.Open(context.Background(), url, "")
		if err != nil {
			t.Fatal(err)
		}
		defer d2.Close()
		twoReplicas(t, d, d2)
	})
}

func twoReplicas(t *testing.T, d, d2 *db.DB) {
	{
		w := newWorld(t, d, "a", "b", "c")
		w.publish(poolConfig)
		replicas := []*routing.Service{w.svc, w.service(d2, jobs.New(d2, w.clk, slog.New(slog.NewTextHandler(io.Discard, nil)), jobs.Options{}))}
		const each = 60
		var mu sync.Mutex
		counts := map[string]int{}
		var wg sync.WaitGroup
		for r, svc := range replicas {
			for g := range 3 {
				wg.Go(func() {
					for i := range each / 3 {
						conv := fmt.Sprintf("conv_%d_%d_%d", r, g, i)
						o, err := svc.Route(context.Background(), w.ws, conv, "vis_"+conv)
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						counts[o.Decision.Offer[0]]++
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		var turns []int64
		rows, err := d.Query(`SELECT turn FROM routing_decisions WHERE workspace_id = $1 ORDER BY turn`, w.ws)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var n int64
			rows.Scan(&n)
			turns = append(turns, n)
		}
		rows.Close()
		if len(turns) != 2*each {
			t.Fatalf("%d decisions, want %d", len(turns), 2*each)
		}
		for i, n := range turns {
			if n != int64(i+1) {
				t.Fatalf("turns %v: position %d is %d — a turn given twice or skipped", turns, i, n)
			}
		}
		if counts["a"] != 40 || counts["b"] != 40 || counts["c"] != 40 {
			t.Fatalf("counts %v, want 40 each", counts)
		}
	}
}

// A rep who lets the ring time out is skipped: the next rep is rung, the visitor told; an
// accepted conversation stops ringing; when everyone was tried, email capture (R3).
func TestRingTimeoutReroutes(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, "a", "b")
		w.publish(`{"pools": [{"id": "sales", "name": "Sales", "strategy": "round_robin",
			"members": [{"user_id": "a"}, {"user_id": "b"}], "fallback": {"kind": "capture"}}],
			"default": {"kind": "pool", "pool": "sales"}, "ring_seconds": 30}`)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go w.q.Run(ctx)
		o, err := w.svc.Route(ctx, w.ws, "conv_1", "vis_1")
		if err != nil {
			t.Fatal(err)
		}
		first := o.Decision.Offer[0]
		w.clk.Advance(31 * time.Second)
		w.q.Notify()
		recs := w.waitDecisions("conv_1", 2)
		if recs[1].Attempt != 2 || len(recs[1].Offered) != 1 || recs[1].Offered[0] == first {
			t.Fatalf("reroute: %+v (first rung %s)", recs[1], first)
		}
		skipped := false
		for _, tt := range recs[1].Trace.Targets {
			for _, c := range tt.Candidates {
				if c.UserID == first && c.Skip == routing.SkipNoAnswer {
					skipped = true
				}
			}
		}
		if !skipped {
			t.Fatalf("the trace does not say %s did not answer: %+v", first, recs[1].Trace)
		}
		// Nobody answers again: both were rung, both are still there: a new round rings them again.
		w.clk.Advance(31 * time.Second)
		w.q.Notify()
		recs = w.waitDecisions("conv_1", 3)
		if recs[2].Outcome != routing.OutcomeOffer || !strings.Contains(recs[2].Trace.Summary, "rings them again") {
			t.Fatalf("third decision: %+v", recs[2])
		}
		// Both go away: the pool's fallback, email capture, ends the chain.
		w.set("a", func(r *routing.RepState) { r.Status = routing.StatusAway })
		w.set("b", func(r *routing.RepState) { r.Status = routing.StatusAway })
		w.clk.Advance(31 * time.Second)
		w.q.Notify()
		recs = w.waitDecisions("conv_1", 4)
		if recs[3].Outcome != routing.OutcomeCapture {
			t.Fatalf("fourth decision: %+v", recs[3])
		}
		// A conversation accepted in time is not rerouted.
		if _, err := w.svc.Route(ctx, w.ws, "conv_2", "vis_2"); err != nil {
			t.Fatal(err)
		}
		if err := w.svc.EndOffer(ctx, d, w.ws, "conv_2", "accepted", "a"); err != nil {
			t.Fatal(err)
		}
		var pending int
		d.QueryRow(`SELECT COUNT(*) FROM jobs WHERE dedupe_key LIKE '%conv_2%'`).Scan(&pending)
		if pending != 0 {
			t.Fatalf("%d ring jobs left for an accepted conversation", pending)
		}
		w.clk.Advance(31 * time.Second)
		w.q.Notify()
		time.Sleep(300 * time.Millisecond)
		if recs, _ := w.svc.Decisions(ctx, w.ws, "conv_2"); len(recs) != 1 {
			t.Fatalf("an accepted conversation was rerouted: %d decisions", len(recs))
		}
	})
}

func (w *world) waitDecisions(conv string, n int) []routing.Record {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs, err := w.svc.Decisions(context.Background(), w.ws, conv)
		if err != nil {
			w.t.Fatal(err)
		}
		if len(recs) >= n {
			return recs
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("%s: %d decisions after 10 s, want %d", conv, len(recs), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// With nobody able to chat the visitor is never lost: the chain ends in capture, recorded.
func TestNobodyAvailableEndsInCapture(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, "a", "b")
		w.set("a", func(r *routing.RepState) { r.Status = routing.StatusAway })
		w.set("b", func(r *routing.RepState) { r.Status = routing.StatusOffline })
		ctx := context.Background()
		// Nothing published: the built-in default rings everyone; nobody is there.
		o, err := w.svc.Route(ctx, w.ws, "conv_1", "vis_1")
		if err != nil {
			t.Fatal(err)
		}
		if o.Decision.Outcome != routing.OutcomeCapture || o.Position != 0 {
			t.Fatalf("decision %+v position %d", o.Decision, o.Position)
		}
		if len(w.offers) != 1 || w.offers[0].Decision.Outcome != routing.OutcomeCapture {
			t.Fatalf("OnOffer got %+v", w.offers)
		}
	})
}

// Simulate decides with the draft or a given configuration and writes nothing.
func TestSimulateHasNoSideEffects(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, "a", "b", "c")
		w.publish(poolConfig)
		ctx := context.Background()
		count := func() (n int) {
			d.QueryRow(`SELECT (SELECT COUNT(*) FROM routing_decisions) + (SELECT COUNT(*) FROM routing_ledger) + (SELECT COUNT(*) FROM routing_offers)`).Scan(&n)
			return n
		}
		before := count()
		for range 5 {
			res, err := w.svc.Simulate(ctx, w.ws, routing.SimulateRequest{Visitor: routing.Visitor{Country: "FR"}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Config != "published v1" || res.Decision.Outcome != routing.OutcomeOffer || res.Decision.Offer[0] != "a" {
				t.Fatalf("simulation %+v", res)
			}
		}
		if after := count(); after != before {
			t.Fatalf("simulate wrote %d rows", after-before)
		}
		// What if a were away?
		res, err := w.svc.Simulate(ctx, w.ws, routing.SimulateRequest{Reps: map[string]routing.RepOverride{"a": {Status: routing.StatusAway}}})
		if err != nil || res.Decision.Offer[0] != "b" {
			t.Fatalf("with a away: %+v, %v", res, err)
		}
		// A configuration given with the request: errors point into it.
		_, err = w.svc.Simulate(ctx, w.ws, routing.SimulateRequest{Config: json.RawMessage(`{"pools": [{"id": "x", "name": "X", "strategy": "round_robin", "members": []}]}`)})
		if e := errs.As(err); e == nil || e.Kind != errs.Invalid || e.Field != "config.pools[0].members" {
			t.Fatalf("bad config: %v", err)
		}
		if _, err := w.svc.Simulate(ctx, w.ws, routing.SimulateRequest{Reps: map[string]routing.RepOverride{"nobody": {}}}); !errs.Is(err, errs.Invalid) {
			t.Fatalf("unknown rep: %v", err)
		}
	})
}

// Drafts are checked on save with paths, publish makes versions, and a draft equal to the
// version in force is not published again.
func TestDraftsAndVersions(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, "a", "b", "c")
		ctx := context.Background()
		if _, err := w.svc.Publish(ctx, w.ws, "usr_admin"); !errs.Is(err, errs.Conflict) {
			t.Fatalf("publish without a draft: %v", err)
		}
		_, err := w.svc.SaveDraft(ctx, w.ws, "usr_admin", []byte(`{"rules": [{"id": "r1", "name": "R", "when": {"subject": "geo.country", "op": "eq", "value": "XX"}, "then": {"kind": "capture"}}]}`))
		if e := errs.As(err); e == nil || e.Kind != errs.Invalid || e.Field != "rules[0].when.value" {
			t.Fatalf("unknown country: %v", err)
		}
		_, err = w.svc.SaveDraft(ctx, w.ws, "usr_admin", []byte(`{"pools": [{"id": "p", "name": "P", "strategy": "round_robin", "members": [{"user_id": "a"}], "fallback": {"kind": "pool", "pool": "q"}},
			{"id": "q", "name": "Q", "strategy": "round_robin", "members": [{"user_id": "a"}], "fallback": {"kind": "pool", "pool": "p"}}]}`))
		if e := errs.As(err); e == nil || e.Kind != errs.Invalid {
			t.Fatalf("a fallback cycle: %v", err)
		}
		if _, err := w.svc.SaveDraft(ctx, w.ws, "usr_admin", []byte(`{nope`)); !errs.Is(err, errs.Malformed) {
			t.Fatalf("bad JSON: %v", err)
		}
		dr, err := w.svc.SaveDraft(ctx, w.ws, "usr_admin", []byte(poolConfig))
		if err != nil || !dr.Unpublished || dr.Published != 0 {
			t.Fatalf("draft %+v, %v", dr, err)
		}
		v, err := w.svc.Publish(ctx, w.ws, "usr_admin")
		if err != nil || v.Version != 1 {
			t.Fatalf("publish: %+v, %v", v, err)
		}
		if _, err := w.svc.Publish(ctx, w.ws, "usr_admin"); !errs.Is(err, errs.Conflict) {
			t.Fatalf("publishing the same again: %v", err)
		}
		dr, _ = w.svc.GetDraft(ctx, w.ws)
		if dr.Unpublished || dr.Published != 1 {
			t.Fatalf("after publish: %+v", dr)
		}
		vs, _ := w.svc.Versions(ctx, w.ws)
		if len(vs) != 1 || vs[0].Version != 1 {
			t.Fatalf("versions %+v", vs)
		}
		if _, err := w.svc.GetVersion(ctx, w.ws, 2); !errs.Is(err, errs.NotFound) {
			t.Fatalf("version 2: %v", err)
		}
	})
}

// The report counts the period's offers per rep and pool with the fairness figures; replay
// runs the recorded inputs against a draft.
func TestReportAndReplay(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, "a", "b", "c")
		w.publish(poolConfig)
		ctx := context.Background()
		for i := range 9 {
			w.clk.Advance(time.Second) // decisions in a known order (replay reads them by time)
			if i == 3 {
				w.set("c", func(r *routing.RepState) { r.Status = routing.StatusAway })
			}
			if _, err := w.svc.Route(ctx, w.ws, fmt.Sprintf("conv_%d", i), fmt.Sprintf("vis_%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		rep, err := w.svc.Report(ctx, w.ws, w.clk.Now().Add(-time.Hour), w.clk.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if rep.Decisions[routing.OutcomeOffer] != 9 || len(rep.Pools) != 1 || rep.Pools[0].Placed != 9 {
			t.Fatalf("report %+v", rep)
		}
		p := rep.Pools[0]
		got := map[string]int{}
		for _, m := range p.Members {
			got[m.UserID] = m.Offers
		}
		if got["a"] != 4 || got["b"] != 4 || got["c"] != 1 || p.MaxMinusMin != 3 || p.Gini <= 0 {
			t.Fatalf("pool report %+v", p)
		}
		if _, err := w.svc.Report(ctx, w.ws, w.clk.Now(), w.clk.Now().Add(-time.Hour)); !errs.Is(err, errs.Invalid) {
			t.Fatalf("from after to: %v", err)
		}
		// Replay a draft that sends everyone to b.
		res, err := w.svc.Replay(ctx, w.ws, routing.ReplayRequest{Days: 1, Config: json.RawMessage(`{"default": {"kind": "rep", "user": "b"}, "max_chats": 50}`)})
		if err != nil {
			t.Fatal(err)
		}
		if res.Decisions != 9 || res.Tried.Reps["b"] != 9 || res.Actual.Reps["a"] != 4 {
			t.Fatalf("replay %+v", res)
		}
		if _, err := w.svc.Replay(ctx, w.ws, routing.ReplayRequest{Days: 91}); !errs.Is(err, errs.Invalid) {
			t.Fatalf("91 days: %v", err)
		}
	})
}

// A rep who accepts while the ring job is deciding wins: the reroute is not recorded, no turn is
// spent, nobody else is rung.
func TestAcceptDuringRerouteWins(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, "a", "b", "c")
		w.publish(poolConfig)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go w.q.Run(ctx)
		if _, err := w.svc.Route(ctx, w.ws, "conv_1", "vis_1"); err != nil {
			t.Fatal(err)
		}
		accepted := make(chan struct{})
		w.mu.Lock()
		w.onWaiting = func(conv string) {
			if err := w.svc.EndOffer(context.Background(), d, w.ws, conv, "accepted", "a"); err != nil {
				t.Error(err)
			}
			close(accepted)
		}
		w.mu.Unlock()
		w.clk.Advance(31 * time.Second)
		w.q.Notify()
		select {
		case <-accepted:
		case <-time.After(10 * time.Second):
			t.Fatal("the ring job did not run")
		}
		time.Sleep(300 * time.Millisecond) // the job finishes its decision, if it (wrongly) makes one
		recs, err := w.svc.Decisions(ctx, w.ws, "conv_1")
		if err != nil || len(recs) != 1 {
			t.Fatalf("%d decisions after an accept during the reroute, want 1 (%v)", len(recs), err)
		}
		var turns int64
		d.QueryRow(`SELECT turns FROM routing_pools WHERE workspace_id = $1`, w.ws).Scan(&turns)
		if turns != 1 {
			t.Fatalf("%d turns spent, want 1", turns)
		}
		rep, err := w.svc.Report(ctx, w.ws, w.clk.Now().Add(-time.Hour), w.clk.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rep.Reps {
			if r.UserID == "a" && r.Accepted != 1 {
				t.Fatalf("report: a accepted %d, want 1", r.Accepted)
			}
		}
	})
}

// Admins publishing at once get versions one after the other, or a conflict; never an internal
// error.
func TestConcurrentPublish(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, "a", "b", "c")
		ctx := context.Background()
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				cfg := fmt.Sprintf(`{"ring_seconds": %d}`, 20+i)
				if _, err := w.svc.SaveDraft(ctx, w.ws, "usr_admin", []byte(cfg)); err != nil {
					t.Error(err)
					return
				}
				if _, err := w.svc.Publish(ctx, w.ws, "usr_admin"); err != nil && !errs.Is(err, errs.Conflict) {
					t.Errorf("publish: %v (kind %v)", err, errs.KindOf(err))
				}
			})
		}
		wg.Wait()
		vs, err := w.svc.Versions(ctx, w.ws)
		if err != nil || len(vs) == 0 {
			t.Fatalf("versions %v, %v", vs, err)
		}
		for i, v := range vs {
			if v.Version != len(vs)-i {
				t.Fatalf("versions %+v: not numbered 1…n", vs)
			}
		}
	})
}

// Conversations ringing a rep alone count toward the rep's cap: a burst cannot pile onto one
// rep; a broadcast's rings count for nobody.
func TestRingingCountsTowardTheCap(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, "a", "b")
		w.publish(`{"pools": [{"id": "one", "name": "One", "strategy": "least_busy", "members": [{"user_id": "a"}], "fallback": {"kind": "capture"}}],
			"default": {"kind": "pool", "pool": "one"}, "max_chats": 2}`)
		ctx := context.Background()
		var outcomes []string
		for i := range 3 {
			o, err := w.svc.Route(ctx, w.ws, fmt.Sprintf("conv_%d", i), fmt.Sprintf("vis_%d", i))
			if err != nil {
				t.Fatal(err)
			}
			outcomes = append(outcomes, o.Decision.Outcome)
		}
		if fmt.Sprint(outcomes) != "[offer offer capture]" {
			t.Fatalf("outcomes %v: the third visitor must not ring a rep already rung twice under a cap of 2", outcomes)
		}
		w.publish(`{"teams": [{"id": "t", "name": "T", "members": ["a", "b"]}], "default": {"kind": "team", "team": "t"}, "max_chats": 1}`)
		for i := range 3 {
			o, err := w.svc.Route(ctx, w.ws, fmt.Sprintf("team_%d", i), fmt.Sprintf("tvis_%d", i))
			if err != nil {
				t.Fatal(err)
			}
			// a is still rung for two visitors alone (at a cap of 1); b, rung only by the team,
			// stays under it however many team rings there are.
			if o.Decision.Outcome != routing.OutcomeOffer || fmt.Sprint(o.Decision.Offer) != "[b]" {
				t.Fatalf("team ring %d: %+v", i, o.Decision)
			}
		}
	})
}
