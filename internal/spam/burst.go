package spam

import (
	"container/list"
	"hash/maphash"
	"sync"
	"time"
)

// Defaults for a BurstConfig left at its zero value.
const (
	DefaultBurstWindow  = 10 * time.Minute
	DefaultMaxKeys      = 4096
	DefaultMaxAddresses = 64
)

// BurstConfig sizes a BurstCounter. Zero or negative fields take the defaults.
type BurstConfig struct {
	// Window is how far back Seen looks: an address counts until Window after it was last seen.
	Window time.Duration
	// MaxKeys caps how many (workspace, domain) pairs are tracked; past it, the pair seen least
	// recently is forgotten.
	MaxKeys int
	// MaxAddresses caps how many distinct addresses are remembered per pair; past it, the one seen
	// least recently is forgotten, so a count never exceeds MaxAddresses. A burst limit must be
	// below it to ever trigger.
	MaxAddresses int
}

// BurstCounter counts, for each workspace and email domain, how many distinct addresses were
// submitted within a sliding window, so that a flood of sign-ups from one unknown domain
// ("a1@x.test", "a2@x.test", …) can be refused. Submitting the same address again does not raise
// the count.
//
// It lives in memory and its size is bounded (see BurstConfig); it keeps hashes of addresses, not
// the addresses. It is safe for concurrent use. Across replicas each process keeps its own
// counts, so a burst spread over n replicas is seen about 1/n at a time; a shared layer (for
// example in the database or NATS) can sit on top if that matters.
type BurstCounter struct {
	window   time.Duration
	maxKeys  int
	maxAddrs int
	seed     maphash.Seed

	mu   sync.Mutex
	keys map[uint64]*list.Element // key hash → element of lru, whose Value is *burstKey
	lru  *list.List               // most recently seen at the front
}

// burstKey is one (workspace, domain) pair: when it was last seen and its addresses.
type burstKey struct {
	key   uint64
	last  time.Time
	addrs map[uint64]time.Time // address hash → when last seen
}

// NewBurstCounter returns an empty counter sized by cfg.
func NewBurstCounter(cfg BurstConfig) *BurstCounter {
	if cfg.Window <= 0 {
		cfg.Window = DefaultBurstWindow
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if cfg.MaxAddresses <= 0 {
		cfg.MaxAddresses = DefaultMaxAddresses
	}
	return &BurstCounter{
		window:   cfg.Window,
		maxKeys:  cfg.MaxKeys,
		maxAddrs: cfg.MaxAddresses,
		seed:     maphash.MakeSeed(),
		keys:     make(map[uint64]*list.Element),
		lru:      list.New(),
	}
}

// Seen records that address was submitted for workspaceID at now and returns how many distinct
// addresses of domain the workspace has seen in the window up to now, this one included (at most
// MaxAddresses). Domain and address are compared without regard to ASCII case or surrounding
// spaces, and a trailing dot on the domain is ignored; sub-addresses ("ann+1@", "ann+2@") are
// distinct addresses. Which domains are unknown, and so worth counting, is the caller's policy.
// It never fails.
func (c *BurstCounter) Seen(workspaceID, domain, address string, now time.Time) (count int) {
	key := c.keyHash(workspaceID, domain)
	addr := c.foldHash(address)
	expired := now.Add(-c.window)

	c.mu.Lock()
	defer c.mu.Unlock()

	el := c.keys[key]
	if el == nil {
		// Forget pairs gone quiet for a whole window, then the least recent if still full.
		for back := c.lru.Back(); back != nil && !back.Value.(*burstKey).last.After(expired); back = c.lru.Back() {
			c.remove(back)
		}
		if c.lru.Len() >= c.maxKeys {
			c.remove(c.lru.Back())
		}
		el = c.lru.PushFront(&burstKey{key: key, last: now, addrs: make(map[uint64]time.Time)})
		c.keys[key] = el
	} else {
		c.lru.MoveToFront(el)
	}
	k := el.Value.(*burstKey)
	if now.After(k.last) {
		k.last = now
	}
	for a, t := range k.addrs {
		if !t.After(expired) {
			delete(k.addrs, a)
		}
	}
	if t, ok := k.addrs[addr]; !ok || now.After(t) {
		k.addrs[addr] = now
	}
	if len(k.addrs) > c.maxAddrs {
		var oldest uint64
		var at time.Time
		first := true
		for a, t := range k.addrs {
			if a != addr && (first || t.Before(at)) {
				oldest, at, first = a, t, false
			}
		}
		delete(k.addrs, oldest)
	}
	return len(k.addrs)
}

// Len returns how many (workspace, domain) pairs the counter holds, for metrics and tests.
func (c *BurstCounter) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

func (c *BurstCounter) remove(el *list.Element) {
	delete(c.keys, el.Value.(*burstKey).key)
	c.lru.Remove(el)
}

// keyHash hashes the pair (workspaceID, folded domain).
func (c *BurstCounter) keyHash(workspaceID, domain string) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(workspaceID)
	h.WriteByte(0)
	writeFolded(&h, trimDot(domain))
	return h.Sum64()
}

// foldHash hashes s with ASCII case and surrounding spaces ignored.
func (c *BurstCounter) foldHash(s string) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	writeFolded(&h, s)
	return h.Sum64()
}

func trimDot(domain string) string {
	domain = trimSpace(domain)
	for len(domain) > 0 && domain[len(domain)-1] == '.' {
		domain = domain[:len(domain)-1]
	}
	return domain
}

func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// writeFolded writes s to h with ASCII letters lower-cased and surrounding spaces dropped,
// without allocating.
func writeFolded(h *maphash.Hash, s string) {
	s = trimSpace(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		h.WriteByte(c)
	}
}

// Burst reports whether count distinct addresses in the window exceed limit, the number one
// domain may submit per window; limit 0 or below means no limit. With limit 5, the sixth distinct
// address is a burst.
func Burst(count, limit int) bool {
	return limit > 0 && count > limit
}
