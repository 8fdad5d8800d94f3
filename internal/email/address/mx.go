package address

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"time"
)

// MXStatus is the outcome of a mail-exchanger look-up. Its values double as Reason codes.
type MXStatus string

// The outcomes of MXChecker.Check.
const (
	MXFound    MXStatus = "mx_found"     // the domain has MX records: acceptable
	MXImplicit MXStatus = "mx_implicit"  // no MX but A/AAAA records: the implicit MX of RFC 5321 §5.1; acceptable
	MXNull     MXStatus = "mx_null"      // a null MX (RFC 7505, a single MX "."): the domain accepts no mail; refuse
	MXNotFound MXStatus = "mx_not_found" // NXDOMAIN, or neither MX nor A/AAAA records; refuse
	MXUnknown  MXStatus = "mx_unknown"   // timeout, SERVFAIL or another failure: must NOT refuse
	MXSkipped  MXStatus = "mx_skipped"   // an IP literal or an empty name: nothing to look up
)

// MXResult is what MXChecker.Check found.
type MXResult struct {
	Status MXStatus
	Hosts  []string // for MXFound: the mail exchangers, most preferred first, without the trailing dot
	Err    error    // for MXUnknown: the cause, for the log
}

// Refuses reports whether the result shows that the domain cannot receive mail (MXNull, MXNotFound).
func (r MXResult) Refuses() bool { return r.Status == MXNull || r.Status == MXNotFound }

// Defaults of MXChecker.
const (
	DefaultMXTimeout    = 2 * time.Second
	DefaultMXTTL        = 5 * time.Minute
	DefaultMXUnknownTTL = 30 * time.Second
	DefaultMXCacheSize  = 10000
)

// MXChecker looks up whether a domain can receive mail. It caches answers in memory for TTL
// (MXUnknown for DefaultMXUnknownTTL) in a cache of at most CacheSize domains, and concurrent checks
// of one domain share a single look-up, so a burst of sign-ups does not hammer DNS. The zero value
// is ready to use with net.DefaultResolver; an MXChecker must not be copied after first use and is
// safe for concurrent use.
type MXChecker struct {
	Resolver  *net.Resolver // nil means net.DefaultResolver
	Timeout   time.Duration // per look-up; 0 means DefaultMXTimeout
	TTL       time.Duration // how long a definite answer is cached; 0 means DefaultMXTTL
	CacheSize int           // most domains cached; 0 means DefaultMXCacheSize

	mu       sync.Mutex
	cache    map[string]mxEntry
	inflight map[string]*mxCall
	now      func() time.Time // tests replace it
}

type mxEntry struct {
	res     MXResult
	expires time.Time
}

type mxCall struct {
	done chan struct{}
	res  MXResult
}

// Check looks up asciiDomain (the A-label form, Address.ASCIIDomain) and reports whether it can
// receive mail: MX records; else A/AAAA records (implicit MX); a null MX; nothing (NXDOMAIN or no
// records; Go's resolver does not tell these two apart); or MXUnknown when DNS did not answer
// (timeout, SERVFAIL, a cancelled ctx), which callers must treat as acceptable. IP literals
// ("[192.0.2.1]") are MXSkipped. Check never returns an error; MXResult.Err carries the cause of
// MXUnknown.
func (c *MXChecker) Check(ctx context.Context, asciiDomain string) MXResult {
	name := strings.ToLower(strings.TrimSuffix(asciiDomain, "."))
	if name == "" || strings.HasPrefix(name, "[") {
		return MXResult{Status: MXSkipped}
	}
	c.mu.Lock()
	if c.now == nil {
		c.now = time.Now
	}
	now := c.now()
	if e, ok := c.cache[name]; ok && now.Before(e.expires) {
		c.mu.Unlock()
		return e.res.clone()
	}
	call, shared := c.inflight[name]
	if !shared {
		call = &mxCall{done: make(chan struct{})}
		if c.inflight == nil {
			c.inflight = map[string]*mxCall{}
		}
		c.inflight[name] = call
	}
	c.mu.Unlock()

	if !shared {
		// The look-up outlives a caller that gives up, so that the others sharing it, and the
		// cache, still get its answer; its own timeout bounds it.
		go c.lookup(context.WithoutCancel(ctx), name, call)
	}
	select {
	case <-call.done:
		return call.res.clone()
	case <-ctx.Done():
		return MXResult{Status: MXUnknown, Err: ctx.Err()}
	}
}

func (r MXResult) clone() MXResult {
	r.Hosts = slices.Clone(r.Hosts)
	return r
}

// lookup resolves name, stores the answer in the cache and wakes the callers waiting on call.
func (c *MXChecker) lookup(ctx context.Context, name string, call *mxCall) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultMXTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	call.res = c.resolve(ctx, name)

	c.mu.Lock()
	defer c.mu.Unlock()
	ttl := c.TTL
	if ttl <= 0 {
		ttl = DefaultMXTTL
	}
	if call.res.Status == MXUnknown {
		ttl = min(ttl, DefaultMXUnknownTTL)
	}
	c.store(name, mxEntry{res: call.res, expires: c.now().Add(ttl)})
	delete(c.inflight, name)
	close(call.done)
}

// store puts e in the cache, making room first when it is full: expired entries go, and if that is
// not enough, about a tenth of the rest (Go's map order makes the choice arbitrary).
func (c *MXChecker) store(name string, e mxEntry) {
	size := c.CacheSize
	if size <= 0 {
		size = DefaultMXCacheSize
	}
	if c.cache == nil {
		c.cache = map[string]mxEntry{}
	}
	if _, ok := c.cache[name]; !ok && len(c.cache) >= size {
		now := c.now()
		for k, v := range c.cache {
			if !now.Before(v.expires) {
				delete(c.cache, k)
			}
		}
		for k := range c.cache {
			if len(c.cache) < size-size/10 {
				break
			}
			delete(c.cache, k)
		}
	}
	c.cache[name] = e
}

func (c *MXChecker) resolve(ctx context.Context, name string) MXResult {
	r := c.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	fqdn := name + "." // absolute: no search domains
	mxs, err := r.LookupMX(ctx, fqdn)
	if len(mxs) > 0 {
		// A null MX is a single record with the root as host (RFC 7505); a "." next to real
		// exchangers is a misconfiguration that senders ignore.
		var hosts []string
		for _, mx := range mxs {
			if h := strings.TrimSuffix(mx.Host, "."); h != "" {
				hosts = append(hosts, h)
			}
		}
		if len(hosts) == 0 {
			return MXResult{Status: MXNull}
		}
		return MXResult{Status: MXFound, Hosts: hosts}
	}
	if err != nil && !notFound(err) {
		return MXResult{Status: MXUnknown, Err: err}
	}
	ips, err := r.LookupIPAddr(ctx, fqdn)
	switch {
	case len(ips) > 0:
		return MXResult{Status: MXImplicit}
	case err == nil || notFound(err):
		return MXResult{Status: MXNotFound}
	default:
		return MXResult{Status: MXUnknown, Err: err}
	}
}

// notFound reports whether err is a definite "no such name or no such records" answer.
func notFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound && !de.IsTimeout && !de.IsTemporary
}
