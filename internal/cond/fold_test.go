package cond

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// The references: the first runes of s, as many as p has, equal to p ignoring case.
func refPrefix(s, p string) bool {
	n := utf8.RuneCountInString(p)
	i := 0
	for k := 0; k < n; k++ {
		if i >= len(s) {
			return false
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return strings.EqualFold(s[:i], p)
}

func refSuffix(s, p string) bool {
	n := utf8.RuneCountInString(p)
	i := len(s)
	for k := 0; k < n; k++ {
		if i == 0 {
			return false
		}
		_, size := utf8.DecodeLastRuneInString(s[:i])
		i -= size
	}
	return strings.EqualFold(s[i:], p)
}

func refContains(s, p string) bool {
	for i := 0; i <= len(s); {
		if refPrefix(s[i:], p) {
			return true
		}
		if i == len(s) {
			break
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return false
}

func refGlob(s, pattern string) bool {
	parts := strings.Split(pattern, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`(?is)\A` + strings.Join(parts, ".*") + `\z`).MatchString(s)
}

func checkFold(t *testing.T, s, p string) {
	t.Helper()
	if _, got := prefixFold(s, p); got != refPrefix(s, p) {
		t.Errorf("prefixFold(%q, %q) = %v", s, p, got)
	}
	if _, got := suffixFold(s, p); got != refSuffix(s, p) {
		t.Errorf("suffixFold(%q, %q) = %v", s, p, got)
	}
	if got := containsFold(s, p); got != refContains(s, p) {
		t.Errorf("containsFold(%q, %q) = %v", s, p, got)
	}
	if utf8.ValidString(s) && utf8.ValidString(p) {
		if got := globFold(s, strings.Split(p, "*")); got != refGlob(s, p) {
			t.Errorf("globFold(%q, %q) = %v", s, p, got)
		}
		if got := string(appendFold(nil, s)) == string(appendFold(nil, p)); got != strings.EqualFold(s, p) {
			t.Errorf("appendFold(%q) == appendFold(%q) is %v", s, p, got)
		}
	}
	if n, ok := prefixFold(s, p); ok && !strings.EqualFold(s[:n], p) {
		t.Errorf("prefixFold(%q, %q) covers %d bytes", s, p, n)
	}
	if n, ok := suffixFold(s, p); ok && !strings.EqualFold(s[len(s)-n:], p) {
		t.Errorf("suffixFold(%q, %q) covers %d bytes", s, p, n)
	}
}

var foldCases = [][2]string{
	{"HTTPS://Acme.com/Pricing", "https://acme.com/"}, {"acme", "ACME"}, {"acme", "acmex"}, {"", ""}, {"a", ""},
	{"\u212Aelvin", "kel"}, {"KELVIN", "\u212A"}, {"ſtraße", "STRASSE"}, {"ſtraße", "straße"}, {"Σίσυφος", "ΣΊΣΥΦΟΣ"},
	{"x/pricing?y", "*/pricing*"}, {"ab", "a*b*"}, {"aXbXc", "a*b*c"}, {"abc", "a*c*b"}, {"mississippi", "*ss*ss*"},
	{"a.b", "a.b"}, {"axb", "a.b"}, {"c++", "*+*"}, {"a?b", "a?b"}, {"ab", "a?b"}, {"ǅ", "ǆ"}, {"ǅ", "Ǆ"},
	{"\xff\xfe", "\xff"}, {"a\xffb", "*\xff*"}, {"ıi", "II"}, {"İ", "i"},
}

func TestFold(t *testing.T) {
	for _, c := range foldCases {
		checkFold(t, c[0], c[1])
		checkFold(t, c[1], c[0])
	}
	var buf [256]byte
	if _, ok := foldInto(&buf, strings.Repeat("a", 300)); ok {
		t.Error("foldInto must refuse what does not fit")
	}
	if n, ok := foldInto(&buf, "ACME \u212A"); !ok || string(buf[:n]) != "acme k" {
		t.Errorf("foldInto = %q", buf[:n])
	}
}

func TestCset(t *testing.T) {
	var c cset
	for _, s := range []string{"de", "US", "zz", "AA", "d", "DEU", "@A", "a[", "é"} {
		c.add(s)
	}
	if got := strings.Join(c.codes(), " "); got != "AA DE US ZZ" {
		t.Errorf("codes = %s", got)
	}
	if !c.has("dE") || c.has("FR") || c.has("") || c.has("`a") {
		t.Error("has")
	}
	full := fullCset()
	if len(full.codes()) != 676 || full.empty() || !(&cset{}).empty() {
		t.Error("fullCset")
	}
}

// FuzzFold compares the folding functions with references built on strings.EqualFold and
// regexp.
func FuzzFold(f *testing.F) {
	for _, c := range foldCases {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, s, p string) {
		if len(s) > 200 || len(p) > 40 || strings.Contains(p, "**") {
			return
		}
		checkFold(t, s, p)
	})
}
