package address

import (
	"errors"
	"net/mail"
	"strings"
	"testing"

	"github.com/beckonhq/beckon/internal/errs"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		in, want, ascii string // ascii "" means: same as want
		smtputf8        bool   // the local part needs SMTPUTF8
		literal         bool
	}{
		{in: "ada@example.com", want: "ada@example.com"},
		{in: "  Ada.Lovelace@Example.COM \n", want: "ada.lovelace@example.com"},
		{in: "a@b.co", want: "a@b.co"},
		{in: "first.middle.last+tag@sub.example.co.uk", want: "first.middle.last+tag@sub.example.co.uk"},
		{in: "x@a-b.example", want: "x@a-b.example"},
		{in: "x@123.example.com", want: "x@123.example.com"},
		{in: "x@example.com1a", want: "x@example.com1a"},
		// RFC 3696 §3 with its errata (ID 246, 3563).
		{in: `"Abc\@def"@example.com`, want: `"abc@def"@example.com`},
		{in: `"Fred\ Bloggs"@example.com`, want: `"fred bloggs"@example.com`},
		{in: `"Fred Bloggs"@example.com`, want: `"fred bloggs"@example.com`},
		{in: `"Joe.\\Blow"@example.com`, want: `"joe.\\blow"@example.com`},
		{in: `"Abc@def"@example.com`, want: `"abc@def"@example.com`},
		{in: "customer/department=shipping@example.com", want: "customer/department=shipping@example.com"},
		{in: "$A12345@example.com", want: "$a12345@example.com"},
		{in: "!def!xyz%abc@example.com", want: "!def!xyz%abc@example.com"},
		{in: "_somename@example.com", want: "_somename@example.com"},
		{in: "{a}|b~c^d`e'f&g*h=i?j#@example.com", want: "{a}|b~c^d`e'f&g*h=i?j#@example.com"},
		// Quoted strings: kept only when needed, escapes only for " and \.
		{in: `"john doe"@x.com`, want: `"john doe"@x.com`},
		{in: `"a\"b"@x.com`, want: `"a\"b"@x.com`},
		{in: `"ab"@x.com`, want: "ab@x.com"},
		{in: `"a\b"@x.com`, want: "ab@x.com"},
		{in: `"john.doe"@x.com`, want: "john.doe@x.com"},
		{in: `".a"@x.com`, want: `".a"@x.com`},
		{in: `"a..b"@x.com`, want: `"a..b"@x.com`},
		{in: `" "@x.com`, want: `" "@x.com`},
		{in: `"a@b"@c.com`, want: `"a@b"@c.com`},
		{in: `"(comment)"@x.com`, want: `"(comment)"@x.com`},
		{in: `"<ada>"@x.com`, want: `"<ada>"@x.com`},
		// RFC 6531/6532: UTF-8 local parts, IDN domains (examples from RFC 6530 and the UASG).
		{in: "用户@例子.广告", want: "用户@例子.广告", ascii: "用户@xn--fsqu00a.xn--4rr70v", smtputf8: true},
		{in: "अजय@डाटा.भारत", want: "अजय@डाटा.भारत", ascii: "अजय@xn--c2bd1gb.xn--h2brj9c", smtputf8: true},
		{in: "квіточка@пошта.укр", want: "квіточка@пошта.укр", ascii: "квіточка@xn--80a1acn3a.xn--j1amh", smtputf8: true},
		{in: "θσερ@εχαμπλε.ψομ", want: "θσερ@εχαμπλε.ψομ", ascii: "θσερ@xn--mxahbxey0c.xn--xxaf0a", smtputf8: true},
		{in: "Dörte@Sörensen.example.com", want: "dörte@sörensen.example.com", ascii: "dörte@xn--srensen-90a.example.com", smtputf8: true},
		{in: "коля@пример.рф", want: "коля@пример.рф", ascii: "коля@xn--e1afmkfd.xn--p1ai", smtputf8: true},
		{in: "info@bücher.de", want: "info@bücher.de", ascii: "info@xn--bcher-kva.de"},
		{in: "info@BÜCHER.DE", want: "info@bücher.de", ascii: "info@xn--bcher-kva.de"},
		{in: "info@xn--bcher-kva.de", want: "info@bücher.de", ascii: "info@xn--bcher-kva.de"},
		{in: "info@XN--BCHER-KVA.de", want: "info@bücher.de", ascii: "info@xn--bcher-kva.de"},
		{in: "a@例子。广告", want: "a@例子.广告", ascii: "a@xn--fsqu00a.xn--4rr70v"},
		{in: "a@ｅｘａｍｐｌｅ.com", want: "a@example.com"},
		{in: "a@faß.de", want: "a@faß.de", ascii: "a@xn--fa-hia.de"},
		// Normalisation: NFC and lower case.
		{in: "ÅNGSTRÖM@x.com", want: "ångström@x.com", smtputf8: true},
		{in: "A\u030angstro\u0308m@x.com", want: "ångström@x.com", smtputf8: true},
		{in: "ZOË@x.com", want: "zoë@x.com", smtputf8: true},
		{in: "a\u200db@x.com", want: "a\u200db@x.com", smtputf8: true},
		{in: "a\u037eb@x.com", want: `"a;b"@x.com`}, // GREEK QUESTION MARK is canonically ";"
		// Address literals.
		{in: "a@[192.0.2.1]", want: "a@[192.0.2.1]", literal: true},
		{in: "a@[IPv6:2001:DB8:0:0:0:0:0:1]", want: "a@[IPv6:2001:db8::1]", literal: true},
		{in: "a@[ipv6:::1]", want: "a@[IPv6:::1]", literal: true},
		{in: "a@[IPv6:::ffff:192.0.2.1]", want: "a@[IPv6:::ffff:192.0.2.1]", literal: true},
		// Limits: 64-octet local part, 63-octet labels, 254 octets in all.
		{in: strings.Repeat("a", 64) + "@x.com", want: strings.Repeat("a", 64) + "@x.com"},
		{in: "a@" + strings.Repeat("b", 63) + ".com", want: "a@" + strings.Repeat("b", 63) + ".com"},
		{in: long(254), want: long(254)},
		{in: strings.Repeat("ü", 32) + "@x.com", want: strings.Repeat("ü", 32) + "@x.com", smtputf8: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			a, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got := a.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			wantASCII := tt.ascii
			if wantASCII == "" {
				wantASCII = tt.want
			}
			ascii, ok := a.ASCII()
			if ascii != wantASCII || ok == tt.smtputf8 {
				t.Errorf("ASCII() = %q, %v; want %q, %v", ascii, ok, wantASCII, !tt.smtputf8)
			}
			if a.IPLiteral != tt.literal {
				t.Errorf("IPLiteral = %v", a.IPLiteral)
			}
			if a.Local+"@"+a.Domain != a.String() || !isASCII(a.ASCIIDomain) {
				t.Errorf("inconsistent %+v", a)
			}
			again, err := Parse(a.String())
			if err != nil || again != a {
				t.Errorf("Parse(String()) = %+v, %v; want %+v", again, err, a)
			}
		})
	}
}

