package address

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/beckonhq/beckon/internal/errs"
	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// Limits, in octets.
const (
	MaxInput   = 1024 // longest input Parse looks at; longer input is refused before any other work
	MaxAddress = 254  // whole address: UTF-8 local part + "@" + ASCII (A-label) domain
	MaxLocal   = 64   // local part, as written in Address.String()
	MaxDomain  = 253  // domain, in its ASCII (A-label) form
	MaxLabel   = 63   // one domain label, in its ASCII (A-label) form
)

// Syntax error codes carried by *SyntaxError and by Reason.Code. They are stable: clients may
// switch on them.
const (
	CodeEmpty             = "syntax.empty"               // nothing but whitespace
	CodeTooLong           = "syntax.too_long"            // input over MaxInput, or address over MaxAddress
	CodeInvalidUTF8       = "syntax.invalid_utf8"        // the input is not valid UTF-8
	CodeDisplayName       = "syntax.display_name"        // "Ada <ada@example.com>": send only the address
	CodeComment           = "syntax.comment"             // a (comment) outside quotes
	CodeMissingAt         = "syntax.missing_at"          // no @ at all
	CodeMultipleAt        = "syntax.multiple_at"         // a second @ outside quotes
	CodeWhitespace        = "syntax.whitespace"          // a space, tab or other white space outside quotes
	CodeControl           = "syntax.control_char"        // a control or invisible formatting character
	CodeLocalEmpty        = "syntax.local_empty"         // nothing before the @ (or "")
	CodeLocalTooLong      = "syntax.local_too_long"      // local part over MaxLocal octets
	CodeLocalDot          = "syntax.local_dot"           // leading, trailing or consecutive dots before the @
	CodeLocalChar         = "syntax.local_char"          // a character only allowed inside quotes
	CodeLocalQuote        = "syntax.local_quote"         // an unclosed or misplaced quoted string
	CodeDomainEmpty       = "syntax.domain_empty"        // nothing after the @
	CodeDomainTooLong     = "syntax.domain_too_long"     // domain over MaxDomain octets in A-label form
	CodeDomainDot         = "syntax.domain_dot"          // leading, trailing or consecutive dots in the domain
	CodeDomainLabel       = "syntax.domain_label"        // a label too long, with a bad character or hyphen
	CodeDomainSingleLabel = "syntax.domain_single_label" // "ada@localhost": no dot in the domain
	CodeDomainNumericTLD  = "syntax.domain_numeric_tld"  // the last label is all digits (a bare IP address)
	CodeDomainIDNA        = "syntax.domain_idna"         // not a valid internationalised domain name
	CodeDomainLiteral     = "syntax.domain_literal"      // a bracketed literal that is not an IPv4/IPv6 address
)

// SyntaxError says why a string is not an acceptable email address: a stable machine Code (one of
// the Code* constants) and a Message a visitor can read. Parse and ParseDomain return it wrapped in
// an *errs.Error of kind errs.Invalid; find it with errors.As or CodeOf.
type SyntaxError struct {
	Code    string
	Message string
}

// Error returns the code, e.g. "address: syntax.missing_at"; the message is in the wrapping errs.Error.
func (e *SyntaxError) Error() string { return "address: " + e.Code }

// CodeOf returns the Code of the *SyntaxError in err's chain, or "" when there is none.
func CodeOf(err error) string {
	var se *SyntaxError
	if errors.As(err, &se) {
		return se.Code
	}
	return ""
}

// syntaxErr builds the error Parse returns: errs.Invalid about field, wrapping a *SyntaxError.
func syntaxErr(field, code, msg string) error {
	return &errs.Error{Kind: errs.Invalid, Field: field, Message: msg, Err: &SyntaxError{Code: code, Message: msg}}
}

// Address is a parsed, normalised email address. The zero value is not a valid address.
type Address struct {
	// Local is the local part as written in String(): NFC-normalised, lower-cased, without quotes
	// when it is a valid dot-atom and otherwise quoted minimally (only " and \ escaped).
	Local string
	// Domain is the lower-case Unicode (U-label) form of the domain, e.g. "bücher.de", or the
	// bracketed literal, e.g. "[192.0.2.1]" or "[IPv6:2001:db8::1]".
	Domain string
	// ASCIIDomain is the A-label (punycode) form, e.g. "xn--bcher-kva.de", or the literal.
	ASCIIDomain string
	// IPLiteral is true when the domain is an address literal in brackets.
	IPLiteral bool
}

