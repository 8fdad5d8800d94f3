package address

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsServer is a tiny authoritative DNS server on 127.0.0.1 (UDP) with one zone per MX outcome.
type dnsServer struct {
	addr    string
	mu      sync.Mutex
	queries map[string]int // "name type" → count
}

// The test zone. Names not listed answer NXDOMAIN.
const (
	zoneMX       = "mx.test"       // two MX records
	zoneMixed    = "mixed.test"    // a "." MX beside a real one: not a null MX
	zoneImplicit = "implicit.test" // no MX, an A record
	zoneV6       = "v6.test"       // no MX, an AAAA record
	zoneNullMX   = "nullmx.test"   // RFC 7505 null MX
	zoneEmpty    = "empty.test"    // exists, no records at all
	zoneNX       = "nx.test"       // NXDOMAIN
	zoneServFail = "servfail.test" // SERVFAIL to everything
	zoneSlow     = "slow.test"     // never answers
)

func startDNS(t testing.TB) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{addr: pc.LocalAddr().String(), queries: map[string]int{}}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if reply := s.answer(buf[:n]); reply != nil {
				pc.WriteTo(reply, from)
			}
		}
	}()
	return s
}

func (s *dnsServer) count(name string, typ dnsmessage.Type) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[name+" "+typ.String()]
}

func (s *dnsServer) answer(msg []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	name := strings.TrimSuffix(strings.ToLower(q.Name.String()), ".")
	s.mu.Lock()
	s.queries[name+" "+q.Type.String()]++
	s.mu.Unlock()

	rcode := dnsmessage.RCodeSuccess
	type mx struct {
		pref uint16
		host string
	}
	var mxs []mx
	var a, aaaa bool
	switch name {
	case zoneMX:
		mxs, a = []mx{{20, "backup.mx.test."}, {10, "mail.mx.test."}}, true
	case zoneMixed:
		mxs = []mx{{0, "."}, {10, "mail.mixed.test."}}
	case zoneImplicit:
		a = true
	case zoneV6:
		aaaa = true
	case zoneNullMX:
		mxs, a = []mx{{0, "."}}, true
	case zoneEmpty:
	case zoneServFail:
		rcode = dnsmessage.RCodeServerFailure
	case zoneSlow:
		return nil
	default:
		rcode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionAvailable: true, RCode: rcode})
	b.EnableCompression()
	b.StartQuestions()
	b.Question(q)
	b.StartAnswers()
	rh := dnsmessage.ResourceHeader{Name: q.Name, Type: q.Type, Class: dnsmessage.ClassINET, TTL: 60}
	if rcode == dnsmessage.RCodeSuccess {
		switch q.Type {
		case dnsmessage.TypeMX:
			for _, m := range mxs {
				b.MXResource(rh, dnsmessage.MXResource{Pref: m.pref, MX: dnsmessage.MustNewName(m.host)})
			}
		case dnsmessage.TypeA:
			if a {
				b.AResource(rh, dnsmessage.AResource{A: [4]byte{192, 0, 2, 1}})
			}
		case dnsmessage.TypeAAAA:
			if aaaa {
				b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}})
			}
		}
	}
	reply, err := b.Finish()
	if err != nil {
		return nil
	}
	return reply
}

// resolver returns a pure-Go resolver that sends every query to s.
func (s *dnsServer) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", s.addr)
	}}
}

func TestMXCheck(t *testing.T) {
	dns := startDNS(t)
	c := &MXChecker{Resolver: dns.resolver(), Timeout: 500 * time.Millisecond}
	tests := []struct {
		domain string
		want   MXStatus
		hosts  []string
	}{
		{zoneMX, MXFound, []string{"mail.mx.test", "backup.mx.test"}},
		{"MX.TEST.", MXFound, []string{"mail.mx.test", "backup.mx.test"}},
		{zoneMixed, MXFound, []string{"mail.mixed.test"}},
		{zoneImplicit, MXImplicit, nil},
		{zoneV6, MXImplicit, nil},
		{zoneNullMX, MXNull, nil},
		{zoneEmpty, MXNotFound, nil},
		{zoneNX, MXNotFound, nil},
		{zoneServFail, MXUnknown, nil},
		{zoneSlow, MXUnknown, nil},
		{"[192.0.2.1]", MXSkipped, nil},
		{"", MXSkipped, nil},
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			start := time.Now()
			got := c.Check(context.Background(), tt.domain)
			if got.Status != tt.want || !slices.Equal(got.Hosts, tt.hosts) {
				t.Fatalf("Check(%q) = %+v, want %s %v", tt.domain, got, tt.want, tt.hosts)
			}
			if (got.Status == MXUnknown) != (got.Err != nil) {
				t.Errorf("Err = %v with status %s", got.Err, got.Status)
			}
			if got.Refuses() != (tt.want == MXNull || tt.want == MXNotFound) {
				t.Errorf("Refuses() = %v", got.Refuses())
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Check took %v, over its timeout", d)
			}
		})
	}
	if n := dns.count(zoneMX, dnsmessage.TypeMX); n != 1 {
		t.Errorf("mx.test was asked %d times, want 1 (the second check is cached)", n)
	}
	if dns.count("[192.0.2.1]", dnsmessage.TypeMX) != 0 {
		t.Error("an IP literal was looked up")
	}
}

