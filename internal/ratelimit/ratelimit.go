// Package ratelimit limits how often a client (a key: an IP, a visitor id, "ws|ip") may do
// something, with a limit that holds across replicas sharing a bus.
//
// Each Limiter keeps a token bucket per key in memory: a key may spend burst requests at once and
// regains perMinute/60 a second, up to burst. Allow decides from memory alone, under one of many
// locks, and never does I/O. Every flush period F (DefaultFlushEvery) the Limiter publishes what
// this replica spent per key since the last flush, in batches on the subject "ratelimit.<name>"
// (see SubjectPrefix); every Limiter of that name, on every replica, subtracts the spend of the
// others from its own buckets. A bucket may go negative that way: its key is refused until it has
// refilled to one token, so a client that spread its requests over the replicas pays back what it
// took. With the in-process bus there is nobody else to tell; the Limiter still publishes its
// batch each period (a replica may join at any time), which costs one message per period when the
// limited clients were active and nothing when they were not.
//
// # Bound
//
// Let r be the rate (perMinute/60 a second), b the burst, R the number of replicas running a
// Limiter of the same name, and D = F + the bus's delivery delay. Over any interval of length T,
// a key is allowed at most
//
//	b + r·T + (R−1)·(b + r·D)
//
// requests in total across the replicas, where a single bucket would allow b + r·T. So the excess
// is at most (R−1)·(b + r·D), whatever the client does (all at once, in turn, or on every replica);
// it is paid back rather than repeated: the long-run rate is r, the limit. (Take the last request
// allowed in the interval, on replica m: m had subtracted every other replica's spend older than
// D, so the total is at most what m's bucket allows, b + r·T, plus what each other replica spent
// in the last D, at most b + r·D by its own bucket.) With the defaults (F = 100 ms) and, say,
// 10 a minute with bursts of 5 on 3 replicas, that is 2 × 5.02 ≈ 10 requests more than one bucket.
//
// The bound assumes that every replica's batches reach every other replica in time. What breaks
// that, each at most for the spend involved:
//   - the bus is down, or refuses a batch, when a replica publishes: that spend is never
//     subtracted elsewhere (so while NATS is down each replica enforces the limit on its own, and
//     a client gets up to R times it); logged at most once a minute;
//   - a subscriber too slow to keep up drops batches (see bus.QueueLen; the bus logs it);
//   - a key evicted at the memory cap (WithMaxKeys) forgets its debt and starts again full;
//   - a replica that starts while a client is active has a full bucket for it, b more.
//
// Keys are arbitrary strings; a key longer than MaxKeyLen bytes, or starting with the byte 0xFF
// (never valid UTF-8), is replaced by 0xFF and the first 16 bytes of its SHA-256, in memory and
// on the wire, so every replica agrees on it and batches stay compact.
//
// # Cost
//
// Allow is a map lookup under one of up to 64 locks (by key hash) and a reading of the clock; it
// allocates only for a key it has not seen (and to hash a long key). A remembered key costs about
// 120 bytes, so the default cap of DefaultMaxKeys keys is about 120 MB at most per Limiter; keys
// are forgotten about a minute after their bucket has refilled. Publishing costs, per flush
// period, one message per 512 KiB of spend (about 20 bytes a key spent) and nothing when no key
// was spent; receiving costs one lookup per key another replica spent.
package ratelimit

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"hash/maphash"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/errs"
)

const (
	// SubjectPrefix begins the bus subject of every Limiter: "ratelimit." + name.
	SubjectPrefix = "ratelimit."
	// DefaultFlushEvery is how often a Limiter publishes its replica's spend (see WithFlushEvery).
	DefaultFlushEvery = 100 * time.Millisecond
	// DefaultMaxKeys is the most keys a Limiter remembers (see WithMaxKeys).
	DefaultMaxKeys = 1 << 20
	// DefaultMaxBatch is the largest batch a Limiter publishes, in bytes, well under NATS's
	// default payload limit of 1 MiB (see WithMaxBatch).
	DefaultMaxBatch = 512 << 10
	// MaxKeyLen is the longest key, in bytes, kept as it is; a longer one is hashed.
	MaxKeyLen = 80
	// MaxReplicaLen is the longest replica id, in bytes (see WithReplica).
	MaxReplicaLen = 64
	// sweepEvery is how often the background loop forgets buckets that have refilled.
	sweepEvery = time.Minute
	// logEvery is the shortest interval between two warnings of the same sort.
	logEvery = time.Minute
)

