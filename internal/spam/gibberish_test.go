package spam

import (
	"errors"
	"strings"
	"testing"

	"github.com/beckonhq/beckon/internal/errs"
)

func TestGibberish(t *testing.T) {
	tests := []struct {
		kind   Kind
		in     string
		want   bool
		reason string // checked when want is true
	}{
		// Short strings, initials and non-Latin scripts are never judged.
		{Name, "Li", false, ""},
		{Name, "Ng", false, ""},
		{Name, "Oz", false, ""},
		{Name, "J. R. R.", false, ""},
		{Name, "xkq", false, ""},
		{Name, "王伟", false, ""},
		{Name, "Владимир Путин", false, ""},
		{Name, "ддддддддд", false, ""},
		{Name, "محمد", false, ""},
		{Name, "देवनागरी", false, ""},
		{Name, "Γιώργος", false, ""},
		{Name, "สมชาย", false, ""},
		{Name, "Dvořák", false, ""},
		{Name, "Strč", false, ""},
		{Name, "Dvor\u030cák", false, ""}, // decomposed: a combining mark
		{Name, "qwertyuiop é", false, ""}, // one accented letter and it is not judged
		{Name, "", false, ""},
		{Name, "   ", false, ""},
		{Name, "!!!!!!!!", false, ""},
		{Name, "12345678", false, ""},
		// Real names with hard clusters pass.
		{Name, "Krzysztof Szczepanski", false, ""},
		{Name, "Schwarzschild", false, ""},
		{Name, "Mkhitaryan", false, ""},
		{Name, "Tchaikovsky", false, ""},
		{Name, "Przybyszewski", false, ""},
		{Name, "Hrvatska", false, ""},
		{Name, "Llwyd", false, ""},
		{Name, "IJsbrand", false, ""},
		{Name, "Huang Tingting", false, ""},
		{Name, "Zach Ertz", false, ""},
		{Name, "Peter Wertz", false, ""},
		{Name, "Jane Trew", false, ""},
		{Name, "Harald Hirschsprung", false, ""},
		{Name, "Andile Mngxitama", false, ""},
		{Name, "Khvicha Kvaratskhelia", false, ""},
		{Name, "Kjell Lindqvist", false, ""},
		{Name, "Shaddad Haddad", false, ""},
		{Name, "McDonald", false, ""},
		{Name, "Maria DeLaCruz", false, ""},
		{Name, "JOHN SMITH", false, ""},
		// One real word is enough.
		{Name, "John Qwertyuiop", false, ""},
		// Junk.
		{Name, "asdfgh qwerty", true, ReasonKeyboardRun},
		{Name, "qwertyuiop", true, ReasonKeyboardRun},
		{Name, "asdf", true, ReasonKeyboardRun},
		{Name, "qazwsx", true, ReasonKeyboardRun},
		{Name, "zxcvbnmasd", true, ReasonKeyboardRun},
		{Name, "Asdfgh J.", true, ReasonKeyboardRun},
		{Name, "sdfghjkl", true, ReasonKeyboardRun},
		{Name, "xkqzvbnm", true, ReasonNoVowels},
		{Name, "xkcdqzvbnm", true, ReasonNoVowels},
		{Name, "aaaaaaa", true, ReasonRepeatedChars},
		{Name, "ababababab", true, ReasonRepeatedPattern},
		{Name, "asdfasdf", true, ReasonRepeatedPattern},
		{Name, "qweqwe", true, ReasonRepeatedPattern},
		{Name, "dfgdfg", true, ReasonRepeatedPattern},
		{Name, "aksjdhaksjd", true, ReasonKeyboardMash},
		{Name, "k3j4h5g6f7d8", true, ReasonRandomMix},
		{Name, "k3j4h5", true, ReasonRandomMix},
		{Name, "kJhGfDsA", true, ReasonRandomCase},
		{Name, "ukxbqomzt", true, ReasonConsonantRun},
		{Name, "ofxedkupz", true, ReasonRandomMix},
		// Email local parts.
		{EmailLocal, "jsmith", false, ""},
		{EmailLocal, "j.smith", false, ""},
		{EmailLocal, "john.smith+sales", false, ""},
		{EmailLocal, "mkt2024", false, ""},
		{EmailLocal, "jdoe87", false, ""},
		{EmailLocal, "a.b.c", false, ""},
		{EmailLocal, "r2d2fan", false, ""},
		{EmailLocal, "sthlm", false, ""},
		{EmailLocal, "hrmgmt", false, ""},
		{EmailLocal, "pjvdberg", false, ""},
		{EmailLocal, "xqzhang", false, ""},
		{EmailLocal, "123456789", false, ""},
		{EmailLocal, "john.k3j4h5g6", false, ""},
		{EmailLocal, "jdfkslq8823", true, ReasonKeyboardMash},
		{EmailLocal, "jdfkslq8823@company.com", true, ReasonKeyboardMash},
		{EmailLocal, "\"jdfkslq\"@company.com", true, ReasonKeyboardMash},
		{EmailLocal, "jsmith@asdfgh.com", false, ""}, // only the local part is judged
		{EmailLocal, "k3j4h5g6f7d8", true, ReasonRandomMix},
		{EmailLocal, "5f4dcc3b5aa765d61d8327deb882cf99", true, ReasonRandomMix},
		{EmailLocal, "xk7fq92mz", true, ReasonRandomMix},
		{EmailLocal, "qwerty123", true, ReasonKeyboardRun},
		// Companies: brands and acronyms pass, plain mashing does not.
		{Company, "KPMG", false, ""},
		{Company, "HSBC Holdings", false, ""},
		{Company, "QWERTY Concepts", false, ""},
		{Company, "Qwerty Labs", false, ""},
		{Company, "Xkcd", false, ""},
		{Company, "Tumblr", false, ""},
		{Company, "AAAA Plumbing", false, ""},
		{Company, "ASDFGH", false, ""},
		{Company, "qwertyuiop", true, ReasonKeyboardRun},
		{Company, "asdfasdf", true, ReasonRepeatedPattern},
		{Company, "aaaaaaaa", true, ReasonRepeatedChars},
		{Company, "k3j4h5g6f7d8", true, ReasonRandomMix},
		// Unknown kinds accept everything.
		{Kind(0), "qwertyuiop", false, ""},
		{Kind(42), "aaaaaaa", false, ""},
	}
	for _, tt := range tests {
		got, why := Gibberish(tt.kind, tt.in)
		if got != tt.want {
			t.Errorf("Gibberish(%v, %q) = %v, %q; want %v", tt.kind, tt.in, got, why, tt.want)
			continue
		}
		if got && why != tt.reason {
			t.Errorf("Gibberish(%v, %q) reason %q; want %q", tt.kind, tt.in, why, tt.reason)
		}
		if !got && why != "" {
			t.Errorf("Gibberish(%v, %q) = false with reason %q; want none", tt.kind, tt.in, why)
		}
	}
}

