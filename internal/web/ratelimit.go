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

// bucket is one token bucket: a limiter's per key, or a socket's own (used by its reader only).
type bucket struct {
	tokens float64
	at     time.Time
}

// take spends a token at now, having refilled perSecond a second up to burst. When none is left
// it returns false and how long until one is.
func (b *bucket) take(now time.Time, perSecond, burst float64) (bool, time.Duration) {
	b.tokens = math.Min(burst, b.tokens+now.Sub(b.at).Seconds()*perSecond)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / perSecond * float64(time.Second))
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
	return b.take(now, l.perSecond, l.burst)
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
	c.store(key, v)
}

// first reports whether key holds no fresh value, and stores v under it: "was this done lately?".
func (c *ttlCache[V]) first(key string, v V) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok && time.Since(e.at) <= c.ttl {
		return false
	}
	c.store(key, v)
	return true
}

func (c *ttlCache[V]) store(key string, v V) {
	if len(c.m) >= c.max {
		c.m = map[string]ttlEntry[V]{}
	}
	c.m[key] = ttlEntry[V]{v: v, at: time.Now()}
}