// Limiter is a token bucket per key whose limit holds across the replicas sharing its bus (see the
// package comment for the bound). Its methods are safe for concurrent use.
type Limiter struct {
	bus      bus.Bus
	name     string
	subject  string
	replica  string
	clk      clock.Clock
	log      *slog.Logger
	rate     float64 // tokens per nanosecond
	burst    float64
	maxBatch int
	seed     maphash.Seed
	shards   []shard
	mask     uint64

	sub      bus.Subscription
	stop     chan struct{} // closed by Close to end the background loop; nil without one
	done     chan struct{} // closed when the background loop has returned
	closing  sync.Once
	flushing sync.Mutex // one flush at a time; guards buf
	buf      []byte

	pubLog, recvLog rareLog

	sent     atomic.Int64 // batches published
	received atomic.Int64 // batches of other replicas applied
}

// Option configures a Limiter (see New).
type Option func(*config)

type config struct {
	clk        clock.Clock
	replica    string
	flushEvery time.Duration
	maxKeys    int
	maxBatch   int
	log        *slog.Logger
}

// WithClock makes the Limiter read the time from c (default clock.System{}). The background flush
// still runs on real time; tests with a fake clock usually turn it off (WithFlushEvery(0)) and
// call Flush.
func WithClock(c clock.Clock) Option { return func(o *config) { o.clk = c } }

// WithReplica sets this replica's id, which must differ between the Limiters of one name on a bus
// and be 1 to MaxReplicaLen bytes. Default: a random id per Limiter.
func WithReplica(id string) Option { return func(o *config) { o.replica = id } }

// WithFlushEvery sets how often the Limiter publishes its spend and, every minute, forgets idle
// keys (default DefaultFlushEvery). Zero or less runs no background loop: only Flush and Close
// publish, and only the memory cap bounds the keys.
func WithFlushEvery(d time.Duration) Option { return func(o *config) { o.flushEvery = d } }

// WithMaxKeys caps the keys remembered (default DefaultMaxKeys). At the cap, a new key first
// evicts the keys that have refilled, then the least recently used, an eighth of the keys at once.
func WithMaxKeys(n int) Option { return func(o *config) { o.maxKeys = n } }

// WithMaxBatch caps the size of a published batch in bytes (default DefaultMaxBatch); more spend
// is split into several batches. It must be at least 256 and at most the bus's payload limit.
func WithMaxBatch(n int) Option { return func(o *config) { o.maxBatch = n } }

// WithLog sets the logger for failures to publish or read batches, each sort logged at most once a
// minute (default: discard).
func WithLog(l *slog.Logger) Option { return func(o *config) { o.log = l } }

