package bounce

import (
	"reflect"
	"strings"
	"testing"
)

func TestAddress(t *testing.T) {
	tests := []struct{ in, want string }{
		{"rfc822; ada@example.com", "ada@example.com"},
		{"RFC822;Ada@Example.COM", "ada@example.com"},
		{"rfc822; <ada@example.com>", "ada@example.com"},
		{"rfc822; ada@example.com (Ada Lovelace)", "ada@example.com"},
		{"ada@example.com", "ada@example.com"},
		{"  rfc822 ;  ada@example.com  ", "ada@example.com"},
		{`rfc822; "ada lovelace"@example.com`, `"ada lovelace"@example.com`},
		{`rfc822; "a(b)"@example.com`, `"a(b)"@example.com`},
		{`utf-8; j\x{00FC}rgen@b\x{FC}cher.example`, "jürgen@bücher.example"},
		{"utf-8; Jürgen@Bücher.example", "jürgen@bücher.example"},
		{`utf-8; \x{1F600}@example.com`, "😀@example.com"},
		{`utf-8; a\x{D800}b@example.com`, `a\x{d800}b@example.com`}, // a surrogate is no character: left as is
		{`utf-8; a\x{}b@example.com`, `a\x{}b@example.com`},
		{`utf-8; a\x{1234567}b@example.com`, `a\x{1234567}b@example.com`},
		{`rfc822; j\x{00FC}rgen@example.com`, `j\x{00fc}rgen@example.com`}, // escapes only in utf-8 addresses
		{"rfc822; ada+tag@example.com", "ada+tag@example.com"},
		{"rfc822;", ""},
		{"", ""},
		{"x400; c=US;a=;p=Example", ""},
		{"rfc822; ada", ""},
		{"rfc822; @example.com", ""},
		{"rfc822; ada@", ""},
		{"rfc822; ada lovelace@example.com", ""},
		{"rfc822; ada@exa mple.com", ""},
		{"rfc822; a@example.com, b@example.com", ""},
		{"rfc822; ada\x00@example.com", ""},
		{"rfc822; ada\xff@example.com", ""},
		{"rfc822; " + strings.Repeat("a", 320) + "@example.com", ""},
	}
	for _, tt := range tests {
		if got := address(tt.in); got != tt.want {
			t.Errorf("address(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseBlocks(t *testing.T) {
	in := "Reporting-MTA: dns; mx.example\r\nX-Folded: one\r\n two\r\n\tthree\r\n\r\n\r\n" +
		"  continuation without a field\nnot a field\nBad Name: x\n: no name\nFinal-Recipient: rfc822; a@example.com\n" +
		"Diagnostic-Code: smtp; 550 5.1.1 (in reply to RCPT TO)\n\n\n"
	want := []block{
		{{"Reporting-MTA", "dns; mx.example"}, {"X-Folded", "one two three"}},
		{{"Final-Recipient", "rfc822; a@example.com"}, {"Diagnostic-Code", "smtp; 550 5.1.1 (in reply to RCPT TO)"}},
	}
	if got := parseBlocks(in); !reflect.DeepEqual(got, want) {
		t.Errorf("parseBlocks:\n got %q\nwant %q", got, want)
	}
	b := want[1]
	if b.get("final-recipient") != "rfc822; a@example.com" || b.get("Action") != "" {
		t.Errorf("get does not ignore case or finds what is not there")
	}
}

func TestStripComments(t *testing.T) {
	tests := []struct{ in, want string }{
		{"5.1.1 (bad mailbox)", "5.1.1 "},
		{"a (b (c) d) e", "a  e"},
		{`a "(not a comment)" b`, `a "(not a comment)" b`},
		{`a (escaped \) paren) b`, "a  b"},
		{"a (unclosed", "a "},
		{"a ) b", "a ) b"},
		{"no comment", "no comment"},
	}
	for _, tt := range tests {
		if got := stripComments(tt.in); got != tt.want {
			t.Errorf("stripComments(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFindStatus(t *testing.T) {
	tests := []struct{ in, want string }{
		{"550 5.1.1 <a@example.com>: user unknown", "5.1.1"},
		{"550-5.1.1 The email account", "5.1.1"},
		{"Sorry, no mailbox here by that name. (#5.1.1)", "5.1.1"},
		{"550 5.1.10 RESOLVER.ADR.RecipientNotFound", "5.1.10"},
		{"status 4.2.2.", "4.2.2"},
		{"host [10.5.1.1]: 550 user unknown", ""},
		{"version 2.4.5.6 and 5.7.1", "5.7.1"},
		{"5.1.1234", ""},
		{"3.1.1", ""},
		{"5.1.", ""},
		{"", ""},
	}
	for _, tt := range tests {
		st, ok := findStatus(tt.in)
		got := ""
		if ok {
			got = st.String()
		}
		if got != tt.want {
			t.Errorf("findStatus(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEffectiveStatus(t *testing.T) {
	tests := []struct{ status, diag, want string }{
		{"5.1.1", "550 5.2.2 full", "5.1.1"},
		{"5.0.0", "550 5.1.1 unknown", "5.1.1"},
		{"5.0.0 (permanent failure)", "550 5.1.1 unknown", "5.1.1"},
		{"5.0.0", "452 4.2.2 full", "5.0.0"},
		{"", "452 4.2.2 full", "4.2.2"},
		{"", "550 unknown", "5.0.0"},
		{"", "550-unknown", "5.0.0"},
		{"", "5500 unknown", ""},
		{"", "", ""},
		{"5.01.001", "", "5.1.1"},
		{"6.1.1", "", ""},
	}
	for _, tt := range tests {
		if got := effectiveStatus(tt.status, tt.diag); got != tt.want {
			t.Errorf("effectiveStatus(%q, %q) = %q, want %q", tt.status, tt.diag, got, tt.want)
		}
	}
}

func TestClip(t *testing.T) {
	if got := clip("aé", 2); got != "a" {
		t.Errorf("clip cuts inside a character: %q", got)
	}
	if got := clip("abc", 5); got != "abc" {
		t.Errorf("clip(abc, 5) = %q", got)
	}
}
