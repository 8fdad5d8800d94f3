package identity_test

import (
	"bytes"
	"image"
	"image/png"
	"strings"
	"testing"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/identity"
)

// FuzzCheckPhoto feeds arbitrary bytes to the photo check: it must never panic, and what it
// accepts must be a JPEG or PNG within the limits.
func FuzzCheckPhoto(f *testing.F) {
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 3, 3)))
	f.Add(b.Bytes())
	f.Add([]byte("\xff\xd8\xff\xe0garbage"))
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ct, err := identity.CheckPhoto(data)
		if err != nil {
			if k := errs.KindOf(err); k != errs.Invalid && k != errs.TooLarge {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if ct != "image/png" && ct != "image/jpeg" {
			t.Fatalf("accepted content type %q", ct)
		}
	})
}

// FuzzNormalizeEmail checks the email normaliser never panics, and that what it accepts is
// lower-case, trimmed, one address, and stable when normalised again.
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"Ada@Acme.example", " a@b.co ", "\"quoted\"@x.example", "a@b", "<a@b.c>", "Ada <a@b.c>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := identity.NormalizeEmail("email", s)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if n != strings.ToLower(n) || strings.TrimSpace(n) != n || strings.ContainsAny(n, "<>\r\n") || len(n) > 254 {
			t.Fatalf("accepted %q as %q", s, n)
		}
		if again, err := identity.NormalizeEmail("email", n); err != nil || again != n {
			t.Fatalf("not stable: %q → %q → %q %v", s, n, again, err)
		}
	})
}