// New returns a Limiter named name allowing perMinute requests a minute per key with bursts of up
// to burst, sharing its spend on b with the Limiters of the same name on other replicas. The name
// must be the same on every replica and unique among this process's Limiters on b; it is one
// subject token (letters, digits, '-', '_'). A nil b makes a Limiter of this process alone. Call
// Close when done.
//
// New returns an error of kind errs.Invalid, naming the field, for a bad name, perMinute or burst
// below 1, or a bad option, and errs.Unavailable when b is closed.
func New(b bus.Bus, name string, perMinute, burst int, opts ...Option) (*Limiter, error) {
	o := config{clk: clock.System{}, flushEvery: DefaultFlushEvery, maxKeys: DefaultMaxKeys, maxBatch: DefaultMaxBatch}
	for _, opt := range opts {
		opt(&o)
	}
	if err := validName(name); err != nil {
		return nil, err
	}
	switch {
	case perMinute < 1:
		return nil, errs.Field(errs.Invalid, "per_minute", "must be at least 1, not %d", perMinute)
	case burst < 1:
		return nil, errs.Field(errs.Invalid, "burst", "must be at least 1, not %d", burst)
	case o.clk == nil:
		return nil, errs.Field(errs.Invalid, "clock", "is required")
	case o.maxKeys < 1:
		return nil, errs.Field(errs.Invalid, "max_keys", "must be at least 1, not %d", o.maxKeys)
	case o.maxBatch < 256:
		return nil, errs.Field(errs.Invalid, "max_batch", "must be at least 256 bytes, not %d", o.maxBatch)
	case len(o.replica) > MaxReplicaLen:
		return nil, errs.Field(errs.Invalid, "replica", "must be at most %d bytes", MaxReplicaLen)
	}
	if o.replica == "" {
		o.replica = rand.Text()
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	l := &Limiter{
		bus:      b,
		name:     name,
		subject:  SubjectPrefix + name,
		replica:  o.replica,
		clk:      o.clk,
		log:      o.log.With("component", "ratelimit", "limiter", name),
		rate:     float64(perMinute) / 60 / float64(time.Second),
		burst:    float64(burst),
		maxBatch: o.maxBatch,
		seed:     maphash.MakeSeed(),
	}
	n := shardCount(o.maxKeys)
	l.shards = make([]shard, n)
	l.mask = uint64(n - 1)
	for i := range l.shards {
		l.shards[i].m = make(map[string]*bucket)
		l.shards[i].max = max(1, o.maxKeys/n)
	}
	if b != nil {
		sub, err := b.Subscribe(l.subject, l.receive)
		if err != nil {
			return nil, errs.Op("ratelimit.New", err)
		}
		l.sub = sub
	}
	if o.flushEvery > 0 {
		l.stop, l.done = make(chan struct{}), make(chan struct{})
		go l.run(o.flushEvery)
	}
	return l, nil
}

// validName returns an error of kind errs.Invalid (field "name") unless name is one subject token
// of letters, digits, '-' and '_'.
func validName(name string) error {
	if name == "" {
		return errs.Field(errs.Invalid, "name", "is required")
	}
	if len(name) > 64 {
		return errs.Field(errs.Invalid, "name", "must be at most 64 bytes")
	}
	if strings.IndexFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) >= 0 {
		return errs.Field(errs.Invalid, "name", "%q may hold only letters, digits, '-' and '_'", name)
	}
	return nil
}

// shardCount is the number of shards for a cap of maxKeys: a power of two up to 64, with at least
// 256 keys a shard so that the cap stays close to exact for small caps.
func shardCount(maxKeys int) int {
	n := 1
	for n < 64 && maxKeys/(n*2) >= 256 {
		n *= 2
	}
	return n
}

// Allow spends one token of key's bucket. It returns true when there was one, and otherwise false
// and how long until the bucket will hold one, if nobody spends meanwhile on another replica. It
// never blocks on I/O and returns no error: every string is a valid key.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	k := wireKey(key)
	now := l.clk.Now().UnixNano()
	s := &l.shards[maphash.String(l.seed, k)&l.mask]
	s.mu.Lock()
	b := s.m[k]
	if b == nil {
		b = s.insert(k, now, l.rate, l.burst)
	}
	b.refill(now, l.rate, l.burst)
	if b.tokens >= 1 {
		b.tokens--
		if b.spent == 0 {
			s.dirty = append(s.dirty, b)
		}
		b.spent++
		s.mu.Unlock()
		return true, 0
	}
	need := 1 - b.tokens
	s.mu.Unlock()
	// Rounded up to the nanosecond, forgiving the float's error in the last digits.
	wait := math.Ceil(need/l.rate - 1e-3)
	if wait >= math.MaxInt64 {
		return false, time.Duration(math.MaxInt64)
	}
	return false, time.Duration(wait)
}

