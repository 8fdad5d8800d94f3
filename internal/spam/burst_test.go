package spam

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func TestBurstCounterSeen(t *testing.T) {
	type step struct {
		ws, domain, addr string
		at               time.Duration // after t0
		want             int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"distinct addresses count", []step{
			{"w1", "x.test", "a@x.test", 0, 1},
			{"w1", "x.test", "b@x.test", time.Second, 2},
			{"w1", "x.test", "c@x.test", 2 * time.Second, 3},
		}},
		{"the same address does not count twice", []step{
			{"w1", "x.test", "a@x.test", 0, 1},
			{"w1", "x.test", "a@x.test", time.Second, 1},
			{"w1", "x.test", "A@X.TEST ", 2 * time.Second, 1},
			{"w1", "x.test", "b@x.test", 3 * time.Second, 2},
		}},
		{"sub-addresses are distinct", []step{
			{"w1", "x.test", "ann+1@x.test", 0, 1},
			{"w1", "x.test", "ann+2@x.test", 0, 2},
		}},
		{"domains compare without case or trailing dot", []step{
			{"w1", "x.test", "a@x.test", 0, 1},
			{"w1", "X.Test.", "b@x.test", 0, 2},
			{"w1", " x.test ", "c@x.test", 0, 3},
		}},
		{"workspaces and domains are separate", []step{
			{"w1", "x.test", "a@x.test", 0, 1},
			{"w2", "x.test", "b@x.test", 0, 1},
			{"w1", "y.test", "c@y.test", 0, 1},
			{"w1", "x.test", "d@x.test", 0, 2},
		}},
		{"the window slides", []step{
			{"w1", "x.test", "a@x.test", 0, 1},
			{"w1", "x.test", "b@x.test", 5 * time.Minute, 2},
			{"w1", "x.test", "c@x.test", 10*time.Minute - time.Nanosecond, 3},
			{"w1", "x.test", "d@x.test", 10 * time.Minute, 3},             // a expired
			{"w1", "x.test", "e@x.test", 15*time.Minute + time.Second, 3}, // b expired
			{"w1", "x.test", "f@x.test", time.Hour, 1},
		}},
		{"a repeat refreshes its address", []step{
			{"w1", "x.test", "a@x.test", 0, 1},
			{"w1", "x.test", "a@x.test", 9 * time.Minute, 1},
			{"w1", "x.test", "b@x.test", 12 * time.Minute, 2},
		}},
		{"time running backwards keeps entries", []step{
			{"w1", "x.test", "a@x.test", time.Minute, 1},
			{"w1", "x.test", "b@x.test", 0, 2},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewBurstCounter(BurstConfig{Window: 10 * time.Minute})
			for i, s := range tt.steps {
				if got := c.Seen(s.ws, s.domain, s.addr, t0.Add(s.at)); got != s.want {
					t.Fatalf("step %d: Seen(%q, %q, %q) = %d; want %d", i, s.ws, s.domain, s.addr, got, s.want)
				}
			}
		})
	}
}

func TestBurstCounterBounded(t *testing.T) {
	c := NewBurstCounter(BurstConfig{Window: time.Minute, MaxKeys: 3, MaxAddresses: 4})
	// Addresses per key saturate at MaxAddresses, forgetting the oldest.
	for i := range 10 {
		got := c.Seen("w", "x.test", fmt.Sprintf("a%d@x.test", i), t0.Add(time.Duration(i)*time.Millisecond))
		if want := min(i+1, 4); got != want {
			t.Fatalf("address %d: count %d; want %d", i, got, want)
		}
	}
	// a9 is among the four kept; seeing it again does not raise the count.
	if got := c.Seen("w", "x.test", "a9@x.test", t0.Add(time.Second)); got != 4 {
		t.Fatalf("repeat of a kept address: count %d; want 4", got)
	}
	// Keys are capped at MaxKeys, forgetting the least recently seen.
	c.Seen("w", "d1.test", "a@d1.test", t0.Add(2*time.Second))
	c.Seen("w", "d2.test", "a@d2.test", t0.Add(3*time.Second))
	c.Seen("w", "d3.test", "a@d3.test", t0.Add(4*time.Second)) // evicts x.test
	if n := c.Len(); n != 3 {
		t.Fatalf("Len = %d; want 3", n)
	}
	if got := c.Seen("w", "x.test", "zz@x.test", t0.Add(5*time.Second)); got != 1 {
		t.Fatalf("x.test should have been forgotten, count %d; want 1", got)
	}
	// Keys quiet for a whole window go first, before any live one.
	c2 := NewBurstCounter(BurstConfig{Window: time.Minute, MaxKeys: 100})
	for i := range 50 {
		c2.Seen("w", fmt.Sprintf("d%d.test", i), "a@x", t0)
	}
	c2.Seen("w", "fresh.test", "a@fresh.test", t0.Add(2*time.Minute))
	if n := c2.Len(); n != 1 {
		t.Fatalf("expired keys kept: Len = %d; want 1", n)
	}
}

func TestBurstCounterDefaults(t *testing.T) {
	c := NewBurstCounter(BurstConfig{Window: -1, MaxKeys: -1})
	if c.window != DefaultBurstWindow || c.maxKeys != DefaultMaxKeys || c.maxAddrs != DefaultMaxAddresses {
		t.Fatalf("defaults: %v %d %d", c.window, c.maxKeys, c.maxAddrs)
	}
}

// TestBurstCounterConcurrent runs Seen from many goroutines (go test -race) and checks the count.
func TestBurstCounterConcurrent(t *testing.T) {
	c := NewBurstCounter(BurstConfig{MaxAddresses: 1000})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				c.Seen("w", "x.test", fmt.Sprintf("a%d@x.test", (g*100+i)%400), t0)
				c.Seen("w", fmt.Sprintf("d%d.test", g), "a@x", t0)
			}
		}()
	}
	wg.Wait()
	if got := c.Seen("w", "x.test", "a0@x.test", t0); got != 400 {
		t.Fatalf("count %d; want 400 distinct addresses", got)
	}
	if n := c.Len(); n != 9 {
		t.Fatalf("Len = %d; want 9", n)
	}
}

func TestBurst(t *testing.T) {
	tests := []struct {
		count, limit int
		want         bool
	}{
		{0, 5, false},
		{5, 5, false},
		{6, 5, true},
		{100, 0, false}, // no limit
		{100, -1, false},
		{2, 1, true},
	}
	for _, tt := range tests {
		if got := Burst(tt.count, tt.limit); got != tt.want {
			t.Errorf("Burst(%d, %d) = %v; want %v", tt.count, tt.limit, got, tt.want)
		}
	}
}

func BenchmarkBurstCounterSeen(b *testing.B) {
	c := NewBurstCounter(BurstConfig{})
	addrs := make([]string, 256)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("user%d@example.test", i)
	}
	domains := make([]string, 64)
	for i := range domains {
		domains[i] = fmt.Sprintf("d%d.test", i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Seen("ws", domains[i%len(domains)], addrs[i%len(addrs)], t0.Add(time.Duration(i)*time.Millisecond))
		i++
	}
}
