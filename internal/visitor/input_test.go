package visitor_test

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/visitor"
)

func TestCheckPage(t *testing.T) {
	long := "https://acme.example/" + strings.Repeat("a", visitor.MaxURLLen-len("https://acme.example/"))
	for _, c := range []struct {
		name  string
		in    visitor.Page
		want  visitor.Page
		kind  errs.Kind
		field string
	}{
		{name: "plain", in: visitor.Page{URL: "https://acme.example/pricing?x=1#top", Title: "Pricing", Referrer: "https://www.google.com/"},
			want: visitor.Page{URL: "https://acme.example/pricing?x=1#top", Title: "Pricing", Referrer: "https://www.google.com/"}},
		{name: "trimmed", in: visitor.Page{URL: " http://acme.example ", Title: "  A\ttitle\n "},
			want: visitor.Page{URL: "http://acme.example", Title: "A title"}},
		{name: "longest url", in: visitor.Page{URL: long}, want: visitor.Page{URL: long}},
		{name: "title cut", in: visitor.Page{URL: "https://a.example", Title: strings.Repeat("é", 400)},
			want: visitor.Page{URL: "https://a.example", Title: strings.Repeat("é", visitor.MaxTitleLen)}},
		{name: "odd referrer dropped", in: visitor.Page{URL: "https://a.example", Referrer: "android-app://com.google.android.gm/"},
			want: visitor.Page{URL: "https://a.example"}},
		{name: "javascript referrer dropped", in: visitor.Page{URL: "https://a.example", Referrer: "javascript:alert(1)"},
			want: visitor.Page{URL: "https://a.example"}},
		{name: "no url", in: visitor.Page{Title: "x"}, kind: errs.Invalid, field: "url"},
		{name: "url too long", in: visitor.Page{URL: long + "a"}, kind: errs.Invalid, field: "url"},
		{name: "ftp", in: visitor.Page{URL: "ftp://acme.example/"}, kind: errs.Invalid, field: "url"},
		{name: "javascript", in: visitor.Page{URL: "javascript:alert(1)"}, kind: errs.Invalid, field: "url"},
		{name: "relative", in: visitor.Page{URL: "/pricing"}, kind: errs.Invalid, field: "url"},
		{name: "no host", in: visitor.Page{URL: "https:///x"}, kind: errs.Invalid, field: "url"},
		{name: "control", in: visitor.Page{URL: "https://a.example/a\u0085b"}, kind: errs.Invalid, field: "url"},
		{name: "bad utf-8 url", in: visitor.Page{URL: "https://a.example/\xff"}, kind: errs.Malformed, field: "url"},
		{name: "NUL title", in: visitor.Page{URL: "https://a.example", Title: "a\x00b"}, kind: errs.Malformed, field: "title"},
		{name: "bad utf-8 referrer", in: visitor.Page{URL: "https://a.example", Referrer: "https://b.example/\xc3"}, kind: errs.Malformed, field: "referrer"},
		{name: "referrer too long", in: visitor.Page{URL: "https://a.example", Referrer: long + "a"}, kind: errs.Invalid, field: "referrer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := visitor.CheckPage(c.in)
			if c.field != "" {
				e := errs.As(err)
				if e == nil || e.Kind != c.kind || e.Field != c.field {
					t.Fatalf("CheckPage = %+v, %v; want %v about %s", got, err, c.kind, c.field)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("CheckPage = %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}

// FuzzCheckPage checks that CheckPage never panics, refuses only with Invalid or Malformed about a
// field, and accepts only pages within the limits: an http(s) URL, a short clean title, valid
// UTF-8 everywhere, and a result that CheckPage leaves as it is.
func FuzzCheckPage(f *testing.F) {
	f.Add("https://acme.example/pricing?utm_source=x", "Pricing", "https://google.com/")
	f.Add("http://a", "", "")
	f.Add("HTTPS://A.EXAMPLE", "\x00", "x")
	f.Add("https://a.example/%zz", "t\u202e", "https://b.example/\xff")
	f.Fuzz(func(t *testing.T, u, title, ref string) {
		p, err := visitor.CheckPage(visitor.Page{URL: u, Title: title, Referrer: ref})
		if err != nil {
			if e := errs.As(err); e == nil || (e.Kind != errs.Invalid && e.Kind != errs.Malformed) || e.Field == "" {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		for _, s := range []string{p.URL, p.Title, p.Referrer} {
			if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
				t.Fatalf("accepted %q", s)
			}
		}
		pu, err := url.Parse(p.URL)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || len(p.URL) > visitor.MaxURLLen {
			t.Fatalf("accepted url %q", p.URL)
		}
		if utf8.RuneCountInString(p.Title) > visitor.MaxTitleLen || strings.ContainsAny(p.Title, "\r\n\t") {
			t.Fatalf("accepted title %q", p.Title)
		}
		if again, err := visitor.CheckPage(p); err != nil || again != p {
			t.Fatalf("not stable: %+v → %+v, %v", p, again, err)
		}
	})
}

func TestParseCampaign(t *testing.T) {
	for _, c := range []struct {
		url  string
		want visitor.Campaign
	}{
		{"https://acme.example/?utm_source=google&utm_medium=cpc&utm_campaign=spring%20sale&utm_term=chat+software&utm_content=ad-1&gclid=Cj0KCQ",
			visitor.Campaign{Source: "google", Medium: "cpc", Name: "spring sale", Term: "chat software", Content: "ad-1", GCLID: "Cj0KCQ"}},
		{"https://acme.example/pricing", visitor.Campaign{}},
		{"https://acme.example/?utm_source=a&utm_source=b", visitor.Campaign{Source: "a"}},
		{"https://acme.example/?UTM_SOURCE=a", visitor.Campaign{}}, // names are exact, as Google Analytics reads them
		{"https://acme.example/?utm_source=%00x&utm_medium=%ff&utm_campaign=%E2%80%AEevil", visitor.Campaign{}},
		{"https://acme.example/?utm_source=%zz&utm_medium=ok", visitor.Campaign{Medium: "ok"}},
		{"https://acme.example/#/?utm_source=hash", visitor.Campaign{}},
		{"https://acme.example/?utm_source=" + strings.Repeat("x", 300), visitor.Campaign{Source: strings.Repeat("x", 255)}},
		{"::not a url", visitor.Campaign{}},
	} {
		if got := visitor.ParseCampaign(c.url); got != c.want {
			t.Errorf("ParseCampaign(%.80q) = %+v, want %+v", c.url, got, c.want)
		}
	}
}

// FuzzParseCampaign checks that campaign parsing never panics and yields short, clean, valid
// UTF-8 values.
func FuzzParseCampaign(f *testing.F) {
	f.Add("https://acme.example/?utm_source=google&gclid=abc")
	f.Add("https://a/?utm_term=%ff%00")
	f.Add("https://a/?utm_campaign=" + strings.Repeat("%E2%82%AC", 300))
	f.Fuzz(func(t *testing.T, u string) {
		c := visitor.ParseCampaign(u)
		for _, v := range []string{c.Source, c.Medium, c.Name, c.Term, c.Content, c.GCLID} {
			if !utf8.ValidString(v) || utf8.RuneCountInString(v) > 255 || strings.ContainsAny(v, "\x00\r\n") || strings.TrimSpace(v) != v {
				t.Fatalf("ParseCampaign(%q) gave %q", u, v)
			}
		}
	})
}

func TestNormalizeLanguage(t *testing.T) {
	for in, want := range map[string]string{
		"de-DE": "de-DE", "en": "en", "zh-Hant-TW": "zh-Hant-TW", "es-419": "es-419", " fr ": "fr",
		"": "", "e": "", "123": "", "de_DE": "", "de--DE": "", "de-": "", "<script>": "", "en-US,en;q=0.9": "",
		strings.Repeat("a", 8) + "-" + strings.Repeat("b-", 14) + "c": "", // 36 bytes
		"toolongxx": "",
	} {
		if got := visitor.NormalizeLanguage(in); got != want {
			t.Errorf("NormalizeLanguage(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	for in, want := range map[string]string{
		" Ada@Acme.Example ": "ada@acme.example", "a@b.co": "a@b.co",
		"": "", "a@b": "", "Ada <ada@acme.example>": "", "a@@b.co": "", "a b@c.de": "",
	} {
		got, err := visitor.NormalizeEmail(in)
		if want == "" {
			if !errs.Is(err, errs.Invalid) {
				t.Errorf("NormalizeEmail(%q) = %q, %v; want invalid", in, got, err)
			}
		} else if got != want || err != nil {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
