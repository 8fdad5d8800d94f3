package ratelimit

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/errs"
)

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

// newLimiter returns a Limiter on b (nil: alone) on clk without a background loop, closed at the
// end of the test.
func newLimiter(t testing.TB, b bus.Bus, clk clock.Clock, name string, perMinute, burst int, opts ...Option) *Limiter {
	t.Helper()
	opts = append([]Option{WithClock(clk), WithFlushEvery(0)}, opts...)
	l, err := New(b, name, perMinute, burst, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(l.Close)
	return l
}

// exchange flushes every Limiter and waits until each has applied the batches of all the others.
func exchange(t testing.TB, ls ...*Limiter) {
	t.Helper()
	before := make([]int64, len(ls))
	sent := make([]int64, len(ls))
	for i, l := range ls {
		before[i] = l.received.Load()
		sent[i] = l.sent.Load()
	}
	for _, l := range ls {
		if err := l.Flush(); err != nil {
			t.Fatalf("Flush: %v", err)
		}
	}
	var total int64
	for i, l := range ls {
		sent[i] = l.sent.Load() - sent[i]
		total += sent[i]
	}
	deadline := time.Now().Add(10 * time.Second)
	for i, l := range ls {
		want := before[i] + total - sent[i]
		for l.received.Load() < want {
			if time.Now().After(deadline) {
				t.Fatalf("replica %d applied %d batches, want %d", i, l.received.Load(), want)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
}

type step struct {
	advance time.Duration
	key     string
	ok      bool
	retry   time.Duration
}

func TestAllow(t *testing.T) {
	tests := []struct {
		name             string
		perMinute, burst int
		steps            []step
	}{
		{"burst then refill", 60, 3, []step{
			{0, "a", true, 0}, {0, "a", true, 0}, {0, "a", true, 0},
			{0, "a", false, time.Second},
			{500 * time.Millisecond, "a", false, 500 * time.Millisecond},
			{500 * time.Millisecond, "a", true, 0},
			{0, "a", false, time.Second},
			// a long rest refills up to burst, no more
			{time.Hour, "a", true, 0}, {0, "a", true, 0}, {0, "a", true, 0},
			{0, "a", false, time.Second},
		}},
		{"keys are independent", 60, 1, []step{
			{0, "a", true, 0}, {0, "a", false, time.Second},
			{0, "b", true, 0}, {0, "", true, 0}, {0, "", false, time.Second},
			{0, "b", false, time.Second},
		}},
		{"fast rate", 6000, 2, []step{
			{0, "a", true, 0}, {0, "a", true, 0},
			{0, "a", false, 10 * time.Millisecond},
			{4 * time.Millisecond, "a", false, 6 * time.Millisecond},
			{6 * time.Millisecond, "a", true, 0},
		}},
		{"one a minute", 1, 1, []step{
			{0, "a", true, 0}, {0, "a", false, time.Minute},
			{59 * time.Second, "a", false, time.Second},
			{time.Second, "a", true, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake(t0)
			l := newLimiter(t, bus.NewInProcess(), clk, "test", tt.perMinute, tt.burst)
			for i, s := range tt.steps {
				clk.Advance(s.advance)
				ok, retry := l.Allow(s.key)
				if ok != s.ok || retry != s.retry {
					t.Fatalf("step %d: Allow(%q) = %v, %v; want %v, %v", i, s.key, ok, retry, s.ok, s.retry)
				}
			}
		})
	}
}

func TestClockBackwards(t *testing.T) {
	clk := clock.NewFake(t0)
	l := newLimiter(t, nil, clk, "test", 60, 1)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("first Allow refused")
	}
	clk.Set(t0.Add(-time.Hour))
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("a clock going backwards refilled the bucket")
	}
	clk.Set(t0.Add(time.Second))
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("refused a second after the first request")
	}
}

func TestNew(t *testing.T) {
	b := bus.NewInProcess()
	closed := bus.NewInProcess()
	closed.Close()
	tests := []struct {
		name      string
		b         bus.Bus
		lname     string
		perMinute int
		burst     int
		opts      []Option
		kind      errs.Kind
		field     string
	}{
		{"ok", b, "messenger-ip_2", 60, 10, nil, 0, ""},
		{"no bus", nil, "alone", 60, 10, nil, 0, ""},
		{"empty name", b, "", 60, 10, nil, errs.Invalid, "name"},
		{"dotted name", b, "a.b", 60, 10, nil, errs.Invalid, "name"},
		{"wildcard name", b, ">", 60, 10, nil, errs.Invalid, "name"},
		{"long name", b, strings.Repeat("n", 65), 60, 10, nil, errs.Invalid, "name"},
		{"zero rate", b, "x", 0, 10, nil, errs.Invalid, "per_minute"},
		{"zero burst", b, "x", 60, 0, nil, errs.Invalid, "burst"},
		{"nil clock", b, "x", 60, 1, []Option{WithClock(nil)}, errs.Invalid, "clock"},
		{"zero keys", b, "x", 60, 1, []Option{WithMaxKeys(0)}, errs.Invalid, "max_keys"},
		{"tiny batch", b, "x", 60, 1, []Option{WithMaxBatch(100)}, errs.Invalid, "max_batch"},
		{"long replica", b, "x", 60, 1, []Option{WithReplica(strings.Repeat("r", 65))}, errs.Invalid, "replica"},
		{"closed bus", closed, "x", 60, 1, nil, errs.Unavailable, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := New(tt.b, tt.lname, tt.perMinute, tt.burst, tt.opts...)
			if tt.kind == 0 {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				l.Close()
				return
			}
			if l != nil || !errs.Is(err, tt.kind) {
				t.Fatalf("New = %v, %v; want an error of kind %v", l, err, tt.kind)
			}
			if e := errs.As(err); tt.field != "" && e.Field != tt.field {
				t.Fatalf("error %v names field %q, want %q", err, e.Field, tt.field)
			}
		})
	}
}

func TestSweep(t *testing.T) {
	clk := clock.NewFake(t0)
	l := newLimiter(t, nil, clk, "test", 60, 2) // refills in 2 s
	for i := range 100 {
		l.Allow(fmt.Sprint("k", i))
	}
	l.Allow("debt")
	l.Allow("debt")
	l.sweep(clk.Now().UnixNano())
	if n := l.Len(); n != 101 {
		t.Fatalf("after a sweep at once, Len = %d, want 101", n)
	}
	clk.Advance(time.Second)
	l.sweep(clk.Now().UnixNano())
	if n := l.Len(); n != 1 {
		t.Fatalf("after a sweep a second later, Len = %d, want 1 (the key still refilling)", n)
	}
	clk.Advance(time.Second)
	l.sweep(clk.Now().UnixNano())
	if n := l.Len(); n != 0 {
		t.Fatalf("after a sweep two seconds later, Len = %d, want 0", n)
	}
}

func TestCap(t *testing.T) {
	const max = 64
	clk := clock.NewFake(t0)
	l := newLimiter(t, nil, clk, "test", 6, 2, WithMaxKeys(max)) // one token every 10 s
	// 32 keys that will have refilled: evicted first, whatever their age.
	for i := range 32 {
		l.Allow(fmt.Sprint("full", i))
	}
	clk.Advance(30 * time.Second)
	// "hot" is empty and used all the time: it must survive every eviction.
	l.Allow("hot")
	l.Allow("hot")
	for i := range 1000 {
		clk.Advance(time.Millisecond)
		if ok, _ := l.Allow("hot"); ok {
			t.Fatalf("hot key allowed again at step %d: its bucket was evicted", i)
		}
		l.Allow(fmt.Sprint("new", i))
		if n := l.Len(); n > max {
			t.Fatalf("Len = %d after %d new keys, over the cap of %d", n, i+1, max)
		}
		if i == 30 {
			// Below the cap so far; none of the refilled keys needed evicting yet.
			if n := l.Len(); n != 1+32+31 {
				t.Fatalf("Len = %d before the cap, want %d", n, 1+32+31)
			}
		}
		if i == 31 {
			// The first eviction took the refilled keys and nothing else.
			if n := l.Len(); n != 1+32 {
				t.Fatalf("Len = %d after the first eviction, want %d", n, 1+32)
			}
		}
	}
	// The most recent keys are kept; the oldest went.
	if ok, _ := l.Allow("new999"); !ok {
		t.Fatal("the newest key lost its bucket")
	}
	if ok, _ := l.Allow("new999"); ok {
		t.Fatal("the newest key's bucket was reset")
	}
}

func TestRemoteSpend(t *testing.T) {
	clk := clock.NewFake(t0)
	b := bus.NewInProcess()
	defer b.Close()
	a := newLimiter(t, b, clk, "test", 60, 5, WithReplica("a"))
	c := newLimiter(t, b, clk, "test", 60, 5, WithReplica("c"))
	other := newLimiter(t, b, clk, "other", 60, 5, WithReplica("o"))

	// a's spend reaches c, even for a key c has never seen; not the Limiter of another name.
	for range 5 {
		a.Allow("k")
	}
	exchange(t, a, c)
	if ok, retry := c.Allow("k"); ok || retry != time.Second {
		t.Fatalf("c.Allow(k) after a spent the burst = %v, %v; want false, 1s", ok, retry)
	}
	if ok, _ := other.Allow("k"); !ok {
		t.Fatal("a Limiter of another name counted a's spend")
	}

	// Both spend the burst at once: each ends 5 in debt, refused for 6 s.
	for range 5 {
		a.Allow("j")
		c.Allow("j")
	}
	exchange(t, a, c)
	for _, l := range []*Limiter{a, c} {
		if ok, retry := l.Allow("j"); ok || retry != 6*time.Second {
			t.Fatalf("%s.Allow(j) after both spent = %v, %v; want false, 6s", l.replica, ok, retry)
		}
	}
	clk.Advance(5 * time.Second)
	if ok, _ := a.Allow("j"); ok {
		t.Fatal("a allowed j before its debt was paid")
	}
	clk.Advance(time.Second)
	if ok, _ := a.Allow("j"); !ok {
		t.Fatal("a refused j after its debt was paid")
	}
	// A Limiter's own batches are not counted twice.
	exchange(t, a, c)
	if ok, _ := a.Allow("j"); ok {
		t.Fatal("a allowed j twice in a row with an empty bucket")
	}
}

func TestHashedKeys(t *testing.T) {
	clk := clock.NewFake(t0)
	b := bus.NewInProcess()
	defer b.Close()
	a := newLimiter(t, b, clk, "test", 60, 1, WithReplica("a"))
	c := newLimiter(t, b, clk, "test", 60, 1, WithReplica("c"))
	long := strings.Repeat("x", 500)
	keys := []string{
		long + "1", long + "2", // differ only past MaxKeyLen
		strings.Repeat("y", MaxKeyLen), strings.Repeat("y", MaxKeyLen+1),
		"\xffabc", wireKey(long + "1"), // the raw form of a hash is a key of its own
	}
	for _, k := range keys {
		if ok, _ := a.Allow(k); !ok {
			t.Fatalf("a.Allow(%.20q…) refused: it shares a bucket with another key", k)
		}
	}
	exchange(t, a, c)
	for _, k := range keys {
		if ok, _ := c.Allow(k); ok {
			t.Fatalf("c.Allow(%.20q…) allowed after a spent it", k)
		}
	}
	if ok, _ := c.Allow(long + "3"); !ok {
		t.Fatal("a fresh long key was refused")
	}
}

func TestWireKey(t *testing.T) {
	tests := []struct {
		key    string
		hashed bool
	}{
		{"", false},
		{"203.0.113.9", false},
		{strings.Repeat("k", MaxKeyLen), false},
		{strings.Repeat("k", MaxKeyLen+1), true},
		{"\xff", true},
		{"é", false},
	}
	for _, tt := range tests {
		w := wireKey(tt.key)
		if hashed := w != tt.key; hashed != tt.hashed {
			t.Errorf("wireKey(%.20q): hashed = %v, want %v", tt.key, hashed, tt.hashed)
		}
		if tt.hashed && (len(w) != hashedLen || w[0] != hashMark) {
			t.Errorf("wireKey(%.20q) = %q, not a hash", tt.key, w)
		}
	}
}

func TestBatchSplit(t *testing.T) {
	const maxBatch, keys = 256, 100
	clk := clock.NewFake(t0)
	b := bus.NewInProcess()
	defer b.Close()
	var mu sync.Mutex
	var sizes []int
	sub, err := b.Subscribe(SubjectPrefix+"test", func(m bus.Msg) {
		mu.Lock()
		sizes = append(sizes, len(m.Data))
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	a := newLimiter(t, b, clk, "test", 60, 1, WithMaxBatch(maxBatch))
	c := newLimiter(t, b, clk, "test", 60, 1)
	for i := range keys {
		a.Allow(fmt.Sprintf("visitor-%03d", i))
	}
	exchange(t, a, c)
	if n := a.sent.Load(); n < 2 {
		t.Fatalf("a published %d batches, want several of at most %d bytes", n, maxBatch)
	}
	for i := range keys {
		if ok, _ := c.Allow(fmt.Sprintf("visitor-%03d", i)); ok {
			t.Fatalf("c allowed visitor-%03d after a spent its burst: a batch was lost", i)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(sizes)
		mu.Unlock()
		if int64(n) >= a.sent.Load()+c.sent.Load() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("saw %d batches, want %d", n, a.sent.Load()+c.sent.Load())
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range sizes {
		if s > maxBatch {
			t.Fatalf("a batch of %d bytes, over %d", s, maxBatch)
		}
	}
	// Nothing spent since: nothing published.
	sent := a.sent.Load()
	if err := a.Flush(); err != nil || a.sent.Load() != sent {
		t.Fatalf("Flush with nothing spent published %d batches (err %v)", a.sent.Load()-sent, err)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes, for a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) count(substr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), substr)
}

func TestPublishFailure(t *testing.T) {
	clk := clock.NewFake(t0)
	b := bus.NewInProcess()
	var logs syncBuffer
	l := newLimiter(t, b, clk, "test", 60, 1000, WithLog(slog.New(slog.NewTextHandler(&logs, nil))))
	b.Close()
	l.Allow("a")
	if err := l.Flush(); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("Flush on a closed bus = %v, want kind unavailable", err)
	}
	const msg = "cannot publish this replica's spend"
	for range 5 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatal("Allow refused while the bus is down")
		}
		l.flushLogged()
	}
	if n := logs.count(msg); n != 1 {
		t.Fatalf("5 failures within a minute logged %d times, want 1:\n%s", n, logs.b.String())
	}
	clk.Advance(time.Minute)
	l.Allow("a")
	l.flushLogged()
	if n := logs.count(msg); n != 2 {
		t.Fatalf("a failure a minute later: logged %d times in all, want 2", n)
	}
	if n := logs.count("suppressed=4"); n != 1 {
		t.Fatalf("the second warning does not count the 4 suppressed:\n%s", logs.b.String())
	}
}

func TestMalformedBatchLogged(t *testing.T) {
	clk := clock.NewFake(t0)
	b := bus.NewInProcess()
	defer b.Close()
	var logs syncBuffer
	l := newLimiter(t, b, clk, "test", 60, 1, WithLog(slog.New(slog.NewTextHandler(&logs, nil))))
	for _, data := range [][]byte{nil, {9}, {wireVersion, 1, 'r', 1, 'k', 0}} {
		if err := b.Publish(t.Context(), SubjectPrefix+"test", data); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for logs.count("malformed batch") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a malformed batch was not logged")
		}
		time.Sleep(time.Millisecond)
	}
	if n := l.received.Load(); n != 0 {
		t.Fatalf("applied %d malformed batches", n)
	}
	if ok, _ := l.Allow("k"); !ok {
		t.Fatal("a malformed batch was partly applied")
	}
}

