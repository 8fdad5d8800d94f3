package workspace_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/clock"
	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/id"
	"github.com/beckonhq/beckon/internal/testkit"
	"github.com/beckonhq/beckon/internal/workspace"
)

func TestNormalizeOrigin(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://www.acme.example", "https://www.acme.example"},
		{"HTTPS://WWW.Acme.Example:443/", "https://www.acme.example"},
		{"http://localhost:8081", "http://localhost:8081"},
		{"http://127.0.0.1:80", "http://127.0.0.1"},
		{"https://*.acme.example", "https://*.acme.example"},
		{"https://acme.example/path", ""},
		{"ftp://acme.example", ""},
		{"acme.example", ""},
		{"https://user@acme.example", ""},
		{"https://acme.example?x=1", ""},
		{"https://*", ""},
		{"https://a*b.example", ""},
		{"", ""},
		{"https://a.example:65535", "https://a.example:65535"},
		{"http://localhost:08081", "http://localhost:8081"},
		{"https://a.example:0443", "https://a.example"},
		{"https://a.example:99999", ""},
		{"https://a.example:65536", ""},
		{"https://a.example:0", ""},
		{"https://a.example:00000", ""},
		{"http://[::1]:99999", ""},
		{"https://a.example:" + strings.Repeat("9", 30), ""},
		{"https://a.example:-1", ""},
	} {
		got, err := workspace.NormalizeOrigin(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("NormalizeOrigin(%q) = %q, want error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestOriginAllowed(t *testing.T) {
	w := &workspace.Workspace{AllowedOrigins: []string{"https://acme.example", "https://*.shop.example", "http://localhost:8081"}}
	for origin, want := range map[string]bool{
		"https://acme.example":        true,
		"https://acme.example:443":    true,
		"http://acme.example":         false,
		"https://evil-acme.example":   false,
		"https://a.shop.example":      true,
		"https://x.y.shop.example":    true,
		"https://shop.example":        false,
		"https://evilshop.example":    false,
		"http://a.shop.example":       false,
		"http://localhost:8081":       true,
		"http://localhost:8082":       false,
		"null":                        false,
		"https://*.shop.example":      false,
		"https://acme.example.evil.x": false,
	} {
		if got := w.OriginAllowed(origin); got != want {
			t.Errorf("OriginAllowed(%q) = %v, want %v", origin, got, want)
		}
	}
}

func FuzzNormalizeOrigin(f *testing.F) {
	for _, s := range []string{"https://a.example", "http://[::1]:80", "https://*.x.y", "javascript:alert(1)", "https://a.example:99999", "http://a:0080"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := workspace.NormalizeOrigin(s)
		if err != nil {
			return
		}
		again, err := workspace.NormalizeOrigin(n)
		if err != nil || again != n {
			t.Fatalf("not idempotent: %q → %q → %q, %v", s, n, again, err)
		}
		u, err := url.Parse(n)
		if err != nil {
			t.Fatalf("%q → %q, which does not parse: %v", s, n, err)
		}
		if p := u.Port(); p != "" {
			if port, err := strconv.Atoi(p); err != nil || port < 1 || port > 65535 || strconv.Itoa(port) != p {
				t.Fatalf("%q → %q: port %q is not canonical in 1–65535", s, n, p)
			}
		}
	})
}

func TestValidateName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Acme", "Acme"},
		{"  Acme Inc.  ", "Acme Inc."},
		{"Ünïcödé 日本 🚀", "Ünïcödé 日本 🚀"},
		{strings.Repeat("é", 100), strings.Repeat("é", 100)},
		{strings.Repeat("é", 101), ""},
		{"", ""},
		{"   ", ""},
		{"Ac\x00me", ""},
		{"Ac\tme", ""},
		{"Ac\nme", ""},
		{"Ac\rme", ""},
		{"Ac\x7fme", ""},                   // DEL (Cc)
		{"Ac\u0085me", ""},                 // NEL, a C1 control (Cc)
		{"Ac\u009bme", ""},                 // CSI, a C1 control (Cc)
		{"Acme\u202Egnp.exe", ""},          // right-to-left override (Cf)
		{"Ac\u200Bme", ""},                 // zero-width space (Cf)
		{"Team 👩\u200d💻", "Team 👩\u200d💻"}, // the zero-width joiner of an emoji sequence is kept
		{"Ac\u2066me", ""},                 // left-to-right isolate (Cf)
		{"\uFEFFAcme", ""},                 // byte order mark (Cf)
		{"Ac\u00ADme", ""},                 // soft hyphen (Cf)
		{"Ac\xffme", ""},                   // not UTF-8
	} {
		got, err := workspace.ValidateName(tc.in)
		if tc.want == "" {
			if e := errs.As(err); e == nil || e.Kind != errs.Invalid || e.Field != "name" {
				t.Errorf("ValidateName(%+q) = %q, %v; want Invalid on name", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ValidateName(%+q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"Acme", " Acme Inc ", "Acme\u202Egnp", "a\x00b", "日本", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := workspace.ValidateName(s)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("ValidateName(%+q): %v, want Invalid", s, err)
			}
			return
		}
		if !utf8.ValidString(n) || n == "" || utf8.RuneCountInString(n) > workspace.MaxNameLen || n != strings.TrimSpace(n) {
			t.Fatalf("ValidateName(%+q) accepted %+q", s, n)
		}
		for _, r := range n {
			if unicode.In(r, unicode.Cc, unicode.Cf) {
				t.Fatalf("ValidateName(%+q) accepted %+q with %U", s, n, r)
			}
		}
		if again, err := workspace.ValidateName(n); err != nil || again != n {
			t.Fatalf("not idempotent: %+q → %+q → %+q, %v", s, n, again, err)
		}
	})
}

