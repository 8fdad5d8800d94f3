package bounce

import (
	"bufio"
	"net/textproto"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// field is one header-like "Name: value" field, unfolded.
type field struct{ name, value string }

// block is a group of fields not separated by a blank line.
type block []field

// get returns the value of the first field of b named name (any letter case), or "".
func (b block) get(name string) string {
	for _, f := range b {
		if strings.EqualFold(f.name, name) {
			return f.value
		}
	}
	return ""
}

// all returns the values of every field of b named name (any letter case).
func (b block) all(name string) []string {
	var vs []string
	for _, f := range b {
		if strings.EqualFold(f.name, name) {
			vs = append(vs, f.value)
		}
	}
	return vs
}

// parseBlocks reads header-like fields in blocks separated by blank lines (lines of white space
// count as blank), as in a message/delivery-status body. Folded lines are unfolded with one space;
// lines that are neither a field nor a continuation are skipped. It takes time linear in len(s).
func parseBlocks(s string) []block {
	var (
		blocks []block
		cur    block
		name   string
		val    strings.Builder
	)
	flush := func() {
		if name != "" {
			cur = append(cur, field{name: name, value: strings.TrimSpace(val.String())})
			name = ""
			val.Reset()
		}
	}
	for len(s) > 0 {
		var line string
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			line, s = s[:i], s[i+1:]
		} else {
			line, s = s, ""
		}
		line = strings.TrimSuffix(line, "\r")
		switch {
		case strings.TrimSpace(line) == "":
			flush()
			if len(cur) > 0 {
				blocks = append(blocks, cur)
				cur = nil
			}
		case line[0] == ' ' || line[0] == '\t':
			if name != "" {
				val.WriteByte(' ')
				val.WriteString(strings.TrimSpace(line))
			}
		default:
			flush()
			i := strings.IndexByte(line, ':')
			if i < 0 {
				continue
			}
			n := strings.TrimRight(line[:i], " \t")
			if !validFieldName(n) {
				continue
			}
			name = n
			val.WriteString(line[i+1:])
		}
	}
	flush()
	if len(cur) > 0 {
		blocks = append(blocks, cur)
	}
	return blocks
}

// parseFields reads the fields of s as one block, blank lines included.
func parseFields(s string) block {
	var all block
	for _, b := range parseBlocks(s) {
		all = append(all, b...)
	}
	return all
}

// validFieldName reports whether n is an RFC 5322 field name: printable ASCII without colon.
func validFieldName(n string) bool {
	if n == "" || len(n) > 100 {
		return false
	}
	for i := 0; i < len(n); i++ {
		if n[i] < 33 || n[i] > 126 {
			return false
		}
	}
	return true
}

// toMIMEHeader returns the fields of b as a header, keyed canonically ("Message-Id").
func toMIMEHeader(b block) textproto.MIMEHeader {
	h := make(textproto.MIMEHeader, len(b))
	for _, f := range b {
		k := textproto.CanonicalMIMEHeaderKey(f.name)
		h[k] = append(h[k], f.value)
	}
	return h
}

// readHeaderBlock reads from br up to and including the blank line that ends a header and returns
// the header's text, without that line. truncated is true when the header goes on past limit
// bytes; br is then left inside the header.
func readHeaderBlock(br *bufio.Reader, limit int) (text string, truncated bool) {
	var b strings.Builder
	atStart := true
	for {
		line, err := br.ReadSlice('\n')
		if atStart && (string(line) == "\n" || string(line) == "\r\n") {
			return b.String(), false
		}
		if b.Len()+len(line) > limit {
			return b.String(), true
		}
		b.Write(line)
		if len(line) > 0 {
			atStart = line[len(line)-1] == '\n'
		}
		if err != nil && err != bufio.ErrBufferFull {
			return b.String(), false
		}
	}
}

