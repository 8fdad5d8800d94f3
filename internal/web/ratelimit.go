package web

import (
	"math"
	"sync"
	"time"
)

// limiter is a token bucket per key (a client IP): each key may spend burst requests at once and
// regains one every 1/perSecond seconds. It lives in the process; with several replicas each holds
// its own, so the limit per replica is what it says. Idle keys are forgotten.
type limiter struct {
	mu        sync.Mutex
	perSecond float64
	burst     float64
	now       func() time.Time
	buckets   map[string]*bucket
	swept     time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(perMinute, burst int) *limiter {
	return &limiter{perSecond: float64(perMinute) / 60, burst: float64(burst), now: time.Now, buckets: map[string]*bucket{}}
}

// allow takes a token for key. When none is left it returns false and how long until one is.
func (l *limiter) allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.swept) > time.Minute {
		l.sweep(now)
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.perSecond)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.perSecond * float64(time.Second))
}

// sweep forgets buckets that have refilled completely: they hold no information.
func (l *limiter) sweep(now time.Time) {
	l.swept = now
	full := time.Duration(l.burst / l.perSecond * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.at) > full {
			delete(l.buckets, k)
		}
	}
}

// recent remembers keys for a while: "was this announced lately?". It lives in the process.
type recent struct {
	mu    sync.Mutex
	every time.Duration
	now   func() time.Time
	seen  map[string]time.Time
	swept time.Time
}

func newRecent(every time.Duration) *recent {
	return &recent{every: every, now: time.Now, seen: map[string]time.Time{}}
}

// first reports whether key was not seen within the period, and remembers it.
func (r *recent) first(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if now.Sub(r.swept) > r.every {
		for k, at := range r.seen {
			if now.Sub(at) > r.every {
				delete(r.seen, k)
			}
		}
		r.swept = now
	}
	if at, ok := r.seen[key]; ok && now.Sub(at) <= r.every {
		return false
	}
	r.seen[key] = now
	return true
}

// ttlCache keeps values for a while, in the process; at most max entries (then it starts over).
type ttlCache[V any] struct {
	mu  sync.Mutex
	ttl time.Duration
	max int
	m   map[string]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v  V
	at time.Time
}

func newTTLCache[V any](ttl time.Duration, max int) *ttlCache[V] {
	return &ttlCache[V]{ttl: ttl, max: max, m: map[string]ttlEntry[V]{}}
}

func (c *ttlCache[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || time.Since(e.at) > c.ttl {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *ttlCache[V]) put(key string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		c.m = map[string]ttlEntry[V]{}
	}
	c.m[key] = ttlEntry[V]{v: v, at: time.Now()}
}
