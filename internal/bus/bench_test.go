package bus

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkInProcess measures in-process publish→deliver of 64-byte messages: an op is one message
// published and handed to every matching subscriber's handler.
//
//   - latency: publish one message, wait until its handlers have run, repeat.
//   - throughput (the others): publish windows of 1000 messages (well under QueueLen, so nothing is
//     dropped) and wait for each window's delivery before the next, from one goroutine, or from
//     every GOMAXPROCS goroutine for "parallel".
//
// The "dropped/op" metric must stay 0; a non-zero value means the benchmark outran a queue and
// measures dropping instead of delivering.
func BenchmarkInProcess(b *testing.B) {
	cases := []struct {
		name     string
		patterns []string
		others   int  // unrelated subscriptions in the index
		window   int  // messages in flight at most; 1 measures latency
		parallel bool // publish from GOMAXPROCS goroutines
	}{
		{name: "latency", patterns: []string{"chat.w1.c1"}, window: 1},
		{name: "exact", patterns: []string{"chat.w1.c1"}, window: 1000},
		{name: "wildcard", patterns: []string{"chat.w1.*"}, window: 1000},
		{name: "fan-out-10", patterns: repeat("chat.w1.c1", 10), window: 1000},
		{name: "among-10000", patterns: []string{"chat.w1.c1", "chat.*.c1", "chat.>"}, others: 10000, window: 1000},
		{name: "parallel", patterns: []string{"chat.w1.c1"}, window: 1000, parallel: true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			bus := newInProcess(slog.New(slog.DiscardHandler), QueueLen)
			defer bus.Close()
			// Each handler call adds one; the waiting publisher sleeps on cond until the window is in.
			var (
				mu        sync.Mutex
				cond      = sync.NewCond(&mu)
				delivered int64
				waitFor   atomic.Int64
			)
			for _, p := range c.patterns {
				subscribe(b, bus, p, func(Msg) {
					mu.Lock()
					delivered++
					if delivered >= waitFor.Load() {
						cond.Broadcast()
					}
					mu.Unlock()
				})
			}
			for i := range c.others {
				subscribe(b, bus, fmt.Sprintf("chat.w%d.*", i+2), func(Msg) {})
			}
			data := make([]byte, 64)
			ctx := context.Background()
			var sent atomic.Int64
			// publishWindow publishes n messages and waits for all delivered so far to arrive.
			publishWindow := func(n int) {
				for range n {
					if err := bus.Publish(ctx, "chat.w1.c1", data); err != nil {
						b.Error(err)
						return
					}
				}
				want := (sent.Add(int64(n))) * int64(len(c.patterns))
				mu.Lock()
				for delivered+bus.drops.Load() < want {
					waitFor.Store(want)
					cond.Wait()
				}
				mu.Unlock()
			}
			b.ReportAllocs()
			b.ResetTimer()
			if c.parallel {
				b.RunParallel(func(pb *testing.PB) {
					n := 0
					for pb.Next() {
						if n++; n == c.window {
							publishWindow(n)
							n = 0
						}
					}
					publishWindow(n)
				})
			} else {
				for i := 0; i < b.N; i += c.window {
					publishWindow(min(c.window, b.N-i))
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(bus.drops.Load())/float64(b.N), "dropped/op")
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}