// TestGibberishCap: only the first 256 runes are read, so junk after a long real prefix is not
// seen, and a long input costs no more than 256 runes.
func TestGibberishCap(t *testing.T) {
	long := strings.Repeat("Anna ", 60) // 300 runes of real words
	if bad, why := Gibberish(Name, long+"qwertyuiop"); bad {
		t.Errorf("junk past the cap was judged: %q", why)
	}
	junk := strings.Repeat("qwertyuiop ", 30)
	if bad, _ := Gibberish(Name, junk); !bad {
		t.Errorf("long junk not refused")
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{Name: "name", Company: "company", EmailLocal: "email_local", Kind(9): "kind(9)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q; want %q", int(k), got, want)
		}
	}
}

func TestCheckField(t *testing.T) {
	if err := CheckField(Name, "name", "Krzysztof Szczepański"); err != nil {
		t.Fatalf("real name refused: %v", err)
	}
	tests := []struct {
		kind  Kind
		field string
		in    string
		msg   string
	}{
		{Name, "name", "asdfgh qwerty", "does not look like a real name"},
		{Company, "company", "qwertyuiop", "does not look like a real company name"},
		{EmailLocal, "email", "jdfkslq8823@company.com", "does not look like a real email address"},
	}
	for _, tt := range tests {
		err := CheckField(tt.kind, tt.field, tt.in)
		if err == nil {
			t.Fatalf("CheckField(%v, %q) = nil; want an error", tt.kind, tt.in)
		}
		e := errs.As(err)
		if e == nil || e.Kind != errs.Invalid || e.Field != tt.field {
			t.Fatalf("CheckField(%v, %q) = %#v; want an Invalid error on %q", tt.kind, tt.in, err, tt.field)
		}
		if !strings.Contains(e.Message, tt.msg) {
			t.Errorf("message %q; want it to contain %q", e.Message, tt.msg)
		}
		if strings.Contains(e.Message, "keyboard") || strings.Contains(e.Message, "_") {
			t.Errorf("message %q gives the reason away", e.Message)
		}
		if cause := errors.Unwrap(err); cause == nil || !strings.Contains(cause.Error(), "gibberish") {
			t.Errorf("cause %v; want the reason for the log", cause)
		}
	}
}