// String returns the normalised address, Local + "@" + Domain; Parse(a.String()) returns a again.
func (a Address) String() string {
	if a.Local == "" {
		return ""
	}
	return a.Local + "@" + a.Domain
}

// ASCII returns the address to put on the SMTP wire, Local + "@" + ASCIIDomain, and whether it is
// pure ASCII. When the local part is not ASCII it returns false: the message can only travel to a
// server that offers SMTPUTF8 (RFC 6531), and the string returned is the one to use there.
func (a Address) ASCII() (string, bool) {
	if a.Local == "" {
		return "", false
	}
	return a.Local + "@" + a.ASCIIDomain, isASCII(a.Local)
}

// Parse checks s as an address that RFC 5321/5322 mail systems accept, internationalised
// addresses (RFC 6531) included, and returns it normalised. Surrounding white space is trimmed.
// See the package documentation for what is accepted. Errors are *errs.Error of kind errs.Invalid
// with Field "email", wrapping a *SyntaxError whose Code names the fault. Parse runs in time
// linear in len(s) and looks at no more than MaxInput bytes.
func Parse(s string) (Address, error) {
	return parse("email", s)
}

func parse(field, s string) (Address, error) {
	if len(s) > MaxInput {
		return Address{}, syntaxErr(field, CodeTooLong, "This email address is too long.")
	}
	if !utf8.ValidString(s) {
		return Address{}, syntaxErr(field, CodeInvalidUTF8, "The email address contains characters that could not be read.")
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return Address{}, syntaxErr(field, CodeEmpty, "Please enter an email address.")
	}
	if code, msg := prescan(s); code != "" {
		return Address{}, syntaxErr(field, code, msg)
	}
	value, rest, code, msg := scanLocal(s)
	if code != "" {
		return Address{}, syntaxErr(field, code, msg)
	}
	local, code, msg := normalizeLocal(value)
	if code != "" {
		return Address{}, syntaxErr(field, code, msg)
	}
	d, code, msg := parseDomain(rest)
	if code != "" {
		return Address{}, syntaxErr(field, code, msg)
	}
	if len(local)+1+len(d.ascii) > MaxAddress {
		return Address{}, syntaxErr(field, CodeTooLong, "This email address is too long.")
	}
	return Address{Local: local, Domain: d.unicode, ASCIIDomain: d.ascii, IPLiteral: d.literal}, nil
}

// ParseDomain checks s as the domain of an email address (a host name, an internationalised
// domain name or a bracketed IP literal; surrounding white space is trimmed) and returns its
// lower-case Unicode and ASCII forms, as Address.Domain and Address.ASCIIDomain would hold them.
// Errors are *errs.Error of kind errs.Invalid with Field "domain", wrapping a *SyntaxError.
func ParseDomain(s string) (unicodeForm, asciiForm string, err error) {
	if len(s) > MaxInput {
		return "", "", syntaxErr("domain", CodeDomainTooLong, "The domain is too long.")
	}
	if !utf8.ValidString(s) {
		return "", "", syntaxErr("domain", CodeInvalidUTF8, "The domain contains characters that could not be read.")
	}
	d, code, msg := parseDomain(strings.TrimSpace(s))
	if code != "" {
		return "", "", syntaxErr("domain", code, msg)
	}
	return d.unicode, d.ascii, nil
}

// prescan finds the two mistakes that deserve their own advice wherever they occur: a display name
// with angle brackets, and comments in parentheses. Characters inside quoted strings are skipped.
func prescan(s string) (code, msg string) {
	inQuote, angle, paren := false, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote && c == '\\':
			i++ // the escaped byte is content; a multi-byte rune's tail is never special
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '<' || c == '>':
			angle = true
		case c == '(' || c == ')':
			paren = true
		}
	}
	switch {
	case angle:
		return CodeDisplayName, "Please enter only the email address, like name@example.com, without a name or angle brackets."
	case paren:
		return CodeComment, "Please remove the text in parentheses and enter only the email address."
	}
	return "", ""
}

