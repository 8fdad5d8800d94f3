package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/testkit"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	l := newLimiter(60, 3) // one a second, bursts of three
	l.now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("burst request %d refused", i)
		}
	}
	ok, wait := l.allow("a")
	if ok || wait < 900*time.Millisecond || wait > time.Second {
		t.Fatalf("fourth: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := l.allow("b"); !ok {
		t.Fatal("another key was limited")
	}
	now = now.Add(time.Second)
	if ok, _ := l.allow("a"); !ok {
		t.Fatal("no token after a second")
	}
	now = now.Add(time.Hour)
	l.allow("c")
	if len(l.buckets) != 1 {
		t.Fatalf("idle buckets kept: %d", len(l.buckets))
	}
}

// TestGuestLimitPerIP: one address gets GuestBurst login attempts, then 429 with Retry-After,
// whatever emails it tries.
func TestGuestLimitPerIP(t *testing.T) {
	h := newHarness(t, testkit.SQLite(t))
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var last *http.Response
	for i := 0; i <= GuestBurst; i++ {
		form := url.Values{"email": {fmt.Sprintf("user%d@acme.example", i)}, "password": {"wrong password"}}
		resp, err := client.PostForm(h.srv.URL+"/login", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if i < GuestBurst && resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, resp.StatusCode)
		}
		last = resp
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("attempt %d: %d, Retry-After %q", GuestBurst+1, last.StatusCode, last.Header.Get("Retry-After"))
	}
}

func TestClientIP(t *testing.T) {
	s := &Server{proxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}}
	for _, tc := range []struct {
		remote, xff, want string
	}{
		{"203.0.113.9:5555", "", "203.0.113.9"},
		{"203.0.113.9:5555", "1.2.3.4", "203.0.113.9"}, // not a proxy: its header is ignored
		{"10.1.2.3:443", "198.51.100.7", "198.51.100.7"},
		{"10.1.2.3:443", "6.6.6.6, 198.51.100.7", "198.51.100.7"},  // the client forged the first hop
		{"10.1.2.3:443", "198.51.100.7, 10.9.9.9", "198.51.100.7"}, // two proxies deep
		{"10.1.2.3:443", "garbage, 198.51.100.7", "198.51.100.7"},  // right-most untrusted wins first
		{"10.1.2.3:443", "198.51.100.7, not-an-ip", "10.1.2.3"},    // malformed chain: the peer
		{"10.1.2.3:443", "10.4.4.4", "10.1.2.3"},                   // only proxies: the peer
		{"[::ffff:127.0.0.1]:80", "2001:db8::1", "2001:db8::1"},    // IPv4-mapped peer
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := s.clientIP(r); got != tc.want {
			t.Errorf("clientIP(%s, XFF %q) = %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}

func TestLimitKey(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.9":          "203.0.113.9",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"::ffff:203.0.113.9":   "::ffff:203.0.113.9",
		"not an address":       "not an address",
	} {
		if got := limitKey(in); got != want {
			t.Errorf("limitKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTTLCache(t *testing.T) {
	c := newTTLCache[int](time.Hour, 2)
	if !c.first("a", 1) || c.first("a", 2) {
		t.Fatal("first: a second call within the lifetime must say no")
	}
	if v, ok := c.get("a"); !ok || v != 1 {
		t.Fatalf("get a = %v, %v", v, ok)
	}
	c.put("b", 2)
	c.put("c", 3) // over max: starts over
	if _, ok := c.get("a"); ok {
		t.Fatal("a survived the reset at max entries")
	}
	old := newTTLCache[int](time.Nanosecond, 10)
	old.put("x", 1)
	time.Sleep(time.Millisecond)
	if _, ok := old.get("x"); ok || !old.first("x", 2) {
		t.Fatal("an expired entry still counted")
	}
}
