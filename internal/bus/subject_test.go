package bus

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/errs"
)

func TestValidSubject(t *testing.T) {
	for _, c := range validCases {
		for _, wild := range []bool{false, true} {
			want := c.pub
			if wild {
				want = c.sub
			}
			err := ValidSubject(c.s, wild)
			if (err == nil) != want {
				t.Errorf("ValidSubject(%q, %v) = %v, want valid = %v", c.s, wild, err, want)
			}
			if err != nil && (!errs.Is(err, errs.Invalid) || errs.As(err).Field != "subject") {
				t.Errorf("ValidSubject(%q, %v) = %#v, want an Invalid error about field subject", c.s, wild, err)
			}
			if got := refValid(c.s, wild); got != want {
				t.Errorf("refValid(%q, %v) = %v, want %v", c.s, wild, got, want)
			}
		}
	}
}

func TestMatch(t *testing.T) {
	for _, c := range matchCases {
		if err := ValidSubject(c.pattern, true); err != nil {
			t.Fatalf("bad case: %v", err)
		}
		if err := ValidSubject(c.subject, false); err != nil {
			t.Fatalf("bad case: %v", err)
		}
		if got := match(c.pattern, c.subject); got != c.want {
			t.Errorf("match(%q, %q) = %v, want %v", c.pattern, c.subject, got, c.want)
		}
		if got := refMatch(c.pattern, c.subject); got != c.want {
			t.Errorf("refMatch(%q, %q) = %v, want %v", c.pattern, c.subject, got, c.want)
		}
		if got := indexMatches(c.pattern, c.subject); got != c.want {
			t.Errorf("index: %q matches %q = %v, want %v", c.pattern, c.subject, got, c.want)
		}
	}
}

// TestIndex checks that the index finds every matching subscription once, among many, and prunes
// itself when they leave.
func TestIndex(t *testing.T) {
	var x index
	subs := make([]*subscriber, len(matchCases))
	for i, c := range matchCases {
		subs[i] = &subscriber{subject: c.pattern}
		x.add(subs[i])
	}
	dup := &subscriber{subject: "a.*"}
	x.add(dup)
	for _, c := range matchCases {
		seen := make(map[*subscriber]int)
		x.each(c.subject, func(s *subscriber) { seen[s]++ })
		for i, d := range matchCases {
			if want := match(d.pattern, c.subject); (seen[subs[i]] == 1) != want || seen[subs[i]] > 1 {
				t.Errorf("subject %q: pattern %q found %d times, want match = %v", c.subject, d.pattern, seen[subs[i]], want)
			}
		}
		if want := match("a.*", c.subject); (seen[dup] == 1) != want {
			t.Errorf("subject %q: second %q subscription found %d times", c.subject, "a.*", seen[dup])
		}
	}
	x.remove(dup)
	x.remove(dup) // a second remove does nothing
	for _, s := range subs {
		x.remove(s)
	}
	if !x.root.empty() {
		t.Errorf("index not empty after removing every subscription: %d children", len(x.root.next))
	}
}

func TestGoid(t *testing.T) {
	a := goid()
	ch := make(chan uint64)
	go func() { ch <- goid() }()
	b := <-ch
	if a == 0 || b == 0 || a == b || goid() != a {
		t.Errorf("goid: this goroutine %d, another %d", a, b)
	}
}

// FuzzSubject checks that ValidSubject and the matchers never panic, that ValidSubject agrees with
// a reference written differently, and that match and the index agree with a reference matcher on
// every valid pattern and subject.
func FuzzSubject(f *testing.F) {
	for _, c := range matchCases {
		f.Add(c.pattern, c.subject)
	}
	for _, c := range validCases {
		f.Add(c.s, c.s)
		f.Add(">", c.s)
	}
	f.Fuzz(func(t *testing.T, pattern, subject string) {
		perr := ValidSubject(pattern, true)
		serr := ValidSubject(subject, false)
		if (perr == nil) != refValid(pattern, true) {
			t.Fatalf("ValidSubject(%q, true) = %v, reference says valid = %v", pattern, perr, !(perr == nil))
		}
		if (serr == nil) != refValid(subject, false) {
			t.Fatalf("ValidSubject(%q, false) = %v, reference says valid = %v", subject, serr, !(serr == nil))
		}
		got := match(pattern, subject) // must not panic on any input
		if perr != nil || serr != nil {
			return
		}
		want := refMatch(pattern, subject)
		if got != want {
			t.Fatalf("match(%q, %q) = %v, reference says %v", pattern, subject, got, want)
		}
		if idx := indexMatches(pattern, subject); idx != want {
			t.Fatalf("index: %q matches %q = %v, reference says %v", pattern, subject, idx, want)
		}
		if !match(subject, subject) || !match(">", subject) {
			t.Fatalf("literal %q does not match itself or >", subject)
		}
	})
}

// indexMatches reports whether an index holding one subscription to pattern finds it for
// subject, and checks that removing it leaves the index empty.
func indexMatches(pattern, subject string) bool {
	var x index
	s := &subscriber{subject: pattern}
	x.add(s)
	n := 0
	x.each(subject, func(got *subscriber) {
		if got == s {
			n++
		}
	})
	x.remove(s)
	if !x.root.empty() || n > 1 {
		panic("index: subscription found twice or not pruned")
	}
	return n == 1
}

// refValid is ValidSubject's rule written plainly, as a reference.
func refValid(s string, wildcardsOK bool) bool {
	if len(s) == 0 || len(s) > MaxSubjectLen || !utf8.ValidString(s) {
		return false
	}
	toks := strings.Split(s, ".")
	for i, tok := range toks {
		switch {
		case tok == "":
			return false
		case tok == "*":
			if !wildcardsOK {
				return false
			}
		case tok == ">":
			if !wildcardsOK || i != len(toks)-1 {
				return false
			}
		case strings.ContainsAny(tok, "*>"):
			return false
		case strings.IndexFunc(tok, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
			return false
		}
	}
	return true
}

// refMatch is NATS's matching rule written plainly, as a reference.
func refMatch(pattern, subject string) bool {
	var m func(p, s []string) bool
	m = func(p, s []string) bool {
		switch {
		case len(p) == 0:
			return len(s) == 0
		case p[0] == ">":
			return len(s) > 0
		case len(s) == 0:
			return false
		case p[0] != "*" && p[0] != s[0]:
			return false
		}
		return m(p[1:], s[1:])
	}
	return m(strings.Split(pattern, "."), strings.Split(subject, "."))
}
