package realtime_test

import (
	"context"
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

func (s *sink) Deliver(subject string, data []byte) {
	s.mu.Lock()
	s.got = append(s.got, subject+"="+string(data))
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
	if n := h.Subjects(); n != 2 {
		t.Fatalf("subjects = %d, want 2 (one bus subscription per subject)", n)
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

func (s *countSink) Deliver(string, []byte) {}
