package field_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/field"
)

// FuzzCheck feeds arbitrary values to the validation of every type: it must never panic, refuse
// only with errs.Invalid on the field's key, and what it accepts must be stored safely (one line
// of valid UTF-8 without control characters, within the limits), fit its type, and be stable
// when checked again.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"Ada", " Ada@Acme.Example ", "-3.50", "1e6", "TRUE", "pro", "Enterprise", "a\nb",
		"\u202e", "👩‍💻", "\xff", "", "  ", "\"q\"@x.io", "<a@b.io>", "0", "-", "1.", "ß", "ǅ", "K"} {
		f.Add(s)
	}
	defs := []field.Definition{
		{Key: "company", Type: field.TypeText},
		{Key: "email", Type: field.TypeEmail},
		{Key: "seats", Type: field.TypeNumber},
		{Key: "active", Type: field.TypeBoolean},
		{Key: "plan", Type: field.TypePicklist, Options: []string{"Free", "Pro", "Enterprise", "Straße", "K"}},
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, d := range defs {
			out, err := d.Check(in)
			if err != nil {
				if e := errs.As(err); e == nil || e.Kind != errs.Invalid || e.Field != d.Key {
					t.Fatalf("%s: unclassified error %v", d.Key, err)
				}
				continue
			}
			if out == "" {
				if strings.TrimSpace(in) != "" {
					t.Fatalf("%s: %q accepted as empty", d.Key, in)
				}
				continue
			}
			if !utf8.ValidString(out) || utf8.RuneCountInString(out) > field.MaxTextLen || strings.TrimSpace(out) != out {
				t.Fatalf("%s: accepted %q as %q", d.Key, in, out)
			}
			for _, r := range out {
				if r != '\u200d' && unicode.In(r, unicode.Cc, unicode.Cf) {
					t.Fatalf("%s: accepted control character in %q", d.Key, out)
				}
			}
			switch d.Type {
			case field.TypeEmail:
				if out != strings.ToLower(out) || strings.Count(out, "@") < 1 || len(out) > field.MaxEmailLen || strings.ContainsAny(out, "<> ") {
					t.Fatalf("email %q accepted as %q", in, out)
				}
			case field.TypeNumber:
				if len(out) > field.MaxNumberLen || strings.Trim(out, "-.0123456789") != "" || strings.Count(out, ".") > 1 {
					t.Fatalf("number %q accepted as %q", in, out)
				}
			case field.TypeBoolean:
				if out != "true" && out != "false" {
					t.Fatalf("boolean %q accepted as %q", in, out)
				}
			case field.TypePicklist:
				found := false
				for _, o := range d.Options {
					found = found || o == out
				}
				if !found {
					t.Fatalf("picklist %q accepted as %q", in, out)
				}
			}
			if again, err := d.Check(out); err != nil || again != out {
				t.Fatalf("%s: not stable: %q → %q → %q %v", d.Key, in, out, again, err)
			}
		}
	})
}