// stripComments removes RFC 5322 comments, "(…)" possibly nested, from s, leaving quoted strings
// and quoted pairs alone. An unclosed comment runs to the end.
func stripComments(s string) string {
	if strings.IndexByte(s, '(') < 0 {
		return s
	}
	var b strings.Builder
	depth, quoted, escaped := 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case quoted:
			quoted = c != '"'
		case c == '"' && depth == 0:
			quoted = true
		case c == '(':
			depth++
			continue
		case c == ')' && depth > 0:
			depth--
			continue
		}
		if depth == 0 {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// typedValue splits a "type; value" field value such as "rfc822; ada@example.com" or
// "dns; mx.example.com" into its lower-cased type and its value, both trimmed. A value without a
// type gives an empty type.
func typedValue(v string) (typ, val string) {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, ';'); i >= 0 {
		if t := strings.TrimSpace(v[:i]); isTypeName(t) {
			return strings.ToLower(t), strings.TrimSpace(v[i+1:])
		}
	}
	return "", v
}

// isTypeName reports whether t looks like an address, MTA-name or diagnostic type ("rfc822",
// "utf-8", "dns", "smtp", "X-Postfix").
func isTypeName(t string) bool {
	if t == "" || len(t) > 32 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// maxAddressLen is the longest address kept; RFC 5321 allows 254 in a path.
const maxAddressLen = 320

// address returns the email address of an address-typed field value ("rfc822; Ada@Example.com",
// "utf-8; j\x{FC}rgen@example.de", "<ada@example.com>"), lower-cased and trimmed, or "" when it
// is not an email address.
func address(v string) string {
	typ, a := typedValue(stripComments(v))
	if typ == "utf-8" {
		a = unescapeUnicode(a)
	}
	return cleanAddress(a)
}

// cleanAddress returns a, an addr-spec possibly in angle brackets, lower-cased and trimmed, or ""
// when it is not an email address.
func cleanAddress(a string) string {
	a = strings.TrimSpace(a)
	if i := strings.LastIndexByte(a, '<'); i >= 0 {
		if j := strings.IndexByte(a[i:], '>'); j > 0 {
			a = strings.TrimSpace(a[i+1 : i+j])
		}
	}
	if a == "" || len(a) > maxAddressLen || !utf8.ValidString(a) {
		return ""
	}
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 {
		return ""
	}
	local, domain := a[:at], a[at+1:]
	quotedLocal := len(local) >= 2 && local[0] == '"' && local[len(local)-1] == '"'
	for _, r := range a {
		if unicode.IsControl(r) || r == utf8.RuneError || r == '<' || r == '>' {
			return ""
		}
	}
	if strings.IndexFunc(domain, unicode.IsSpace) >= 0 || strings.ContainsAny(domain, ",;\"") {
		return ""
	}
	if !quotedLocal && (strings.IndexFunc(local, unicode.IsSpace) >= 0 || strings.ContainsAny(local, ",;")) {
		return ""
	}
	return strings.ToLower(a)
}

// unescapeUnicode replaces the RFC 6533 escapes "\x{HEX}" of s by the characters they stand for;
// an escape that is not a valid character stays as it is.
func unescapeUnicode(s string) string {
	if !strings.Contains(s, `\x{`) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, `\x{`)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		end := strings.IndexByte(s[:min(len(s), 10)], '}')
		if end < 4 {
			b.WriteString(s[:3])
			s = s[3:]
			continue
		}
		n, err := strconv.ParseUint(s[3:end], 16, 32)
		if err != nil || n == 0 || !utf8.ValidRune(rune(n)) {
			b.WriteString(s[:3])
			s = s[3:]
			continue
		}
		b.WriteRune(rune(n))
		s = s[end+1:]
	}
}

// status is an enhanced mail system status code (RFC 3463), class.subject.detail.
type status struct{ class, subject, detail int }

func (s status) key() int { return s.subject*1000 + s.detail }
func (s status) String() string {
	return strconv.Itoa(s.class) + "." + strconv.Itoa(s.subject) + "." + strconv.Itoa(s.detail)
}

