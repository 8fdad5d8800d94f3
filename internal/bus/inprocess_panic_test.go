package bus

import (
	"context"
	"testing"
	"time"
)

// TestHandlerPanicIsContained proves a panicking handler neither crashes the process nor stops
// its subscription.
func TestHandlerPanicIsContained(t *testing.T) {
	b := NewInProcess()
	defer b.Close()
	got := make(chan string, 2)
	sub, err := b.Subscribe("p.x", func(m Msg) {
		if string(m.Data) == "boom" {
			panic("bad message")
		}
		got <- string(m.Data)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	ctx := context.Background()
	b.Publish(ctx, "p.x", []byte("boom"))
	b.Publish(ctx, "p.x", []byte("after"))
	select {
	case m := <-got:
		if m != "after" {
			t.Fatalf("got %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscription stopped after a panic")
	}
}
