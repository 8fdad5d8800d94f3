package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/bus"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/workspace"
)

// TestMessengerLimitAcrossReplicas: two servers on one database and one bus are two replicas; a
// client that spent its allowance on one is refused on the other, and a forged X-Forwarded-For
// from an untrusted peer changes nothing.
func TestMessengerLimitAcrossReplicas(t *testing.T) {
	d := testkit.SQLite(t)
	b := bus.NewInProcess()
	t.Cleanup(func() { b.Close() })
	a, other := newHarnessOn(t, d, b), newHarnessOn(t, d, b)
	hello := func(h *harness, i int) int {
		body := map[string]any{"site_id": h.ws.SiteID, "page": map[string]string{"url": siteOrigin + "/"}}
		// A forged X-Forwarded-For: the peer (127.0.0.1) is not a trusted proxy, so it is ignored.
		r := h.callWith("POST", "/m/v1/hello", "", body, map[string]string{"User-Agent": chromeUA, "Origin": siteOrigin,
			"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i%250)})
		if r.status != 200 && r.status != http.StatusTooManyRequests {
			t.Fatalf("hello: %d %s", r.status, r.body)
		}
		return r.status
	}
	for _, h := range []*harness{a, other} {
		if _, err := h.wss.Update(context.Background(), h.ws.ID, workspace.Patch{AllowedOrigins: &[]string{siteOrigin}}); err != nil {
			t.Fatal(err)
		}
	}
	ok := 0
	for i := 0; i < MessengerIPBurst+5; i++ {
		if hello(a, i) != http.StatusTooManyRequests {
			ok++
		}
	}
	if ok > MessengerIPBurst+2 {
		t.Fatalf("one replica allowed %d of %d hellos; the burst is %d", ok, MessengerIPBurst+5, MessengerIPBurst)
	}
	if err := a.s.msgIPs.Flush(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for hello(other, 0) != http.StatusTooManyRequests {
		if time.Now().After(deadline) {
			t.Fatal("the other replica still takes hellos from a client that spent its allowance")
		}
		time.Sleep(20 * time.Millisecond)
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
