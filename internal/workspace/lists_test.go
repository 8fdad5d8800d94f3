package workspace

import (
	"strings"
	"testing"
)

func TestLiveViewBlocked(t *testing.T) {
	block, err := normalizeBlockList([]string{"https://careers.acme.example/", "*.internal.acme.example", "acme.example/admin", " ", "ACME.example/admin"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(block, " ") != "careers.acme.example *.internal.acme.example acme.example/admin" {
		t.Fatalf("normalised %v", block)
	}
	for _, c := range []struct {
		url  string
		want bool
	}{
		{"https://careers.acme.example/jobs/42", true},
		{"https://careers.acme.example", true},
		{"https://www.careers.acme.example/", false},
		{"https://internal.acme.example/", true},
		{"https://wiki.internal.acme.example/page", true},
		{"https://acme.example/admin", true},
		{"https://acme.example/admin/users?x=1", true},
		{"https://acme.example/administrator", false},
		{"https://acme.example/pricing", false},
		{"https://evilacme.example/admin", false},
		{"::not a url", false},
	} {
		if got := LiveViewBlocked(block, c.url); got != c.want {
			t.Errorf("LiveViewBlocked(%q) = %v, want %v", c.url, got, c.want)
		}
	}
	for _, bad := range [][]string{{"not a host!"}, {"*.acme.example/admin"}, {"acme.example/a b"}, {strings.Repeat("a", 400) + ".com"}} {
		if _, err := normalizeBlockList(bad); err == nil {
			t.Errorf("normalizeBlockList(%q) accepted", bad)
		}
	}
}

func TestTargetAccounts(t *testing.T) {
	targets, err := normalizeDomains([]string{"Globex.com", "https://www.initech.example/about", "ada@umbrella.example", "globex.com", ""})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(targets, " ") != "globex.com initech.example umbrella.example" {
		t.Fatalf("normalised %v", targets)
	}
	for _, c := range []struct {
		hints []string
		want  bool
	}{
		{[]string{"hank@globex.com"}, true},
		{[]string{"", "https://eu.globex.com/"}, true},
		{[]string{"Globex Corporation"}, false}, // a company name is not a domain
		{[]string{"x@notglobex.com"}, false},
		{[]string{"initech.example"}, true},
		{nil, false},
	} {
		if got := IsTargetAccount(targets, c.hints...); got != c.want {
			t.Errorf("IsTargetAccount(%q) = %v, want %v", c.hints, got, c.want)
		}
	}
	for _, bad := range []string{"localhost", "not a domain", "x@"} {
		if _, err := normalizeDomains([]string{bad}); err == nil {
			t.Errorf("normalizeDomains(%q) accepted", bad)
		}
	}
}

func FuzzLists(f *testing.F) {
	for _, s := range []string{"acme.example/admin", "*.x.example", "https://a.example/b?c#d", "ada@globex.com", "\x00", "*."} {
		f.Add(s, "https://a.example/b")
	}
	f.Fuzz(func(t *testing.T, entry, page string) {
		if list, err := normalizeBlockList([]string{entry}); err == nil {
			again, err := normalizeBlockList(list)
			if err != nil || strings.Join(again, "\n") != strings.Join(list, "\n") {
				t.Fatalf("not idempotent: %q → %q → %q (%v)", entry, list, again, err)
			}
			LiveViewBlocked(list, page)
		}
		if list, err := normalizeDomains([]string{entry}); err == nil {
			IsTargetAccount(list, page)
		}
	})
}