// scanLocal reads the local part at the start of s, up to the @, and returns its value (quotes and
// escapes removed, not yet normalised) and the text after the @.
func scanLocal(s string) (value, rest, code, msg string) {
	if s[0] == '"' {
		return scanQuoted(s)
	}
	i := 0
	for i < len(s) && s[i] != '@' {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case isAtext(c) || c == '.':
			case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
				return "", "", CodeWhitespace, "An email address cannot contain spaces."
			case c < 0x20 || c == 0x7f:
				return "", "", CodeControl, "The email address contains an invisible or control character."
			case c == '"':
				return "", "", CodeLocalQuote, "Quotation marks must surround the whole part before the @."
			default:
				return "", "", CodeLocalChar, "The character " + showChar(c) + " is not allowed before the @."
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if code, msg := checkRune(r); code != "" {
			return "", "", code, msg
		}
		i += size
	}
	if i == len(s) {
		return "", "", CodeMissingAt, "An email address needs an @, like name@example.com."
	}
	local := s[:i]
	switch {
	case local == "":
		return "", "", CodeLocalEmpty, "The part before the @ is missing."
	case local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, ".."):
		return "", "", CodeLocalDot, "The part before the @ cannot start or end with a dot, or have two dots in a row."
	}
	return local, s[i+1:], "", ""
}

// scanQuoted reads a quoted-string local part (RFC 5321 Quoted-string with RFC 6531 UTF-8):
// printable ASCII and space, non-ASCII characters, and backslash escapes of printable ASCII.
func scanQuoted(s string) (value, rest, code, msg string) {
	var b strings.Builder
	for i := 1; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if code, msg := checkRune(r); code != "" {
				return "", "", code, msg
			}
			b.WriteString(s[i : i+size])
			i += size
			continue
		}
		switch {
		case c == '"':
			switch {
			case i+1 == len(s):
				return "", "", CodeMissingAt, "An email address needs an @, like name@example.com."
			case s[i+1] == '@' && b.Len() == 0:
				return "", "", CodeLocalEmpty, "The part before the @ is missing."
			case s[i+1] == '@':
				return b.String(), s[i+2:], "", ""
			case isSpaceByte(s[i+1]):
				return "", "", CodeWhitespace, "An email address cannot contain spaces outside quotation marks."
			}
			return "", "", CodeLocalQuote, "Quotation marks must surround the whole part before the @."
		case c == '\\':
			if i+1 == len(s) {
				return "", "", CodeLocalQuote, "The quotation mark before the @ is not closed."
			}
			switch n := s[i+1]; {
			case n >= utf8.RuneSelf:
				return "", "", CodeLocalChar, "Only plain ASCII characters may follow a backslash."
			case n < 0x20 || n == 0x7f:
				return "", "", CodeControl, "The email address contains an invisible or control character."
			default:
				b.WriteByte(n)
			}
			i += 2
		case c != ' ' && isSpaceByte(c):
			return "", "", CodeWhitespace, "An email address cannot contain tabs or line breaks."
		case c < 0x20 || c == 0x7f:
			return "", "", CodeControl, "The email address contains an invisible or control character."
		default:
			b.WriteByte(c)
			i++
		}
	}
	return "", "", CodeLocalQuote, "The quotation mark before the @ is not closed."
}

// checkRune refuses non-ASCII characters that have no place in an address: white space, control
// characters and invisible formatting characters (bidi overrides, zero-width spaces, BOM). The
// zero-width joiner and non-joiner are allowed: several scripts need them.
func checkRune(r rune) (code, msg string) {
	switch {
	case r == utf8.RuneError:
		return CodeInvalidUTF8, "The email address contains characters that could not be read."
	case unicode.IsSpace(r) || unicode.In(r, unicode.Zs, unicode.Zl, unicode.Zp):
		return CodeWhitespace, "An email address cannot contain spaces."
	case r == 0x200C || r == 0x200D:
		return "", ""
	case unicode.In(r, unicode.Cc, unicode.Cf, unicode.Cs, unicode.Co) || r == 0xFFFE || r == 0xFFFF:
		return CodeControl, "The email address contains an invisible or control character."
	}
	return "", ""
}

