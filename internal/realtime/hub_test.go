package realtime_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/realtime"
)

type sink struct {
	mu  sync.Mutex
	got []string
	ch  chan struct{}
}

func newSink() *sink { return &sink{ch: make(chan struct{}, 100)} }

func (s *sink) Deliver(m *realtime.Msg) {
	s.mu.Lock()
	s.got = append(s.got, m.Subject+"="+string(m.Data))
	s.mu.Unlock()
	s.ch <- struct{}{}
}

func (s *sink) wait(t *testing.T, n int) []string {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case <-s.ch:
		case <-timeout:
			t.Fatalf("got %d of %d deliveries", i, n)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

func TestHubSharesSubscriptions(t *testing.T) {
	b := bus.NewInProcess()
	defer b.Close()
	h := realtime.New(b, nil)
	a, c := newSink(), newSink()
	leaveA, err := h.Join("chat.w1.*", a)
	if err != nil {
		t.Fatal(err)
	}
	leaveC, err := h.Join("chat.w1.*", c)
	if err != nil {
		t.Fatal(err)
	}
	leaveC2, err := h.Join("chat.w1.c1", c)
	if err != nil {
		t.Fatal(err)
	}
	if n := h.Subjects(); n != 1 {
		t.Fatalf("bus subscriptions = %d, want 1 (a conversation's subject rides its workspace's)", n)
	}
	ctx := context.Background()
	b.Publish(ctx, "chat.w1.c1", []byte("1"))
	if got := a.wait(t, 1); got[0] != "chat.w1.c1=1" {
		t.Fatalf("a got %v", got)
	}
	if got := c.wait(t, 2); len(got) != 2 {
		t.Fatalf("c got %v, want the message once per joined subject", got)
	}
	leaveA()
	leaveA() // idempotent
	leaveC2()
	b.Publish(ctx, "chat.w1.c2", []byte("2"))
	if got := c.wait(t, 1); got[2] != "chat.w1.c2=2" {
		t.Fatalf("c got %v", got)
	}
	leaveC()
	if n := h.Subjects(); n != 0 {
		t.Fatalf("subjects = %d after everyone left", n)
	}
	b.Publish(ctx, "chat.w1.c1", []byte("3"))
	time.Sleep(20 * time.Millisecond) // nothing may arrive; a late delivery would show below
	if len(a.got) != 1 || len(c.got) != 3 {
		t.Fatalf("delivered after leaving: a=%v c=%v", a.got, c.got)
	}
	if _, err := h.Join("bad subject", a); err == nil {
		t.Fatal("a bad subject was accepted")
	}
}

// TestHubRoutes: a thousand visitors' own subjects cost one bus subscription, and each message
// reaches only its subject's sinks.
func TestHubRoutes(t *testing.T) {
	b := bus.NewInProcess()
	defer b.Close()
	h := realtime.New(b, nil)
	sinks := make([]*sink, 1000)
	leaves := make([]func(), 1000)
	for i := range sinks {
		sinks[i] = newSink()
		var err error
		if leaves[i], err = h.Join(fmt.Sprintf("visitor.w1.v%d", i), sinks[i]); err != nil {
			t.Fatal(err)
		}
	}
	other := newSink()
	leaveOther, _ := h.Join("visitor.w2.v1", other)
	inbox := newSink()
	leaveInbox, _ := h.Join("inbox.w1", inbox)
	if n := h.Subjects(); n != 3 {
		t.Fatalf("bus subscriptions = %d, want 3 (visitor.w1.*, visitor.w2.*, inbox.w1)", n)
	}
	b.Publish(context.Background(), "visitor.w1.v7", []byte("hi"))
	if got := sinks[7].wait(t, 1); got[0] != "visitor.w1.v7=hi" {
		t.Fatalf("v7 got %v", got)
	}
	b.Publish(context.Background(), "visitor.w1.v8", []byte("x")) // a marker: v7 must not get it
	sinks[8].wait(t, 1)
	if len(sinks[7].got) != 1 || len(other.got) != 0 || len(inbox.got) != 0 {
		t.Fatalf("a message reached the wrong sinks: v7 %v, w2 %v, inbox %v", sinks[7].got, other.got, inbox.got)
	}
	for _, l := range leaves {
		l()
	}
	leaveOther()
	leaveInbox()
	if n := h.Subjects(); n != 0 {
		t.Fatalf("bus subscriptions = %d after everyone left", n)
	}
}

func TestHubConcurrentJoinLeave(t *testing.T) {
	b := bus.NewInProcess()
	defer b.Close()
	h := realtime.New(b, nil)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &countSink{}
			for j := 0; j < 100; j++ {
				leave, err := h.Join("inbox.w1", s)
				if err != nil {
					t.Error(err)
					return
				}
				b.Publish(context.Background(), "inbox.w1", []byte("x"))
				leave()
			}
		}()
	}
	wg.Wait()
	if n := h.Subjects(); n != 0 {
		t.Fatalf("subjects = %d after every sink left", n)
	}
}

type countSink struct{ n int64 }

func (s *countSink) Deliver(*realtime.Msg) {}

func TestMsgMemo(t *testing.T) {
	m := realtime.NewMsg("chat.w.c", []byte("x"))
	calls := 0
	for i := 0; i < 3; i++ {
		v, err := m.Memo("k", func() (any, error) { calls++; return calls, nil })
		if v != 1 || err != nil {
			t.Fatalf("Memo = %v, %v", v, err)
		}
	}
	nested, _ := m.Memo("nested", func() (any, error) { return m.Memo("k", nil) }) // a memo may use another
	if nested != 1 {
		t.Fatalf("nested = %v", nested)
	}
	if v, _ := m.Memo("other", func() (any, error) { return "o", nil }); v != "o" || calls != 1 {
		t.Fatalf("other key: %v, calls %d", v, calls)
	}
}
