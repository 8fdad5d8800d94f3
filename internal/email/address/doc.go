// Package address is Beckon's one email address validator (SPEC E1), used wherever an address
// enters: the API's POST /api/v1/email/validate, the messenger's email capture and forms. It is
// pure: no database, no HTTP; the MX look-up is optional and goes through a net.Resolver.
//
// # Syntax
//
// Parse accepts what RFC 5321 (SMTP) lets a mail system deliver to, with RFC 6531/6532 for
// internationalised addresses, rather than everything RFC 5322 can express in a header:
//
//   - the local part is a dot-atom (letters, digits, !#$%&'*+-/=?^_`{|}~ and any non-ASCII
//     character, in runs joined by single dots) or a quoted string ("john doe", "a\"b") of
//     printable ASCII, spaces and non-ASCII characters with backslash escapes of printable ASCII;
//   - the domain is a host name of at least two LDH labels (1..63 octets, no leading or trailing
//     hyphen, no "--" in places 3–4 except "xn--"), whose last label is not all digits; an
//     internationalised domain name, mapped and checked by IDNA 2008 / UTS 46 non-transitional
//     lookup rules (bücher.de, 例子.广告, and the punycode form xn--bcher-kva.de); or an address
//     literal, [192.0.2.1] or [IPv6:2001:db8::1];
//   - at most 64 octets of local part (UTF-8, as normalised) and 254 octets in all, counting the
//     domain in its ASCII (A-label) form, which is what travels in SMTP.
//
// Surrounding white space is trimmed. Parse refuses, each with its own code and a sentence a
// visitor can read: display names and angle brackets ("Ada <ada@example.com>": send only the
// address), comments, white space outside quotes, control and invisible formatting characters
// (bidi overrides, zero-width spaces), leading, trailing or doubled dots, empty parts, a missing
// or second @, invalid UTF-8, a trailing dot on the domain, the obsolete RFC 5322 forms
// (john."doe"@example.com, folding white space) that no mail system needs, and input over
// MaxInput bytes before any other work. Everything runs in time linear in the input.
//
// Addresses are normalised so that one mailbox has one spelling: the local part in Unicode NFC
// and lower case (Beckon treats addresses case-insensitively, as practically every mail system
// does), written without quotes when it needs none and quoted minimally otherwise ("ab"@x.com
// is ab@x.com); the domain in lower-case Unicode (U-label) form, with the A-label form beside it
// for the wire.
//
// # Lists
//
// IsPersonal and IsDisposable look a domain, or any parent of it, up in lists embedded from npm
// packages (see README.md for the sources, their licences and the refresh command). A domain on
// both lists counts as disposable only.
//
// # Policy
//
// Validator.Check applies a workspace's Policy: allow and block lists of domains and addresses,
// "business email only", and an optional MX look-up (MXChecker) that refuses only on a definite
// answer and never because DNS failed to answer.
package address