// normalizeLocal normalises a local-part value (NFC, lower case) and renders it as written in
// Address.Local: bare when it is a dot-atom, quoted minimally otherwise.
func normalizeLocal(v string) (local, code, msg string) {
	if !isASCII(v) {
		v = norm.NFC.String(strings.ToLower(norm.NFC.String(v)))
		for _, r := range v {
			if r < utf8.RuneSelf {
				if r < 0x20 || r == 0x7f {
					return "", CodeControl, "The email address contains an invisible or control character."
				}
				continue
			}
			if code, msg := checkRune(r); code != "" {
				return "", code, msg
			}
		}
	} else {
		v = strings.ToLower(v)
	}
	if !isDotAtom(v) {
		v = quote(v)
	}
	if len(v) > MaxLocal {
		return "", CodeLocalTooLong, fmt.Sprintf("The part before the @ is too long (at most %d characters).", MaxLocal)
	}
	return v, "", ""
}

// isDotAtom reports whether v can be written without quotes: atext (and non-ASCII) runs joined by
// single dots.
func isDotAtom(v string) bool {
	if v == "" || v[0] == '.' || v[len(v)-1] == '.' {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= utf8.RuneSelf || isAtext(c):
		case c == '.':
			if v[i+1] == '.' {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// quote writes v as a quoted string, escaping only " and \.
func quote(v string) string {
	var b strings.Builder
	b.Grow(len(v) + 2)
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' || v[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
	return b.String()
}

// atext marks the RFC 5322 atext characters: letters, digits and !#$%&'*+-/=?^_`{|}~.
var atext = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range []byte("!#$%&'*+-/=?^_`{|}~") {
		t[c] = true
	}
	return t
}()

// isAtext reports whether c is an RFC 5322 atext character.
func isAtext(c byte) bool { return atext[c] }

// showChar quotes a printable ASCII character for a message, without Go escapes.
func showChar(c byte) string { return "“" + string(rune(c)) + "”" }

func isSpaceByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// domain is a parsed domain in both forms.
type domain struct {
	unicode, ascii string
	literal        bool
}

// idnaProfile maps and validates internationalised domain names as UTS 46 lookup does
// (non-transitional, STD3 rules, hyphen, joiner and bidi checks), the way browsers and modern
// mail software treat them. Lengths and label rules are checked on the result by checkASCIIDomain.
var idnaProfile = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.BidiRule())

// parseDomain checks the text after the @ and returns both forms.
func parseDomain(s string) (domain, string, string) {
	if s == "" {
		return domain{}, CodeDomainEmpty, "The domain after the @ is missing."
	}
	allASCII := true
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '@':
				return domain{}, CodeMultipleAt, "An email address has only one @."
			case isSpaceByte(c):
				return domain{}, CodeWhitespace, "An email address cannot contain spaces."
			case c < 0x20 || c == 0x7f:
				return domain{}, CodeControl, "The email address contains an invisible or control character."
			}
			i++
			continue
		}
		allASCII = false
		r, size := utf8.DecodeRuneInString(s[i:])
		if code, msg := checkRune(r); code != "" {
			return domain{}, code, msg
		}
		i += size
	}
	if s[0] == '[' {
		return parseLiteral(s)
	}
	if allASCII {
		a := strings.ToLower(s)
		if code, msg := checkASCIIDomain(a); code != "" {
			return domain{}, code, msg
		}
		if !strings.HasPrefix(a, "xn--") && !strings.Contains(a, ".xn--") {
			return domain{unicode: a, ascii: a}, "", ""
		}
		u, err := idnaProfile.ToUnicode(a)
		if err != nil {
			return domain{}, CodeDomainIDNA, "The domain is not a valid internationalised domain name."
		}
		if back, err := idnaProfile.ToASCII(u); err != nil || back != a {
			return domain{}, CodeDomainIDNA, "The domain is not a valid internationalised domain name."
		}
		return domain{unicode: u, ascii: a}, "", ""
	}
	a, err := idnaProfile.ToASCII(s)
	if err != nil {
		return domain{}, CodeDomainIDNA, "The domain is not a valid internationalised domain name."
	}
	if code, msg := checkASCIIDomain(a); code != "" {
		return domain{}, code, msg
	}
	u, err := idnaProfile.ToUnicode(a)
	if err != nil {
		return domain{}, CodeDomainIDNA, "The domain is not a valid internationalised domain name."
	}
	if back, err := idnaProfile.ToASCII(u); err != nil || back != a {
		return domain{}, CodeDomainIDNA, "The domain is not a valid internationalised domain name."
	}
	return domain{unicode: u, ascii: a}, "", ""
}

