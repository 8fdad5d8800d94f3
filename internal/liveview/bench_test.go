package liveview

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/chat"
	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/field"
	"github.com/beckonhq/beckon/internal/id"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/visitor"
	"github.com/beckonhq/beckon/internal/workspace"
)

// BenchmarkRegistry5000 applies deltas for 5,000 visitors of one workspace watched by 20
// watchers, as the bus handler does, with the fake clock moving 200 µs a delta (5,000 deltas a
// second) and the frames sent every 250 ms of that clock. "baseline-map" is the floor: the same
// updates to a bare map under a mutex. The frames are built and handed to the watchers (which
// only count them); encoding them to JSON, once per frame, is in "frame-json".
func BenchmarkRegistry5000(b *testing.B) {
	const visitors, nWatchers = 5000, 20
	ids := make([]string, visitors)
	for i := range ids {
		ids[i] = id.New("vis")
	}
	urls := [2]string{"https://acme.example/pricing", "https://acme.example/docs/getting-started"}

	b.Run("baseline-map", func(b *testing.B) {
		type entry struct {
			url, title string
			seen       time.Time
			views      int
		}
		var mu sync.Mutex
		m := make(map[string]*entry, visitors)
		for _, v := range ids {
			m[v] = &entry{}
		}
		clk := clock.NewFake(t0)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			clk.Advance(200 * time.Microsecond)
			mu.Lock()
			e := m[ids[i%visitors]]
			e.url, e.title, e.seen = urls[i&1], "Title", clk.Now()
			e.views++
			mu.Unlock()
		}
	})

	// setup returns a registry holding the 5,000 visitors, watched 20 times.
	setup := func(b *testing.B) (*Registry, *clock.Fake, string, *atomic.Int64) {
		b.Helper()
		bs := bus.NewInProcess()
		b.Cleanup(func() { bs.Close() })
		clk := clock.NewFake(t0)
		r, err := New(Options{Bus: bs, Clock: clk, Settings: newSettings().get, manual: true})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { r.Close() })
		ws := id.New("ws")
		for _, v := range ids {
			r.apply(ws, &delta{Op: opPage, V: v, S: "vsn_" + v, At: micro(clk.Now()), URL: urls[0], Title: "Home", NewV: true, NewS: true})
		}
		var frames atomic.Int64
		for range nWatchers {
			stop, err := r.Watch(context.Background(), ws, func(Frame) { frames.Add(1) })
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(stop)
		}
		r.tick()
		frames.Store(0)
		return r, clk, ws, &frames
	}
	const perTick = 1250 // 250 ms at 200 µs a delta

	run := func(b *testing.B, op string, viaJSON bool) {
		r, clk, ws, frames := setup(b)
		deltas := make([]delta, 2*visitors)
		raw := make([][]byte, len(deltas))
		for i := range deltas {
			v := ids[i%visitors]
			deltas[i] = delta{Op: op, V: v}
			if op == opPage {
				deltas[i].S, deltas[i].URL, deltas[i].Title = "vsn_"+v, urls[(i/visitors)&1], "Page"
			}
			raw[i], _ = json.Marshal(&deltas[i])
		}
		subject := SubjectPrefix + ws
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			clk.Advance(200 * time.Microsecond)
			k := i % len(deltas)
			if viaJSON {
				r.handle(bus.Msg{Subject: subject, Data: raw[k]})
			} else {
				d := deltas[k]
				d.At = micro(clk.Now())
				r.apply(ws, &d)
			}
			if i%perTick == perTick-1 {
				r.tick()
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(frames.Load())/float64(b.N), "frames/op")
	}
	b.Run("seen", func(b *testing.B) { run(b, opSeen, false) })
	b.Run("page", func(b *testing.B) { run(b, opPage, false) })
	b.Run("page-json", func(b *testing.B) { run(b, opPage, true) })

	b.Run("publish-encode", func(b *testing.B) {
		d := delta{Op: opPage, V: ids[0], S: "vsn_" + ids[0], At: micro(t0), URL: urls[0], Title: "Pricing", O: "0123456789abcdef"}
		b.ReportAllocs()
		for range b.N {
			if _, err := json.Marshal(&d); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("frame-json", func(b *testing.B) {
		vs := make([]Visitor, FrameSize)
		for i := range vs {
			vs[i] = Visitor{ID: ids[i], SessionID: "vsn_" + ids[i], PageURL: urls[0], PageTitle: "Pricing", StartedAt: t0,
				LastSeenAt: t0, Country: "DE", Device: "desktop", PageViews: 3, Fields: map[string]string{"company": fmt.Sprint("Company ", i)}}
		}
		b.ReportAllocs()
		for range b.N {
			if _, err := newFrame(OpUpsert, vs).JSON(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLoad5000 measures what the first watcher of a workspace with 5,000 visitors on its
// site waits for: reading them (sessions, last page views, field values) from SQLite, merging
// them and building the snapshot frames. The baseline is the bare session query.
func BenchmarkLoad5000(b *testing.B) {
	const visitors = 5000
	d := testkit.SQLite(b)
	ctx := context.Background()
	clk := clock.NewFake(t0)
	wss := workspace.NewStore(d, clk)
	ws, err := wss.Create(ctx, d, workspace.New{Name: "Acme"})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := visitor.New(d, clk, nil, visitor.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close(ctx)
	fields := field.NewStore(d, clk)
	// Rows written directly, as 5,000 hellos would leave them, to keep the setup short.
	err = d.InTx(ctx, func(tx *sql.Tx) error {
		at := db.Micro(t0)
		for i := range visitors {
			vid, sid := id.New("vis"), id.New("vsn")
			if _, err := tx.ExecContext(ctx, `INSERT INTO visitors (id, workspace_id, first_seen_at, last_seen_at, sessions_count,
				created_at, updated_at) VALUES ($1, $2, $3, $3, 1, $3, $3)`, vid, ws.ID, at); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO visitor_sessions (id, workspace_id, visitor_id, started_at, last_activity_at,
				last_seen_at, landing_url, device, country, page_views) VALUES ($1, $2, $3, $4, $4, $4, $5, 'desktop', 'DE', 2)`,
				sid, ws.ID, vid, at, "https://acme.example/"); err != nil {
				return err
			}
			for j := range 2 {
				if _, err := tx.ExecContext(ctx, `INSERT INTO page_views (id, workspace_id, visitor_id, session_id, url, title, at)
					VALUES ($1, $2, $3, $4, $5, 'Page', $6)`, id.New("pv"), ws.ID, vid, sid, fmt.Sprint("https://acme.example/", j), at+int64(j)); err != nil {
					return err
				}
			}
			if i%2 == 0 {
				if _, err := tx.ExecContext(ctx, `INSERT INTO field_values (workspace_id, visitor_id, field_key, source, value, updated_at)
					VALUES ($1, $2, 'company', 'api', $3, $4)`, ws.ID, vid, fmt.Sprint("Company ", i), at); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	settings := func(ctx context.Context, wsID string) (workspace.Settings, error) {
		w, err := wss.Get(ctx, wsID)
		if err != nil {
			return workspace.Settings{}, err
		}
		return w.Settings, nil
	}
	b.Run("baseline-query", func(b *testing.B) {
		for range b.N {
			list, err := svc.LiveSessions(ctx, ws.ID, t0.Add(-time.Minute), 0)
			if err != nil || len(list) != visitors {
				b.Fatal(len(list), err)
			}
		}
	})
	// The app asks chat one visitor at a time (see internal/app), which "first-watch+chat" measures.
	chats := chat.New(d, clk)
	inConv := func(ctx context.Context, wsID string, ids []string) (map[string]string, error) {
		out := map[string]string{}
		for _, vid := range ids {
			if c, err := chats.OpenConversation(ctx, wsID, vid); err != nil {
				return nil, err
			} else if c != nil {
				out[vid] = c.ID
			}
		}
		return out, nil
	}
	for _, c := range []struct {
		name string
		conv func(ctx context.Context, wsID string, ids []string) (map[string]string, error)
	}{{"first-watch", nil}, {"first-watch+chat", inConv}} {
		b.Run(c.name, func(b *testing.B) {
			benchFirstWatch(b, visitors, ws.ID, Options{Clock: clk, Settings: settings, Sessions: svc, Fields: fields, InConversation: c.conv})
		})
	}
}

// benchFirstWatch measures a new registry's first Watch of a workspace with visitors on its site.
func benchFirstWatch(b *testing.B, visitors int, wsID string, o Options) {
	ctx := context.Background()
	b.ReportAllocs()
	for range b.N {
		bs := bus.NewInProcess()
		o.Bus, o.manual = bs, true
		r, err := New(o)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		stop, err := r.Watch(ctx, wsID, func(f Frame) { n += len(f.Visitors) })
		if err != nil || n != visitors {
			b.Fatal(n, err)
		}
		stop()
		r.Close()
		bs.Close()
	}
}
