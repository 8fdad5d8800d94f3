package web

import (
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/ratelimit"
)

// limiter is a token bucket per key (a client IP, a visitor) whose limit holds across replicas:
// ratelimit.Limiter shares what each replica spent over the bus (internal/ratelimit).
type limiter = ratelimit.Limiter

// newLimiter returns the limiter named name on the server's bus (alone when there is none).
func newLimiter(b bus.Bus, log *slog.Logger, name string, perMinute, burst int) *limiter {
	l, err := ratelimit.New(b, name, perMinute, burst, ratelimit.WithLog(log), ratelimit.WithMaxKeys(LimiterMaxKeys))
	if err != nil {
		// The bus is closed already (a server being torn down): limit this replica alone.
		l, err = ratelimit.New(nil, name, perMinute, burst, ratelimit.WithMaxKeys(LimiterMaxKeys))
		if err != nil {
			panic("web: limiter " + name + ": " + err.Error()) // a bad name or rate: a programming error
		}
	}
	return l
}

// LimiterMaxKeys bounds the keys each limiter remembers (about 120 bytes each).
const LimiterMaxKeys = 200000

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

// Close stops the server's rate limiters' sharing loops, publishing what they spent last; call
// it before closing the bus. The limiters keep limiting this replica alone.
func (s *Server) Close() {
	for _, l := range []*limiter{s.msgIPs, s.msgVisitors, s.convAlerts, s.chanAlerts, s.console.guests} {
		l.Close()
	}
}
