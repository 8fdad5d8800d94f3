package chat_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/chat"
	"github.com/beckonhq/beckon/internal/errs"
)

// FuzzCheckText: what CheckText accepts is trimmed, valid, bounded text without control
// characters other than newline and tab, and accepted again unchanged; what it refuses is a
// classified error about "text".
func FuzzCheckText(f *testing.F) {
	for _, s := range []string{"hello", "  a\nb\t ", "", " ", "a\x00b", "\xff", "é" + strings.Repeat("x", chat.MaxTextLen), "\u200b", "a\r\nb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := chat.CheckText(in)
		if err != nil {
			e := errs.As(err)
			if e == nil || e.Field != "text" || (e.Kind != errs.Invalid && e.Kind != errs.Malformed) {
				t.Fatalf("CheckText(%q) = %v: not a classified error about text", in, err)
			}
			return
		}
		if out != strings.TrimSpace(out) || out == "" || !utf8.ValidString(out) || utf8.RuneCountInString(out) > chat.MaxTextLen {
			t.Fatalf("CheckText(%q) = %q", in, out)
		}
		if strings.ContainsFunc(out, func(r rune) bool { return r != '\n' && r != '\t' && unicode.Is(unicode.Cc, r) }) {
			t.Fatalf("CheckText(%q) = %q keeps a control character", in, out)
		}
		if !strings.Contains(in, out) {
			t.Fatalf("CheckText(%q) = %q is not part of its input", in, out)
		}
		if again, err := chat.CheckText(out); err != nil || again != out {
			t.Fatalf("CheckText(%q) again = %q, %v", out, again, err)
		}
	})
}

// FuzzCursor: any Before string is a page or an Invalid error about "before", never a fault.
func FuzzCursor(f *testing.F) {
	f.Add("")
	f.Add("MTIzLmNvbnZfeA")
	f.Add(chat.Cursor("all", &chat.Conversation{ID: "conv_aaaaaaaaaaaaaaaaaaaaaaaaaa"}))
	f.Fuzz(func(t *testing.T, before string) {
		if err := chat.CheckCursor(before); err != nil && (!errs.Is(err, errs.Invalid) || errs.As(err).Field != "before") {
			t.Fatalf("CheckCursor(%q) = %v", before, err)
		}
	})
}
