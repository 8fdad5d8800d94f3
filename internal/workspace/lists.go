package workspace

import (
	"net/url"
	"slices"
	"strings"

	"github.com/beckonhq/beckon/internal/errs"
)

// MaxListLen bounds the Live View block list and the target account list.
const MaxListLen = 500

// normalizeBlockList checks and normalises Live View block entries: a host, "*." and a host, or a
// host and a path prefix; lower-cased, without scheme, query or fragment, duplicates removed. It
// returns errs.Invalid about "settings.live_view_block".
func normalizeBlockList(in []string) ([]string, error) {
	const f = "settings.live_view_block"
	if len(in) > MaxListLen {
		return nil, errs.Field(errs.Invalid, f, "holds at most %d entries", MaxListLen)
	}
	out := []string{}
	for _, e := range in {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if i := strings.Index(e, "://"); i >= 0 {
			e = e[i+3:]
		}
		e, _, _ = strings.Cut(e, "#")
		e, _, _ = strings.Cut(e, "?")
		host, path, _ := strings.Cut(e, "/")
		host = strings.ToLower(host)
		wild := strings.HasPrefix(host, "*.")
		if !validHost(strings.TrimPrefix(host, "*.")) || len(e) > 300 {
			return nil, errs.Field(errs.Invalid, f, "%q is not a host, *.host or host/path", e)
		}
		if wild && path != "" {
			return nil, errs.Field(errs.Invalid, f, "%q: a wildcard entry names a host only", e)
		}
		entry := host
		if path = strings.TrimRight(path, "/"); path != "" {
			if strings.ContainsFunc(path, func(r rune) bool { return r <= ' ' }) {
				return nil, errs.Field(errs.Invalid, f, "%q has spaces or control characters", e)
			}
			entry += "/" + path
		}
		if !slices.Contains(out, entry) {
			out = append(out, entry)
		}
	}
	return out, nil
}

// normalizeDomains checks and normalises target account domains ("globex.com"; a URL or an email
// address is reduced to its domain; "www." dropped). It returns errs.Invalid about
// "settings.target_accounts".
func normalizeDomains(in []string) ([]string, error) {
	const f = "settings.target_accounts"
	if len(in) > MaxListLen {
		return nil, errs.Field(errs.Invalid, f, "holds at most %d entries", MaxListLen)
	}
	out := []string{}
	for _, e := range in {
		d := Domain(e)
		if strings.TrimSpace(e) == "" {
			continue
		}
		if d == "" || !strings.Contains(d, ".") {
			return nil, errs.Field(errs.Invalid, f, "%q is not a domain like globex.com", strings.TrimSpace(e))
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out, nil
}

// Domain reduces an email address, URL or host to its lower-case domain without "www.", or ""
// when s holds none.
func Domain(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if _, after, ok := strings.Cut(s, "@"); ok {
		s = after
	}
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	s, _, _ = strings.Cut(s, "/")
	s, _, _ = strings.Cut(s, "?")
	if h, _, ok := strings.Cut(s, ":"); ok {
		s = h
	}
	s = strings.TrimPrefix(strings.TrimSuffix(s, "."), "www.")
	if !validHost(s) {
		return ""
	}
	return s
}

func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// LiveViewBlocked reports whether a page URL falls under the block list (entries as
// normalizeBlockList leaves them): its host equals an entry's host, or is a subdomain of a
// "*." entry's host, and its path starts with the entry's path on a segment boundary.
func LiveViewBlocked(block []string, pageURL string) bool {
	if len(block) == 0 {
		return false
	}
	u, err := url.Parse(pageURL)
	if err != nil {
		return false
	}
	host, path := strings.ToLower(u.Hostname()), strings.TrimRight(u.EscapedPath(), "/")
	for _, e := range block {
		eh, ep, _ := strings.Cut(e, "/")
		switch {
		case strings.HasPrefix(eh, "*."):
			if base := eh[2:]; host == base || strings.HasSuffix(host, "."+base) {
				return true
			}
		case host == eh:
			if ep == "" || path == "/"+ep || strings.HasPrefix(path, "/"+ep+"/") {
				return true
			}
		}
	}
	return false
}

// IsTargetAccount reports whether any of the given emails, URLs or domains is at one of the
// target account domains (or a subdomain of one).
func IsTargetAccount(targets []string, hints ...string) bool {
	for _, h := range hints {
		d := Domain(h)
		if d == "" {
			continue
		}
		for _, t := range targets {
			if d == t || strings.HasSuffix(d, "."+t) {
				return true
			}
		}
	}
	return false
}