// parseStatus reads an enhanced status code such as "5.1.1": class 2, 4 or 5, then subject and
// detail of one to three digits.
func parseStatus(s string) (status, bool) {
	c, rest, ok1 := strings.Cut(s, ".")
	sub, det, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || len(c) != 1 || (c[0] != '2' && c[0] != '4' && c[0] != '5') {
		return status{}, false
	}
	subject, ok3 := smallNumber(sub)
	detail, ok4 := smallNumber(det)
	if !ok3 || !ok4 {
		return status{}, false
	}
	return status{class: int(c[0] - '0'), subject: subject, detail: detail}, true
}

// smallNumber reads one to three decimal digits.
func smallNumber(s string) (int, bool) {
	if s == "" || len(s) > 3 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// statusField reads a Status field's value: its first word, comments removed.
func statusField(v string) (status, bool) {
	v = strings.TrimSpace(stripComments(v))
	if i := strings.IndexAny(v, " \t"); i >= 0 {
		v = v[:i]
	}
	return parseStatus(v)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// findStatus returns the first enhanced status code written in the text s, e.g. the 5.1.1 of
// "550 5.1.1 <ada@example.com>: user unknown" or of "(#5.1.1)". A code must stand alone: not
// inside an IP address or a version number.
func findStatus(s string) (status, bool) {
	for i := 0; i+4 < len(s); i++ {
		c := s[i]
		if (c != '2' && c != '4' && c != '5') || s[i+1] != '.' || (i > 0 && (isDigit(s[i-1]) || s[i-1] == '.')) {
			continue
		}
		j := i + 2
		for j < len(s) && j < i+5 && isDigit(s[j]) {
			j++
		}
		if j == i+2 || j >= len(s) || s[j] != '.' {
			continue
		}
		k := j + 1
		for k < len(s) && k < j+4 && isDigit(s[k]) {
			k++
		}
		if k == j+1 || (k < len(s) && isDigit(s[k])) || (k+1 < len(s) && s[k] == '.' && isDigit(s[k+1])) {
			continue
		}
		if st, ok := parseStatus(s[i:k]); ok {
			return st, true
		}
	}
	return status{}, false
}

// replyClass returns the class (2, 4 or 5) of the SMTP reply code that starts s ("550 …",
// "451-…"), or 0.
func replyClass(s string) int {
	s = strings.TrimSpace(s)
	if len(s) < 3 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || !isDigit(s[1]) || !isDigit(s[2]) {
		return 0
	}
	if len(s) > 3 && s[3] != ' ' && s[3] != '-' {
		return 0
	}
	return int(s[0] - '0')
}

// effectiveStatus returns the status code of a recipient from its Status field and its
// diagnostic text: the field, or the diagnostic's enhanced code when the field is missing or only
// says X.0.0 (and the classes agree), or X.0.0 from the diagnostic's reply code; "" when none.
func effectiveStatus(statusValue, diagnostic string) string {
	st, ok := statusField(statusValue)
	if !ok || (st.subject == 0 && st.detail == 0) {
		if d, dok := findStatus(diagnostic); dok && (!ok || d.class == st.class) {
			st, ok = d, true
		}
	}
	if !ok {
		if c := replyClass(diagnostic); c != 0 {
			st, ok = status{class: c}, true
		}
	}
	if !ok {
		return ""
	}
	return st.String()
}

// diagnostic returns a Diagnostic-Code value without its type ("smtp;"), cut to MaxDiagnosticLen
// bytes and made valid UTF-8.
func diagnostic(v string) string {
	_, text := typedValue(v)
	return clip(strings.ToValidUTF8(text, "\uFFFD"), MaxDiagnosticLen)
}

// clip cuts s to at most n bytes, at a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// mtaName returns a Reporting-MTA value without its type ("dns;") and comments.
func mtaName(v string) string {
	_, name := typedValue(stripComments(v))
	return clip(strings.ToValidUTF8(name, "\uFFFD"), 255)
}

// word returns the first word of a field value, comments removed, lower-cased.
func word(v string) string {
	v = strings.TrimSpace(stripComments(v))
	if i := strings.IndexAny(v, " \t;"); i >= 0 {
		v = v[:i]
	}
	return strings.ToLower(clip(v, 64))
}