func TestMXCacheExpiresAndIsBounded(t *testing.T) {
	dns := startDNS(t)
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	c := &MXChecker{Resolver: dns.resolver(), Timeout: 300 * time.Millisecond, TTL: time.Minute, CacheSize: 3}
	c.now = func() time.Time { return now }
	ctx := context.Background()

	c.Check(ctx, zoneImplicit)
	c.Check(ctx, zoneSlow)
	now = now.Add(DefaultMXUnknownTTL - time.Second)
	c.Check(ctx, zoneImplicit)
	c.Check(ctx, zoneSlow)
	if a, s := dns.count(zoneImplicit, dnsmessage.TypeMX), dns.count(zoneSlow, dnsmessage.TypeMX); a != 1 || s < 1 {
		t.Fatalf("before expiry: %d and %d MX queries", a, s)
	}
	slow := dns.count(zoneSlow, dnsmessage.TypeMX)
	now = now.Add(2 * time.Second) // past the unknown TTL, within the TTL
	c.Check(ctx, zoneImplicit)
	c.Check(ctx, zoneSlow)
	if a, s := dns.count(zoneImplicit, dnsmessage.TypeMX), dns.count(zoneSlow, dnsmessage.TypeMX); a != 1 || s == slow {
		t.Fatalf("unknown answers must expire sooner: %d implicit, %d→%d slow MX queries", a, slow, s)
	}
	now = now.Add(time.Minute)
	c.Check(ctx, zoneImplicit)
	if a := dns.count(zoneImplicit, dnsmessage.TypeMX); a != 2 {
		t.Fatalf("after the TTL: %d MX queries, want 2", a)
	}

	for _, d := range []string{zoneMX, zoneNullMX, zoneEmpty, zoneNX, zoneV6} {
		c.Check(ctx, d)
	}
	c.mu.Lock()
	n := len(c.cache)
	c.mu.Unlock()
	if n > 3 {
		t.Fatalf("cache holds %d entries, CacheSize is 3", n)
	}
}

func TestMXConcurrentChecksShareOneLookup(t *testing.T) {
	dns := startDNS(t)
	c := &MXChecker{Resolver: dns.resolver(), Timeout: time.Second}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if r := c.Check(context.Background(), zoneMX); r.Status != MXFound {
				t.Errorf("Check = %+v", r)
			}
		})
	}
	wg.Wait()
	if n := dns.count(zoneMX, dnsmessage.TypeMX); n != 1 {
		t.Fatalf("20 concurrent checks sent %d MX queries, want 1", n)
	}
}

func TestMXCallerGivesUp(t *testing.T) {
	dns := startDNS(t)
	c := &MXChecker{Resolver: dns.resolver(), Timeout: 300 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	r := c.Check(ctx, zoneSlow)
	if r.Status != MXUnknown || !errors.Is(r.Err, context.DeadlineExceeded) {
		t.Fatalf("Check = %+v, want mx_unknown with the caller's deadline", r)
	}
	// The shared look-up runs on to its own timeout and is cached for the next caller.
	time.Sleep(time.Second)
	c.mu.Lock()
	_, cached := c.cache[zoneSlow]
	c.mu.Unlock()
	if !cached {
		t.Fatal("the abandoned look-up was not cached")
	}
}

func BenchmarkMXCheckCached(b *testing.B) {
	dns := startDNS(b)
	c := &MXChecker{Resolver: dns.resolver()}
	c.Check(context.Background(), zoneMX)
	b.ReportAllocs()
	for b.Loop() {
		c.Check(context.Background(), zoneMX)
	}
}
