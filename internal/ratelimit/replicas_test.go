package ratelimit

import (
	"crypto/rand"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/clock"
)

// envNATS names the variable with the URL of a NATS server; the NATS variant runs when it is set.
const envNATS = "BECKON_TEST_NATS_URL"

func TestReplicasInProcess(t *testing.T) {
	b := bus.NewInProcess()
	defer b.Close()
	testReplicas(t, func(t *testing.T) bus.Bus { return b })
}

// TestReplicasNATS runs the same over a NATS server, each replica with a connection of its own.
func TestReplicasNATS(t *testing.T) {
	u := os.Getenv(envNATS)
	if u == "" {
		t.Skip(envNATS + " is not set")
	}
	testReplicas(t, func(t *testing.T) bus.Bus {
		b, err := bus.NewNATS(u, nil)
		if err != nil {
			t.Fatalf("NewNATS: %v", err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	})
}

// testReplicas has one client try a request every 10 ms of simulated time, cycling over R
// replicas that flush every 100 ms, and checks that it gets about the limit, within the bound of
// the package comment, while R replicas that do not share their spend let it have R times as
// much.
func testReplicas(t *testing.T, newBus func(t *testing.T) bus.Bus) {
	const (
		perMinute = 600 // r = 10 a second
		burst     = 10
		step      = 10 * time.Millisecond
		flush     = 100 * time.Millisecond
	)
	r := float64(perMinute) / 60
	tests := []struct {
		replicas int
		span     time.Duration
		greedy   bool // every step, try until refused on every replica; else one request a step, in turn
	}{
		{2, 5 * time.Second, false},
		{3, 5 * time.Second, false},
		{2, time.Minute, false},
		{2, 5 * time.Second, true},
		{5, 5 * time.Second, true},
		{3, time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d replicas %v greedy=%v", tt.replicas, tt.span, tt.greedy), func(t *testing.T) {
			name := "t" + rand.Text()[:12] // other tests may share the NATS server
			// run returns how many requests were allowed at each step.
			run := func(shared bool) []int {
				clk := clock.NewFake(t0)
				var ls []*Limiter
				for range tt.replicas {
					var b bus.Bus
					if shared {
						b = newBus(t)
					}
					ls = append(ls, newLimiter(t, b, clk, name, perMinute, burst))
				}
				allowed := make([]int, int(tt.span/step))
				for i := range allowed {
					if !tt.greedy {
						if ok, _ := ls[i%len(ls)].Allow("203.0.113.9"); ok {
							allowed[i]++
						}
					}
					for _, l := range ls {
						for tt.greedy {
							if ok, _ := l.Allow("203.0.113.9"); !ok {
								break
							}
							allowed[i]++
						}
					}
					clk.Advance(step)
					if clk.Now().Sub(t0)%flush == 0 && shared {
						exchange(t, ls...)
					}
				}
				return allowed
			}
			// bound is the most a client may get in a window of d (package comment).
			bound := func(d time.Duration) float64 {
				return burst + r*d.Seconds() + float64(tt.replicas-1)*(burst+r*flush.Seconds())
			}
			// worst returns the most allowed in any window of k steps (spanning (k−1)·step).
			worst := func(allowed []int, k int) int {
				most, sum := 0, 0
				for i, n := range allowed {
					sum += n
					if i >= k {
						sum -= allowed[i-k]
					}
					most = max(most, sum)
				}
				return most
			}
			got := run(true)
			total := worst(got, len(got))
			t.Logf("allowed %d; one bucket allows %.0f, the bound is %.0f", total, burst+r*tt.span.Seconds(), bound(tt.span))
			if float64(total) > bound(tt.span) || float64(total) < r*tt.span.Seconds() {
				t.Errorf("allowed %d, want between %.0f and %.0f", total, r*tt.span.Seconds(), bound(tt.span))
			}
			for _, k := range []int{1, 10, 100} {
				d := time.Duration(k-1) * step
				if w := worst(got, k); float64(w) > bound(d) {
					t.Errorf("allowed %d within %v, over the bound %.1f", w, d, bound(d))
				}
			}
			// The same replicas without a bus: the check above would catch this.
			if alone := worst(run(false), len(got)); float64(alone) <= bound(tt.span) {
				t.Errorf("replicas that share nothing allowed %d, within the bound %.0f: the test proves nothing", alone, bound(tt.span))
			}
		})
	}
}
