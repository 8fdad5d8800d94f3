package visitor

import (
	"testing"

	"github.com/beckonhq/beckon/internal/errs"
)

// FuzzHistoryCursor: a cursor from a URL either parses and prints back as itself, or is
// errs.Invalid about "before"; it never panics.
func FuzzHistoryCursor(f *testing.F) {
	for _, s := range []string{"1700000000000000.vsn_0123456789abcdef0123456789abcdef", "", ".", "1.", ".vsn_x", "-1.vsn_a", "01.vsn_a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseHistoryCursor(s)
		if err != nil {
			if e := errs.As(err); e == nil || e.Kind != errs.Invalid || e.Field != "before" {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if c.startedAt < 0 {
			t.Fatalf("%q: negative time", s)
		}
		back, err := parseHistoryCursor(c.String())
		if err != nil || back != c {
			t.Fatalf("%q: round trip %q gives %+v, %v", s, c.String(), back, err)
		}
	})
}