// checkASCIIDomain checks a lower-case ASCII host name: LDH labels of 1..63 octets, no leading or
// trailing hyphen, no "--" in the third and fourth positions except in "xn--" labels (RFC 5890
// reserves them), at least two labels, a top-level label that is not all digits, at most 253
// octets.
func checkASCIIDomain(a string) (code, msg string) {
	if a == "" {
		return CodeDomainEmpty, "The domain after the @ is missing."
	}
	if a[len(a)-1] == '.' && a != "." && !strings.HasSuffix(a, "..") {
		return CodeDomainDot, "Please remove the dot at the end of the domain."
	}
	labels, start := 0, 0
	allDigits := true
	for i := 0; i <= len(a); i++ {
		if i < len(a) && a[i] != '.' {
			continue
		}
		label := a[start:i]
		start = i + 1
		labels++
		if label == "" {
			return CodeDomainDot, "The domain cannot start or end with a dot, or have two dots in a row."
		}
		if len(label) > MaxLabel {
			return CodeDomainLabel, fmt.Sprintf("A part of the domain between dots is longer than %d characters.", MaxLabel)
		}
		allDigits = true
		for j := 0; j < len(label); j++ {
			c := label[j]
			switch {
			case '0' <= c && c <= '9':
			case 'a' <= c && c <= 'z' || c == '-':
				allDigits = false
			default:
				return CodeDomainLabel, "The character " + showChar(c) + " is not allowed in the domain."
			}
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return CodeDomainLabel, "A part of the domain cannot start or end with a hyphen."
		}
		if len(label) >= 4 && label[2] == '-' && label[3] == '-' && !strings.HasPrefix(label, "xn--") {
			return CodeDomainLabel, "A part of the domain cannot have two hyphens in the third and fourth places."
		}
	}
	if len(a) > MaxDomain {
		return CodeDomainTooLong, "The domain is too long."
	}
	if labels < 2 {
		return CodeDomainSingleLabel, "The domain needs at least one dot, like example.com."
	}
	if allDigits {
		return CodeDomainNumericTLD, "The domain cannot end in a number; write an IP address in brackets, like [192.0.2.1]."
	}
	return "", ""
}

// parseLiteral checks an address literal: [IPv4] or [IPv6:address] (RFC 5321 §4.1.3), and writes
// it canonically.
func parseLiteral(s string) (domain, string, string) {
	const bad = "The address in brackets is not a valid IP address; write it like [192.0.2.1] or [IPv6:2001:db8::1]."
	if len(s) < 2 || s[len(s)-1] != ']' || strings.ContainsAny(s[1:len(s)-1], "[]\\") {
		return domain{}, CodeDomainLiteral, bad
	}
	content := s[1 : len(s)-1]
	var lit string
	if len(content) >= 5 && strings.EqualFold(content[:5], "IPv6:") {
		ip, err := netip.ParseAddr(content[5:])
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return domain{}, CodeDomainLiteral, bad
		}
		lit = "[IPv6:" + ip.String() + "]"
	} else {
		ip, err := netip.ParseAddr(content)
		if err != nil || !ip.Is4() {
			return domain{}, CodeDomainLiteral, bad
		}
		lit = "[" + ip.String() + "]"
	}
	return domain{unicode: lit, ascii: lit, literal: true}, "", ""
}