func TestStore(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clk := clock.NewFake(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
		s := workspace.NewStore(d, clk)
		w, err := s.Create(ctx, d, workspace.New{Name: " Acme ", TimeZone: "America/New_York", AllowedOrigins: []string{"https://acme.example/"}})
		if err != nil {
			t.Fatal(err)
		}
		if w.Name != "Acme" || !id.Valid("ws", w.ID) || !id.Valid("site", w.SiteID) || w.AllowedOrigins[0] != "https://acme.example" {
			t.Fatalf("created %+v", w)
		}
		got, err := s.BySiteID(ctx, w.SiteID)
		if err != nil || got.ID != w.ID || !got.CreatedAt.Equal(clk.Now()) {
			t.Fatalf("BySiteID: %+v %v", got, err)
		}
		for _, bad := range []workspace.Patch{
			{TimeZone: ptr("Mars/Base")},
			{Name: ptr("")},
			{AllowedOrigins: &[]string{"https://ok.example", "nope"}},
		} {
			if _, err := s.Update(ctx, w.ID, bad); !errs.Is(err, errs.Invalid) {
				t.Errorf("Update(%+v) = %v, want invalid", bad, err)
			}
		}
		clk.Advance(time.Hour)
		w2, err := s.Update(ctx, w.ID, workspace.Patch{Name: ptr("Acme Inc"), TimeZone: ptr("Asia/Kolkata")})
		if err != nil || w2.Name != "Acme Inc" || w2.TimeZone != "Asia/Kolkata" || len(w2.AllowedOrigins) != 1 {
			t.Fatalf("Update: %+v %v", w2, err)
		}
		if _, err := s.Get(ctx, id.New("ws")); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Get unknown: %v", err)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// TestSiteCache: BySiteID answers repeat lookups from memory, and a change made through the store
// is seen at once.
func TestSiteCache(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := workspace.NewStore(d, clock.System{})
		w, _ := s.Create(ctx, d, workspace.New{Name: "Acme"})
		if _, err := s.BySiteID(ctx, w.SiteID); err != nil {
			t.Fatal(err)
		}
		// A change behind the store's back is not seen while the entry is fresh...
		d.ExecContext(ctx, `UPDATE workspaces SET name = 'Renamed in SQL' WHERE id = $1`, w.ID)
		if got, _ := s.BySiteID(ctx, w.SiteID); got.Name != "Acme" {
			t.Fatalf("not cached: %q", got.Name)
		}
		// ...a change through the store is.
		if _, err := s.Update(ctx, w.ID, workspace.Patch{Name: ptr("Acme Inc")}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.BySiteID(ctx, w.SiteID); got.Name != "Acme Inc" {
			t.Fatalf("stale after Update: %q", got.Name)
		}
		if _, err := s.BySiteID(ctx, "site_aaaaaaaaaaaaaaaaaaaaaaaaaa"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("unknown site: %v", err)
		}
	})
}
