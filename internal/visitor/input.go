package visitor

import (
	"net/url"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/timezone"
)

// Limits on what a page view records (docs/MESSENGER-PROTOCOL.md).
const (
	MaxURLLen       = 2048 // bytes of a page URL or referrer; longer ones are refused
	MaxTitleLen     = 300  // characters of a title; longer ones are cut
	MaxUserAgentLen = 512  // characters of a user agent; longer ones are cut
	MaxLanguageLen  = 35   // bytes of a language tag; longer ones are dropped
	maxCampaignLen  = 255  // characters of a UTM parameter or gclid; longer ones are cut
)

// Page is a page a visitor has open, as the messenger reports it.
type Page struct {
	URL      string `json:"url"`      // http(s), at most 2,048 bytes
	Title    string `json:"title"`    // cut to 300 characters
	Referrer string `json:"referrer"` // kept only when an http(s) URL
}

// CheckPage validates and normalises a page: the URL must be an absolute http or https URL with a
// host, at most 2,048 bytes (errs.Invalid about "url"); the title is trimmed, its control
// characters turned into spaces and cut to 300 characters; a referrer longer than 2,048 bytes is
// errs.Invalid about "referrer", and one that is not an http(s) URL (android-app://…, garbage) is
// dropped. Text that is not valid UTF-8 or holds a NUL byte is errs.Malformed about its field.
func CheckPage(p Page) (Page, error) {
	for _, f := range []struct{ name, v string }{{"url", p.URL}, {"title", p.Title}, {"referrer", p.Referrer}} {
		if !utf8.ValidString(f.v) || strings.IndexByte(f.v, 0) >= 0 {
			return Page{}, errs.Field(errs.Malformed, f.name, "must be UTF-8 text without NUL characters")
		}
	}
	u := strings.TrimSpace(p.URL)
	switch {
	case u == "":
		return Page{}, errs.Field(errs.Invalid, "url", "is required")
	case len(u) > MaxURLLen:
		return Page{}, errs.Field(errs.Invalid, "url", "must be at most %d bytes", MaxURLLen)
	case !isWebURL(u):
		return Page{}, errs.Field(errs.Invalid, "url", "must be an http or https URL")
	}
	ref := strings.TrimSpace(p.Referrer)
	if len(ref) > MaxURLLen {
		return Page{}, errs.Field(errs.Invalid, "referrer", "must be at most %d bytes", MaxURLLen)
	}
	if !isWebURL(ref) {
		ref = ""
	}
	return Page{URL: u, Title: cleanText(p.Title, MaxTitleLen), Referrer: ref}, nil
}

// isWebURL reports whether s is an absolute http(s) URL with a host and no control characters.
func isWebURL(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return false
	}
	return u.Scheme == "http" || u.Scheme == "https"
}

// cleanText makes text from a browser fit for storing: control and format characters (but the
// zero-width joiner of emoji) become spaces, the ends are trimmed, and it is cut to max
// characters. It expects valid UTF-8 and replaces what is not.
func cleanText(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r != '\u200d' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > max {
		s = strings.TrimSpace(string([]rune(s)[:max]))
	}
	return s
}

// Campaign holds the campaign parameters of a landing URL (SPEC V2).
type Campaign struct {
	Source  string `json:"utm_source"`
	Medium  string `json:"utm_medium"`
	Name    string `json:"utm_campaign"`
	Term    string `json:"utm_term"`
	Content string `json:"utm_content"`
	GCLID   string `json:"gclid"` // Google Ads click id
}

// ParseCampaign returns the utm_source, utm_medium, utm_campaign, utm_term, utm_content and gclid
// query parameters of a URL (the first of each, exact lower-case names as Google Analytics reads
// them). Values are decoded, trimmed and cut to 255 characters; a value that decodes to invalid
// UTF-8 or control characters is dropped. It never fails: a URL it cannot read has no campaign.
func ParseCampaign(rawURL string) Campaign {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Campaign{}
	}
	q, _ := url.ParseQuery(u.RawQuery) // keeps the pairs it could read
	get := func(k string) string {
		v := q.Get(k)
		if !utf8.ValidString(v) {
			return ""
		}
		for _, r := range v {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				return ""
			}
		}
		v = strings.TrimSpace(v)
		if utf8.RuneCountInString(v) > maxCampaignLen {
			v = strings.TrimSpace(string([]rune(v)[:maxCampaignLen]))
		}
		return v
	}
	return Campaign{Source: get("utm_source"), Medium: get("utm_medium"), Name: get("utm_campaign"),
		Term: get("utm_term"), Content: get("utm_content"), GCLID: get("gclid")}
}

// NormalizeLanguage returns a browser language tag when it looks like BCP 47 (a 2–8 letter
// language, then subtags of 1–8 letters or digits separated by "-", at most 35 bytes in all:
// "de-DE", "zh-Hant-TW", "es-419"), and "" otherwise.
func NormalizeLanguage(tag string) string {
	tag = strings.TrimSpace(tag)
	if tag == "" || len(tag) > MaxLanguageLen {
		return ""
	}
	for i, sub := range strings.Split(tag, "-") {
		if len(sub) < 1 || len(sub) > 8 || (i == 0 && len(sub) < 2) {
			return ""
		}
		for j := 0; j < len(sub); j++ {
			c := sub[j]
			letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
			if !letter && (i == 0 || c < '0' || c > '9') {
				return ""
			}
		}
	}
	return tag
}

// knownZones remembers the zone names Validate accepted (a few hundred at most), because loading
// a zone parses its tzdata each time.
var knownZones sync.Map

// normalizeZone returns a browser time zone when the embedded tzdata knows it, and "" otherwise.
func normalizeZone(zone string) string {
	zone = strings.TrimSpace(zone)
	if _, ok := knownZones.Load(zone); ok {
		return zone
	}
	if zone == "" || timezone.Validate("time_zone", zone) != nil {
		return ""
	}
	knownZones.Store(zone, true)
	return zone
}

// normalizeUserAgent makes a User-Agent header fit for storing: a header is no user's typing, so
// bad bytes and control characters are replaced rather than refused, and it is cut to 512
// characters.
func normalizeUserAgent(ua string) string { return cleanText(ua, MaxUserAgentLen) }
