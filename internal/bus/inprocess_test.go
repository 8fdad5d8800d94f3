package bus

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestInProcessDrops checks the bound on a subscription's queue: a full queue drops new messages
// without blocking the publisher, counts them, warns once per burst, and delivers the rest in order.
func TestInProcessDrops(t *testing.T) {
	log, logs := newTestLogger()
	const limit = 4
	b := newInProcess(log, limit)
	defer b.Close()
	entered, release := make(chan struct{}, 100), make(chan struct{})
	got := make(chan Msg, 100)
	subscribe(t, b, "x", func(m Msg) {
		entered <- struct{}{}
		<-release
		got <- m
	})

	burst := func(first int) {
		publish(t, b, "x", strconv.Itoa(first))
		<-entered // the handler holds message first; the queue is empty
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := first + 1; i < first+20; i++ {
				publish(t, b, "x", strconv.Itoa(i))
			}
		}()
		select {
		case <-done:
		case <-time.After(wait):
			t.Fatal("Publish blocked on a full queue")
		}
	}

	burst(0)
	if n := b.drops.Load(); n != 20-1-limit {
		t.Errorf("dropped %d messages, want %d", n, 20-1-limit)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings for one burst, want 1:\n%s", n, logs)
	}
	release <- struct{}{} // message 0
	if m := recv(t, got); string(m.Data) != "0" {
		t.Fatalf("got %q first", m.Data)
	}
	for i := range limit { // then the queued ones, in order
		<-entered
		release <- struct{}{}
		if m := recv(t, got); string(m.Data) != strconv.Itoa(i+1) {
			t.Fatalf("after the burst got %q, want %d", m.Data, i+1)
		}
	}

	burst(100) // a second burst warns again
	if n := strings.Count(logs.String(), "level=WARN"); n != 2 {
		t.Errorf("%d warnings for two bursts, want 2:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "caught up") || !strings.Contains(logs.String(), "dropped=15") {
		t.Errorf("no note that the subscriber caught up after dropping 15:\n%s", logs)
	}
	close(release)
}

func TestInProcessClosedPublishDoesNotDeliver(t *testing.T) {
	b := NewInProcess()
	got := make(chan Msg, 1)
	subscribe(t, b, "x", collect(got))
	b.Close()
	if err := b.Publish(context.Background(), "x", nil); err == nil {
		t.Fatal("Publish after Close succeeded")
	}
	select {
	case m := <-got:
		t.Fatalf("closed bus delivered %q", m.Data)
	case <-time.After(20 * time.Millisecond):
	}
}
