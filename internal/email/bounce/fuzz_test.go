package bounce

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/errs"
)

// FuzzParse checks that Parse never panics, fails only with a kinded error, and returns only
// reports that keep their promises: a known kind, at most MaxRecipients distinct lower-cased
// email addresses, a class consistent with the action and status, bounded diagnostics.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.eml")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(nest(3)))
	f.Add([]byte(manyParts(3)))
	f.Add([]byte("Content-Type: message/delivery-status\n\nFinal-Recipient: utf-8; a\\x{FC}@example.com\nAction: failed\nStatus: 5.1.1 (x)\n"))
	f.Add([]byte("Content-Type: message/feedback-report\n\nFeedback-Type: abuse\nOriginal-Rcpt-To: a@example.com\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\nContent-Type: multipart/report; boundary=c\n\n--c\nContent-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\nRmluYWwtUmVjaXBpZW50OiBhQGIuYw==\n--c--\n--b--\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := Parse(bytes.NewReader(data))
		if err != nil {
			if errs.As(err) == nil {
				t.Fatalf("Parse error without a kind: %v", err)
			}
			return
		}
		switch rep.Kind {
		case KindDeliveryStatus, KindFeedbackReport, KindPlainBounce:
		default:
			t.Fatalf("unknown kind %q", rep.Kind)
		}
		if len(rep.Recipients) > MaxRecipients {
			t.Fatalf("%d recipients", len(rep.Recipients))
		}
		if rep.Kind != KindFeedbackReport && len(rep.Recipients) == 0 {
			t.Fatalf("a %s report without recipients", rep.Kind)
		}
		seen := map[string]bool{}
		for _, rc := range rep.Recipients {
			a := rc.Address
			if a == "" || a != strings.TrimSpace(a) || a != strings.ToLower(a) || !strings.Contains(a, "@") || !utf8.ValidString(a) || len(a) > 2*maxAddressLen {
				t.Fatalf("bad address %q", a)
			}
			if seen[a] {
				t.Fatalf("address %q twice", a)
			}
			seen[a] = true
			if rc.Class < None || rc.Class > Complaint {
				t.Fatalf("class %d", rc.Class)
			}
			if rep.Kind != KindFeedbackReport && rc.Class != Classify(rc.Action, rc.Status) {
				t.Fatalf("%q: class %v, but Classify(%q, %q) = %v", a, rc.Class, rc.Action, rc.Status, Classify(rc.Action, rc.Status))
			}
			if rc.Status != "" {
				if _, ok := parseStatus(rc.Status); !ok {
					t.Fatalf("bad status %q", rc.Status)
				}
			}
			if len(rc.Diagnostic) > MaxDiagnosticLen || !utf8.ValidString(rc.Diagnostic) {
				t.Fatalf("diagnostic of %d bytes, valid UTF-8 %v", len(rc.Diagnostic), utf8.ValidString(rc.Diagnostic))
			}
		}
		if rep.Kind == KindFeedbackReport && rep.FeedbackType != "abuse" && rep.FeedbackType != "fraud" {
			for _, rc := range rep.Recipients {
				if rc.Class != None {
					t.Fatalf("feedback type %q gives class %v", rep.FeedbackType, rc.Class)
				}
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for _, name := range []string{"postfix.eml", "exchange.eml", "multi.eml"} {
		data := readSample(b, name)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Parse(bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
