package presence_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/presence"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/workspace"
)

// envNATS names the variable with the URL of a NATS server; the NATS variants run when it is set.
const envNATS = "BECKON_TEST_NATS_URL"

// Test options: the defaults, spelled out so the tests' arithmetic reads plainly.
const (
	lease    = 30 * time.Second
	tick     = 5 * time.Second
	throttle = 15 * time.Second
)

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

// forEach runs f once per engine (testkit.ForEachDB) and per bus: in process, where every replica
// shares one bus, and NATS when BECKON_TEST_NATS_URL is set, where each replica (and the
// listener) has a connection of its own, as real replicas do.
func forEach(t *testing.T, f func(t *testing.T, h *harness)) {
	t.Helper()
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		t.Run("inprocess", func(t *testing.T) {
			b := bus.NewInProcess()
			t.Cleanup(func() { b.Close() })
			f(t, newHarness(t, d, func(t testing.TB) bus.Bus { return b }))
		})
		if u := os.Getenv(envNATS); u != "" {
			t.Run("nats", func(t *testing.T) {
				f(t, newHarness(t, d, func(t testing.TB) bus.Bus {
					b, err := bus.NewNATS(u, nil)
					if err != nil {
						t.Fatalf("NewNATS: %v", err)
					}
					t.Cleanup(func() { b.Close() })
					return b
				}))
			})
		}
	})
}

// harness is one database shared by any number of replicas, with two workspaces: ws (reps
// reps[0..]) and ws2 (rep other).
type harness struct {
	t       testing.TB
	d       *db.DB
	clk     *clock.Fake
	newBus  func(t testing.TB) bus.Bus
	spaces  *workspace.Store
	ws, ws2 string
	reps    []string
	other   string
	buses   []bus.Bus // every bus a replica publishes on, for settle
	ctx     context.Context
}

func newHarness(t testing.TB, d *db.DB, newBus func(t testing.TB) bus.Bus) *harness {
	t.Helper()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	h := &harness{t: t, d: d, clk: clk, newBus: newBus, spaces: workspace.NewStore(d, clk), ctx: ctx}
	ids := identity.NewService(d, clk, nil, identity.Options{})
	mk := func(name string, n int) (string, []string) {
		w, err := h.spaces.Create(ctx, d, workspace.New{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		var users []string
		for i := range n {
			u, err := ids.CreateUser(ctx, d, identity.NewUser{WorkspaceID: w.ID, Email: fmt.Sprintf("rep%d@%s.example", i, strings.ToLower(name)), Role: identity.RoleRep})
			if err != nil {
				t.Fatal(err)
			}
			users = append(users, u.ID)
		}
		return w.ID, users
	}
	h.ws, h.reps = mk("Acme", 24)
	var others []string
	h.ws2, others = mk("Globex", 1)
	h.other = others[0]
	return h
}

// idle reads the workspace's idle timeout from its settings, as the app wires it.
func (h *harness) idle(ctx context.Context, wsID string) time.Duration {
	w, err := h.spaces.Get(ctx, wsID)
	if err != nil {
		return 0
	}
	return time.Duration(w.Settings.IdleMinutes) * time.Minute
}

// replica returns a Service with its own node id and bus, as one `beckon serve` process.
func (h *harness) replica(node string) *presence.Service {
	b := h.newBus(h.t)
	h.buses = append(h.buses, b)
	return presence.New(h.d, h.clk, b, presence.Options{Node: node, IdleTimeout: h.idle, Lease: lease, Tick: tick, ActiveThrottle: throttle})
}

// setIdle sets a workspace's idle timeout in minutes.
func (h *harness) setIdle(wsID string, minutes int) {
	h.t.Helper()
	if _, err := h.spaces.Update(h.ctx, wsID, workspace.Patch{Settings: &workspace.SettingsPatch{IdleMinutes: &minutes}}); err != nil {
		h.t.Fatal(err)
	}
}

// recorder collects the events of one workspace's subject.
type recorder struct {
	h    *harness
	ws   string
	bus  bus.Bus
	msgs chan bus.Msg
}

const sentinel = `"sentinel"`

func (h *harness) listen(wsID string) *recorder {
	h.t.Helper()
	r := &recorder{h: h, ws: wsID, bus: h.newBus(h.t), msgs: make(chan bus.Msg, 4096)}
	sub, err := r.bus.Subscribe(presence.Subject(wsID), func(m bus.Msg) { r.msgs <- m })
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { sub.Unsubscribe() })
	return r
}

// take returns the events published so far, and no more, in the order of their UpdatedAt, as a
// consumer applies them (the bus does not order messages of different publishers: with NATS, two
// replicas' events may arrive in either order). Every replica's bus is pinged first (a round trip
// to NATS, so the server has routed what they published), then a sentinel is published from the
// listener's bus and events are read until it arrives.
func (r *recorder) take() []presence.State {
	r.h.t.Helper()
	for _, b := range r.h.buses {
		if err := b.Ping(r.h.ctx); err != nil {
			r.h.t.Fatal(err)
		}
	}
	if err := r.bus.Publish(r.h.ctx, presence.Subject(r.ws), []byte(sentinel)); err != nil {
		r.h.t.Fatal(err)
	}
	var out []presence.State
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-r.msgs:
			if string(m.Data) == sentinel {
				slices.SortStableFunc(out, func(a, b presence.State) int { return a.UpdatedAt.Compare(b.UpdatedAt) })
				return out
			}
			var st presence.State
			if err := json.Unmarshal(m.Data, &st); err != nil {
				r.h.t.Fatalf("event %q: %v", m.Data, err)
			}
			out = append(out, st)
		case <-timeout:
			r.h.t.Fatal("the sentinel did not arrive within 10 s")
		}
	}
}

// next returns the next message, failing after 10 s.
func (r *recorder) next() bus.Msg {
	r.h.t.Helper()
	select {
	case m := <-r.msgs:
		return m
	case <-time.After(10 * time.Second):
		r.h.t.Fatal("no event within 10 s")
	}
	return bus.Msg{}
}

// wait returns the next event, failing after 10 s.
func (r *recorder) wait() presence.State {
	r.h.t.Helper()
	m := r.next()
	var st presence.State
	if err := json.Unmarshal(m.Data, &st); err != nil {
		r.h.t.Fatalf("event %q: %v", m.Data, err)
	}
	return st
}

// brief renders states as "user status/reason" lines for comparisons.
func brief(h *harness, sts []presence.State) []string {
	names := map[string]string{h.other: "other"}
	for i, u := range h.reps {
		names[u] = fmt.Sprintf("rep%d", i)
	}
	out := []string{}
	for _, st := range sts {
		out = append(out, fmt.Sprintf("%s %s/%s", names[st.UserID], st.Status, st.Reason))
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
