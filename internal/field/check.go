package field

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/email/address"
	"github.com/beckonhq/beckon/internal/errs"
)

// Check validates a value for the field and returns it in its stored form, or errs.Invalid on the
// field's key. Every value is trimmed and must be one line of at most MaxTextLen characters of
// valid UTF-8 without control or format characters (the zero-width joiner of emoji excepted);
// then, by type:
//
//   - email: one plain address (local@domain.tld), at most MaxEmailLen characters, lower-cased;
//   - number: a decimal number, an optional minus sign, digits, and optionally a point and
//     digits (no exponent, no thousands separators), at most MaxNumberLen characters;
//   - boolean: true or false in any case, stored lower-case;
//   - picklist: one of the options, matched ignoring case and stored as the option is spelt.
//
// An empty (or all-space) value is returned as "" without error: what it means is the caller's
// decision (Set treats it as "no value", or as a blank from the CRM).
func (d Definition) Check(v string) (string, error) {
	// Refuse absurd sizes before looking at the characters: no value of MaxTextLen characters
	// needs more than 4 bytes each, plus surrounding space.
	if len(v) > 4*MaxTextLen+64 {
		return "", errs.Field(errs.Invalid, d.Key, "must be at most %d characters", MaxTextLen)
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	v, err := checkLine(d.Key, v, MaxTextLen)
	if err != nil {
		return "", err
	}
	switch d.Type {
	case TypeEmail:
		return checkEmail(d.Key, v)
	case TypeNumber:
		if len(v) > MaxNumberLen || !isDecimal(v) {
			return "", errs.Field(errs.Invalid, d.Key, "must be a number such as 42 or -3.5 (at most %d characters)", MaxNumberLen)
		}
		return v, nil
	case TypeBoolean:
		switch {
		case strings.EqualFold(v, "true"):
			return "true", nil
		case strings.EqualFold(v, "false"):
			return "false", nil
		}
		return "", errs.Field(errs.Invalid, d.Key, "must be true or false")
	case TypePicklist:
		for _, o := range d.Options {
			if strings.EqualFold(o, v) {
				return o, nil
			}
		}
		return "", errs.Field(errs.Invalid, d.Key, "%q is not one of the options", clip(v, 40))
	}
	return v, nil
}

// checkLine checks s (already trimmed) is valid UTF-8, at most max characters, on one line and
// without control or format characters such as U+202E, which reverses how the rest of a line
// reads; the zero-width joiner, which builds emoji, is allowed.
func checkLine(field, s string, max int) (string, error) {
	if !utf8.ValidString(s) {
		return "", errs.Field(errs.Invalid, field, "must be valid UTF-8 text")
	}
	if utf8.RuneCountInString(s) > max {
		return "", errs.Field(errs.Invalid, field, "must be at most %d characters", max)
	}
	for _, r := range s {
		if r != '\u200d' && unicode.In(r, unicode.Cc, unicode.Cf) {
			return "", errs.Field(errs.Invalid, field, "must be plain text on one line, without control characters")
		}
	}
	return s, nil
}

// checkEmail checks an address with Beckon's one validator (internal/email/address) and returns
// its normalized form, at most MaxEmailLen characters.
func checkEmail(field, s string) (string, error) {
	a, err := address.Parse(s)
	if err != nil || len(a.String()) > MaxEmailLen {
		msg := "is not an email address"
		if e := errs.As(err); e != nil {
			msg = e.Message
		}
		return "", &errs.Error{Kind: errs.Invalid, Field: field, Message: fmt.Sprintf("%q: %s", clip(s, 80), msg), Err: err}
	}
	return a.String(), nil
}

// isDecimal reports whether s is -?[0-9]+(\.[0-9]+)?
func isDecimal(s string) bool {
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasPoint := strings.Cut(s, ".")
	return allDigits(intPart) && (!hasPoint || allDigits(frac))
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// clip shortens s to n characters for a message, marking the cut; bytes that are not UTF-8
// show as U+FFFD.
func clip(s string, n int) string {
	cut := len(s) > 4*n
	if cut {
		s = s[:4*n]
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	i := 0
	for j := range s {
		if i == n {
			return s[:j] + "…"
		}
		i++
	}
	if cut {
		return s + "…"
	}
	return s
}
