package workspace_test

import (
	"context"
	"testing"
	"time"

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
	for _, s := range []string{"https://a.example", "http://[::1]:80", "https://*.x.y", "javascript:alert(1)"} {
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
