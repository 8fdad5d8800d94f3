package bus

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/errs"
)

// MaxSubjectLen is the longest subject, in bytes, that ValidSubject accepts. NATS closes the
// connection of a client whose protocol line exceeds the server's max_control_line (4 KiB by
// default), so a bound here keeps one bad subject from disconnecting a whole replica.
const MaxSubjectLen = 1024

// ValidSubject returns nil when s is a valid subject, and otherwise an error of kind errs.Invalid
// (field "subject") saying what is wrong. A valid subject is at most MaxSubjectLen bytes of UTF-8
// text made of tokens separated by '.'; every token is non-empty and holds no whitespace and no
// control character. When wildcardsOK is true (a subscription's subject) a token may be "*", which
// matches any one token, and the last token may be ">", which matches one or more tokens; '*' and
// '>' inside a longer token are never allowed, so that no subject means different things on the two
// implementations.
func ValidSubject(s string, wildcardsOK bool) error {
	switch {
	case s == "":
		return errs.Field(errs.Invalid, "subject", "is required")
	case len(s) > MaxSubjectLen:
		return errs.Field(errs.Invalid, "subject", "must be at most %d bytes", MaxSubjectLen)
	case !utf8.ValidString(s):
		return errs.Field(errs.Invalid, "subject", "must be valid UTF-8 text")
	}
	for rest, n := s, 0; ; n++ {
		tok, more, found := strings.Cut(rest, ".")
		switch tok {
		case "":
			return errs.Field(errs.Invalid, "subject", "%q has an empty token", s)
		case "*", ">":
			if !wildcardsOK {
				return errs.Field(errs.Invalid, "subject", "%q has a wildcard; publish to a literal subject", s)
			}
			if tok == ">" && found {
				return errs.Field(errs.Invalid, "subject", "%q has '>' before its last token", s)
			}
		default:
			for _, r := range tok {
				if r == '*' || r == '>' {
					return errs.Field(errs.Invalid, "subject", "%q has %q inside a token; wildcards are whole tokens", s, r)
				}
				if unicode.IsSpace(r) || unicode.IsControl(r) {
					return errs.Field(errs.Invalid, "subject", "%q has whitespace or a control character", s)
				}
			}
		}
		if !found {
			return nil
		}
		rest = more
	}
}

// match reports whether the literal subject matches pattern, both valid (see ValidSubject), with
// NATS's rules: "*" matches one token, a final ">" one or more tokens, any other token itself. It
// does not allocate.
func match(pattern, subject string) bool {
	for {
		ptok, prest, pmore := strings.Cut(pattern, ".")
		if ptok == ">" {
			return subject != ""
		}
		if subject == "" {
			return false
		}
		stok, srest, smore := strings.Cut(subject, ".")
		if ptok != "*" && ptok != stok {
			return false
		}
		if !pmore || !smore {
			return pmore == smore
		}
		pattern, subject = prest, srest
	}
}
