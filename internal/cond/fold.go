package cond

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Comparing text ignoring case, without allocating. Two strings are equal ignoring case when
// strings.EqualFold says so: rune by rune, under Unicode simple case folding. The functions here
// walk both strings rune by rune on the same rule, since equal strings need not have the same
// length in bytes (K, the Kelvin sign, is three bytes and folds to k).

// foldRune returns the representative of r's case-folding orbit: the lower-case letter for an
// ASCII letter, otherwise the smallest rune of the orbit. Two runes are equal ignoring case
// exactly when their representatives are equal.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}
	min := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < min {
			min = f
		}
	}
	if 'A' <= min && min <= 'Z' {
		min += 'a' - 'A'
	}
	return min
}

func runeEqualFold(a, b rune) bool {
	if a == b {
		return true
	}
	if a < utf8.RuneSelf && b < utf8.RuneSelf {
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		return a == b
	}
	return foldRune(a) == foldRune(b)
}

// appendFold appends s folded (each rune replaced by its representative) to dst: the key under
// which lists of text are looked up.
func appendFold(dst []byte, s string) []byte {
	for _, r := range s {
		dst = utf8.AppendRune(dst, foldRune(r))
	}
	return dst
}

// foldInto writes s folded into buf and returns the length, or false when it does not fit.
func foldInto(buf *[256]byte, s string) (int, bool) {
	n := 0
	for _, r := range s {
		r = foldRune(r)
		if n+utf8.UTFMax > len(buf) {
			return 0, false
		}
		n += utf8.EncodeRune(buf[n:], r)
	}
	return n, true
}

// lowerASCII lower-cases an ASCII letter.
func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// prefixFold reports whether s begins with p ignoring case, and how many bytes of s it covers.
func prefixFold(s, p string) (int, bool) {
	i, j := 0, 0
	for j < len(p) {
		if i >= len(s) {
			return 0, false
		}
		if pc, sc := p[j], s[i]; pc < utf8.RuneSelf && sc < utf8.RuneSelf {
			if pc != sc && lowerASCII(pc) != lowerASCII(sc) {
				return 0, false
			}
			i++
			j++
			continue
		}
		pr, psize := utf8.DecodeRuneInString(p[j:])
		sr, ssize := utf8.DecodeRuneInString(s[i:])
		if !runeEqualFold(sr, pr) {
			return 0, false
		}
		i += ssize
		j += psize
	}
	return i, true
}

// suffixFold reports whether s ends with p ignoring case, and how many bytes of s it covers.
func suffixFold(s, p string) (int, bool) {
	i, j := len(s), len(p)
	for j > 0 {
		if i == 0 {
			return 0, false
		}
		if pc, sc := p[j-1], s[i-1]; pc < utf8.RuneSelf && sc < utf8.RuneSelf {
			if pc != sc && lowerASCII(pc) != lowerASCII(sc) {
				return 0, false
			}
			i--
			j--
			continue
		}
		pr, psize := utf8.DecodeLastRuneInString(p[:j])
		sr, ssize := utf8.DecodeLastRuneInString(s[:i])
		if !runeEqualFold(sr, pr) {
			return 0, false
		}
		i -= ssize
		j -= psize
	}
	return len(s) - i, true
}

// indexFold returns where the first occurrence of p in s, ignoring case, starts and ends, or
// -1, -1.
func indexFold(s, p string) (int, int) {
	if p == "" {
		return 0, 0
	}
	if c := p[0]; c < utf8.RuneSelf {
		// Only an ASCII byte equal to c ignoring case, or the first byte of a character that
		// is not ASCII (K, the Kelvin sign, folds to k), can begin an occurrence.
		lo, up := lowerASCII(c), c
		if 'a' <= c && c <= 'z' {
			up = c - ('a' - 'A')
		}
		for i := 0; i < len(s); i++ {
			b := s[i]
			if b < utf8.RuneSelf && b != lo && b != up || b >= utf8.RuneSelf && !utf8.RuneStart(b) {
				continue
			}
			if n, ok := prefixFold(s[i:], p); ok {
				return i, i + n
			}
		}
		return -1, -1
	}
	for i := 0; i < len(s); {
		if n, ok := prefixFold(s[i:], p); ok {
			return i, i + n
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return -1, -1
}

func containsFold(s, p string) bool {
	i, _ := indexFold(s, p)
	return i >= 0
}

// globFold reports whether s matches the pattern cut at its stars into segs, ignoring case: segs[0] must begin s, the last must end it, and the others
// must follow each other in order between them. Taking each middle segment's first occurrence
// is enough, since a star matches any run of characters.
func globFold(s string, segs []string) bool {
	if len(segs) == 1 {
		return strings.EqualFold(s, segs[0])
	}
	n, ok := prefixFold(s, segs[0])
	if !ok {
		return false
	}
	s = s[n:]
	n, ok = suffixFold(s, segs[len(segs)-1])
	if !ok {
		return false
	}
	s = s[:len(s)-n]
	for _, seg := range segs[1 : len(segs)-1] {
		_, end := indexFold(s, seg)
		if end < 0 {
			return false
		}
		s = s[end:]
	}
	return true
}

// cset is a set of two-letter country codes: one bit for each of the 676 pairs of letters.
type cset [11]uint64

// codeIndex returns the bit of a two-letter code in either case.
func codeIndex(s string) (int, bool) {
	if len(s) != 2 {
		return 0, false
	}
	a, b := s[0]|0x20, s[1]|0x20 // lower case for letters
	if a < 'a' || a > 'z' || b < 'a' || b > 'z' {
		return 0, false
	}
	return int(a-'a')*26 + int(b-'a'), true
}

func (c *cset) add(code string) {
	if i, ok := codeIndex(code); ok {
		c[i/64] |= 1 << (i % 64)
	}
}

func (c *cset) has(code string) bool {
	i, ok := codeIndex(code)
	return ok && c[i/64]&(1<<(i%64)) != 0
}

func (c *cset) empty() bool {
	for _, w := range c {
		if w != 0 {
			return false
		}
	}
	return true
}

// codes returns the set's codes in upper case, in order.
func (c *cset) codes() []string {
	var out []string
	for i := range 26 * 26 {
		if c[i/64]&(1<<(i%64)) != 0 {
			out = append(out, string([]byte{byte('A' + i/26), byte('A' + i%26)}))
		}
	}
	return out
}

// fullCset holds every pair of letters.
func fullCset() cset {
	var c cset
	for i := range 26 * 26 {
		c[i/64] |= 1 << (i % 64)
	}
	return c
}