// TestRepeatedPattern pins the period rule: three repetitions always, two only when the unit is
// junk itself.
func TestRepeatedPattern(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"ababab", true},
		{"abcabcabc", true},
		{"hahahaha", true},
		{"asdfasdf", true},
		{"qweqwe", true},
		{"sdfsdf", true},
		{"tingting", false},
		{"huanhuan", false},
		{"dandan", false},
		{"tintin", false},
		{"bonbon", false},
		{"anna", false},
		{"hannah", false},
		{"mississippi", false},
		{"kakaako", false},
	}
	for _, tt := range tests {
		if got := repeatedPattern([]byte(tt.in)); got != tt.want {
			t.Errorf("repeatedPattern(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func TestKeyboardStats(t *testing.T) {
	tests := []struct {
		in                     string
		longest, longestCommon int
		covered, coveredCommon int
	}{
		{"qwerty", 6, 6, 6, 6},
		{"poiuyt", 6, 6, 6, 6},
		{"qaz", 3, 3, 3, 3},
		{"wertz", 5, 4, 5, 4},  // t-z are neighbours only on QWERTZ
		{"robert", 3, 3, 3, 3}, // "ert"
		{"anna", 0, 0, 0, 0},
	}
	for _, tt := range tests {
		got := keyboardStats([]byte(tt.in))
		want := kbStats{tt.longest, tt.longestCommon, tt.covered, tt.coveredCommon}
		if got != want {
			t.Errorf("keyboardStats(%q) = %+v; want %+v", tt.in, got, want)
		}
	}
}

var sink bool

// BenchmarkGibberish runs on every form submission; the goal is a few microseconds.
func BenchmarkGibberish(b *testing.B) {
	inputs := []struct {
		kind Kind
		s    string
	}{
		{Name, "Krzysztof Szczepański"},
		{Name, "Karl Schwarzschild"},
		{Name, "asdfgh qwerty"},
		{EmailLocal, "john.smith+sales"},
		{EmailLocal, "jdfkslq8823"},
		{Company, "Accenture plc"},
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, in := range inputs {
			sink, _ = Gibberish(in.kind, in.s)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(inputs)), "ns/call")
}

// BenchmarkGibberishLong is the worst case: 256 runes of letters in one word.
func BenchmarkGibberishLong(b *testing.B) {
	s := strings.Repeat("abcdefghij", 30)
	b.ReportAllocs()
	for b.Loop() {
		sink, _ = Gibberish(Name, s)
	}
}
