package ratelimit

import (
	"slices"
	"sync"
)

// bucket is one key's token bucket on this replica.
type bucket struct {
	key    string  // the wire key (see wireKey)
	tokens float64 // may be negative after other replicas' spend
	at     int64   // when tokens was last refilled, in Unix nanoseconds
	spent  uint32  // spent on this replica since the last flush; > 0 iff in its shard's dirty list
}

// refill adds what the bucket regained since it was last refilled, up to burst. A clock that went
// backwards refills nothing.
func (b *bucket) refill(now int64, rate, burst float64) {
	if now > b.at {
		b.tokens = min(burst, b.tokens+float64(now-b.at)*rate)
		b.at = now
	}
}

// full reports whether the bucket will have refilled to burst at now, so that forgetting it loses
// nothing.
func (b *bucket) full(now int64, rate, burst float64) bool {
	t := b.tokens
	if now > b.at {
		t += float64(now-b.at) * rate
	}
	return t >= burst
}

// shard is a part of a Limiter's buckets under one lock.
type shard struct {
	mu    sync.Mutex
	m     map[string]*bucket
	dirty []*bucket // buckets with spend to publish; may include buckets evicted since
	max   int       // most buckets in m
	_     [64]byte  // keeps the locks of neighbouring shards off one cache line
}

// insert adds a full bucket for key, evicting others first when the shard is at its cap. The
// caller holds s.mu.
func (s *shard) insert(key string, now int64, rate, burst float64) *bucket {
	if len(s.m) >= s.max {
		s.evict(now, rate, burst)
	}
	b := &bucket{key: key, tokens: burst, at: now}
	s.m[key] = b
	return b
}

// dropFull deletes the buckets that have refilled. A deleted bucket with spend still to publish
// stays in the dirty list, so its spend is published all the same. The caller holds s.mu.
func (s *shard) dropFull(now int64, rate, burst float64) {
	for k, b := range s.m {
		if b.full(now, rate, burst) {
			delete(s.m, k)
		}
	}
}

// evict brings the shard down to seven eighths of its cap (at least one below it): first the
// buckets that have refilled, then those refilled longest ago, judged from a sample, then any. It
// costs one or a few passes over the shard, once per max/8 new keys. The caller holds s.mu.
func (s *shard) evict(now int64, rate, burst float64) {
	target := min(s.max-s.max/8, s.max-1)
	s.dropFull(now, rate, burst)
	if len(s.m) <= target {
		return
	}
	var sample [256]int64
	n := 0
	for _, b := range s.m {
		sample[n] = b.at
		if n++; n == len(sample) {
			break
		}
	}
	slices.Sort(sample[:n])
	excess := len(s.m) - target
	cut := sample[min(n-1, excess*n/len(s.m))]
	for k, b := range s.m {
		if len(s.m) <= target {
			return
		}
		if b.at <= cut {
			delete(s.m, k)
		}
	}
	for k := range s.m {
		if len(s.m) <= target {
			return
		}
		delete(s.m, k)
	}
}
