package spam

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// corpusLines reads a testdata file, skipping blank lines and '#' comments.
func corpusLines(t testing.TB, name string) []string {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCorpusNames: every real-looking name in testdata/names.txt passes (0 false positives).
func TestCorpusNames(t *testing.T) {
	names := corpusLines(t, "names.txt")
	if len(names) < 300 {
		t.Fatalf("corpus has %d names, want at least 300", len(names))
	}
	bad := 0
	for _, s := range names {
		if flagged, why := Gibberish(Name, s); flagged {
			bad++
			t.Errorf("Gibberish(Name, %q) = true, %q; want false", s, why)
		}
	}
	t.Logf("names: %d, false positives: %d (%.1f %%)", len(names), bad, 100*float64(bad)/float64(len(names)))
}

// TestCorpusEmailLocals: every plausible local part in testdata/email_locals.txt passes.
func TestCorpusEmailLocals(t *testing.T) {
	locals := corpusLines(t, "email_locals.txt")
	if len(locals) < 100 {
		t.Fatalf("corpus has %d local parts, want at least 100", len(locals))
	}
	bad := 0
	for _, s := range locals {
		if flagged, why := Gibberish(EmailLocal, s); flagged {
			bad++
			t.Errorf("Gibberish(EmailLocal, %q) = true, %q; want false", s, why)
		}
	}
	t.Logf("email local parts: %d, false positives: %d (%.1f %%)", len(locals), bad, 100*float64(bad)/float64(len(locals)))
}

// TestCorpusJunk: at least 80 % of testdata/junk.txt is refused.
func TestCorpusJunk(t *testing.T) {
	lines := corpusLines(t, "junk.txt")
	if len(lines) < 100 {
		t.Fatalf("corpus has %d junk strings, want at least 100", len(lines))
	}
	kinds := map[string]Kind{"name": Name, "company": Company, "email": EmailLocal}
	caught := 0
	reasons := map[string]int{}
	for _, line := range lines {
		k, s, ok := strings.Cut(line, "\t")
		kind, known := kinds[k]
		if !ok || !known {
			t.Fatalf("junk line %q: want kind<TAB>string", line)
		}
		if flagged, why := Gibberish(kind, s); flagged {
			caught++
			reasons[why]++
		} else {
			t.Logf("missed: %s %q", k, s)
		}
	}
	rate := float64(caught) / float64(len(lines))
	t.Logf("junk: %d, refused: %d (%.1f %%); by reason: %v", len(lines), caught, 100*rate, reasons)
	if rate < 0.80 {
		t.Errorf("detection rate %.1f %%, want at least 80 %%", 100*rate)
	}
}
