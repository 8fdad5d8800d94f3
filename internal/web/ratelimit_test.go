package web

import (
	"fmt"
	"net/http"
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