func TestBackgroundFlushAndClose(t *testing.T) {
	b := bus.NewInProcess()
	defer b.Close()
	a, err := New(b, "test", 60, 1, WithFlushEvery(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(b, "test", 60, 1, WithFlushEvery(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a.Allow("bg")
	// Without a Flush of ours, a's loop publishes it.
	deadline := time.Now().Add(5 * time.Second)
	for c.received.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the background loop published nothing")
		}
		time.Sleep(time.Millisecond)
	}
	if ok, _ := c.Allow("bg"); ok {
		t.Fatal("c allowed a key a spent in the background")
	}
	// c's loop runs hourly: Close publishes what is left.
	c.Allow("last")
	c.Close()
	c.Close()
	for a.received.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Close did not publish the last spend")
		}
		time.Sleep(time.Millisecond)
	}
	if ok, _ := a.Allow("last"); ok {
		t.Fatal("a allowed the key c spent before closing")
	}
	a.Close()
	// After Close, Allow works for this replica alone.
	if ok, _ := a.Allow("after"); !ok {
		t.Fatal("Allow refused after Close")
	}
	if ok, _ := a.Allow("after"); ok {
		t.Fatal("Allow after Close ignores the limit")
	}
}

// TestConcurrent runs Allow from many goroutines on two replicas that flush in the background,
// for the race detector. The cap is not reached (an evicted key would forget its spend). The clock stands still, so no bucket refills: "shared" is allowed at
// least burst and at most 2 × burst times in all (each replica its own burst at most).
func TestConcurrent(t *testing.T) {
	const burst = 50
	clk := clock.NewFake(t0)
	b := bus.NewInProcess()
	defer b.Close()
	var ls []*Limiter
	for range 2 {
		l, err := New(b, "test", 60, burst, WithClock(clk), WithFlushEvery(time.Millisecond), WithMaxKeys(100_000))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ls = append(ls, l)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for g := range 8 {
		wg.Go(func() {
			l := ls[g%2]
			n := 0
			for i := range 2000 {
				if ok, _ := l.Allow("shared"); ok {
					n++
				}
				l.Allow(fmt.Sprint(g, "-", i))
			}
			mu.Lock()
			allowed += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if allowed < burst || allowed > 2*burst {
		t.Fatalf("shared allowed %d times, want between %d and %d", allowed, burst, 2*burst)
	}
	for _, l := range ls {
		if n := l.Len(); n > 100_000 {
			t.Fatalf("Len = %d, over the cap", n)
		}
	}
}

// TestConcurrentEviction runs Allow on more keys than the cap from many goroutines while a
// background loop flushes, for the race detector, and checks the cap.
func TestConcurrentEviction(t *testing.T) {
	const max = 2048 // 8 shards
	b := bus.NewInProcess()
	defer b.Close()
	l, err := New(b, "test", 60, 5, WithFlushEvery(time.Millisecond), WithMaxKeys(max))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 5000 {
				l.Allow(fmt.Sprint(g, "-", i))
				if n := l.Len(); i%500 == 0 && n > max {
					t.Errorf("Len = %d, over the cap of %d", n, max)
				}
			}
		})
	}
	wg.Wait()
	if n := l.Len(); n > max || n < max/2 {
		t.Fatalf("Len = %d, want at most the cap of %d and not far below", n, max)
	}
}
