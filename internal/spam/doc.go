// Package spam holds the pure logic of Beckon's spam defence (SPEC E4) for what visitors type into
// the website messenger and booking forms: it spots gibberish names, company names and email
// addresses, and counts bursts of submissions from one email domain. It does no I/O; the web and
// storage layers call it, refuse what it flags and count each refusal.
//
// # What it refuses
//
// Gibberish flags strings that look typed by a bot or by someone drumming on the keyboard:
//
//   - keyboard runs and mashing: "qwertyuiop", "asdfgh qwerty", "zxcvbn", "qazwsx", "aksjdhaksjd";
//   - long words with no vowel: "xkqzvbnm", "sdfghjkl", "jdfkslq";
//   - repetition: "aaaaaaa", "ababababab", "asdasdasd", "asdfasdf";
//   - consonants piled up in ways no spelling does, and pairs such as "qz", "xk", "jd" that random
//     typing makes and names do not;
//   - letters and digits shuffled together: "k3j4h5g6f7d8", "8f3a9c2e1b";
//   - case flipped at random inside a word: "kJhGfD".
//
// BurstCounter counts the distinct addresses one workspace has received from one domain within a
// sliding window; Burst turns a count and a limit into a decision. Which domains count as unknown
// (not a customer, not on an allow list) is the caller's policy.
//
// # Why it errs on the side of accepting
//
// Refusing a real person is far worse than letting a bot through: a refused prospect leaves, while
// junk that slips past costs a rep a glance. So every rule stops well short of what real names do,
// and whatever the package cannot judge it accepts:
//
//   - names in any script but plain ASCII Latin — Chinese, Cyrillic, Arabic, Devanagari, Greek,
//     Thai, and Latin letters with diacritics (Dvořák, Ó Súilleabháin, Nguyễn) — are never judged;
//   - strings of three letters or fewer ("Li", "Ng", "Oz", "hr", "xyz") and initials ("J. R. R.")
//     are never judged;
//   - a string is refused only when every word of four letters or more in it looks like junk, so
//     "Qwerty Labs" and "john.k3j4h5" pass;
//   - the consonant rules know the clusters of Polish (Szczepański, Przybyszewski), Czech syllabic
//     r and l (Trnka, Vlk), Welsh w (Cwm, Llwyd), Dutch ij (IJsbrand, Dijkstra), German compounds
//     (Hirschsprung, Schwarzschild), Georgian, Armenian, Nguni and Yoruba names (Mkrtchyan,
//     Kvaratskhelia, Mngxitama, Gbenga), and Gaelic Mc-;
//   - email local parts may run initials into a name ("pjvdberg", "xqzhang", "wangjx");
//   - company names are brands, often invented ("Xkcd", "Tumblr"), and all-capital acronyms
//     ("KPMG", "HSBC") are left alone, so only plain mashing counts against them.
//
// The test corpus in testdata/ holds several hundred names from many cultures and plausible email
// local parts that must all pass, and junk of which at least 80 % must be refused; the rates are
// printed by the tests.
package spam