// wireKey is the form of key kept in memory and published: key itself, or 0xFF followed by 16
// bytes of its SHA-256 when it is longer than MaxKeyLen or itself begins with 0xFF.
func wireKey(key string) string {
	if len(key) <= MaxKeyLen && (key == "" || key[0] != hashMark) {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	var h [hashedLen]byte
	h[0] = hashMark
	copy(h[1:], sum[:])
	return string(h[:])
}

// Flush publishes what this replica spent since the last flush, in batches of at most the
// Limiter's maximum size, and forgets it. The background loop calls it every flush period; tests
// call it to publish at a moment of their choosing. It returns the first publishing error (kind
// errs.Unavailable when the bus is down or closed; that spend is lost for the other replicas) and
// nil for a Limiter without a bus.
func (l *Limiter) Flush() error {
	l.flushing.Lock()
	defer l.flushing.Unlock()
	var first error
	publish := func(batch []byte) {
		if l.bus == nil {
			return
		}
		if err := l.bus.Publish(context.Background(), l.subject, batch); err != nil {
			if first == nil {
				first = errs.Op("ratelimit.Flush", err)
			}
			return
		}
		l.sent.Add(1)
	}
	cur := appendHeader(l.buf[:0], l.replica)
	head := len(cur)
	var full [][]byte
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		for j, b := range s.dirty {
			if len(cur)+maxEntryLen > l.maxBatch {
				full = append(full, cur)
				cur = appendHeader(make([]byte, 0, l.maxBatch), l.replica)
			}
			cur = appendEntry(cur, b.key, b.spent)
			b.spent = 0
			s.dirty[j] = nil
		}
		if cap(s.dirty) > 1<<16 {
			s.dirty = nil
		} else {
			s.dirty = s.dirty[:0]
		}
		s.mu.Unlock()
		for _, f := range full {
			publish(f)
		}
		full = full[:0]
	}
	if len(cur) > head {
		publish(cur)
	}
	if cap(cur) <= l.maxBatch {
		l.buf = cur[:0]
	}
	return first
}

// receive applies a batch published by a Limiter of the same name: another replica's spend is
// subtracted from this replica's buckets; this Limiter's own batches are ignored.
func (l *Limiter) receive(m bus.Msg) {
	replica, entries, err := parseBatch(m.Data)
	if err != nil {
		l.recvLog.warn(l.log, l.clk.Now(), "ratelimit: ignoring a malformed batch", "err", err)
		return
	}
	if string(replica) == l.replica {
		return
	}
	now := l.clk.Now().UnixNano()
	r := entryReader{rest: entries}
	for {
		key, spent, ok := r.next()
		if !ok {
			break
		}
		s := &l.shards[maphash.Bytes(l.seed, key)&l.mask]
		s.mu.Lock()
		b := s.m[string(key)]
		if b == nil {
			b = s.insert(string(key), now, l.rate, l.burst)
		}
		b.refill(now, l.rate, l.burst)
		b.tokens -= float64(spent)
		s.mu.Unlock()
	}
	l.received.Add(1)
}

// run flushes every period and forgets refilled buckets every sweepEvery, until Close.
func (l *Limiter) run(every time.Duration) {
	defer close(l.done)
	t := time.NewTicker(every)
	defer t.Stop()
	swept := l.clk.Now()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		l.flushLogged()
		if now := l.clk.Now(); now.Sub(swept) >= sweepEvery || now.Before(swept) {
			swept = now
			l.sweep(now.UnixNano())
		}
	}
}

// flushLogged flushes, logging a failure at most once a minute.
func (l *Limiter) flushLogged() {
	if err := l.Flush(); err != nil {
		l.pubLog.warn(l.log, l.clk.Now(), "ratelimit: cannot publish this replica's spend; other replicas will not count it", "err", err)
	}
}

// sweep forgets the buckets that have refilled: they hold nothing a new bucket would not.
func (l *Limiter) sweep(now int64) {
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		s.dropFull(now, l.rate, l.burst)
		s.mu.Unlock()
	}
}

// Len returns the number of keys the Limiter remembers, for metrics and tests.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// Close stops the background loop, publishes the spend not yet published (logging a failure) and
// stops listening to other replicas. Allow keeps working afterwards, for this replica alone.
// Calling Close again does nothing.
func (l *Limiter) Close() {
	l.closing.Do(func() {
		if l.stop != nil {
			close(l.stop)
			<-l.done
		}
		if err := l.Flush(); err != nil {
			l.log.Warn("ratelimit: cannot publish this replica's last spend", "err", err)
		}
		if l.sub != nil {
			if err := l.sub.Unsubscribe(); err != nil {
				l.log.Warn("ratelimit: cannot unsubscribe", "err", err)
			}
		}
	})
}

// rareLog logs a warning at most once per logEvery, counting the ones it suppressed.
type rareLog struct {
	mu         sync.Mutex
	next       time.Time
	suppressed int
}

func (r *rareLog) warn(log *slog.Logger, now time.Time, msg string, args ...any) {
	r.mu.Lock()
	if now.Before(r.next) {
		r.suppressed++
		r.mu.Unlock()
		return
	}
	n := r.suppressed
	r.suppressed = 0
	r.next = now.Add(logEvery)
	r.mu.Unlock()
	log.Warn(msg, append(args, "suppressed", n)...)
}
