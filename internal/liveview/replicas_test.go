package liveview

import (
	"context"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/visitor"
)

// envNATS names the NATS server the replica test also runs on, when set.
const envNATS = "BECKON_TEST_NATS_URL"

// TestReplicasAgree runs two registries, as two replicas, on one bus and one database: deltas
// published by either, and the profiles each reads from the database for the visitors it met,
// reach both, and both show the same visitors.
func TestReplicasAgree(t *testing.T) {
	buses := map[string]func(t *testing.T) (bus.Bus, bus.Bus){
		"inprocess": func(t *testing.T) (bus.Bus, bus.Bus) {
			b := bus.NewInProcess()
			t.Cleanup(func() { b.Close() })
			return b, b
		},
	}
	if u := os.Getenv(envNATS); u != "" {
		buses["nats"] = func(t *testing.T) (bus.Bus, bus.Bus) {
			var out [2]bus.Bus
			for i := range out {
				b, err := bus.NewNATS(u, nil)
				if err != nil {
					t.Fatalf("NATS at %s: %v", envNATS, err)
				}
				t.Cleanup(func() { b.Close() })
				out[i] = b
			}
			return out[0], out[1]
		}
	} else {
		t.Log(envNATS + " not set: in process only")
	}
	for name, mk := range buses {
		t.Run(name, func(t *testing.T) {
			d := testkit.SQLite(t)
			busA, busB := mk(t)
			a := newDBFixtureOn(t, d, busA)
			appliedB := newCounter()
			o := a.reg.opt
			o.Bus, o.onApply = busB, appliedB.inc
			b, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			ctx := context.Background()
			sent := 0
			both := func() {
				t.Helper()
				a.applied.wait(t, a.ws, sent)
				appliedB.wait(t, a.ws, sent)
			}
			recA, recB := &recorder{}, &recorder{}
			for _, w := range []struct {
				r   *Registry
				rec *recorder
			}{{a.reg, recA}, {b, recB}} {
				stop, err := w.r.Watch(ctx, a.ws, w.rec.send)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(stop)
				w.rec.take()
			}

			// Two new visitors, one on each replica, and a returning one on A.
			v1 := a.hello(a.ws, "", "https://acme.example/", "Home")
			v2 := a.hello(a.ws, "", "https://acme.example/", "Home")
			a.clk.Set(t0.Add(-2 * time.Hour))
			v3 := a.hello(a.ws, "", "https://acme.example/", "Home")
			a.setFields(v3.VisitorID, map[string]string{"first_name": "Grace", "company": "Initech"})
			a.clk.Set(t0)
			v3 = a.hello(a.ws, v3.VisitorID, "https://acme.example/docs", "Docs")
			a.flush()
			pageOf := func(r *visitor.HelloResult, url string) PageEvent {
				return PageEvent{VisitorID: r.VisitorID, SessionID: r.SessionID, URL: url, Title: "T", NewVisitor: r.NewVisitor,
					NewSession: r.NewSession, Country: "DE", Device: "desktop", ConversationKnown: true}
			}
			a.reg.Page(ctx, a.ws, pageOf(v1, "https://acme.example/"))
			b.Page(ctx, a.ws, pageOf(v2, "https://acme.example/"))
			a.reg.Page(ctx, a.ws, pageOf(v3, "https://acme.example/docs"))
			sent += 3
			both()
			a.reg.hyd.wait() // A met v3 knowing too little: it reads and publishes v3's profile
			sent++
			both()
			b.hyd.mu.Lock()
			if b.hyd.n != 0 || b.hyd.running || b.hyd.idle != nil {
				t.Error("B read the database for deltas A published")
			}
			b.hyd.mu.Unlock()

			a.clk.Advance(time.Second)
			b.Page(ctx, a.ws, PageEvent{VisitorID: v1.VisitorID, SessionID: v1.SessionID, URL: "https://acme.example/pricing", Title: "Pricing"})
			a.reg.Leave(ctx, a.ws, v2.VisitorID)
			a.setFields(v3.VisitorID, map[string]string{"title": "Admiral"})
			b.Changed(ctx, a.ws, v3.VisitorID, "")
			sent += 3
			both()
			b.hyd.wait()
			sent++
			both()
			a.clk.Advance(DefaultLeaveGrace)
			a.reg.tick()
			b.tick()

			snapA, errA := a.reg.Snapshot(ctx, a.ws)
			snapB, errB := b.Snapshot(ctx, a.ws)
			if errA != nil || errB != nil {
				t.Fatal(errA, errB)
			}
			if !reflect.DeepEqual(snapA, snapB) {
				t.Errorf("the replicas disagree:\nA %+v\nB %+v", snapA, snapB)
			}
			if len(snapA) != 2 || snapA[0].ID != v1.VisitorID && snapA[1].ID != v1.VisitorID {
				t.Fatalf("snapshot = %+v, want v1 and v3", snapA)
			}
			for _, v := range snapA {
				switch v.ID {
				case v1.VisitorID:
					if v.PageURL != "https://acme.example/pricing" || v.PageViews != 2 {
						t.Errorf("v1 = %+v", v)
					}
				case v3.VisitorID:
					if v.Name != "Grace" || v.Title != "Admiral" || v.Company != "Initech" || !v.Returning {
						t.Errorf("v3 = %+v", v)
					}
				default:
					t.Errorf("unexpected %+v", v)
				}
			}
			// The watchers of both saw the same frames.
			if sa, sb := summary(recA.take()), summary(recB.take()); sa != sb {
				t.Errorf("watchers got different frames:\nA %s\nB %s", sa, sb)
			}
		})
	}
}
