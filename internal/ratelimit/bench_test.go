package ratelimit

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/bus"
)

// baseline is a bare token bucket per key under one mutex, like internal/web's limiter: what
// Allow is measured against.
type baseline struct {
	mu        sync.Mutex
	perSecond float64
	burst     float64
	buckets   map[string]*baseBucket
}

type baseBucket struct {
	tokens float64
	at     time.Time
}

func (l *baseline) allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	b, ok := l.buckets[key]
	if !ok {
		b = &baseBucket{tokens: l.burst, at: now}
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

// benchKeys are 10,000 client IPs.
var benchKeys = func() []string {
	ks := make([]string, 10000)
	for i := range ks {
		ks[i] = fmt.Sprintf("198.51.%d.%d", i/256, i%256)
	}
	return ks
}()

// BenchmarkAllow compares Allow, on an in-process bus with the default background flush, with the
// baseline, on 10,000 keys at 120 a minute with bursts of 30 (so most calls are allowed and
// published), from one goroutine and from GOMAXPROCS.
func BenchmarkAllow(b *testing.B) {
	const perMinute, burst = 120, 30
	allows := map[string]func(testing.TB) func(string) (bool, time.Duration){
		"baseline": func(testing.TB) func(string) (bool, time.Duration) {
			l := &baseline{perSecond: perMinute / 60.0, burst: burst, buckets: map[string]*baseBucket{}}
			return l.allow
		},
		"limiter": func(tb testing.TB) func(string) (bool, time.Duration) {
			bs := bus.NewInProcess()
			l, err := New(bs, "bench", perMinute, burst)
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { l.Close(); bs.Close() })
			return l.Allow
		},
	}
	for _, name := range []string{"baseline", "limiter"} {
		b.Run(name+"/serial", func(b *testing.B) {
			allow := allows[name](b)
			i := 0
			for b.Loop() {
				allow(benchKeys[i%len(benchKeys)])
				i++
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			allow := allows[name](b)
			var start atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(start.Add(1)) * 1237 // goroutines on different keys, as clients are
				for pb.Next() {
					allow(benchKeys[i%len(benchKeys)])
					i += 7
				}
			})
		})
	}
	b.Run("limiter/long-key", func(b *testing.B) {
		allow := allows["limiter"](b)
		key := "ws_abcdefghijklmnopqrstuvwxyz|" + benchKeys[0] + "|" + string(make([]byte, 100))
		for b.Loop() {
			allow(key)
		}
	})
}
