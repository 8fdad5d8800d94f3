package spam

import (
	"fmt"
	"math/bits"
	"strings"
	"unicode"

	"github.com/beckonhq/beckon/internal/errs"
)

// Kind says what a string is; it sets which rules apply and how strict they are.
type Kind int

// The kinds of strings Gibberish judges. The zero Kind is none of them, and Gibberish accepts
// anything of it.
const (
	Name       Kind = iota + 1 // a person's name, given, family or both
	Company                    // an organisation's name; acronyms ("KPMG", "HSBC") are left alone
	EmailLocal                 // the part of an email address before the '@'
)

// String returns the kind's name, e.g. "email_local".
func (k Kind) String() string {
	switch k {
	case Name:
		return "name"
	case Company:
		return "company"
	case EmailLocal:
		return "email_local"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Reason codes Gibberish returns with a refusal, for logs and counters; never shown to visitors.
const (
	ReasonRepeatedChars   = "repeated_chars"   // one letter four or more times in a row: "aaaaaaa"
	ReasonRepeatedPattern = "repeated_pattern" // a short unit over and over: "ababababab", "asdasdasd"
	ReasonKeyboardRun     = "keyboard_run"     // neighbouring keys in a row: "qwertyuiop", "zxcvbn"
	ReasonKeyboardMash    = "keyboard_mash"    // fingers drummed on the home row: "aksjdhaksjd"
	ReasonNoVowels        = "no_vowels"        // a long word with no vowel at all: "xkqzvbnm"
	ReasonConsonantRun    = "consonant_run"    // consonants together in a way no language writes
	ReasonRandomMix       = "random_mix"       // letters and digits shuffled: "k3j4h5g6f7d8"
	ReasonRandomCase      = "random_case"      // case flipped at random inside a word: "kJhGfD"
)

// maxRunes caps how much of the input Gibberish reads; the rest is ignored. It keeps the cost
// linear and small on hostile input, and no real name needs more.
const maxRunes = 256

const vowels = "aeiouy"

var vowelSet = letterSet(vowels)

// rules are the thresholds for one Kind.
type rules struct {
	noVowels      int  // a word this long with no vowel is refused
	keyboardRun   int  // a keyboard run this long is refused
	keyboardCover int  // a word this long made only of keyboard runs is refused
	keyboardFour  bool // refuse the classic four-letter runs ("asdf", "hjkl", "zxcv")
	pairs         bool // apply the consonant-cluster and consonant-pair rules
	acronyms      bool // leave all-capital words of up to six letters unjudged ("KPMG", "QWERTY")
	initials      bool // words may start or end with run-together initials ("pjvdberg", "wangjx")
	randomCaseMin int  // lower-to-upper flips inside one word that count as random case
}

// rulesFor returns the rules for kind, and false for an unknown kind. Company names are invented
// brands ("Xkcd", "Qwerty Labs", "AAAA Plumbing"), so only the plainest mashing counts against
// them.
func rulesFor(k Kind) (rules, bool) {
	switch k {
	case Name:
		return rules{noVowels: 7, keyboardRun: 6, keyboardCover: 5, keyboardFour: true, pairs: true, randomCaseMin: 3}, true
	case Company:
		return rules{noVowels: 8, keyboardRun: 7, keyboardCover: 8, acronyms: true, randomCaseMin: 4}, true
	case EmailLocal:
		return rules{noVowels: 8, keyboardRun: 6, keyboardCover: 5, keyboardFour: true, pairs: true, initials: true, randomCaseMin: 3}, true
	}
	return rules{}, false
}

// verdict is what one word or segment comes to.
type verdict int

const (
	unjudged verdict = iota // too short to say, or an acronym
	real                    // looks like something a person would write
	junk                    // looks like mashing or random characters
)

// Gibberish reports whether s looks like keyboard mashing or random characters rather than a real
// name, company or email local part, and if so a short reason code (one of the Reason constants).
//
// s is refused only when every word in it of four letters or more looks like junk: one real word
// ("Qwerty Labs", "Asdf Games", "john.k3j4h5") is enough to accept it. It is deliberately
// conservative: it returns false for anything it cannot judge — strings with letters outside plain
// ASCII (every non-Latin script, and Latin letters with diacritics, which bots do not type), and
// strings of three letters or fewer — and each rule stops well short of what real names in many
// languages do. Only the first 256 runes of s are read. For EmailLocal, s may be a whole address;
// the part after the last '@' is dropped. An unknown kind is never gibberish. It never fails, so
// it returns no error.
func Gibberish(kind Kind, s string) (bool, string) {
	r, ok := rulesFor(kind)
	if !ok {
		return false, ""
	}
	if kind == EmailLocal {
		if i := strings.LastIndexByte(s, '@'); i >= 0 {
			s = s[:i]
		}
	}
	// buf holds the input as lower-case ASCII letters and digits, with every other character a
	// space; upper marks which letters were capitals.
	var buf [maxRunes]byte
	var upper [maxRunes]bool
	n, letters, alnum := 0, 0, 0
	for _, c := range s {
		if n == maxRunes {
			break
		}
		switch {
		case 'a' <= c && c <= 'z':
			buf[n] = byte(c)
			letters++
			alnum++
		case 'A' <= c && c <= 'Z':
			buf[n] = byte(c) + ('a' - 'A')
			upper[n] = true
			letters++
			alnum++
		case '0' <= c && c <= '9':
			buf[n] = byte(c)
			alnum++
		case c >= 0x80 && (unicode.IsLetter(c) || unicode.IsMark(c) || unicode.IsNumber(c)):
			return false, "" // a script or an accent it has no model of: accept
		default:
			buf[n] = ' '
		}
		n++
	}
	// Short strings cannot be judged: "Li", "Ng", "Oz", "J. R.", "hr", "b4u".
	if letters <= 3 && alnum <= 5 {
		return false, ""
	}
	b := buf[:n]
	reason := ""
	for i := 0; i < n; {
		if b[i] == ' ' {
			i++
			continue
		}
		j := i
		for j < n && b[j] != ' ' {
			j++
		}
		switch v, why := judgeSegment(b[i:j], upper[i:j], &r); v {
		case real:
			return false, ""
		case junk:
			if reason == "" {
				reason = why
			}
		}
		i = j
	}
	return reason != "", reason
}

// CheckField returns nil when s passes Gibberish for kind, and otherwise an *errs.Error of kind
// errs.Invalid naming field, with a message safe to show. The reason code goes in the error's
// cause for the log, not in the message, so as not to teach a bot what to change.
func CheckField(kind Kind, field, s string) error {
	bad, why := Gibberish(kind, s)
	if !bad {
		return nil
	}
	what := "a real name"
	switch kind {
	case Company:
		what = "a real company name"
	case EmailLocal:
		what = "a real email address"
	}
	e := errs.Field(errs.Invalid, field, "this does not look like %s", what)
	e.Err = fmt.Errorf("spam: gibberish %s: %s", kind, why)
	return e
}

// judgeSegment judges one run of letters and digits: as a whole when letters and digits are
// shuffled together, and otherwise word by word (a word is a run of letters in it).
func judgeSegment(seg []byte, upper []bool, r *rules) (verdict, string) {
	// Letter-digit alternation: "k3j4h5g6f7d8" flips eleven times, "mkt2024" once, "r2d2" thrice.
	// Random strings with digits flip often and keep their letters in short runs; "r2d2fan" has
	// four flips but a word in it.
	flips, digits, vowelsInLetters, letterRun, longestLetterRun := 0, 0, 0, 0, 0
	for i, c := range seg {
		d := isDigit(c)
		if d {
			digits++
			letterRun = 0
		} else {
			letterRun++
			longestLetterRun = max(longestLetterRun, letterRun)
			if vowelSet&(1<<(c-'a')) != 0 {
				vowelsInLetters++
			}
		}
		if i > 0 && d != isDigit(seg[i-1]) {
			flips++
		}
	}
	if digits > 0 && digits < len(seg) {
		if flips >= 5 || (flips >= 4 && longestLetterRun <= 2) || (flips >= 3 && vowelsInLetters == 0 && len(seg) >= 8) {
			return junk, ReasonRandomMix
		}
	}
	out, reason := unjudged, ""
	for i := 0; i < len(seg); {
		if isDigit(seg[i]) {
			i++
			continue
		}
		j := i
		for j < len(seg) && !isDigit(seg[j]) {
			j++
		}
		switch v, why := judgeWord(seg[i:j], upper[i:j], r); v {
		case real:
			return real, ""
		case junk:
			if out == unjudged {
				out, reason = junk, why
			}
		}
		i = j
	}
	return out, reason
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// judgeWord judges one word of lower-case ASCII letters; upper marks its capitals.
func judgeWord(w []byte, upper []bool, r *rules) (verdict, string) {
	m := len(w)
	if m <= 3 || (r.acronyms && m <= 6 && allTrue(upper)) {
		return unjudged, ""
	}

	// Case flipped back and forth: "kJhGfD". "McDonald", "DeShawn", "DeLaCruz" flip once or twice.
	flips := 0
	for i := 1; i < m; i++ {
		if upper[i] && !upper[i-1] {
			flips++
		}
	}
	if flips >= r.randomCaseMin {
		return junk, ReasonRandomCase
	}

	// One letter held down: "aaaaaaa". No spelling writes a letter four times running
	// ("Schifffahrt" has three).
	run := 1
	for i := 1; i < m; i++ {
		if w[i] == w[i-1] {
			run++
			if run >= 4 {
				return junk, ReasonRepeatedChars
			}
		} else {
			run = 1
		}
	}

	if repeatedPattern(w) {
		return junk, ReasonRepeatedPattern
	}

	kb := keyboardStats(w)
	switch {
	case kb.longest >= r.keyboardRun:
		// "qwerty", "asdfgh", "zxcvbnm", "poiuyt": six neighbouring keys in one direction.
		return junk, ReasonKeyboardRun
	case m >= r.keyboardCover && (kb.longestCommon >= 4 || m >= 6) && kb.coveredCommon == m:
		// The whole word is runs on one layout: "asdfg", "qazwsx", "asdfasdf", "qweasdzxc".
		return junk, ReasonKeyboardRun
	case r.keyboardFour && m == 4 && kb.longestCommon == 4 && offTopRow(w):
		// The classic four: "asdf", "hjkl", "zxcv", "fdsa". Top-row fours are real names
		// ("Wert", "Trew", "Azer") and pass.
		return junk, ReasonKeyboardRun
	case m >= 7 && m >= r.keyboardCover && kb.longestCommon >= 4 && kb.covered*10 >= m*8:
		// Nearly all runs: "zxcvbnmasd".
		return junk, ReasonKeyboardRun
	}

	var vowel [maxRunes]bool
	nv := markVowels(w, vowel[:m])
	if nv == 0 {
		home := 0
		for _, c := range w {
			if homeRow&(1<<(c-'a')) != 0 {
				home++
			}
		}
		// "jdfkslq": no vowel and mostly home-row letters ("sthlm" has three of five).
		if m >= 5 && home*10 >= m*7 {
			return junk, ReasonKeyboardMash
		}
		// Czech writes "Vlk" and "Trnka", Welsh "Cwm" ('w' counts as a vowel here), Armenian
		// "Mkrtch"; none reaches seven letters without a vowel.
		if m >= r.noVowels {
			return junk, ReasonNoVowels
		}
	}

	// An address often runs initials into a name: "pjvdberg" (P. J. van den Berg), "xqzhang",
	// "jshall", "wangjx". Up to three consonants at either end are left out of the rules below.
	lo, hi := 0, m
	if r.initials {
		for lo < 3 && lo+1 < m && !vowel[lo] && !vowel[lo+1] {
			lo++
		}
		for hi > m-3 && hi-2 > lo && !vowel[hi-1] && !vowel[hi-2] {
			hi--
		}
	}

	// Fingers drummed on the home row: every letter from a-s-d-f-g-h-j-k-l, and hardly any 'a'
	// ("aksjdhaksjd"). "Shaddad" and "Haddad" are all home row too, but have more vowels.
	if core := w[lo:hi]; len(core) >= 6 {
		home, as := 0, 0
		for _, c := range core {
			if homeRow&(1<<(c-'a')) != 0 {
				home++
			}
			if c == 'a' {
				as++
			}
		}
		if home == len(core) && as*4 <= len(core) {
			return junk, ReasonKeyboardMash
		}
	}
	if !r.pairs {
		return real, ""
	}

	if consonantClusters(w[lo:hi], vowel[lo:hi]) {
		return junk, ReasonConsonantRun
	}

	rare, boundary := pairScore(w[lo:hi], vowel[lo:hi])
	// Pairs random typing makes: three rare ones, or in a longer word two rare ones, or one rare
	// one and two compound seams, or four seams ("Blackford" has one seam, "Lindqvist" two).
	if rare >= 3 || (m >= 6 && 2*rare+boundary >= 4) {
		return junk, ReasonRandomMix
	}
	return real, ""
}

func allTrue(b []bool) bool {
	for _, v := range b {
		if !v {
			return false
		}
	}
	return true
}

// offTopRow reports whether no letter of w is on the QWERTY top row.
func offTopRow(w []byte) bool {
	for _, c := range w {
		if topRow&(1<<(c-'a')) != 0 {
			return false
		}
	}
	return true
}

// repeatedPattern reports whether w is a short unit said over and over: three or more times
// ("ababab", "asdasdasd", "hahaha"), or twice when the unit is itself junk ("asdfasdf", "dfgdfg")
// — Chinese given names double a syllable ("Tingting", "Huanhuan") and must pass. It also
// catches long words of only two or three different letters.
func repeatedPattern(w []byte) bool {
	m := len(w)
	if m < 6 {
		return false
	}
	var seen uint32
	for _, c := range w {
		seen |= 1 << (c - 'a')
	}
	distinct := bits.OnesCount32(seen)
	if distinct <= 2 || (m >= 10 && distinct <= 3) {
		return true
	}
	// Smallest period p (w[i] == w[i-p] for every i), from the KMP prefix function in linear time.
	var pi [maxRunes]uint16
	for i := 1; i < m; i++ {
		k := pi[i-1]
		for k > 0 && w[i] != w[k] {
			k = pi[k-1]
		}
		if w[i] == w[k] {
			k++
		}
		pi[i] = k
	}
	p := m - int(pi[m-1])
	switch {
	case p*2 > m:
		return false // not even said twice
	case m >= 3*p:
		return true
	case p < 3:
		return false
	}
	unit := w[:p]
	var v [maxRunes]bool
	if markVowels(unit, v[:p]) == 0 {
		return true // "dfgdfg"
	}
	kb := keyboardStats(unit)
	return kb.longestCommon >= 3 && kb.coveredCommon == p // "asdfasdf", "qweqwe"
}

// markVowels sets v[i] for each letter of w that acts as a vowel and returns how many do.
// a, e, i, o, u and y are vowels; so is w when no vowel follows it (Welsh "Cwm", "Bwlch", and the
// -ow- of "Kowalski" … "owski"), and j after a vowel when no vowel follows it (Dutch "Dijkstra",
// "IJsbrand", Hungarian "Hajdu", Polish "Wojciech").
func markVowels(w []byte, v []bool) int {
	n := 0
	for i, c := range w {
		nextVowel := i+1 < len(w) && vowelSet&(1<<(w[i+1]-'a')) != 0
		switch {
		case vowelSet&(1<<(c-'a')) != 0:
			v[i] = true
		case c == 'w':
			v[i] = !nextVowel
		case c == 'j':
			v[i] = i > 0 && v[i-1] && !nextVowel
		}
		if v[i] {
			n++
		}
	}
	return n
}

// consonantClusters reports whether w has a run of consonants no language writes: nine or more
// letters, five or more with a pair that names do not put side by side, or four with two such
// pairs. A liquid between two consonants counts as a vowel, as in Czech "Trnka", "Vlk", "Krstić",
// and the known long clusters of German and Polish ("Hirschsprung", "Angstschweiß",
// "Pszczółkowski") are made of pairs that are all common.
func consonantClusters(w []byte, vowel []bool) bool {
	m := len(w)
	start := -1
	for i := 0; i <= m; i++ {
		cons := i < m && !vowel[i] && !syllabic(w, vowel, i)
		if cons {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			n := i - start
			if n >= 4 {
				rare := 0
				for k := start + 1; k < i; k++ {
					if !commonPair(w, k) {
						rare++
					}
				}
				if n >= 9 || (n >= 5 && rare >= 1) || rare >= 2 {
					return true
				}
			}
			start = -1
		}
	}
	return false
}

// syllabic reports whether w[i] is an r or l standing between two consonants, where Czech, Slovak
// and the languages of former Yugoslavia make it the syllable's vowel.
func syllabic(w []byte, vowel []bool, i int) bool {
	c := w[i]
	if (c != 'r' && c != 'l') || i == 0 || i+1 >= len(w) || vowel[i-1] || vowel[i+1] {
		return false
	}
	p, n := w[i-1], w[i+1]
	return p != 'r' && p != 'l' && n != 'r' && n != 'l'
}

// pairScore counts the side-by-side consonant pairs in w that names write only where two parts of
// a compound meet (boundary) and those they seldom write at all (rare).
func pairScore(w []byte, vowel []bool) (rare, boundary int) {
	for k := 1; k < len(w); k++ {
		if vowel[k-1] || vowel[k] {
			continue
		}
		switch pairClass(w, k) {
		case pairRare:
			rare++
		case pairBoundary:
			boundary++
		}
	}
	return rare, boundary
}

const (
	pairNative   = iota // inside a syllable in some language: "st", "kr", "tz", "sch", "ng"
	pairBoundary        // where two parts of a compound meet: "ckf" in Blackford, "tg" in Wittgenstein
	pairRare            // what random typing makes and names do not: "qz", "xk", "jd", "vf"
)

// commonPair reports whether the consonants w[k-1] w[k] are a pair that names write.
func commonPair(w []byte, k int) bool { return pairClass(w, k) != pairRare }

// pairClass classifies the consonant pair w[k-1] w[k].
func pairClass(w []byte, k int) int {
	a, b := w[k-1]-'a', w[k]-'a'
	switch {
	case a == b:
		return pairNative
	case k == 2 && w[0] == 'm' && w[1] == 'c':
		// Gaelic Mc- goes before any consonant: McDonald, McGregor, McBride, McPherson, McVeigh.
		return pairNative
	case anyFirst&(1<<a) != 0 || anySecond&(1<<b) != 0 || pairs[a].native&(1<<b) != 0:
		return pairNative
	case pairs[a].boundary&(1<<b) != 0:
		return pairBoundary
	}
	return pairRare
}

// The consonant-pair table, derived by hand from how names in European, African, South and West
// Asian and East Asian romanisations are spelled. For each consonant it lists what follows it
// inside a syllable (native) and what follows it only across the seam of a compound (boundary),
// each with names that show it. Pairs listed nowhere are what random typing produces.
var (
	// l, r, m, n, s and h end syllables before any consonant (Albright, Hartford, Amstutz,
	// Lindqvist, Aschbach, Ahmed, Rahman, Shahbaz).
	anyFirst = letterSet("lrmnsh")
	// l, r, h, s, w and y start clusters after any consonant (Blake, Wright, Khan, Jacobs,
	// Dwight, Bryce), and vowels follow anything.
	anySecond = letterSet("lrhswy" + "aeiou")
	pairs     = buildPairs(map[byte][2]string{
		// letter: {native, boundary}
		'b': {"j", "cdgkmntz"}, // Bjorn | Subcomandante, Abdul, Abgar, Abkhazia, Abner, Abt, Abzal
		'c': {"ckqtz", "nv"},   // Decker, Jacques, Victor, Czech | Acne, Cvetkovic
		// Hodge, Djokovic, Dmitri, Dvorak, Dzeko | Redbird, Adcock, Bradford, Redknapp, Sidney,
		// Sandpiper, Lindqvist, Stadt
		'd': {"dgjmvz", "bcfknpqt"},
		'f': {"fjt", "bdgkmnz"}, // Fjord, Clifton | Hofbauer, Afghan, Afkhami, Hofmann, Hofzinser
		// Gbenga, Ngcobo, Gdansk, Gjon, Agnes, Gqozo, Vogt, Gvishiani, Mngxitama | Bergfeld,
		// Wegkamp, Ogmore
		'g': {"bcdjnqtvx", "fkmz"},
		'j': {"", "n"},             // Jnana (after a vowel j is a vowel, see markVowels)
		'k': {"jkmnptv", "bcdfgz"}, // Kjell, Kmiec, Knut, Kpodo, Viktor, Kvist | Akbar, Akdemir, Blackford, Akgul
		'p': {"fnpt", "bcdgjkm"},   // Pfeiffer, Pnina, Ptak | Hepburn, Upchurch, Updike, Pjotr
		'q': {"", "bdmntv"},        // Iqbal, Aqdas, Muqtada, Lindqvist
		// Mitchell, Tjaden, Tkachenko, Tver, Ortiz | Whitby, Catford, Wittgenstein, Atmore, Witney
		't': {"cjkvz", "bdfgmnp"},
		'v': {"dgjkmnz", "bct"},  // Vdovin, Evgeny, Vjekoslav, Vkusov, Vzorov | Ovbiagele, Vcela
		'x': {"t", "bcfmp"},      // Baxter | Saxby, Excel, Oxford, Expert
		'z': {"bcdgmnv", "jkpt"}, // Zbigniew, Szczepan, Zdenek, Zgoda, Zmago, Znojmo, Zvonimir | Fitzpatrick
	})
)

type pairSets struct{ native, boundary uint32 }

func buildPairs(m map[byte][2]string) [26]pairSets {
	var t [26]pairSets
	for a, s := range m {
		t[a-'a'] = pairSets{letterSet(s[0]), letterSet(s[1])}
	}
	return t
}
