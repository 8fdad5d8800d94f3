package spam

import (
	"strings"
	"testing"
	"unicode/utf8"
)

var knownReasons = map[string]bool{
	ReasonRepeatedChars: true, ReasonRepeatedPattern: true, ReasonKeyboardRun: true,
	ReasonKeyboardMash: true, ReasonNoVowels: true, ReasonConsonantRun: true,
	ReasonRandomMix: true, ReasonRandomCase: true,
}

// FuzzGibberish checks that Gibberish never panics, returns a known reason exactly when it
// refuses, never refuses three letters or fewer, ignores everything past the first 256 runes, and
// accepts anything with a letter outside ASCII.
func FuzzGibberish(f *testing.F) {
	seeds := []string{
		"", "Li", "J. R. R.", "Krzysztof Szczepański", "Schwarzschild", "asdfgh qwerty", "xkqzvbnm",
		"jdfkslq8823@company.com", "k3j4h5g6f7d8", "aaaaaaa", "ababababab", "kJhGfDsA", "王伟",
		"Dvor\u030cák", "\xff\xfe\xfd", "john.smith+sales", "pjvdberg", "a\x00b\x00c\x00d",
		strings.Repeat("qwertyuiop", 40), strings.Repeat("ab", 200), strings.Repeat("é", 300),
	}
	for _, s := range seeds {
		for k := Kind(0); k <= EmailLocal+1; k++ {
			f.Add(uint8(k), s)
		}
	}
	f.Fuzz(func(t *testing.T, k uint8, s string) {
		kind := Kind(k % 5)
		bad, why := Gibberish(kind, s)
		if bad != (why != "") {
			t.Fatalf("Gibberish(%v, %q) = %v, %q: refusal and reason disagree", kind, s, bad, why)
		}
		if bad && !knownReasons[why] {
			t.Fatalf("Gibberish(%v, %q): unknown reason %q", kind, s, why)
		}
		if !bad {
			return
		}
		if kind != Name && kind != Company && kind != EmailLocal {
			t.Fatalf("Gibberish(%v, %q) refused for an unknown kind", kind, s)
		}
		judged := s
		if kind == EmailLocal {
			if i := strings.LastIndexByte(judged, '@'); i >= 0 {
				judged = judged[:i]
			}
		}
		// Only the first 256 runes count: the same verdict with the rest cut off.
		if utf8.RuneCountInString(judged) > maxRunes {
			n := 0
			for i := range judged {
				if n == maxRunes {
					judged = judged[:i]
					break
				}
				n++
			}
			if b2, w2 := Gibberish(kind, judged); !b2 || w2 != why {
				t.Fatalf("Gibberish(%v, …) changed verdict when cut at 256 runes: %q vs %v %q", kind, why, b2, w2)
			}
		}
		letters, alnum := 0, 0
		for _, c := range judged {
			switch {
			case c >= utf8.RuneSelf:
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
				letters++
				alnum++
			case '0' <= c && c <= '9':
				alnum++
			}
		}
		if letters <= 3 && alnum <= 5 {
			t.Fatalf("Gibberish(%v, %q) refused a short string", kind, s)
		}
	})
}

// TestGibberishNoAllocs checks that hostile inputs at the cap allocate nothing. (Every rule is
// linear in the word, the period one by the KMP prefix function; BenchmarkGibberishLong times the
// worst case.)
func TestGibberishNoAllocs(t *testing.T) {
	inputs := []string{
		strings.Repeat("abcd", 63) + "x",  // periodic until the last letter
		strings.Repeat("abcde", 51) + "x", // ditto, another period
		strings.Repeat("bcdfghjklmnp", 22),
		strings.Repeat("a", 300),
		strings.Repeat("k3", 200),
	}
	for _, s := range inputs {
		allocs := testing.AllocsPerRun(10, func() { sink, _ = Gibberish(Name, s) })
		if allocs != 0 {
			t.Errorf("Gibberish allocated %v times on %q…", allocs, s[:12])
		}
	}
}