// long returns a valid address of exactly n octets (n ≥ 70).
func long(n int) string {
	local := strings.Repeat("l", 64)
	rest := n - 64 - 1 - len(".com")
	var labels []string
	for rest > 0 {
		l := min(rest, 63)
		if rest-l == 1 { // a label cannot be empty: split differently
			l--
		}
		labels = append(labels, strings.Repeat("d", l))
		rest -= l + 1
	}
	return local + "@" + strings.Join(labels, ".") + ".com"
}

func TestParseInvalid(t *testing.T) {
	tests := []struct{ in, code string }{
		{"", CodeEmpty},
		{" \t\n", CodeEmpty},
		{strings.Repeat("a", MaxInput+1), CodeTooLong},
		{long(255), CodeTooLong},
		{"ada@example.com\xff", CodeInvalidUTF8},
		{"a\xc3@example.com", CodeInvalidUTF8},
		{"Ada <ada@example.com>", CodeDisplayName},
		{"<ada@example.com>", CodeDisplayName},
		{`"Ada Lovelace" <ada@example.com>`, CodeDisplayName},
		{"ada@example.com>", CodeDisplayName},
		{"ada(comment)@example.com", CodeComment},
		{"ada@example.com (Ada)", CodeComment},
		{"ada@(comment)example.com", CodeComment},
		{"Abc.example.com", CodeMissingAt},
		{"ada", CodeMissingAt},
		{`"ada"`, CodeMissingAt},
		{"A@b@c@example.com", CodeMultipleAt},
		{"a@b@c.com", CodeMultipleAt},
		{`"a"@b@c.com`, CodeMultipleAt},
		{"a b@example.com", CodeWhitespace},
		{"ab@exa mple.com", CodeWhitespace},
		{"ab@example.com c", CodeWhitespace},
		{"a\tb@example.com", CodeWhitespace},
		{"a\u00a0b@example.com", CodeWhitespace},
		{"a\u3000b@example.com", CodeWhitespace},
		{"ab@example\u2028.com", CodeWhitespace},
		{`"a" @example.com`, CodeWhitespace},
		{"\"a\tb\"@example.com", CodeWhitespace},
		{"a\x00b@example.com", CodeControl},
		{"a\x7fb@example.com", CodeControl},
		{"\"a\x01b\"@example.com", CodeControl},
		{"a\u202eb@example.com", CodeControl},
		{"a\u200bb@example.com", CodeControl},
		{"\ufeffa@example.com", CodeControl},
		{"a\u0085b@example.com", CodeWhitespace},
		{"ab@exa\u202emple.com", CodeControl},
		{"@example.com", CodeLocalEmpty},
		{`""@example.com`, CodeLocalEmpty},
		{strings.Repeat("a", 65) + "@example.com", CodeLocalTooLong},
		{"1234567890123456789012345678901234567890123456789012345678901234+x@example.com", CodeLocalTooLong},
		{strings.Repeat("ü", 33) + "@x.com", CodeLocalTooLong},
		{`"` + strings.Repeat("a", 62) + ` "@x.com`, CodeLocalTooLong},
		{".ada@example.com", CodeLocalDot},
		{"ada.@example.com", CodeLocalDot},
		{"a..da@example.com", CodeLocalDot},
		{"john..doe@example.com", CodeLocalDot},
		{`Abc\@def@example.com`, CodeLocalChar},
		{`this\ still\"not\\allowed@example.com`, CodeLocalChar},
		{"a,b@example.com", CodeLocalChar},
		{"a;b@example.com", CodeLocalChar},
		{"a:b@example.com", CodeLocalChar},
		{"mailto:ada@example.com", CodeLocalChar},
		{"a[b]@example.com", CodeLocalChar},
		{`a"b(c)d,e:f;g<h>i[j\k]l@example.com`, CodeLocalQuote},
		{`"a\ü"@example.com`, CodeLocalChar},
		{`just"not"right@example.com`, CodeLocalQuote},
		{`this is"not\allowed@example.com`, CodeWhitespace},
		{`john."doe"@example.com`, CodeLocalQuote},
		{`"john".doe@example.com`, CodeLocalQuote},
		{`"unclosed@example.com`, CodeLocalQuote},
		{`"unclosed\"@example.com`, CodeLocalQuote},
		{`"a\`, CodeLocalQuote},
		{"ada@", CodeDomainEmpty},
		{"ada@example.com.", CodeDomainDot},
		{"ada@.example.com", CodeDomainDot},
		{"ada@example..com", CodeDomainDot},
		{"ada@.", CodeDomainDot},
		{"ada@例子.广告.", CodeDomainDot},
		{"ada@例子。广告。", CodeDomainDot},
		{"ada@" + strings.Repeat("b", 64) + ".com", CodeDomainLabel},
		{"i_like_underscore@but_its_not_allowed_in_this_part.example.com", CodeDomainLabel},
		{"ada@-example.com", CodeDomainLabel},
		{"ada@example-.com", CodeDomainLabel},
		{"ada@example.-com", CodeDomainLabel},
		{"ada@ab--cd.com", CodeDomainLabel},
		{"ada@exa!mple.com", CodeDomainLabel},
		{"ada@example.c_m", CodeDomainLabel},
		{"ada@" + strings.Repeat("a.", 127) + "com", CodeDomainTooLong},
		{"ada@localhost", CodeDomainSingleLabel},
		{"ada@com", CodeDomainSingleLabel},
		{"ada@例子", CodeDomainSingleLabel},
		{"ada@192.0.2.1", CodeDomainNumericTLD},
		{"ada@example.123", CodeDomainNumericTLD},
		{"ada@xn--zz.com", CodeDomainIDNA},
		{"ada@xn--example.com", CodeDomainIDNA},
		{"ada@xn--a.com", CodeDomainIDNA},         // decodes to ASCII: refused by UTS 46
		{"ada@☃-.com", CodeDomainIDNA},            // trailing hyphen in a U-label
		{"ada@a\u0301\u05d0.com", CodeDomainIDNA}, // bidi rule
		{"ada@\u200d.com", CodeDomainIDNA},        // a joiner out of context
		{"ada@ex\u2488ample.com", CodeDomainIDNA}, // disallowed by UTS 46 STD3 rules
		{"ada@[192.0.2.1", CodeDomainLiteral},
		{"ada@[192.0.2]", CodeDomainLiteral},
		{"ada@[192.0.2.01]", CodeDomainLiteral},
		{"ada@[2001:db8::1]", CodeDomainLiteral},
		{"ada@[IPv6:192.0.2.1]", CodeDomainLiteral},
		{"ada@[IPv6:fe80::1%eth0]", CodeDomainLiteral},
		{"ada@[IPv6:2001:db8::g]", CodeDomainLiteral},
		{"ada@[example.com]", CodeDomainLiteral},
		{"ada@[]", CodeDomainLiteral},
		{"ada@[[192.0.2.1]]", CodeDomainLiteral},
		{"ada@[192.0.2.1].com", CodeDomainLiteral},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			a, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want error %s", tt.in, a, tt.code)
			}
			if got := CodeOf(err); got != tt.code {
				t.Errorf("code = %s, want %s (%v)", got, tt.code, err)
			}
			e := errs.As(err)
			if e == nil || e.Kind != errs.Invalid || e.Field != "email" || e.Message == "" {
				t.Errorf("error %#v is not errs.Invalid about email with a message", err)
			}
			var se *SyntaxError
			if !errors.As(err, &se) || se.Message != e.Message {
				t.Errorf("no *SyntaxError with the message in %v", err)
			}
			if a != (Address{}) {
				t.Errorf("Parse returned %+v with its error", a)
			}
		})
	}
}

func TestParseDomain(t *testing.T) {
	tests := []struct{ in, uni, ascii, code string }{
		{in: "Example.COM", uni: "example.com", ascii: "example.com"},
		{in: " bücher.de ", uni: "bücher.de", ascii: "xn--bcher-kva.de"},
		{in: "xn--bcher-kva.de", uni: "bücher.de", ascii: "xn--bcher-kva.de"},
		{in: "[192.0.2.1]", uni: "[192.0.2.1]", ascii: "[192.0.2.1]"},
		{in: strings.Repeat("a.", 125) + "com", uni: strings.Repeat("a.", 125) + "com", ascii: strings.Repeat("a.", 125) + "com"},
		{in: strings.Repeat("a.", 126) + "com", code: CodeDomainTooLong},
		{in: strings.Repeat("a", MaxInput+1), code: CodeDomainTooLong},
		{in: "", code: CodeDomainEmpty},
		{in: "a@b.com", code: CodeMultipleAt},
		{in: "com", code: CodeDomainSingleLabel},
		{in: "b.com.", code: CodeDomainDot},
		{in: "\xff.com", code: CodeInvalidUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, a, err := ParseDomain(tt.in)
			if tt.code != "" {
				if CodeOf(err) != tt.code || errs.As(err).Field != "domain" {
					t.Fatalf("ParseDomain(%q) = %q, %q, %v; want %s", tt.in, u, a, err, tt.code)
				}
				return
			}
			if err != nil || u != tt.uni || a != tt.ascii {
				t.Fatalf("ParseDomain(%q) = %q, %q, %v; want %q, %q", tt.in, u, a, err, tt.uni, tt.ascii)
			}
		})
	}
}

// TestParseHostile feeds inputs built to make a careless parser backtrack or loop; with MaxInput
// they must all be answered (the benchmark shows they are answered quickly).
func TestParseHostile(t *testing.T) {
	for _, in := range hostileInputs() {
		if _, err := Parse(in); err == nil && len(in) > MaxAddress {
			t.Errorf("Parse accepted a %d-byte input", len(in))
		}
	}
}

func hostileInputs() []string {
	n := MaxInput
	return []string{
		strings.Repeat(".", n),
		strings.Repeat("a.", n/2),
		strings.Repeat(`"`, n),
		strings.Repeat(`\"`, n/2),
		`"` + strings.Repeat(`\\`, n/2-1) + `"`,
		strings.Repeat("@", n),
		"a@" + strings.Repeat("a.", n/2-1),
		"a@" + strings.Repeat("ü.", n/3-1),
		"a@" + strings.Repeat("xn--", n/4-1),
		strings.Repeat("ü", n/2),
		strings.Repeat("(", n),
		strings.Repeat("<", n),
		strings.Repeat("a\u0301", n/3),
		"a@[" + strings.Repeat(":", n-4) + "]",
		strings.Repeat(" ", n-1) + "a",
	}
}

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"ascii", "Ada.Lovelace+beckon@Example.com"},
		{"quoted", `"ada lovelace"@example.com`},
		{"idn", "info@bücher.de"},
		{"utf8", "用户@例子.广告"},
		{"invalid", "Ada <ada@example.com>"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = Parse(bc.in)
			}
		})
	}
	// The baseline in the same run: the standard library's RFC 5322 parser, which checks far less
	// (no lengths, no IDNA, display names allowed).
	b.Run("baseline-netmail-ascii", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = mail.ParseAddress("Ada.Lovelace+beckon@Example.com")
		}
	})
	b.Run("hostile", func(b *testing.B) {
		ins := hostileInputs()
		b.ReportAllocs()
		for b.Loop() {
			for _, in := range ins {
				_, _ = Parse(in)
			}
		}
	})
}
