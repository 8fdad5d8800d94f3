package visitor_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
	"github.com/beckonhq/beckon/internal/visitor"
)

func TestTokens(t *testing.T) {
	tk := visitor.NewTokens([]byte("a secret key of the server, 32 bytes or so"))
	now := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	vid := id.New("vis")
	good := tk.Issue("site_a", vid, now)
	if !strings.HasPrefix(good, "bkv2.site_a."+vid+"."+strconv.FormatInt(now.Unix(), 10)+".") {
		t.Fatalf("token %q", good)
	}
	parts := strings.Split(good, ".")
	const day = 24 * time.Hour
	other := visitor.NewTokens([]byte("another server's secret key"))
	flip := func(s string) string { // change the last character of the MAC
		b := []byte(s)
		if b[len(b)-1] == 'A' {
			b[len(b)-1] = 'B'
		} else {
			b[len(b)-1] = 'A'
		}
		return string(b)
	}
	for _, c := range []struct {
		name   string
		site   string
		token  string
		now    time.Time
		maxAge time.Duration
		ok     bool
	}{
		{"valid", "site_a", good, now, day, true},
		{"valid at max age", "site_a", good, now.Add(day), day, true},
		{"expired a second later", "site_a", good, now.Add(day + time.Second), day, false},
		{"issued a little in the future (skew)", "site_a", good, now.Add(-4 * time.Minute), day, true},
		{"issued far in the future", "site_a", good, now.Add(-6 * time.Minute), day, false},
		{"zero max age", "site_a", good, now, 0, false},
		{"another site", "site_b", good, now, day, false},
		{"another key", "site_a", other.Issue("site_a", vid, now), now, day, false},
		{"forged MAC", "site_a", flip(good), now, day, false},
		{"another visitor", "site_a", strings.Replace(good, vid, id.New("vis"), 1), now, day, false},
		{"another time", "site_a", strings.Replace(good, parts[3], strconv.FormatInt(now.Unix()+1, 10), 1), now, day, false},
		{"leading zero", "site_a", strings.Replace(good, parts[3], "0"+parts[3], 1), now, day, false},
		{"wrong prefix", "site_a", "bkv1" + strings.TrimPrefix(good, "bkv2"), now, day, false},
		{"site named differs", "site_a", strings.Replace(good, "site_a", "site_b", 1), now, day, false},
		{"extra part", "site_a", good + ".x", now, day, false},
		{"padding", "site_a", good + "=", now, day, false},
		{"not a visitor id", "site_a", tk.Issue("site_a", "usr_x", now), now, day, false},
		{"id with a bar", "site_a", tk.Issue("site_a", "vis|x", now), now, day, false},
		{"empty", "site_a", "", now, day, false},
		{"huge", "site_a", good + strings.Repeat("A", 500), now, day, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := tk.Verify(c.site, c.token, c.now, c.maxAge)
			if c.ok {
				if err != nil || got != vid {
					t.Fatalf("Verify = %q, %v; want %s", got, err, vid)
				}
				return
			}
			if !errs.Is(err, errs.Unauthenticated) || got != "" {
				t.Fatalf("Verify = %q, %v; want unauthenticated", got, err)
			}
		})
	}
}

func TestNewTokensRefusesEmptyKey(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	visitor.NewTokens(nil)
}

// FuzzVerify feeds arbitrary tokens to Verify: it must never panic, refuse with anything but
// errs.Unauthenticated, or accept a token that Issue would not have written for that site.
func FuzzVerify(f *testing.F) {
	tk := visitor.NewTokens([]byte("fuzzing key"))
	now := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	vid := "vis_" + strings.Repeat("a", 26)
	good := tk.Issue("site_a", vid, now.Add(-time.Hour))
	f.Add("site_a", good)
	f.Add("site_b", good)
	f.Add("site_a", "bkv2.site_a..0.")
	f.Add("site_a", "bkv2.site_a."+vid+".-1.AAAA")
	f.Add("site_a", "bkv2.site_a."+vid+".99999999999999999999."+strings.Split(good, ".")[4])
	f.Add("", "....")
	f.Fuzz(func(t *testing.T, site, token string) {
		got, err := tk.Verify(site, token, now, 48*time.Hour)
		if err != nil {
			if !errs.Is(err, errs.Unauthenticated) || got != "" {
				t.Fatalf("Verify(%q) = %q, %v", token, got, err)
			}
			return
		}
		if !id.Valid("vis", got) {
			t.Fatalf("accepted visitor id %q", got)
		}
		secs, _ := strconv.ParseInt(strings.Split(token, ".")[3], 10, 64)
		if want := tk.Issue(site, got, time.Unix(secs, 0)); want != token {
			t.Fatalf("accepted %q, which Issue writes as %q", token, want)
		}
	})
}

func TestTokenSite(t *testing.T) {
	tk := visitor.NewTokens([]byte("a secret key of the server, 32 bytes or so"))
	site := id.New("site")
	tok := tk.Issue(site, id.New("vis"), time.Now())
	if got := visitor.Site(tok); got != site {
		t.Fatalf("Site = %q, want %q", got, site)
	}
	for _, bad := range []string{"", "bkv2", "bkv2.site_x.vis_y.1.z", "bkv1." + site + ".a.b.c", strings.Repeat("a", 300)} {
		if got := visitor.Site(bad); got != "" {
			t.Errorf("Site(%q) = %q", bad, got)
		}
	}
}
