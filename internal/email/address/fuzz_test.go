package address

import (
	"context"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzSeeds = []string{
	"ada@example.com", "Ada.Lovelace+x@Example.COM", `"john doe"@x.com`, `"a\"b"@x.com`, `"ab"@x.com`,
	`"a\\b"@x.com`, "用户@例子.广告", "info@bücher.de", "info@xn--bcher-kva.de", "a@[192.0.2.1]",
	"a@[IPv6:2001:db8::1]", "Ada <ada@example.com>", "a@b.com.", "a..b@x.com", "a@b@c", "@x.com",
	"a@", "a@例子。广告", "ÅNGSTRÖM@X.COM", "a\u037eb@x.com", "a\u200db@x.com", "İ@x.com", "ß@x.com",
	"\"\u00e9\"@x.com", "a@xn--zz.com", "a@faß.de", "x@ｅｘａｍｐｌｅ.com", "\u1e9e@x.com", "\u212a@x.com",
	"\u0345@x.com", "\u03a3\u0301@x.com", "a(b)@x.com", "a@b.c_m", "\xff@x.com",
}

// FuzzParse checks that Parse never panics, that what it accepts respects the limits and is
// normalised (String() parses back to the same Address), and that it stays within MaxInput.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Parse(s)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("Parse(%q): error without a code: %v", s, err)
			}
			return
		}
		str := a.String()
		if len(s) > MaxInput || !utf8.ValidString(str) {
			t.Fatalf("Parse(%q) accepted %q", s, str)
		}
		if len(a.Local) > MaxLocal || len(a.Local)+1+len(a.ASCIIDomain) > MaxAddress || len(a.ASCIIDomain) > MaxDomain {
			t.Fatalf("Parse(%q) = %q: over a limit", s, str)
		}
		if !isASCII(a.ASCIIDomain) || a.Local+"@"+a.Domain != str {
			t.Fatalf("Parse(%q) = %+v: inconsistent", s, a)
		}
		if strings.ContainsAny(str, " \t\r\n") && !strings.HasPrefix(str, `"`) {
			t.Fatalf("Parse(%q) = %q: white space outside quotes", s, str)
		}
		again, err := Parse(str)
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", s, str, err)
		}
		if again != a {
			t.Fatalf("Parse(%q) = %+v, but Parse(%q) = %+v", s, a, str, again)
		}
		if u, asc, err := ParseDomain(a.Domain); err != nil || u != a.Domain || asc != a.ASCIIDomain {
			t.Fatalf("ParseDomain(%q) = %q, %q, %v; want %q, %q", a.Domain, u, asc, err, a.Domain, a.ASCIIDomain)
		}
	})
}

// FuzzParseDomain checks that ParseDomain never panics and that its two forms are fixed points.
func FuzzParseDomain(f *testing.F) {
	for _, s := range []string{"example.com", "bücher.de", "xn--bcher-kva.de", "[192.0.2.1]", "例子。广告", "a..b", "-a.com", "faß.de"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, a, err := ParseDomain(s)
		if err != nil {
			return
		}
		for _, form := range []string{u, a} {
			u2, a2, err := ParseDomain(form)
			if err != nil || u2 != u || a2 != a {
				t.Fatalf("ParseDomain(%q) = %q, %q; ParseDomain(%q) = %q, %q, %v", s, u, a, form, u2, a2, err)
			}
		}
		_ = IsPersonal(s)
		_ = IsDisposable(s)
	})
}

// FuzzCheck checks that Check never panics and that its Result is consistent, with lists built
// from the input itself.
func FuzzCheck(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, "example.com", true)
	}
	f.Add("ada@mailinator.com", "mailinator.com", false)
	f.Add("ada@gmail.com", "ada@gmail.com", true)
	var v Validator
	f.Fuzz(func(t *testing.T, input, entry string, business bool) {
		p := Policy{BusinessOnly: business}
		if list, err := NormalizeList("allow", []string{entry}); err == nil {
			if again, err := NormalizeList("allow", list); err != nil || !slices.Equal(again, list) {
				t.Fatalf("NormalizeList(%q) = %q, which normalises to %q, %v", entry, list, again, err)
			}
			if business {
				p.BlockDomains, p.BlockAddresses = list, list
			} else {
				p.AllowDomains, p.AllowAddresses = list, list
			}
		}
		r := v.Check(context.Background(), input, p)
		if r.Reasons == nil || r.Valid && r.Normalized == "" || !r.Valid && len(r.Reasons) == 0 {
			t.Fatalf("Check(%q) = %+v", input, r)
		}
		if r.Personal && r.Disposable {
			t.Fatalf("Check(%q): both personal and disposable", input)
		}
		if r.Normalized != "" {
			a, err := Parse(r.Normalized)
			if err != nil || a.String() != r.Normalized {
				t.Fatalf("Check(%q).Normalized = %q does not parse to itself: %v", input, r.Normalized, err)
			}
		}
	})
}
