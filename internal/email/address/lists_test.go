package address

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestIsPersonalAndDisposable(t *testing.T) {
	tests := []struct {
		domain               string
		personal, disposable bool
	}{
		{"gmail.com", true, false},
		{"GMAIL.COM", true, false},
		{"googlemail.com", true, false},
		{"yahoo.com", true, false},
		{"yahoo.co.jp", true, false},
		{"outlook.com", true, false},
		{"hotmail.com", true, false},
		{"web.de", true, false},
		{"gmx.de", true, false},
		{"qq.com", true, false},
		{"163.com", true, false},
		{"naver.com", true, false},
		{"icloud.com", true, false},
		{"proton.me", true, false},
		{"hey.com", true, false},            // from personal.local.txt
		{"tutanota.com", true, false},       // from personal.local.txt
		{"mail.austin.rr.com", true, false}, // a parent ("rr.com") is listed
		{"net.ua", true, false},             // listed, but a public suffix: …
		{"company.net.ua", false, false},    // … so its subdomains are not covered
		{"mailinator.com", false, true},
		{"MAILINATOR.com", false, true},
		{"sub.mailinator.com", false, true},
		{"a.b.mailinator.com", false, true},
		{"guerrillamail.com", false, true},
		{"10minutemail.com", false, true},
		{"yopmail.com", false, true},
		{"xn--5nx.cc", false, true}, // listed in A-label form upstream …
		{"\u7075.cc", false, true},  // … and found in U-label form too
		{"example.com", false, false},
		{"beckon.example", false, false},
		{"mailinator.com.evil.example", false, false},
		{"xmailinator.example", false, false},
		{"com", false, false},
		{"", false, false},
		{"[192.0.2.1]", false, false},
		{"not a domain", false, false},
	}
	for _, tt := range tests {
		if got := IsPersonal(tt.domain); got != tt.personal {
			t.Errorf("IsPersonal(%q) = %v, want %v", tt.domain, got, tt.personal)
		}
		if got := IsDisposable(tt.domain); got != tt.disposable {
			t.Errorf("IsDisposable(%q) = %v, want %v", tt.domain, got, tt.disposable)
		}
	}
}

// TestListsDisjoint checks the rule that a domain on both lists counts as disposable only.
func TestListsDisjoint(t *testing.T) {
	l := lists()
	if len(l.personal) < 1000 || len(l.disposable) < 1000 {
		t.Fatalf("lists too small: %d personal, %d disposable", len(l.personal), len(l.disposable))
	}
	for d := range l.personal {
		if IsDisposable(d) {
			t.Errorf("%s is on both lists", d)
		}
		if !IsPersonal(d) {
			t.Errorf("IsPersonal(%q) = false for a listed domain", d)
		}
	}
}

// TestDataFiles checks that the generated files are what the refresh command writes (valid,
// normalised, sorted, unique, with a source header) and that the licences sit beside them.
func TestDataFiles(t *testing.T) {
	for _, name := range []string{"data/personal.txt", "data/disposable.txt", "data/personal.local.txt", "data/disposable.local.txt"} {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		var domains []string
		sawSource := false
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "# Source: npm package ") {
				sawSource = true
			}
			if line == "" || line[0] == '#' {
				continue
			}
			d := strings.TrimPrefix(line, "!")
			u, _, err := ParseDomain(d)
			if err != nil || u != d {
				t.Errorf("%s: %q is not a normalised domain (%q, %v)", name, line, u, err)
			}
			domains = append(domains, d)
		}
		f.Close()
		generated := !strings.Contains(name, ".local.")
		if generated && (!sawSource || len(domains) < 1000) {
			t.Errorf("%s: %d domains, source header %v", name, len(domains), sawSource)
		}
		if !slices.IsSorted(domains) || len(slices.Compact(slices.Clone(domains))) != len(domains) {
			t.Errorf("%s: not sorted and unique", name)
		}
	}
	for _, name := range []string{"data/free-email-domains.LICENSE.md", "data/disposable-email-domains-js.LICENSE"} {
		if b, err := os.ReadFile(name); err != nil || len(b) < 500 {
			t.Errorf("licence %s: %d bytes, %v", name, len(b), err)
		}
	}
}

func TestLoad(t *testing.T) {
	s := domainSet{}
	load(s, "# comment\n\nExample.COM\n xn--bcher-kva.de \nnot_a domain\n[192.0.2.1]\nco.uk\ngone.example\n")
	load(s, "!gone.example\n!never.example\n")
	want := domainSet{"example.com": true, "bücher.de": true, "co.uk": false}
	if len(s) != len(want) {
		t.Fatalf("load = %v, want %v", s, want)
	}
	for d, sub := range want {
		if got, ok := s[d]; !ok || got != sub {
			t.Errorf("load: %s = %v, %v; want %v", d, got, ok, sub)
		}
	}
	if !s.contains("a.example.com") || s.contains("a.co.uk") || !s.contains("co.uk") {
		t.Error("contains does not follow the parent rule")
	}
}

func BenchmarkIsDisposable(b *testing.B) {
	lists()
	for _, d := range []string{"gmail.com", "sub.mailinator.com", "mail.department.example.co.uk", "bücher.de"} {
		b.Run(d, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				IsDisposable(d)
			}
		})
	}
}

func BenchmarkIsPersonal(b *testing.B) {
	lists()
	for _, d := range []string{"gmail.com", "mail.department.example.co.uk"} {
		b.Run(d, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				IsPersonal(d)
			}
		})
	}
}

func BenchmarkLoadLists(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		p, d := domainSet{}, domainSet{}
		load(p, personalData)
		load(d, disposableData)
	}
}
