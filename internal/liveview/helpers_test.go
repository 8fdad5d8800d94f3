package liveview

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/id"
	"github.com/beckonhq/beckon/internal/workspace"
)

var t0 = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

// settingsBox is a workspace's settings that a test changes; it counts the reads.
type settingsBox struct {
	mu    sync.Mutex
	st    workspace.Settings
	err   error
	reads int
}

func newSettings() *settingsBox { return &settingsBox{st: workspace.DefaultSettings()} }

func (s *settingsBox) get(context.Context, string) (workspace.Settings, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	st := s.st
	st.LiveViewBlock = slices.Clone(st.LiveViewBlock)
	st.TargetAccounts = slices.Clone(st.TargetAccounts)
	return st, s.err
}

func (s *settingsBox) set(f func(*workspace.Settings)) {
	s.mu.Lock()
	f(&s.st)
	s.mu.Unlock()
}

// counter counts the deltas a registry applied, per workspace, and lets a test wait for them.
type counter struct {
	mu sync.Mutex
	n  map[string]int
	ch chan struct{}
}

func newCounter() *counter { return &counter{n: map[string]int{}, ch: make(chan struct{}, 1)} }

func (c *counter) inc(ws string) {
	c.mu.Lock()
	c.n[ws]++
	c.mu.Unlock()
	select {
	case c.ch <- struct{}{}:
	default:
	}
}

func (c *counter) get(ws string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[ws]
}

// wait returns once n deltas of ws were applied, failing the test after 10 s.
func (c *counter) wait(t testing.TB, ws string, n int) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for c.get(ws) < n {
		select {
		case <-c.ch:
		case <-deadline.C:
			t.Fatalf("applied %d deltas of %s, want %d", c.get(ws), ws, n)
		}
	}
}

// fixture is a registry on a bus, ticked by hand, with a fake clock and settings the test sets.
type fixture struct {
	t        *testing.T
	clk      *clock.Fake
	bus      bus.Bus
	reg      *Registry
	settings *settingsBox
	applied  *counter
	ws       string
	sent     int // deltas published to ws so far, which each registry applies
}

func newFixture(t *testing.T, o Options) *fixture {
	t.Helper()
	f := &fixture{t: t, clk: clock.NewFake(t0), settings: newSettings(), applied: newCounter(), ws: id.New("ws")}
	if o.Bus == nil {
		o.Bus = bus.NewInProcess()
		t.Cleanup(func() { o.Bus.Close() })
	}
	f.bus = o.Bus
	if c, ok := o.Clock.(*clock.Fake); ok {
		f.clk = c
	}
	if o.Clock == nil {
		o.Clock = f.clk
	}
	if o.Settings == nil {
		o.Settings = f.settings.get
	}
	o.manual = true
	o.onApply = f.applied.inc
	reg, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	f.reg = reg
	return f
}

// sync waits until the registry applied every delta published so far.
func (f *fixture) sync() {
	f.t.Helper()
	f.applied.wait(f.t, f.ws, f.sent)
}

func (f *fixture) page(vid, sid, url string, mod ...func(*PageEvent)) {
	f.t.Helper()
	e := PageEvent{VisitorID: vid, SessionID: sid, URL: url, Title: "Title of " + url}
	for _, m := range mod {
		m(&e)
	}
	f.reg.Page(context.Background(), f.ws, e)
	f.sent++
	f.sync()
}

func newVisitor(e *PageEvent) {
	e.NewVisitor, e.NewSession, e.Country, e.Device = true, true, "DE", "desktop"
	e.ConversationKnown = true
}

func (f *fixture) seen(vid string) {
	f.t.Helper()
	f.reg.Seen(context.Background(), f.ws, vid)
	f.sent++
	f.sync()
}

func (f *fixture) leave(vid string) {
	f.t.Helper()
	f.reg.Leave(context.Background(), f.ws, vid)
	f.sent++
	f.sync()
}

// profile publishes what a database read would have found about a visitor.
func (f *fixture) profile(vid, sid string, p profile, conv *string) {
	f.t.Helper()
	f.reg.publish(context.Background(), f.ws, &delta{Op: opProfile, V: vid, S: sid, At: micro(f.clk.Now()), P: &p, Conv: conv})
	f.sent++
	f.sync()
}

// recorder collects the frames of a watcher.
type recorder struct {
	mu     sync.Mutex
	frames []Frame
}

func (r *recorder) send(f Frame) {
	r.mu.Lock()
	r.frames = append(r.frames, f)
	r.mu.Unlock()
}

// take returns the frames received since the last take.
func (r *recorder) take() []Frame {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.frames
	r.frames = nil
	return out
}

func (f *fixture) watch() (*recorder, func()) {
	f.t.Helper()
	rec := &recorder{}
	stop, err := f.reg.Watch(context.Background(), f.ws, rec.send)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(stop)
	return rec, stop
}

// tick sends the coalesced changes and returns the frames rec got.
func (f *fixture) tick(rec *recorder) []Frame {
	f.reg.tick()
	return rec.take()
}

// summary renders frames as "op:id,id op:id" for comparisons.
func summary(frames []Frame) string {
	s := ""
	for i, fr := range frames {
		if i > 0 {
			s += " "
		}
		ids := make([]string, len(fr.Visitors))
		for j, v := range fr.Visitors {
			ids[j] = v.ID
		}
		slices.Sort(ids)
		s += fr.Op + ":"
		for j, id := range ids {
			if j > 0 {
				s += ","
			}
			s += id
		}
	}
	return s
}

// encode returns a frame's JSON as a generic value.
func encode(t *testing.T, f Frame) map[string]any {
	t.Helper()
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
